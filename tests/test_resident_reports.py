"""Residents' reports to their 邻长 (居民反映): the no-login form, where a report goes (the building's 邻长, up the
tree when that 邻 has none), the tracking link, confirm and decline, the one rating of the fix, the abuse limits
and blocks, the to-do counts, who may see what, and the "answered within a day" figure against a recount."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import (
    Issue,
    Notification,
    Photo,
    ReportSourceBlock,
    ResidentReport,
    ResidentReportPhoto,
    utcnow,
)
from governance.services.issues import rating
from governance.services.issues.lifecycle import transition
from governance.services.public import page_cache
from governance.services.reports.rates import ResidentReportFigures
from governance.services.residents import reports

from .builders import category, make_compound, make_person, make_tree, nodes_at
from .conftest import csrf_from, hidden_value
from .pages import find, find_all, flash_messages, home_todos, text_of

CANARY_PHONE = "13877776666"
CANARY_TEXT = "金丝雀三单元楼道灯坏了"


@pytest.fixture
def world(app, uploads, fresh_public_cache):
    return build_world()


def build_world() -> dict:
    """普瑞斯堡 (1栋, 2栋, 3栋) in one 组 of two 邻: 1栋1单元 has a 邻长, 2栋1单元 none (its reports go to the 组长)."""
    make_tree(zones=1, groups=1, neighbours=2)
    community = nodes_at("community")[0]
    compound = make_compound(community, "普瑞斯堡", buildings=("1栋", "2栋", "3栋"))
    first, second = nodes_at("neighbour")
    first.name, second.name = "1栋1单元", "2栋1单元"
    for node in nodes_at("zone") + nodes_at("group") + nodes_at("neighbour"):
        node.compound_id = compound.id
    elsewhere = make_node_elsewhere(community)
    people = {
        "neighbour": make_person("neighbour_leader", first, name="张秀英"),
        "group": make_person("group_leader", nodes_at("group")[0], name="李红梅"),
        "zone": make_person("zone_leader", nodes_at("zone")[0], name="王建军"),
        "branch": make_person("branch_member", community, name="刘支书"),
        "stranger": make_person("neighbour_leader", elsewhere, name="外邻长"),
    }
    db.session.commit()
    buildings = {b.name: b for b in compound.buildings}
    return {"compound": compound, "buildings": buildings, "people": people, "first": first, "second": second}


def make_node_elsewhere(community):
    """A 邻 of another 片 of the same community (its 邻长 sees none of 普瑞斯堡's reports)."""
    from .builders import make_node

    zone = make_node(community, "zone", "第二片")
    group = make_node(zone, "group", "第二片一组")
    return make_node(group, "neighbour", "外邻")


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    exif[0x8825] = {1: "N", 2: (28.0, 22.0, 30.5), 3: "E", 4: (112.0, 53.0, 10.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 200)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def send(client, world, building="1栋", text=CANARY_TEXT, phone=CANARY_PHONE, kind="lighting", photos=0, **extra):
    """Open the 小区's form and send it as a resident would; the answer (not followed)."""
    compound = world["compound"]
    page = client.get(f"/p/compound/{compound.id}/report").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "form_key": hidden_value(page, "form_key"),
        "category": str(category(kind).id) if kind else "",
        "building": str(world["buildings"][building].id) if building else "",
        "text": text,
        "phone": phone,
        **extra,
    }
    if photos:
        data["photos"] = [(io.BytesIO(jpeg_with_gps()), f"IMG_{n}.jpg") for n in range(photos)]
    return client.post(f"/p/compound/{compound.id}/report", data=data, content_type="multipart/form-data")


def tracking_path(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].split("?")[0]


def only_report() -> ResidentReport:
    return db.session.scalar(select(ResidentReport))


# --- sending and following ----------------------------------------------------------------------


def test_a_report_reaches_the_neighbour_leader_and_the_resident_follows_it(world, client, auth, app):
    sent = send(client, world, photos=2)
    path = tracking_path(sent)
    page = client.get(sent.headers["Location"])
    html = page.get_data(as_text=True)
    report = only_report()
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    assert report.reference in text_of(html, "h1") and path in html  # the link to keep, shown at once
    assert report.neighbour_id == world["first"].id and report.handler_node_id == world["first"].id
    assert report.phone == CANARY_PHONE and report.text == CANARY_TEXT and len(report.photos) == 2
    # The photos were re-encoded: no camera, no position.
    for item in report.photos:
        with Image.open(f"{app.config['UPLOAD_DIR']}/{item.stored_name}") as stored:
            assert len(stored.getexif()) == 0
    # Into the 邻长's inbox, and onto their home card's to-do.
    (message,) = db.session.scalars(select(Notification).where(Notification.kind == "resident_report"))
    assert message.person_id == world["people"]["neighbour"].id
    leader = world["people"]["neighbour"]
    auth.login(leader.mobile)
    (card,) = home_todos(client.get("/").get_data(as_text=True)).values()
    (todo,) = [t for t in card if t["label"] == "待答复的居民反映"]
    assert todo["count"] == 1
    listed = client.get(todo["href"]).get_data(as_text=True)
    assert len(find_all(listed, "ul.report-list li")) == 1 and report.reference in listed
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert f"/resident-reports/{report.id}" in inbox and "居民反映" in inbox
    listed = client.get(f"/resident-reports/?status=waiting&handler={world['first'].id}").get_data(as_text=True)
    assert report.reference in listed
    detail = client.get(f"/resident-reports/{report.id}").get_data(as_text=True)
    assert CANARY_TEXT in detail and CANARY_PHONE in detail
    assert client.get(f"/resident-reports/photo/{report.photos[0].id}").status_code == 200


def test_a_vacant_neighbour_sends_it_up_to_the_group_leader(world, client):
    tracking_path(send(client, world, building="2栋"))
    report = only_report()
    assert report.neighbour_id == world["second"].id and report.handler_node_id == nodes_at("group")[0].id
    (message,) = db.session.scalars(select(Notification).where(Notification.kind == "resident_report"))
    assert message.person_id == world["people"]["group"].id


def test_the_same_form_sent_twice_makes_one_report_and_the_same_link(world, client):
    compound = world["compound"]
    page = client.get(f"/p/compound/{compound.id}/report").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "form_key": hidden_value(page, "form_key"),
        "category": str(category("lighting").id),
        "building": str(world["buildings"]["1栋"].id),
        "text": CANARY_TEXT,
    }
    first = client.post(f"/p/compound/{compound.id}/report", data=data)
    again = client.post(f"/p/compound/{compound.id}/report", data=data)
    assert tracking_path(first) == tracking_path(again)
    assert db.session.scalar(select(func.count(ResidentReport.id))) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": None}, "请选择问题类型。"),
        ({"text": "灯"}, "请说明是什么问题、在哪里（至少 4 个字）。"),
        ({"text": "长" * 501}, "请控制在 500 字以内。"),
        ({"phone": "call me"}, "电话号码只能包含数字（开头可以有 +，中间可以有空格或短横线）。"),
    ],
)
def test_a_wrong_field_is_said_beside_it_and_what_was_typed_stays(world, client, fields, message):
    fields = dict(fields)
    answer = send(client, world, **fields)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and message in html
    if "text" not in fields:
        assert CANARY_TEXT in html  # kept in the form
    assert db.session.scalar(select(func.count(ResidentReport.id))) == 0


def test_an_unknown_compound_or_building_is_refused(world, client):
    assert client.get("/p/compound/99999/report").status_code == 404
    compound = world["compound"]
    page = client.get(f"/p/compound/{compound.id}/report").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "category": str(category("road").id),
        "building": "abc",
        "text": "路灯不亮了",
    }
    answer = client.post(f"/p/compound/{compound.id}/report", data=data)
    assert answer.status_code == 422 and "请从列表中选择楼栋。" in answer.get_data(as_text=True)


def test_an_expired_form_keeps_what_was_typed(world, client):
    compound = world["compound"]
    answer = client.post(f"/p/compound/{compound.id}/report", data={"text": CANARY_TEXT, "csrf_token": "stale"})
    assert answer.status_code == 400 and CANARY_TEXT in answer.get_data(as_text=True)
    assert "表单已过期" in answer.get_data(as_text=True)


# --- handling -----------------------------------------------------------------------------------


def test_the_leader_confirms_it_into_an_issue_and_the_resident_rates_the_fix_once(world, client, auth, app):
    path = tracking_path(send(client, world, photos=1))
    token = path.rsplit("/", 1)[1]
    report = only_report()
    leader = world["people"]["neighbour"]
    resident = app.test_client()
    auth.login(leader.mobile)
    form = client.get(f"/resident-reports/{report.id}").get_data(as_text=True)
    assert find(form, "#title")["value"] == CANARY_TEXT  # prefilled
    done = auth.post(
        f"/resident-reports/{report.id}/confirm",
        {
            "category": str(category("lighting").id),
            "title": "三单元楼道灯不亮",
            "description": find(form, "#description").get_text(),
            "urgency": "normal",
            "idempotency_key": find(form, "#idempotency_key")["value"],
        },
        form_page=f"/resident-reports/{report.id}",
    )
    assert done.status_code == 303
    db.session.expire_all()
    report = only_report()
    issue = db.session.get(Issue, report.issue_id)
    assert report.status == "confirmed" and issue.title == "三单元楼道灯不亮"
    assert issue.resident_phone == CANARY_PHONE and issue.building_id == world["buildings"]["1栋"].id
    assert db.session.scalar(select(func.count(ResidentReportPhoto.id))) == 0
    assert (
        db.session.scalar(select(func.count(Photo.id)).where(Photo.issue_id == issue.id, Photo.public.is_(False))) == 1
    )
    # A second tap answers once.
    again = auth.post(
        f"/resident-reports/{report.id}/decline", {"reason": "duplicate"}, form_page=f"/resident-reports/{report.id}"
    )
    assert again.status_code == 303 and only_report().status == "confirmed"
    # The resident sees the issue's progress, not yet a rating.
    page = resident.get(path).get_data(as_text=True)
    assert issue.reference in page and "评价处理结果" not in page
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["people"]["group"], issue, status, "已修好" if status == "resolved" else "")
    db.session.commit()
    page = resident.get(path).get_data(as_text=True)
    assert f"/p/track/{token}/rate" in page
    chosen = resident.post(
        f"/p/track/{token}/rate",
        data={
            "csrf_token": csrf_from(resident.get(f"/p/track/{token}/rate").get_data(as_text=True)),
            "rating": "satisfied",
        },
    )
    assert chosen.status_code == 200 and db.session.get(Issue, issue.id).resident_rating is None  # not yet
    counted = resident.post(
        f"/p/track/{token}/rate",
        data={"csrf_token": csrf_from(chosen.get_data(as_text=True)), "rating": "satisfied", "confirm": "1"},
    )
    assert counted.status_code == 200
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).resident_rating == "satisfied"
    # Once: the page no longer offers it, a second answer is refused, and no rating link can be made.
    assert f"/p/track/{token}/rate" not in resident.get(path).get_data(as_text=True)
    with pytest.raises(rating.RatingError) as refused:
        reports.rate(token, "unsatisfied")
    assert refused.value.code == "used"
    db.session.rollback()
    with pytest.raises(rating.RatingError) as refused:
        rating.create_link(leader, db.session.get(Issue, issue.id))
    assert refused.value.code == "rated"


def test_a_rating_link_answered_first_leaves_the_tracking_page_nothing_to_rate(world, client):
    path = tracking_path(send(client, world))
    token = path.rsplit("/", 1)[1]
    leader = world["people"]["neighbour"]
    issue = reports.confirm(leader, only_report(), reports.prefilled(only_report()))
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["people"]["group"], issue, status, "已修好" if status == "resolved" else "")
    db.session.commit()
    link = rating.create_link(leader, issue)
    rating.rate(link, "basically_satisfied")
    db.session.commit()
    assert not reports.may_rate(only_report())
    with pytest.raises(rating.RatingError):
        reports.rate(token, "satisfied")
    db.session.rollback()
    assert db.session.get(Issue, issue.id).resident_rating == "basically_satisfied"


def test_a_declined_report_shows_its_reason_to_the_resident(world, client, auth):
    path = tracking_path(send(client, world))
    report = only_report()
    auth.login(world["people"]["neighbour"].mobile)
    wrong = auth.post(
        f"/resident-reports/{report.id}/decline", {"reason": "because"}, form_page=f"/resident-reports/{report.id}"
    )
    assert wrong.status_code == 422 and "请从列表中选择理由。" in wrong.get_data(as_text=True)
    auth.post(
        f"/resident-reports/{report.id}/decline",
        {"reason": "already_fixed"},
        form_page=f"/resident-reports/{report.id}",
    )
    auth.logout()
    page = client.get(path).get_data(as_text=True)
    assert "已经修好" in page and "未受理" in page


def unread_messages(person) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.person_id == person.id, Notification.read_at.is_(None))
        )
    )


def test_a_reports_messages_are_read_when_it_is_opened_and_everyones_once_it_is_answered(world, client, auth):
    """Like an issue's: opening the report reads the reader's messages about it; answering it (taking it up or
    declining) reads every leader's, since nothing is left for them to do — other messages stay unread."""
    first_leader = world["people"]["neighbour"]
    second_leader = make_person("neighbour_leader", world["first"], name="王桂兰")
    tracking_path(send(client, world, text="1栋路灯不亮，晚上很黑"))
    tracking_path(send(client, world, text="1栋门口井盖松动了"))
    first, second = db.session.scalars(select(ResidentReport).order_by(ResidentReport.id)).all()
    other = Notification(person_id=first_leader.id, kind="escalated", text="别的事")
    db.session.add(other)
    db.session.commit()
    assert len(unread_messages(first_leader)) == 3 and len(unread_messages(second_leader)) == 2
    auth.login(first_leader.mobile)
    assert client.get(f"/resident-reports/{first.id}").status_code == 200
    db.session.expire_all()
    assert len(unread_messages(first_leader)) == 2  # the first report's is read; the second's and the other stay
    assert len(unread_messages(second_leader)) == 2  # opening reads only the reader's own
    page = f"/resident-reports/{second.id}"
    answered = auth.post(f"{page}/decline", {"reason": "already_fixed"}, form_page=page)
    assert answered.status_code in (302, 303)
    db.session.expire_all()
    assert [n.id for n in unread_messages(first_leader)] == [other.id]
    assert [n.facts["report"] for n in unread_messages(second_leader)] == [first.id]  # not answered yet


def test_only_leaders_over_the_report_see_it(world, client, auth):
    tracking_path(send(client, world, photos=1))
    report = only_report()
    urls = [f"/resident-reports/{report.id}", f"/resident-reports/photo/{report.photos[0].id}"]
    for url in urls:
        assert client.get(url).status_code in (302, 401)  # not logged in: to the login page
    auth.login(world["people"]["stranger"].mobile)
    for url in urls:
        assert client.get(url).status_code == 403
    assert report.reference not in client.get("/resident-reports/").get_data(as_text=True)
    refused = auth.post(f"/resident-reports/{report.id}/decline", {"reason": "unclear"}, form_page="/resident-reports/")
    assert refused.status_code == 403 and only_report().status == "waiting"
    auth.logout()
    for who in ("group", "zone", "branch"):
        auth.login(world["people"][who].mobile)
        assert client.get(urls[0]).status_code == 200
        assert report.reference in client.get("/resident-reports/").get_data(as_text=True)
        auth.logout()


# --- abuse --------------------------------------------------------------------------------------


def test_one_device_sends_at_most_its_daily_number(world, client, app):
    app.config["RESIDENT_REPORTS_PER_DEVICE"] = 2
    try:
        for n in range(2):
            tracking_path(send(client, world, text=f"第{n}个问题：路灯不亮"))
        refused = send(client, world, text="第三个问题：路灯不亮")
        assert refused.status_code == 429 and "今天已发送 2 条反映" in refused.get_data(as_text=True)
        other_phone = app.test_client()
        tracking_path(send(other_phone, world, text="另一部手机：路灯不亮"))
    finally:
        app.config["RESIDENT_REPORTS_PER_DEVICE"] = 5


def test_one_device_sending_to_two_compounds_at_once_stays_within_its_limit(world, app, monkeypatch):
    """The limit is per device, not per 小区: two sends at the same moment to two 小区 (each send locks its own
    小区) are still counted one after the other, so a device with one report left gets exactly one through."""
    import threading
    import time

    from .builders import make_compound

    community = nodes_at("community")[0]
    other = make_compound(community, "金湾花园", buildings=("9栋",))
    outside = next(n for n in nodes_at("neighbour") if n.name == "外邻")
    outside.compound_id = other.id
    db.session.commit()
    targets = [(world["compound"].id, world["buildings"]["1栋"].id), (other.id, other.buildings[0].id)]
    road = category("lighting").id
    counted = reports._check_limits

    def count_then_linger(*args):
        counted(*args)
        time.sleep(0.3)  # both sends have counted before either is written, unless the second waits its turn

    monkeypatch.setattr(reports, "_check_limits", count_then_linger)
    app.config["RESIDENT_REPORTS_PER_DEVICE"] = 1
    start, outcomes = threading.Barrier(2), []

    def send_to(compound_id, building_id, n):
        with app.app_context():
            start.wait()
            try:
                submission = reports.Submission(compound_id, building_id, road, f"路灯不亮，第{n}处")
                reports.send(submission, reports.Source(device="同一部手机", address=f"10.0.0.{n}"), [])
                db.session.commit()
                outcomes.append("sent")
            except reports.ReportError as refused:
                db.session.rollback()
                outcomes.append(refused.code)
            finally:
                db.session.remove()

    try:
        threads = [threading.Thread(target=send_to, args=(*target, n)) for n, target in enumerate(targets)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        app.config["RESIDENT_REPORTS_PER_DEVICE"] = 5
    assert sorted(outcomes) == ["device_limit", "sent"], outcomes
    assert db.session.scalar(select(func.count(ResidentReport.id))) == 1


def test_one_address_sends_at_most_its_daily_number(world, app):
    app.config["RESIDENT_REPORTS_PER_ADDRESS"] = 2
    try:
        for n in range(2):
            tracking_path(send(app.test_client(), world, text=f"第{n}个问题：路灯不亮"))
        refused = send(app.test_client(), world, text="第三个问题：路灯不亮")
        assert refused.status_code == 429 and "这个网络今天发来的反映太多" in refused.get_data(as_text=True)
    finally:
        app.config["RESIDENT_REPORTS_PER_ADDRESS"] = 40


def test_the_same_words_again_are_taken_once(world, app):
    tracking_path(send(app.test_client(), world, text="三单元 楼道灯坏了"))
    refused = send(app.test_client(), world, text="三单元楼道灯坏了 ")
    assert refused.status_code == 429 and "邻长已经收到" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ResidentReport.id))) == 1


def test_too_many_photos_or_bytes_are_refused_before_anything_is_kept(world, client, app, uploads):
    refused = send(client, world, photos=4)
    assert refused.status_code == 413 and "最多 3 张照片" in refused.get_data(as_text=True)
    app.config["RESIDENT_REPORT_MAX_BYTES"] = 2000
    try:
        refused = send(client, world, photos=1)
        assert refused.status_code == 413 and "照片太大" in refused.get_data(as_text=True)
    finally:
        app.config["RESIDENT_REPORT_MAX_BYTES"] = 24 * 1024 * 1024
    assert db.session.scalar(select(func.count(ResidentReport.id))) == 0
    assert not list(uploads.glob("*.jpg")) if uploads.exists() else True


def test_the_branch_blocks_a_source_and_lifts_the_block(world, client, auth, app):
    tracking_path(send(client, world))
    report = only_report()
    auth.login(world["people"]["neighbour"].mobile)
    assert (
        auth.post(f"/resident-reports/{report.id}/block", form_page=f"/resident-reports/{report.id}").status_code == 303
    )
    assert db.session.scalar(select(func.count(ReportSourceBlock.id))) == 0  # a 邻长 may not
    auth.logout()
    auth.login(world["people"]["branch"].mobile)
    auth.post(f"/resident-reports/{report.id}/block", form_page=f"/resident-reports/{report.id}")
    assert db.session.scalar(select(func.count(ReportSourceBlock.id))) == 2  # the phone and its network
    auth.logout()
    refused = send(client, world, text="换个说法再发一次")
    assert refused.status_code == 403 and "已被社区暂停" in refused.get_data(as_text=True)
    auth.login(world["people"]["branch"].mobile)
    auth.post(f"/resident-reports/{report.id}/unblock", form_page=f"/resident-reports/{report.id}")
    auth.logout()
    tracking_path(send(client, world, text="换个说法再发一次"))


# --- nothing typed is public --------------------------------------------------------------------


def test_nothing_a_resident_typed_appears_on_any_public_answer(world, client, auth, app):
    path = tracking_path(send(client, world, photos=1))
    report = only_report()
    leader = world["people"]["neighbour"]
    issue = reports.confirm(leader, report, reports.prefilled(report))
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["people"]["group"], issue, status, "已修好" if status == "resolved" else "")
    db.session.commit()
    compound = world["compound"]
    public = [
        f"/p/compound/{compound.id}",
        f"/p/compound/{compound.id}/poster",
        f"/p/compound/{compound.id}/feed.atom",
        f"/p/community/{compound.community_id}",
        f"/p/community/{compound.community_id}/feed.atom",
        f"/p/issue/{issue.reference}",
        f"/p/issue/{issue.reference}/feed.atom",
        f"/p/search?q={issue.reference}",
        "/p/",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{issue.reference}.json",
        path,  # the resident's own page shows the public progress only
    ]
    token = path.rsplit("/", 1)[1]
    for url in public:
        text = client.get(url).get_data(as_text=True)
        assert CANARY_PHONE not in text and CANARY_TEXT not in text, url
        if url != path:
            assert token not in text and report.reference not in text, url
    for body in page_cache.memory_bodies():
        assert CANARY_PHONE not in body and CANARY_TEXT not in body


# --- figures ------------------------------------------------------------------------------------

HOUR = timedelta(hours=1)


def plain_figures(rows, now) -> ResidentReportFigures:
    """The definition, read straight: rows are (created, decided or None, status)."""
    figures = ResidentReportFigures()
    for created, decided, status in rows:
        figures.received += 1
        figures.waiting += status == "waiting"
        figures.confirmed += status == "confirmed"
        figures.declined += status == "declined"
        within = decided is not None and (int(decided.timestamp()) - int(created.timestamp())) <= 24 * 3600
        figures.answered_within_day += within
        figures.due += within or created <= now - timedelta(hours=24)
    return figures


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),  # which 邻
            st.integers(0, 96),  # hours ago it arrived
            st.one_of(st.none(), st.integers(0, 60 * 60 * 48)),  # seconds later it was answered
            st.sampled_from(["confirmed", "declined"]),
        ),
        max_size=12,
    )
)
def test_answered_within_a_day_equals_a_plain_recount(world, rows):
    db.session.query(ResidentReport).delete()
    now = utcnow().replace(microsecond=0)
    neighbours = [world["first"], world["second"]]
    kept = {0: [], 1: []}
    for n, (which, hours_ago, answered_after, decided_as) in enumerate(rows):
        created = now - hours_ago * HOUR
        decided = created + timedelta(seconds=answered_after) if answered_after is not None else None
        if decided is not None and decided > now:
            decided = None
        status = decided_as if decided is not None else "waiting"
        db.session.add(
            ResidentReport(
                reference=f"FYT{n:05d}",
                token_digest=f"{n:064d}",
                compound_id=world["compound"].id,
                neighbour_id=neighbours[which].id,
                handler_node_id=neighbours[which].id,
                category_id=category("road").id,
                text="测试",
                status=status,
                decided_at=decided,
                address_digest="a",
                text_digest=f"t{n}",
                created_at=created,
            )
        )
        kept[which].append((created, decided, status))
    db.session.flush()
    group = nodes_at("group")[0]
    by_child = reports.figures_by(group, now=now)
    for child, figures in by_child.children:
        which = 0 if child.id == world["first"].id else 1
        assert figures == plain_figures(kept[which], now)
    total = plain_figures(kept[0] + kept[1], now)
    assert by_child.total == total
    assert reports.figures_by(nodes_at("district")[0], now=now).total == total
    rate = total.answered_within_day_rate
    assert rate is None or 0 <= rate <= 1
    assert total.answered_within_day <= total.due <= total.received
    db.session.rollback()


def test_flash_after_confirm_names_the_issue(world, client, auth):
    tracking_path(send(client, world))
    report = only_report()
    auth.login(world["people"]["neighbour"].mobile)
    form = client.get(f"/resident-reports/{report.id}").get_data(as_text=True)
    done = auth.post(
        f"/resident-reports/{report.id}/confirm",
        {
            "category": str(category("lighting").id),
            "title": "楼道灯不亮",
            "description": "",
            "urgency": "normal",
            "idempotency_key": find(form, "#idempotency_key")["value"],
        },
        form_page=f"/resident-reports/{report.id}",
        follow_redirects=True,
    )
    issue = db.session.scalar(select(Issue))
    assert any(issue.reference in m for m in flash_messages(done.get_data(as_text=True)))


def test_a_compound_without_any_neighbour_unit_says_so_before_anything_is_typed(world, client):
    lone = make_compound(nodes_at("community")[0], "孤楼小区", buildings=("1栋",))
    db.session.commit()
    page = client.get(f"/p/compound/{lone.id}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "本小区还没有可以接收反映的邻。" in html and find(html, "form textarea") is None
