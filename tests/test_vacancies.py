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
from sqlalchemy import delete, select

from governance import formatting
from governance.extensions import db
from governance.models import OPEN_STATUSES, EndedRole, Issue, Node, Person, RoleAssignment, utcnow
from governance.services.people import vacancies
from governance.services.people.tree import LEADER_ROLE
from tests.builders import category, grant, make_issue, make_node, make_party, make_person, make_tree, nodes_at
from tests.conftest import Auth, Statements
from tests.pages import find, find_all, text_of, texts_of, visible

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
    # Rows a merge brought over from a merged 邻 are that 邻's history: they date nothing here.
    end_role(make_person(name="并入邻的邻长"), n3, days_ago=1, reason="merged")
    # n4: only a 组长 role sits on it (not its leader role) → vacant, never filled.
    grant(make_person(), "group_leader", n4)
    end_role(make_person(name="另一并入邻的邻长"), n4, days_ago=2, reason="merged")
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
        with Statements() as seen:
            vacancies.counts_within(nodes_at(level))
        assert seen.count == 1 + 1, level  # the nodes_at query and the count
    with Statements() as seen:
        vacancies.counts_within(everything)
    assert seen.count <= 6  # one per level of the tree
    with Statements() as seen:
        found = vacancies.vacancies_under(district)
    assert seen.count == 3 and len(found) == 6 + 13 + 36
    with Statements() as seen:
        vacancies.vacant_since(everything)
    assert seen.count == 1


# --- the pages ----------------------------------------------------------------------------------


@pytest.fixture
def community_world(app):
    """Two communities A and B; in A one 邻 whose leader left 12 days ago (two issues wait there, one
    resolved owes a callback), one 邻 never filled and one 组 whose leader was disabled; everyone else led."""
    make_tree(streets=1, communities=2, zones=1, groups=2, neighbours=2)
    a, b = nodes_at("community")
    groups, neighbours = nodes_at("group"), nodes_at("neighbour")  # A: groups 0-1, 邻 0-3; B: groups 2-3, 邻 4-7
    people = {
        "zone": make_person("zone_leader", nodes_at("zone")[0], name="片长"),
        "group": make_person("group_leader", groups[0], name="组长"),
        "branch_a": make_person("branch_member", a, name="支部甲"),
        "branch_b": make_person("branch_member", b, name="支部乙"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街镇"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区"),
    }
    make_person("zone_leader", nodes_at("zone")[1])
    for group in groups[2:]:
        make_person("group_leader", group)
    leaders = {i: make_person("neighbour_leader", n) for i, n in enumerate(neighbours) if i != 1}
    people["neighbour"] = leaders[2]
    # 邻 0: its leader filed three issues, then left.
    departed = leaders[0]
    issues = [make_issue(departed) for _ in range(3)]
    issues[2].status = "resolved"
    db.session.commit()
    remove_roles(departed)
    end_role(departed, neighbours[0], days_ago=12)
    # 组 1: its leader's account was disabled (the role still sits there).
    disabled = make_person("group_leader", groups[1])
    disabled.enabled = False
    db.session.commit()
    return {"a": a, "b": b, "groups": groups, "neighbours": neighbours, **people}


def login(app, person):
    """A fresh client logged in as the person."""
    client = app.test_client()
    assert Auth(client).login(person.mobile).status_code in (302, 303)
    return client


def test_tree_pages_show_vacancies(app, community_world):
    w = community_world
    html = login(app, w["zone"]).get(f"/tree/{w['groups'][0].id}").get_data(as_text=True)
    badges = texts_of(html, "[data-vacant]")
    since = (utcnow() - timedelta(days=12)).astimezone(formatting.BEIJING).date().isoformat()
    assert badges == [f"空缺 · 自 {since} 起", "空缺 · 从未配备"]
    assert find(html, "[data-vacancies-below]")["data-vacancies-below"] == "2"
    assert "2 邻空缺" in text_of(html, "[data-vacancies-below]")
    zone = login(app, w["zone"]).get(f"/tree/{nodes_at('zone')[0].id}").get_data(as_text=True)
    assert find(zone, "[data-vacancies-below]")["data-vacancies-below"] == "3"  # the disabled 组 and two 邻
    assert "下有 2 处空缺" in zone and "空缺 · 从未配备" in zone
    assert "（已停用）" in zone  # the 组 whose only 组长 is disabled names them, and says why it is vacant
    # A vacant node's own page says so.
    own = login(app, w["zone"]).get(f"/tree/{w['neighbours'][1].id}").get_data(as_text=True)
    assert text_of(own, "h1 [data-vacant]") == "空缺 · 从未配备"


def test_report_vacancy_column_sums_to_the_node(app, community_world):
    w = community_world
    client = login(app, w["district"])
    for node in (nodes_at("district")[0], nodes_at("street")[0], w["a"], nodes_at("zone")[0], w["groups"][0]):
        html = client.get(f"/reports/{node.id}").get_data(as_text=True)
        cells = [int(cell["data-vacancies"]) for cell in find_all(html, "td[data-vacancies]")]
        total = int(find(html, "[data-vacancies-total]")["data-vacancies-total"])
        plain = independent_count(node)
        assert total == sum(cells) == plain, node
        assert find(html, "p[data-vacancies]")["data-vacancies"] == str(plain)
        export = client.get(f"/reports/{node.id}/children.csv").data.decode("utf-8-sig").splitlines()
        header, *rows = [line.split(",") for line in export]
        assert header[-1] == "现空缺片/组/邻"
        assert [int(row[-1]) for row in rows] == cells
    html = client.get(f"/reports/{w['a'].id}?sort=vacancies&dir=desc").get_data(as_text=True)
    assert [int(cell["data-vacancies"]) for cell in find_all(html, "td[data-vacancies]")] == [3]
    summary = client.get(f"/reports/{w['a'].id}/summary.csv").data.decode("utf-8-sig").splitlines()
    assert summary[1].split(",")[-1] == "3"


def independent_count(node: Node) -> int:
    """Vacant 片/组/邻 strictly below a node: Python over every row, parent links walked by hand."""
    nodes = {n.id: n for n in db.session.scalars(select(Node))}
    led = {
        ra.node_id
        for ra in db.session.scalars(select(RoleAssignment))
        if ra.node_id in nodes
        and ra.role == LEADER_ROLE.get(nodes[ra.node_id].level)
        and db.session.get(Person, ra.person_id).enabled
    }
    return sum(
        1
        for n in nodes.values()
        if n.level in LEADER_LEVELS
        and n.id not in led
        and n.id != node.id
        and node.id in ancestors_or_self(nodes, n.id)
    )


def test_branch_console_lists_vacancies_with_the_work_waiting(app, community_world):
    w = community_world
    client = login(app, w["branch_a"])
    console = client.get(f"/triage/community/{w['a'].id}").get_data(as_text=True)
    link = find(console, "[data-vacancies-link]")
    assert (
        link["href"] == f"/triage/community/{w['a'].id}/vacancies"
        and text_of(console, "[data-vacancies-link] b") == "3"
    )
    html = client.get(link["href"]).get_data(as_text=True)
    cards = find_all(html, "[data-vacancies] > li")
    assert [card["data-node"] for card in cards] == [
        str(w["neighbours"][0].id),  # the most work waiting
        str(w["neighbours"][1].id),  # then nothing waits at either: tree order
        str(w["groups"][1].id),
    ]
    first = visible(cards[0])
    assert "12 天" in first and "第1片" in first and "第1组" in first
    counts = [(text_of(a, "b"), a["href"]) for a in find_all(cards[0], ".vacancy-work a")]
    assert [c for c, _ in counts] == ["2", "2", "1"]
    # Each count opens the issue list filtered to that work, which shows exactly as many.
    for count, href in counts:
        listed = client.get(href)
        assert listed.status_code == 200
        assert len(find_all(listed.get_data(as_text=True), ".issue-cards > li")) == int(count), href
    assert "从未配备" in visible(cards[2])
    assert find_all(cards[2], ".vacancy-work a") == []  # nothing waits there: no link to an empty list
    assert text_of(html, "[data-vacancy-counts]").split() == ["0", "片空缺", "1", "组空缺", "2", "邻空缺"]


def test_vacancy_list_access(app, community_world):
    """The branch of the community and the admins above it; nobody below the branch, nobody outside."""
    w = community_world
    a, b = w["a"], w["b"]
    expected = {
        # role: (A's list, B's list)
        "neighbour": (403, 403),
        "group": (403, 403),
        "zone": (403, 403),
        "branch_a": (200, 403),
        "branch_b": (403, 200),
        "street": (200, 200),
        "district": (200, 200),
    }
    staff = make_person("org_staff", None, organisation=make_party("property", "物业"), name="物业员工")
    for role, (in_a, in_b) in expected.items():
        client = login(app, w[role])
        got = tuple(client.get(f"/triage/community/{c.id}/vacancies").status_code for c in (a, b))
        assert got == (in_a, in_b), role
        # Not a community, or no such node: 404 for those who may see vacancies, 403 for the rest.
        for node_id in (nodes_at("zone")[0].id, 999999):
            status = client.get(f"/triage/community/{node_id}/vacancies").status_code
            assert status == (404 if role.startswith("branch") or role in ("street", "district") else 403), (
                role,
                node_id,
            )
    assert login(app, staff).get(f"/triage/community/{a.id}/vacancies").status_code == 403
    assert app.test_client().get(f"/triage/community/{a.id}/vacancies").status_code == 302
