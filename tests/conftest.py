"""Fixtures: every database test runs on SQLite and on the real PostgreSQL; Redis tests on real Redis.

A server that cannot be reached fails the tests that need it; nothing is skipped.
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import time
import uuid
from contextlib import contextmanager

import pytest
from flask import current_app, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import Phase, settings
from sqlalchemy import select, text

from governance import create_app
from governance.extensions import db
from governance.redis_conn import BREAKER
from governance.services.issues.reference import seed_defaults
from governance.services.public import page_cache

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# An address where no Redis answers (port 1): the app's client fails at once, as with Redis down.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"
TEST_SECRET = "test-secret-" + "x" * 40
ENGINES = os.environ.get("TEST_ENGINES", "sqlite,postgresql").split(",")

# Property tests in the suite generate and report: no shrinking and no "explain" phase, which on a
# failing lifecycle can run for minutes and push the suite past its time budget before reporting.
# To get the minimal failing example, re-run the one test with `--hypothesis-profile=shrink`.
settings.register_profile("suite", phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True)
settings.register_profile("shrink", phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


def _pg_admin():
    """An autocommit connection to the server's maintenance database `test`."""
    import psycopg

    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def drop_abandoned(conn) -> None:
    """Drop test databases left by runs that were killed (their process no longer exists)."""
    names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'gov\\_test\\_%'")]
    for name in names:
        pid = name.split("_")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_database(engine: str, tmp_path_factory) -> tuple[str, callable]:
    """A fresh empty database of the given engine, and a function that drops it."""
    if engine == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        return f"sqlite:///{path}", lambda: None
    name = f"gov_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with _pg_admin() as conn:
        drop_abandoned(conn)
        conn.execute(f'CREATE DATABASE "{name}"')
        # A test database that is dropped at the end need not wait for each commit to reach the disk (measured:
        # tests/test_issue_pages.py on PostgreSQL 28.0 s -> 26.5 s). Durability in production is untouched.
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop():
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


class IsolatedClient(FlaskClient):
    """Each request runs in an app context of its own, as in production, even while the test holds one.

    Otherwise Flask reuses the test's context: `g` (and Flask-Login's cached user) and the database
    session would leak from one request, and one client, to the next.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # what the request changed is read afresh by the test
        return response


def build_app(database_url: str, **overrides):
    """A testing app on the given database, migrated to head."""
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None, "SECRET_KEY": TEST_SECRET}
    settings.update(overrides)
    app = create_app("testing", settings)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session", params=ENGINES)
def engine_name(request):
    """'sqlite' or 'postgresql': every test that uses the database runs once on each."""
    return request.param


@pytest.fixture(scope="session")
def _session_app(engine_name, tmp_path_factory):
    url, drop = make_database(engine_name, tmp_path_factory)
    app = build_app(url)
    yield app
    with app.app_context():
        db.engine.dispose()
    drop()


@functools.cache
def _sequences() -> tuple[str, ...]:
    """The PostgreSQL sequences behind the tables' ids (the schema does not change within a run)."""
    return tuple(db.session.scalars(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")))


def clean_database() -> None:
    """Empty every table (keeping the schema) so the next test starts from nothing."""
    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE of every table costs ~140 ms a test
        # (files are swapped per table) against a few ms. The replica role lifts every trigger for this one
        # transaction — the append-only ledger's guards (migrations 0004, 0015) and the foreign-key checks,
        # so the order does not matter — and the sequences start again at 1, as RESTART IDENTITY did.
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
        statements = [f'DELETE FROM "{t}"' for t in tables]
        statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in _sequences()]
        db.session.connection().exec_driver_sql("; ".join(statements))
    else:
        # The append-only ledger's triggers (migration 0004) refuse DELETE, as they should. Emptying
        # the database between tests is the one deliberate exception: lift them for the DELETEs and put
        # the very same definitions back (read from sqlite_master) in the same transaction.
        guards = db.session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'ledger_entry%'")
        ).all()
        for name, _sql in guards:
            db.session.execute(text(f'DROP TRIGGER "{name}"'))
        # Foreign keys stay on: break the node ↔ compound cycle, then delete children before parents.
        db.session.execute(text("UPDATE node SET compound_id = NULL"))
        for table in reversed(tables):
            db.session.execute(text(f'DELETE FROM "{table}"'))
        for _name, sql in guards:
            db.session.execute(text(sql))
    seed_defaults()  # categories and SLA policy, as the migration leaves them
    db.session.commit()
    # The in-process page cache outlives the rows its pages were made from, and the ids start again at 1;
    # the public front door's remembered requests (blueprints/public/front.py) go with it.
    page_cache.clear()
    current_app.extensions["public_front"].forget()


@pytest.fixture
def app(_session_app):
    """The app with an application context pushed; the database is emptied afterwards."""
    with _session_app.app_context():
        yield _session_app
        db.session.rollback()
        db.session.remove()
        _session_app.config["REDIS_URL"] = None
        _session_app.extensions.pop("redis_client", None)
        BREAKER.reset()  # a test that pointed at a dead Redis must not leave the next one without Redis
        clean_database()


PUBLIC_SITE = "https://wangcheng.example.cn"


@pytest.fixture
def base_url(app):
    """PUBLIC_BASE_URL set, as production requires (tests run without it: links then come from the Host)."""
    app.config["PUBLIC_BASE_URL"] = PUBLIC_SITE
    yield PUBLIC_SITE
    app.config["PUBLIC_BASE_URL"] = None


@pytest.fixture
def client(app):
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for `flask …` commands."""
    return app.test_cli_runner()


@pytest.fixture
def english(app, monkeypatch):
    """Pages and messages in English, the source language (a module asks with usefixtures("english")).

    Their Chinese wording is checked by test_translations; the setting is put back after the test.
    """
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")


def take_redis_away(app) -> None:
    """Point the app at an address where no Redis answers, dropping the client it holds (Redis is down)."""
    app.config["REDIS_URL"] = DEAD_REDIS_URL
    app.extensions.pop("redis_client", None)


@contextmanager
def another_worker(app):
    """Run the block as a second worker would: the app's Redis client and its copy of kept pages
    (near_cache.py) are set aside and new ones made — its own connections, as a second gunicorn process has —
    then this worker's are put back (the second worker's channel closed)."""
    mine = {name: app.extensions.pop(name, None) for name in ("redis_client", "page_cache_near")}
    try:
        yield
    finally:
        other = app.extensions.get("page_cache_near")
        if other is not None:
            other.close()
        app.extensions.update(mine)


def settle_near_copy(app) -> None:
    """Wait (a second at most) until this worker's announcement channel has answered a PING, so its copy of
    kept pages may be served."""
    copy = app.extensions["page_cache_near"]
    for _ in range(1000):
        with copy.lock:
            copy._read_channel()
            if copy._trusted():
                return
        time.sleep(0.001)
    raise AssertionError("the channel never answered")


@contextmanager
def elsewhere(app):
    """Where a change is made: another worker when there is Redis (this worker then waits until Redis answered
    it again, so its copy is not dropped as one Redis stopped vouching for), else the one process."""
    if not app.config.get("REDIS_URL"):
        yield
        return
    with another_worker(app):
        yield
    settle_near_copy(app)


@pytest.fixture(params=["one process", "redis"])
def served(request, app):
    """The app as deployed: one process without Redis, or workers sharing Redis."""
    if request.param == "redis":
        return request.getfixturevalue("redis_app")
    return app


@pytest.fixture
def redis_app(app):
    """The app pointed at the real Redis, in a key namespace of its own that is deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
    client.ping()  # fails loudly when Redis is down: this test needs it
    token = uuid.uuid4().hex
    prefix = f"govtest:{token}:"
    app.config.update(REDIS_URL=REDIS_TEST_URL, REDIS_PREFIX=prefix)
    app.extensions.pop("redis_client", None)
    BREAKER.reset()
    yield app
    # Our keys, and RQ's keys for our queue and jobs (they carry the same token).
    for key in client.scan_iter(match=f"*{token}*", count=1000):
        client.delete(key)
    client.close()


class Statements:
    """The SQL statements the app's engine sends while active (`with Statements() as sent:`): `sent.count`,
    and `sent.statements` to print when a budget is exceeded."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _seen(self, _conn, _cursor, statement, *_args):
        self.statements.append(statement)

    def __enter__(self):
        from sqlalchemy import event

        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(db.engine, "before_cursor_execute", self._seen)

    def __str__(self) -> str:
        return "\n".join(f"{n + 1}. {s[:200]}" for n, s in enumerate(self.statements))


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def hidden_value(html: str, name: str) -> str:
    """The value of the first hidden input called `name` on a page (a form's idempotency key, say)."""
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden {name} on the page"
    return match.group(1)


class Auth:
    """Log in and out through the real forms (flaskr's `auth` fixture)."""

    def __init__(self, client):
        self.client = client

    def token(self, url: str = "/auth/login") -> str:
        return csrf_from(self.client.get(url).get_data(as_text=True))

    def login(self, mobile: str, password: str = "password-123"):
        return self.client.post(
            "/auth/login", data={"mobile": mobile, "password": password, "csrf_token": self.token()}
        )

    def logout(self):
        token = csrf_from(self.client.get("/").get_data(as_text=True))
        return self.client.post("/auth/logout", data={"csrf_token": token})

    def post(self, url: str, data: dict | None = None, form_page: str | None = None, **kwargs):
        """POST with a CSRF token taken from `form_page` (default: the home page)."""
        payload = dict(data or {})
        payload["csrf_token"] = csrf_from(self.client.get(form_page or "/").get_data(as_text=True))
        return self.client.post(url, data=payload, **kwargs)


def logged_in_clients(app, holders: dict, roles) -> dict:
    """A client per role, each logged in through the form as that role's holder (each keeps its own session)."""
    clients = {}
    for role in roles:
        client = app.test_client()
        assert Auth(client).login(holders[role].mobile).status_code == 302
        clients[role] = client
    return clients


@pytest.fixture
def auth(client):
    """Log in as someone through the login form."""
    return Auth(client)


@pytest.fixture
def uploads(app, tmp_path):
    """Photos and receipt scans go to a directory of this test's own."""
    before = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = before


@pytest.fixture
def fresh_public_cache():
    """The in-process cache of public pages is per worker and outlives a test's database: start without it."""
    from governance.services.public import page_cache

    page_cache.clear()
    yield
    page_cache.clear()


def export_entries() -> list:
    """The audit log's entries of exported tables (action "export"), oldest first."""
    from governance.models import AuditEntry

    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export").order_by(AuditEntry.id)))
