"""The background processes: job workers and the periodic round.

    python -m governance.worker work --with-scheduler   # runs the outbox jobs; one such worker also runs
    python -m governance.worker work                    #   RQ's scheduler (retries after their delay)
    python -m governance.worker periodic                # every minute: SLA sweep, relay, nightly checks

Both read everything from the environment (GOVERNANCE_ENV, DATABASE_URL, REDIS_URL, REDIS_PREFIX).

**The app is built once per process.** RQ's default worker starts a new interpreter for every job, which
re-imports the package and rebuilds the app (about 1.7 s a job); our `Worker` is RQ's non-forking
`SimpleWorker`, so a job costs its own work (milliseconds). The isolation a fresh process gave is kept where
it matters: each job runs in its own app context (a fresh database session, rolled back on any error), RQ's
timeout still stops a job (SIGALRM in the worker's main thread), and `--max-jobs N` lets the supervisor
recycle a worker after N jobs.

**Faults do not end the processes.** RQ's own loop quits on any Redis error outside its blocking dequeue
(a job finishing while Redis restarts, a heartbeat during a freeze): `serve()` starts a fresh worker after a
backoff (1 s doubling to 30 s) instead, until it is asked to stop (SIGTERM/SIGINT finish the job in hand,
then exit). A worker re-registers itself when Redis lost its record (a restart without persistence), so
/healthz keeps seeing it, and it looks for the scheduler lock every 30 s, so a replacement scheduler takes
over within about a minute of the old one dying. The periodic round is a process of its own — it never
waits behind a backlog of jobs — and a failed round (the database or Redis away) is logged and the next
one runs on time; each completed round is recorded in `app_meta` for /healthz.

The supervision that restarts a process that dies anyway (killed, out of memory) is systemd's
`Restart=always` (units in `deploy/`) or the Procfile runner's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time

from rq import Queue, SimpleWorker
from rq.worker import WorkerStatus

log = logging.getLogger("governance.worker")
PERIODIC_META_KEY = "periodic_round"
_app = None


def get_app():
    """The app of this process, built once from the environment; building it loads the handler of every job
    kind (jobs.JOB_MODULES), as in the web process."""
    global _app
    if _app is None:
        from . import create_app

        _app = create_app(os.environ.get("GOVERNANCE_ENV") or "production")
    return _app


def run_job(job_id: int) -> str:
    """Run one outbox job (an exception makes RQ retry it; the row records every attempt).

    The jobs it deferred are handed to RQ as soon as its transaction commits, not a minute later by the
    relay: a notification's 企业微信 message goes out right behind it.
    """
    from .services.platform import jobs

    with get_app().app_context():
        try:
            return jobs.execute(job_id)
        finally:
            jobs.dispatch()  # never raises: what it cannot hand over stays pending for the relay


# --- the job worker ------------------------------------------------------------------------------


class Worker(SimpleWorker):
    """RQ's in-process worker, tuned so that /healthz and the scheduler notice within a minute.

    worker_ttl 60: while idle the worker wakes every 45 s (its blocking dequeue's timeout) to beat, so a
    heartbeat older than WORKER_STALE_AFTER means a dead or frozen worker. maintenance_interval 30: a
    worker started with the scheduler tries the scheduler lock that often (RQ's default is 10 minutes).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("worker_ttl", 60)
        kwargs.setdefault("maintenance_interval", 30)
        super().__init__(*args, **kwargs)
        self._record_checked_at = 0.0
        self.asked_to_stop = False

    def request_stop(self, signum, frame):
        # RQ records a stop request only when it arrives during a job; an idle worker just leaves its loop,
        # which looks the same to serve() as a worker that lost Redis. Remember it either way, so that
        # SIGTERM (systemd's stop) ends the process instead of starting a fresh worker.
        self.asked_to_stop = True
        super().request_stop(signum, frame)

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self._register_again_if_forgotten()

    def _register_again_if_forgotten(self) -> None:
        """After a Redis restart without persistence the worker's record is gone (the heartbeat alone
        would only leave a stray hash): write it again (looked at every 2 s at most)."""
        if time.monotonic() - self._record_checked_at < 2:
            return
        self._record_checked_at = time.monotonic()
        if not self.connection.hexists(self.key, "birth"):
            log.warning("worker %s: its record in Redis was lost; registering again", self.name)
            self.connection.delete(self.key)
            self.register_birth()
            self.set_state(WorkerStatus.IDLE)


def worker_connection(url: str):
    """The worker's own Redis connection: it blocks on the queue for up to 45 s, so its socket timeout is
    longer than that (a frozen Redis still ends in an error, and a fresh worker, after a minute)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=60, socket_connect_timeout=5, socket_keepalive=True)


def serve(
    queue_names: list[str],
    *,
    with_scheduler: bool = False,
    max_jobs: int | None = None,
    burst: bool = False,
    max_backoff: float = 30.0,
) -> int:
    """Run a worker on these queues until asked to stop; a worker that quits on a Redis error is replaced by
    a fresh one after a backoff. Returns the number of jobs done (burst mode and tests)."""
    app = get_app()  # built here, once, before any job
    url = app.config["REDIS_URL"]
    if not url:
        raise SystemExit("REDIS_URL is not set: without Redis the web process runs jobs itself (python run.py)")
    backoff, done = 1.0, 0
    while True:
        connection = worker_connection(url)
        started, worker = time.monotonic(), None
        try:
            # Even making a worker talks to Redis (it names its connection): inside the try, like the work.
            worker = Worker([Queue(name, connection=connection) for name in queue_names], connection=connection)
            worker.work(with_scheduler=with_scheduler, max_jobs=max_jobs, burst=burst, logging_level="INFO")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - Redis away (RQ's teardown failed too): start afresh below
            log.warning("worker stopped on an error: %s", exc)
        finally:
            connection.close()
        if worker is not None:
            done += worker.successful_job_count + worker.failed_job_count
            if worker.asked_to_stop or burst or (max_jobs is not None and done >= max_jobs):
                return done
        if time.monotonic() - started > 60:
            backoff = 1.0  # it ran for a while: the next failure is a new one
        log.warning("the worker quit (Redis unreachable?); a fresh one starts in %.0f s", backoff)
        time.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)


# --- the periodic round --------------------------------------------------------------------------


def periodic_once(app) -> dict:
    """One round on `app`: escalate what is overdue, hand over jobs still waiting (run here without Redis),
    remove old export files and dead logins, and once a night check the report rollups against the raw
    issues; the time it completed is recorded for /healthz."""
    from . import auth_session
    from .extensions import db
    from .services.issues import sla
    from .services.outreach import notices
    from .services.platform import jobs
    from .services.reports import exports, rollups

    with app.app_context():
        swept = sla.sweep()
        relayed = jobs.relay()
        checked = rollups.check_if_due()
        result = {**swept, "relayed": relayed, "notice_reminders": notices.remind_due()}
        result["exports_removed"] = exports.cleanup()  # export files older than a week
        result["logins_removed"] = auth_session.remove_dead()  # logged out, idle or expired logins
        db.session.commit()
        if checked is not None:
            result["rollup_differences"] = len(checked["differences"])
        jobs.dispatch()  # whatever this round's own work deferred
        _record_round(result)
        return result


def _record_round(result: dict) -> None:
    """Keep when this round completed, for /healthz (two periodic processes may race on the first row)."""
    from sqlalchemy.exc import IntegrityError

    from .extensions import db
    from .models import AppMeta

    value = json.dumps({"finished_at": time.time(), "result": result})
    try:
        db.session.merge(AppMeta(key=PERIODIC_META_KEY, value=value))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def last_round() -> dict | None:
    """When the last periodic round completed (epoch seconds) and what it did, or None if never."""
    from .extensions import db
    from .models import AppMeta

    row = db.session.get(AppMeta, PERIODIC_META_KEY)
    return json.loads(row.value) if row is not None else None


def run_periodic(app, stop: threading.Event, interval: float | None = None) -> None:
    """Run periodic_once every `interval` seconds (PERIODIC_INTERVAL) until `stop` is set.

    A failed round is logged and the next one runs as usual: one bad minute must not end the sweeps.
    """
    interval = interval if interval is not None else float(app.config["PERIODIC_INTERVAL"])
    while not stop.is_set():
        try:
            result = periodic_once(app)
        except Exception:  # noqa: BLE001 - logged; the loop lives on for the next round
            log.exception("periodic work failed; trying again in %s s", interval)
        else:
            if any(v for k, v in result.items()):
                log.info("periodic work: %s", result)
        stop.wait(interval)


def periodic() -> dict:
    """One round on this process's app (by hand: `python -c "from governance.worker import periodic; …"`)."""
    return periodic_once(get_app())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.worker", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    work = commands.add_parser("work", help="run outbox jobs from the deployment's queue")
    work.add_argument("--with-scheduler", action="store_true", help="also run RQ's scheduler (retries)")
    work.add_argument("--max-jobs", type=int, default=None, help="exit after this many jobs (to be restarted)")
    work.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    commands.add_parser("periodic", help="run the periodic round every PERIODIC_INTERVAL seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = get_app()
    if args.command == "work":
        queue = app.config["REDIS_PREFIX"] + "jobs"
        serve([queue], with_scheduler=args.with_scheduler, max_jobs=args.max_jobs, burst=args.burst)
        return 0
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("periodic round every %s s", app.config["PERIODIC_INTERVAL"])
    run_periodic(app, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
