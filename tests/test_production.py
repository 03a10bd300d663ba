"""The production shape: gunicorn web processes, worker processes (`python -m governance.worker work`) and
the periodic process on the real PostgreSQL and Redis, sharing nothing but the database, Redis and the
upload directory.

Issues are filed over HTTP through both web processes (each retried through the other with the same
idempotency key); every follow-up job must end done after exactly one attempt, and every notification
exist once. A third web process whose Redis is down files too: its job waits in the database until
the periodic relay (what the periodic process runs) hands it to the workers, which run it once.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Category, Issue, IssueEvent, Job, Notification, Photo
from tests.builders import PASSWORD, make_person, make_tree, nodes_at
from tests.conftest import CSRF_RE, DEAD_REDIS_URL, REDIS_TEST_URL, build_app, make_database

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30  # seconds: the bound on every wait below


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what: str, timeout: float = WAIT, interval: float = 0.2):
    """Poll until condition() is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Processes:
    """Child processes, each in a process group of its own, all stopped at the end whatever happened."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.children.append((name, child))
        return child

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def logs_of_all(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)}" for name, _child in self.children)

    def stop(self) -> None:
        # SIGTERM first (rq workers finish their job and unregister, gunicorn shuts down), then SIGKILL.
        for _name, child in self.children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=5)


class Browser:
    """A cookie-keeping HTTP client that logs in and files through the real forms."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, base=None):
        req = urllib.request.Request((base or self.base) + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=20) as response:
                return response.status, response.geturl(), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.geturl(), err.read().decode("utf-8", "replace")

    def csrf(self, path: str, base=None) -> str:
        status, _url, page = self.request("GET", path, base=base)
        assert status == 200, (path, status, page[:500])
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def login(self, mobile: str) -> None:
        fields = {"mobile": mobile, "password": PASSWORD, "csrf_token": self.csrf("/auth/login")}
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, url, page = self.request("POST", "/auth/login", body, headers)
        assert status == 200 and not url.endswith("/auth/login"), (status, url, page[:800])

    def file(self, fields: dict, photo: bytes | None = None, base=None) -> tuple[int, dict]:
        """POST the filing form as the offline-draft script does (JSON answer), with a CSRF token."""
        fields = {**fields, "csrf_token": self.csrf("/file/", base=base)}
        body, content_type = multipart(fields, [("photos", "photo.jpg", photo, "image/jpeg")] if photo else [])
        headers = {"Content-Type": content_type, "X-Requested-With": "fetch", "Accept": "application/json"}
        status, _url, page = self.request("POST", "/file/", body, headers, base=base)
        assert status in (200, 201), (status, page[:1500])
        return status, json.loads(page)


def multipart(fields: dict, files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body, as a phone's browser sends the filing form."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data, content_type in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (120, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """PostgreSQL and Redis namespaces of the test's own, seeded, with the processes started by the test."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    client.ping()  # fails loudly when Redis is down: this test needs it
    token = uuid.uuid4().hex
    prefix = f"govprod:{token}:"
    url, drop = make_database("postgresql", tmp_path_factory)
    app = build_app(url, REDIS_PREFIX=prefix)
    uploads = tmp_path_factory.mktemp("uploads")
    processes = Processes(tmp_path_factory.mktemp("logs"))
    try:
        with app.app_context():
            make_tree(neighbours=2)
            first, second = nodes_at("neighbour")
            people = {
                "group": make_person("group_leader", nodes_at("group")[0]),
                "a": make_person("neighbour_leader", first),
                "b": make_person("neighbour_leader", second),
            }
            seeded = {
                "mobiles": {key: p.mobile for key, p in people.items()},
                "ids": {key: p.id for key, p in people.items()},
                "neighbours": {"a": first.id, "b": second.id},
                "category": db.session.scalar(select(Category.id).where(Category.code == "road")),
            }
        env = {
            **os.environ,
            "GOVERNANCE_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),  # 64 characters, shared by every process
            "SESSION_COOKIE_SECURE": "0",  # plain http in the test; behind TLS in real life
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_TEST_URL,
            "REDIS_PREFIX": prefix,
            "UPLOAD_DIR": str(uploads),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
        }
        queue = prefix + "jobs"
        ports = {name: free_port() for name in ("web1", "web2", "web3")}
        for name, port in ports.items():
            web_env = {**env, "REDIS_URL": DEAD_REDIS_URL} if name == "web3" else env
            argv = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "governance:create_app()"]
            processes.start(name, argv, web_env)
        worker = [sys.executable, "-m", "governance.worker", "work"]
        processes.start("worker1", [*worker, "--with-scheduler"], env)
        processes.start("worker2", worker, env)
        yield {
            "app": app,
            "env": env,
            "queue": queue,
            "processes": processes,
            "bases": {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
            **seeded,
        }
    finally:
        processes.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()
        for key in client.scan_iter(match=f"*{token}*", count=1000):
            client.delete(key)
        # RQ keeps a stopped worker's record for a minute under a random name: ours name our queue.
        for key in client.scan_iter(match="rq:worker:*", count=1000):
            if token.encode() in (client.hget(key, "queues") or b""):
                client.delete(key)
        client.close()


def healthz(base: str) -> tuple[int, dict] | None:
    """The health answer, or None while the process is not listening yet."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except (OSError, ValueError):
        return None


def job_rows(app) -> list[Job]:
    with app.app_context():
        rows = list(db.session.scalars(select(Job).order_by(Job.id)))
        db.session.expunge_all()
        return rows


def test_two_web_processes_and_two_workers_do_every_job_once(deployment):
    started = time.monotonic()
    app, bases, processes = deployment["app"], deployment["bases"], deployment["processes"]
    try:
        # Every process up: two workers registered, and (standing in for the periodic process, which this
        # test runs by hand below) one periodic round done; then the web processes answer /healthz "ok" (the
        # third one degraded: its Redis is down).
        connection = redis.Redis.from_url(REDIS_TEST_URL)
        from rq import Worker

        wait_for(lambda: len(Worker.all(connection=connection, queue=_queue(deployment))) == 2, "two workers")
        from governance.worker import periodic_once

        periodic_once(app)
        for name in ("web1", "web2", "web3"):
            answer = wait_for(lambda name=name: healthz(bases[name]), f"{name} to listen")
            expected = 503 if name == "web3" else 200
            assert answer[0] == expected, (name, answer)
        checks = healthz(bases["web1"])[1]["checks"]
        rollup_check = checks.pop("rollups")  # the periodic round may have run the nightly check already
        assert rollup_check == "never checked" or rollup_check["differences"] == 0, rollup_check
        assert checks.pop("workers")["live"] == 2
        assert checks.pop("periodic")["status"] == "ok"
        assert checks == {
            "database": "ok",
            "redis": "ok",
            "jobs": {"pending": 0, "queued": 0, "running": 0, "failed": 0},
            "queue": {"name": deployment["queue"], "waiting": 0, "failed": 0},
        }
        assert healthz(bases["web3"])[1]["checks"]["redis"].startswith("error")

        # Redis is down for web3 at filing time: the issue is saved, its jobs wait in the database. The
        # notification rides along with the workers' next batch of notifications; the thumbnail (a kind
        # that runs alone) waits for the relay.
        photo = jpeg()
        offline = Browser(bases["web3"])
        offline.login(deployment["mobiles"]["b"])
        status, answer = offline.file(form(deployment, "b", "Redis 停了也要记下的问题"), photo)
        assert status == 201 and answer["created"]
        with app.app_context():
            waiting = {j.kind: j for j in db.session.scalars(select(Job).where(Job.status == "pending"))}
            assert set(waiting) == {"notify", "thumbnail"} and all(j.attempts == 0 for j in waiting.values())
            waiting_id = waiting["thumbnail"].id

        # Two leaders file through both web processes: each filing sent to one, then retried on the
        # other with the same idempotency key at the same time (a phone that timed out and resent).
        references = {}
        with ThreadPoolExecutor(max_workers=4) as pool:
            browsers = {"a": Browser(bases["web1"]), "b": Browser(bases["web2"])}
            for who, browser in browsers.items():
                browser.login(deployment["mobiles"][who])
            for n in range(3):
                for who, browser in browsers.items():
                    fields = form(deployment, who, f"{who} 第{n + 1}个问题")
                    with_photo = photo if n == 0 else None
                    tries = [pool.submit(browser.file, fields, with_photo, base=bases[web]) for web in ("web1", "web2")]
                    answers = [t.result(timeout=WAIT) for t in tries]
                    # One of the two made the issue; the other found it (201 and 200, in either order).
                    assert sorted(status for status, _ in answers) == [200, 201], answers
                    assert sum(a["created"] for _, a in answers) == 1
                    assert len({a["reference"] for _, a in answers}) == 1
                    references[fields["idempotency_key"]] = (who, answers[0][1]["reference"])
        # Retried once more, later, through each web process in turn: still the same issue.
        for n, (key, (who, reference)) in enumerate(references.items()):
            fields = {**form(deployment, who, "重发"), "idempotency_key": key}
            status, answer = browsers[who].file(fields, base=bases["web1" if n % 2 else "web2"])
            assert (status, answer["created"], answer["reference"]) == (200, False, reference)

        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Issue)) == 1 + len(references)
            assert set(db.session.scalars(select(Issue.reference))) >= {r for _who, r in references.values()}

        # Every follow-up job of the web processes ends done, after exactly one attempt.
        def all_done_but_the_waiting_one():
            rows = [j for j in job_rows(app) if j.id != waiting_id]
            return rows if rows and all(j.status == "done" for j in rows) else None

        rows = wait_for(all_done_but_the_waiting_one, "the workers to finish every job")
        assert {j.kind for j in rows} == {"notify", "thumbnail"}
        assert all(j.attempts == 1 and j.last_error is None for j in rows), [(j.id, j.kind, j.attempts) for j in rows]
        with app.app_context():
            photos = list(db.session.scalars(select(Photo).order_by(Photo.id)))
            assert len(photos) == 3 and photos[0].thumb_name is None  # the offline filing's: not made yet
            assert all((Path(deployment["env"]["UPLOAD_DIR"]) / p.thumb_name).exists() for p in photos[1:])
            assert db.session.get(Job, waiting_id).status == "pending"  # nobody handed it over yet

        # Redis is back for everyone: the periodic relay (what the periodic process runs every minute) hands the
        # waiting job over once it is older than the grace a dispatching request may still need. Rather
        # than sleep through the rest of the grace, the test ages the row by it: the relay sees exactly
        # what it would see that much later (it compares created_at with its own clock, nothing else).
        with app.app_context():
            waiting = db.session.get(Job, waiting_id)
            waiting.created_at -= timedelta(seconds=app.config["JOB_PENDING_GRACE"] + 1)
            db.session.commit()
        relay = subprocess.run(
            [sys.executable, "-c", "from governance.worker import periodic; print(periodic())"],
            cwd=ROOT,
            env=deployment["env"],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert relay.returncode == 0, relay.stderr[-2000:]
        assert "'relayed': 1" in relay.stdout, relay.stdout
        wait_for(lambda: all(j.status == "done" for j in job_rows(app)), "the relayed job to run")
        rows = job_rows(app)
        assert all(j.attempts == 1 for j in rows), [(j.id, j.kind, j.status, j.attempts) for j in rows]

        # Each filing told the 组长 exactly once: one inbox message per filed event, no more.
        with app.app_context():
            filed = set(db.session.scalars(select(IssueEvent.id).where(IssueEvent.kind == "filed")))
            messages = list(
                db.session.execute(
                    select(Notification.event_id, Notification.person_id).where(
                        Notification.person_id == deployment["ids"]["group"]
                    )
                )
            )
            assert sorted(event_id for event_id, _person in messages) == sorted(filed)
            assert db.session.scalar(select(func.count()).select_from(Notification)) == len(filed)
        assert all(child.poll() is None for _name, child in processes.children), processes.logs_of_all()
    except BaseException:
        print(processes.logs_of_all())
        raise
    assert time.monotonic() - started < 90


def _queue(deployment):
    from rq import Queue

    return Queue(deployment["queue"], connection=redis.Redis.from_url(REDIS_TEST_URL))


def form(deployment, who: str, title: str) -> dict:
    """The filing form's fields for one leader's own 邻 (a fresh idempotency key, as the page gives)."""
    return {
        "category": str(deployment["category"]),
        "title": title,
        "description": "路面坑洼，雨天积水",
        "neighbour": str(deployment["neighbours"][who]),
        "compound": "",
        "building": "",
        "place_detail": "3栋门口",
        "urgency": "normal",
        "resident_name": "",
        "resident_phone": "",
        "idempotency_key": str(uuid.uuid4()),
        "confirm_different": "y",
    }


# --- faults: Redis killed, Redis frozen, a worker killed mid-send, the periodic process killed -------


class PrivateRedis:
    """A redis-server of this test's own (no persistence, like the shared one), to kill, freeze and restart
    without disturbing any other test."""

    def __init__(self, processes: Processes):
        self.processes, self.port, self.child, self.starts = processes, free_port(), None, 0
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.child = self.processes.start(f"redis{self.starts}", argv, dict(os.environ))
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _pings(client), "the private Redis to answer")

    def kill(self) -> None:
        os.killpg(self.child.pid, signal.SIGKILL)
        self.child.wait(timeout=5)

    def freeze(self) -> None:
        os.killpg(self.child.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.child.pid, signal.SIGCONT)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class SlowReceiver:
    """A 企业微信 robot that takes its time over the first message (so a worker can be killed mid-send), and
    counts every POST it receives, with its X-Delivery-Id."""

    def __init__(self, first_delay: float):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.deliveries: list[str] = []
        deliveries = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                deliveries.append(self.headers.get("X-Delivery-Id"))
                if len(deliveries) == 1:
                    time.sleep(first_delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/webhook/send?key=test"
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty_deployment(tmp_path_factory):
    """One gunicorn (two workers), two worker processes and the periodic process on PostgreSQL and a
    private Redis; short leases and intervals so that recovery is seen in seconds, not minutes."""
    url, drop = make_database("postgresql", tmp_path_factory)
    app = build_app(url)
    processes = Processes(tmp_path_factory.mktemp("fault-logs"))
    private = PrivateRedis(processes)
    try:
        private.start()
        with app.app_context():
            make_tree(neighbours=1)
            group = nodes_at("group")[0]
            make_person("group_leader", group)
            leader = make_person("neighbour_leader", nodes_at("neighbour")[0])
            seeded = {
                "mobile": leader.mobile,
                "group": group.id,
                "neighbours": {"a": nodes_at("neighbour")[0].id},
                "category": db.session.scalar(select(Category.id).where(Category.code == "road")),
            }
        env = {
            **os.environ,
            "GOVERNANCE_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "SESSION_COOKIE_SECURE": "0",
            "DATABASE_URL": url,
            "REDIS_URL": private.url,
            "REDIS_PREFIX": "govfault:",
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("fault-uploads")),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "REDIS_BREAKER_SECONDS": "1",
            "JOB_TIMEOUT": "5",
            "JOB_LEASE": "8",
            "JOB_PENDING_GRACE": "2",
            "PERIODIC_INTERVAL": "1",
            "PERIODIC_STALE_AFTER": "6",
        }
        port = free_port()
        web = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "governance:create_app()"]
        processes.start("web", web, env)
        worker = [sys.executable, "-m", "governance.worker", "work"]
        processes.start("worker1", [*worker, "--with-scheduler"], env)
        processes.start("worker2", worker, env)
        processes.start("periodic", [sys.executable, "-m", "governance.worker", "periodic"], env)
        yield {
            "app": app,
            "env": env,
            "redis": private,
            "processes": processes,
            "base": f"http://127.0.0.1:{port}",
            "worker_argv": worker,
            **seeded,
        }
    finally:
        processes.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


def timed_healthz(base: str) -> tuple[float, int, dict]:
    started = time.monotonic()
    answer = healthz(base)
    assert answer is not None, "the web process did not answer /healthz"
    return time.monotonic() - started, answer[0], answer[1]


def worker_pid_running(redis_url: str, queue: str, rq_id: str) -> int | None:
    """The pid of the worker whose current job is `rq_id` (our workers run jobs in their own process)."""
    from rq import Queue, Worker

    connection = redis.Redis.from_url(redis_url)
    for worker in Worker.all(connection=connection, queue=Queue(queue, connection=connection)):
        if worker.get_current_job_id() == rq_id:
            return worker.pid
    return None


def test_background_work_survives_redis_faults_and_killed_processes(faulty_deployment):
    d = faulty_deployment
    app, base, processes, private = d["app"], d["base"], d["processes"], d["redis"]
    started = time.monotonic()
    try:
        wait_for(lambda: (healthz(base) or (0,))[0] == 200, "/healthz ok: workers live, a periodic round done")

        # Leaders keep filing while Redis is killed and restarted, then frozen: a phone resends a filing
        # that got no answer with the same idempotency key, as the outbox does.
        browser = Browser(base)
        browser.login(d["mobile"])
        acknowledged: dict[str, str] = {}
        stop_filing = __import__("threading").Event()

        def file_continuously():
            n = 0
            while not stop_filing.is_set():
                fields = form({"category": d["category"], "neighbours": d["neighbours"]}, "a", f"故障中登记{n}")
                for _attempt in range(5):
                    try:
                        status, answer = browser.file(fields)
                        acknowledged[fields["idempotency_key"]] = answer["reference"]
                        break
                    except (AssertionError, OSError):
                        time.sleep(0.5)
                n += 1
                time.sleep(0.1)

        with ThreadPoolExecutor(max_workers=1) as pool:
            load = pool.submit(file_continuously)
            time.sleep(1.5)
            private.kill()  # Redis killed mid-load
            for _ in range(3):
                took, status, body = timed_healthz(base)
                assert took < 1.0 and status == 503 and body["checks"]["redis"].startswith("error"), (took, body)
                time.sleep(1)
            private.start()  # back, empty (no persistence): every queued RQ job is gone
            time.sleep(2)
            private.freeze()  # Redis frozen (SIGSTOP)
            for _ in range(3):
                took, status, body = timed_healthz(base)
                assert took < 1.0 and status == 503, (took, body)
                time.sleep(1)
            private.thaw()
            time.sleep(2)
            stop_filing.set()
            load.result(timeout=WAIT)
        assert len(acknowledged) >= 10, acknowledged

        def all_jobs_done():
            rows = job_rows(app)
            return rows if rows and all(j.status == "done" for j in rows) else None

        wait_for(all_jobs_done, "every job to end done after the faults", timeout=45)
        with app.app_context():
            references = list(db.session.scalars(select(Issue.reference)))
            keys = list(db.session.scalars(select(Issue.idempotency_key)))
            assert sorted(references) == sorted(set(references))
            assert sorted(keys) == sorted(set(keys))
            assert set(acknowledged) <= set(keys)  # every acknowledged filing exists, once
            filed = set(db.session.scalars(select(IssueEvent.id).where(IssueEvent.kind == "filed")))
            told = list(db.session.scalars(select(Notification.event_id)))
            assert sorted(told) == sorted(filed)  # the 组长 told once per filing, no more
        assert all(child.poll() is None for name, child in processes.children if not name.startswith("redis1"))
        wait_for(lambda: healthz(base)[0] == 200, "/healthz ok again after the faults")
        assert healthz(base)[1]["checks"]["workers"]["live"] == 2

        # A worker killed while it sends a 企业微信 message: the message is not sent a second time.
        receiver = SlowReceiver(first_delay=4)
        try:
            with app.app_context():
                from governance.models import NotificationChannel

                db.session.add(NotificationChannel(node_id=d["group"], url=receiver.url))
                db.session.commit()
            fields = form({"category": d["category"], "neighbours": d["neighbours"]}, "a", "发消息时进程被杀")
            browser.file(fields)
            wait_for(lambda: receiver.deliveries, "the webhook POST to arrive")
            with app.app_context():
                webhook = db.session.scalar(select(Job).where(Job.kind == "webhook"))
                rq_id = f"govfault-job-{webhook.id}"
            pid = wait_for(lambda: worker_pid_running(private.url, "govfault:jobs", rq_id), "the sending worker")
            os.killpg(pid, signal.SIGKILL)  # mid-POST: the receiver has the message, the worker never hears back
            processes.start("worker3", d["worker_argv"], d["env"])  # what systemd's Restart=always does
            wait_for(all_jobs_done, "the webhook job to end done after its lease", timeout=45)
            assert receiver.deliveries == [rq_id]  # sent once, not twice
            with app.app_context():
                note = db.session.get(Job, webhook.id).last_error
            assert "not sent again" in note
        finally:
            receiver.close()

        # The periodic process killed (at any tick: it runs every second): /healthz says so within its
        # staleness limit; restarted (what the supervisor does), it is "ok" again.
        periodic = dict(processes.children)["periodic"]
        os.killpg(periodic.pid, signal.SIGKILL)
        body = wait_for(lambda: healthz(base)[0] == 503 and healthz(base)[1], "healthz to notice", timeout=15)
        assert "no round completed" in body["checks"]["periodic"]["status"], body
        processes.start("periodic2", [sys.executable, "-m", "governance.worker", "periodic"], d["env"])
        wait_for(lambda: healthz(base)[0] == 200, "/healthz ok with the periodic process back")
    except BaseException:
        print(processes.logs_of_all())
        raise
    assert time.monotonic() - started < 150
