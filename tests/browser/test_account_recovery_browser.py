"""The printed slip's QR link on a 360 px phone: a leader activates with the printed code, and a leader who
locked the phone out gets a password-reset slip from the branch and sets a new password with it."""

from __future__ import annotations

import re

import pytest

from governance.extensions import db
from governance.models import Person
from governance.qr import qr_svg
from tests.browser.conftest import PHONE_HEIGHT, PHONE_WIDTH
from tests.builders import PASSWORD, make_node, make_person, make_tree

pytestmark = pytest.mark.browser

NEW_PASSWORD = "xiangjiang-2026"


def pruisburg():
    """A community like the real ones: its branch, a 片 with a 组 and two 邻, leaders on each."""
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    zone = make_node(community, "zone", "第1片（普瑞斯堡小区东区）")
    group = make_node(zone, "group", "第1片第1组")
    first = make_node(group, "neighbour", "1栋1单元")
    second = make_node(group, "neighbour", "1栋2单元")
    people = {
        "branch": make_person("branch_member", community, name="党支部书记杨红"),
        "waiting": make_person("neighbour_leader", first, name="李建国", activated=False),
        "active": make_person("neighbour_leader", second, name="王秀英"),
        "group": make_person("group_leader", group, name="刘德华"),
    }
    db.session.commit()
    return zone, people


def big_enough_buttons(phone) -> list[str]:
    """Visible buttons (and links drawn as buttons) shorter than 44 px."""
    return phone.page.evaluate(
        """() => [...document.querySelectorAll('button, .button, input[type=submit]')]
              .filter(el => el.getBoundingClientRect().height > 0 && el.getBoundingClientRect().height < 44)
              .map(el => `${el.innerText.trim()} ${Math.round(el.getBoundingClientRect().height)}px`)"""
    )


def english_words(phone) -> list[str]:
    """Latin words in the page's main part (the Chinese interface): addresses, codes and numbers aside."""
    text = phone.page.evaluate(
        """() => { const main = document.querySelector('main').cloneNode(true);
                   main.querySelectorAll('.slip-url, .code, svg').forEach(el => el.remove());
                   return main.innerText; }"""
    )
    return re.findall(r"[A-Za-z]{2,}", re.sub(r"https?://\S+", "", text))


def check(phone, step: str):
    """The usual checks (fits 360 px, no CSP violation, nothing external) and: buttons ≥ 44 px, no English."""
    shot = phone.check(step)
    assert not big_enough_buttons(phone), f"{step}: buttons under 44px: {big_enough_buttons(phone)}"
    assert not english_words(phone), f"{step}: English in the Chinese page: {english_words(phone)}"
    return shot


def read_slip(phone, live_server) -> tuple[str, str]:
    """The one slip on the sheet: the address it prints (its QR code drawing that same address) and the code."""
    slip = phone.page.locator(".slip")
    assert slip.count() == 1
    link = slip.locator(".slip-url").inner_text().strip()
    assert link.startswith(live_server.url)
    drawn = slip.locator("svg.qr path").get_attribute("d")
    expected = re.search(r' d="([^"]+)"', str(qr_svg(link, "x"))).group(1)
    assert drawn == expected, "the QR code must open the address printed under it"
    code = slip.locator(".code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4} [0-9A-Z]{4}", code)
    return link, code


def log_out(phone) -> None:
    phone.tap(phone.page.locator(".topnav form[action$='/auth/logout'] button"))
    assert phone.path.startswith("/auth/login")


def test_a_leader_activates_from_the_printed_slip(phone, live_server):
    zone, people = pruisburg()
    waiting = people["waiting"]

    phone.log_in(people["branch"].mobile)
    phone.goto(f"/admin/codes/{zone.id}")
    phone.tap("main form.issue-codes button")
    check(phone, "activation-slip")
    phone.check_print("activation-slip-paper")
    link, code = read_slip(phone, live_server)
    assert link == live_server(f"/auth/activate?mobile={waiting.mobile}")
    log_out(phone)

    # the leader scans the QR code: the activation form opens with the number filled in
    phone.page.goto(link)
    assert phone.path.startswith("/auth/activate")
    assert phone.page.input_value("#mobile") == waiting.mobile
    assert phone.page.input_value("#code") == "", "the code is never in the link"
    check(phone, "activation-form-from-qr")
    phone.page.fill("#code", code)  # typed as printed, with its space
    phone.page.fill("#password", NEW_PASSWORD)
    phone.page.fill("#confirm", NEW_PASSWORD)
    phone.tap("main form button[type=submit].primary")
    assert phone.path == "/", f"activation ended on {phone.path}"
    assert "邻长" in phone.page.locator(".role-card h2").inner_text()
    check(phone, "activated-home")


def test_a_locked_out_leader_resets_the_password_with_a_slip_from_the_branch(phone, live_server, browser):
    _, people = pruisburg()
    leader = people["active"]
    # the leader is also logged in on a tablet at home
    tablet = browser.new_context(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, locale="zh-CN")
    try:
        home = tablet.new_page()
        home.goto(live_server("/auth/login"))
        home.fill("#mobile", leader.mobile)
        home.fill("#password", PASSWORD)
        with home.expect_navigation():
            home.locator("main form button[type=submit].primary").click()
        assert home.url == live_server("/")

        # on the phone, the forgotten password: five wrong tries, then the phone is locked out
        phone.goto("/auth/login")
        for _ in range(6):
            phone.page.fill("#mobile", leader.mobile)
            phone.page.fill("#password", "wrong-guess-1")
            phone.tap("main form button[type=submit].primary")
        error = phone.page.locator(".field.has-error .error").inner_text()
        assert re.search(r"请在 \d\d:\d\d 以后再试", error) and "社区党支部" in error, error
        assert phone.page.locator(".login-help").is_visible()
        check(phone, "locked-out")

        # the branch member prints a password-reset slip from the leader's page
        phone.log_in(people["branch"].mobile)
        phone.goto(f"/admin/people/{leader.id}")
        check(phone, "person-page")
        phone.tap(phone.page.get_by_role("button", name="生成密码重置码"))
        assert "密码重置" in phone.page.locator(".slip-kicker").inner_text()
        check(phone, "reset-slip")
        phone.check_print("reset-slip-paper")
        link, code = read_slip(phone, live_server)
        assert link == live_server(f"/auth/reset?mobile={leader.mobile}")
        log_out(phone)

        # the leader scans the slip on the phone that was locked out, and sets a new password
        phone.page.goto(link)
        assert phone.page.locator("h1").inner_text() == "重设密码"
        assert phone.page.input_value("#mobile") == leader.mobile
        check(phone, "reset-form-from-qr")
        phone.page.fill("#code", code.lower())
        phone.page.fill("#password", NEW_PASSWORD)
        phone.page.fill("#confirm", NEW_PASSWORD)
        phone.tap("main form button[type=submit].primary")
        assert phone.path == "/", f"the reset ended on {phone.path}"
        assert "新密码已设置" in phone.page.locator(".flash-success").inner_text()
        check(phone, "reset-home")

        # the tablet's session has ended; the new password works
        home.goto(live_server("/"))
        assert home.url.startswith(live_server("/auth/login"))
        log_out(phone)
        phone.log_in(leader.mobile, NEW_PASSWORD)
        assert phone.path == "/"
        db.session.expire_all()
        assert db.session.get(Person, leader.id).auth_version > 1
    finally:
        tablet.close()
