"""Vacancies (空缺): the 片, 组 and 邻 that have no active leader, since when, and the work waiting there.

The definition, in this one place (docs/DESIGN.md, "Vacancies"):

- a node at level 片/组/邻 (zone, group, neighbour) is **vacant** when no person whose account is enabled
  (`Person.enabled`) holds its leader role (`tree.LEADER_ROLE`: 片长, 组长, 邻长) on it;
- it is vacant **since** the latest `EndedRole.ended_at` of that node and that role (written by
  services/people/turnover.py when a role is removed, replaced or its holder disabled; rows a merge brought
  over from the merged 邻 do not count); a vacant node
  without such a row was **never filled** (从未配备), and `since` is None.

Everything is counted set-based — one grouped statement per level of the nodes asked about, never a
statement per node — because the district holds ~20,000 such nodes and the reports run at a million
issues. The vacancy test is a correlated NOT EXISTS on role_assignment's (node_id, role) index.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select

from ...extensions import db
from ...formatting import beijing_today
from ...models import OPEN_STATUSES, EndedRole, Issue, Node, Person, RoleAssignment, utcnow
from .tree import LEADER_ROLE, within_condition

# The levels that have a leader (片, 组, 邻), top down.
LEADER_LEVELS = tuple(LEADER_ROLE)
# Resolved issues still owe the resident a callback (回访) from the leader there.
CALLBACK_STATUS = "resolved"


def leader_role_sql():
    """SQL: the leader role of the node's level (NULL above the 片)."""
    return case(LEADER_ROLE, value=Node.level)


def vacant_condition():
    """SQL condition on Node: a 片/组/邻 no enabled person leads (correlated to the outer Node row)."""
    led = (
        select(RoleAssignment.id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(
            RoleAssignment.node_id == Node.id,
            RoleAssignment.role == leader_role_sql(),
            Person.enabled.is_(True),
        )
        .exists()
    )
    return and_(Node.level.in_(LEADER_LEVELS), ~led)


def since_sql():
    """SQL: when the node's leader role last ended (NULL: never filled)."""
    return (
        select(func.max(EndedRole.ended_at))
        # A role that ended because its own 邻 was merged into this one is that 邻's history (the merge
        # repoints the rows here so the person's record stays whole): it does not date this node's vacancy.
        .where(EndedRole.node_id == Node.id, EndedRole.role == leader_role_sql(), EndedRole.reason != "merged")
        .scalar_subquery()
    )


# --- counting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VacancyCounts:
    """How many 片, 组 and 邻 are vacant in an area."""

    zone: int = 0
    group: int = 0
    neighbour: int = 0

    @property
    def total(self) -> int:
        return self.zone + self.group + self.neighbour

    def by_level(self) -> dict[str, int]:
        """{level: count} for the three leader levels, top down."""
        return {level: getattr(self, level) for level in LEADER_LEVELS}

    def __add__(self, other: VacancyCounts) -> VacancyCounts:
        return VacancyCounts(self.zone + other.zone, self.group + other.group, self.neighbour + other.neighbour)

    def without(self, level: str) -> VacancyCounts:
        """The same counts with one level's left out (a node's own vacancy, for what lies below it)."""
        values = self.by_level()
        if level in values:
            values[level] = 0
        return VacancyCounts(**values)


def counts_within(nodes: list[Node]) -> dict[int, VacancyCounts]:
    """Vacant 片/组/邻 in each node's area, the node itself included: one grouped statement per level of the
    nodes given (the children of a node share one level, so one statement)."""
    by_level: dict[str, list[Node]] = defaultdict(list)
    for node in nodes:
        by_level[node.level].append(node)
    found: dict[int, dict[str, int]] = {node.id: {} for node in nodes}
    for level, group in by_level.items():
        if level == "district":
            # The district holds everything: one count per level, no scope.
            counts = dict(
                db.session.execute(
                    select(Node.level, func.count()).where(vacant_condition()).group_by(Node.level)
                ).all()
            )
            for district in group:
                found[district.id] = counts
            continue
        key = Node.id if level == "neighbour" else getattr(Node, f"{level}_id")
        statement = (
            select(key, Node.level, func.count())
            .where(vacant_condition(), key.in_([node.id for node in group]))
            .group_by(key, Node.level)
        )
        for node_id, node_level, n in db.session.execute(statement):
            found[node_id][node_level] = n
    return {node_id: VacancyCounts(**levels) for node_id, levels in found.items()}


def counts_below(node: Node) -> VacancyCounts:
    """Vacant 片/组/邻 strictly below a node (the sum of its children's counts_within)."""
    return counts_within([node])[node.id].without(node.level)


def vacant_since(nodes: list[Node]) -> dict[int, datetime | None]:
    """Which of these nodes are vacant, with since when (None: never filled); one statement. Nodes that are
    led, or are not 片/组/邻, are left out."""
    ids = [node.id for node in nodes if node.level in LEADER_LEVELS]
    if not ids:
        return {}
    rows = db.session.execute(select(Node.id, since_sql()).where(Node.id.in_(ids), vacant_condition()))
    return dict(rows.all())


# --- the list, with the work waiting there --------------------------------------------------------


@dataclass
class Vacancy:
    """One vacant 片/组/邻 and what waits for a leader there."""

    node: Node
    # The names of its ancestors, top down from the 街镇 (the node's own name is node.name).
    path: list[tuple[str, str]]
    since: datetime | None
    days: int | None  # whole Beijing days since it became vacant; None when never filled
    # Open issues whose handling level is the node's level and that lie at it: work nobody there can take up.
    waiting_here: int = 0
    # Open issues anywhere in its area (itself included).
    open_below: int = 0
    # Resolved issues in its area that still owe the resident a callback (回访).
    callbacks_owed: int = 0

    @property
    def never_filled(self) -> bool:
        return self.since is None

    def path_below(self, scope: Node) -> list[str]:
        """The ancestors' names under `scope` (a community's console leaves out its 街镇 and itself)."""
        levels = ("street", "community", "zone", "group")
        below = levels[levels.index(scope.level) + 1 :] if scope.level in levels else levels
        return [name for level, name in self.path if level in below]


def days_between(since: datetime | None, now: datetime) -> int | None:
    """Whole Beijing calendar days from `since` to `now` (0 on the same day)."""
    if since is None:
        return None
    return (beijing_today(now) - beijing_today(since)).days


def vacancies_under(node: Node, now: datetime | None = None) -> list[Vacancy]:
    """Every vacant 片/组/邻 in the node's area (the node included), with its path, since when and the work
    waiting there; most work waiting first, then the longest vacant. Three statements whatever the size."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Node, since_sql()).where(within_condition(node), vacant_condition()).order_by(Node.id)
    ).all()
    if not rows:
        return []
    ancestor_ids = {getattr(n, col) for n, _ in rows for col in ("street_id", "community_id", "zone_id", "group_id")}
    ancestor_ids -= {None}
    names = {
        i: (level, name)
        for i, level, name in db.session.execute(
            select(Node.id, Node.level, Node.name).where(Node.id.in_(ancestor_ids))
        )
    }
    result = {}
    for vacant, since in rows:
        path = [
            names[i]
            for i in (vacant.street_id, vacant.community_id, vacant.zone_id, vacant.group_id)
            if i is not None and i != vacant.id and i in names
        ]
        result[vacant.id] = Vacancy(vacant, path, since, days_between(since, now))
    _count_work(node, result)
    return sorted(
        result.values(),
        key=lambda v: (
            -(v.waiting_here + v.callbacks_owed),
            -v.open_below,
            v.since is not None,
            v.since or now,
            v.node.id,
        ),
    )


def _count_work(scope: Node, vacancies: dict[int, Vacancy]) -> None:
    """Fill in the work waiting at each vacancy from one grouped statement over the issues that lie at or
    under a vacant node of the scope (open ones, and resolved ones owing a callback)."""
    in_scope = [within_condition(scope), vacant_condition()]
    touching = []
    for level, column in (("zone", Issue.zone_id), ("group", Issue.group_id), ("neighbour", Issue.neighbour_id)):
        touching.append(column.in_(select(Node.id).where(Node.level == level, *in_scope)))
    where = [Issue.status.in_((*OPEN_STATUSES, CALLBACK_STATUS)), or_(*touching)]
    if scope.level != "district":
        # The issue's own scope column first, so the database reads the scope's index range.
        column = Issue.neighbour_id if scope.level == "neighbour" else getattr(Issue, f"{scope.level}_id")
        where.append(column == scope.id)
    keys = (Issue.zone_id, Issue.group_id, Issue.neighbour_id, Issue.level, Issue.status)
    for zone_id, group_id, neighbour_id, level, status, n in db.session.execute(
        select(*keys, func.count()).where(*where).group_by(*keys)
    ):
        for node_level, node_id in (("zone", zone_id), ("group", group_id), ("neighbour", neighbour_id)):
            vacancy = vacancies.get(node_id)
            if vacancy is None:
                continue
            if status == CALLBACK_STATUS:
                vacancy.callbacks_owed += n
                continue
            vacancy.open_below += n
            if level == node_level:
                vacancy.waiting_here += n
