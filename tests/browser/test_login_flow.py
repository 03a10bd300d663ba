"""Logging in, activating, switching language and logging out on a 360 px phone, in real Chromium."""

from __future__ import annotations

import pytest

from governance import demo
from governance.extensions import db
from governance.models import Person
from governance.services.people.accounts import issue_codes
from tests.builders import make_person, make_tree, nodes_at

pytestmark = pytest.mark.browser


def neighbour_leader(name: str = "王秀英"):
    """A 邻长 on a little tree, activated with builders.PASSWORD."""
    make_tree(zones=1, groups=1, neighbours=2)
    return make_person("neighbour_leader", nodes_at("neighbour")[0], name=name)


def test_demo_neighbour_leader_logs_in_and_sees_role_card(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    login = next(entry for entry in demo.DEMO_LOGINS if "邻长" in entry["label"])
    leader = db.session.scalar(db.select(Person).where(Person.mobile == login["mobile"]))
    [role] = leader.roles
    assert role.role == "neighbour_leader"

    phone.goto("/")
    assert phone.path.startswith("/auth/login"), "the home page must send a stranger to the login page"
    phone.check("login")

    phone.log_in(login["mobile"], login["password"])
    assert phone.path == "/"
    assert leader.name in phone.page.locator("h1").inner_text()
    card = phone.page.locator(".role-card")
    assert card.count() == 1
    assert "邻长" in card.locator("h2").inner_text()
    assert role.node.name in card.inner_text()
    phone.check("home")

    phone.tap(card.locator(".actions a").first)
    assert phone.path == f"/tree/{role.node_id}"
    assert phone.page.locator("h1").inner_text().startswith(role.node.name)
    phone.check("my-area")


def test_wrong_password_shows_error_and_keeps_mobile(phone):
    leader = neighbour_leader()

    phone.goto("/auth/login")
    phone.log_in(leader.mobile, "not-the-password")

    assert phone.path.startswith("/auth/login")
    error = phone.page.locator(".field.has-error .error")
    assert error.count() == 1 and error.is_visible()
    assert error.inner_text().strip()
    assert phone.page.input_value("#mobile") == leader.mobile, "the typed number must survive a failed login"
    assert phone.page.input_value("#password") == "", "a wrong password must not be echoed back"
    assert phone.page.get_attribute("#password", "aria-invalid") == "true"
    phone.check("wrong-password")


def test_activation_with_printed_code(phone):
    make_tree(zones=1, groups=1, neighbours=1)
    person = make_person("neighbour_leader", nodes_at("neighbour")[0], name="李建国", activated=False)
    [issued] = issue_codes(None, [person])
    db.session.commit()

    phone.goto("/auth/login")
    phone.tap(phone.page.locator("a[href$='/auth/activate']"))
    assert phone.path == "/auth/activate"
    phone.check("activate-form")

    page = phone.page
    page.fill("#mobile", person.mobile)
    page.fill("#code", f"{issued.code[:4]} {issued.code[4:]}".lower())  # typed as printed, in lower case
    page.fill("#password", "hunan-2024-ok")
    page.fill("#confirm", "hunan-2024-ok")
    phone.tap("main form button[type=submit].primary")

    assert phone.path == "/", f"activation did not land on the home page but on {phone.path}"
    assert page.locator(".flash-success").is_visible()
    assert "邻长" in page.locator(".role-card h2").inner_text()
    phone.check("activated-home")

    db.session.expire_all()
    assert db.session.get(type(person), person.id).password_hash


def test_language_switch_to_english_and_back(phone):
    leader = neighbour_leader()
    phone.goto("/auth/login")
    phone.log_in(leader.mobile)
    page = phone.page
    assert page.get_attribute("html", "lang") == "zh-CN"

    phone.tap(page.locator(".footer button[lang=en]"))
    assert phone.path == "/", "switching language must stay on the same page"
    assert page.get_attribute("html", "lang") == "en"
    assert "Neighbour leader" in page.locator(".role-card h2").inner_text()
    phone.check("english")

    phone.tap(page.locator(".footer button[lang=zh-CN]"))
    assert phone.path == "/"
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.locator(".footer button[lang=en]").count() == 1
    assert "Neighbour leader" not in page.locator(".role-card h2").inner_text(), "the role card is Chinese again"
    phone.check("chinese-again")


def test_logout(phone):
    leader = neighbour_leader()
    phone.goto("/auth/login")
    phone.log_in(leader.mobile)
    assert phone.path == "/"

    phone.tap(phone.page.locator(".topnav form[action$='/auth/logout'] button"))
    assert phone.path.startswith("/auth/login")
    assert phone.page.locator(".flash").is_visible()
    assert phone.page.locator(".topnav form[action$='/auth/logout']").count() == 0
    phone.check("logged-out")

    phone.goto("/")
    assert phone.path.startswith("/auth/login"), "after logging out the home page must ask to log in again"
