"""The report page's figures come from the page cache: a change shows at once, time's passing within a minute.

The figures part of a report (reports/_figures.html) is kept under the tags of the node's area and of the
tree (services/public/page_cache.py). These tests read the page as a person would and hold the promise:
whatever a commit changes — an issue filed or handled, an escalation by the SLA sweep, a leader leaving —
is on the next page; what changes with the clock alone (an issue becoming overdue) is on it within a
minute, and the page says when its figures were computed.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.blueprints.reports import routes as report_routes
from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import OPEN_STATUSES, Issue, Node, utcnow
from governance.services.issues import sla
from governance.services.issues.lifecycle import transition
from governance.services.people import accounts
from governance.services.people.roster import import_roster
from governance.services.public import page_cache
from governance.services.reports import node_report
from tests.builders import make_issue, make_role_holders, make_tree, nodes_at
from tests.conftest import Statements, take_redis_away
from tests.test_roster import csv_bytes


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=2, zones=2, groups=1, neighbours=2)
    return make_role_holders()


def figure(html: str, name: str) -> int:
    """A figure of the report's rates section (data-figure="total" / "open" / "overdue")."""
    return int(re.search(rf'data-figure="{name}"><b>(\d+)</b>', html)[1])


def vacant(html: str) -> int:
    """The node's vacant 片/组/邻 now (the figure of the rates section)."""
    return int(re.search(r'<p class="figure" data-vacancies="(\d+)"', html)[1])


def as_of(html: str) -> str:
    return re.search(r'data-as-of="([^"]+)"', html)[1]


def report(client, node, **args) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"period": "month", **args}.items())
    response = client.get(f"/reports/{node.id}?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


LEVELS = ("district", "street", "community", "zone", "neighbour")


@pytest.mark.parametrize("level", LEVELS)
def test_an_issue_filed_or_handled_shows_on_the_next_report_page(world, client, auth, level):
    auth.login(world["district_admin"].mobile)
    node = nodes_at(level)[0]
    before = report(client, node)
    assert as_of(report(client, node)) == as_of(before)  # the second request is served the same figures
    issue = make_issue(world["neighbour_leader"])
    after = report(client, node)
    assert figure(after, "total") == figure(before, "total") + 1
    assert figure(after, "open") == figure(before, "open") + 1
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["zone_leader"], issue, status, note="已处理")
    db.session.commit()
    assert figure(report(client, node), "open") == figure(before, "open")


def test_an_issue_elsewhere_leaves_another_communitys_figures_cached(world, client, auth):
    """Only the pages whose area holds the issue are recomputed (the other community keeps its entry)."""
    auth.login(world["district_admin"].mobile)
    other = nodes_at("community")[1]
    first = report(client, other)
    make_issue(world["neighbour_leader"])  # in the first community
    assert as_of(report(client, other)) == as_of(first)
    assert figure(report(client, nodes_at("district")[0]), "total") == 1


def test_a_cached_report_sends_a_few_statements_only(world, client, auth):
    auth.login(world["district_admin"].mobile)
    district = nodes_at("district")[0]
    make_issue(world["neighbour_leader"])
    with Statements() as miss:
        report(client, district)
    with Statements() as hit:
        report(client, district)
    # The node, the person, the district row of the way up and the unread badge: nothing of the figures.
    assert hit.count <= 4, "\n".join(hit.statements)
    assert miss.count > hit.count + 5


def test_a_leader_leaving_shows_as_a_vacancy_on_the_next_page(world, client, auth):
    auth.login(world["district_admin"].mobile)
    community = nodes_at("community")[0]
    before = vacant(report(client, community))
    accounts.set_enabled(world["district_admin"], world["neighbour_leader"], False)
    db.session.commit()
    assert vacant(report(client, community)) == before + 1


def test_a_leader_added_by_a_roster_import_fills_a_vacancy_on_the_next_page(world, client, auth):
    """The import writes roles with Core INSERTs, which the session hook does not see: it marks the tree."""
    auth.login(world["district_admin"].mobile)
    community = nodes_at("community")[0]
    before = vacant(report(client, community))
    led = {role.node_id for person in world.values() for role in person.roles}
    neighbour = next(n for n in nodes_at("neighbour") if n.community_id == community.id and n.id not in led)
    names = {n.id: n.name for n in db.session.scalars(select(Node))}
    place = [names[getattr(neighbour, f"{level}_id")] for level in ("street", "community", "zone", "group")]
    result = import_roster("roster.csv", csv_bytes([(*place, neighbour.name, "邻长", "新邻长", "13900000099")]))
    assert not result.errors
    db.session.commit()
    assert vacant(report(client, community)) == before - 1


def test_a_renamed_node_shows_its_new_name_in_its_parents_table(world, client, auth):
    auth.login(world["district_admin"].mobile)
    street = nodes_at("street")[0]
    assert "新名字社区" not in report(client, street)
    nodes_at("community")[0].name = "新名字社区"
    db.session.commit()
    assert "新名字社区" in report(client, street)


def test_an_escalation_by_the_sla_sweep_shows_on_the_next_page(world, client, auth):
    """The sweep changes issues with Core UPDATEs, which the session hook does not see: it marks them."""
    auth.login(world["district_admin"].mobile)
    district = nodes_at("district")[0]
    issue = make_issue(world["neighbour_leader"])
    past = utcnow() - timedelta(minutes=5)
    issue.ack_due_at = issue.next_deadline_at = past
    db.session.commit()
    assert figure(report(client, district), "overdue") == 1
    assert sla.sweep()["escalated"] == 1
    db.session.expire_all()
    assert issue.ack_due_at > utcnow()  # the next level's deadlines: not overdue there yet
    assert figure(report(client, district), "overdue") == 0


def test_an_issue_overdue_by_the_clock_alone_shows_within_a_minute(world, client, auth, monkeypatch):
    """Nothing is committed when a deadline passes: the figures are at most TTL old, and say when they were
    computed."""
    auth.login(world["district_admin"].mobile)
    district = nodes_at("district")[0]
    issue = make_issue(world["neighbour_leader"])
    assert figure(report(client, district), "overdue") == 0
    start, later = page_cache.now(), issue.ack_due_at + timedelta(minutes=1)
    monkeypatch.setattr(report_routes, "utcnow", lambda: later)
    monkeypatch.setattr(page_cache, "now", lambda: start + page_cache.TTL - 1)
    page = report(client, district)
    assert figure(page, "overdue") == 0  # still the figures of a minute ago, and the page says so
    assert as_of(page) < later.isoformat()
    monkeypatch.setattr(page_cache, "now", lambda: start + page_cache.TTL)
    page = report(client, district)
    assert figure(page, "overdue") == 1
    assert as_of(page) == later.isoformat()


def test_each_language_and_sort_has_its_own_figures(world, client, auth, app, monkeypatch):
    auth.login(world["district_admin"].mobile)
    street = nodes_at("street")[0]
    assert "Issues filed" not in report(client, street)
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    english = report(client, street)
    assert "Issues filed" in english
    ascending = report(client, street, sort="name")
    descending = report(client, street, sort="name", dir="desc")
    names = [n.name for n in nodes_at("community")]
    assert ascending.index(names[0]) < ascending.index(names[1])
    assert descending.index(names[1]) < descending.index(names[0])


def test_with_redis_the_figures_are_shared_and_dropped_on_a_change(world, redis_app, client, auth):
    auth.login(world["district_admin"].mobile)
    district = nodes_at("district")[0]
    report(client, district)
    assert len([k for k in page_cache.redis_keys() if ":pub:page:district|" in k]) == 1
    assert page_cache.memory_bodies() == []
    make_issue(world["neighbour_leader"])
    assert [k for k in page_cache.redis_keys() if ":pub:page:district|" in k] == []
    assert figure(report(client, district), "total") == 1


def test_with_redis_down_the_report_still_answers_with_every_change(world, redis_app, client, auth):
    """Redis away: the request that finds it down computes the figures, and so does every request while the
    circuit breaker holds Redis off — nothing is kept in a worker's own memory, which would not hear of a
    change another worker commits (redis_conn.py)."""
    auth.login(world["district_admin"].mobile)
    take_redis_away(redis_app)
    district = nodes_at("district")[0]
    assert figure(report(client, district), "total") == 0
    make_issue(world["neighbour_leader"])
    assert figure(report(client, district), "total") == 1
    assert figure(report(client, district), "total") == 1
    assert page_cache.memory_bodies() == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["file", "advance", "overdue", "leader", "rename"]),
            st.integers(min_value=0, max_value=9),
            st.sampled_from(["district", "street", "community", "zone", "neighbour"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_page_always_shows_what_a_fresh_computation_gives(world, client, auth, steps):
    """Whatever sequence of changes commits, the report page (cached or not) shows the figures, vacancies and
    child names that node_report.build_report computes from the rows at that moment."""
    if client.get("/").status_code == 302:
        auth.login(world["district_admin"].mobile)
    leader = world["zone_leader"]
    zone = next(r.node for r in leader.roles if r.node is not None)
    neighbours = [n for n in nodes_at("neighbour") if n.zone_id == zone.id]
    for action, k, level in steps:
        issues = list(db.session.scalars(select(Issue).where(Issue.status.in_(OPEN_STATUSES)).order_by(Issue.id)))
        if action == "file":
            make_issue(leader, neighbours[k % len(neighbours)])
        elif action == "advance" and issues:
            issue = issues[k % len(issues)]
            following = {"reported": "acknowledged", "acknowledged": "in_progress", "in_progress": "resolved"}
            if issue.status in following:
                transition(leader, issue, following[issue.status], note="已处理")
                db.session.commit()
        elif action == "overdue" and issues:
            issues[k % len(issues)].ack_due_at = utcnow() - timedelta(minutes=1)
            db.session.commit()
        elif action == "leader":
            person = world[("neighbour_leader", "group_leader")[k % 2]]
            accounts.set_enabled(world["district_admin"], person, not person.enabled)
            db.session.commit()
        elif action == "rename":
            nodes_at("community")[k % 2].name = f"社区{k}号"
            db.session.commit()
        node = nodes_at(level)[0]
        page = report(client, node)
        fresh = node_report.build_report(node, node_report.Period.named("month", beijing_today()))
        shown = {name: figure(page, name) for name in ("total", "open", "overdue")}
        assert shown == {name: getattr(fresh.figures, name) for name in shown}, (action, level)
        if fresh.vacancies is not None:
            assert vacant(page) == fresh.vacancies.total, (action, level)
        for row in fresh.children:
            assert f">{row.label}</a>" in page, (action, level, row.label)
