"""Issues: the scoped list for each role, the issue page with its timeline, and its actions."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...models import ROLE_LEVEL
from ...navigation import CARDS, Link, Todo, declare, declare_todos
from ...services.issues.listing import Filters, matching

bp = Blueprint("issues", __name__)

# A card lists the issues of its role's node; a responsible party's card, those assigned to the party.
declare(
    Link(
        "issues.index",
        _l("Issues"),
        CARDS,
        order=30,
        url=lambda role: url_for("issues.index", node=role.node_id) if role.node_id else url_for("issues.index"),
    )
)


def _in_list(own_level: bool = False, **filters):
    """A to-do of the issue list: the issues of the role's node the list shows with these filters (and, with
    own_level, only those waiting at the role's own handling level)."""

    def query(person, role, now):
        chosen = Filters(node=role.node, **filters)
        if own_level:
            chosen.level = ROLE_LEVEL[role.role]
        statement = matching(person, chosen, now)
        return None if statement is None else (statement, url_for("issues.index", **chosen.args()))

    return query


# What waits for each leader in their own area (the branch counts from its console, the parties from their queue).
HANDLERS = ("group_leader", "zone_leader", "street_admin", "district_admin")
declare_todos(
    Todo(_l("Waiting for acknowledgement"), 10, HANDLERS, _in_list(own_level=True, status="reported")),
    Todo(_l("Awaiting callback"), 20, ("neighbour_leader",), _in_list(status="resolved")),
    Todo(_l("Not yet resolved"), 30, ("neighbour_leader",), _in_list(status="open")),
    Todo(_l("Overdue"), 40, ("neighbour_leader", *HANDLERS), _in_list(overdue=True), pressing=True),
)

from . import routes  # noqa: E402,F401
