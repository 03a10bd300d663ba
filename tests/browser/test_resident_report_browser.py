"""A resident's report on a 360 px phone: the poster's second QR opens the form, the resident sends a problem with
a photo and gets a tracking link; the 邻长 finds it on their home card and takes it up as an issue; the resident's
page shows the issue's progress, and once it is resolved the resident rates the fix, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, Photo, ResidentReport
from governance.services.issues.lifecycle import transition
from tests.browser.test_filing_browser import photo_file
from tests.builders import category
from tests.test_resident_reports import build_world

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_public_cache")]


def test_resident_reports_with_a_photo_the_leader_confirms_and_the_resident_rates_once(phone, app, uploads):
    world = build_world()
    compound = world["compound"]
    page = phone.page

    phone.goto(f"/p/compound/{compound.id}/poster")
    target = page.locator("[data-report-target]").get_attribute("data-report-target")
    assert target == phone.server(f"/p/compound/{compound.id}/report")
    assert page.locator(".poster-report svg.qr").is_visible()

    page.context.clear_cookies()  # the resident: no login
    page.goto(target)
    page.select_option("#category", str(category("lighting").id))
    page.select_option("#building", str(world["buildings"]["1栋"].id))
    page.fill("#text", "2单元门口的路灯晚上不亮，老人进出看不清台阶")
    page.set_input_files("#photos", [photo_file("IMG_0042.jpg")])
    page.fill("#phone", "13912345678")
    phone.check("report-form")
    phone.tap("form.resident-report-form button[type=submit]")
    assert page.locator(".notice-sent").is_visible()
    tracking = page.locator(".track-link a").get_attribute("href")
    report = db.session.scalar(select(ResidentReport))
    assert tracking.endswith(phone.path.split("?")[0]) and report.reference in page.locator("h1").inner_text()
    assert len(report.photos) == 1
    phone.check("tracking-sent")

    # The 邻长: a to-do on the home card, the report with its photo and phone, taken up as an issue.
    phone.log_in(world["people"]["neighbour"].mobile)
    todo = page.locator("a.todo", has_text="待答复的居民反映")
    assert todo.locator(".todo-count").inner_text() == "1"
    phone.tap(todo)
    phone.check("leader-list")
    phone.tap(page.locator("ul.report-list a").first)
    assert page.locator(".resident-words").inner_text().startswith("2单元门口的路灯")
    assert page.locator("a.tel").inner_text() == "13912345678"
    # The photo shows: lazily loaded, so brought into view and waited for (a fixed check raced its loading).
    page.locator("ul.photos img").first.scroll_into_view_if_needed()
    shown = "() => { const i = document.querySelector('ul.photos img'); return i.complete && i.naturalWidth > 0; }"
    page.wait_for_function(shown, timeout=10_000)
    phone.check("leader-report")
    page.fill("#title", "2单元门口路灯不亮")
    phone.tap("section[aria-labelledby=confirm-h] button[type=submit]")
    issue = db.session.scalar(select(Issue))
    assert phone.path == f"/issues/{issue.id}" and issue.resident_phone == "13912345678"
    assert db.session.scalar(select(Photo.issue_id)) == issue.id
    phone.check("issue-made")

    # The resident follows it: progress, then (resolved) one rating.
    page.context.clear_cookies()
    page.goto(tracking)
    assert issue.reference in page.locator("#progress-h").inner_text()
    assert page.locator("a[href$='/rate']").count() == 0
    phone.check("tracking-confirmed")
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["people"]["group"], issue, status, "路灯已更换" if status == "resolved" else "")
    db.session.commit()
    page.goto(tracking)
    phone.tap("a[href$='/rate']")
    phone.check("rate")
    phone.tap("button.rate-choice[value=satisfied]")
    phone.tap("form.rate-form button.primary")
    assert "谢谢" in page.locator("h1").inner_text()
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).resident_rating == "satisfied"
    page.goto(tracking)
    assert page.locator("a[href$='/rate']").count() == 0
    phone.check("tracking-rated")
    # A second try at the rating page gets the tracking page back, and nothing more is counted.
    page.goto(tracking + "/rate")
    assert page.url == tracking
