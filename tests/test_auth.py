"""Login, throttling, activation codes, password change and account changes taking effect at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from governance.extensions import db
from governance.models import ActivationCode, LoginFailure, Person, utcnow
from governance.redis_conn import get_redis
from governance.services import accounts
from tests.builders import PASSWORD, make_person, make_tree, nodes_at
from tests.conftest import csrf_from

WRONG = "The mobile number or password is not right."


def english(client):
    client.get("/lang/en")


def leader(level="neighbour", **kwargs):
    make_tree()
    role = {"neighbour": "neighbour_leader", "group": "group_leader", "community": "branch_member"}[level]
    return make_person(role, nodes_at(level)[0], **kwargs)


def test_login_page_is_chinese_by_default(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html


def test_login_success_and_mobile_spellings(app, client, auth):
    person = leader(mobile="13912345678")
    response = client.post(
        "/auth/login",
        data={"mobile": "+86 139-1234-5678", "password": PASSWORD, "csrf_token": auth.token()},
    )
    assert response.status_code == 302
    assert person.name in client.get("/").get_data(as_text=True)


def test_failed_login_does_not_say_which_part_was_wrong(app, client, auth):
    person = leader()
    english(client)
    wrong_password = auth.login(person.mobile, "not-the-password").get_data(as_text=True)
    unknown_number = auth.login("13700000000", PASSWORD).get_data(as_text=True)
    assert WRONG in wrong_password and WRONG in unknown_number
    assert person.mobile in wrong_password  # what was typed is kept
    assert "13700000000" in unknown_number


def test_unactivated_and_disabled_accounts_cannot_log_in(app, client, auth):
    waiting = leader(activated=False)
    english(client)
    assert WRONG in auth.login(waiting.mobile).get_data(as_text=True)
    other = make_person("neighbour_leader", nodes_at("neighbour")[0])
    accounts.set_enabled(other, False)
    db.session.commit()
    assert WRONG in auth.login(other.mobile).get_data(as_text=True)


def throttle_account(auth, mobile, times=5):
    for _ in range(times):
        auth.login(mobile, "wrong-password")


def test_login_throttled_after_five_failures_in_database(app, client, auth):
    person = leader()
    english(client)
    throttle_account(auth, person.mobile)
    response = auth.login(person.mobile, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert db.session.get(LoginFailure, f"m:{person.mobile}").count == 5


def test_login_throttle_window_expires(app, client, auth):
    person = leader()
    throttle_account(auth, person.mobile)
    row = db.session.get(LoginFailure, f"m:{person.mobile}")
    row.window_start = utcnow() - timedelta(minutes=16)
    db.session.commit()
    assert auth.login(person.mobile, PASSWORD).status_code == 302


def test_login_throttle_in_redis(redis_app, client, auth):
    """With Redis configured the counters live there, expire by themselves, and the database stays empty."""
    person = leader()
    throttle_account(auth, person.mobile)
    assert auth.login(person.mobile, PASSWORD).status_code == 429
    redis = get_redis()
    key = redis_app.config["REDIS_PREFIX"] + f"login:m:{person.mobile}"
    assert int(redis.get(key)) == 5
    assert 0 < redis.ttl(key) <= 15 * 60
    assert db.session.scalar(select(LoginFailure).limit(1)) is None
    redis.delete(key)
    assert auth.login(person.mobile, PASSWORD).status_code == 302


def test_login_works_while_redis_is_down(app, client, auth):
    """Redis unreachable: throttling falls back to the database and people can still log in."""
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    person = leader()
    auth.login(person.mobile, "wrong-password")
    assert db.session.get(LoginFailure, f"m:{person.mobile}").count == 1
    assert auth.login(person.mobile, PASSWORD).status_code == 302


def test_open_redirect_refused(app, client, auth):
    person = leader()
    token = auth.token()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            f"/auth/login?next={target}", data={"mobile": person.mobile, "password": PASSWORD, "csrf_token": token}
        )
        assert response.headers["Location"] == "/", target
        auth.logout()
        token = auth.token()


def test_login_redirects_back_to_the_page_asked_for(app, client, auth):
    person = leader()
    node_id = nodes_at("neighbour")[0].id
    response = client.get(f"/tree/{node_id}")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    token = csrf_from(client.get(login_url).get_data(as_text=True))
    response = client.post(login_url, data={"mobile": person.mobile, "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == f"/tree/{node_id}"


def test_login_without_csrf_token_is_refused(app, client):
    person = leader()
    response = client.post("/auth/login", data={"mobile": person.mobile, "password": PASSWORD})
    assert response.status_code == 400


def test_logout_needs_post(app, client, auth):
    leader_person = leader()
    auth.login(leader_person.mobile)
    assert client.get("/auth/logout").status_code == 405
    auth.logout()
    assert client.get("/").status_code == 302


# --- activation codes -------------------------------------------------------------------------


def issue(person):
    (item,) = accounts.issue_codes(None, [person])
    db.session.commit()
    return item.code


def activate(client, mobile, code, password="new-pass-2026", confirm=None):
    token = csrf_from(client.get("/auth/activate").get_data(as_text=True))
    return client.post(
        "/auth/activate",
        data={
            "mobile": mobile,
            "code": code,
            "password": password,
            "confirm": confirm or password,
            "csrf_token": token,
        },
    )


def test_activation_code_sets_first_password_once(app, client, auth):
    person = leader(activated=False)
    code = issue(person)
    assert db.session.scalar(select(ActivationCode.code_hash)) != code  # only a digest is stored
    response = activate(client, person.mobile, code.lower())  # typed in lower case: still fine
    assert response.status_code == 302
    assert person.name in client.get("/").get_data(as_text=True)
    auth.logout()
    assert auth.login(person.mobile, "new-pass-2026").status_code == 302
    auth.logout()
    english(client)
    again = activate(client, person.mobile, code, "another-pass-1")
    assert "activation code is not right" in again.get_data(as_text=True)


def test_a_new_code_revokes_the_old_one(app, client):
    person = leader(activated=False)
    old = issue(person)
    new = issue(person)
    english(client)
    assert "activation code is not right" in activate(client, person.mobile, old).get_data(as_text=True)
    assert activate(client, person.mobile, new).status_code == 302


def test_expired_code_is_refused(app, client):
    person = leader(activated=False)
    code = issue(person)
    row = db.session.scalar(select(ActivationCode))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    english(client)
    assert "activation code is not right" in activate(client, person.mobile, code).get_data(as_text=True)


def test_activation_errors_keep_what_was_typed(app, client):
    person = leader(activated=False)
    code = issue(person)
    english(client)
    html = activate(client, person.mobile, code, "short").get_data(as_text=True)
    assert "at least 8 characters" in html
    assert person.mobile in html and code in html
    html = activate(client, person.mobile, code, "long-enough-1", "different-22").get_data(as_text=True)
    assert "The two passwords differ." in html


def test_wrong_codes_are_throttled(app, client):
    person = leader(activated=False)
    code = issue(person)
    for _ in range(5):
        activate(client, person.mobile, "WRONGCOD")
    assert activate(client, person.mobile, code).status_code == 429


def test_branch_prints_codes_for_a_zone(app, client, auth):
    make_tree(zones=1, groups=2, neighbours=2)
    zone = nodes_at("zone")[0]
    branch = make_person("branch_member", nodes_at("community")[0])
    waiting = [make_person("zone_leader", zone, activated=False)]
    waiting += [make_person("group_leader", g, activated=False) for g in nodes_at("group")]
    waiting += [make_person("neighbour_leader", n, activated=False) for n in nodes_at("neighbour")]
    active = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(branch.mobile)
    english(client)
    page = client.get(f"/admin/codes/{zone.id}").get_data(as_text=True)
    assert "7 people here have not activated" in page  # ngettext: plural form
    sheet = auth.post(f"/admin/codes/{zone.id}", form_page=f"/admin/codes/{zone.id}").get_data(as_text=True)
    for person in waiting:
        assert person.mobile in sheet
    assert active.mobile not in sheet
    assert db.session.scalar(select(db.func.count()).select_from(ActivationCode)) == 7


# --- sessions end when the account changes ----------------------------------------------------


def test_password_change_ends_other_sessions(app, auth):
    person = leader()
    phone, laptop = app.test_client(), app.test_client()
    from tests.conftest import Auth

    phone_auth, laptop_auth = Auth(phone), Auth(laptop)
    phone_auth.login(person.mobile)
    laptop_auth.login(person.mobile)
    response = phone_auth.post(
        "/auth/password",
        {"current": PASSWORD, "password": "brand-new-9", "confirm": "brand-new-9"},
        form_page="/auth/password",
    )
    assert response.status_code == 302
    assert phone.get("/").status_code == 200  # this device stays in
    assert laptop.get("/").status_code == 302  # the other one is out
    assert laptop_auth.login(person.mobile, "brand-new-9").status_code == 302


def test_password_change_checks_current_password(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    english(client)
    html = auth.post(
        "/auth/password",
        {"current": "nope-nope", "password": "brand-new-9", "confirm": "brand-new-9"},
        form_page="/auth/password",
    ).get_data(as_text=True)
    assert "The current password is not right." in html


def test_disabling_takes_effect_on_the_next_request(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    assert client.get("/").status_code == 200
    accounts.set_enabled(db.session.get(Person, person.id), False)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_removing_a_role_takes_effect_on_the_next_request(app, client, auth):
    person = leader("group")
    group = nodes_at("group")[0]
    auth.login(person.mobile)
    assert client.get(f"/tree/{group.id}").status_code == 200
    accounts.remove_role(db.session.get(Person, person.id).roles[0])
    db.session.commit()
    assert client.get(f"/tree/{group.id}").status_code == 403


def test_admin_disables_through_the_page(app, client, auth):
    make_tree()
    branch = make_person("branch_member", nodes_at("community")[0])
    target = make_person("neighbour_leader", nodes_at("neighbour")[0])
    victim_client = app.test_client()
    from tests.conftest import Auth

    Auth(victim_client).login(target.mobile)
    auth.login(branch.mobile)
    response = auth.post(f"/admin/people/{target.id}/enabled", {"enable": "0"}, form_page=f"/admin/people/{target.id}")
    assert response.status_code == 302
    assert victim_client.get("/").status_code == 302
    assert not db.session.get(Person, target.id).enabled


def test_session_cookie_flags(app, client, auth):
    person = leader()
    response = auth.login(person.mobile)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
