"""Households (户) from a CSV or Excel file, as a roster is loaded: the whole file is checked first, every bad row
is reported with its line, and nothing is imported while any row is bad (docs/DESIGN.md §16).

Columns (the first line names them, in any order): 小区, 楼栋, 单元, 房号, 邻. The 小区 is a compound of the
community the file is loaded into and the 楼栋 one of its buildings; the 邻 is the neighbour unit whose 邻长
visits the household, named as in the tree (a name unique in the community, or its path 片/组/邻). A household
already known (same building, unit and room) is left as it is, or moved to the 邻 the file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ...models import Building, Compound, Household, Node, utcnow
from ..people.roster import RosterFileError, read_rows

COLUMNS = ("小区", "楼栋", "单元", "房号", "邻")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
UNIT_MAX = ROOM_MAX = 10


@dataclass
class ImportResult:
    """What a file did (or, with errors, would not do): counts, and each bad row's line and reason."""

    added: int = 0
    moved: int = 0
    unchanged: int = 0
    errors: list[tuple[int | None, str]] = field(default_factory=list)


def _paths(community: Node) -> dict[str, list[Node]]:
    """Every 邻 of the community under its name and under its path 片/组/邻."""
    nodes = {n.id: n for n in db.session.scalars(select(Node).where(Node.community_id == community.id))}
    found: dict[str, list[Node]] = {}
    for node in nodes.values():
        if node.level != "neighbour":
            continue
        group, zone = nodes.get(node.group_id), nodes.get(node.zone_id)
        found.setdefault(node.name, []).append(node)
        if group is not None and zone is not None:
            found.setdefault(f"{zone.name}/{group.name}/{node.name}", []).append(node)
    return found


def import_households(community: Node, filename: str, data: bytes) -> ImportResult:
    """Check the file whole; import it only if every row is good (flushes, never commits)."""
    result = ImportResult()
    if not data or not data.strip():
        result.errors.append((None, _("The file is empty.")))
        return result
    if len(data) > MAX_BYTES:
        result.errors.append((None, _("The file is too big: at most %(size)s MB can be imported at once.", size=5)))
        return result
    try:
        rows = list(read_rows(filename, data))
    except RosterFileError as err:
        result.errors.append((None, str(err)))
        return result
    rows = [(line, cells) for line, cells in rows if any(cells)]
    if not rows:
        result.errors.append((None, _("The file is empty.")))
        return result
    header_line, header = rows[0]
    names = [re.sub(r"\s+", "", cell) for cell in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        result.errors.append(
            (header_line, _("Columns missing from the first line: %(names)s.", names="、".join(missing)))
        )
        return result
    if len(rows) - 1 > MAX_ROWS:
        result.errors.append((None, _("At most %(n)s households can be imported at once.", n=MAX_ROWS)))
        return result
    where = {column: names.index(column) for column in COLUMNS}
    compounds = {c.name: c for c in db.session.scalars(select(Compound).where(Compound.community_id == community.id))}
    buildings = {
        (b.compound_id, b.name): b
        for b in db.session.scalars(
            select(Building).where(Building.compound_id.in_([c.id for c in compounds.values()]))
        )
    }
    paths = _paths(community)
    existing = {
        (h.building_id, h.unit, h.room): h
        for h in db.session.scalars(
            select(Household).where(Household.building_id.in_([b.id for b in buildings.values()]))
        )
    }
    seen: dict[tuple, int] = {}
    wanted = []
    for line, cells in rows[1:]:
        value = {column: (cells[i] if i < len(cells) else "").strip() for column, i in where.items()}
        empty = [column for column in COLUMNS if not value[column]]
        if empty:
            result.errors.append((line, _("Empty: %(names)s.", names="、".join(empty))))
            continue
        compound = compounds.get(value["小区"])
        if compound is None:
            result.errors.append(
                (line, _("No compound “%(name)s” in %(community)s.", name=value["小区"], community=community.name))
            )
            continue
        building = buildings.get((compound.id, value["楼栋"]))
        if building is None:
            result.errors.append(
                (line, _("No building “%(name)s” in %(compound)s.", name=value["楼栋"], compound=compound.name))
            )
            continue
        if len(value["单元"]) > UNIT_MAX or len(value["房号"]) > ROOM_MAX:
            result.errors.append((line, _("A unit or room has at most %(n)s characters.", n=ROOM_MAX)))
            continue
        matches = paths.get(value["邻"].replace("／", "/").replace(" ", ""), [])
        if len(matches) != 1:
            message = (
                _("“%(name)s” names several neighbour units (邻) here: write its path 片/组/邻.", name=value["邻"])
                if matches
                else _(
                    "No neighbour unit (邻) “%(name)s” in %(community)s.", name=value["邻"], community=community.name
                )
            )
            result.errors.append((line, message))
            continue
        key = (building.id, value["单元"], value["房号"])
        if key in seen:
            result.errors.append((line, _("The same household as line %(line)s.", line=seen[key])))
            continue
        seen[key] = line
        wanted.append((key, matches[0]))
    if result.errors:
        return result
    now = utcnow()
    for (building_id, unit, room), neighbour in wanted:
        known = existing.get((building_id, unit, room))
        if known is None:
            db.session.add(
                Household(building_id=building_id, unit=unit, room=room, neighbour_id=neighbour.id, created_at=now)
            )
            result.added += 1
        elif known.neighbour_id != neighbour.id:
            known.neighbour_id = neighbour.id
            result.moved += 1
        else:
            result.unchanged += 1
    db.session.flush()
    return result
