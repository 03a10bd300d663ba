"""Open311 API keys (接口密钥): district and street admins issue keys bound to a node, and revoke them."""

from flask import Blueprint

bp = Blueprint("apikeys", __name__)

from . import routes  # noqa: E402,F401
