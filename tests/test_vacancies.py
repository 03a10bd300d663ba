"""Vacancies (空缺): 片/组/邻 without an active leader (services/people/vacancies.py), on the tree pages, in the
reports and on the branch's console.

The counts are checked against a second, deliberately plain computation: Python over the node, role,
person, ended-role and issue rows, walking parent links, with no SQL aggregate.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select

from governance.extensions import db
from governance.models import OPEN_STATUSES, EndedRole, Issue, Node, Person, RoleAssignment, utcnow
from governance.services.people import vacancies
from governance.services.people.tree import LEADER_ROLE
from tests.builders import category, grant, make_issue, make_node, make_person, make_tree, nodes_at

LEADER_LEVELS = ("zone", "group", "neighbour")


def end_role(person: Person, node: Node, days_ago: float, reason: str = "removed") -> EndedRole:
    """An ended role as the turnover module writes it (made directly here)."""
    row = EndedRole(
        person_id=person.id,
        role=LEADER_ROLE[node.level],
        node_id=node.id,
        ended_at=utcnow() - timedelta(days=days_ago),
        reason=reason,
    )
    db.session.add(row)
    db.session.commit()
    return row


def remove_roles(person: Person) -> None:
    db.session.execute(delete(RoleAssignment).where(RoleAssignment.person_id == person.id))
    db.session.commit()
    db.session.expire_all()


class StatementCounter:
    """Counts the SQL statements the engine runs while it is active."""

    def __init__(self):
        self.count = 0

    def _seen(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._seen)


# --- the definition -----------------------------------------------------------------------------


def test_the_definition(app):
    """Disabled holder → vacant; a second, enabled holder keeps it filled; another role does not fill it;
    vacant since = the latest ended role of that node and role; no ended role → never filled."""
    make_tree(zones=1, groups=1, neighbours=4)
    zone, group = nodes_at("zone")[0], nodes_at("group")[0]
    n1, n2, n3, n4 = nodes_at("neighbour")
    make_person("zone_leader", zone)
    make_person("group_leader", group)
    # n1: its only 邻长 is disabled → vacant, since the latest ended row.
    disabled = make_person("neighbour_leader", n1)
    disabled.enabled = False
    db.session.commit()
    former = make_person(name="前任邻长")
    end_role(former, n1, days_ago=40)
    latest = end_role(former, n1, days_ago=3, reason="disabled")
    # An ended row of another role on the node does not count.
    db.session.add(
        EndedRole(person_id=former.id, role="group_leader", node_id=n1.id, ended_at=utcnow(), reason="removed")
    )
    # n2: a disabled and an enabled 邻长 → filled.
    make_person("neighbour_leader", n2).enabled = False
    make_person("neighbour_leader", n2)
    # n3: its leader left (role gone, ended row written) → vacant since then.
    left = make_person("neighbour_leader", n3)
    remove_roles(left)
    end_role(left, n3, days_ago=10)
    # n4: only a 组长 role sits on it (not its leader role) → vacant, never filled.
    grant(make_person(), "group_leader", n4)
    db.session.commit()

    since = vacancies.vacant_since([zone, group, n1, n2, n3, n4])
    assert set(since) == {n1.id, n3.id, n4.id}
    assert abs((since[n1.id] - latest.ended_at).total_seconds()) < 1
    assert since[n4.id] is None
    listed = {v.node.id: v for v in vacancies.vacancies_under(nodes_at("community")[0])}
    assert set(listed) == {n1.id, n3.id, n4.id}
    assert listed[n1.id].days == 3 and listed[n3.id].days == 10
    assert listed[n4.id].never_filled and listed[n4.id].days is None
    counts = vacancies.counts_within([group, zone, nodes_at("district")[0]])
    assert counts[group.id] == vacancies.VacancyCounts(neighbour=3)
    assert counts[zone.id].total == 3 and counts[nodes_at("district")[0].id].total == 3
    # The 组 itself loses its leader: it counts in its own area, not below it.
    remove_roles(db.session.scalar(select(Person).join(RoleAssignment).where(RoleAssignment.node_id == group.id)))
    assert vacancies.counts_within([group])[group.id] == vacancies.VacancyCounts(group=1, neighbour=3)
    assert vacancies.counts_below(group) == vacancies.VacancyCounts(neighbour=3)
    assert vacancies.counts_below(zone) == vacancies.VacancyCounts(group=1, neighbour=3)


def test_work_waiting_at_a_vacancy(app):
    """Open issues at the node's level and at it, open ones anywhere below, resolved ones owing a callback."""
    make_tree(zones=1, groups=1, neighbours=2)
    group = nodes_at("group")[0]
    n1, n2 = nodes_at("neighbour")
    filer = make_person("neighbour_leader", n1)
    other = make_person("neighbour_leader", n2)
    make_person("zone_leader", nodes_at("zone")[0])
    leader = make_person("group_leader", group)
    at_neighbour = [make_issue(filer) for _ in range(2)]
    at_group = make_issue(filer)
    at_group.level = "group"
    resolved = make_issue(filer)
    resolved.status = "resolved"
    closed = make_issue(filer)
    closed.status = "closed"
    elsewhere = make_issue(other)
    db.session.commit()
    remove_roles(filer)
    remove_roles(leader)
    found = {v.node.id: v for v in vacancies.vacancies_under(nodes_at("district")[0])}
    assert set(found) == {n1.id, group.id}
    assert (found[n1.id].waiting_here, found[n1.id].open_below, found[n1.id].callbacks_owed) == (2, 3, 1)
    # The 组: one issue at its level, four open below (n1's three and n2's one), one callback owed.
    assert (found[group.id].waiting_here, found[group.id].open_below, found[group.id].callbacks_owed) == (1, 4, 1)
    # Most work waiting first.
    assert [v.node.id for v in vacancies.vacancies_under(nodes_at("district")[0])] == [n1.id, group.id]
    assert at_neighbour and elsewhere and closed


# --- counts against a plain computation over a generated tree -----------------------------------

HOLDER = st.tuples(st.booleans(), st.booleans())  # (enabled, holds the node's own leader role)
CELL = st.tuples(
    st.lists(HOLDER, max_size=2),
    st.lists(st.integers(min_value=0, max_value=400), max_size=2),  # ended roles, days ago
)
ISSUE = st.tuples(
    st.integers(min_value=0, max_value=15),  # which 邻
    st.sampled_from(("reported", "acknowledged", "in_progress", "reopened", "resolved", "closed", "withdrawn")),
    st.sampled_from(("neighbour", "group", "zone", "community", "street")),
)


@pytest.fixture
def generated(app):
    """A fixed tree of 2 communities × 2 片 × 2 组 × 2 邻 (28 leader-level nodes); examples vary the rest."""
    make_tree(streets=1, communities=2, zones=2, groups=2, neighbours=2)
    nodes = {n.id: n for n in db.session.scalars(select(Node))}
    return {
        "nodes": nodes,
        "cells": [n for n in sorted(nodes.values(), key=lambda n: n.id) if n.level in LEADER_LEVELS],
        "neighbours": nodes_at("neighbour"),
        "category": category().id,
    }


def ancestors_or_self(nodes: dict[int, Node], node_id: int) -> list[int]:
    out = []
    while node_id is not None:
        out.append(node_id)
        node_id = nodes[node_id].parent_id
    return out


def reset(generated) -> None:
    for model in (Issue, EndedRole, RoleAssignment, Person):
        db.session.execute(delete(model))
    db.session.commit()


def populate(generated, cells, issues) -> tuple[set[int], dict[int, int]]:
    """Write the example's holders, ended roles and issues; return the plain answer: vacant node ids and
    each one's latest ended day offset."""
    vacant, since_days = set(), {}
    wrong = {"zone": "group_leader", "group": "neighbour_leader", "neighbour": "zone_leader"}
    for node, (holders, ended) in zip(generated["cells"], cells, strict=True):
        led = False
        for enabled, right in holders:
            person = make_person(wrong[node.level] if not right else LEADER_ROLE[node.level], node)
            person.enabled = enabled
            led = led or (enabled and right)
        for days in ended:
            end_role(make_person(), node, days_ago=days)
        if not led:
            vacant.add(node.id)
            if ended:
                since_days[node.id] = min(ended)
    for index, status, level in issues:
        neighbour = generated["neighbours"][index]
        db.session.add(
            Issue(
                category_id=generated["category"],
                title="t",
                neighbour_id=neighbour.id,
                group_id=neighbour.group_id,
                zone_id=neighbour.zone_id,
                community_id=neighbour.community_id,
                street_id=neighbour.street_id,
                status=status,
                level=level,
            )
        )
    db.session.commit()
    return vacant, since_days


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(CELL, min_size=28, max_size=28), issues=st.lists(ISSUE, max_size=12))
def test_counts_equal_a_plain_computation(generated, cells, issues):
    reset(generated)
    nodes = generated["nodes"]
    vacant, since_days = populate(generated, cells, issues)
    everything = list(nodes.values())
    within = vacancies.counts_within(everything)
    for node in everything:
        plain = Counter(nodes[i].level for i in vacant if node.id in ancestors_or_self(nodes, i))
        assert within[node.id].by_level() == {lv: plain[lv] for lv in LEADER_LEVELS}, node
        # A node's vacancies below are exactly the sum of its children's.
        children = [n for n in everything if n.parent_id == node.id]
        if children:
            below = vacancies.counts_below(node)
            assert below == sum((within[c.id] for c in children), vacancies.VacancyCounts()), node
    district = nodes_at("district")[0]
    listed = {v.node.id: v for v in vacancies.vacancies_under(district)}
    assert set(listed) == vacant
    rows = list(db.session.execute(select(Issue.neighbour_id, Issue.status, Issue.level)))
    for node_id, vacancy in listed.items():
        assert (vacancy.days if vacancy.days is not None else None) == since_days.get(node_id), node_id
        under = [(s, lv, n) for n, s, lv in rows if node_id in ancestors_or_self(nodes, n)]
        assert vacancy.open_below == sum(s in OPEN_STATUSES for s, _, _ in under)
        assert vacancy.callbacks_owed == sum(s == "resolved" for s, _, _ in under)
        assert vacancy.waiting_here == sum(s in OPEN_STATUSES and lv == nodes[node_id].level for s, lv, _ in under)
    for community in nodes_at("community"):
        assert {v.node.id for v in vacancies.vacancies_under(community)} == {
            i for i in vacant if community.id in ancestors_or_self(nodes, i)
        }


def test_counting_costs_a_statement_per_level_not_per_node(app):
    """The counts for every node of a level run one statement; the list with its work three, whatever the size."""
    district = make_tree(streets=1, communities=2, zones=3, groups=2, neighbours=3)
    make_node(nodes_at("zone")[0], "group", "多出的组")
    everything = list(db.session.scalars(select(Node)))
    for level in ("zone", "group", "neighbour", "community"):
        with StatementCounter() as seen:
            vacancies.counts_within(nodes_at(level))
        assert seen.count == 1 + 1, level  # the nodes_at query and the count
    with StatementCounter() as seen:
        vacancies.counts_within(everything)
    assert seen.count <= 6  # one per level of the tree
    with StatementCounter() as seen:
        found = vacancies.vacancies_under(district)
    assert seen.count == 3 and len(found) == 6 + 13 + 36
    with StatementCounter() as seen:
        vacancies.vacant_since(everything)
    assert seen.count == 1
