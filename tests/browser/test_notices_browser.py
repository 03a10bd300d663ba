"""Notices down the tree on a 360 px phone: a 片长 sends a notice asking for a one-tap reply, a 组长 finds it in
the inbox and answers it, and the 片长 sees who has answered and who is still to call. Each step fits the
screen with big tap targets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import NoticeRecipient, Person, RoleAssignment
from tests.builders import nodes_at
from tests.test_notices import build_leaders

pytestmark = [pytest.mark.browser]


def holder(role: str, node) -> Person:
    return db.session.scalar(
        select(Person).join(RoleAssignment).where(RoleAssignment.role == role, RoleAssignment.node_id == node.id)
    )


def test_a_group_leader_answers_a_notice_from_the_inbox(phone, app):
    people = build_leaders()
    zone, group = nodes_at("zone")[0], nodes_at("group")[0]
    sender, answering = people["double"], holder("group_leader", group)
    phone.log_in(sender.mobile)
    phone.tap(phone.page.locator("section.role-card a[href='/notices/']").first)
    phone.tap("a.button.primary[href='/notices/new']")
    phone.page.select_option("#node_id", str(zone.id))
    phone.page.fill("#title", "防汛：今晚排查")
    phone.page.fill("#body", "今晚有暴雨。\n请排查本组低洼处，完毕后一键回复。")
    phone.page.locator("label.check", has_text="一键确认").tap()
    phone.page.fill("#reply_label", "本组已排查")
    phone.check("new-notice")
    phone.tap("button[type=submit].primary")
    assert "通知已发给" in phone.page.locator(".flash").first.inner_text()
    phone.check("sent")
    phone.page.context.clear_cookies()

    phone.log_in(answering.mobile)
    assert phone.page.locator(".inbox-link .count").inner_text() == "1"
    phone.tap(".inbox-link")
    phone.tap(phone.page.locator("ul.inbox a", has_text="防汛：今晚排查"))
    phone.check("notice-opened")
    phone.tap(phone.page.locator("button.primary", has_text="本组已排查"))
    assert "回复已发送" in phone.page.locator(".flash").first.inner_text()
    phone.check("answered")
    mine = db.session.scalar(select(NoticeRecipient).where(NoticeRecipient.person_id == answering.id))
    db.session.refresh(mine)
    assert mine.reply == "本组已排查" and mine.read_at is not None
    phone.page.context.clear_cookies()

    phone.log_in(sender.mobile)
    phone.goto("/notices/")
    assert phone.page.locator("table.notice-table tbody tr").count() == 1
    phone.check("sent-list")
    phone.tap(phone.page.locator("table.notice-table a", has_text="防汛：今晚排查"))
    rows = phone.page.locator("table.notice-breakdown tbody tr")
    assert rows.count() == len([g for g in nodes_at("group") if g.zone_id == zone.id])  # the sender is not counted
    assert answering.mobile not in phone.page.locator(".notice-people").inner_text()
    phone.check("results")
    phone.tap(phone.page.locator(".quick-filters a", has_text="全部"))
    assert answering.mobile in phone.page.locator(".notice-people").inner_text()
    phone.check("results-everyone")
