"""The money pages on a 360 px phone: the branch reads its project's ledger, a resident the public view."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Project

pytestmark = pytest.mark.browser


def test_branch_reads_the_ledger_and_a_resident_the_public_view(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    branch = next(entry for entry in demo.DEMO_LOGINS if entry["key"] == "branch_member")
    project = db.session.scalar(select(Project).order_by(Project.id))

    phone.log_in(branch["mobile"], branch["password"])
    phone.goto("/money/")
    assert project.name in phone.page.locator("main").inner_text()
    phone.check("projects")
    phone.goto(f"/money/{project.id}")
    body = phone.page.locator("main").inner_text()
    assert "1,607,750.00" in body or "1,607,750" in body  # the two resident drives
    phone.check("project-ledger")

    phone.page.context.clear_cookies()  # a resident: no login
    phone.goto(f"/money/public/{project.id}")
    public = phone.page.locator("main").inner_text()
    assert "普瑞物业服务有限公司" in public  # organisations are named
    assert "13900000" not in public  # no phone number of anyone
    phone.check("public-funding")


def branch_on_the_project(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    branch = next(entry for entry in demo.DEMO_LOGINS if entry["key"] == "branch_member")
    project = db.session.scalar(select(Project).order_by(Project.id))
    phone.log_in(branch["mobile"], branch["password"])
    return project


def right_edges(phone, selector: str) -> list[float]:
    return phone.page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map(e => e.getBoundingClientRect().right)", selector
    )


def test_on_a_phone_the_balances_show_spent_and_balance_without_scrolling_sideways(phone):
    project = branch_on_the_project(phone)
    phone.goto(f"/money/{project.id}")
    total = phone.page.locator("table.money tfoot tr")
    for label in ("支出", "结余"):
        cell = total.locator(f"td[data-label='{label}']")
        assert cell.is_visible()
        assert cell.bounding_box()["x"] + cell.bounding_box()["width"] <= 360, label
    phone.check("balances-phone")


def test_at_a_desk_the_ledger_fits_with_its_details_and_reverse_buttons(phone):
    project = branch_on_the_project(phone)
    phone.page.set_viewport_size({"width": 1280, "height": 800})
    phone.goto(f"/money/{project.id}")
    assert phone.overflow(1280) == 0
    scroller = phone.page.locator("table.ledger").locator("xpath=..")
    assert scroller.evaluate("(e) => e.scrollWidth <= e.clientWidth + 1"), "the ledger scrolls sideways at 1280 px"
    assert max(right_edges(phone, "table.ledger summary")) <= 1280
    phone.shot("ledger-desk")


def test_a_refused_entry_comes_back_at_the_form_with_what_was_typed(phone):
    project = branch_on_the_project(phone)
    phone.goto(f"/money/{project.id}")
    phone.page.select_option("#kind", "expenditure")
    phone.page.fill("#amount", "12.345")  # three decimals: refused
    phone.page.fill("#purpose", "更换楼道灯")
    phone.tap("#record ~ form button[type=submit], section[aria-labelledby=record] form button.primary")
    assert phone.page.locator("section[aria-labelledby=record] .error").first.is_visible()
    top = phone.page.evaluate("document.querySelector('#record').getBoundingClientRect().top")
    assert -2 <= top < 740, f"the form is {top}px away from the screen after the refusal"
    assert phone.page.input_value("#purpose") == "更换楼道灯"
    phone.check("record-refused")
