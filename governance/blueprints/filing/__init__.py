"""Filing an issue from a phone (登记问题): the form, possible duplicates, and the issue's photos."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("filing", __name__)

declare(Link("filing.new", _l("File an issue"), (NODE_CARD,), order=20, action="file_any"))

from . import routes  # noqa: E402,F401
