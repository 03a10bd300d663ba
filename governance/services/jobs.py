"""Background work through a transactional outbox (任务发件箱).

`defer()` writes a Job row in the same transaction as the change that needs it. After the request
commits, `dispatch()` hands the new rows to RQ (REDIS_URL set) or runs them in-process (no Redis).
If Redis is down at that moment the rows simply stay 'pending'; `relay()` — run every minute by the
scheduler and at worker start — hands them over once Redis is back. `execute()` claims a row with
a conditional UPDATE, so a job handed over twice still runs once, and it marks the row 'done' in
the same transaction as the job's own database work. A failure is recorded on the row (attempts,
last_error) and retried; after max_attempts it stays 'failed', visible on /healthz and the jobs page.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta

from flask import current_app, g, has_app_context
from sqlalchemy import select, update

from ..extensions import db
from ..models import Job, utcnow
from ..redis_conn import get_redis

log = logging.getLogger("governance.jobs")
HANDLERS: dict[str, Callable[[dict], None]] = {}
RETRY_INTERVALS = [5, 30, 120, 600]
# A job 'running' longer than this is taken to belong to a worker that died.
STALE_RUNNING = timedelta(minutes=15)
# A 'pending' job younger than this is still being dispatched by the process that wrote it.
PENDING_GRACE = timedelta(seconds=20)


def handler(kind: str):
    """Register the function that runs jobs of one kind."""

    def register(func):
        HANDLERS[kind] = func
        return func

    return register


def defer(kind: str, payload: dict, *, dedupe_key: str | None = None, requested_by_id: int | None = None) -> Job:
    """Write a job in the current transaction; it is dispatched after the commit."""
    if dedupe_key:
        existing = db.session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(kind=kind, payload=json.dumps(payload), dedupe_key=dedupe_key, requested_by_id=requested_by_id)
    db.session.add(job)
    db.session.flush()
    dispatch_after_commit(job.id)
    return job


def dispatch_after_commit(job_id: int) -> None:
    """Hand a job row over once the current transaction commits (see _after_commit)."""
    db.session.info.setdefault("jobs_uncommitted", []).append(job_id)


def queue_name() -> str:
    """The RQ queue of this deployment (namespaced like every other Redis key)."""
    return current_app.config["REDIS_PREFIX"] + "jobs"


def rq_queue():
    """The RQ queue object, or None without Redis."""
    client = get_redis()
    if client is None:
        return None
    from rq import Queue

    return Queue(queue_name(), connection=client)


def enqueue(job_ids: list[int]) -> int:
    """Hand jobs to RQ and mark them queued; returns how many were handed over (0 if Redis is down)."""
    if not job_ids:
        return 0
    queue = rq_queue()
    if queue is None:
        return 0
    from rq import Retry

    try:
        with queue.connection.pipeline() as pipe:
            for job_id in job_ids:
                queue.enqueue(
                    "governance.worker.run_job",
                    job_id,
                    job_id=rq_job_id(job_id),
                    retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                    failure_ttl=7 * 24 * 3600,
                    result_ttl=3600,
                    pipeline=pipe,
                )
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis down: the rows stay pending for relay()
        log.warning("could not hand %d job(s) to Redis (%s); they stay pending", len(job_ids), exc)
        return 0
    db.session.execute(
        update(Job).where(Job.id.in_(job_ids), Job.status == "pending").values(status="queued", enqueued_at=utcnow())
    )
    db.session.commit()
    return len(job_ids)


def dispatch() -> None:
    """Hand over the jobs whose rows this context committed (or run them here, without Redis)."""
    if not has_app_context():
        return
    while job_ids := g.pop("jobs_committed", []):
        if current_app.config.get("REDIS_URL"):
            enqueue(job_ids)
            continue
        for job_id in job_ids:  # in-process: jobs that defer more jobs are picked up by the loop
            try:
                execute(job_id)
            except Exception:  # noqa: BLE001 - recorded on the row; the request itself succeeded
                log.exception("in-process job %s failed", job_id)


def _after_commit(session) -> None:
    """The deferred rows now exist: remember them for dispatch()."""
    ids = session.info.pop("jobs_uncommitted", None)
    if ids and has_app_context():
        g.setdefault("jobs_committed", []).extend(ids)


def _after_rollback(session) -> None:
    """The deferred rows are gone with the transaction: nothing to dispatch."""
    session.info.pop("jobs_uncommitted", None)


def execute(job_id: int) -> str:
    """Run one job once: claim it, run its handler, mark it done in the same transaction."""
    now = utcnow()
    claimed = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("pending", "queued")))
        .values(status="running", attempts=Job.attempts + 1, started_at=now)
    ).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"  # done already, or running elsewhere
    job = db.session.get(Job, job_id)
    try:
        HANDLERS[job.kind](json.loads(job.payload or "{}"))
        job.status, job.finished_at, job.progress = "done", utcnow(), 100
        db.session.commit()
        return "done"
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        final = job.attempts >= job.max_attempts
        job.status = "failed" if final else "queued"
        job.last_error = "".join(traceback.format_exception(exc))[-4000:]
        job.finished_at = utcnow() if final else None
        db.session.commit()
        log.error("job %s (%s) failed, attempt %s/%s: %s", job.id, job.kind, job.attempts, job.max_attempts, exc)
        raise


def relay(grace: timedelta = PENDING_GRACE) -> int:
    """Hand over what is waiting: pending rows, retryable rows, and rows of workers that died."""
    now = utcnow()
    db.session.execute(
        update(Job)
        .where(Job.status == "running", Job.started_at < now - STALE_RUNNING)
        .values(status="queued", last_error="worker lost; requeued")
    )
    db.session.commit()
    waiting = list(
        db.session.scalars(
            select(Job.id)
            .where(Job.status.in_(("pending", "queued")), Job.created_at < now - grace)
            .order_by(Job.id)
            .limit(5000)
        )
    )
    if not waiting:
        return 0
    if current_app.config.get("REDIS_URL"):
        return enqueue(_missing_from_redis(waiting))
    for job_id in waiting:
        try:
            execute(job_id)
        except Exception:  # noqa: BLE001 - recorded on the row
            log.exception("in-process job %s failed", job_id)
    return len(waiting)


def rq_job_id(job_id: int) -> str:
    """The RQ job id of an outbox row: fixed, so a second hand-over replaces rather than duplicates."""
    return f"{current_app.config['REDIS_PREFIX'].replace(':', '-')}job-{job_id}"


def _missing_from_redis(job_ids: list[int]) -> list[int]:
    """The jobs Redis does not hold (never handed over, or lost in a Redis restart)."""
    from rq.job import Job as RQJob

    client = get_redis()
    try:
        return [job_id for job_id in job_ids if not RQJob.exists(rq_job_id(job_id), connection=client)]
    except Exception:  # noqa: BLE001 - Redis still down: nothing can be handed over now
        return []


def counts() -> dict[str, int]:
    """Jobs per status, for /healthz and the jobs page."""
    rows = db.session.execute(select(Job.status, db.func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def register_hooks(app) -> None:
    """Track committed job rows on the session; dispatch them when the request is done."""
    from sqlalchemy import event

    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)

    @app.after_request
    def _dispatch(response):
        dispatch()
        return response
