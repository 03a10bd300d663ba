"""/healthz tells the truth: no worker or no recent periodic round is "degraded", a frozen Redis gives a
prompt 503 (never a hanging check), and its details are for the machine itself or a token holder only.

A frozen Redis is played by a listening socket that never answers: the kernel completes the connection,
nothing ever replies — what a client sees of a Redis stopped with SIGSTOP (tests/test_production.py
stops a real one)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from rq import Queue
from sqlalchemy import select

from governance.extensions import db
from governance.models import AppMeta, Job
from governance.redis_conn import BREAKER
from governance.worker import PERIODIC_META_KEY, Worker, periodic_once
from tests.builders import make_issue, make_person, make_tree, nodes_at


@pytest.fixture
def frozen_redis():
    """The URL of a 'Redis' that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def health(client, **kwargs):
    response = client.get("/healthz", **kwargs)
    return response.status_code, response.get_json()


def test_no_periodic_round_yet_is_degraded_then_ok_after_one(app, client):
    status, body = health(client)
    assert (status, body["status"], body["checks"]["periodic"]) == (503, "degraded", "never completed")
    periodic_once(app)
    status, body = health(client)
    assert (status, body["status"]) == (200, "ok")
    assert body["checks"]["periodic"]["status"] == "ok"
    assert body["checks"]["periodic"]["last_round_seconds_ago"] < 60


def test_a_periodic_round_older_than_three_minutes_is_degraded(app, client):
    periodic_once(app)
    row = db.session.get(AppMeta, PERIODIC_META_KEY)
    row.value = json.dumps({"finished_at": time.time() - 181, "result": {}})
    db.session.commit()
    status, body = health(client)
    assert (status, body["status"]) == (503, "degraded")
    assert body["checks"]["periodic"]["status"] == "no round completed in the last 180 s"


def test_details_only_for_this_machine_or_the_token(app, client):
    periodic_once(app)
    outside = {"environ_base": {"REMOTE_ADDR": "203.0.113.7"}}
    assert health(client, **outside) == (200, {"status": "ok"})
    forwarded = {"headers": {"X-Forwarded-For": "203.0.113.7"}}  # a proxy on this machine
    assert health(client, **forwarded) == (200, {"status": "ok"})
    app.config["HEALTHZ_TOKEN"] = "s3cret-token"
    try:
        wrong = health(client, headers={"Authorization": "Bearer nope"}, **outside)[1]
        assert "checks" not in wrong
        right = health(client, headers={"Authorization": "Bearer s3cret-token"}, **outside)[1]
        assert right["checks"]["database"] == "ok"
    finally:
        app.config["HEALTHZ_TOKEN"] = None
    assert "checks" in health(client)[1]  # from 127.0.0.1, not forwarded


def test_with_redis_and_no_live_worker_it_is_degraded_until_a_worker_beats(redis_app, client):
    periodic_once(redis_app)
    status, body = health(client)
    assert status == 503
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["workers"] == {"live": 0, "registered": 0, "newest_heartbeat_seconds_ago": None}

    connection = __import__("redis").Redis.from_url(redis_app.config["REDIS_URL"])
    worker = Worker([Queue(redis_app.config["REDIS_PREFIX"] + "jobs", connection=connection)], connection=connection)
    worker.register_birth()
    try:
        status, body = health(client)
        assert status == 200, body
        assert body["checks"]["workers"]["live"] == 1
        assert body["checks"]["workers"]["newest_heartbeat_seconds_ago"] < 5
        # A worker that stopped beating (frozen, or killed without unregistering) is not a live one.
        redis_app.config["WORKER_STALE_AFTER"] = 0
        time.sleep(0.05)
        status, body = health(client)
        assert status == 503 and body["checks"]["workers"]["live"] == 0
        assert body["checks"]["workers"]["registered"] == 1
    finally:
        redis_app.config["WORKER_STALE_AFTER"] = 120
        worker.register_death()


def test_frozen_redis_gives_a_prompt_503_not_a_hang(app, client, frozen_redis):
    periodic_once(app)
    app.config["REDIS_URL"] = frozen_redis
    for _ in range(3):
        started = time.monotonic()
        status, body = health(client)
        assert time.monotonic() - started < 1.0
        assert status == 503 and body["checks"]["redis"].startswith("error")
        assert body["checks"]["database"] == "ok"


def test_filing_with_a_frozen_redis_is_quick_and_its_job_waits_pending(app, client, auth, frozen_redis):
    make_tree(neighbours=1)
    make_person("group_leader", nodes_at("group")[0])
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0])
    app.config["REDIS_URL"] = frozen_redis
    auth.login(leader.mobile)
    started = time.monotonic()
    for n in range(3):
        make_issue(leader, title=f"冻结时登记{n}")
        from governance.services.platform import jobs

        jobs.dispatch()
        client.get("/p/")  # a public page: its cache falls back in-process
    # One timeout (half a second) opens the breaker; the rest go straight past Redis.
    assert time.monotonic() - started < 2.5
    assert BREAKER.is_open()
    assert set(db.session.scalars(select(Job.status))) == {"pending"}
