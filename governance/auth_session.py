"""How a session cookie maps to a person, checked afresh on every request.

A login is a `login_session` row: the signed cookie carries the person's id and auth_version (a password
change or disabling bumps it, ending every other session) and a random token whose digest is the row's key.
A request is logged in only while that row exists, is not revoked (logout revokes it on the server, so a
cookie copied before the logout is worth nothing after it), was seen within SESSION_IDLE_TIMEOUT and was
created within SESSION_ABSOLUTE_LIFETIME. Logging in starts a fresh session: whatever the browser's session
held before (but its language) is dropped, and the CSRF token is a new one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db
from .models import LoginSession, Person, RoleAssignment, utcnow
from .services.public import page_cache

log = logging.getLogger("governance.auth_session")
SESSION_TOKEN = "sid"
# last_seen_at is written at most this often per session (a write per request would cost more than it tells).
TOUCH_EVERY = timedelta(minutes=1)
# What a new login keeps of the browser's session from before it.
KEPT_AT_LOGIN = ("lang",)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _live(row: LoginSession) -> bool:
    """Whether this request's login_session row may still log its person in (noting its activity)."""
    now = utcnow()
    cfg = current_app.config
    if (
        row.revoked_at is not None
        or row.last_seen_at + cfg["SESSION_IDLE_TIMEOUT"] < now
        or row.created_at + cfg["SESSION_ABSOLUTE_LIFETIME"] < now
    ):
        return False
    if row.last_seen_at + TOUCH_EVERY < now:
        _touch(row.id, now)
        set_committed_value(row, "last_seen_at", now)  # a kept login (_kept_login) notes it once, not per read
    return True


def _touch(row_id: int, now) -> None:
    """Note the session's activity on a connection of its own (the request may never commit: a GET view)."""
    try:
        with db.engine.begin() as conn:
            conn.execute(update(LoginSession).where(LoginSession.id == row_id).values(last_seen_at=now))
    except Exception:  # noqa: BLE001 - a missed touch only shortens the idle window; the request goes on
        log.warning("could not note the activity of login session %s", row_id, exc_info=True)


@functools.cache
def _person_statement():
    """The one statement of every logged-in request: the person, this session's row, the person's roles with
    their nodes (which every page's policy checks and menus read), and their unread inbox count (the top
    bar's badge). Built once: only its two parameters change."""
    from .services.platform.notify import unread_sql

    return (
        select(Person, LoginSession, unread_sql(Person.id))
        .join(LoginSession, LoginSession.person_id == Person.id)
        .where(Person.id == bindparam("person_id"), LoginSession.token_hash == bindparam("token_hash"))
        .options(joinedload(Person.roles).joinedload(RoleAssignment.node))
    )


def load_person(session_id: str) -> Person | None:
    """Flask-Login user loader: the id must exist, be enabled, carry the current auth version and a live
    login_session row. One statement (_person_statement), or none for a page read with a kept login
    (_kept_login)."""
    try:
        person_id, version = (int(part) for part in session_id.split("."))
    except (ValueError, AttributeError):
        return None
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str) or not token:
        return None
    params = {"person_id": person_id, "token_hash": _digest(token)}
    if request.method in READ_METHODS:
        found = _kept_login(params)
    else:
        found = db.session.execute(_person_statement(), params).unique().first()
    if found is None:
        return None
    person, row, unread = found
    if person.auth_version != version or not person.is_active or not _live(row):
        return None
    person.unread_at_load = unread
    return person


# --- the kept login of page reads ----------------------------------------------------------------
# A page read (GET, HEAD) takes its login from this worker's copy when the same session read it moments ago: no
# statement at all for a page that is kept too. The copy is one the page cache keeps beside its pages
# (page_cache.kept_value): dropped at once on any change to the tree (roles, nodes), or to the person's own row,
# login rows (a logout, a password change) or inbox messages (the unread count) — someone else's leave it — on every
# worker (near_cache.py), and read again after at most KEEP_LOGIN_FOR seconds whatever happens. Writes (POST) always
# read the login in their own transaction. The copy's objects belong to no session and are never handed out: each
# request gets its own instances of the person, roles and nodes, merged into its session without a statement (what
# was not read with them loads as usual).
READ_METHODS = ("GET", "HEAD")
KEEP_LOGIN_FOR = 10  # seconds: the most a change heard of by no one (a worker cut off from Redis) could live


def login_tags(person_id: int) -> tuple[str, ...]:
    """What a person's kept login is dropped by: the tree, a write to one of their rows of the login tables, or a
    write to those tables that named no one (page_cache.PERSON_COLUMNS)."""
    return ("tree", *page_cache.person_rows(person_id, page_cache.LOGIN_TABLES))


def _kept_login(params: dict):
    name = f"login|{params['person_id']}|{params['token_hash']}"
    kept = page_cache.kept_value(
        login_tags(params["person_id"]),
        name,
        lambda apart: apart.execute(_person_statement(), params).unique().first(),
        KEEP_LOGIN_FOR,
    )
    if kept is None:
        return None
    person, row, unread = kept
    return db.session.merge(person, load=False), row, unread


def _dead(now):
    """A login_session row that can never log anyone in again: revoked, idle too long, or too old."""
    cfg = current_app.config
    return or_(
        LoginSession.revoked_at.is_not(None),
        LoginSession.created_at < now - cfg["SESSION_ABSOLUTE_LIFETIME"],
        LoginSession.last_seen_at < now - cfg["SESSION_IDLE_TIMEOUT"],
    )


def remove_dead() -> int:
    """Delete every dead login row and every login-failure counter whose window has passed (the periodic
    round runs it; commits nothing). Returns how many login rows went."""
    from .models import LoginFailure

    now = utcnow()
    removed = db.session.execute(delete(LoginSession).where(_dead(now))).rowcount
    window = timedelta(seconds=int(current_app.config["LOGIN_THROTTLE_WINDOW"]))
    db.session.execute(delete(LoginFailure).where(LoginFailure.window_start < now - window))
    return removed


def start(person: Person) -> None:
    """Log a person in on this device: a new login_session row, a fresh session and a new CSRF token.
    Call after the request's other writes; the row is committed with them."""
    kept = {name: session[name] for name in KEPT_AT_LOGIN if name in session}
    session.clear()
    session.update(kept)
    g.pop("csrf_token", None)  # Flask-WTF's per-request cache of the old token
    now = utcnow()
    # The person's own dead rows go now; everybody else's with the periodic round (remove_dead).
    db.session.execute(
        delete(LoginSession).where(LoginSession.person_id == person.id, _dead(now)),
        execution_options=page_cache.naming_people([person.id]),
    )
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(token_hash=_digest(token), person_id=person.id, created_at=now, last_seen_at=now))
    db.session.flush()
    session[SESSION_TOKEN] = token
    session.permanent = True
    login_user(person)


def end() -> None:
    """Log out: revoke this session's row on the server, then forget the person in the cookie."""
    token = session.pop(SESSION_TOKEN, None)
    if isinstance(token, str) and token:
        # The row is the logged-in person's (one of theirs, or none: a stale cookie); with no one, its table.
        person_id = getattr(current_user, "id", None)
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == _digest(token), LoginSession.revoked_at.is_(None))
            .values(revoked_at=utcnow()),
            execution_options=page_cache.naming_people([person_id]) if person_id is not None else {},
        )
    logout_user()
    g.pop("csrf_token", None)
    session.pop("csrf_token", None)


def end_all(person: Person) -> None:
    """Revoke every session of a person (a password change; the caller then starts this device's anew)."""
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.person_id == person.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow()),
        execution_options=page_cache.naming_people([person.id]),
    )


def _load_early() -> None:
    """Load the person at the start of every request, before any view writes: the activity note uses a
    connection of its own, which on SQLite would wait for a request holding the write lock. Static files and
    the Open311 API (which reads no cookie) are left alone."""
    if request.endpoint == "static" or request.blueprint == "open311":
        return
    current_user._get_current_object()


def configure(login_manager, app=None) -> None:
    """Wire the loader and the login page into Flask-Login."""
    login_manager.user_loader(load_person)
    login_manager.login_view = "auth.login"
    # No session protection: a login is a server-side row (revoked at logout, idle and absolute limits), and
    # Flask-Login's "basic" mode only marks a session non-fresh, which no page uses. That mark was written
    # into an anonymous session on its second request (a service-worker or script fetch beside the login
    # form), whose cookie could then land after the login's and log the person out again.
    login_manager.session_protection = None
    if app is not None:
        app.before_request(_load_early)
