"""Filing an issue from a phone (登记问题): the form, possible duplicates, and the issue's photos."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("filing", __name__)

# Filing is a leader's main action on the phone: the one red button of the card.
declare(Link("filing.new", _l("File an issue"), (NODE_CARD,), order=20, action="file_any", css_class="primary"))

from . import routes  # noqa: E402,F401
