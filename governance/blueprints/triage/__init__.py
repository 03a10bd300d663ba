"""Triage (分拨): the community branch's console and the responsible parties' queue."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, ORGANISATION_CARD, TOP_BAR, Link, declare

bp = Blueprint("triage", __name__)


def _console_url(role) -> str:
    """A role on a community (its branch) goes straight to that community's console; the admins above choose
    a community first."""
    if role.node.level == "community":
        return url_for("triage.console", community_id=role.node_id)
    return url_for("triage.index")


declare(
    Link("triage.org_queue", _l("Assignments"), (ORGANISATION_CARD,), order=0, action="org_queue", of_role=True),
    Link(
        "triage.console",
        _l("Triage console"),
        (NODE_CARD,),
        order=50,
        action="triage_console",
        of_role=True,
        url=_console_url,
    ),
    Link("triage.index", _l("Triage"), (TOP_BAR,), order=20, action="triage_console"),
    Link("triage.org_queue", _l("Assignments"), (TOP_BAR,), order=30, action="org_queue"),
)

from . import routes  # noqa: E402,F401
