"""Read-only queries behind the filing form: the 邻 a person may file in, places, possible duplicates.

These only build lists to choose from; whether a filing is allowed is still decided by the policy
module inside services.issues.lifecycle.file_issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from ... import policy
from ...extensions import db
from ...models import OPEN_STATUSES, Building, Category, Compound, Issue, Node, Person

# Above this many 邻 the form asks for a search word first instead of listing them all.
MAX_CHOICES = 200
MAX_BUILDINGS = 600
MAX_DUPLICATES = 10


@dataclass
class NeighbourOption:
    """One 邻 the person may file in, with what the place fields need to know about it."""

    id: int
    name: str
    group: str
    zone: str
    community: str
    community_id: int
    compound_id: int | None


def count_neighbours(person: Person) -> int:
    """How many 邻 the person may file in."""
    query = select(func.count()).select_from(Node).where(Node.level == "neighbour", policy.node_scope_condition(person))
    return db.session.scalar(query) or 0


def neighbour_options(
    person: Person, search: str | None = None, include_id: int | None = None, limit: int = MAX_CHOICES
) -> list[NeighbourOption]:
    """The person's 邻, optionally only those whose name (or 组/片/社区/小区 name) contains `search`.

    `include_id` (the 邻 already chosen) is kept in the list whatever the search, if it is in scope.
    """
    group, zone, community = aliased(Node), aliased(Node), aliased(Node)
    query = (
        select(Node.id, Node.name, group.name, zone.name, community.name, Node.community_id, Node.compound_id)
        .join(group, group.id == Node.group_id)
        .join(zone, zone.id == Node.zone_id)
        .join(community, community.id == Node.community_id)
        .where(Node.level == "neighbour", policy.node_scope_condition(person))
    )
    if search:
        compound_ids = select(Compound.id).where(Compound.name.icontains(search, autoescape=True))
        matches = or_(
            Node.name.icontains(search, autoescape=True),
            group.name.icontains(search, autoescape=True),
            zone.name.icontains(search, autoescape=True),
            community.name.icontains(search, autoescape=True),
            Node.compound_id.in_(compound_ids),
        )
        query = query.where(or_(matches, Node.id == include_id) if include_id else matches)
    elif search is not None:  # asked to search with nothing typed: only the chosen one
        query = query.where(Node.id == (include_id or 0))
    rows = db.session.execute(query.order_by(Node.community_id, Node.zone_id, Node.group_id, Node.id).limit(limit))
    return [NeighbourOption(*row) for row in rows]


def own_neighbour_id(person: Person) -> int | None:
    """The 邻 the person leads as 邻长, if any (the natural default)."""
    return next((s.node_id for s in policy.scopes(person) if s.level == "neighbour"), None)


def group_options(options: list[NeighbourOption]) -> list[tuple[str, list[NeighbourOption]]]:
    """Options under optgroup labels, naming only what differs between them (one group: no label)."""
    communities = {o.community_id for o in options}
    zones = {(o.community_id, o.zone) for o in options}
    groups: dict[str, list[NeighbourOption]] = {}
    for option in options:
        parts = []
        if len(communities) > 1:
            parts.append(option.community)
        if len(zones) > 1:
            parts.append(option.zone)
        parts.append(option.group)
        groups.setdefault(" ".join(parts), []).append(option)
    if len(groups) == 1:
        return [("", options)]
    return list(groups.items())


def compounds_in(community_ids: set[int]) -> list[Compound]:
    """The 小区 of these communities, by name."""
    if not community_ids:
        return []
    query = select(Compound).where(Compound.community_id.in_(community_ids)).order_by(Compound.name).limit(MAX_CHOICES)
    return list(db.session.scalars(query))


def buildings_of(compound_ids: list[int]) -> list[Building]:
    """The 楼栋 of these compounds, in their order."""
    if not compound_ids:
        return []
    query = (
        select(Building)
        .where(Building.compound_id.in_(compound_ids))
        .order_by(Building.compound_id, Building.id)
        .limit(MAX_BUILDINGS)
    )
    return list(db.session.scalars(query))


def active_categories() -> list[Category]:
    """The categories a new issue may take, in their managed order."""
    return list(db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.sort)))


def possible_duplicates(
    person: Person,
    category_id: int | None,
    compound_id: int | None,
    building_id: int | None = None,
    neighbour_id: int | None = None,
) -> list[Issue]:
    """Open issues of the same category at the same place that the person may see, newest first.

    Same 小区 (and, when a 楼栋 is given, that 楼栋 or no 楼栋 at all); without a 小区, the same 邻
    among issues that name no 小区 either.
    """
    if not category_id:
        return []
    query = select(Issue).where(Issue.category_id == category_id, Issue.status.in_(OPEN_STATUSES))
    if compound_id:
        query = query.where(Issue.compound_id == compound_id)
        if building_id:
            query = query.where(or_(Issue.building_id == building_id, Issue.building_id.is_(None)))
    elif neighbour_id:
        query = query.where(Issue.neighbour_id == neighbour_id, Issue.compound_id.is_(None))
    else:
        return []
    scope = policy.issue_scope_condition(person)
    if scope is not None:
        query = query.where(scope)
    return list(db.session.scalars(query.order_by(Issue.created_at.desc(), Issue.id.desc()).limit(MAX_DUPLICATES)))


MERGE_CANDIDATES = 5


def merge_candidates(person: Person, issue: Issue) -> list[Issue]:
    """Likely originals to merge an issue into: the open issues of its category at its 小区 (or, without one,
    its 邻) that the person may see, newest first — the filing form's duplicate check, seen from the issue."""
    found = possible_duplicates(person, issue.category_id, issue.compound_id, None, issue.neighbour_id)
    return [other for other in found if other.id != issue.id][:MERGE_CANDIDATES]
