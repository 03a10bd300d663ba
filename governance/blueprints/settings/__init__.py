"""Admin settings (系统设置): SLA policy, categories, background jobs and 企业微信 group robots."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("settings", __name__)

declare(
    Link(
        "settings.index",
        _l("Settings"),
        (NODE_CARD,),
        order=90,
        action="manage_channels",
        of_role=True,
        target=lambda role: role.node,
    )
)

from . import routes  # noqa: E402,F401
