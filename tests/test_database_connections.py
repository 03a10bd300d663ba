"""Pooled PostgreSQL connections (governance.check_idle_connections): one the server closed — a restart, an
administrator, an idle timeout — is replaced before a request runs on it; one given back moments ago is handed
out without a ping, the round trip the old pre-ping spent on every request. SQLite's connections are files,
with no server to lose them, so these run on PostgreSQL only."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from governance.extensions import db

from .conftest import _pg_admin, build_app, make_database

WINDOW = 0.2  # seconds a connection given back counts as "moments ago" in these tests


@pytest.fixture
def pg_app(tmp_path_factory):
    url, drop = make_database("postgresql", tmp_path_factory)
    app = build_app(url, DB_PING_AFTER_IDLE=WINDOW)
    yield app
    with app.app_context():
        db.engine.dispose()
    drop()


def use_the_database(app) -> int:
    """One request's worth of work: check a connection out, read, give it back."""
    with app.app_context():
        value = db.session.scalar(text("SELECT 1"))
        db.session.remove()
    return value


def close_from_the_server(app) -> int:
    """What a restart does to every connection the app holds: the server ends their backends."""
    with app.app_context():
        name = db.engine.url.database
    with _pg_admin() as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()[0]
    return ended


def test_a_connection_the_server_closed_is_replaced_before_a_request_uses_it(pg_app):
    assert use_the_database(pg_app) == 1
    assert close_from_the_server(pg_app) >= 1
    time.sleep(WINDOW * 2)  # a restart takes longer than the window
    assert use_the_database(pg_app) == 1
    close_from_the_server(pg_app)
    time.sleep(WINDOW * 2)
    # and a page that reads the database, through the whole request
    response = pg_app.test_client().get("/open311/v2/services.json")
    assert response.status_code == 200 and response.json


def test_every_pooled_connection_the_server_closed_is_replaced(pg_app):
    with pg_app.app_context():
        held = [db.engine.connect() for _ in range(3)]  # three connections in the pool
        for connection in held:
            connection.execute(text("SELECT 1"))
            connection.close()
    assert close_from_the_server(pg_app) >= 3
    time.sleep(WINDOW * 2)
    with pg_app.app_context():
        for _ in range(3):
            held = [db.engine.connect() for _ in range(3)]
            assert [c.scalar(text("SELECT 1")) for c in held] == [1, 1, 1]
            for connection in held:
                connection.close()


def test_a_connection_given_back_moments_ago_is_handed_out_without_a_ping(pg_app, monkeypatch):
    with pg_app.app_context():
        dialect = db.engine.dialect
    pings = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda connection: pings.append(1) or real_ping(connection))
    use_the_database(pg_app)
    for _ in range(5):
        use_the_database(pg_app)
    assert pings == []  # busy: no round trip spent on pinging
    time.sleep(WINDOW * 2)
    use_the_database(pg_app)
    assert pings == [1]  # idle for longer than the window: pinged once
    use_the_database(pg_app)
    assert pings == [1]
