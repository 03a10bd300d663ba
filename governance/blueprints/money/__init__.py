"""Money (资金台账): a renovation project's ledger for the community branch and the admins above it."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import TOP_BAR, Link, declare

bp = Blueprint("money", __name__)

declare(Link("money.index", _l("Funds"), (TOP_BAR,), order=50, action="view_ledger"))

from . import routes  # noqa: E402,F401
