"""The public pages on a 360 px phone: the notice-board poster, its QR target opened by an anonymous resident."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Compound, Issue, Person, RoleAssignment
from governance.services.issues import rating
from governance.services.issues.lifecycle import transition
from tests.browser.conftest import ARTIFACTS, PHONE_HEIGHT, PHONE_WIDTH

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_public_cache")]


def resolve_one(compound: Compound) -> Issue:
    """Resolve an open 普瑞斯堡 issue through the lifecycle service, as the district admin (whatever its level)."""
    issue = db.session.scalar(
        select(Issue)
        .where(Issue.compound_id == compound.id, Issue.status.in_(("acknowledged", "in_progress")))
        .order_by(Issue.id)
    )
    handler = db.session.scalar(
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == "district_admin")
    )
    if issue.status == "acknowledged":
        transition(handler, issue, "in_progress")
    transition(handler, issue, "resolved", "已修复")
    db.session.commit()
    return issue


def test_resident_scans_the_poster_and_sees_the_fix(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    compound = db.session.scalar(select(Compound).where(Compound.name == demo.PRUISBURG))

    phone.goto(f"/p/compound/{compound.id}")  # cached now: the resolve below must still show
    phone.check("compound-before")
    issue = resolve_one(compound)

    phone.goto(f"/p/compound/{compound.id}/poster")
    target = phone.page.locator("[data-qr-target]").get_attribute("data-qr-target")
    assert target == phone.server(f"/p/compound/{compound.id}")
    assert phone.page.locator(".poster-qr > svg.qr").is_visible()
    assert target in phone.page.locator(".poster-url").inner_text()
    phone.check("poster")
    phone.check_print("poster-print")

    phone.page.context.clear_cookies()  # the resident: no login, a fresh phone
    phone.page.goto(target)
    card = phone.page.locator(".issue-card", has_text=issue.reference)
    if not card.count():  # newest first: the issue may be on a later page
        phone.goto(f"/p/compound/{compound.id}?status=resolved")
        card = phone.page.locator(".issue-card", has_text=issue.reference)
    assert card.locator(".status-resolved").count() == 1
    phone.check("compound-after")
    phone.tap(card.locator("a"))
    assert issue.reference in phone.page.locator("main").inner_text()
    assert phone.page.locator(".badge.status-resolved").count() == 1
    phone.check("issue")

    phone.goto("/p/")
    phone.check("district")
    phone.goto(f"/p/community/{compound.community_id}")
    phone.check("community")
    phone.goto(f"/p/street/{compound.community.parent_id}")
    phone.check("street")


def test_resident_rates_the_fix_by_the_link(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    compound = db.session.scalar(select(Compound).where(Compound.name == demo.PRUISBURG))
    issue = resolve_one(compound)
    leader = issue.filed_by or db.session.scalar(
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == "neighbour_leader", RoleAssignment.node_id == issue.neighbour_id)
    )
    token = rating.create_link(leader, issue)
    db.session.commit()

    phone.goto(f"/p/rate/{token}")
    assert issue.reference in phone.page.locator("main").inner_text()
    phone.check("rate")
    # Three equal answers, none chosen: the first tap only shows the choice back to confirm or change.
    classes = phone.page.locator("button[name=rating]").evaluate_all("bs => bs.map(b => b.className)")
    assert len(classes) == 3 and len(set(classes)) == 1 and "primary" not in classes[0]
    phone.tap(phone.page.locator("button[name=rating][value=unsatisfied]"))
    phone.check("confirm")
    assert "不满意" in phone.page.locator("main").inner_text()
    phone.tap(phone.page.locator("a", has_text="重新选择"))
    phone.tap(phone.page.locator("button[name=rating][value=satisfied]"))
    phone.tap(phone.page.locator("button", has_text="提交这个评价"))
    phone.check("rated")
    assert "满意" in phone.page.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.get(type(issue), issue.id).resident_rating == "satisfied"
    phone.goto(f"/p/rate/{token}")
    phone.check("used")


MM = 96 / 25.4  # CSS pixels per millimetre
PRINTABLE_MM = 297 - 2 * 14  # A4's height less the page margins of app.css (@page { margin: 14mm 12mm })


def pdf_pages(pdf: bytes) -> int:
    """How many pages a PDF Chromium wrote has (its page objects: /Type /Page, not /Pages)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_the_poster_prints_on_one_a4_page_and_uses_it(phone):
    """The poster had no print button and left ~40 % of the sheet empty. It now has 打印 (wired by a static
    script: the CSP refuses inline ones; hidden on paper), and on A4 a larger QR under a line saying what it is
    for, the compound's figures as its public page shows them — on one page that it fills."""
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    compound = db.session.scalar(select(Compound).where(Compound.name == demo.PRUISBURG))
    phone.goto(f"/p/compound/{compound.id}")
    public_figures = phone.page.locator(".public-figures").first.inner_text()
    public_counts = phone.page.locator(".status-counts").first.inner_text()

    phone.goto(f"/p/compound/{compound.id}/poster")
    # The same figures as the compound's public page, and a line saying what the QR code is for.
    assert phone.page.locator(".poster .public-figures").inner_text() == public_figures
    assert phone.page.locator(".poster .status-counts").inner_text() == public_counts
    purpose = phone.page.locator(".poster-qr .poster-scan-title").inner_text()
    assert demo.PRUISBURG in purpose and "扫" in purpose, purpose
    # The print button: on screen, a real button wired by print.js (no inline script), printing the page.
    button = phone.page.locator("button[data-print]")
    assert button.is_visible() and button.inner_text().strip() == "打印"
    phone.page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    button.tap()
    assert phone.page.evaluate("window.printed") == 1
    phone.check("poster-screen")

    # On paper: the button is not printed, the QR is large and the poster fills the page.
    phone.check_print("poster-print", hidden=(".topbar", ".footer", ".no-print", "button[data-print]"))
    phone.page.set_viewport_size({"width": 794, "height": 1123})
    phone.page.emulate_media(media="print")
    try:
        qr = phone.page.locator(".poster-qr > svg.qr").bounding_box()
        poster = phone.page.locator(".poster").bounding_box()
        pdf = phone.page.pdf(format="A4")  # as printed: print media, the stylesheet's @page margins
    finally:
        phone.page.emulate_media(media="screen")
        phone.page.set_viewport_size({"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    assert qr["width"] >= 95 * MM, f"the QR is {qr['width'] / MM:.0f} mm wide on paper"
    assert poster["height"] >= 0.85 * PRINTABLE_MM * MM, f"the poster fills {poster['height'] / MM:.0f} mm"
    (ARTIFACTS / f"{phone.prefix}-poster.pdf").write_bytes(pdf)
    assert pdf_pages(pdf) == 1, f"the poster prints on {pdf_pages(pdf)} A4 pages"
