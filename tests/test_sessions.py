"""Sessions end on the server: at logout, after the idle timeout and at the absolute lifetime; the CSRF
token is a new one after login."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from governance.extensions import db
from governance.models import LoginSession, utcnow
from tests.builders import make_person, make_tree, nodes_at
from tests.conftest import Auth, csrf_from


def leader():
    make_tree()
    return make_person("neighbour_leader", nodes_at("neighbour")[0])


def copy_cookies(source, target) -> None:
    """Give `target` every cookie `source` holds (a cookie stolen or copied from the phone)."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_a_cookie_copied_before_logout_is_dead_after_it(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    copy = app.test_client()
    copy_cookies(client, copy)
    assert copy.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert copy.get("/").status_code == 302  # to the login page
    assert client.get("/").status_code == 302
    assert db.session.scalar(select(LoginSession.revoked_at)) is not None


def test_idle_session_ends(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    row = db.session.scalar(select(LoginSession))
    row.last_seen_at = utcnow() - app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_activity_keeps_a_session_alive(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    row = db.session.scalar(select(LoginSession))
    row.last_seen_at = utcnow() - app.config["SESSION_IDLE_TIMEOUT"] + timedelta(minutes=5)
    db.session.commit()
    assert client.get("/").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(LoginSession)).last_seen_at > utcnow() - timedelta(minutes=1)


def test_session_ends_at_its_absolute_lifetime_even_when_active(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    row = db.session.scalar(select(LoginSession))
    row.created_at = utcnow() - app.config["SESSION_ABSOLUTE_LIFETIME"] - timedelta(minutes=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_csrf_token_is_new_after_login(app, client, auth):
    person = leader()
    before = csrf_from(client.get("/auth/login").get_data(as_text=True))
    auth.login(person.mobile)
    after = csrf_from(client.get("/").get_data(as_text=True))
    assert before != after
    # a form filled in before the login (its token planted by someone else) is refused after it
    assert client.post("/auth/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/").status_code == 200


def test_password_change_revokes_every_other_session_row(app):
    person = leader()
    phone, laptop = Auth(app.test_client()), Auth(app.test_client())
    phone.login(person.mobile)
    laptop.login(person.mobile)
    phone.post(
        "/auth/password",
        {"current": "password-123", "password": "brand-new-9", "confirm": "brand-new-9"},
        form_page="/auth/password",
    )
    live = db.session.scalars(select(LoginSession).where(LoginSession.revoked_at.is_(None))).all()
    assert len(live) == 1
    assert phone.client.get("/").status_code == 200


def test_the_periodic_round_removes_dead_logins_and_old_failure_counters(app):
    from datetime import timedelta

    from sqlalchemy import func, select

    from governance.extensions import db
    from governance.models import LoginFailure, LoginSession, utcnow
    from governance.worker import periodic_once
    from tests.builders import make_person, make_tree, nodes_at

    make_tree(neighbours=1)
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    now = utcnow()
    rows = {
        "live": LoginSession(token_hash="a" * 64, person_id=person.id, created_at=now, last_seen_at=now),
        "revoked": LoginSession(
            token_hash="b" * 64, person_id=person.id, created_at=now, last_seen_at=now, revoked_at=now
        ),
        "idle": LoginSession(
            token_hash="c" * 64, person_id=person.id, created_at=now, last_seen_at=now - timedelta(days=4)
        ),
        "too old": LoginSession(
            token_hash="d" * 64, person_id=person.id, created_at=now - timedelta(days=31), last_seen_at=now
        ),
    }
    db.session.add_all(rows.values())
    db.session.add_all(
        [
            LoginFailure(key="recent", count=3, window_start=now),
            LoginFailure(key="old", count=3, window_start=now - timedelta(hours=1)),
        ]
    )
    db.session.commit()
    assert periodic_once(app)["logins_removed"] == 3
    assert list(db.session.scalars(select(LoginSession.token_hash))) == ["a" * 64]
    assert list(db.session.scalars(select(LoginFailure.key))) == ["recent"]
    assert db.session.scalar(select(func.count()).select_from(LoginSession)) == 1


def test_a_request_that_changes_nothing_in_the_session_sends_no_cookie(app, client, auth):
    """A browser loads a page's styles and scripts, and the service worker its imports, alongside what the
    person does. Had those answers carried the session cookie as it was when they started, one finishing
    just after a login would put the logged-out cookie back (seen: a login that led straight back to the
    login page). Only a request that changes the session sets the cookie; the login row's absolute lifetime
    is the cookie's own, so nothing needs refreshing."""
    person = leader()
    client.get("/auth/login")
    before_login = app.test_client()
    copy_cookies(client, before_login)
    auth.login(person.mobile)
    for path in ("/static/css/app.css", "/sw.js", "/auth/login"):
        response = before_login.get(path)  # started before the login, answered after it
        assert response.headers.getlist("Set-Cookie") == [], path
    assert client.get("/").status_code == 200
    for path in ("/", "/static/css/app.css", "/issues/"):
        assert client.get(path).headers.getlist("Set-Cookie") == [], path
