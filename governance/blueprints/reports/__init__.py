"""Reports (报表): the rates for every node of the tree and any period, with exports."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import TOP_BAR, Link, declare

bp = Blueprint("reports", __name__)

declare(Link("reports.mine", _l("Reports"), (TOP_BAR,), order=40, action="view_reports"))

from . import routes  # noqa: E402,F401
