"""Door-to-door visits on a 360 px phone: a 邻长 opens their 邻's households, loses the signal, records three
visits (one answered with a problem found, one declined, one with nobody in), comes back online in a new tab:
each visit arrives exactly once, the problem is filed once, and the households show as recorded."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, SurveyVisit
from tests.browser.test_filing_browser import count, wait_for
from tests.builders import category
from tests.test_surveys import build_survey_world, holder, households_of, open_campaign, question

pytestmark = [pytest.mark.browser]


def test_three_visits_recorded_offline_arrive_once(phone, app):
    world = build_survey_world()
    campaign = open_campaign(world, kinds=("single", "problem"))
    neighbour = world["neighbours"][0]
    leader = holder(world, "neighbour_leader", neighbour)
    first, second, third = households_of(neighbour)
    single, problem = question(campaign, "single"), question(campaign, "problem")
    phone.log_in(leader.mobile)
    phone.tap(phone.page.locator("section.role-card a[href='/surveys/']").first)
    phone.tap(phone.page.locator("ul.survey-list a").first)
    phone.tap(phone.page.locator("ul.children a", has_text=neighbour.name))
    page = phone.page
    phone.check("households")
    page.context.set_offline(True)

    page.locator(f"#h{first.id} summary").tap()
    page.locator(f"#h{first.id} input[name=q{single.id}][value='0'] ").tap()
    page.select_option(f"#q{problem.id}-{first.id}-category", str(category("lighting").id))
    page.fill(f"#q{problem.id}-{first.id}", "单元门口路灯不亮")
    phone.check("visit-form")
    page.locator(f"#h{first.id} button.primary").tap()
    page.locator(f"#h{second.id} summary").tap()
    page.locator(f"#h{second.id} input[name=outcome][value=declined]").tap()
    page.locator(f"#h{second.id} button.primary").tap()
    page.locator(f"#h{third.id} summary").tap()
    page.locator(f"#h{third.id} input[name=outcome][value=absent]").tap()
    page.locator(f"#h{third.id} button.primary").tap()
    saved = page.locator("#households").get_attribute("data-saved")
    for household in (first, second, third):  # the page marks each once the phone has stored it (asynchronously)
        state = page.locator(f"#h{household.id} .household-state")
        assert wait_for(lambda state=state: state.inner_text() == saved), state.inner_text()
    page.locator("#outbox .outbox-bar").wait_for()
    phone.check("saved-offline")
    assert count(SurveyVisit) == 0

    phone.new_page(between=lambda context: context.set_offline(False))
    phone.goto(f"/surveys/{campaign.id}/visit/{neighbour.id}")
    assert wait_for(lambda: count(SurveyVisit) == 3, timeout=15)
    time.sleep(1)  # a second send, if there were one, would have arrived by now
    assert count(SurveyVisit) == 3 and count(Issue) == 1
    outcomes = {v.household_id: v.outcome for v in db.session.scalars(select(SurveyVisit))}
    assert outcomes == {first.id: "answered", second.id: "declined", third.id: "absent"}
    assert db.session.scalar(select(Issue)).title == "单元门口路灯不亮"
    phone.goto(f"/surveys/{campaign.id}/visit/{neighbour.id}")
    assert phone.page.locator(f"#h{first.id} .household-state").inner_text().startswith("已作答")
    phone.check("recorded")


def test_the_branch_writes_and_opens_a_questionnaire_on_a_phone(phone, app):
    world = build_survey_world()
    phone.log_in(world["people"]["branch"].mobile)
    phone.goto("/surveys/")
    phone.tap("a.button.primary[href='/surveys/new']")
    phone.page.fill("#title", "楼道改造意见")
    phone.page.fill("#purpose", "入户了解楼道改造意见。")
    phone.check("new-survey")
    phone.tap("button[type=submit].primary")
    for kind, text, options in (("single", "是否支持", "支持\n不支持"), ("scale", "满意程度", "")):
        phone.page.select_option("#kind", kind)
        phone.page.fill("#text", text)
        phone.page.fill("#options", options)
        phone.tap("form.notice-form button[type=submit]")
    phone.shot("after-questions")
    assert phone.page.locator("ol.survey-questions > li").count() == 2, phone.page.locator("main").inner_text()[:600]
    phone.check("questionnaire")
    phone.tap(phone.page.locator("form[action$='/open'] button"))
    assert phone.page.locator("h1 .badge").inner_text() == "走访中"
    phone.check("opened")
