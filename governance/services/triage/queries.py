"""Read-only queries of the triage pages: which communities a person triages, and the CSV rows.

Kept beside the views because only they use them; the rules themselves stay in the policy module
(every community listed here is also checked with the "triage_console" rule before it is shown).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from ... import policy
from ...extensions import db
from ...models import OPEN_STATUSES, Building, Category, Compound, Issue, Node, Organisation, Person
from . import operations

EXPORT_LIMIT = 10_000


def triage_communities(person: Person) -> list[Node]:
    """The communities whose console the person may open, by 街镇 then name."""
    conditions = []
    for scope in policy.scopes(person):
        if scope.role not in policy.TRIAGE_ROLES:
            continue
        if scope.level == "district":
            conditions = [Node.level == "community"]
            break
        if scope.level == "street":
            conditions.append(Node.street_id == scope.node_id)
        elif scope.level == "community":
            conditions.append(Node.id == scope.node_id)
    if not conditions:
        return []
    communities = db.session.scalars(
        select(Node).where(Node.level == "community", or_(*conditions)).order_by(Node.street_id, Node.name, Node.id)
    )
    return [c for c in communities if policy.allowed(person, "triage_console", c)]


def community_counts(community_ids: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    """(open, overdue) issues per community, counting what the console shows by default (reached the community)."""
    if not community_ids:
        return {}
    # Both read the (community_id, status, …) index for the open statuses only: a few thousand rows at most.
    base = (
        Issue.community_id.in_(community_ids),
        Issue.status.in_(OPEN_STATUSES),
        Issue.level.in_(operations.REACHED_LEVELS),
    )
    open_counts = dict(
        db.session.execute(select(Issue.community_id, func.count()).where(*base).group_by(Issue.community_id)).all()
    )
    overdue = dict(
        db.session.execute(
            select(Issue.community_id, func.count())
            .where(*base, Issue.next_deadline_at <= now)
            .group_by(Issue.community_id)
        ).all()
    )
    return {cid: (open_counts.get(cid, 0), overdue.get(cid, 0)) for cid in community_ids}


def node_names(ids) -> dict[int, str]:
    """Node id → name, in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Node.id, Node.name).where(Node.id.in_(ids))).all())


def export_rows(conditions: list, limit: int = EXPORT_LIMIT):
    """The queue's columns for the CSV, most pressing first: one joined query, no personal data."""
    return db.session.execute(
        select(
            Issue.id,
            Issue.reference,
            Issue.title,
            Category,
            Compound.name.label("compound"),
            Building.name.label("building"),
            Issue.place_detail,
            Issue.level,
            Issue.status,
            Issue.priority,
            Issue.urgency,
            Organisation.name.label("organisation"),
            Issue.assignment_state,
            Issue.next_deadline_at,
            Issue.community_id,
            Issue.created_at,
        )
        .join(Category, Category.id == Issue.category_id)
        .outerjoin(Compound, Compound.id == Issue.compound_id)
        .outerjoin(Building, Building.id == Issue.building_id)
        .outerjoin(Organisation, Organisation.id == Issue.assignee_org_id)
        .where(*conditions)
        .order_by(*operations.QUEUE_ORDER)
        .limit(limit)
    ).all()
