"""A backlog of notifications is worked in batches: one run claims the waiting rows of its kind, does them in
one transaction, and takes their RQ jobs out of the queue — with every row still done exactly once, a
failing row unable to hold the others back, and no event left out of a group message."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import IssueEvent, Job, Notification, NotificationChannel
from governance.services.platform import jobs, notify
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import Statements


@pytest.fixture
def filer(app):
    make_tree(neighbours=1)
    make_person("group_leader", nodes_at("group")[0], name="组长", mobile="13911112222")
    return make_person("neighbour_leader", nodes_at("neighbour")[0], name="邻长")


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def notify_rows():
    return list(db.session.scalars(select(Job).where(Job.kind == "notify").order_by(Job.id)))


def test_one_run_works_a_backlog_of_notifications_in_few_statements(filer):
    issues = [make_issue(filer, title=f"积压{n}") for n in range(30)]
    waiting = notify_rows()
    assert len(waiting) == 30 and {row.status for row in waiting} == {"pending"}
    with Statements() as seen:
        assert jobs.execute(waiting[0].id) == "done"
    assert seen.count < 30, f"{seen.count} statements for 30 notifications: one run per row again?"
    db.session.expire_all()
    assert {(row.status, row.attempts) for row in notify_rows()} == {("done", 1)}
    # Every filing told the 组长 once, and the rest of the backlog now skips without work.
    told = db.session.execute(select(Notification.issue_id, func.count()).group_by(Notification.issue_id)).all()
    assert dict(told) == {issue.id: 1 for issue in issues}
    assert all(jobs.execute(row.id) == "skipped" for row in waiting[1:])
    assert count(Notification) == 30


def test_a_batch_never_takes_more_than_its_size_and_the_rest_wait(filer):
    for n in range(notify.BATCH + 7):
        make_issue(filer, title=f"积压{n}")
    first = notify_rows()[0]
    assert jobs.execute(first.id) == "done"
    statuses = [row.status for row in notify_rows()]
    assert statuses.count("done") == notify.BATCH and statuses.count("pending") == 7


BATCH_CALLS: list[list[str]] = []


@jobs.handler("test_batched", batch=5)
def batched(payloads: list[dict]) -> None:
    BATCH_CALLS.append([p["name"] for p in payloads])
    if any(p.get("boom") for p in payloads):
        raise RuntimeError("boom in " + ",".join(p["name"] for p in payloads))


def defer_batched(*names, boom=()):
    ids = [jobs.defer("test_batched", {"name": n, "boom": n in boom}).id for n in names]
    db.session.commit()
    return ids


def test_a_failing_row_fails_its_batch_once_then_every_row_runs_alone(app):
    BATCH_CALLS.clear()
    a, b, c = defer_batched("a", "b", "c", boom={"b"})
    with pytest.raises(RuntimeError):
        jobs.execute(a)
    rows = {row.id: row for row in db.session.scalars(select(Job).where(Job.kind == "test_batched"))}
    assert BATCH_CALLS == [["a", "b", "c"]]
    # Each row carries the failure and one attempt; none is done, none lost.
    assert {(rows[i].status, rows[i].attempts) for i in (a, b, c)} == {("queued", 1)}
    assert all("batch of 3" in rows[i].last_error for i in (a, b, c))
    # A row that has been tried runs alone from now on: the bad one cannot spoil another batch.
    fresh = defer_batched("d")[0]
    assert jobs.execute(a) == "done"
    assert jobs.execute(c) == "done"
    with pytest.raises(RuntimeError):
        jobs.execute(b)
    assert BATCH_CALLS[1:] == [["a"], ["c"], ["b"]]
    assert jobs.execute(fresh) == "done"
    db.session.expire_all()
    assert db.session.get(Job, b).attempts == 2 and db.session.get(Job, b).status == "queued"


def test_only_rows_of_the_same_kind_share_a_batch(app):
    BATCH_CALLS.clear()
    first = defer_batched("x")[0]
    jobs.defer("export", {"unused": True})  # another kind, waiting too
    db.session.commit()
    second = defer_batched("y")[0]
    assert jobs.execute(first) == "done"
    assert BATCH_CALLS == [["x", "y"]]
    assert db.session.get(Job, second).status == "done"
    assert db.session.scalar(select(Job.status).where(Job.kind == "export")) == "pending"


def test_a_group_message_names_every_event_of_a_large_batch(filer):
    """A group robot message carries at most 20 lines: a batch of 45 filings becomes three messages, and no
    filing is left out of the group chat."""
    group = nodes_at("group")[0]
    db.session.add(NotificationChannel(node_id=group.id, url="http://127.0.0.1:9/never-called"))
    db.session.commit()
    issues = [make_issue(filer, title=f"批量{n}") for n in range(45)]
    assert jobs.execute(notify_rows()[0].id) == "done"
    bodies = [json.loads(row.payload)["body"] for row in db.session.scalars(select(Job).where(Job.kind == "webhook"))]
    lines = [line for body in bodies for line in body["text"]["content"].split("\n")]
    assert len(bodies) == 3 and max(len(body["text"]["content"].split("\n")) for body in bodies) <= 20
    assert sorted(lines) == sorted(notify.summary(db.session.get(IssueEvent, i.events[0].id)) for i in issues)


def test_the_sla_sweep_notifies_every_overdue_event_in_the_group(filer):
    """The sweep's own notify payload lists every event it escalated; all of them reach the group chat."""
    group = nodes_at("group")[0]
    db.session.add(NotificationChannel(node_id=group.id, url="http://127.0.0.1:9/never-called"))
    db.session.commit()
    issues = [make_issue(filer, title=f"超时{n}") for n in range(25)]
    for row in notify_rows():
        jobs.execute(row.id)
    db.session.query(Job).filter(Job.kind == "webhook").delete()
    db.session.commit()
    event_ids = [issue.events[0].id for issue in issues]
    jobs.defer("notify", {"event_ids": event_ids, "levels": ["group"]})
    db.session.commit()
    jobs.execute(notify_rows()[-1].id)
    bodies = [json.loads(row.payload)["body"] for row in db.session.scalars(select(Job).where(Job.kind == "webhook"))]
    content = "\n".join(body["text"]["content"] for body in bodies)
    assert all(issue.reference in content for issue in issues)


def test_a_worker_takes_a_batch_and_its_queue_drops_the_rest(redis_app, filer):
    from rq import Queue

    from governance.redis_conn import get_redis
    from governance.worker import Worker, run_job

    for n in range(12):
        make_issue(filer, title=f"队列{n}")
    ids = [row.id for row in notify_rows()]
    assert jobs.enqueue(ids) == 12
    queue = Queue(jobs.queue_name(), connection=get_redis())
    assert queue.count == 12
    import governance.worker as worker_module

    worker_module._app = redis_app
    try:
        worker = Worker([queue], connection=get_redis())
        worker.work(burst=True, max_jobs=1, logging_level="WARNING")
    finally:
        worker_module._app = None
    db.session.expire_all()
    assert {row.status for row in notify_rows()} == {"done"}
    assert queue.count == 0, "the RQ jobs of rows done in the batch still wait in the queue"
    assert count(Notification) == 12
    assert run_job  # the worker ran our job function


def test_a_status_line_is_chinese_even_when_an_english_request_made_it(app):
    """Group robots and the stored inbox line read Chinese: a job dispatched in-process after an English
    user's request must not word the status in English (the inbox shows each reader their own language)."""
    from types import SimpleNamespace

    from governance.services.platform.notify import summary, summary_line

    issue = SimpleNamespace(reference="WC-2026-000001", title="路灯不亮")
    event = SimpleNamespace(kind="status", to_status="resolved", actor_id=7, issue=issue)
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = "en"
        from governance.formatting import is_english, status_label

        assert is_english() and status_label("resolved") == "Resolved"
        stored = summary(event)
        shown = summary_line("status", "resolved", False, issue.reference, issue.title)
    assert stored == "[状态更新：已办结] WC-2026-000001 路灯不亮"
    assert shown == "[Status update: Resolved] WC-2026-000001 路灯不亮"
