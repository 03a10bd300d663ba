"""Residents' reports (居民反映): what residents told their 邻长 through a 小区's no-login form, for the leaders
of the area to confirm into an issue or decline with a reason, and for the branch to stop a source of abuse."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, Link, Todo, declare, declare_todos
from ...services.residents import reports

bp = Blueprint("resident_reports", __name__)

declare(
    Link(
        "resident_reports.index",
        _l("Residents' reports"),
        CARDS,
        order=42,
        action="view_resident_reports",
        of_role=True,
    )
)

# The roles a report can be handed to (the 邻长, or the first node above with a leader).
HANDLER_ROLES = ("neighbour_leader", "group_leader", "zone_leader", "branch_member")


def _waiting(person, role, now):
    """The waiting reports handed to the leaders of the card's node."""
    return reports.waiting_ids(role.node_id), url_for("resident_reports.index", status="waiting", handler=role.node_id)


declare_todos(Todo(_l("Residents' reports to answer"), 5, HANDLER_ROLES, _waiting, pressing=True))

from . import routes  # noqa: E402,F401
