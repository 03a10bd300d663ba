"""What the benchmarks share: a fresh database per engine with the demo world, gunicorn and a load generator.

- fresh_database / build_app / build_demo: an empty database of the engine (SQLite file in a temp dir;
  a PostgreSQL database of its own on 127.0.0.1, dropped afterwards), migrated, with the demo world;
- serve / stop / free_port / production_env / HELLO: the app (or a one-route Flask app) under gunicorn,
  2 sync workers, 127.0.0.1 only;
- load: a small threaded http.client load generator bounded in time (GET or POST, with a session cookie);
- http_login / csrf_token / client_login: logging in through the real form, over HTTP or the test client;
- bare_sweep: the bare indexed SELECT + UPDATE the SLA sweep is compared with (rolled back).

Numbers on a 2-core machine are noisy: every benchmark prints its figures beside a baseline measured in
the same run.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync", "--log-level", "warning"]
HELLO = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""
SECRET = "bench-secret-" + "x" * 40
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- databases ---------------------------------------------------------------------------------------


def fresh_database(engine: str, workdir: Path):
    """A URL for an empty database and a function that drops it."""
    if engine == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}", lambda: None
    import psycopg

    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}", drop


def timed(func, *args, **kwargs):
    """(seconds, result)."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - started, result


def build_app(url: str, workdir: Path | None = None, **settings):
    """A development app on the database (no Redis), uploads in the work dir."""
    from governance import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, **settings}
    if workdir is not None:
        config["UPLOAD_DIR"] = str(workdir / "uploads")
    return create_app("development", config)


def build_demo(app, scale: float = 1.0) -> float:
    """Migrate the app's database and load the demo world (committed); seconds the load took."""
    from flask_migrate import upgrade

    from governance.demo import load_demo_world
    from governance.extensions import db

    with app.app_context():
        upgrade()
        seconds, _ = timed(load_demo_world, scale)
        db.session.commit()
    return seconds


def bare_sweep(now) -> tuple[float, int]:
    """The bare indexed SELECT + UPDATE of what the sweep would escalate, rolled back: (seconds, rows)."""
    from sqlalchemy import bindparam, text

    from governance.extensions import db
    from governance.models import OPEN_STATUSES

    started = time.perf_counter()
    picked = db.session.execute(
        text("SELECT id, level FROM issue WHERE next_deadline_at <= :now AND status IN :open").bindparams(
            bindparam("open", expanding=True)
        ),
        {"now": now if db.engine.dialect.name == "postgresql" else now.replace(tzinfo=None), "open": OPEN_STATUSES},
    ).all()
    chosen = [row.id for row in picked]
    for start in range(0, len(chosen), 5000):
        db.session.execute(
            text("UPDATE issue SET level = 'group', next_deadline_at = NULL WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": chosen[start : start + 5000]},
        )
    seconds = time.perf_counter() - started
    db.session.rollback()
    return seconds, len(chosen)


def client_login(app, mobile: str, password: str):
    """A Flask test client logged in through the real form."""
    client = app.test_client()
    token = CSRF.search(client.get("/auth/login").get_data(as_text=True))[1]
    response = client.post("/auth/login", data={"mobile": mobile, "password": password, "csrf_token": token})
    assert response.status_code in (302, 303), response.status_code
    return client


# --- gunicorn ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(url: str, redis: bool = False) -> dict:
    """The environment of a production web process on the database (Redis only when asked)."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "GOVERNANCE_ENV": "production",
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1"),  # production requires one
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0") if redis else "",
        "REDIS_PREFIX": f"bench{os.getpid()}:",
    }


def serve(args: list[str], env: dict, cwd: Path, port: int) -> subprocess.Popen:
    """Start gunicorn and wait until it answers."""
    process = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", *args], cwd=cwd, env=env, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}") from None
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """One request on a new connection: (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def session_cookie(headers: list[tuple[str, str]], cookie: str | None = None) -> str | None:
    """The `session=…` pair of a response's Set-Cookie, else the cookie already held."""
    for name, value in headers:
        if name.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    return cookie


def csrf_token(html: str) -> str:
    return CSRF.search(html)[1]


def http_login(port: int, mobile: str, password: str) -> str:
    """Log in through the real form over HTTP; the session cookie (`session=…`) to send afterwards."""
    from urllib.parse import urlencode

    status, headers, body = request(port, "GET", "/auth/login")
    assert status == 200, status
    cookie = session_cookie(headers)
    form = urlencode({"mobile": mobile, "password": password, "csrf_token": csrf_token(body.decode())})
    status, headers, _ = request(
        port,
        "POST",
        "/auth/login",
        {"Cookie": cookie or "", "Content-Type": "application/x-www-form-urlencoded"},
        form.encode(),
    )
    assert status in (302, 303), f"login as {mobile} answered {status}"
    return session_cookie(headers, cookie)


def load(
    port: int,
    path: str,
    seconds: float,
    threads: int,
    *,
    method: str = "GET",
    headers: dict | None = None,
    body: Callable[[], tuple[dict, bytes]] | None = None,
    ok: tuple[int, ...] = (200,),
    warmup: int = 4,
) -> dict:
    """Send `method path` from `threads` threads for `seconds` (a new connection per request: sync workers
    do not keep connections alive); `body()` makes each request's own headers (added to `headers`) and body.
    Answers outside `ok` are errors."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    statuses: dict[int, int] = {}
    headers = {"Accept-Encoding": "identity", **(headers or {})}

    def once() -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            own_headers, content = body() if body else ({}, None)
            conn.request(method, path, body=content, headers={**headers, **own_headers})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def worker(index: int, stop_at: float) -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                status = once()
            except OSError:
                errors[index] += 1
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if status not in ok:
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter() - started)

    # Warm up: the first request of each worker renders the page (and imports templates).
    for _ in range(warmup):
        status = once()
        if status not in ok:
            raise RuntimeError(f"{method} {path} answered {status}")
    busy_before, split_before = machine_busy_seconds(), cpu_by_part()
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i, started + seconds)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    busy = machine_busy_seconds() - busy_before
    split_after = cpu_by_part()
    times = sorted(t for chunk in latencies for t in chunk)
    if not times:
        raise RuntimeError(f"no successful request to {path} ({statuses})")
    return {
        "requests": len(times),
        "errors": sum(errors),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": elapsed,
        "rps": len(times) / elapsed,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
        # The whole machine's CPU per answered request — server, database, Redis and this load generator: with
        # the cores saturated, throughput is the cores over this (less noisy than the rate itself).
        "cpu_ms": busy / len(times) * 1000,
        "idle_share": 1 - busy / (elapsed * (os.cpu_count() or 1)),
        # The same CPU per request by part (cpu_by_part); "other" is the rest of the machine's (the kernel's
        # own threads, processes that ended within the run).
        "cpu_ms_by_part": cpu_split(busy, split_before, split_after, len(times)),
    }


PARTS = {"postgres": "database", "redis-server": "redis"}


def cpu_by_part() -> dict[str, float]:
    """CPU seconds (user and system) the processes running now have used, by part: the app (gunicorn's
    processes), the database, Redis and this load generator."""
    tick, own = os.sysconf("SC_CLK_TCK"), os.getpid()
    used: dict[str, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                line = stat.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:  # ended meanwhile
            continue
        name, fields = line[line.index("(") + 1 : line.rindex(")")], line[line.rindex(")") + 2 :].split()
        if int(entry.name) == own:
            part = "client"
        elif b"gunicorn" in command:
            part = "app"
        else:
            part = PARTS.get(name, "other")
        used[part] = used.get(part, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def cpu_split(busy: float, before: dict, after: dict, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request by part, between two cpu_by_part() readings; "other": the machine's
    busy time that no part accounts for."""
    split = {part: (after[part] - before.get(part, 0.0)) * 1000 / requests for part in after if part != "other"}
    split["other"] = busy * 1000 / requests - sum(split.values())
    return {part: round(ms, 3) for part, ms in sorted(split.items())}


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def filing_form(port: int, cookie: str) -> tuple[dict, str]:
    """The filing form's fields for a valid POST (CSRF token of this session), and the cookie after the GET."""
    status, headers, body = request(port, "GET", "/file/", {"Cookie": cookie})
    assert status == 200, status
    cookie = session_cookie(headers, cookie)
    html = body.decode()
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', html))
    fields["csrf_token"] = csrf_token(html)
    fields["category"] = re.search(r'<option value="(\d+)"', html)[1]
    neighbour_select = html[html.index('name="neighbour"') :]
    fields["neighbour"] = re.search(r'<option[^>]*value="(\d+)"', neighbour_select)[1]
    # As a browser sends it: the 小区 the form chose for the 邻, and one of its buildings picked (where the 社区
    # has any: the form lists no 小区 otherwise).
    start = html.find('name="compound"')
    compounds = html[start : html.find("</select>", start)] if start >= 0 else ""
    chosen = re.search(r'<option value="(\d+)" selected', compounds)
    if chosen is not None:
        fields["compound"] = chosen[1]
        building = re.search(rf'<option value="(\d+)" data-x="{chosen[1]}"', html)
        if building is not None:
            fields["building"] = building[1]
    fields.update(urgency="normal", confirm_different="y")
    return fields, cookie


def load_filings(app, port: int, cookies: list[str], seconds: float, threads: int) -> dict:
    """Filing through the real form for `seconds`, each POST as the next of the people logged in with
    `cookies` in turn (a fresh idempotency key per POST), with the issues it made counted in the database:
    every accepted POST must make exactly one."""
    from urllib.parse import urlencode

    from sqlalchemy import func, select

    from governance.extensions import db
    from governance.models import Issue

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Issue))
    filers = []
    for cookie in cookies:
        fields, cookie = filing_form(port, cookie)
        filers.append(({"Cookie": cookie}, fields))
    counter = itertools.count()
    lock = threading.Lock()

    def body() -> tuple[dict, bytes]:
        with lock:  # the client's threads share the counter
            index = next(counter)
        headers, fields = filers[index % len(filers)]
        content = urlencode({**fields, "title": f"压测上报 {index}", "idempotency_key": uuid.uuid4().hex})
        return headers, content.encode()

    warmup = 2
    filing = load(
        port,
        "/file/",
        seconds,
        threads,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=body,
        ok=(302, 303),
        warmup=warmup,
    )
    with app.app_context():
        filing["issues_created"] = db.session.scalar(select(func.count()).select_from(Issue)) - before
        db.engine.dispose()
    filing["posts_accepted"] = filing["requests"] + warmup  # the warm-up POSTs file too
    filing["filers"] = len(filers)
    return filing
