"""Every rate checked against an independent oracle over random lifecycles, on both engines.

The oracle below is a second, deliberately plain implementation of services/reports/rates.py's definitions: Python
over the raw issue rows, their timelines and the residents' rating links — no SQL aggregate, no rollup, and
none of the issue's own summary columns where the timeline tells the same thing (the on-time flags, the
callback's answer, the resident's rating, the resolution time). Hypothesis drives random lifecycles through
the real services (file, acknowledge, assign / accept / decline, escalate, deadlines passing and the SLA
sweep, start, resolve, callbacks, resident ratings, reopen, reject, merge, withdraw) over a small tree, then
compares the oracle with the report service for every node and several periods, with the rollups, the report
exports and the public pages, and asserts the invariants: every rate within 0–100 %, a node's counts the sum
of its children's, rollups equal to the raw rows.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import LEVELS, Issue, IssueEvent, Node, RatingToken, RejectReason, utcnow
from governance.services.issues import rating, sla
from governance.services.issues.lifecycle import LifecycleError, escalate, record_callback, transition
from governance.services.reports import node_report, rollups
from governance.services.triage import operations
from tests.builders import category, make_compound, make_issue, make_party, make_person, make_tree, nodes_at

OPEN = ("reported", "acknowledged", "in_progress", "reopened")
HAPPY = ("satisfied", "basically_satisfied")


# --- the oracle ----------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the oracle reads of one issue: where it is, when it was filed, and what its timeline says."""

    places: dict
    created_at: datetime
    status: str
    acknowledged_on_time: bool
    resolved_on_time: bool | None  # None: not resolved
    hours: int | None
    answer: bool | None  # satisfied?; None: no answer
    overdue: bool


def whole_hours(start: datetime, end: datetime) -> int:
    seconds = math.floor(end.timestamp()) - math.floor(start.timestamp())
    return 0 if seconds <= 0 else math.ceil(seconds / 3600)


def read_facts(now: datetime) -> list[Facts]:
    """Every issue as the oracle sees it."""
    db.session.expire_all()
    timelines = defaultdict(list)
    for event in db.session.scalars(select(IssueEvent).order_by(IssueEvent.at, IssueEvent.id)):
        timelines[event.issue_id].append(event)
    used_links = defaultdict(list)
    for link in db.session.scalars(select(RatingToken).where(RatingToken.used_at.is_not(None))):
        used_links[link.issue_id].append(link)
    facts = []
    for issue in db.session.scalars(select(Issue)):
        timeline = timelines[issue.id]
        missed = [e.at for e in timeline if e.deadline_at is not None]  # the sweep found a deadline passed
        acks = [e.at for e in timeline if e.kind == "status" and e.to_status == "acknowledged"]
        first_ack = acks[0] if acks else None
        on_time_ack = first_ack is not None and not any(at <= first_ack for at in missed)
        resolved_on_time = hours = None
        if issue.status in ("resolved", "closed"):
            resolution = [e.at for e in timeline if e.kind == "status" and e.to_status == "resolved"][-1]
            reopenings = [e.at for e in timeline if e.to_status == "reopened" and e.at <= resolution]
            since = max([at for at in reopenings + [first_ack] if at is not None])
            resolved_on_time = not any(since < at <= resolution for at in missed)
            hours = whole_hours(issue.created_at, resolution)
        answer = None
        if issue.status not in ("withdrawn", "duplicate"):
            links = sorted(used_links[issue.id], key=lambda link: (link.used_at, link.id))
            callbacks = [e for e in timeline if e.kind == "callback"]
            if links:
                answer = links[-1].rating in HAPPY
            elif callbacks:
                answer = callbacks[-1].to_status == "closed"  # satisfied or basically: closed; not: reopened
        due = [d for d in (issue.ack_due_at, issue.resolve_due_at) if d is not None]
        places = {level: getattr(issue, f"{level}_id") for level in ("street", "community", "zone", "group")}
        places["neighbour"] = issue.neighbour_id
        places["compound"] = issue.compound_id
        facts.append(
            Facts(
                places=places,
                created_at=issue.created_at,
                status=issue.status,
                acknowledged_on_time=on_time_ack,
                resolved_on_time=resolved_on_time,
                hours=hours,
                answer=answer,
                overdue=issue.status in OPEN and any(d <= now for d in due),
            )
        )
    return facts


@dataclass
class Plain:
    """The oracle's figures for one set of issues."""

    by_status: dict = field(default_factory=dict)
    responded: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    answers: int = 0
    satisfied: int = 0
    overdue: int = 0
    hours: list = field(default_factory=list)

    @property
    def filed(self):
        return sum(self.by_status.values())

    @property
    def response_base(self):
        return self.filed - self.by_status.get("withdrawn", 0)

    @property
    def resolution_base(self):
        return self.response_base - self.by_status.get("duplicate", 0)

    @property
    def done(self):
        return self.by_status.get("resolved", 0) + self.by_status.get("closed", 0)

    def rate(self, name):
        part, whole = {
            "response_rate": (self.responded, self.response_base),
            "resolution_rate": (self.done, self.resolution_base),
            "on_time_rate": (self.resolved_on_time, self.resolved),
            "satisfaction_rate": (self.satisfied, self.answers),
        }[name]
        return part / whole if whole else None

    def percentile(self, p):
        if not self.hours:
            return None
        ordered = sorted(self.hours)
        return ordered[max(math.ceil(p * len(ordered) / 100), 1) - 1]


def plain_figures(facts: list[Facts]) -> Plain:
    result = Plain()
    for f in facts:
        result.by_status[f.status] = result.by_status.get(f.status, 0) + 1
        if f.acknowledged_on_time and f.status != "withdrawn":
            result.responded += 1
        if f.resolved_on_time is not None:
            result.resolved += 1
            result.resolved_on_time += f.resolved_on_time
            result.hours.append(f.hours)
        if f.answer is not None:
            result.answers += 1
            result.satisfied += f.answer
        result.overdue += f.overdue
    return result


RATES = ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate")


def differences(plain: Plain, figures, hours: bool = True) -> dict:
    """Where the service's Figures differ from the oracle's (empty when they agree); the hours to resolve only
    with `hours` (a report's breakdowns do not compute them)."""
    pairs = {
        "by_status": (
            {k: v for k, v in plain.by_status.items() if v},
            {k: v for k, v in figures.by_status.items() if v},
        ),
        "responded": (plain.responded, figures.acknowledged_on_time),
        "response_base": (plain.response_base, figures.responded_base),
        "resolution_base": (plain.resolution_base, figures.counted),
        "resolved": (plain.resolved, figures.resolved),
        "resolved_on_time": (plain.resolved_on_time, figures.resolved_on_time),
        "answers": (plain.answers, figures.callbacks + figures.ratings),
        "satisfied": (plain.satisfied, figures.callbacks_satisfied + figures.ratings_satisfied),
        "overdue": (plain.overdue, figures.overdue),
        "median": (plain.percentile(50), figures.median_resolve),
        "p90": (plain.percentile(90), figures.p90_resolve),
    }
    pairs.update({name: (plain.rate(name), getattr(figures, name)) for name in RATES})
    if not hours:
        del pairs["median"], pairs["p90"]
        assert not figures.hours, "a breakdown computed hours it does not show"
    return {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}


def assert_rates_in_bounds(figures, where) -> None:
    for name in RATES:
        value = getattr(figures, name)
        assert value is None or 0 <= value <= 1, (where, name, value)


def rate_text(value) -> str:
    """As the public pages and exports print a rate."""
    return "暂无数据" if value is None else f"{value * 100:.1f}%"


# --- the world and the lifecycle driver ----------------------------------------------------------


@pytest.fixture
def world(app):
    """Two 街镇, a community each (with a 小区 and a paired property company), two 片 of one 组 of two 邻."""
    make_tree(streets=2, communities=1, zones=2, groups=1, neighbours=2)
    neighbours = nodes_at("neighbour")
    communities = nodes_at("community")
    compounds = {c.id: make_compound(c, f"{c.name}小区") for c in communities}
    company = make_party("property", "物业公司", *communities)
    return {
        "neighbours": neighbours,
        "filers": {n.id: make_person("neighbour_leader", n) for n in neighbours},
        "group_leaders": {g.id: make_person("group_leader", g) for g in nodes_at("group")},
        "branch": {c.id: make_person("branch_member", c) for c in communities},
        "admin": make_person("district_admin", nodes_at("district")[0]),
        "company": company,
        "staff": make_person("org_staff", None, organisation=company),
        "compounds": compounds,
        "categories": [category(code).id for code in ("road", "lighting")],
        "reason": db.session.scalars(select(RejectReason).where(RejectReason.active)).first(),
    }


STEPS = (
    ["file"] * 3
    + ["acknowledge", "assign", "accept", "decline", "start", "resolve", "resolve", "callback", "rate", "rate"]
    + ["withdraw", "withdraw", "escalate", "late", "reject", "merge", "reopen", "close"]
)
LIFECYCLES = st.lists(
    st.tuples(st.sampled_from(STEPS), st.integers(0, 1000), st.integers(0, 1000)), min_size=10, max_size=40
)


def step(world, op: str, a: int, b: int) -> None:  # noqa: C901 - one branch per kind of step, as a dispatch table
    """One step as the people of the world would take it; a step the services refuse changes nothing."""
    issues = list(db.session.scalars(select(Issue).order_by(Issue.id)))
    if op == "file" or not issues:
        neighbour = world["neighbours"][a % len(world["neighbours"])]
        issue = make_issue(
            world["filers"][neighbour.id],
            neighbour,
            category_id=world["categories"][b % 2],
            compound_id=world["compounds"][neighbour.community_id].id,
        )
        back = (0, 0, 0, 35, 70, 400)[b % 6]  # filed in earlier months too (history)
        if back:
            issue.created_at -= timedelta(days=back, hours=b % 24)
            db.session.commit()
        return
    issue = issues[-1 - a % min(len(issues), 4)]  # mostly the newest few: lifecycles get far, not wide
    filer = world["filers"][issue.neighbour_id]
    branch = world["branch"][issue.community_id]
    admin = world["admin"]
    try:
        if op == "acknowledge":
            transition(world["group_leaders"][issue.group_id] if b % 2 else admin, issue, "acknowledged")
        elif op == "assign":
            operations.assign(branch, issue, world["company"], beijing_today() + timedelta(days=1 + b % 9))
        elif op == "accept":
            operations.accept(world["staff"], issue)
        elif op == "decline":
            operations.decline(world["staff"], issue, "不归我们管")
        elif op == "start":
            transition(admin, issue, "in_progress")
        elif op == "resolve":
            transition(world["staff"] if issue.assignment_state == "accepted" else admin, issue, "resolved", "修好了")
        elif op == "callback":
            answer = ("satisfied", "basically_satisfied", "unsatisfied")[b % 3]
            record_callback(filer, issue, answer, "回访" if answer == "unsatisfied" else "")
        elif op == "rate":
            token = rating.create_link(filer, issue)
            db.session.commit()
            rating.rate(token, ("satisfied", "basically_satisfied", "unsatisfied")[b % 3])
        elif op == "withdraw":
            transition(filer, issue, "withdrawn", "不需要了")
        elif op == "escalate":
            escalate(filer if b % 2 else admin, issue, "需要上级协调")
        elif op == "late":  # the deadline in force passes, and the sweep finds it (超时自动上报)
            if issue.status not in OPEN or issue.level == "district":
                return
            past = utcnow() - timedelta(minutes=1 + b % 50)
            if issue.status == "reported":
                issue.ack_due_at = past
            else:
                issue.resolve_due_at = past
            issue.next_deadline_at = past
            db.session.commit()
            sla.sweep()
        elif op == "reject":
            operations.reject(branch, issue, world["reason"])
        elif op == "merge":
            kept = issues[b % len(issues)]
            if kept.id == issue.id or kept.community_id != issue.community_id:
                return
            operations.merge(branch, issue, kept)
        elif op == "reopen":
            transition(branch, issue, "reopened", "居民反映还没修好")
        elif op == "close":
            transition(branch, issue, "closed")
        db.session.commit()
    except (LifecycleError, rating.RatingError):
        db.session.rollback()


# --- the comparison ------------------------------------------------------------------------------


def periods(now: datetime) -> list:
    today = beijing_today(now)
    return [
        node_report.all_time(now),
        node_report.Period.named("month", today),
        node_report.Period.named("month", node_report.add_months(today.replace(day=1), -2)),  # a whole month: rollups
        node_report.Period("custom", today - timedelta(days=50), today),  # partial months at both ends
    ]


def within(facts: list[Facts], node: Node | None, period) -> list[Facts]:
    start, end = period.bounds
    return [
        f
        for f in facts
        if (node is None or node.level == "district" or f.places[node.level] == node.id)
        and (start is None or f.created_at >= start)
        and (end is None or f.created_at < end)
    ]


def check_reports(facts: list[Facts], now: datetime, drawn: int) -> None:
    """Every node's report in the drawn period, and the district's in every period, against the oracle.

    One period per lifecycle for the nodes below the district (which period is part of the example, so each
    is drawn about equally often and a failure shrinks to one): all four for every node cost four times the
    reports for the same lifecycles, and the suite's time is shared."""
    nodes = list(db.session.scalars(select(Node).where(Node.level.in_(LEVELS)).order_by(Node.id)))
    for index, period in enumerate(periods(now)):
        for node in nodes if index == drawn else [n for n in nodes if n.level == "district"]:
            report = node_report.build_report(node, period, now=now, with_trend=False)
            where = (node.level, node.name, period.key, period.start)
            plain = plain_figures(within(facts, node, period))
            assert differences(plain, report.figures) == {}, where
            assert_rates_in_bounds(report.figures, where)
            if not report.children:
                continue
            for row in report.children:
                child = plain_figures(within(facts, row.node, period))
                assert differences(child, row.figures, hours=False) == {}, (where, row.label)
                assert_rates_in_bounds(row.figures, (where, row.label))
            # A node is the sum of its children: every issue lies in exactly one child.
            for name in ("acknowledged_on_time", "resolved", "resolved_on_time", "callbacks", "ratings", "overdue"):
                assert sum(getattr(r.figures, name) for r in report.children) == getattr(report.figures, name)
            for status, count in report.figures.by_status.items():
                assert sum(r.figures.by_status.get(status, 0) for r in report.children) == count, (where, status)


def check_exports(world, client, auth, facts: list[Facts], now: datetime) -> None:
    auth.login(world["admin"].mobile)
    district = nodes_at("district")[0]
    for period in periods(now)[1:]:
        query = "&".join(f"{k}={v}" for k, v in period.args().items())
        response = client.get(f"/reports/{district.id}/children.csv?{query}")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
        header = rows[0]
        assert not any("小时" in title for title in header)  # breakdowns carry no hours: no empty columns for them
        streets = {node.name: node for node in nodes_at("street")}
        for row in rows[1:]:
            plain = plain_figures(within(facts, streets[row[0]], period))
            assert int(row[header.index("上报问题")]) == plain.filed
            for name, title in (
                ("response_rate", "响应率"),
                ("resolution_rate", "办结率"),
                ("satisfaction_rate", "满意率"),
            ):
                value = plain.rate(name)
                assert row[header.index(title)] == ("" if value is None else rate_text(value)), (row[0], title)
    auth.logout()


def check_public_pages(world, client, facts: list[Facts], now: datetime) -> None:
    always = node_report.all_time(now)
    pages = [("/p/", None)]
    pages += [(f"/p/street/{n.id}", n) for n in nodes_at("street")]
    pages += [(f"/p/community/{n.id}", n) for n in nodes_at("community")]
    for url, node in pages:
        plain = plain_figures(within(facts, node, always))
        html = client.get(url).get_data(as_text=True)
        for name in ("resolution_rate", "satisfaction_rate"):
            assert rate_text(plain.rate(name)) in html, (url, name)
    for compound in world["compounds"].values():
        plain = plain_figures([f for f in facts if f.places["compound"] == compound.id])
        html = client.get(f"/p/compound/{compound.id}").get_data(as_text=True)
        for name in ("resolution_rate", "satisfaction_rate"):
            assert rate_text(plain.rate(name)) in html, (compound.name, name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lifecycle=LIFECYCLES, period=st.integers(0, 3))
def test_every_rate_equals_the_oracle_at_every_node(world, client, auth, lifecycle, period):
    for op, a, b in lifecycle:
        step(world, op, a, b)
    db.session.commit()
    assert rollups.compare(rollups.expected(), rollups.stored()) == []  # rollups == raw rows
    now = datetime.now(UTC)
    facts = read_facts(now)
    check_reports(facts, now, period)
    check_exports(world, client, auth, facts, now)
    check_public_pages(world, client, facts, now)
