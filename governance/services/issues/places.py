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
    """The categories a new issue may take (Open311's services), in their managed order."""
    return list(
        db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.sort, Category.id))
    )


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


# --- finding a place from coordinates or an address -----------------------------------------------------

EARTH_RADIUS_M = 6_371_000
# A request's coordinates find a building within this distance (a phone's GPS in a compound is good to ~50 m).
NEAREST_WITHIN_M = 300


@dataclass
class Place:
    """Where a request from outside (Open311) lands: the 邻 it is filed in, and its compound and building."""

    neighbour: Node
    compound: Compound | None
    building: Building | None


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance (haversine)."""
    from math import asin, cos, radians, sin, sqrt

    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(sqrt(a))


def _compounds_within(area: Node):
    """SQL on Compound: the compounds of the communities at and under `area`."""
    from ..people.tree import within_condition

    communities = select(Node.id).where(Node.level == "community", within_condition(area))
    if area.level in ("zone", "group", "neighbour"):  # a smaller area: the compounds its 邻 live in
        communities = select(Node.compound_id).where(within_condition(area), Node.compound_id.is_not(None))
        return Compound.id.in_(communities)
    return Compound.community_id.in_(communities)


def neighbour_for(compound: Compound, building: Building | None, area: Node | None = None) -> Node | None:
    """The 邻 a place belongs to: the one its households name (most of them), else a 邻 of the compound named
    after the building (3栋1单元 for 3栋), else the compound's first 邻 — inside `area` when given."""
    from ...models import Household
    from ..people.tree import within_condition

    inside = within_condition(area) if area is not None else None

    def first(query):
        return db.session.scalars(query.where(inside) if inside is not None else query).first()

    if building is not None:
        found = first(
            select(Node)
            .join(Household, Household.neighbour_id == Node.id)
            .where(Household.building_id == building.id)
            .group_by(Node.id)
            .order_by(func.count().desc(), Node.id)
        )
        if found is not None:
            return found
        found = first(
            select(Node)
            .where(Node.level == "neighbour", Node.compound_id == compound.id, Node.name.startswith(building.name))
            .order_by(Node.id)
        )
        if found is not None:
            return found
    return first(select(Node).where(Node.level == "neighbour", Node.compound_id == compound.id).order_by(Node.id))


def nearest_place(area: Node, latitude: float, longitude: float) -> Place | None:
    """The building (or, without buildings placed, the compound) of `area` nearest to the coordinates, within
    NEAREST_WITHIN_M; None when nothing is that close."""
    box = NEAREST_WITHIN_M / 111_000 * 2  # degrees, generous at this latitude
    near = [
        Building.latitude.between(latitude - box, latitude + box),
        Building.longitude.between(longitude - box, longitude + box),
    ]
    candidates = [
        (metres_between(latitude, longitude, b.latitude, b.longitude), b.id, b, c)
        for b, c in db.session.execute(
            select(Building, Compound)
            .join(Compound, Compound.id == Building.compound_id)
            .where(_compounds_within(area), *near)
        )
    ]
    candidates += [
        (metres_between(latitude, longitude, c.latitude, c.longitude), 0, None, c)
        for c in db.session.scalars(
            select(Compound).where(
                _compounds_within(area),
                Compound.latitude.between(latitude - box, latitude + box),
                Compound.longitude.between(longitude - box, longitude + box),
            )
        )
    ]
    for distance, _id, building, compound in sorted(candidates, key=lambda c: (c[0], c[1])):
        if distance > NEAREST_WITHIN_M:
            break
        neighbour = neighbour_for(compound, building, area)
        if neighbour is not None:
            return Place(neighbour, compound, building)
    return None


def place_named(area: Node, text: str) -> Place | None:
    """The compound of `area` whose name the address names (the longest such name), and the building named in
    the rest of it (普瑞斯堡3栋2单元 → 普瑞斯堡, 3栋); None when no compound of the area is named."""
    squeezed = "".join((text or "").split())
    if not squeezed:
        return None
    compounds = [c for c in db.session.scalars(select(Compound).where(_compounds_within(area))) if c.name in squeezed]
    for compound in sorted(compounds, key=lambda c: (-len(c.name), c.id)):
        rest = squeezed.split(compound.name, 1)[1]
        buildings = [b for b in compound.buildings if rest.startswith(b.name) or b.name in rest]
        building = max(buildings, key=lambda b: (rest.startswith(b.name), len(b.name)), default=None)
        neighbour = neighbour_for(compound, building, area)
        if neighbour is not None:
            return Place(neighbour, compound, building)
    return None
