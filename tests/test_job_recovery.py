"""The outbox recovers by itself: stuck rows are handed over again, a lost lease never runs a job twice,
jobs made by jobs go straight on, and a failed hand-over after the commit never fails the request."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from governance.extensions import db
from governance.models import Issue, Job, Notification, NotificationChannel, utcnow
from governance.services.platform import jobs
from governance.worker import periodic_once
from tests.builders import category, make_issue, make_person, make_tree, nodes_at
from tests.conftest import csrf_from, hidden_value
from tests.test_jobs import Receiver, count, inbox_of, run_rq_worker

LONG_AGO = timedelta(minutes=16)  # past the lease


@pytest.fixture
def filer(app):
    make_tree(neighbours=1)
    make_person("group_leader", nodes_at("group")[0], name="组长", mobile="13911112222")
    return make_person("neighbour_leader", nodes_at("neighbour")[0], name="邻长")


def set_row(job_id: int, **values) -> None:
    """Change a job row behind the services' back (what a dead worker or passing time leaves)."""
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def row(job_id: int) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def rq_job_of(job_id: int) -> RQJob | None:
    queue = jobs.rq_queue()
    return RQJob.fetch(jobs.rq_job_id(job_id), connection=queue.connection) if queue else None


def in_redis(job_id: int) -> bool:
    """Whether RQ holds a job for this row."""
    return RQJob.exists(jobs.rq_job_id(job_id), connection=jobs.rq_queue().connection)


def filed_and_queued(filer) -> int:
    """An issue filed and its notify job handed to RQ; the row made old enough for the relay."""
    make_issue(filer)
    jobs.dispatch()
    job_id = db.session.scalar(select(Job.id).where(Job.kind == "notify"))
    assert row(job_id).status == "queued"
    set_row(job_id, created_at=utcnow() - timedelta(minutes=2))
    return job_id


# --- stuck rows ---------------------------------------------------------------------------------


def test_outside_a_request_a_job_is_written_pending_and_marked_queued_when_handed_over(redis_app, filer):
    """A command, a job or the sweep may write jobs that nothing hands over at once (a command's own end does
    not): they are written 'pending', for the relay, and marked queued by the hand-over."""
    make_issue(filer)
    job_id = db.session.scalar(select(Job.id).where(Job.kind == "notify"))
    assert row(job_id).status == "pending"
    jobs.dispatch()
    assert row(job_id).status == "queued" and in_redis(job_id)


@pytest.mark.parametrize("ended", ["finished", "failed", "missing"])
def test_queued_row_whose_rq_job_ended_is_handed_over_again(redis_app, filer, ended):
    job_id = filed_and_queued(filer)
    queue = jobs.rq_queue()
    rq_id = jobs.rq_job_id(job_id)
    if ended == "finished":
        # A worker held the row when RQ ran the job: execute() skipped it, and RQ recorded it finished.
        set_row(job_id, status="running", started_at=utcnow(), attempts=1)
        assert run_rq_worker(redis_app).returncode == 0
        assert rq_id in FinishedJobRegistry(queue=queue).get_job_ids()
    elif ended == "failed":
        # RQ gave up on it (its work-horse was killed, say) and keeps it 7 days as failed.
        rq_job = rq_job_of(job_id)
        queue.remove(rq_job)
        rq_job.set_status(JobStatus.FAILED)
        FailedJobRegistry(queue=queue).add(rq_job, ttl=3600)
        set_row(job_id, status="running", started_at=utcnow(), attempts=1)
    else:
        rq_job_of(job_id).delete()  # lost in a Redis restart
    set_row(job_id, status="queued")  # requeued, but its RQ job will never run again

    result = periodic_once(redis_app)
    assert result["relayed"] == 1
    job = row(job_id)
    assert job.status == "queued" and ended in job.last_error
    assert rq_job_of(job_id).get_status() == JobStatus.QUEUED
    assert rq_id not in FinishedJobRegistry(queue=queue).get_job_ids()
    assert rq_id not in FailedJobRegistry(queue=queue).get_job_ids()
    assert periodic_once(redis_app)["relayed"] == 0  # queued in RQ now: not handed over twice

    assert run_rq_worker(redis_app).returncode == 0
    job = row(job_id)
    assert job.status == "done"
    assert len(inbox_of("13911112222")) == 1


def test_row_of_a_dead_worker_is_requeued_after_its_lease_and_runs_once(redis_app, filer):
    job_id = filed_and_queued(filer)
    # A worker claimed the row and was killed mid-job; RQ's clean-up re-ran the RQ job, which found
    # the row still 'running' and skipped it, so RQ recorded the job finished.
    set_row(job_id, status="running", started_at=utcnow(), attempts=1)
    assert run_rq_worker(redis_app).returncode == 0
    assert row(job_id).status == "running"
    assert jobs.rq_job_id(job_id) in FinishedJobRegistry(queue=jobs.rq_queue()).get_job_ids()
    assert periodic_once(redis_app)["relayed"] == 0  # still within its lease

    set_row(job_id, started_at=utcnow() - LONG_AGO)  # the lease runs out
    assert periodic_once(redis_app)["relayed"] == 1
    job = row(job_id)
    assert job.status == "queued" and job.attempts == 1 and "lease" in job.last_error

    assert run_rq_worker(redis_app).returncode == 0
    job = row(job_id)
    assert job.status == "done" and job.attempts == 2
    assert len(inbox_of("13911112222")) == 1


def test_dead_worker_on_the_last_try_leaves_the_job_failed_and_visible(app, client, filer):
    job = jobs.defer("notify", {"event_ids": []})
    db.session.commit()
    set_row(job.id, status="running", started_at=utcnow() - LONG_AGO, attempts=5, max_attempts=5)
    jobs.relay()
    job = row(job.id)
    assert job.status == "failed" and job.attempts == 5 and job.finished_at is not None
    assert "no tries left" in job.last_error
    assert client.get("/healthz").get_json()["checks"]["jobs"]["failed"] == 1


def test_lease_expired_row_is_claimed_again_exactly_once(filer):
    make_issue(filer, commit=False)
    db.session.commit()  # not dispatched: a worker claimed it and died
    job_id = db.session.scalar(select(Job.id))
    set_row(job_id, status="running", started_at=utcnow() - timedelta(minutes=5), attempts=1)
    assert jobs.execute(job_id) == "skipped"  # within its lease: somebody may still be running it
    set_row(job_id, started_at=utcnow() - LONG_AGO)
    assert jobs.execute(job_id) == "done"
    assert jobs.execute(job_id) == "skipped"  # done stays done
    job = row(job_id)
    assert job.status == "done" and job.attempts == 2
    assert count(Notification) == 1
    assert jobs.relay(grace=timedelta(0)) == 0


@jobs.handler("test_outlives_its_lease")
def _outlives_its_lease(payload):
    """Runs so long that its lease runs out and another worker claims the row, then writes."""
    with db.engine.begin() as other_worker:
        other_worker.execute(
            update(Job)
            .where(Job.id == payload["id"])
            .values(attempts=Job.attempts + 1, started_at=utcnow(), status="running")
        )
    db.session.execute(update(Job).where(Job.id == payload["id"]).values(progress=42))


def test_worker_that_outlived_its_lease_rolls_its_work_back(app):
    job = jobs.defer("test_outlives_its_lease", {})
    db.session.flush()
    job.payload = f'{{"id": {job.id}}}'
    db.session.commit()
    assert jobs.execute(job.id) == "lost"
    job = row(job.id)
    assert job.status == "running" and job.attempts == 2 and job.progress == 0  # the other worker's claim


# --- the jobs page ------------------------------------------------------------------------------


@pytest.fixture
def admin(app, client, auth):
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    make_tree(neighbours=1)
    person = make_person("district_admin", nodes_at("district")[0], name="区管理员")
    assert auth.login(person.mobile).status_code == 302
    yield person
    app.config["BABEL_DEFAULT_LOCALE"] = "zh"


def test_jobs_page_counts_the_rows_a_restore_left_unsent(admin, client):
    db.session.add_all([Job(kind="webhook", status="skipped") for _ in range(3)])
    db.session.commit()
    html = client.get("/admin/settings/jobs").get_data(as_text=True)
    counts = html[html.index('class="stats job-counts"') :]
    assert re.search(r"<b>3</b> Not run \(restored from a backup\)", counts)


def test_jobs_page_lists_stuck_and_failed_jobs_first_whatever_their_age(admin, client):
    old = utcnow() - timedelta(days=3)
    stuck = Job(kind="notify", status="queued", created_at=old, enqueued_at=old)
    dead = Job(kind="webhook", status="running", attempts=1, created_at=old, started_at=old)
    failed = Job(kind="webhook", status="failed", attempts=5, created_at=old, finished_at=old, last_error="Boom: old")
    db.session.add_all([stuck, dead, failed])
    db.session.flush()
    db.session.add_all([Job(kind="notify", status="pending") for _ in range(25)])
    db.session.add_all([Job(kind="notify", status="failed", attempts=5, last_error="Boom: new") for _ in range(25)])
    db.session.commit()
    html = client.get("/admin/settings/jobs").get_data(as_text=True)
    assert f"#{failed.id} " in html and f"/admin/settings/jobs/{failed.id}/retry" in html
    waiting = html[html.index('id="waiting-jobs"') :]
    assert f"#{stuck.id} " in waiting and f"#{dead.id} " in waiting
    rows = re.findall(r"<td>#(\d+) ", waiting)
    assert rows[:2] == [str(stuck.id), str(dead.id)]  # ahead of the newer rows
    assert len(rows) == 22
    assert waiting.count(">Stuck<") == 2


# --- jobs made by jobs --------------------------------------------------------------------------


def test_jobs_deferred_by_a_job_are_handed_over_when_it_commits(redis_app, filer):
    receiver = Receiver()
    try:
        db.session.add(NotificationChannel(node_id=nodes_at("group")[0].id, url=receiver.url))
        db.session.commit()
        make_issue(filer, title="路灯不亮")
        jobs.dispatch()
        # One burst of the worker: the notify job defers the 企业微信 message, which must be in the
        # queue before the burst ends — not left for the relay a minute later.
        assert run_rq_worker(redis_app).returncode == 0
        db.session.expire_all()
        webhook = db.session.scalar(select(Job).where(Job.kind == "webhook"))
        assert webhook.status == "done" and webhook.attempts == 1
        assert len(receiver.bodies) == 1 and "路灯不亮" in receiver.bodies[0]["text"]["content"]
    finally:
        receiver.close()


# --- a failed hand-over after the commit ---------------------------------------------------------


@pytest.fixture
def refused_handover(monkeypatch):
    """Redis answers when the job is written (so defer() writes it as queued), then refuses the push after the
    commit."""
    import redis
    from rq import Queue

    def refuse(*_args, **_kwargs):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(Queue, "enqueue", refuse)


@pytest.fixture
def lost_connection_at_handover(app):
    """The database connection dies at every write of a job row's status after the commit (putting a row
    whose push failed back to 'pending', or marking a relayed row queued). Returns what ends it."""

    def fail(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE job SET status") and "enqueued_at" in statement:
            raise OperationalError(statement, parameters, Exception("terminating connection"))

    event.listen(db.engine, "before_cursor_execute", fail)

    def end():
        if event.contains(db.engine, "before_cursor_execute", fail):
            event.remove(db.engine, "before_cursor_execute", fail)

    yield end
    end()


def file_through_the_form(client, auth, filer):
    assert auth.login(filer.mobile).status_code == 302
    html = client.get("/file/").get_data(as_text=True)
    key = hidden_value(html, "idempotency_key")
    data = {
        "csrf_token": csrf_from(html),
        "idempotency_key": key,
        "category": str(category("road").id),
        "title": "3栋门口路面塌陷",
        "description": "雨后积水",
        "neighbour": str(nodes_at("neighbour")[0].id),
        "urgency": "normal",
    }
    response = client.post("/file/", data=data)
    assert response.status_code == 302
    issue = db.session.scalar(select(Issue))
    assert issue is not None and response.headers["Location"].endswith(f"/issues/{issue.id}")
    # The filer sees the issue filed.
    assert issue.reference in client.get(response.headers["Location"]).get_data(as_text=True)
    return db.session.scalar(select(Job).where(Job.kind == "notify"))


def test_a_filing_whose_job_redis_refuses_after_the_commit_succeeds_and_its_job_waits(
    redis_app, filer, client, auth, refused_handover, caplog
):
    with caplog.at_level(logging.WARNING, logger="governance.jobs"):
        job = file_through_the_form(client, auth, filer)
    assert (job.status, job.enqueued_at) == ("pending", None)  # waiting to be handed over, as the jobs page says
    assert any("stay pending" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_filing_succeeds_when_the_handover_and_the_database_fail_after_the_commit(
    redis_app, filer, client, auth, refused_handover, lost_connection_at_handover, monkeypatch, caplog
):
    with caplog.at_level(logging.WARNING, logger="governance.jobs"):
        job = file_through_the_form(client, auth, filer)
    assert job.status == "queued" and not in_redis(job.id)  # written as queued; its push never happened
    assert any("the relay will" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # Redis and the database are back: the relay hands over the queued row that has no RQ job.
    monkeypatch.undo()
    lost_connection_at_handover()
    set_row(job.id, created_at=utcnow() - timedelta(minutes=2))
    assert jobs.relay() == 1
    assert row(job.id).status == "queued" and "missing" in row(job.id).last_error
    assert in_redis(job.id)


def test_worker_survives_a_failed_handover_of_the_jobs_its_job_made(
    redis_app, filer, refused_handover, lost_connection_at_handover
):
    """In the worker too: a job that committed stays done when handing over its follow-ups fails."""
    import governance.worker as worker

    db.session.add(NotificationChannel(node_id=nodes_at("group")[0].id, url="http://127.0.0.1:1/robot"))
    db.session.commit()
    make_issue(filer, commit=False)
    db.session.commit()  # not dispatched: the worker's job below runs it
    job_id = db.session.scalar(select(Job.id).where(Job.kind == "notify"))
    worker._app, before = redis_app, worker._app
    try:
        assert worker.run_job(job_id) == "done"
    finally:
        worker._app = before
    assert row(job_id).status == "done"
    webhook = db.session.scalar(select(Job).where(Job.kind == "webhook"))
    assert webhook.status == "pending" and not in_redis(webhook.id)  # the relay hands it over


# --- external side effects: at most once when a worker dies mid-send ------------------------------


def webhook_job(filer, receiver) -> int:
    """A filing whose 组 has a 企业微信 channel: the notify job runs, the webhook job waits."""
    db.session.add(NotificationChannel(node_id=nodes_at("group")[0].id, url=receiver.url))
    db.session.commit()
    make_issue(filer)
    notify_id = db.session.scalar(select(Job.id).where(Job.kind == "notify"))
    assert jobs.execute(notify_id) == "done"
    return db.session.scalar(select(Job.id).where(Job.kind == "webhook"))


def test_a_webhook_carries_one_delivery_id_and_marks_its_attempt_before_sending(filer):
    receiver = Receiver()
    try:
        job_id = webhook_job(filer, receiver)
        assert jobs.execute(job_id) == "done"
        assert receiver.delivery_ids == [jobs.rq_job_id(job_id)]
        assert row(job_id).sending_since is not None and row(job_id).last_error is None
    finally:
        receiver.close()


def test_a_worker_killed_while_sending_is_not_followed_by_a_second_message(filer):
    receiver = Receiver()
    try:
        job_id = webhook_job(filer, receiver)
        # What a worker killed during the POST leaves: its claim, and the mark it committed before sending.
        set_row(job_id, status="running", attempts=1, started_at=utcnow() - LONG_AGO, sending_since=utcnow() - LONG_AGO)
        assert jobs.execute(job_id) == "done"  # claimed again after the lease …
        assert receiver.bodies == []  # … and not sent a second time
        job = row(job_id)
        assert job.status == "done" and "not sent again" in job.last_error
    finally:
        receiver.close()


def test_a_send_that_failed_with_an_answer_is_retried_and_then_sent(filer):
    refusing = Receiver(status=500)
    try:
        job_id = webhook_job(filer, refusing)
        with pytest.raises(Exception, match="500"):
            jobs.execute(job_id)
        job = row(job_id)
        assert (job.status, job.sending_since) == ("queued", None)  # a refusal: not delivered, may send again
        assert len(refusing.bodies) == 1
    finally:
        refusing.close()
    accepting = Receiver()
    try:
        channel = db.session.scalar(select(NotificationChannel))
        channel.url = accepting.url
        db.session.commit()
        assert jobs.execute(job_id) == "done"
        assert accepting.delivery_ids == [jobs.rq_job_id(job_id)]  # the same id on every attempt
    finally:
        accepting.close()


def test_a_replacement_scheduler_worker_takes_the_lock_within_a_minute_of_the_old_one_dying(redis_app, monkeypatch):
    """The scheduler (retries after their delay) runs in the worker that holds RQ's lock. When that worker
    dies its lock expires; a worker started with the scheduler must try again soon, not at RQ's default
    10-minute maintenance pass. The clock is moved by setting when the worker last looked."""
    from rq.scheduler import RQScheduler
    from rq.utils import now

    from governance.worker import Worker

    started = []
    monkeypatch.setattr(RQScheduler, "start", lambda scheduler: started.append(scheduler.name))
    queue = jobs.rq_queue()
    lock = RQScheduler.get_locking_key(queue.name)
    queue.connection.set(lock, "the-dead-worker", px=300)  # the dead scheduler's lock, about to expire
    worker = Worker([queue], connection=queue.connection)
    worker._start_scheduler()
    assert not worker.scheduler.acquired_locks and started == []  # the lock is still the dead one's
    worker.last_cleaned_at = now()
    assert not worker.should_run_maintenance_tasks
    while queue.connection.exists(lock):
        pass  # a few hundred milliseconds
    try:
        worker.last_cleaned_at = now() - timedelta(seconds=31)
        assert worker.should_run_maintenance_tasks  # RQ's own default would wait 10 minutes
        worker.run_maintenance_tasks()
        assert queue.connection.get(lock).decode() == worker.scheduler.name
        assert started == [worker.scheduler.name]
    finally:
        worker.scheduler.release_locks()
