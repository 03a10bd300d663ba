"""Background work through a transactional outbox (任务发件箱).

`defer()` writes a Job row in the same transaction as the change that needs it. Once that
transaction commits, `dispatch()` hands the new rows to RQ (REDIS_URL set) or runs them in-process
(no Redis): after every web request, after each job a worker runs (so a job's own follow-up jobs,
such as the 企业微信 message of a notification, go straight on), and after each SLA sweep batch. In a web
request with Redis answering, `defer()` writes the row as 'queued' already (the request's end hands it
over; marking it afterwards cost every action a second transaction). A hand-over that fails after the commit
(Redis down) is logged and never fails the request: the rows go back to 'pending'; if the database is
lost too, they stay 'queued' with no RQ job, which the relay hands over like a job a Redis restart lost.

`relay()` — run every minute by the periodic round (`governance.worker.periodic`), nowhere else —
hands over what is waiting: 'pending' rows, 'queued' rows whose RQ job finished, failed or vanished
without running them, and 'running' rows past their lease (their worker died); a row whose tries
are used up ends 'failed' instead, its last_error saying so.

`execute()` claims a row with a conditional UPDATE (waiting, or running past its lease), so a job
handed over twice still runs once, and it marks the row 'done' in the same transaction as the job's
own database work, only while its claim still holds. A failure is recorded on the row (attempts,
last_error) and retried; after max_attempts it stays 'failed', visible on /healthz and the jobs page.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import NamedTuple

from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import and_, bindparam, func, or_, select, tuple_, update

from ...extensions import db
from ...models import Job, utcnow
from ...redis_conn import get_redis
from ..locks import (
    as_loaded,
    constant,
    constants,
    decided_by_the_database,
    dialect_name,
    engine_insert,
    inserted_row,
    open_savepoint,
    scalar_defaults,
    within,
)

log = logging.getLogger("governance.jobs")
HANDLERS: dict[str, Callable] = {}
# The modules whose @handler functions run the jobs the code defers. load_handlers() imports them when the
# app is built (the web process, and the worker, which builds the same app); a kind whose module is missing
# here would wait unrun until its tries are used up (tests/test_job_handlers.py checks every deferred kind).
JOB_MODULES = (
    "governance.services.platform.notify",  # notify (inbox rows), webhook (企业微信 group robots)
    "governance.services.platform.photos",  # thumbnail
    "governance.services.reports.exports",  # export (background CSV/Excel files)
    "governance.services.outreach.notices",  # notice_fanout, notice_reminder (notices down the tree)
)
# Kinds worked in batches: the most rows one run takes (see handler()).
BATCH_SIZES: dict[str, int] = {}
RETRY_INTERVALS = [5, 30, 120, 600]
# The RQ states in which a job will not run again by itself: its row must be handed over anew.
RQ_ENDED = ("finished", "failed", "stopped", "canceled")


def lease() -> timedelta:
    """How long a claim holds its row (JOB_LEASE, 15 minutes): well beyond the JOB_TIMEOUT after which RQ
    stops a job, so a row still 'running' past its lease belongs to a worker that died."""
    return timedelta(seconds=current_app.config["JOB_LEASE"])


def handler(kind: str, *, batch: int = 1):
    """Register the function that runs jobs of one kind.

    With batch > 1 the function takes a list of payloads, and a run that claims a row of this kind on its
    first try also claims up to batch - 1 more of the same kind that wait untried: a backlog (200 filings in
    a minute) is worked in a few transactions instead of one each, and the RQ jobs of the rows taken along
    leave the queue. A batch commits or fails as a whole, so this is only for work whose effects are all in
    the database (an inbox insert, not a POST); a row whose batch failed runs alone from then on, so one bad
    row spoils one batch at most.
    """

    def register(func):
        HANDLERS[kind] = func
        if batch > 1:
            BATCH_SIZES[kind] = batch
        else:
            BATCH_SIZES.pop(kind, None)
        return func

    return register


def defer(kind: str, payload: dict, *, dedupe_key: str | None = None, requested_by_id: int | None = None) -> Job:
    """Write a job in the current transaction; it is dispatched after the commit. With a `dedupe_key`, the job
    already written under that key is returned instead, whoever wrote it — one INSERT … ON CONFLICT DO NOTHING
    RETURNING, which also holds when two transactions write the same key at once."""
    values = dict(kind=kind, payload=json.dumps(payload), dedupe_key=dedupe_key, requested_by_id=requested_by_id)
    queued = written_queued()
    if queued:
        values.update(status="queued", enqueued_at=utcnow())
    result = db.session.connection().execute(_insert_statement(dialect_name()), values)
    returned = result.mappings().first()
    if returned is None:  # written already under this key
        return db.session.scalar(select(Job).where(Job.dedupe_key == dedupe_key))
    dispatch_after_commit(returned["id"], written_queued=queued)
    return as_loaded(Job, inserted_row(Job, result, returned))


def written_queued() -> bool:
    """Whether a job written now is written as handed over already: in a web request with Redis answering, the
    request's end hands it over (register_dispatch), and marking it afterwards would cost a second transaction
    each time; a hand-over that fails puts it back. Elsewhere (a job, the sweep, a command) the hand-over marks
    what it handed over."""
    return has_request_context() and bool(current_app.config.get("REDIS_URL")) and get_redis() is not None


def deferred_in(kind: str, rows, payload, dedupe_key, created_at):
    """PostgreSQL: the INSERT defer() writes, as one part of a larger statement — a job of `kind` for each row of
    `rows` (a CTE of that statement whose rows exist only inside it, such as the timeline entry a filing writes),
    with `payload` and `dedupe_key` SQL text made of the row's columns, and `created_at` the statement's time (an
    SQL expression). ON CONFLICT (dedupe_key) DO NOTHING RETURNING the job's id: hand each id returned over with
    dispatch_after_commit(id, written_queued=…). Parameters: those of deferred_parameters."""
    table = Job.__table__
    sent = {
        "kind": constant(kind, table.c.kind.type),
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": bindparam("job_status", type_=table.c.status.type),
        "enqueued_at": bindparam("job_enqueued_at", type_=table.c.enqueued_at.type),
        "created_at": created_at,
    }
    defaults = scalar_defaults(table, frozenset(("id", *sent)))
    columns = {**sent, **constants(table, defaults)}
    return (
        engine_insert(Job, "postgresql")
        .from_select(list(columns), select(*columns.values()).select_from(rows))
        .on_conflict_do_nothing(index_elements=[Job.dedupe_key])
        .returning(table.c.id)
    )


def deferred_parameters(now) -> tuple[bool, dict]:
    """Whether the jobs of a deferred_in statement run `now` are written as handed over (written_queued), and its
    parameters: what defer() would write in their status and enqueued_at."""
    queued = written_queued()
    status, enqueued_at = ("queued", now) if queued else ("pending", None)
    return queued, {"job_status": status, "job_enqueued_at": enqueued_at}


@cache
def _insert_statement(dialect: str):
    """INSERT INTO job … ON CONFLICT (dedupe_key) DO NOTHING RETURNING what the database decides (the id), built
    once per engine (every action that changes an issue defers a job; building the statement anew cost more than
    running it). Rows without a key never conflict: NULLs are distinct."""
    statement = engine_insert(Job, dialect).on_conflict_do_nothing(index_elements=[Job.dedupe_key])
    return statement.returning(*decided_by_the_database(Job))


class Deferred(NamedTuple):
    """A job row written in the open transaction, to hand over at its commit."""

    job_id: int
    savepoint: object  # the savepoint it was written in (None: the transaction itself): rolled back, it goes
    written_queued: bool  # the row was written as queued (defer), so handing it over needs no second write


def dispatch_after_commit(job_id: int, written_queued: bool = False) -> None:
    """Hand a job row over once the current transaction commits (see _after_commit), unless the savepoint it
    was written in is rolled back. `written_queued`: this transaction wrote the row as queued (defer)."""
    deferred = db.session.info.setdefault("jobs_uncommitted", [])
    deferred.append(Deferred(job_id, open_savepoint(db.session()), written_queued))


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


def enqueue(job_ids: list[int], written_queued: frozenset[int] = frozenset()) -> int:
    """Hand jobs to RQ and mark them queued; returns how many were handed over (0 if Redis is down).

    `written_queued`: rows their own transaction wrote as queued (defer), which need no second write; if their
    hand-over fails they go back to pending, as they would have stayed. Should that write fail too, they stay
    queued with no RQ job, which relay() hands over as it does the RQ jobs a Redis restart lost."""
    if not job_ids:
        return 0
    queue = rq_queue()
    if queue is None:
        _back_to_pending(written_queued)
        return 0
    from rq import Retry

    try:
        with queue.connection.pipeline() as pipe:
            for job_id in job_ids:
                queue.enqueue(
                    "governance.worker.run_job",
                    job_id,
                    job_id=rq_job_id(job_id),
                    job_timeout=current_app.config["JOB_TIMEOUT"],
                    retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                    failure_ttl=7 * 24 * 3600,
                    result_ttl=3600,
                    pipeline=pipe,
                )
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis down: the rows stay pending for relay()
        log.warning("could not hand %d job(s) to Redis (%s); they stay pending", len(job_ids), exc)
        _back_to_pending(written_queued)
        return 0
    unmarked = [job_id for job_id in job_ids if job_id not in written_queued]
    if unmarked:
        db.session.execute(
            update(Job)
            .where(Job.id.in_(unmarked), Job.status.in_(("pending", "queued")))
            .values(status="queued", enqueued_at=utcnow())
        )
        db.session.commit()
    return len(job_ids)


def _back_to_pending(job_ids) -> None:
    """Rows written as queued whose hand-over failed: waiting to be handed over, as the jobs page says."""
    if not job_ids:
        return
    db.session.execute(
        update(Job)
        .where(Job.id.in_(list(job_ids)), Job.status == "queued", Job.attempts == 0)
        .values(status="pending", enqueued_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def dispatch() -> None:
    """Hand over the jobs whose rows this context committed (or run them here, without Redis).

    Never raises: the work that deferred these jobs is committed already, so a failed hand-over (a
    lost database connection, say) leaves the rows 'pending' for relay() and is only logged.
    """
    if not has_app_context():
        return
    while committed := g.pop("jobs_committed", []):
        job_ids = [entry.job_id for entry in committed]
        if current_app.config.get("REDIS_URL"):
            try:
                enqueue(job_ids, frozenset(entry.job_id for entry in committed if entry.written_queued))
            except Exception as exc:  # noqa: BLE001 - committed already: the relay hands them over
                _rollback_quietly()
                log.warning("could not hand over job(s) %s after the commit (%s); the relay will", job_ids, exc)
            continue
        for job_id in job_ids:  # in-process: jobs that defer more jobs are picked up by the loop
            try:
                execute(job_id)
            except Exception:  # noqa: BLE001 - recorded on the row; the request itself succeeded
                log.exception("in-process job %s failed", job_id)


def _rollback_quietly() -> None:
    """Roll the session back after a failed hand-over, whatever state its connection is in."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection: the session is discarded with the context
        log.warning("rollback after a failed hand-over failed too", exc_info=True)


def _after_commit(session) -> None:
    """The deferred rows now exist: remember them for dispatch() (at the transaction's commit; a savepoint's
    release commits nothing yet)."""
    if open_savepoint(session) is not None:
        return
    deferred = session.info.pop("jobs_uncommitted", None)
    if deferred and has_app_context():
        g.setdefault("jobs_committed", []).extend(deferred)


def _after_rollback(session) -> None:
    """The deferred rows are gone with the transaction, or with the savepoint they were written in (the rows
    deferred before it, or after it, stay to be handed over at the commit)."""
    savepoint = open_savepoint(session)
    if savepoint is None:
        session.info.pop("jobs_uncommitted", None)
        return
    deferred = session.info.get("jobs_uncommitted", [])
    deferred[:] = [entry for entry in deferred if not within(entry.savepoint, savepoint)]


def execute(job_id: int) -> str:
    """Run one job once: claim it, run its handler, mark it done in the same transaction.

    The claim is a conditional UPDATE that takes a waiting row, or a 'running' row whose lease ran out
    (its worker died), and counts the attempt; the attempt number is the claim's token. The row is
    marked done, or its failure recorded, only while that claim still holds: a worker that outlived
    its lease finds the row claimed again and rolls its own work back, so a job never runs twice.
    A batched kind (see handler) claims its waiting siblings in the same statement's transaction and
    treats them the same way, each with its own token.
    """
    now = utcnow()
    lease_start = now - lease()
    claimed = db.session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(Job.status.in_(("pending", "queued")), and_(Job.status == "running", Job.started_at < lease_start)),
        )
        .values(status="running", attempts=Job.attempts + 1, started_at=now, finished_at=None)
        .returning(Job.kind, Job.attempts, Job.max_attempts, Job.payload)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        db.session.commit()
        return "skipped"  # done already, failed, or running elsewhere within its lease
    kind, attempt, max_attempts, payload = claimed
    batch = [(job_id, attempt, max_attempts, payload)]
    size = BATCH_SIZES.get(kind, 1)
    if size > 1 and attempt == 1:
        batch += _claim_waiting(kind, size - 1, exclude=job_id, now=now)
    db.session.commit()
    mine = (
        tuple_(Job.id, Job.attempts).in_([(row_id, tries) for row_id, tries, _, _ in batch]),
        Job.status == "running",
    )
    note = None
    claim = _claim.set((job_id, attempt))
    try:
        try:
            if size > 1:
                HANDLERS[kind]([json.loads(body or "{}") for _, _, _, body in batch])
            else:
                HANDLERS[kind](json.loads(payload or "{}"))
        except SentBefore as sent:
            db.session.rollback()
            note = str(sent)
            log.warning("job %s (%s): %s", job_id, kind, note)
        finished = db.session.execute(
            update(Job)
            .where(*mine)
            .values(status="done", finished_at=utcnow(), progress=100, last_error=note)
            .execution_options(synchronize_session=False)
        ).rowcount
        if finished != len(batch):
            db.session.rollback()
            log.warning("job %s (%s) attempt %s lost its lease; its work was rolled back", job_id, kind, attempt)
            return "lost"
        db.session.commit()
        if len(batch) > 1:
            _withdraw_from_queue([row_id for row_id, _, _, _ in batch[1:]])
        return "done"
    except Exception as exc:
        db.session.rollback()
        error = "".join(traceback.format_exception(exc))[-4000:]
        if len(batch) > 1:
            error = f"failed in a batch of {len(batch)} rows with job {job_id}; it runs alone next\n{error}"[-4000:]
        for row_id, tries, most, _ in batch:
            final = tries >= most
            db.session.execute(
                update(Job)
                .where(Job.id == row_id, Job.status == "running", Job.attempts == tries)
                .values(
                    status="failed" if final else "queued",
                    last_error=error,
                    finished_at=utcnow() if final else None,
                    sending_since=None,  # it failed with an answer (or before sending): a retry may send
                )
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
        log.error("job %s (%s) failed, attempt %s/%s: %s", job_id, kind, attempt, max_attempts, exc)
        raise
    finally:
        _claim.reset(claim)


def _claim_waiting(kind: str, limit: int, *, exclude: int, now) -> list[tuple[int, int, int, str | None]]:
    """Claim up to `limit` more rows of a batched kind that wait untried (attempts 0), oldest first, in the
    current transaction: (id, attempt, max_attempts, payload) of each. Rows another worker is claiming at
    the same moment are skipped on PostgreSQL (SKIP LOCKED); SQLite runs one writer at a time."""
    # The ids are read first and locked (a LIMIT inside the UPDATE's IN may be evaluated more than once
    # on PostgreSQL and claim more than `limit` rows).
    waiting = db.session.scalars(
        select(Job.id)
        .where(Job.kind == kind, Job.status.in_(("pending", "queued")), Job.attempts == 0, Job.id != exclude)
        .order_by(Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not waiting:
        return []
    rows = db.session.execute(
        update(Job)
        .where(Job.id.in_(waiting), Job.status.in_(("pending", "queued")), Job.attempts == 0)
        .values(status="running", attempts=1, started_at=now, finished_at=None)
        .returning(Job.id, Job.attempts, Job.max_attempts, Job.payload)
        .execution_options(synchronize_session=False)
    ).all()
    return [tuple(row) for row in rows]


def _withdraw_from_queue(job_ids: list[int]) -> None:
    """Take the RQ jobs of rows a batch has done out of the queue, so no worker spends a turn on them (one
    that a worker took meanwhile just finds its row done). Best effort: never raises."""
    queue = rq_queue()
    if queue is None:
        return
    from rq.job import Job as RQJob

    try:
        with queue.connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.lrem(queue.key, 0, rq_job_id(job_id))
            removed = pipe.execute()
        # Only a job that was still in the queue is deleted: one a worker holds keeps its hash.
        gone = [RQJob.key_for(rq_job_id(job_id)) for job_id, n in zip(job_ids, removed, strict=True) if n]
        if gone:
            queue.connection.delete(*gone)
    except Exception as exc:  # noqa: BLE001 - they stay queued and are skipped when their turn comes
        log.warning("could not take %d batched job(s) out of the queue: %s", len(job_ids), exc)


class SentBefore(Exception):
    """An earlier attempt of this job died while sending: whether it arrived is unknown, and it is not
    sent again. execute() marks the row done with this as its note."""


_claim: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("job_claim", default=None)


def sending() -> str:
    """Call right before a job's external side effect (a POST): commits the attempt's start on the row, and
    returns the delivery id to send with it (the same for every attempt of this job, so a receiver can
    deduplicate). Raises SentBefore when an earlier attempt already started sending and died before it
    finished — then nothing is sent again: **at most once in the crash case**. A send that fails with an
    error (refused, an error answer, a timeout) is retried: an attempt whose timeout hid a delivery is the
    one case sent twice (at least once), and the delivery id lets the receiver drop the second.

    It commits the session: call it before the job writes anything of its own.
    """
    job_id, attempt = _claim.get() or (None, None)
    if job_id is None:
        raise RuntimeError("jobs.sending() is for a job's handler, run by execute()")
    marked = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.attempts == attempt, Job.sending_since.is_(None))
        .values(sending_since=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not marked:
        since = db.session.scalar(select(Job.sending_since).where(Job.id == job_id))
        if since is not None:
            raise SentBefore(
                f"an earlier attempt started sending at {since:%Y-%m-%d %H:%M:%S} UTC and its worker died before it "
                "finished; not sent again (at most once): check the receiver if it arrived"
            )
        raise RuntimeError(f"job {job_id} attempt {attempt} lost its claim before sending")
    return rq_job_id(job_id)


def relay(grace: timedelta | None = None) -> int:
    """Hand over what is waiting: pending rows, rows whose RQ job ended without running them, and rows
    of workers that died (running past their lease). Returns how many rows were handed over (or run)."""
    grace = grace if grace is not None else timedelta(seconds=current_app.config["JOB_PENDING_GRACE"])
    now = utcnow()
    requeued = expire_leases(now)
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
        return enqueue(_needing_handover(waiting, explained=requeued))
    for job_id in waiting:
        try:
            execute(job_id)
        except Exception:  # noqa: BLE001 - recorded on the row
            log.exception("in-process job %s failed", job_id)
    return len(waiting)


def expire_leases(now=None) -> set[int]:
    """Rows 'running' past their lease belong to a worker that died: requeue them, or fail them when
    that was their last try (their last_error says which). Returns the ids of the rows requeued."""
    now = now or utcnow()
    lost = (Job.status == "running", Job.started_at < now - lease())
    seconds = int(lease().total_seconds())
    held = f"{seconds // 60}-minute" if seconds >= 60 else f"{seconds}-second"
    requeue = set(db.session.scalars(select(Job.id).where(*lost, Job.attempts < Job.max_attempts)))
    if requeue:
        db.session.execute(
            update(Job)
            .where(Job.id.in_(requeue), *lost)
            .values(
                status="queued",
                last_error=f"worker lost: the attempt did not finish within its {held} lease; requeued",
            )
            .execution_options(synchronize_session=False)
        )
    failed = db.session.execute(
        update(Job)
        .where(*lost, Job.attempts >= Job.max_attempts)
        .values(
            status="failed",
            finished_at=now,
            last_error=f"worker lost: the last attempt did not finish within its {held} lease; no tries left",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if requeue or failed:
        log.warning("%d job(s) past their lease requeued, %d failed with no tries left", len(requeue), failed)
    return requeue


def rq_job_id(job_id: int) -> str:
    """The RQ job id of an outbox row: fixed, so a second hand-over replaces rather than duplicates."""
    return f"{current_app.config['REDIS_PREFIX'].replace(':', '-')}job-{job_id}"


def _needing_handover(job_ids: list[int], explained: set[int] = frozenset()) -> list[int]:
    """The waiting rows no RQ job will run: never handed over, lost in a Redis restart, or whose RQ job
    ended (finished, failed, stopped) without running them — e.g. a retry that found the row still
    'running' under a dead worker. Their ended RQ jobs are deleted first, and the rows say why."""
    from rq.job import Job as RQJob

    client = get_redis()
    try:
        found = RQJob.fetch_many([rq_job_id(job_id) for job_id in job_ids], connection=client)
        needing, notes = [], {}
        for job_id, rq_job in zip(job_ids, found, strict=True):
            if rq_job is None:
                status = "missing"
            else:
                status = rq_job.get_status(refresh=False)
                status = getattr(status, "value", status)
                if status not in RQ_ENDED and job_id not in explained:
                    continue  # RQ will run it (queued, scheduled for a retry, or running)
                # Ended, or the RQ job of a worker that died past its lease (still 'started' in RQ until a
                # registry cleanup, minutes later): hand the row over now.
                rq_job.delete()
            needing.append(job_id)
            if job_id not in explained:
                notes.setdefault(status, []).append(job_id)
    except Exception:  # noqa: BLE001 - Redis still down: nothing can be handed over now
        return []
    for status, ids in notes.items():
        db.session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status == "queued")
            .values(last_error=f"its RQ job was {status} and had not run it; handed over again")
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return needing


def stuck(now=None):
    """The condition of a row that should have moved on by now: unfinished, and its last start (or its
    creation) is older than the lease."""
    now = now or utcnow()
    return and_(
        Job.status.in_(("pending", "queued", "running")),
        func.coalesce(Job.started_at, Job.created_at) < now - lease(),
    )


def counts() -> dict[str, int]:
    """Jobs per status, for /healthz and the jobs page."""
    rows = db.session.execute(select(Job.status, db.func.count()).group_by(Job.status)).all()
    return {status: n for status, n in rows}


def load_handlers() -> dict[str, Callable]:
    """Import every module of JOB_MODULES, so that each kind has its handler; returns the handlers."""
    for name in JOB_MODULES:
        importlib.import_module(name)
    return HANDLERS


def register_session_hooks() -> None:
    """Track committed job rows on the session (once per process: every app shares the scoped session)."""
    from sqlalchemy import event

    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)


def register_dispatch(app) -> None:
    """Dispatch the jobs a request committed once it is done."""

    @app.after_request
    def _dispatch(response):
        dispatch()
        return response
