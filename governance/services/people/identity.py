"""亮身份、亮职责: the 片长, 组长 and 邻长 who chose to be named on the public pages of the compounds they serve
(docs/DESIGN.md §17). Nobody is named unless they opted in on their own profile; a name is the surname with
the role (张·邻长) unless they chose their full name; a phone is never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import LEVELS, Node, Person, RoleAssignment
from ..errors import ServiceError
from ..public import page_cache

LISTINGS = ("surname", "full")
LEADER_ROLES = ("zone_leader", "group_leader", "neighbour_leader")


class IdentityError(ServiceError):
    """A choice of listing that is not one of the three; nothing was changed."""

    MESSAGES = {"bad_choice": _l("Choose one of the three.")}


def set_listing(person: Person, listing: str | None) -> None:
    """Choose how (or whether) the person is named on the public pages of the compounds they serve; those
    pages show it from the next request on."""
    if listing not in (None, *LISTINGS):
        raise IdentityError("bad_choice")
    person.public_listing = listing
    compounds = db.session.scalars(
        select(Node.compound_id)
        .join(RoleAssignment, RoleAssignment.node_id == Node.id)
        .where(RoleAssignment.person_id == person.id, Node.compound_id.is_not(None))
    ).all()
    page_cache.mark({f"compound:{compound_id}" for compound_id in compounds})
    db.session.flush()


def shown_name(name: str, listing: str | None) -> str | None:
    """What the public pages call a leader: the full name, the surname, or nothing."""
    if listing == "full":
        return name
    if listing == "surname":
        return name[:1]
    return None


@dataclass
class ServingLeader:
    """One opted-in leader of a compound, as the public sees them: a name, a role, where they serve."""

    name: str
    role: str
    place: str
    covers: list[str]


def compound_leaders(compound_id: int) -> list[ServingLeader]:
    """The opted-in 片长, 组长 and 邻长 whose node lies in the compound, top role first, in the tree's order;
    each with the buildings their households live in (or, none known, the 邻 under them): three statements."""
    rows = db.session.execute(
        select(Person.name, Person.public_listing, RoleAssignment.role, Node)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .join(Node, Node.id == RoleAssignment.node_id)
        .where(
            Node.compound_id == compound_id,
            RoleAssignment.role.in_(LEADER_ROLES),
            Person.public_listing.in_(LISTINGS),
            Person.enabled.is_(True),
        )
    ).all()
    units = db.session.execute(
        select(Node.id, Node.name, Node.group_id, Node.zone_id)
        .where(Node.compound_id == compound_id, Node.level == "neighbour")
        .order_by(Node.id)
    ).all()
    buildings = _buildings_of([unit.id for unit in units])
    leaders = []
    for name, listing, role, node in sorted(rows, key=lambda r: (LEVELS.index(r[3].level), r[3].id)):
        mine = [unit for unit in units if node.id in (unit.id, unit.group_id, unit.zone_id)]
        covers = list(dict.fromkeys(b for unit in mine for b in buildings.get(unit.id, ())))
        if not covers and node.level != "neighbour":  # no household known: name its 邻 instead
            covers = [unit.name for unit in mine]
        if node.level == "neighbour" and all(node.name.startswith(b) for b in covers):
            covers = []  # 3栋1单元 says it is in 3栋
        leaders.append(ServingLeader(shown_name(name, listing), role, node.name, covers))
    return leaders


def _buildings_of(neighbour_ids: list[int]) -> dict[int, list[str]]:
    """邻 id → the buildings its households live in, in the compound's order."""
    if not neighbour_ids:
        return {}
    from ...models import Building, Household

    rows = db.session.execute(
        select(Household.neighbour_id, Building.name)
        .join(Building, Building.id == Household.building_id)
        .where(Household.neighbour_id.in_(neighbour_ids))
        .group_by(Household.neighbour_id, Building.id, Building.name)
        .order_by(Building.id)
    )
    found: dict[int, list[str]] = {}
    for neighbour_id, building in rows:
        found.setdefault(neighbour_id, []).append(building)
    return found
