"""Reports (报表): the rates for every node of the tree and any period, with exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from . import routes  # noqa: E402,F401
