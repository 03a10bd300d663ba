"""Background jobs: the outbox, in-process and on a real RQ worker, failures, Redis outages, webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Job, Notification, NotificationChannel, Person
from governance.services.platform import jobs
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import take_redis_away

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def filer(app):
    make_tree(neighbours=1)
    make_person("group_leader", nodes_at("group")[0], name="组长", mobile="13911112222")
    return make_person("neighbour_leader", nodes_at("neighbour")[0], name="邻长")


def inbox_of(mobile):
    return list(
        db.session.scalars(
            select(Notification).join(Person, Person.id == Notification.person_id).where(Person.mobile == mobile)
        )
    )


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_in_process_job_runs_after_commit(filer):
    issue = make_issue(filer)
    job = db.session.scalar(select(Job))
    assert job.status == "pending" and job.kind == "notify"
    jobs.dispatch()
    db.session.refresh(job)
    assert job.status == "done" and job.attempts == 1
    assert len(inbox_of("13911112222")) == 1
    assert issue.reference in inbox_of("13911112222")[0].text


def test_a_job_runs_once_however_often_it_is_handed_over(filer):
    make_issue(filer)
    job_id = db.session.scalar(select(Job.id))
    assert jobs.execute(job_id) == "done"
    assert jobs.execute(job_id) == "skipped"
    assert count(Notification) == 1


def test_rolled_back_work_leaves_no_job(filer):
    make_issue(filer, commit=False)
    db.session.rollback()
    jobs.dispatch()
    assert count(Job) == 0


@jobs.handler("test_boom")
def _boom(payload):
    raise RuntimeError("kaboom " + payload.get("word", ""))


def test_two_transactions_writing_the_same_job_at_once_make_one_and_both_go_on(app):
    """A job's dedupe key is written once whoever writes it: the second of two transactions writing the same key
    at the same moment waits for the first, then gets the first's job instead of failing on the unique key."""
    import time

    written, first_wrote, outcomes = [], threading.Event(), []

    def write(hold: float):
        with app.app_context():
            try:
                if hold:
                    job = jobs.defer("notify", {"event_id": 1}, dedupe_key="notify:event:1")
                    first_wrote.set()
                    time.sleep(hold)  # the second writes while this one has not committed yet
                else:
                    first_wrote.wait(10)
                    job = jobs.defer("notify", {"event_id": 1}, dedupe_key="notify:event:1")
                written.append(job.id)
                db.session.info.pop("jobs_uncommitted", None)  # not dispatched: this test is about the row
                db.session.commit()
                outcomes.append("ok")
            except Exception as error:  # noqa: BLE001 - the outcome is what the test asserts
                db.session.rollback()
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(hold,)) for hold in (0.5, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == ["ok", "ok"], outcomes
    assert len(set(written)) == 1
    assert db.session.scalar(select(func.count(Job.id)).where(Job.dedupe_key == "notify:event:1")) == 1


def test_failures_are_recorded_retried_and_finally_visible(app, client):
    job = jobs.defer("test_boom", {"word": "once"})
    job.max_attempts = 2
    db.session.commit()
    with pytest.raises(RuntimeError):
        jobs.execute(job.id)
    db.session.refresh(job)
    assert job.status == "queued" and job.attempts == 1 and "kaboom once" in job.last_error
    with pytest.raises(RuntimeError):
        jobs.execute(job.id)
    db.session.refresh(job)
    assert job.status == "failed" and job.attempts == 2
    assert client.get("/healthz").get_json()["checks"]["jobs"]["failed"] == 1


class Receiver:
    """A local HTTP endpoint standing in for the 企业微信 group robot."""

    def __init__(self, status=200):
        self.bodies, self.delivery_ids = [], []
        received, delivered, code = self.bodies, self.delivery_ids, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                delivered.append(self.headers.get("X-Delivery-Id"))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode":0,"errmsg":"ok"}' if code == 200 else b"{}")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cgi-bin/webhook/send?key=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_channel_posts_wecom_text_with_mentions(filer):
    receiver = Receiver()
    try:
        db.session.add(NotificationChannel(node_id=nodes_at("group")[0].id, url=receiver.url))
        db.session.commit()
        issue = make_issue(filer, title="路灯不亮")
        jobs.dispatch()
        assert len(receiver.bodies) == 1
        body = receiver.bodies[0]
        assert body["msgtype"] == "text"
        assert issue.reference in body["text"]["content"] and "路灯不亮" in body["text"]["content"]
        assert body["text"]["mentioned_mobile_list"] == ["13911112222"]
    finally:
        receiver.close()


def test_webhook_failure_is_retried_not_swallowed(filer):
    receiver = Receiver(status=500)
    try:
        db.session.add(NotificationChannel(node_id=nodes_at("group")[0].id, url=receiver.url))
        db.session.commit()
        make_issue(filer)
        jobs.dispatch()
        webhook = db.session.scalar(select(Job).where(Job.kind == "webhook"))
        assert webhook.status == "queued" and webhook.attempts == 1 and "500" in webhook.last_error
        assert db.session.scalar(select(Job).where(Job.kind == "notify")).status == "done"
    finally:
        receiver.close()


def run_rq_worker(app) -> subprocess.CompletedProcess:
    """A real worker process (`python -m governance.worker work --burst`, what the Procfile runs, with
    --burst) on the test's database and Redis namespace."""
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    return subprocess.run(
        [sys.executable, "-m", "governance.worker", "work", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_real_rq_worker_runs_the_job_once(redis_app, filer):
    make_issue(filer)
    jobs.dispatch()
    job = db.session.scalar(select(Job))
    assert job.status == "queued"
    jobs.enqueue([job.id])  # handed over twice: still runs once
    result = run_rq_worker(redis_app)
    assert result.returncode == 0, result.stderr[-2000:]
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert job.status == "done" and job.attempts == 1
    assert count(Notification) == 1


def test_redis_down_at_filing_loses_nothing(redis_app, filer):
    live_url = redis_app.config["REDIS_URL"]
    take_redis_away(redis_app)  # Redis is down while the issue is filed
    issue = make_issue(filer)
    jobs.dispatch()
    assert db.session.get(type(issue), issue.id) is not None
    job = db.session.scalar(select(Job))
    assert job.status == "pending"
    redis_app.config["REDIS_URL"] = live_url  # Redis is back: the relay hands the work over
    redis_app.extensions.pop("redis_client", None)
    assert jobs.relay(grace=timedelta(0)) == 1
    assert jobs.relay(grace=timedelta(0)) == 0  # already in Redis: not handed over twice
    result = run_rq_worker(redis_app)
    assert result.returncode == 0, result.stderr[-2000:]
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == "done"
    assert count(Notification) == 1
