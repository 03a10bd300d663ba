"""The public pages on a 360 px phone: the notice-board poster, its QR target opened by an anonymous resident."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Compound, Issue, Person, RoleAssignment
from governance.services.issues import rating
from governance.services.issues.lifecycle import transition

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
    assert phone.page.locator("svg.qr").is_visible()
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
