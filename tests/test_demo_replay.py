"""The demo's fast lifecycle replay (governance.demo.replay.IssueLife) against the real services.

Generated scripts of lifecycle steps — filing, acknowledging, starting, resolving, callbacks (satisfied
or not), escalating, assigning to a party and its 接单/退回, priorities, rejecting with a reason, merging,
withdrawing, comments, and time passing so that the SLA sweep escalates — are run twice on one small
tree: through the services (lifecycle.file_issue, transition, escalate, record_callback, add_comment,
triage.operations.assign/accept/decline/set_priority and sla.sweep, with the clock under the test's
control) and through the replay. Both must accept or refuse the same steps, and leave every issue with
the same status, handling level, deadlines (ack/resolve/next), on-time flags, assignment, timestamps,
timeline (kind, actor, from/to status, from/to level, note, public, deadline, in order), audit rows and
followers. A replay that drifts from the rules fails here, not in a demo nobody checks.

What the generated steps leave out, and why:
- reopening or closing an issue by hand (transition to 'reopened'/'closed' outside a callback): the
  demo's stories never do it, and the replay only knows those moves through the filer's callback;
- sending an issue down (下派), bulk actions and photos: the replay has no such step (the demo world has
  none of them);
- the sweep runs at a fixed few seconds after each deadline (the replay draws that delay at random for
  the demo; here both sides are given the same one), and step times keep every SLA deadline and every
  assignment deadline (the end of a Beijing day, hh:59:59) far enough apart that one sweep never finds
  two deadlines the replay would have swept separately.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update

from governance import formatting
from governance.demo.context import as_datetime, epoch
from governance.demo.replay import IssueLife, IssueWorld, RefNote
from governance.extensions import db
from governance.models import (
    OPEN_STATUSES,
    AuditEntry,
    Issue,
    IssueEvent,
    IssueFollower,
    Node,
    Person,
    RejectReason,
    organisation_community,
)
from governance.services.errors import ServiceError
from governance.services.issues import lifecycle, sla
from governance.services.platform import audit, jobs
from governance.services.triage import operations
from tests.builders import category, make_organisation, make_person, make_tree, nodes_at

# The sweep finds a passed deadline this many seconds later (both sides). Steps fall on hh:mm:30, SLA
# deadlines therefore too, and assignment deadlines on hh:59:59: a sweep 7 s after one never meets another.
SWEEP_DELAY = 7
START = datetime(2026, 3, 2, 1, 0, 30, tzinfo=UTC)
# Minutes between steps: a moment, an hour or two, and long enough for the 4 h / 24 h / 72 h deadlines
# (and an assignment's end of day) to pass.
GAPS = (1, 7, 45, 130, 300, 1500, 4400)
ACTORS = ("holder", "handler", "triage", "filer", "org", "group", "zone", "branch", "street", "district")
NOTES = ("", "已到现场查看", "请尽快处理")


# Who usually takes each step (the rest of ACTORS now and then, to see both sides refuse alike).
LIKELY_ACTORS = {
    "ack": ("handler", "org", "holder"),
    "start": ("handler", "org"),
    "resolve": ("handler", "org"),
    "withdraw": ("filer", "triage"),
    "escalate": ("holder", "handler", "filer"),
    "assign": ("triage", "branch"),
    "reject": ("triage", "branch"),
    "merge": ("triage", "street"),
    "priority": ("triage",),
    "comment": ("handler", "org", "filer"),
}


# The steps that move an issue on come twice as often, so that scripts get past the first few statuses.
OPERATIONS = (
    *("file", "ack", "start", "resolve", "callback", "assign", "accept") * 2,
    *("escalate", "decline", "reject", "merge", "withdraw", "priority", "comment", "wait"),
)


@st.composite
def steps(draw):
    """One step: (minutes after the previous one, operation, which issue (by filing order), actor, arguments)."""
    gap = draw(st.sampled_from(GAPS))
    issue = draw(st.integers(0, 2))
    op = draw(st.sampled_from(OPERATIONS))
    likely = LIKELY_ACTORS.get(op, ("filer",))
    who = draw(st.sampled_from(likely) if draw(st.integers(0, 5)) else st.sampled_from(ACTORS))
    note = draw(st.sampled_from(NOTES[1:]) if draw(st.integers(0, 4)) else st.sampled_from(NOTES))
    if op == "file":
        args = (draw(st.integers(0, 1)), draw(st.sampled_from(("normal", "urgent"))), draw(st.booleans()))
    elif op == "callback":
        args = (draw(st.sampled_from(("satisfied", "basically_satisfied", "unsatisfied"))), note)
    elif op == "assign":
        args = (draw(st.sampled_from(("property", "office"))), draw(st.sampled_from((0, 1, 3, 30))), note)
    elif op == "reject":
        args = (draw(st.integers(0, 4)), note)
    elif op == "merge":
        args = (draw(st.integers(0, 2)), note)
    elif op == "priority":
        args = (draw(st.sampled_from(("high", "normal", "low"))),)
    elif op == "comment":
        args = (draw(st.sampled_from(("comment", "internal_note", "public_update"))), note)
    else:  # ack, start, resolve, withdraw: a note; escalate: its reason; decline: its reason; accept, wait: none
        args = (note,)
    return gap, op, issue, who, args


def build_world() -> dict:
    """One 社区 with two 邻, a holder for every level, a property company serving the community and the
    街道 office, each with one staff member."""
    district = make_tree(neighbours=2)
    street, community = nodes_at("street")[0], nodes_at("community")[0]
    people = {"district": make_person("district_admin", district), "street": make_person("street_admin", street)}
    people["branch"] = make_person("branch_member", community)
    people["zone"] = make_person("zone_leader", nodes_at("zone")[0])
    people["group"] = make_person("group_leader", nodes_at("group")[0])
    neighbours = nodes_at("neighbour")
    leaders = [make_person("neighbour_leader", n) for n in neighbours]
    property_company = make_organisation("property", "普瑞物业")
    office = make_organisation("street_office", "街道办")
    office.street_id = street.id
    db.session.execute(
        organisation_community.insert(), [{"organisation_id": property_company.id, "community_id": community.id}]
    )
    db.session.commit()
    orgs = {"property": property_company, "office": office}
    for org in orgs.values():
        make_person("org_staff", None, organisation=org)
    world = IssueWorld.read({community.id: {property_company.id}}, {street.id: office.id})
    columns = (Node.id, Node.name, Node.group_id, Node.zone_id, Node.community_id, Node.street_id, Node.compound_id)
    node_rows = {row.id: row._asdict() for row in db.session.execute(select(*columns).where(Node.level == "neighbour"))}
    return {
        "district": district,
        "people": people,
        "neighbours": neighbours,
        "leaders": leaders,
        "orgs": orgs,
        "world": world,
        "nodes": node_rows,
        "reasons": list(
            db.session.scalars(
                select(RejectReason).where(RejectReason.active.is_(True)).order_by(RejectReason.sort, RejectReason.id)
            )
        ),
    }


class Clock:
    """The services' clock, moved by the test (whole seconds, like the replay's)."""

    def __init__(self):
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def service_person(w: dict, issue: Issue, who: str, filer: Person) -> Person:
    """The person a script actor names, as the replay resolves it (see IssueLife.actor)."""
    rank = lifecycle.HANDLING_LEVELS.index(issue.level)
    if who == "filer":
        return filer
    if who == "org":
        org_id = issue.assignee_org_id or w["orgs"]["property"].id
        return db.session.get(Person, w["world"].staff[org_id])
    if who == "handler":
        rank = max(rank, 1)
    elif who == "triage":
        rank = max(rank, 3)
    elif who != "holder":
        rank = ("neighbour", "group", "zone", "branch", "street", "district").index(who)
    holders = [
        filer_leader(w, issue),
        w["people"]["group"],
        w["people"]["zone"],
        w["people"]["branch"],
        w["people"]["street"],
        w["people"]["district"],
    ]
    return holders[rank]


def filer_leader(w: dict, issue: Issue) -> Person:
    return w["leaders"][[n.id for n in w["neighbours"]].index(issue.neighbour_id)]


def sweep_until(moment: datetime, last_step: datetime) -> None:
    """What the minute-by-minute sweep did up to `moment`: a pass SWEEP_DELAY after each deadline, or after
    the last step if that made a passed deadline the next one (the sweep never runs in the past)."""
    while True:
        due = db.session.scalar(select(func.min(Issue.next_deadline_at)).where(Issue.status.in_(OPEN_STATUSES)))
        if due is None:
            return
        swept = max(due, last_step) + timedelta(seconds=SWEEP_DELAY)
        if swept > moment:
            return
        sla.sweep(now=swept)
        last_step = swept


def run_services(w: dict, script, clock: Clock) -> tuple[list[Issue], list[bool]]:
    """The script through the services; the issues in filing order and whether each step was accepted."""
    issues: list[tuple[Issue, Person]] = []
    outcome = []
    for gap, op, index, who, args in script:
        last_step = clock.now
        clock.now += timedelta(minutes=gap)
        sweep_until(clock.now, last_step)
        db.session.expire_all()
        if op == "file":
            neighbour, urgency, by_group = args
            filer = w["people"]["group"] if by_group else w["leaders"][neighbour]
            data = lifecycle.IssueInput(
                category_id=category("road").id,
                title="路面破损",
                neighbour_id=w["neighbours"][neighbour].id,
                urgency=urgency,
            )
            issue, _ = lifecycle.file_issue(filer, data)
            issues.append((issue, filer))
            outcome.append(True)
            continue
        if op == "wait" or not issues:
            outcome.append(None)
            continue
        issue, filer = issues[index % len(issues)]
        person = service_person(w, issue, who, filer)
        try:
            if op in ("ack", "start", "resolve", "withdraw"):
                status = {"ack": "acknowledged", "start": "in_progress", "resolve": "resolved", "withdraw": "withdrawn"}
                lifecycle.transition(person, issue, status[op], args[0])
            elif op == "reject":
                lifecycle.transition(person, issue, "rejected", args[1], reject_reason=w["reasons"][args[0]])
            elif op == "merge":
                kept = issues[args[0] % len(issues)][0]
                lifecycle.transition(person, issue, "duplicate", args[1], duplicate_of=kept)
            elif op == "escalate":
                lifecycle.escalate(person, issue, args[0])
            elif op == "callback":
                lifecycle.record_callback(filer, issue, args[0], args[1])
            elif op == "assign":
                due_on = formatting.beijing_today(clock.now) + timedelta(days=args[1])
                operations.assign(person, issue, w["orgs"][args[0]], due_on, args[2])
            elif op == "accept":
                operations.accept(service_person(w, issue, "org", filer), issue)
            elif op == "decline":
                operations.decline(service_person(w, issue, "org", filer), issue, args[0])
            elif op == "priority":
                operations.set_priority(person, issue, args[0])
            elif op == "comment":
                lifecycle.add_comment(person, issue, args[0], args[1])
            db.session.flush()
            outcome.append(True)
        except ServiceError:
            outcome.append(False)
    sweep_until(clock.now, clock.now)
    db.session.commit()
    return [issue for issue, _filer in issues], outcome


def run_replay(w: dict, script) -> tuple[list[IssueLife], list[bool], int]:
    """The same script through the replay; the lives in filing order, each step's outcome, and the end."""
    world, people = w["world"], w["people"]
    lives: list[IssueLife] = []
    outcome = []
    at = epoch(START)
    for gap, op, index, who, args in script:
        at += gap * 60
        if op == "file":
            neighbour, urgency, by_group = args
            node = w["nodes"][w["neighbours"][neighbour].id]
            holders = world.holders(node, w["district"].id)
            filer = (people["group"].id, 1) if by_group else (holders[0], 0)
            life = IssueLife(world, random.Random(0), urgency, holders, *filer, node, lambda _due: SWEEP_DELAY)
            life.file(at)
            lives.append(life)
            outcome.append(True)
            continue
        if op == "wait" or not lives:
            outcome.append(None)
            continue
        life = lives[index % len(lives)]
        try:
            if who == "org" and life.assignee is None and op not in ("accept", "decline", "callback"):
                # The services are asked with some party's staff, who may do nothing here.
                life.advance(at)
                raise ValueError("no party to act for")
            if op in ("ack", "start", "resolve", "withdraw"):
                status = {"ack": "acknowledged", "start": "in_progress", "resolve": "resolved", "withdraw": "withdrawn"}
                life.move(at, who, status[op], args[0])
            elif op == "reject":
                life.move(at, who, "rejected", args[1], reason=world.reasons[args[0]])
            elif op == "merge":
                life.move(at, who, "duplicate", args[1], duplicate_of=lives[args[0] % len(lives)])
            elif op == "escalate":
                life.escalate(at, who, args[0])
            elif op == "callback":
                life.callback(at, args[0], args[1])
            elif op == "assign":
                organisation = w["orgs"][args[0]].id
                life.assign(at, who, organisation, args[1], args[2])
            elif op == "accept":
                life.accept(at)
            elif op == "decline":
                life.decline(at, args[0])
            elif op == "priority":
                life.set_priority(at, who, args[0])
            elif op == "comment":
                life.comment(at, who, args[0], args[1])
            outcome.append(True)
        except ValueError:
            outcome.append(False)
    for life in lives:
        life.advance(at)
    return lives, outcome, at


def service_state(issue: Issue) -> dict:
    """What the services left: the issue's columns, its timeline, audit rows and followers."""
    db.session.refresh(issue)
    events = db.session.execute(
        select(
            IssueEvent.at,
            IssueEvent.actor_id,
            IssueEvent.kind,
            IssueEvent.from_status,
            IssueEvent.to_status,
            IssueEvent.from_level,
            IssueEvent.to_level,
            IssueEvent.note,
            IssueEvent.public,
            IssueEvent.deadline_at,
        )
        .where(IssueEvent.issue_id == issue.id)
        .order_by(IssueEvent.id)
    ).all()
    audits = db.session.execute(
        select(AuditEntry.at, AuditEntry.actor_id, AuditEntry.action, AuditEntry.detail)
        .where(AuditEntry.issue_id == issue.id)
        .order_by(AuditEntry.id)
    ).all()
    followers = dict(
        db.session.execute(
            select(IssueFollower.person_id, IssueFollower.created_at).where(IssueFollower.issue_id == issue.id)
        ).all()
    )
    return {
        "columns": {name: getattr(issue, name) for name in COMPARED},
        "duplicate_of": issue.duplicate_of_id,
        "events": [tuple(e) for e in events],
        "audits": [tuple(a) for a in audits],
        "followers": followers,
    }


COMPARED = (
    "status", "level", "priority", "ack_due_at", "resolve_due_at", "next_deadline_at", "acknowledged_on_time",
    "resolved_on_time", "assignee_org_id", "assignment_state", "assigned_at", "accepted_at", "reject_reason_id",
    "created_at", "updated_at", "acknowledged_at", "resolved_at", "closed_at", "satisfaction", "filed_by_id",
)  # fmt: skip


def replay_state(life: IssueLife, ids: dict[IssueLife, int], references: dict[IssueLife, str]) -> dict:
    """The replay's issue in the same shape (stamps as datetimes, notes naming other issues resolved)."""

    def note(value) -> str:
        return value.text(references.__getitem__) if isinstance(value, RefNote) else value

    row = dict(zip(REPLAY_COLUMNS, (getattr(life, attr) for attr in REPLAY_ATTRS), strict=True))
    for name in ("ack_due_at", "resolve_due_at", "next_deadline_at", "assigned_at", "accepted_at"):
        row[name] = as_datetime(row[name])
    for name in ("created_at", "updated_at", "acknowledged_at", "resolved_at", "closed_at"):
        row[name] = as_datetime(row[name])
    # The timeline is written sorted by time, each issue's own events in the order they happened.
    ordered = sorted(enumerate(life.events), key=lambda pair: (pair[1][0], pair[0]))
    events = [
        (as_datetime(e[0]), e[1], e[2], e[3], e[4], e[5], e[6], note(e[7]), e[8], as_datetime(e[9]))
        for _seq, e in ordered
    ]
    audits = [(as_datetime(at), actor, action, note(detail)[:500]) for at, actor, action, detail in life.audits]
    return {
        "columns": row,
        "duplicate_of": ids[life.duplicate_of] if life.duplicate_of is not None else None,
        "events": events,
        "audits": audits,
        "followers": {person: as_datetime(since) for person, since in life.followers.items()},
    }


REPLAY_COLUMNS = COMPARED
REPLAY_ATTRS = (
    "status", "level", "priority", "ack_due", "resolve_due", "next_due", "ack_on_time", "resolve_on_time",
    "assignee", "state", "assigned", "accepted", "reject_reason", "created", "updated", "acknowledged",
    "resolved", "closed", "satisfaction", "filer_id",
)  # fmt: skip


_WORLD: dict = {}
# What a script leaves behind; forgotten before the next example, which reuses the tree and people.
ISSUE_TABLES = ("notification", "job", "audit_entry", "issue_follower", "issue_event")


def world_for(app) -> dict:
    """The small world, built once per test (and session) and without issues for every example."""
    if _WORLD.get("session") is not db.session():
        _WORLD.clear()
        _WORLD.update(session=db.session(), world=build_world())
    for table in ISSUE_TABLES:
        db.session.execute(text(f'DELETE FROM "{table}"'))
    db.session.execute(update(Issue).values(duplicate_of_id=None))
    db.session.execute(delete(Issue))
    db.session.commit()
    return _WORLD["world"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(script=st.lists(steps(), min_size=1, max_size=16))
def test_replay_matches_the_services(app, monkeypatch, script):
    w = world_for(app)
    clock = Clock()
    # The services read the clock through these names (and today's Beijing date for a deadline's range).
    for module in (lifecycle, operations, audit):
        monkeypatch.setattr(module, "utcnow", clock)
    # The sweep commits and would run its notify jobs here (no Redis): what they send is not compared.
    monkeypatch.setattr(jobs, "dispatch", lambda: None)
    monkeypatch.setattr(operations, "beijing_today", lambda now=None: formatting.beijing_today(now or clock()))
    if script[0][1] != "file":  # every script starts with an issue
        script = [(1, "file", 0, "filer", (0, "normal", False)), *script]
    issues, service_outcome = run_services(w, script, clock)
    lives, replay_outcome, end = run_replay(w, script)
    assert end == epoch(clock.now)
    steps_seen = [(op, index, who, args) for _gap, op, index, who, args in script]
    assert replay_outcome == service_outcome, list(zip(steps_seen, service_outcome, replay_outcome, strict=True))
    target(float(sum(o is True for o in service_outcome)), label="steps the services accepted")
    ids = {life: issue.id for life, issue in zip(lives, issues, strict=True)}
    references = {life: issue.reference for life, issue in zip(lives, issues, strict=True)}
    for n, (life, issue) in enumerate(zip(lives, issues, strict=True)):
        expected, actual = service_state(issue), replay_state(life, ids, references)
        for part in ("columns", "duplicate_of", "events", "audits", "followers"):
            assert actual[part] == expected[part], (f"issue {n}: {part}", steps_seen)


def test_a_script_with_every_step_agrees(app, monkeypatch):
    """One hand-written script through every kind of step, so a broken rule shows up without luck."""
    script = [
        (1, "file", 0, "filer", (0, "normal", False)),
        (45, "escalate", 0, "holder", ("超出本邻范围",)),
        (7, "ack", 0, "handler", ("",)),
        (130, "assign", 0, "triage", ("property", 3, "请尽快处理")),
        (45, "decline", 0, "org", ("不属于本单位",)),
        (7, "assign", 0, "triage", ("office", 1, "")),
        (45, "accept", 0, "org", ()),
        (130, "comment", 0, "org", ("public_update", "已到现场查看")),
        (300, "resolve", 0, "org", ("已修复",)),
        (45, "callback", 0, "filer", ("unsatisfied", "没有修好")),
        (7, "file", 1, "filer", (1, "urgent", True)),
        (1500, "wait", 1, "filer", ()),
        (7, "priority", 1, "triage", ("high",)),
        (4400, "wait", 1, "filer", ()),
        (7, "merge", 1, "triage", (0, "")),
        (7, "start", 0, "org", ("",)),
        (300, "resolve", 0, "org", ("已彻底修复",)),
        (45, "callback", 0, "filer", ("satisfied", "")),
        (1, "file", 2, "filer", (0, "normal", False)),
        (45, "reject", 2, "branch", (1, "相邻住户纠纷")),
        (1, "file", 3, "filer", (1, "normal", False)),
        (45, "withdraw", 3, "filer", ("居民申请撤回",)),
    ]
    w = world_for(app)
    clock = Clock()
    for module in (lifecycle, operations, audit):
        monkeypatch.setattr(module, "utcnow", clock)
    # The sweep commits and would run its notify jobs here (no Redis): what they send is not compared.
    monkeypatch.setattr(jobs, "dispatch", lambda: None)
    monkeypatch.setattr(operations, "beijing_today", lambda now=None: formatting.beijing_today(now or clock()))
    issues, service_outcome = run_services(w, script, clock)
    lives, replay_outcome, _end = run_replay(w, script)
    assert service_outcome == [None if s[1] == "wait" else True for s in script]
    assert replay_outcome == service_outcome
    ids = {life: issue.id for life, issue in zip(lives, issues, strict=True)}
    references = {life: issue.reference for life, issue in zip(lives, issues, strict=True)}
    kinds = set()
    for life, issue in zip(lives, issues, strict=True):
        expected, actual = service_state(issue), replay_state(life, ids, references)
        assert actual == expected
        kinds |= {e[2] for e in expected["events"]}
    assert {"escalated", "assigned", "declined", "accepted", "callback", "merged", "priority"} <= kinds
