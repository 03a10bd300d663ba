"""The issue list as a table (问题导出): exactly the issues the list shows the person, never more.

The rows come from the list's own keyset pages (listing.iter_matching), so the scope, the area
and every filter are the list's. Each row carries what everyone who may open the issue sees of it
(policy.py, "fields of an issue"): its title and description among them, as the leaders typed them
(every text cell is formula-guarded by the table writer). Residents' names and phone numbers, internal
and callback notes and the timeline's comments are never exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ...formatting import SATISFACTION_LABELS, category_name, level_label, status_label
from ...models import Issue, Node, Person
from ...services.issues.listing import Filters, count_matching, iter_matching, parse_filters
from ...services.reports import exports, rates

SOURCE = "issues"
# Issues loaded per list page while exporting.
CHUNK = 500


def columns() -> list[exports.Column]:
    """The headers, in the current language."""
    return [
        exports.Column(_("Reference"), "text"),
        exports.Column(_("Title"), "text"),
        exports.Column(_("Category"), "text"),
        exports.Column(_("Place"), "text"),
        exports.Column(_("Status"), "text"),
        exports.Column(_("Handled at"), "text"),
        exports.Column(_("Filed at"), "datetime"),
        exports.Column(_("Acknowledged at"), "datetime"),
        exports.Column(_("Resolved at"), "datetime"),
        exports.Column(_("Closed at"), "datetime"),
        exports.Column(_("Next deadline"), "datetime"),
        exports.Column(_("Overdue"), "text"),
        exports.Column(_("Responsible party"), "text"),
        exports.Column(_("Satisfaction"), "text"),
        exports.Column(_("Description"), "text"),
    ]


class NodeNames:
    """Names of 社区 and 片 nodes, looked up once per batch of issues."""

    def __init__(self):
        self.names: dict[int, str] = {}

    def load(self, issues: list[Issue]) -> None:
        wanted = {i.community_id for i in issues} | {i.zone_id for i in issues}
        missing = wanted - self.names.keys()
        if missing:
            self.names.update(
                (row.id, row.name) for row in db.session.execute(select(Node.id, Node.name).where(Node.id.in_(missing)))
            )

    def get(self, node_id: int | None) -> str:
        return self.names.get(node_id, "") if node_id else ""


def place(issue: Issue, names: NodeNames) -> str:
    """社区 / 片 / 小区 楼栋 (or the 邻 when no 小区 is given), as the list shows the place."""
    if issue.compound is not None:
        spot = f"{issue.compound.name} {issue.building.name}" if issue.building else issue.compound.name
    else:
        spot = issue.neighbour.name if issue.neighbour else ""
    return " / ".join(part for part in (names.get(issue.community_id), names.get(issue.zone_id), spot) if part)


def row(issue: Issue, now: datetime, names: NodeNames) -> list:
    """One issue as a row: what anyone who may open it sees (no resident name or phone, no notes or comments)."""
    return [
        issue.reference or "",
        issue.title or "",
        category_name(issue.category),
        place(issue, names),
        status_label(issue.status),
        level_label(issue.level),
        issue.created_at,
        issue.acknowledged_at,
        issue.resolved_at,
        issue.closed_at,
        issue.next_deadline_at if issue.is_open else None,
        _("Yes") if issue.overdue(now) else _("No"),
        issue.assignee_org.name if issue.assignee_org else "",
        satisfaction_text(issue),
        issue.description or "",
    ]


def satisfaction_text(issue: Issue) -> str:
    """The issue's one answer to 满意率 (the resident's rating, else the callback), as the reports count it."""
    given = rates.answer(issue.status, issue.satisfaction, issue.resident_rating)
    return str(SATISFACTION_LABELS[given[1]]) if given else ""


def rows(person: Person, filters: Filters, now: datetime) -> Iterator[list]:
    """Every row, newest first; each batch is turned into plain values before any is handed on.

    (The export job commits its progress between rows, which expires loaded objects: nothing
    handed on may still need the database.)
    """
    names = NodeNames()
    for batch in iter_matching(person, filters, now, CHUNK):
        names.load(batch)
        ready = [row(issue, now, names) for issue in batch]
        yield from ready


def stem() -> str:
    """The file name without its extension, e.g. 问题列表-2026-03-05 (Beijing date)."""
    return f"{_('Issues')}-{exports.beijing(datetime.now(UTC)):%Y-%m-%d}"


@exports.source(SOURCE, "问题清单")
def table_for(person: Person, params: dict) -> exports.Table:
    """The export job's table: the filters parsed again, for the requester as they are now.

    An area the person may no longer see raises OutOfScope, and the job fails.
    """
    filters = parse_filters(params.get("args") or {}, person)
    now = datetime.now(UTC)
    return exports.Table(columns(), rows(person, filters, now), count_matching(person, filters, now))
