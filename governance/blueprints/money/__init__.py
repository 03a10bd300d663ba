"""Money (资金台账): a renovation project's ledger for the community branch and the admins above it."""

from flask import Blueprint

bp = Blueprint("money", __name__)

from . import routes  # noqa: E402,F401
