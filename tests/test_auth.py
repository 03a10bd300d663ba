"""Login, throttling, activation codes, password change and account changes taking effect at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from governance.extensions import db
from governance.models import ActivationCode, LoginFailure, Person, utcnow
from governance.redis_conn import get_redis
from governance.services.people import accounts
from tests.builders import PASSWORD, make_person, make_tree, nodes_at
from tests.conftest import csrf_from, take_redis_away

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
    # a never-activated account is told so (tests/test_account_recovery.py); a disabled one only "not right"
    assert "has not been activated yet" in auth.login(waiting.mobile).get_data(as_text=True)
    other = make_person("neighbour_leader", nodes_at("neighbour")[0])
    accounts.set_enabled(None, other, False)
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
    # this address has used its 5 tries on this number: locked out until the window ends, and told so
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert db.session.get(LoginFailure, f"m:{person.mobile}").count == 5  # the refused try is not counted
    # refused a few minutes later too, right password or not
    for row in db.session.scalars(select(LoginFailure)):
        row.window_start = row.window_start - timedelta(minutes=4)
    db.session.commit()
    later = auth.login(person.mobile, PASSWORD)
    assert later.status_code == 429
    assert 10 * 60 < int(later.headers["Retry-After"]) <= 11 * 60


def test_login_throttle_window_expires(app, client, auth):
    person = leader()
    throttle_account(auth, person.mobile)
    for row in db.session.scalars(select(LoginFailure)):
        row.window_start = utcnow() - timedelta(minutes=16)
    db.session.commit()
    assert auth.login(person.mobile, PASSWORD).status_code == 302


def test_login_throttle_in_redis(redis_app, client, auth):
    """With Redis configured the counters live there, expire by themselves, and the database stays empty."""
    person = leader()
    throttle_account(auth, person.mobile)
    assert auth.login(person.mobile, PASSWORD).status_code == 429
    redis = get_redis()
    prefix = redis_app.config["REDIS_PREFIX"] + "login:"
    key = prefix + f"m:{person.mobile}"
    assert int(redis.get(key)) == 5
    assert 0 < redis.ttl(key) <= 15 * 60
    assert db.session.scalar(select(LoginFailure).limit(1)) is None
    redis.delete(key, prefix + f"p:{person.mobile}|127.0.0.1")
    assert auth.login(person.mobile, PASSWORD).status_code == 302


def from_address(app, address: str, forwarded_for: str | None = None):
    """A client whose requests come from `address` (and carry X-Forwarded-For when given), with its Auth."""
    from tests.conftest import Auth

    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client, Auth(client)


def test_a_stranger_cannot_lock_a_leader_out(app, monkeypatch):
    """Wrong guesses from one address refuse that address; the leader elsewhere waits a little, then gets in."""
    monkeypatch.setitem(app.config, "LOGIN_DELAY_BASE", 1)
    monkeypatch.setitem(app.config, "LOGIN_DELAY_MAX", 1)
    person = leader()
    _, stranger = from_address(app, "198.51.100.7")
    throttle_account(stranger, person.mobile, times=8)
    assert stranger.login(person.mobile, PASSWORD).status_code == 429  # even the right password, from there
    _, phone = from_address(app, "203.0.113.20")
    first = phone.login(person.mobile, PASSWORD)
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"  # slowed, not locked
    time.sleep(1.1)
    assert phone.login(person.mobile, PASSWORD).status_code == 302
    # after the leader's login the stranger is still refused on that number
    assert stranger.login(person.mobile, "wrong-again").status_code == 429


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(app, monkeypatch):
    """Every request comes from the proxy (10.0.0.1): with TRUSTED_PROXIES=1 the client is X-Forwarded-For's."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    person = leader()
    _, noisy = from_address(app, "10.0.0.1", "203.0.113.5")
    for n in range(30):
        noisy.login(f"1380000{n:04d}", "wrong-password")
    assert noisy.login(person.mobile, PASSWORD).status_code == 429
    _, other = from_address(app, "10.0.0.1", "203.0.113.6")
    assert other.login(person.mobile, PASSWORD).status_code == 302


def test_forwarded_addresses_are_ignored_without_trusted_proxies(app):
    """TRUSTED_PROXIES=0 (the default): a made-up X-Forwarded-For does not escape the per-address limit."""
    assert app.config["TRUSTED_PROXIES"] == 0
    person = leader()
    for n in range(30):
        from_address(app, "198.51.100.9", f"192.0.2.{n}")[1].login(f"1380000{n:04d}", "wrong-password")
    assert from_address(app, "198.51.100.9", "192.0.2.200")[1].login(person.mobile, PASSWORD).status_code == 429


def race_guesses(app, mobile: str, monkeypatch, tries: int = 29) -> int:
    """`tries` wrong guesses on the same number from one address, all at once; returns how many passwords
    were actually checked."""
    checked, lock = [], threading.Lock()
    real_check = accounts.check_password_hash

    def counting_check(stored, given):
        with lock:
            checked.append(given)
        time.sleep(0.05)  # a real hash takes this long: the window the race needs
        return real_check(stored, given)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    start = threading.Barrier(tries)

    def attempt(password):
        with app.app_context():
            start.wait()
            try:
                accounts.authenticate(mobile, password, "198.51.100.44")
                db.session.commit()
            except accounts.AccountError:
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(f"wrong-{n}",)) for n in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(checked)


def test_concurrent_guesses_are_counted_before_any_is_checked(app, monkeypatch):
    person = leader()
    db.session.commit()
    assert race_guesses(app, person.mobile, monkeypatch) <= app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    _, same_place = from_address(app, "198.51.100.44")
    assert same_place.login(person.mobile, PASSWORD).status_code == 429


def test_concurrent_guesses_are_counted_before_any_is_checked_in_redis(redis_app, monkeypatch):
    person = leader()
    db.session.commit()
    assert race_guesses(redis_app, person.mobile, monkeypatch) <= redis_app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    _, same_place = from_address(redis_app, "198.51.100.44")
    assert same_place.login(person.mobile, PASSWORD).status_code == 429


def test_login_works_while_redis_is_down(app, client, auth):
    """Redis unreachable: throttling falls back to the database and people can still log in."""
    take_redis_away(app)
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
    accounts.set_enabled(None, db.session.get(Person, person.id), False)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_removing_a_role_takes_effect_on_the_next_request(app, client, auth):
    person = leader("group")
    group = nodes_at("group")[0]
    auth.login(person.mobile)
    assert client.get(f"/tree/{group.id}").status_code == 200
    accounts.remove_role(None, db.session.get(Person, person.id).roles[0])
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


def test_change_password_form_is_throttled_like_login(app, client, auth):
    """The form must not be an unlimited oracle for the current password."""
    person = leader()
    auth.login(person.mobile)
    english(client)

    def change(current):
        data = {"current": current, "password": "brand-new-9", "confirm": "brand-new-9"}
        return auth.post("/auth/password", data, form_page="/auth/password")

    for n in range(5):
        assert "The current password is not right." in change(f"guess-{n}").get_data(as_text=True)
    response = change(PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert db.session.get(Person, person.id).auth_version == person.auth_version  # nothing changed


def test_open311_address_limit_counts_the_client_behind_the_proxy(redis_app, monkeypatch):
    monkeypatch.setitem(redis_app.config, "TRUSTED_PROXIES", 1)
    monkeypatch.setitem(redis_app.config, "OPEN311_IP_RATE_LIMIT", "2/minute")
    noisy, _ = from_address(redis_app, "10.0.0.1", "203.0.113.5")
    assert [noisy.get("/open311/v2/services.json").status_code for _ in range(3)] == [200, 200, 429]
    other, _ = from_address(redis_app, "10.0.0.1", "203.0.113.6")
    assert other.get("/open311/v2/services.json").status_code == 200


# --- the password rule (NIST SP 800-63B) -------------------------------------------------------------


def test_common_repeated_and_sequential_passwords_are_refused(app):
    for weak in ("12345678", "password", "aaaaaaaa", "87654321", "qwertyuiop", "abcabcabc", "Password1", "iloveyou"):
        assert accounts.password_problem(weak) == "too_common", weak
    assert accounts.password_problem("short1") == "too_short"
    assert accounts.password_problem("my13800000001pw", "13800000001") == "contains_mobile"
    for fine in (PASSWORD, "brand-new-9", "马上就到了家门口", "correct horse battery"):
        assert accounts.password_problem(fine) is None, fine


def test_weak_new_password_is_refused_with_the_real_rule(app, client, auth):
    person = leader()
    auth.login(person.mobile)
    english(client)
    html = auth.post(
        "/auth/password",
        {"current": PASSWORD, "password": "password", "confirm": "password"},
        form_page="/auth/password",
    ).get_data(as_text=True)
    assert "commonly used password" in html and "12345678" in html
    assert "mix letters and digits" not in html
    assert accounts.check_password_hash(db.session.get(Person, person.id).password_hash, PASSWORD)  # unchanged
