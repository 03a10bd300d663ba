"""Triage end to end on a phone: the branch assigns to the property company, its staff accept and resolve with a
photo, the 邻长 records an unsatisfied callback, and the issue is reopened — back in the company's queue."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, Photo
from tests.browser.test_escalation_browser import compound_world, log_out
from tests.browser.test_filing_browser import photo_file
from tests.builders import force_status, make_issue, make_organisation, make_person

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("uploads")]


def fresh(issue_id: int) -> Issue:
    db.session.rollback()  # the live server commits in its own threads
    return db.session.get(Issue, issue_id)


def test_branch_assigns_company_resolves_neighbour_reopens(phone):
    people, issue = compound_world()
    community = db.session.get(type(issue.neighbour), issue.community_id)
    company = make_organisation("property", "普瑞物业服务有限公司")
    company.communities.append(community)
    db.session.commit()
    branch = make_person("branch_member", community, name="陈书记")
    staff = make_person("org_staff", None, organisation=company, name="物业周经理")

    # The branch opens its triage console from the top bar, shows the issues still below the community,
    # ticks this one and assigns it to the property company (派单) with the bulk bar.
    phone.log_in(branch.mobile)
    phone.tap(phone.page.locator(".topnav a[href='/triage/']"))
    assert phone.path == f"/triage/community/{community.id}"
    phone.check("console-phone")
    phone.goto(f"/triage/community/{community.id}?reach=all")
    row = phone.page.locator("tr[data-row]", has_text=issue.reference)
    assert row.count() == 1
    row.locator("input[data-item]").check()
    phone.page.select_option("select[data-action]", "assign")
    phone.page.locator("#bulk-form select[name=organisation]").select_option(label="普瑞物业服务有限公司")
    phone.page.locator("#bulk-form textarea").fill("请一周内修复路面并报告进度。")
    phone.check("console-assign")
    phone.tap(phone.page.locator("#bulk-form button[type=submit], #bulk-form input[type=submit]").first)
    assert phone.page.locator(".flash-success").is_visible()
    assert fresh(issue.id).assignment_state == "pending"
    phone.check("console-assigned")
    # On a desk the console is one wide table.
    phone.page.set_viewport_size({"width": 1280, "height": 800})
    phone.goto(f"/triage/community/{community.id}")
    assert phone.page.locator("table.queue").is_visible()
    assert phone.overflow(1280) == 0
    phone.shot("console-desktop")
    phone.page.set_viewport_size({"width": 360, "height": 740})
    log_out(phone)

    # The company's staff accept (接单) and resolve with an "after" photo.
    phone.log_in(staff.mobile)
    phone.tap(phone.page.locator(".topnav a[href='/triage/org/']"))
    assert issue.reference in phone.page.locator("main").inner_text()
    phone.check("staff-queue")
    phone.tap(phone.page.locator(f"a[href='/issues/{issue.id}']").first)
    phone.check("staff-issue-pending")
    phone.tap(phone.page.locator("form[action*='/triage/accept'] button"))
    assert fresh(issue.id).status == "in_progress"
    resolve = phone.page.locator("details#act-resolved")
    resolve.locator("summary").tap()
    resolve.locator("textarea").fill("已铣刨重铺沥青路面约12平方米。")
    phone.page.set_input_files("details#act-resolved input[type=file]", [photo_file("after.jpg")])
    phone.check("staff-resolve-open")
    phone.tap(resolve.locator("button[type=submit]"))
    assert phone.page.locator(".flash-success").is_visible()
    assert fresh(issue.id).status == "resolved"
    assert db.session.scalar(select(Photo).where(Photo.issue_id == issue.id, Photo.stage == "after")) is not None
    phone.check("staff-resolved")
    log_out(phone)

    # The 邻长 calls the resident back: not satisfied, so it reopens and the company sees it again.
    phone.log_in(people["neighbour"].mobile)
    phone.goto(f"/issues/{issue.id}")
    callback = phone.page.locator("details#act-callback")
    callback.locator("summary").tap()
    callback.locator("label.check", has_text=re.compile("Not satisfied|不满意")).tap()
    callback.locator("textarea").fill("居民说雨后仍有积水。")
    phone.tap(callback.locator("button[type=submit]"))
    issue_now = fresh(issue.id)
    assert issue_now.status == "reopened" and issue_now.assignee_org_id == company.id
    phone.check("neighbour-reopened")
    log_out(phone)

    phone.log_in(staff.mobile)
    phone.goto(f"/issues/{issue.id}")
    timeline = phone.page.locator(".timeline").inner_text()
    assert "已铣刨重铺沥青路面" in timeline and "回访" in timeline
    assert phone.page.locator("form[action*='/status/in_progress']").count() == 1  # back to work
    phone.check("staff-sees-reopened")


TITLES = [
    "楼道堆放杂物堵塞通道",
    "单元门禁损坏无法关闭",
    "路灯不亮晚上出行不便",
    "下水道堵塞雨天积水",
    "绿化带树木倒伏",
]


def test_the_console_shows_ten_rows_above_the_fold_on_a_desk(phone):
    """The branch secretary works at 1280×800: the queue, not the controls above it, fills the first screen."""
    people, issue = compound_world()
    community = db.session.get(type(issue.neighbour), issue.community_id)
    for n in range(14):
        extra = make_issue(people["neighbour"], title=f"{TITLES[n % len(TITLES)]}（{n + 1}号）", category="road")
        force_status(extra, "reported", "community")
    branch = make_person("branch_member", community, name="陈书记")
    phone.log_in(branch.mobile)
    phone.page.set_viewport_size({"width": 1280, "height": 800})
    phone.goto(f"/triage/community/{community.id}")
    assert phone.overflow(1280) == 0
    phone.shot("console-desk-first-screen")
    assert rows_above_the_fold(phone) >= 10
    # The filter box says it opens, and opening it shows the filters.
    summary = phone.page.locator(".filters-box > summary")
    assert phone.page.evaluate("(el) => getComputedStyle(el, '::after').content", summary.element_handle()) not in (
        "none",
        "normal",
        "",
    )
    summary.click()
    assert phone.page.locator("#f-reach").is_visible()
    phone.shot("console-desk-filters-open")


def rows_above_the_fold(phone, height: int = 800) -> int:
    """How many queue rows are wholly visible without scrolling."""
    return phone.page.evaluate(
        "(h) => [...document.querySelectorAll('table.queue tbody tr[data-row]')]"
        ".filter(r => r.getBoundingClientRect().bottom <= h).length",
        height,
    )


def test_a_reject_without_a_reason_is_answered_beside_the_field(phone):
    """The reject form no longer leans on the browser's `required`: sent without a reason, the server answers with
    the message beside the reason, the note kept, and the issue is not rejected."""
    _people, issue = compound_world()
    community = db.session.get(type(issue.neighbour), issue.community_id)
    branch = make_person("branch_member", community, name="陈书记")
    phone.log_in(branch.mobile)
    phone.goto(f"/issues/{issue.id}")
    phone.page.locator("#act-rejected summary").tap()
    phone.page.locator("#act-rejected textarea").fill("属于私人纠纷，已告知居民")
    phone.tap(phone.page.locator("#act-rejected button[type=submit]"))
    select_box = phone.page.locator("#act-rejected select[name=rejected-reason]")
    assert select_box.get_attribute("aria-invalid") == "true"
    assert phone.page.locator("#rejected-reason-error").inner_text() == "请从列表中选择理由。"
    assert phone.page.locator("#act-rejected textarea").input_value() == "属于私人纠纷，已告知居民"
    assert fresh(issue.id).status != "rejected"
    phone.page.locator("#act-rejected").scroll_into_view_if_needed()
    phone.check("reject-refused")
