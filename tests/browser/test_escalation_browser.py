"""A 组长 escalates their 邻长's issue on a 360 px phone; the 片长 above finds it in their inbox and list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, Notification, utcnow
from governance.services.issues.lifecycle import add_comment, escalate
from tests.builders import make_compound, make_issue, make_node, make_person, make_tree

pytestmark = pytest.mark.browser


def compound_world():
    """普瑞斯堡社区: one 片 with two 组, a leader on each node; the 邻长 has filed two problems."""
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    compound = make_compound(community, "普瑞斯堡小区")
    zone = make_node(community, "zone", "第1片（普瑞斯堡小区东区）")
    group = make_node(zone, "group", "第1片第1组")
    other_group = make_node(zone, "group", "第1片第2组")
    neighbour = make_node(group, "neighbour", "3栋1单元")
    make_node(other_group, "neighbour", "5栋2单元")
    people = {
        "zone": make_person("zone_leader", zone, name="张桂兰"),
        "group": make_person("group_leader", group, name="刘德华"),
        "neighbour": make_person("neighbour_leader", neighbour, name="王秀英"),
    }
    issue = make_issue(
        people["neighbour"],
        title="3栋门前路面大面积破损，雨天积水",
        category="road",
        description="路面塌陷约两平方米，老人晚上出行容易摔倒。",
        compound_id=compound.id,
        place_detail="3栋1单元门口",
        resident_name="李阿姨",
        resident_phone="13912345678",
    )
    add_comment(people["neighbour"], issue, "comment", "居民今天又打电话来问进度。")
    escalate(people["neighbour"], issue, "需要组长协调物业。")  # so it waits at the 组长's level
    late = make_issue(people["neighbour"], title="路灯不亮", category="lighting", compound_id=compound.id)
    late.ack_due_at = late.next_deadline_at = utcnow() - timedelta(hours=3)  # overdue, not yet swept
    db.session.commit()
    return people, issue


def log_out(phone) -> None:
    phone.tap(phone.page.locator(".topnav form[action$='/auth/logout'] button"))


def test_group_leader_escalates_and_zone_leader_is_told(phone):
    people, issue = compound_world()

    # The 组长 opens the issues of their 组 from the home page.
    phone.log_in(people["group"].mobile)
    assert phone.path == "/"
    card = phone.page.locator(".role-card").first
    phone.tap(card.locator(".actions a[href^='/issues/']"))
    assert phone.path.startswith("/issues/")
    cards = phone.page.locator(".issue-card")
    assert cards.count() == 2
    assert cards.filter(has_text="路灯不亮").locator(".badge.overdue").is_visible()
    assert issue.reference in phone.page.locator(".issue-cards").inner_text()
    phone.check("group-leader-list")

    phone.tap(cards.filter(has_text=issue.reference).locator("a"))
    assert phone.path == f"/issues/{issue.id}"
    body = phone.page.locator("main").inner_text()
    assert "李阿姨" in body and "13912345678" in body  # the private contact, for those who may see it
    assert "居民今天又打电话来问进度" in body
    phone.check("group-leader-issue")

    # Escalate from 组 to 片 with a reason: first without one (refused, nothing saved), then with it.
    escalate = phone.page.locator("details.action", has=phone.page.locator("form[action*='/escalate']"))
    assert escalate.count() == 1
    escalate.locator("summary").tap()
    phone.check("escalate-open")
    phone.tap(escalate.locator("button[type=submit]"))
    assert phone.path == f"/issues/{issue.id}/escalate#act-escalate"
    assert phone.page.locator("details.action[open] .error").is_visible()
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).level == "group"
    phone.check("escalate-refused")

    escalate = phone.page.locator("details.action[open]")
    escalate.locator("textarea").fill("路面塌陷需要物业和社区协调维修资金，组里无法解决。")
    phone.tap(escalate.locator("button[type=submit]"))
    assert phone.path == f"/issues/{issue.id}#top"
    assert phone.page.locator(".flash-success").is_visible()
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).level == "zone"
    timeline = phone.page.locator(".timeline").inner_text()
    assert "路面塌陷需要物业和社区协调维修资金" in timeline
    phone.check("escalated")
    log_out(phone)

    # The 片长 has an inbox notification and sees the issue at level 片.
    zone_leader = people["zone"]
    assert db.session.scalar(
        db.select(db.func.count()).select_from(Notification).where(Notification.person_id == zone_leader.id)
    )
    phone.log_in(zone_leader.mobile)
    badge = phone.page.locator(".topnav .inbox-link .count")
    assert badge.is_visible() and int(badge.inner_text()) >= 1
    phone.check("zone-leader-home")
    phone.tap(phone.page.locator(".topnav .inbox-link"))
    assert phone.path == "/inbox/"
    note = phone.page.locator(".inbox .note.unread", has_text=issue.reference)
    assert note.count() == 1
    phone.check("zone-leader-inbox")

    phone.tap(note.locator("a").first)
    assert phone.path == f"/issues/{issue.id}"
    head = phone.page.locator(".issue-head").inner_text()
    assert "片" in head
    assert phone.page.locator("details.action summary", has_text=re.compile("社区|community")).count() == 1
    phone.check("zone-leader-issue")

    phone.goto("/issues/?level=zone")
    assert phone.page.locator(".issue-card").count() == 1
    assert issue.reference in phone.page.locator(".issue-cards").inner_text()
    assert phone.page.locator(".chips a").count() == 1
    phone.check("zone-leader-list")

    # Narrow to one 组 through the area filter: only the 片's own 组 and 邻 are offered.
    phone.tap(phone.page.locator(".chips a"))  # drop the level filter
    assert phone.page.locator(".issue-card").count() == 2
    phone.page.locator("details.filters summary").tap()
    options = phone.page.locator("#f-node option").all_inner_texts()
    assert any("第1片第1组" in o for o in options) and any("3栋1单元" in o for o in options)
    phone.page.select_option("#f-node", label=next(o for o in options if "第1片第2组" in o))
    phone.check("zone-leader-filters")
    phone.tap(phone.page.locator(".filter-form button[type=submit]"))
    assert phone.page.locator(".issue-card").count() == 0
    assert "第1片第2组" in phone.page.locator("h1").inner_text()
    phone.check("zone-leader-other-group")


def test_neighbour_leader_callback_and_a_stale_page(phone):
    """The 邻长 records an unhappy callback (the issue reopens), then meets a conflict and keeps the text."""
    people, issue = compound_world()
    from governance.services.issues.lifecycle import transition

    leader = people["group"]
    for step, note in (("acknowledged", ""), ("in_progress", ""), ("resolved", "已用沥青修补路面。")):
        transition(leader, db.session.get(Issue, issue.id), step, note)
    db.session.commit()

    phone.log_in(people["neighbour"].mobile)
    phone.goto(f"/issues/{issue.id}")
    callback = phone.page.locator("details#act-callback")
    callback.locator("summary").tap()
    callback.locator("label.check", has_text=re.compile("Not satisfied|不满意")).tap()
    phone.check("callback-open")
    phone.tap(callback.locator("button[type=submit]"))
    assert phone.page.locator("details#act-callback[open] .error").is_visible()  # not satisfied needs a note
    assert phone.page.locator("details#act-callback input[value=unsatisfied]").is_checked()
    phone.check("callback-needs-note")
    callback = phone.page.locator("details#act-callback")
    callback.locator("textarea").fill("居民说下雨还是积水。")
    phone.tap(callback.locator("button[type=submit]"))
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "reopened"
    phone.check("reopened")

    # A second issue: the 邻长 starts escalating while the 组长 acknowledges it elsewhere.
    other = make_issue(people["neighbour"], title="5栋楼道灯不亮", category="lighting")
    phone.goto(f"/issues/{other.id}")
    escalate_form = phone.page.locator("details#act-escalate")
    escalate_form.locator("summary").tap()
    escalate_form.locator("textarea").fill("楼道太黑，老人夜里摔倒过。")
    transition(leader, db.session.get(Issue, other.id), "acknowledged")
    db.session.commit()
    phone.tap(escalate_form.locator("button[type=submit]"))
    alert = phone.page.locator("details#act-escalate[open] .error")
    assert alert.is_visible()
    assert phone.page.locator("details#act-escalate textarea").input_value() == "楼道太黑，老人夜里摔倒过。"
    assert (
        "Acknowledged" in phone.page.locator(".issue-head").inner_text()
        or "已受理" in phone.page.locator(".issue-head").inner_text()
    )
    db.session.expire_all()
    assert db.session.get(Issue, other.id).level == "neighbour"
    phone.check("conflict")


def test_demo_neighbour_files_and_the_group_leader_above_escalates(phone):
    """The whole path on one phone: the demo 邻长 files a problem, the demo 组长 finds it and escalates it."""
    from governance import demo

    demo.load_demo_world(scale=0.02)
    db.session.commit()
    logins = {entry["key"]: entry for entry in demo.DEMO_LOGINS}

    neighbour = logins["neighbour_leader"]
    phone.log_in(neighbour["mobile"], neighbour["password"])
    phone.tap(phone.page.locator(".role-card a[href='/file/']"))
    phone.page.select_option("#category", label="监控安防")
    phone.page.fill("#title", "5栋单元门禁坏了")
    phone.page.fill("#description", "5栋2单元门禁刷卡无反应，外来人员随意进出。")
    phone.page.wait_for_load_state("networkidle")  # the possible-duplicates check has answered
    if phone.page.locator("label.confirm").count():
        phone.page.locator("label.confirm").tap()
    phone.tap("form#filing button.primary")
    issue = db.session.scalar(select(Issue).where(Issue.title == "5栋单元门禁坏了"))
    assert issue is not None and phone.path.startswith(f"/issues/{issue.id}")
    phone.check("filed-by-neighbour-leader")
    log_out(phone)

    group = logins["group_leader"]
    phone.log_in(group["mobile"], group["password"])
    phone.goto("/issues/?status=open")
    card = phone.page.locator(".issue-card", has_text=issue.reference)
    assert card.count() == 1
    phone.check("group-leader-sees-it")
    phone.tap(card.locator("a"))
    escalate = phone.page.locator("details.action", has=phone.page.locator("form[action*='/escalate']"))
    escalate.locator("summary").tap()
    escalate.locator("textarea").fill("门禁属物业设备，需片长协调物业更换。")
    phone.tap(escalate.locator("button[type=submit]"))
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).level == "zone"
    phone.check("escalated-to-zone")
