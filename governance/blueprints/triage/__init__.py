"""Triage (分拨): the community branch's console and the responsible parties' queue."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ... import policy
from ...models import Issue
from ...navigation import NODE_CARD, ORGANISATION_CARD, TOP_BAR, Link, Todo, declare, declare_todos
from ...services.triage import operations

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


def _in_console(**fields):
    """A to-do of the branch's console: the issues its queue shows with these filters, linked with the same
    filters as the console's query arguments, so the link opens exactly what was counted."""
    args = {name: "1" if value is True else value for name, value in fields.items()}

    def query(person, role, now):
        community = role.node
        if community.level != "community" or not policy.allowed_in_role(person, role, "triage_console", community):
            return None
        filters = operations.ConsoleFilters(community=community, **fields)
        statement = select(Issue.id).where(*operations.console_conditions(filters, now))
        return statement, url_for("triage.console", community_id=community.id, **args)

    return query


def _in_queue(tab: str):
    """A to-do of a responsible party's queue: the issues of one of its tabs."""

    def query(person, role, now):
        if not policy.allowed_in_role(person, role, "org_queue"):
            return None
        statement = select(Issue.id).where(*operations.org_queue_conditions(person, tab))
        return statement, url_for("triage.org_queue", tab=tab)

    return query


declare_todos(
    Todo(_l("Waiting for acknowledgement"), 10, ("branch_member",), _in_console(status="reported")),
    Todo(_l("Waiting for the party to accept"), 35, ("branch_member",), _in_console(organisation="pending")),
    Todo(_l("Overdue"), 40, ("branch_member",), _in_console(overdue=True), pressing=True),
    Todo(_l("Waiting for you to accept"), 10, ("org_staff",), _in_queue("pending")),
    Todo(_l("In progress"), 20, ("org_staff",), _in_queue("active")),
)

from . import routes  # noqa: E402,F401
