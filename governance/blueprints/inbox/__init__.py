"""The in-app inbox (站内通知): each person's notifications, and the unread badge in the top bar."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, TOP_BAR, Link, declare

bp = Blueprint("inbox", __name__)

declare(
    Link("inbox.index", _l("Inbox"), CARDS, order=40),
    Link(
        "inbox.index",
        _l("Inbox"),
        (TOP_BAR,),
        order=10,
        css_class="inbox-link",
        badge=lambda: routes.unread_badge(),
        badge_label=_l("unread"),
    ),
)

from . import routes  # noqa: E402,F401
