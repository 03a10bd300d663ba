"""A page read takes its login from the worker's copy (auth_session._kept_login), and nothing about a login
that changed is ever read from it: a logout, a password change, a disabled account, a role ended or a new
inbox message is on the very next request, on whichever worker — with Redis (each worker's copy hears every
announced change, near_cache.py) and without it (one process). A second worker is played by the same app with
its own Redis client and copy (conftest.another_worker).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from governance import auth_session
from governance.extensions import db
from governance.models import ENDED_ROLE_REASONS, LoginSession, Notification, Person, RoleAssignment, utcnow
from governance.services.people import turnover
from governance.services.platform import notify
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import Auth, Statements, elsewhere, settle_near_copy, take_redis_away
from tests.pages import find, issue_cards
from tests.test_sessions import copy_cookies

PASSWORD = "password-123"


@pytest.fixture
def zone_leader(app):
    make_tree(zones=1, groups=1, neighbours=1)
    return make_person("zone_leader", nodes_at("zone")[0])


def logged_in(app, person: Person):
    client = app.test_client()
    assert Auth(client).login(person.mobile, PASSWORD).status_code == 302
    return client


def warm(app, client, path: str = "/issues/") -> None:
    """Read the page until this worker holds both the page and the login."""
    assert client.get(path).status_code == 200
    if app.config.get("REDIS_URL"):
        settle_near_copy(app)
    assert client.get(path).status_code == 200


def test_a_kept_page_with_a_kept_login_sends_no_statement(served, zone_leader):
    client = logged_in(served, zone_leader)
    warm(served, client)
    with Statements() as sent:
        assert client.get("/issues/").status_code == 200
    assert sent.count == 0, sent.statements


def test_a_logout_ends_a_copied_cookie_at_once(served, zone_leader):
    phone = logged_in(served, zone_leader)
    stolen = served.test_client()
    copy_cookies(phone, stolen)
    warm(served, stolen)
    with elsewhere(served):
        assert Auth(phone).logout().status_code == 302
    assert stolen.get("/issues/").status_code == 302  # to the login page


def test_a_password_change_ends_every_other_session_at_once(served, zone_leader):
    laptop = logged_in(served, zone_leader)
    warm(served, laptop)
    with elsewhere(served):
        phone = Auth(served.test_client())
        phone.login(zone_leader.mobile, PASSWORD)
        phone.post(
            "/auth/password",
            {"current": PASSWORD, "password": "brand-new-9", "confirm": "brand-new-9"},
            form_page="/auth/password",
        )
    assert laptop.get("/issues/").status_code == 302


def test_a_disabled_account_is_out_at_once(served, zone_leader):
    client = logged_in(served, zone_leader)
    warm(served, client)
    with elsewhere(served):
        db.session.get(Person, zone_leader.id).enabled = False
        db.session.commit()
    assert client.get("/issues/").status_code == 302


def test_a_role_ended_is_gone_from_the_next_page(served, zone_leader):
    issue = make_issue(make_person("neighbour_leader", nodes_at("neighbour")[0]))
    client = logged_in(served, zone_leader)
    warm(served, client)
    assert [card["reference"] for card in issue_cards(client.get("/issues/").get_data(as_text=True))] == [
        issue.reference
    ]
    with elsewhere(served):
        roles = db.session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == zone_leader.id)).all()
        turnover.end_roles(None, roles, ENDED_ROLE_REASONS[0])
        db.session.commit()
    assert issue_cards(client.get("/issues/").get_data(as_text=True)) == []


def test_a_new_message_is_counted_on_the_next_page(served, zone_leader):
    client = logged_in(served, zone_leader)
    warm(served, client, "/")
    for expected in ("1", "2"):
        with elsewhere(served):
            db.session.add(Notification(person_id=zone_leader.id, kind="escalated", text="消息"))
            db.session.commit()
        badge = find(client.get("/").get_data(as_text=True), "a.inbox-link .count")
        assert badge is not None and badge.get_text() == expected


def message_row(person_id: int) -> dict:
    """An inbox message as the notify job writes them, in bulk (a Core INSERT … ON CONFLICT DO NOTHING)."""
    return dict(person_id=person_id, issue_id=None, event_id=None, kind="escalated", text="消息", created_at=utcnow())


def test_a_message_written_in_bulk_is_counted_on_the_next_page(served, zone_leader):
    """The notify job's INSERT names the people it writes to: their kept logins go, no one else's."""
    client = logged_in(served, zone_leader)
    warm(served, client, "/")
    with elsewhere(served):
        notify.insert_ignoring_duplicates([message_row(zone_leader.id)])
        db.session.commit()
    badge = find(client.get("/").get_data(as_text=True), "a.inbox-link .count")
    assert badge is not None and badge.get_text() == "1"


def test_someone_elses_login_and_messages_leave_this_login_kept(served, zone_leader):
    """Logins and inbox messages are tagged by their person: another leader logging in, reading and getting
    messages (one by the ORM, one in bulk) does not make this leader's login be read again."""
    other = make_person("group_leader", nodes_at("group")[0])
    client = logged_in(served, zone_leader)
    warm(served, client)
    with elsewhere(served):
        assert logged_in(served, other).get("/inbox/").status_code == 200
        notify.insert_ignoring_duplicates([message_row(other.id)])
        db.session.add(Notification(person_id=other.id, kind="escalated", text="消息"))
        db.session.commit()
    with Statements() as sent:
        assert client.get("/issues/").status_code == 200
    assert sent.count == 0, sent.statements


def test_a_change_no_one_heard_of_shows_within_the_time_a_login_is_kept(served, zone_leader, monkeypatch):
    """Revoked behind the ORM's back (a manual fix on the database): no hook hears of it, the copy is read
    again after KEEP_LOGIN_FOR seconds."""
    from governance.services.public import page_cache

    client = logged_in(served, zone_leader)
    warm(served, client)
    with db.engine.begin() as conn:
        conn.execute(update(LoginSession).values(revoked_at=LoginSession.created_at))
    if served.config.get("REDIS_URL"):  # the write may take longer than Redis's vouching lasts on a busy machine
        settle_near_copy(served)
    start = page_cache.now()
    monkeypatch.setattr(page_cache, "now", lambda: start + auth_session.KEEP_LOGIN_FOR - 1)
    assert client.get("/issues/").status_code == 200  # still the kept login
    monkeypatch.setattr(page_cache, "now", lambda: start + auth_session.KEEP_LOGIN_FOR)
    assert client.get("/issues/").status_code == 302


def test_with_redis_held_off_every_read_checks_the_login(redis_app, zone_leader):
    """While the breaker holds Redis off, another worker's logout would go unheard: nothing is kept."""
    client = logged_in(redis_app, zone_leader)
    take_redis_away(redis_app)
    client.get("/issues/")
    with Statements() as sent:
        assert client.get("/issues/").status_code == 200
    assert any("login_session" in statement for statement in sent.statements)


def test_a_kept_login_notes_activity_once_a_minute_not_on_every_read(served, zone_leader, monkeypatch):
    client = logged_in(served, zone_leader)
    warm(served, client)
    later = auth_session.utcnow() + auth_session.TOUCH_EVERY + timedelta(seconds=1)
    monkeypatch.setattr(auth_session, "utcnow", lambda: later)
    with Statements() as sent:
        for _ in range(3):
            assert client.get("/issues/").status_code == 200
    touches = [s for s in sent.statements if s.lstrip().upper().startswith("UPDATE LOGIN_SESSION")]
    assert len(touches) == 1
    assert db.session.scalar(select(LoginSession.last_seen_at)) == later


def test_a_write_reads_the_login_in_its_own_transaction(served, zone_leader):
    client = logged_in(served, zone_leader)
    warm(served, client)
    token = Auth(client).token("/")
    with Statements() as sent:
        client.post("/auth/logout", data={"csrf_token": token})
    assert any("login_session" in s and s.lstrip().upper().startswith("SELECT") for s in sent.statements)
