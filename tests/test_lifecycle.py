"""The issue lifecycle: every transition, escalation by hand and by deadline, callbacks, conflicts."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text, update

from governance.extensions import db
from governance.models import STATUSES, Issue, IssueEvent, IssueFollower, Job, Notification, RejectReason, utcnow
from governance.services.issues import sla
from governance.services.issues.lifecycle import (
    TRANSITIONS,
    IssueInput,
    LifecycleError,
    add_comment,
    escalate,
    file_issue,
    record_callback,
    transition,
)
from governance.services.platform import jobs
from governance.services.reports import rollups
from tests.builders import (
    category,
    force_status,
    make_issue,
    make_node,
    make_person,
    make_role_holders,
    make_tree,
    nodes_at,
)
from tests.conftest import Statements


@pytest.fixture
def people(app):
    """A small tree with one holder per level on its first branch, keyed by level, and a 邻长 of the second 邻."""
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=2)
    people = make_role_holders(by="level")  # the branch member under "community"
    people["neighbour2"] = make_person("neighbour_leader", nodes_at("neighbour")[1])
    return people


def events_of(issue):
    return list(db.session.scalars(select(IssueEvent).where(IssueEvent.issue_id == issue.id).order_by(IssueEvent.id)))


def test_filing_sets_reference_deadlines_and_timeline(people):
    issue = make_issue(people["neighbour"], title="3栋路灯不亮", category="lighting")
    assert issue.reference == f"WC-{issue.created_at.year}-{issue.id:06d}"
    assert issue.status == "reported" and issue.level == "neighbour"
    assert issue.group_id == nodes_at("group")[0].id and issue.street_id == nodes_at("street")[0].id
    assert timedelta(hours=23) < issue.ack_due_at - issue.created_at <= timedelta(hours=24)
    assert issue.next_deadline_at == issue.ack_due_at
    (filed,) = events_of(issue)
    assert filed.kind == "filed" and filed.actor_id == people["neighbour"].id


def test_filing_is_idempotent(people):
    first = make_issue(people["neighbour"], key="abc-123")
    again = make_issue(people["neighbour"], key="abc-123")
    assert first.id == again.id
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 1
    other = make_issue(people["neighbour"], key="abc-124")
    assert other.id != first.id


def test_a_filing_that_loses_the_race_for_its_key_returns_the_winner_and_writes_nothing(people):
    """The key is not looked up first (look_up_first=False, as the form files) and the same filing landed: the
    unique key turns the INSERT into nothing, and the issue that won is the answer — no second event, follower,
    job or rollup count."""
    filer = people["neighbour"]
    first = make_issue(filer, key="race-1")
    rows = {
        model: db.session.scalar(select(func.count()).select_from(model)) for model in (IssueEvent, IssueFollower, Job)
    }
    data = IssueInput(category_id=first.category_id, title="路面破损", neighbour_id=first.neighbour_id)
    again, created = file_issue(filer, data, "race-1", look_up_first=False)
    db.session.commit()
    assert (again.id, created) == (first.id, False)
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 1
    counted = (IssueEvent, IssueFollower, Job)
    assert rows == {model: db.session.scalar(select(func.count()).select_from(model)) for model in counted}
    assert not rollups.compare(rollups.expected(), rollups.stored())


def next_issue_id_from(first_id: int) -> None:
    """Make the next filed issue's id `first_id`: PostgreSQL's sequence moved on; SQLite takes the largest id
    plus one, so a copy of an issue is put there (counted in the rollups like any other)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('issue', 'id'), :last)"), {"last": first_id - 1})
    else:
        row = dict(db.session.execute(select(Issue.__table__)).mappings().first())
        row.update(id=first_id - 1, reference="WC-PLACEHOLDER", idempotency_key=None)
        db.session.execute(Issue.__table__.insert().values(row))
        rollups.issue_added(SimpleNamespace(**row))


def test_a_filing_writes_its_issue_timeline_entry_follower_and_job(people):
    """What a filing writes, read back row by row: the reference made of the id (six digits, and all seven past
    999,999), the "filed" entry by the filer, the filer following, the notification job naming that entry — and
    for an Open311 key, no actor and no follower."""
    from governance.services.public import open311

    filer = people["neighbour"]
    make_issue(filer)
    next_issue_id_from(999_999)
    api_key, _ = open311.issue_key(None, nodes_at("community")[0], "客户端")
    data = IssueInput(category_id=category("road").id, title="路面", neighbour_id=nodes_at("neighbour")[0].id)
    filed = [file_issue(filer, data, "key-1")[0], file_issue(filer, data, "key-2")[0]]
    filed.append(file_issue(None, data, api_key=api_key)[0])
    db.session.commit()
    assert [issue.id for issue in filed] == [999_999, 1_000_000, 1_000_001]
    db.session.expire_all()
    for issue, actor in zip(filed, (filer.id, filer.id, None), strict=True):
        stored = db.session.get(Issue, issue.id)
        assert stored.reference == f"WC-{stored.created_at.year}-{stored.id:06d}" == issue.reference
        assert stored.filed_by_id == actor and stored.version == 1 and stored.priority == "normal"
        (entry,) = events_of(stored)
        assert (entry.kind, entry.to_status, entry.to_level, entry.actor_id, entry.note, entry.public) == (
            "filed",
            "reported",
            "neighbour",
            actor,
            "",
            True,
        )
        assert entry.at == stored.created_at
        followers = db.session.execute(select(IssueFollower.person_id).where(IssueFollower.issue_id == issue.id))
        assert followers.scalars().all() == ([actor] if actor else [])
        (job,) = db.session.scalars(select(Job).where(Job.dedupe_key == f"notify:event:{entry.id}"))
        assert json.loads(job.payload) == {"event_id": entry.id, "levels": ["group"]}
        assert columns_of(job) == {**told_of(entry.id), "id": job.id, "created_at": job.created_at}
        assert stored.created_at <= job.created_at < stored.created_at + timedelta(seconds=5)
    assert [issue.reference.rsplit("-", 1)[1] for issue in filed] == ["999999", "1000000", "1000001"]
    assert not rollups.compare(rollups.expected(), rollups.stored())


def columns_of(row) -> dict:
    """Every column of an ORM object, as it holds them."""
    return {column.key: getattr(row, column.key) for column in type(row).__table__.c}


def told_of(event_id: int) -> dict:
    """The job row notify.tell_of writes through jobs.defer for a filing's entry (the filing writes its own inside
    its one statement on PostgreSQL), but for its id and time: written in place of the filing's, then undone."""
    from sqlalchemy import delete

    from governance.services.platform import notify

    with db.session.begin_nested() as savepoint:
        db.session.execute(delete(Job).where(Job.dedupe_key == f"notify:event:{event_id}"))
        job = notify.tell_of(event_id, ["group"])
        db.session.flush()
        db.session.expire(job)
        row = columns_of(job)
        savepoint.rollback()
    return {**row, "id": None, "created_at": None}


def test_filings_in_one_neighbour_run_side_by_side_and_a_move_waits_for_them(app, people, monkeypatch):
    """A filing holds its 邻 against tree edits only: on PostgreSQL a second filing in the same 邻 (of another
    category: the first holds its rollup row too) goes through while the first, written, waits to commit (SQLite's
    one writer makes it wait), and a move of the 邻 started meanwhile waits on both engines, then carries the
    held filing's issue to the new place."""
    from governance.models import Node, Person
    from governance.services.issues import lifecycle
    from governance.services.people import structure

    filer_id, admin_id = people["neighbour"].id, people["district"].id
    group = nodes_at("group")[0]
    target_id = make_node(db.session.get(Node, group.parent_id), "group", "第二组").id  # where the 邻 moves to
    db.session.commit()
    neighbour_id = nodes_at("neighbour")[0].id
    holding, go = threading.Event(), threading.Event()
    insert = lifecycle._insert_new_issue

    def held_insert(values, **options):
        issue = insert(values, **options)
        if issue is not None and threading.current_thread().name == "held":
            holding.set()
            go.wait(30)
        return issue

    monkeypatch.setattr(lifecycle, "_insert_new_issue", held_insert)
    results, errors = {}, []

    def run(name, work):
        with app.app_context():
            try:
                results[name] = work()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append((name, exc))
                db.session.rollback()

    def file(key, kind):
        filer = db.session.get(Person, filer_id)
        data = IssueInput(category_id=category(kind).id, title="路面破损", neighbour_id=neighbour_id)
        return file_issue(filer, data, key, look_up_first=False)[0].id

    def move():
        admin = db.session.get(Person, admin_id)
        return structure.move(admin, db.session.get(Node, neighbour_id), db.session.get(Node, target_id))

    held = threading.Thread(target=run, args=("held", lambda: file("held-1", "road")), name="held")
    held.start()
    assert holding.wait(10)
    second = threading.Thread(target=run, args=("second", lambda: file("second-1", "lighting")))
    second.start()
    second.join(10 if db.engine.dialect.name == "postgresql" else 0.5)
    assert second.is_alive() is (db.engine.dialect.name == "sqlite"), "PostgreSQL: not held up; SQLite: one writer"
    moving = threading.Thread(target=run, args=("move", move))
    moving.start()
    moving.join(0.5)
    assert moving.is_alive()  # the held filing's 邻 waits for it
    go.set()
    for thread in (held, second, moving):
        thread.join(30)
    assert errors == [] and set(results) == {"held", "second", "move"}
    db.session.expire_all()
    group_of = {db.session.get(Issue, results[name]).group_id for name in ("held", "second")}
    assert group_of == {target_id}
    assert not rollups.compare(rollups.expected(), rollups.stored())


def test_a_filing_that_saw_its_neighbour_before_a_move_files_it_in_the_new_place(people):
    """The session's copy of the 邻 is from before a move committed elsewhere: the filing is checked against
    that copy, but PostgreSQL's statement files only where the 邻 still is (it is not: nothing written), and the
    filing is made again under the 邻's lock, from the row as it is now — on both engines, in the new place."""
    from governance.models import Node

    neighbour = nodes_at("neighbour")[0]
    group = db.session.get(Node, neighbour.group_id)
    target = make_node(db.session.get(Node, group.parent_id), "group", "第二组")
    db.session.commit()
    assert neighbour.group_id == group.id  # loaded: the session's copy
    with db.engine.begin() as elsewhere:  # the move's write to the 邻, committed behind the session's back
        elsewhere.execute(update(Node).where(Node.id == neighbour.id).values(group_id=target.id, parent_id=target.id))
    assert db.session.get(Node, neighbour.id).group_id == group.id  # still the copy from before
    issue = make_issue(people["neighbour"], neighbour)
    assert issue.group_id == target.id
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).group_id == target.id
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 1
    assert not rollups.compare(rollups.expected(), rollups.stored())


def test_a_new_issue_is_in_the_session_as_loaded(people):
    """Filing hands back an issue that reads every column without another statement, each as stored (and so does
    a job written to the outbox), and that a later change in the same transaction moves correctly in the rollups
    (its state before the change is the one filed)."""
    issue, created = file_issue(
        people["neighbour"],
        IssueInput(category_id=category("road").id, title="井盖缺失", neighbour_id=nodes_at("neighbour")[0].id),
    )
    assert created
    with Statements() as sent:
        loaded = columns_of(issue)
    assert sent.count == 0, str(sent)
    assert loaded["version"] == 1 and loaded["priority"] == "normal" and loaded["reference"] == issue.reference
    # Every column as the database holds it (the INSERT returned only what the database decided).
    stored = db.session.connection().execute(select(Issue.__table__).where(Issue.id == issue.id)).mappings().one()
    assert loaded == dict(stored)
    job = jobs.defer("notify", {"event_id": 0, "levels": []}, dedupe_key="notify:test")
    stored_job = db.session.connection().execute(select(Job.__table__).where(Job.id == job.id)).mappings().one()
    assert columns_of(job) == dict(stored_job)
    transition(people["group"], issue, "acknowledged")
    db.session.commit()
    assert db.session.get(Issue, issue.id).status == "acknowledged"
    assert not rollups.compare(rollups.expected(), rollups.stored())


def test_filing_outside_scope_is_refused(people):
    with pytest.raises(LifecycleError) as err:
        make_issue(people["neighbour"], nodes_at("neighbour")[1])
    assert err.value.code == "forbidden"
    assert make_issue(people["group"], nodes_at("neighbour")[1]).group_id == nodes_at("group")[0].id


def test_filing_validates_its_input(people):
    filer = people["neighbour"]
    bad = [
        IssueInput(category_id=999, title="x", neighbour_id=nodes_at("neighbour")[0].id),
        IssueInput(category_id=category().id, title="", neighbour_id=nodes_at("neighbour")[0].id),
        IssueInput(category_id=category().id, title="x" * 81, neighbour_id=nodes_at("neighbour")[0].id),
        IssueInput(category_id=category().id, title="x", neighbour_id=nodes_at("group")[0].id),
        IssueInput(category_id=category().id, title="x", neighbour_id=nodes_at("neighbour")[0].id, urgency="now"),
    ]
    for data in bad:
        with pytest.raises(LifecycleError):
            file_issue(filer, data)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 0


def attempt(issue, to_status, people):
    """Try a transition as the district admin, who may do everything the lifecycle allows."""
    kwargs = {}
    if to_status == "duplicate":
        kwargs["duplicate_of"] = make_issue(people["neighbour"], title="原问题")
    if to_status == "rejected":
        kwargs["reject_reason"] = db.session.scalars(select(RejectReason)).first()
    return transition(people["district"], issue, to_status, "说明", **kwargs)


@pytest.mark.parametrize("from_status", STATUSES)
def test_every_transition_legal_and_illegal(people, from_status):
    for to_status in STATUSES:
        if to_status == from_status:
            continue
        issue = force_status(make_issue(people["neighbour"]), from_status)
        before = (issue.status, len(events_of(issue)), issue.version)
        if to_status in TRANSITIONS[from_status]:
            attempt(issue, to_status, people)
            db.session.commit()
            assert issue.status == to_status
            assert events_of(issue)[-1].from_status == from_status
            assert events_of(issue)[-1].to_status == to_status
        else:
            with pytest.raises(LifecycleError) as err:
                attempt(issue, to_status, people)
            assert err.value.code == "illegal_transition"
            db.session.rollback()
            db.session.refresh(issue)
            assert (issue.status, len(events_of(issue)), issue.version) == before


def test_the_happy_path_with_roles(people):
    issue = make_issue(people["neighbour"])
    with pytest.raises(LifecycleError):  # a 邻长 does not acknowledge
        transition(people["neighbour"], issue, "acknowledged")
    transition(people["group"], issue, "acknowledged")
    assert issue.ack_due_at is None and issue.acknowledged_at is not None
    transition(people["group"], issue, "in_progress")
    with pytest.raises(LifecycleError) as err:
        transition(people["group"], issue, "resolved", "")
    assert err.value.code == "note_required"
    transition(people["group"], issue, "resolved", "已修复路面")
    assert issue.resolved_at is not None and issue.next_deadline_at is None
    record_callback(people["neighbour"], issue, "satisfied")
    db.session.commit()
    assert issue.status == "closed" and issue.satisfaction == "satisfied"
    kinds = [e.kind for e in events_of(issue)]
    assert kinds == ["filed", "status", "status", "status", "callback", "status"]


def test_unsatisfied_callback_reopens(people):
    issue = force_status(make_issue(people["neighbour"]), "resolved")
    with pytest.raises(LifecycleError):
        record_callback(people["neighbour"], issue, "unsatisfied", "")
    with pytest.raises(LifecycleError):  # only the filer or the 邻's leader records the callback
        record_callback(people["neighbour2"], issue, "unsatisfied", "还是坏的")
    record_callback(people["neighbour"], issue, "unsatisfied", "还是坏的")
    db.session.commit()
    assert issue.status == "reopened" and issue.resolve_due_at is not None
    transition(people["group"], issue, "in_progress")
    assert issue.status == "in_progress"


def test_stale_page_gets_a_conflict(people):
    issue = make_issue(people["neighbour"])
    seen = issue.version
    transition(people["group"], issue, "acknowledged", expected_version=seen)
    db.session.commit()
    with pytest.raises(LifecycleError) as err:
        transition(people["zone"], issue, "in_progress", expected_version=seen)
    assert err.value.code == "conflict"


def test_concurrent_edit_cannot_overwrite(app, people):
    """Two sessions load the same issue; the second flush fails instead of overwriting the first."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    issue_id = make_issue(people["neighbour"]).id
    with Session(db.engine) as one, Session(db.engine) as two:
        a, b = one.get(Issue, issue_id), two.get(Issue, issue_id)
        a.title = "first"
        one.commit()
        b.title = "second"
        with pytest.raises(StaleDataError):
            two.commit()
    db.session.expire_all()
    assert db.session.get(Issue, issue_id).title == "first"


def test_escalation_by_hand_one_level_at_a_time(people):
    issue = make_issue(people["neighbour"])
    with pytest.raises(LifecycleError):
        escalate(people["neighbour2"], issue, "不是我的邻")
    with pytest.raises(LifecycleError):
        escalate(people["neighbour"], issue, "")
    escalate(people["neighbour"], issue, "需要组长协调")
    assert issue.level == "group"
    with pytest.raises(LifecycleError):  # the 邻长 no longer holds the current level
        escalate(people["neighbour"], issue, "再上报")
    for holder, level in (("group", "zone"), ("zone", "community"), ("community", "street"), ("street", "district")):
        escalate(people[holder], issue, "上报")
        assert issue.level == level
    with pytest.raises(LifecycleError) as err:
        escalate(people["district"], issue, "无处可报")
    assert err.value.code in ("top_level", "forbidden")
    db.session.commit()
    levels = [(e.from_level, e.to_level) for e in events_of(issue) if e.kind == "escalated"]
    assert levels[0] == ("neighbour", "group") and levels[-1] == ("street", "district")


def test_comments_notes_and_public_updates(people):
    issue = make_issue(people["neighbour"])
    add_comment(people["neighbour"], issue, "comment", "居民又来电")
    add_comment(people["group"], issue, "internal_note", "物业电话打不通")
    add_comment(people["group"], issue, "public_update", "已联系施工队")
    with pytest.raises(LifecycleError):
        add_comment(people["neighbour2"], issue, "comment", "not mine")
    with pytest.raises(LifecycleError):
        add_comment(people["neighbour"], issue, "public_update", "邻长不能发公开进展")
    db.session.commit()
    visible = {e.kind: e.public for e in events_of(issue)}
    assert visible == {"filed": True, "comment": False, "internal_note": False, "public_update": True}


# --- the SLA sweep ------------------------------------------------------------------------------


def overdue(issue, hours=1):
    issue.next_deadline_at = utcnow() - timedelta(hours=hours)
    issue.ack_due_at = issue.next_deadline_at
    db.session.commit()
    return issue


def test_sweep_escalates_overdue_issues_once(people):
    late = overdue(make_issue(people["neighbour"]))
    on_time = make_issue(people["neighbour"])
    result = sla.sweep()
    assert result["escalated"] == 1
    db.session.expire_all()
    assert db.session.get(Issue, late.id).level == "group"
    assert db.session.get(Issue, on_time.id).level == "neighbour"
    auto = [e for e in events_of(late) if e.kind == "escalated"]
    assert len(auto) == 1 and auto[0].actor_id is None and auto[0].deadline_at is not None
    assert sla.sweep()["escalated"] == 0  # the new level's deadline is in the future
    # Deadlines at the new level come from the SLA policy for that level.
    assert db.session.get(Issue, late.id).ack_due_at > utcnow() + timedelta(hours=23)


def test_sweep_notifies_the_new_level_in_one_batch(people):
    for _ in range(3):
        overdue(make_issue(people["neighbour"]))
    jobs.dispatch()  # the filing notifications run first (in-process: no Redis configured)
    db.session.execute(db.delete(Notification))
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(jobs.Job))
    sla.sweep()
    jobs_added = db.session.scalar(select(func.count()).select_from(jobs.Job)) - before
    assert jobs_added == 1  # one fan-out job for the batch
    inbox = list(db.session.scalars(select(Notification).where(Notification.person_id == people["group"].id)))
    assert len(inbox) == 3 and all("超时自动" in n.text for n in inbox)


def test_sweep_at_the_district_records_overdue_once(people):
    issue = overdue(force_status(make_issue(people["neighbour"]), "acknowledged", level="district"))
    assert sla.sweep() == {"escalated": 0, "overdue_at_top": 1}
    assert sla.sweep() == {"escalated": 0, "overdue_at_top": 0}
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).overdue()


def test_two_sweeps_at_once_escalate_once(app, people):
    """Concurrent sweeps in two threads (each with its own connection) escalate every issue exactly once."""
    ids = [overdue(make_issue(people["neighbour"])).id for _ in range(40)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(sla.sweep())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r["escalated"] for r in results) == 40
    db.session.expire_all()
    assert {db.session.get(Issue, i).level for i in ids} == {"group"}
    count = db.session.scalar(select(func.count()).select_from(IssueEvent).where(IssueEvent.kind == "escalated"))
    assert count == 40


def test_acknowledged_issue_escalates_on_resolve_deadline(people):
    issue = make_issue(people["neighbour"])
    transition(people["group"], issue, "acknowledged")
    issue.resolve_due_at = issue.next_deadline_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    sla.sweep()
    db.session.expire_all()
    issue = db.session.get(Issue, issue.id)
    assert issue.level == "group" and issue.status == "acknowledged" and issue.ack_due_at is None
