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
from governance.models import Person
from governance.services.people import accounts
from governance.services.platform import throttle
from tests.builders import PASSWORD, make_person, make_tree, nodes_at
from tests.conftest import csrf_from
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
    assert find_all(html, ".login-help a[href='/auth/activate']")


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
