"""What /healthz reports: whether every part the product needs is there and moving, told truthfully.

"ok" needs the database to answer, and with Redis configured: Redis to answer, at least one worker whose
heartbeat is fresh (WORKER_STALE_AFTER) in RQ's worker registry, and a periodic round (SLA sweep, relay)
completed within PERIODIC_STALE_AFTER; without Redis only the database and the round (the web process's
own thread runs it). Anything else is "degraded", with the reason in its check. The answer never waits long
on Redis: its client times out in half a second and then stays away (redis_conn.py), so a frozen Redis
gives a prompt 503, not a hanging health check.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from ...extensions import db
from ...redis_conn import get_redis


def report() -> tuple[bool, dict]:
    """(healthy, checks): every check by name, each "ok", a reason, or figures."""
    checks: dict = {}
    healthy = True
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
        healthy = False
    if current_app.config.get("REDIS_URL"):
        healthy &= _redis_checks(checks)
    else:
        checks["redis"] = "not configured"
    healthy &= _database_checks(checks)
    return healthy, checks


def _redis_checks(checks: dict) -> bool:
    """Redis answers, and the queue has a live worker."""
    client = get_redis()  # None here (REDIS_URL is set): the breaker is open after a recent failure
    try:
        if client is None:
            raise ConnectionError("circuit open after a recent failure")
        client.ping()
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc if client is None else type(exc).__name__}"
        checks["workers"] = "unknown (Redis unavailable)"
        return False
    checks["redis"] = "ok"
    try:
        from rq import Worker

        from .jobs import rq_queue

        queue = rq_queue()
        checks["queue"] = {"name": queue.name, "waiting": queue.count, "failed": queue.failed_job_registry.count}
        stale_after = current_app.config["WORKER_STALE_AFTER"]
        ages = [_age(worker.last_heartbeat) for worker in Worker.all(connection=client, queue=queue)]
        live = [age for age in ages if age is not None and age <= stale_after]
        checks["workers"] = {
            "live": len(live),
            "registered": len(ages),
            "newest_heartbeat_seconds_ago": round(min(live), 1) if live else None,
        }
        return bool(live)
    except Exception as exc:  # noqa: BLE001
        checks["workers"] = f"error: {type(exc).__name__}"
        return False


def _database_checks(checks: dict) -> bool:
    """The outbox per status, the last periodic round, the last nightly rollup check."""
    healthy = True
    try:
        from .jobs import counts

        queue = counts()
        checks["jobs"] = {status: queue.get(status, 0) for status in ("pending", "queued", "running", "failed")}
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        checks["jobs"] = f"error: {type(exc).__name__}"
    try:
        from ...worker import last_round

        last = last_round()
        stale_after = current_app.config["PERIODIC_STALE_AFTER"]
        if last is None:
            checks["periodic"] = "never completed"
            healthy = False
        else:
            age = max(time.time() - last["finished_at"], 0.0)
            fresh = age <= stale_after
            checks["periodic"] = {
                "last_round_seconds_ago": round(age, 1),
                "finished_at": datetime.fromtimestamp(last["finished_at"], UTC).isoformat(timespec="seconds"),
                "status": "ok" if fresh else f"no round completed in the last {stale_after} s",
            }
            healthy = fresh
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        checks["periodic"] = f"error: {type(exc).__name__}"
        healthy = False
    try:
        from ..reports.rollups import last_check

        check = last_check()
        checks["rollups"] = (
            {"checked_at": check["checked_at"], "differences": check["difference_count"]} if check else "never checked"
        )
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        checks["rollups"] = f"error: {type(exc).__name__}"
    return healthy


def _age(moment: datetime | None) -> float | None:
    """Seconds since a worker's heartbeat (RQ keeps UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - moment).total_seconds(), 0.0)
