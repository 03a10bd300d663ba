"""Activation slips with their address and QR code, help for leaders who cannot log in, and new codes.

A leader holds a printed slip: the address of the activation page, a QR code that opens it with the
leader's number filled in, and the code, typed by hand. A leader who cannot log in is told why (not
activated yet, too many tries: until when) and what to do; the community branch, or an admin above it,
issues a new one-time code (a password-reset code once the account is active), printed the same way.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import BEIJING
from governance.models import ActivationCode, AuditEntry, LoginSession, Person, utcnow
from governance.services.people import accounts
from governance.services.platform import throttle
from tests.builders import PASSWORD, make_person, make_tree, nodes_at
from tests.conftest import Auth, csrf_from
from tests.pages import find_all, text_of

pytestmark = pytest.mark.usefixtures("english")

SITE = "https://wangcheng.example.cn"


def zone_with_waiting_leaders():
    """A 片 with a not-activated 组长 and two not-activated 邻长, an active 邻长, and the community's branch."""
    make_tree(zones=1, groups=1, neighbours=2)
    zone = nodes_at("zone")[0]
    branch = make_person("branch_member", nodes_at("community")[0], name="支部王芳")
    waiting = [make_person("group_leader", nodes_at("group")[0], activated=False)]
    waiting += [make_person("neighbour_leader", n, activated=False) for n in nodes_at("neighbour")]
    active = make_person("neighbour_leader", nodes_at("neighbour")[0], name="已激活邻长")
    return zone, branch, waiting, active


def print_sheet(client, auth, branch, zone) -> str:
    auth.login(branch.mobile)
    response = auth.post(f"/admin/codes/{zone.id}", form_page=f"/admin/codes/{zone.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def qr_path(html_or_svg: str) -> list[str]:
    """The drawing (the path data) of every QR code in a page."""
    return re.findall(r'<path[^>]* d="([^"]+)"', html_or_svg)


# --- the printed slip -------------------------------------------------------------------------------


def test_each_slip_prints_the_activation_address_and_a_qr_code_of_it(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    sheet = print_sheet(client, auth, branch, zone)
    for person in waiting:
        assert f"http://localhost/auth/activate?mobile={person.mobile}" in sheet, person.mobile  # to type
    from governance.qr import qr_svg

    drawn = qr_path(sheet)
    for person in waiting:
        link = f"http://localhost/auth/activate?mobile={person.mobile}"
        assert qr_path(qr_svg(link, "x"))[0] in drawn, person.mobile  # and as the QR code that opens it
    assert len(drawn) == len(waiting)


def test_a_printed_sheet_is_in_the_audit_log_as_one_decision_with_a_line_per_slip(app, client, auth):
    """Printing a 片's sheet issues new codes (any earlier one stops working): who did it, for whom, once."""
    zone, branch, waiting, active = zone_with_waiting_leaders()
    print_sheet(client, auth, branch, zone)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "activation_code_issued")).all()
    assert sorted(e.detail for e in entries) == sorted(f"{p.name}（{p.mobile}）" for p in waiting)
    assert {e.actor_id for e in entries} == {branch.id}
    assert len({e.batch for e in entries}) == 1 and entries[0].batch  # one bulk action in the log
    assert {e.community_id for e in entries} == {nodes_at("community")[0].id}
    assert active.mobile not in " ".join(e.detail for e in entries)


def test_the_code_is_on_the_slip_but_not_in_its_link(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    sheet = print_sheet(client, auth, branch, zone)
    codes = re.findall(r'class="code">([0-9A-Z]{4}) ([0-9A-Z]{4})<', sheet)
    assert len(codes) == len(waiting)
    for first, second in codes:
        assert first + second not in sheet.replace(f"{first} {second}", "")  # nowhere but where it is printed
    assert "code=" not in sheet


def test_slips_use_public_base_url(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    app.config["PUBLIC_BASE_URL"] = SITE
    try:
        sheet = print_sheet(client, auth, branch, zone)
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    assert f"{SITE}/auth/activate?mobile={waiting[0].mobile}" in sheet
    assert "localhost" not in sheet


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("13912345678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),  # full-width digits, as a Chinese keyboard types them
    ],
)
def test_the_activation_page_fills_in_the_number_from_the_link(app, client, given, shown):
    response = client.get("/auth/activate", query_string={"mobile": given})
    assert response.status_code == 200
    assert re.search(rf'id="mobile"[^>]*value="{shown}"', response.get_data(as_text=True))


@pytest.mark.parametrize(
    "given",
    ["", "12345", "1391234567８9", "١٣٩١٢٣٤٥٦٧٨", '13912345678"><script>', "9" * 5000, "13912345678x"],
)
def test_a_bad_number_in_the_link_is_left_out(app, client, given):
    response = client.get("/auth/activate", query_string={"mobile": given})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r'id="mobile"[^>]*value="[^"]', html)  # the field is empty
    assert '"><script>' not in html


def test_a_prefilled_number_is_only_a_suggestion(app, client):
    """What the leader types wins over the link: the form posts what is in the field."""
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0], activated=False)
    page = client.get("/auth/activate", query_string={"mobile": "13700000000"}).get_data(as_text=True)
    assert 'value="13700000000"' in page
    (item,) = accounts.issue_codes(None, [person])
    db.session.commit()
    response = client.post(
        "/auth/activate?mobile=13700000000",
        data={
            "mobile": person.mobile,
            "code": item.code,
            "password": "hunan-2024-ok",
            "confirm": "hunan-2024-ok",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Person.password_hash).where(Person.id == person.id))


# --- the login page: help, and saying why a login failed ------------------------------------------------

NOT_ACTIVATED = "This number has not been activated yet"
WRONG = "The mobile number or password is not right."


def beijing_clock_in(seconds: int) -> datetime:
    return datetime.now(BEIJING) + timedelta(seconds=seconds)


def test_the_login_page_says_what_to_do_without_a_password(app, client):
    html = client.get("/auth/login").get_data(as_text=True)
    text = text_of(html, ".login-help")
    assert "Forgot your password?" in text and "Not activated yet?" in text
    assert "activation code" in text  # activate with the code on the slip
    assert "community party branch" in text  # who gives a new one
    assert find_all(html, ".login-help a[href='/auth/activate']")  # first time: activate
    assert find_all(html, ".login-help a[href='/auth/reset']")  # forgotten: the reset code's page


def test_the_login_help_is_chinese_by_default(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh")
    text = text_of(client.get("/auth/login").get_data(as_text=True), ".login-help")
    assert "忘记密码" in text and "还没激活" in text and "社区党支部" in text


def test_a_not_activated_leader_is_told_to_activate(app, client, auth):
    make_tree()
    waiting = make_person("neighbour_leader", nodes_at("neighbour")[0], activated=False)
    response = auth.login(waiting.mobile, "anything-typed")
    html = response.get_data(as_text=True)
    assert NOT_ACTIVATED in html and WRONG not in html
    assert f'href="/auth/activate?mobile={waiting.mobile}"' in html  # straight to the form, number filled in
    # still a failed attempt: counted like any other, so guessing stays as slow as it was
    assert throttle.count(f"m:{waiting.mobile}") == 1


def test_wrong_passwords_unknown_and_disabled_numbers_still_say_only_that_it_is_not_right(app, client, auth):
    make_tree()
    active = make_person("neighbour_leader", nodes_at("neighbour")[0])
    disabled = make_person("neighbour_leader", nodes_at("neighbour")[0], activated=False)
    disabled.enabled = False
    db.session.commit()
    for mobile, password in ((active.mobile, "wrong-password"), ("13700000000", "x"), (disabled.mobile, "x")):
        html = auth.login(mobile, password).get_data(as_text=True)
        assert WRONG in html and NOT_ACTIVATED not in html, mobile


def lockout_text(app, auth, mobile: str) -> tuple[str, int]:
    for _ in range(5):
        auth.login(mobile, "wrong-password")
    response = auth.login(mobile, "wrong-password")
    assert response.status_code == 429
    return text_of(response.get_data(as_text=True), ".field.has-error .error"), int(response.headers["Retry-After"])


def assert_says_until_when(text: str, retry_after: int) -> None:
    match = re.search(r"try again after (\d\d:\d\d)", text)
    assert match, text
    shown = match.group(1)
    # the window started with the first of the five tries, moments ago: about 15 minutes from now
    allowed = {beijing_clock_in(s).strftime("%H:%M") for s in range(13 * 60, 16 * 60 + 1, 30)}
    assert shown in allowed, (shown, sorted(allowed))
    assert 13 * 60 <= retry_after <= 15 * 60
    assert "community party branch" in text and "new code" in text


def test_a_locked_out_leader_is_told_when_to_try_again_and_who_can_help(app, client, auth):
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    assert_says_until_when(*lockout_text(app, auth, person.mobile))
    # as strict as before: the right password from this phone is refused too until then
    assert auth.login(person.mobile, PASSWORD).status_code == 429


def test_the_lockout_text_with_redis(redis_app, client, auth):
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0])
    assert_says_until_when(*lockout_text(redis_app, auth, person.mobile))
    assert auth.login(person.mobile, PASSWORD).status_code == 429


# --- a new code for one leader: a password reset -------------------------------------------------------

NEW_PASSWORD = "xiangjiang-2026"


@pytest.fixture
def community(app):
    """Two communities of one street: a branch in each, an active 邻长 and 组长 in the first, its street admin."""
    make_tree(communities=2, zones=1, groups=1, neighbours=1)
    first, second = nodes_at("community")
    return {
        "branch": make_person("branch_member", first, name="支部王芳"),
        "other_branch": make_person("branch_member", second, name="支部李强"),
        "fellow_branch": make_person("branch_member", first, name="支部赵敏"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街道管理员"),
        "leader": make_person("neighbour_leader", nodes_at("neighbour")[0], name="邻长陈秀英"),
        "group_leader": make_person("group_leader", nodes_at("group")[0], name="组长刘建国"),
        "zone": nodes_at("zone")[0],
    }


def issue_from_person_page(client, auth, issuer: Person, other: Person):
    """Log in as `issuer` and press the person page's code button for `other`; the answer (the slip, or 403)."""
    auth.login(issuer.mobile)
    return auth.post(f"/admin/people/{other.id}/code", form_page=f"/admin/people/{issuer.id}")


def printed_code(sheet: str) -> str:
    (first, second) = re.search(r'class="code">([0-9A-Z]{4}) ([0-9A-Z]{4})<', sheet).groups()
    return first + second


def use_code(client, mobile: str, code: str, password: str = NEW_PASSWORD, page: str = "/auth/reset"):
    form = client.get(page, query_string={"mobile": mobile}).get_data(as_text=True)
    return client.post(
        page,
        data={"mobile": mobile, "code": code, "password": password, "confirm": password, "csrf_token": csrf_from(form)},
    )


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_the_person_page_offers_a_reset_code_for_an_active_leader(app, client, auth, community):
    auth.login(community["branch"].mobile)
    page = client.get(f"/admin/people/{community['leader'].id}").get_data(as_text=True)
    assert "Issue a password-reset code" in page
    assert f'action="/admin/people/{community["leader"].id}/code"' in page


def test_the_codes_page_lists_the_active_leaders_for_a_reset(app, client, auth, community):
    auth.login(community["branch"].mobile)
    page = client.get(f"/admin/codes/{community['zone'].id}").get_data(as_text=True)
    resets = find_all(page, ".reset-list li")
    assert {text_of(li, ".who") for li in resets} >= {"邻长陈秀英", "组长刘建国"}
    for person in (community["leader"], community["group_leader"]):
        assert find_all(page, f".reset-list form[action='/admin/people/{person.id}/code'] button")


def test_the_branch_prints_a_reset_slip_and_the_audit_says_who_for_whom(app, client, auth, community):
    leader, branch = community["leader"], community["branch"]
    response = issue_from_person_page(client, auth, branch, leader)
    assert response.status_code == 200
    sheet = response.get_data(as_text=True)
    assert "Password reset" in text_of(sheet, ".slip-kicker")
    assert "Reset code" in text_of(sheet, ".slip-facts")
    link = f"http://localhost/auth/reset?mobile={leader.mobile}"
    assert link in sheet
    from governance.qr import qr_svg

    assert qr_path(qr_svg(link, "x"))[0] in qr_path(sheet)
    code = printed_code(sheet)
    [entry] = entries("reset_code_issued")
    assert entry.actor_id == branch.id
    assert leader.name in entry.detail and leader.mobile in entry.detail
    assert entry.community_id == nodes_at("community")[0].id
    assert code not in entry.detail and code[:4] not in entry.detail  # never the code itself
    audit_page = client.get("/admin/audit/").get_data(as_text=True)
    assert "Password-reset code issued" in audit_page and leader.name in audit_page


def test_a_reset_code_sets_a_new_password_and_ends_every_other_session(app, client, auth, community):
    leader = community["leader"]
    laptop = app.test_client()
    Auth(laptop).login(leader.mobile)
    assert laptop.get("/").status_code == 200
    laptop_row_id = db.session.scalar(select(LoginSession.id).where(LoginSession.person_id == leader.id))
    code = printed_code(issue_from_person_page(client, auth, community["branch"], leader).get_data(as_text=True))
    auth.logout()
    version = leader.auth_version

    phone = app.test_client()
    response = use_code(phone, leader.mobile, code)
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert phone.get("/").status_code == 200  # logged in on the phone with the new password
    assert laptop.get("/").status_code == 302  # the laptop's session has ended
    db.session.expire_all()
    assert db.session.get(Person, leader.id).auth_version > version
    # ended on the server too: the laptop's login row is revoked (and then cleared away); only the phone's lives
    rows = list(db.session.scalars(select(LoginSession).where(LoginSession.person_id == leader.id)))
    assert [row.id for row in rows if row.revoked_at is None] == [max(row.id for row in rows)]
    assert laptop_row_id not in [row.id for row in rows if row.revoked_at is None]
    fresh = app.test_client()
    assert Auth(fresh).login(leader.mobile, PASSWORD).status_code == 200  # the old password no longer works
    assert Auth(fresh).login(leader.mobile, NEW_PASSWORD).status_code == 302
    # single use
    again = use_code(app.test_client(), leader.mobile, code, "another-pass-77")
    assert again.status_code == 200 and "not right" in again.get_data(as_text=True)
    [used] = entries("password_reset")
    assert used.actor_id == leader.id and code not in used.detail


def test_a_new_code_replaces_the_one_before(app, client, auth, community):
    leader = community["leader"]
    first = printed_code(issue_from_person_page(client, auth, community["branch"], leader).get_data(as_text=True))
    second = printed_code(auth.post(f"/admin/people/{leader.id}/code").get_data(as_text=True))
    assert use_code(app.test_client(), leader.mobile, first).status_code == 200  # refused: replaced
    assert use_code(app.test_client(), leader.mobile, second).status_code == 302


def test_a_reset_code_expires_like_an_activation_code(app, client, auth, community):
    leader = community["leader"]
    code = printed_code(issue_from_person_page(client, auth, community["branch"], leader).get_data(as_text=True))
    row = db.session.scalar(select(ActivationCode).where(ActivationCode.person_id == leader.id))
    assert row.expires_at - row.issued_at == app.config["ACTIVATION_CODE_TTL"]
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = use_code(app.test_client(), leader.mobile, code)
    assert response.status_code == 200 and "expired" in response.get_data(as_text=True)


def locked_out_then_reset(app, client, auth, community):
    """The leader locks their own phone out, the branch issues a code, the leader uses it on that phone."""
    leader = community["leader"]
    phone = app.test_client()
    for _ in range(6):
        Auth(phone).login(leader.mobile, "wrong-password")
    assert Auth(phone).login(leader.mobile, PASSWORD).status_code == 429
    code = printed_code(issue_from_person_page(client, auth, community["branch"], leader).get_data(as_text=True))
    response = use_code(phone, leader.mobile, code)
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    Auth(phone).logout()
    assert Auth(phone).login(leader.mobile, NEW_PASSWORD).status_code == 302


def test_a_locked_out_leader_can_use_the_new_code_on_the_same_phone(app, client, auth, community):
    locked_out_then_reset(app, client, auth, community)


def test_a_locked_out_leader_can_use_the_new_code_with_redis(redis_app, client, auth, community):
    locked_out_then_reset(redis_app, client, auth, community)


def test_a_never_activated_leader_gets_a_new_activation_code_the_same_way(app, client, auth, community):
    waiting = make_person("neighbour_leader", nodes_at("neighbour")[0], name="未激活邻长", activated=False)
    sheet = issue_from_person_page(client, auth, community["branch"], waiting).get_data(as_text=True)
    assert "Account activation" in text_of(sheet, ".slip-kicker")
    assert f"http://localhost/auth/activate?mobile={waiting.mobile}" in sheet
    [entry] = entries("activation_code_issued")
    assert entry.actor_id == community["branch"].id and waiting.name in entry.detail
    assert use_code(app.test_client(), waiting.mobile, printed_code(sheet), page="/auth/activate").status_code == 302
    assert entries("account_activated")[0].actor_id == waiting.id


@pytest.mark.parametrize("issuer", ["other_branch", "fellow_branch", "group_leader", "leader"])
def test_no_code_outside_the_issuers_scope(app, client, auth, community, issuer):
    """Another community's branch, a fellow branch member, a 组长 over the 邻长, the leader themself: refused."""
    target = community["leader"] if issuer != "fellow_branch" else community["branch"]
    response = issue_from_person_page(client, auth, community[issuer], target)
    assert response.status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(ActivationCode)) == 0
    assert db.session.scalar(select(db.func.count()).select_from(AuditEntry)) == 0


def test_an_admin_above_the_branch_may_issue_one(app, client, auth, community):
    response = issue_from_person_page(client, auth, community["street"], community["branch"])
    assert response.status_code == 200
    assert entries("reset_code_issued")[0].actor_id == community["street"].id


def test_no_code_for_a_disabled_account(app, client, auth, community):
    leader = community["leader"]
    leader.enabled = False
    db.session.commit()
    auth.login(community["branch"].mobile)
    assert "Issue a password-reset code" not in client.get(f"/admin/people/{leader.id}").get_data(as_text=True)
    response = auth.post(f"/admin/people/{leader.id}/code", follow_redirects=True)
    assert "disabled" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(ActivationCode)) == 0


def test_the_reset_page_shares_the_activation_form(app, client):
    html = client.get("/auth/reset", query_string={"mobile": "13912345678"}).get_data(as_text=True)
    assert text_of(html, "h1") == "Set a new password"
    assert re.search(r'id="mobile"[^>]*value="13912345678"', html)
    assert find_all(html, "#code") and find_all(html, "#password") and find_all(html, "#confirm")
