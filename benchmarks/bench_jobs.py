"""Job throughput: notification fan-out under our worker beside RQ's SimpleWorker running no-op jobs.

    .venv/bin/python benchmarks/bench_jobs.py [--jobs 400] [--engine sqlite|postgresql|both] [--spawning 8]

For each engine, in one run: N filings are made (not timed), their notify jobs handed to a Redis queue, and
a `governance.worker.Worker` works the queue in burst mode (a notify job claims its outbox row and up to 49
more waiting ones, inserts the inbox rows of every recipient, marks them done, commits). The baseline is
RQ's own SimpleWorker working N no-op jobs from the same Redis in the same run: what RQ costs per job with
no work at all. The target is notify ≥ 0.8× the baseline. `--spawning K` also times K notify jobs under RQ's
default worker, which starts a new interpreter per job and so rebuilds the app every time (the way jobs ran
before).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, build_app, fresh_database  # noqa: E402

REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def noop() -> None:
    """The baseline job: nothing at all."""


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def run_engine(engine: str, count: int, spawning: int) -> dict:
    import redis
    from flask_migrate import upgrade
    from rq import Queue, SimpleWorker
    from sqlalchemy import func, select

    import governance.worker as worker_module
    from governance.extensions import db
    from governance.models import Job, Notification
    from governance.services.platform import jobs
    from tests.builders import make_issue, make_person, make_tree, nodes_at

    workdir = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    url, drop = fresh_database(engine, workdir)
    prefix = f"benchjobs{uuid.uuid4().hex[:8]}:"
    connection = redis.Redis.from_url(REDIS)
    try:
        app = build_app(url, workdir, REDIS_URL=REDIS, REDIS_PREFIX=prefix)
        with app.app_context():
            upgrade()
            make_tree(neighbours=2)
            make_person("group_leader", nodes_at("group")[0])
            make_person("zone_leader", nodes_at("zone")[0])
            leader = make_person("neighbour_leader", nodes_at("neighbour")[0])
            for n in range(count + spawning):
                make_issue(leader, title=f"基准{n}")
            ids = list(db.session.scalars(select(Job.id).where(Job.kind == "notify").order_by(Job.id)))
            worker_module._app = app  # the worker process's app, built once (here: this one)

            # Baseline: RQ's SimpleWorker, no-op jobs, same Redis.
            baseline = Queue(prefix + "noop", connection=connection)
            for _ in range(count):
                baseline.enqueue("benchmarks.bench_jobs.noop", result_ttl=60)
            started = time.perf_counter()
            SimpleWorker([baseline], connection=connection).work(burst=True, logging_level="WARNING")
            noop_seconds = time.perf_counter() - started

            # Ours: notify fan-out.
            assert jobs.enqueue(ids[:count]) == count
            queue = Queue(jobs.queue_name(), connection=connection)
            started = time.perf_counter()
            worker_module.Worker([queue], connection=connection).work(burst=True, logging_level="WARNING")
            notify_seconds = time.perf_counter() - started
            db.session.expire_all()
            done = db.session.scalar(select(func.count()).where(Job.id.in_(ids[:count]), Job.status == "done"))
            inbox = db.session.scalar(select(func.count()).select_from(Notification))
            assert done == count, f"{done} of {count} notify jobs done"

            spawned = None
            if spawning:
                assert jobs.enqueue(ids[count:]) == spawning
                env = {
                    **os.environ,
                    "GOVERNANCE_ENV": "development",
                    "DATABASE_URL": url,
                    "REDIS_URL": REDIS,
                    "REDIS_PREFIX": prefix,
                }
                argv = [sys.executable, "-m", "rq.cli", "worker", "--burst", "-u", REDIS, jobs.queue_name()]
                started = time.perf_counter()
                subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=True, timeout=600)
                spawned = rate(spawning, time.perf_counter() - started)
            db.session.remove()
            db.engine.dispose()
        return {
            "engine": engine,
            "jobs": count,
            "inbox_rows": inbox,
            "noop_simpleworker_per_s": round(rate(count, noop_seconds), 1),
            "notify_worker_per_s": round(rate(count, notify_seconds), 1),
            "ratio": round(noop_seconds / notify_seconds, 2),
            "notify_spawning_worker_per_s": round(spawned, 2) if spawned else None,
        }
    finally:
        for key in connection.scan_iter(match=f"*{prefix}*", count=1000):
            connection.delete(key)
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--spawning", type=int, default=8)
    args = parser.parse_args()
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    results = [run_engine(engine, args.jobs, args.spawning) for engine in engines]
    for r in results:
        print(
            f"{r['engine']:<10} notify fan-out {r['notify_worker_per_s']:>7.1f} jobs/s  "
            f"RQ SimpleWorker no-op {r['noop_simpleworker_per_s']:>7.1f} jobs/s  ratio {r['ratio']:.2f}×  "
            f"(RQ's spawning worker: {r['notify_spawning_worker_per_s']} jobs/s; {r['inbox_rows']} inbox rows)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
