"""Instructions one request of a daily page costs in process, counted by callgrind.

    .venv/bin/python benchmarks/count_instructions.py [--pages filing,home_zone] [--runs 100] [--db /tmp/demo.sqlite3]
                                                     [--engine sqlite|postgresql]

A time measured on a shared 2-core machine moves by ±20 % between runs minutes apart, which hides any change
smaller than that; callgrind counts the instructions executed, the same within a fraction of a percent run to
run. Use it to compare two versions of the code (run it in each checkout), then confirm under gunicorn with
bench_pages.py.

The script runs itself again under `valgrind --tool=callgrind` with counting off, logs in as the page's demo
account (the pages of profile_pages.py), sends a few requests to warm up, and counts only the measured ones
(`callgrind_control` turns counting on and off around them). SQLite, with Redis as in production (follow-up
jobs queued, pages kept); the demo world is loaded into `--db` once (without valgrind) and copied for each
run. The session cookie is put back before every request, as a browser that follows the redirect would leave
it (a filing's flash would otherwise pile up in it). Only this process is counted: with `--engine postgresql`
(a fresh database with the demo world, loaded once for all pages) the count is the app's share of a request —
what the gunicorn workers spend — and the database server's is not in it; with SQLite the database's work is
in the process. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

COUNTING = "COUNT_INSTRUCTIONS_UNDER_CALLGRIND"  # set in the run under valgrind
# Requests before counting starts: Python specialises code only after it has run a few times, and the caches
# fill (30 left the filing's count 4 % high, falling as more requests were counted; from 100 on it holds).
WARM_UP = 100


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default="filing", help="comma-separated page names of profile_pages.py")
    parser.add_argument("--runs", type=int, default=100, help="requests counted per page")
    parser.add_argument("--db", default="/tmp/demo.sqlite3", help="SQLite file with the demo world (built if missing)")
    parser.add_argument("--engine", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)  # PostgreSQL: the database of the runs
    parser.add_argument("--page", default=None, help=argparse.SUPPRESS)  # the one page of a run under valgrind
    return parser.parse_args()


def build_world(path: Path) -> None:
    """The demo world in a SQLite file (once: later runs copy it)."""
    from common import build_app, build_demo

    app = build_app(f"sqlite:///{path}")
    print(f"demo world loaded into {path} in {build_demo(app, 1.0):.1f} s", flush=True)


def count(page: str, opts) -> int:
    """Run this script under callgrind for one page; the instructions its counted requests executed."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--page",
        page,
        "--runs",
        str(opts.runs),
        "--db",
        opts.db,
        *(["--url", opts.url] if opts.url else []),
    ]
    done = subprocess.run(command, env={**os.environ, COUNTING: "1"}, capture_output=True, text=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None:
        raise SystemExit(f"{page}: the run under valgrind failed\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return int(collected[1])


def counted_requests(opts) -> None:
    """Under valgrind: warm up, then send `--runs` requests with counting on."""
    import profile_pages
    from bench_pages import forget_redis_keys
    from common import build_app, production_env

    workdir = Path(tempfile.mkdtemp(prefix="count-instructions-"))
    url = opts.url
    if url is None:
        copy = workdir / "demo.sqlite3"
        shutil.copy(opts.db, copy)
        url = f"sqlite:///{copy}"
    redis_url = production_env("", redis=True)["REDIS_URL"]
    app = build_app(url, workdir, REDIS_URL=redis_url, REDIS_PREFIX=profile_pages.PREFIX)
    try:
        who, _method, path, body = profile_pages.pages(app)[opts.page]
        client = profile_pages.login(app, who)
        fields = body(client) if body is not None else None

        def one() -> None:
            if fields is None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return
            data = {**fields, "idempotency_key": uuid.uuid4().hex, "title": f"计数 {uuid.uuid4().hex[:6]}"}
            response = client.post(path, data=data)
            assert response.status_code in (302, 303), (path, response.status_code)

        for _ in range(WARM_UP):
            one()
        client.get("/")  # shows (and so drops) the warm-up's flashes
        cookie = client.get_cookie("session")
        switch = ["callgrind_control", "-i"]
        subprocess.run([*switch, "on", str(os.getpid())], check=True, capture_output=True)
        for _ in range(opts.runs):
            if cookie is not None:  # a visitor without a login has none
                client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
            one()
        subprocess.run([*switch, "off", str(os.getpid())], check=True, capture_output=True)
    finally:
        forget_redis_keys(profile_pages.PREFIX)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    opts = options()
    if os.environ.get(COUNTING):
        counted_requests(opts)
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    drop = None
    if opts.engine == "postgresql":
        from common import build_app, build_demo, fresh_database
        from sqlalchemy import text

        from governance.extensions import db

        opts.url, drop = fresh_database("postgresql", Path(tempfile.mkdtemp(prefix="count-instructions-")))
        app = build_app(opts.url)
        print(f"demo world loaded into PostgreSQL in {build_demo(app, 1.0):.1f} s", flush=True)
        with app.app_context():
            db.session.execute(text("ANALYZE"))  # as autovacuum would soon after a load
            db.session.commit()
            db.engine.dispose()
    elif not Path(opts.db).exists():
        build_world(Path(opts.db))
    try:
        for page in (name for name in opts.pages.split(",") if name):
            total = count(page, opts)
            print(f"{page}: {total / opts.runs / 1e6:.2f} M instructions a request ({opts.runs} requests)", flush=True)
    finally:
        if drop is not None:
            drop()


if __name__ == "__main__":
    main()
