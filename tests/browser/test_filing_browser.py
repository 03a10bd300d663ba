"""Filing a problem on a 360 px phone in real Chromium: the form, possible duplicates, photos, offline drafts."""

from __future__ import annotations

import json
import time
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import func, select

from governance import demo
from governance.extensions import db
from governance.models import Building, Compound, Issue, Person, Photo
from governance.services.issues import places
from tests.builders import category, make_compound, make_issue, make_node, make_person, make_tree, nodes_at

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("uploads")]


def photo_file(name: str = "IMG_2041.jpg", size=(1200, 900)) -> dict:
    """A phone photo (with GPS in its EXIF) as Playwright hands it to a file input."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (28.0, 22.0, 30.5), 3: "E", 4: (112.0, 53.0, 10.0)}
    bands = [Image.linear_gradient("L"), Image.radial_gradient("L"), Image.effect_noise((256, 256), 20)]
    picture = Image.merge("RGB", [band.resize(size) for band in bands])
    buffer = BytesIO()
    picture.save(buffer, "JPEG", quality=95, exif=exif)
    return {"name": name, "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def count(model, *where) -> int:
    """Read afresh: the live server commits in its own threads."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def wait_for(predicate, timeout: float = 10.0):
    """Poll until predicate() is true (the browser works in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_demo_neighbour_leader_files_an_issue(phone, uploads):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    login = next(entry for entry in demo.DEMO_LOGINS if entry["key"] == "neighbour_leader")
    leader = db.session.scalar(select(Person).where(Person.mobile == login["mobile"]))
    neighbour = leader.roles[0].node
    building = db.session.scalar(
        select(Building).where(Building.compound_id == neighbour.compound_id, Building.name == "1栋")
    )
    earlier = make_issue(leader, title="1栋门口路灯闪烁", category="lighting", compound_id=building.compound_id)
    before = count(Issue)

    phone.log_in(login["mobile"], login["password"])
    phone.tap(phone.page.locator(".role-card a[href='/file/']"))
    assert phone.path == "/file/"
    page = phone.page
    # The 邻长's own 邻 and its 小区 are chosen already.
    assert page.locator("#neighbour option").count() == 1
    assert page.input_value("#neighbour") == str(neighbour.id)
    assert page.input_value("#compound") == str(neighbour.compound_id)
    phone.check("form")

    page.select_option("#category", label=category("lighting").name_zh)
    page.fill("#title", "1栋路灯不亮")
    page.fill("#description", "1栋东侧两盏路灯已经一周不亮，晚上老人出门看不清台阶。")
    page.select_option("#building", label="1栋")
    # Possible duplicates appear as soon as kind and place are chosen, before anything is saved.
    dups = page.locator("#duplicates .dups")
    dups.wait_for()
    assert earlier.reference in dups.inner_text()
    page.locator("label.choice.urgent").tap()
    page.set_input_files("#photos", [photo_file()])
    page.fill("#place_detail", "1栋东侧小路")
    page.fill("#resident_name", "李阿姨")
    page.fill("#resident_phone", "13912345678")
    page.locator("label.confirm").tap()
    phone.check("filled")

    phone.tap("form#filing button.primary")
    issue = db.session.scalar(select(Issue).order_by(Issue.id.desc()))
    assert count(Issue) == before + 1
    assert phone.path.startswith(f"/issues/{issue.id}")
    assert issue.reference in page.locator(".flash").first.inner_text()
    assert (issue.title, issue.urgency, issue.building_id) == ("1栋路灯不亮", "urgent", building.id)
    assert (issue.resident_name, issue.resident_phone) == ("李阿姨", "13912345678")
    (photo,) = db.session.scalars(select(Photo).where(Photo.issue_id == issue.id))
    assert photo.thumb_name and (uploads / photo.thumb_name).exists()
    with Image.open(uploads / photo.stored_name) as stored:
        assert not stored.getexif()
    phone.check("filed")


def small_world():
    """普瑞斯堡社区 with one 组 of two 邻 in the 普瑞斯堡小区 (1栋…6栋); returns the first 邻's 邻长."""
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    compound = make_compound(community, "普瑞斯堡小区")
    for b in range(1, 7):
        db.session.add(Building(compound_id=compound.id, name=f"{b}栋"))
    zone = make_node(community, "zone", "第1片")
    group = make_node(zone, "group", "第1片第1组")
    neighbour = make_node(group, "neighbour", "3栋1单元")
    make_node(group, "neighbour", "3栋2单元")
    for node in (zone, group, neighbour):
        node.compound_id = compound.id
    db.session.commit()
    return make_person("neighbour_leader", neighbour, name="王秀英")


def draft_of(phone, person) -> dict | None:
    """The text typed into the form, kept as it is typed (localStorage)."""
    raw = phone.page.evaluate(f"localStorage.getItem('filing-draft-{person.id}')")
    return json.loads(raw) if raw else None


def outbox(phone) -> list[dict]:
    """The drafts waiting in the outbox (IndexedDB), photos as their sizes."""
    return phone.page.evaluate(
        "Outbox.all().then((ds) => ds.map((d) => Object.assign(d, { photos: d.photos.map((p) => p.size) })))"
    )


def test_offline_draft_is_sent_once_when_back_online(phone):
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    page.select_option("#category", label=category("drainage").name_zh)
    page.fill("#title", "3栋下水道堵塞")
    page.select_option("#building", label="3栋")
    big = photo_file("drain.jpg", size=(4000, 3000))  # as a phone camera takes it
    page.set_input_files("#photos", [big])
    key = page.input_value("#idempotency_key")

    page.context.set_offline(True)
    page.locator("form#filing button.primary").tap()
    note = page.locator("#draft-note")
    note.wait_for()
    assert note.inner_text() == note.get_attribute("data-saved")
    (draft,) = outbox(phone)
    assert draft["key"] == key and draft["title"] == "3栋下水道堵塞" and draft["state"] == "wait"
    assert ["idempotency_key", key] in draft["fields"] and ["title", "3栋下水道堵塞"] in draft["fields"]
    # The phone keeps (and will send) the photo scaled down to what the server keeps, not the camera's megabytes.
    assert len(draft["photos"]) == 1 and draft["photos"][0] < len(big["buffer"]) / 2
    assert draft_of(phone, leader) is None  # the typed text now waits in the outbox, not to be offered back
    assert count(Issue) == 0
    phone.shot("saved-on-phone")
    phone.assert_clean("saved-on-phone")

    with page.expect_navigation(url=lambda url: "/issues/" in url):
        page.context.set_offline(False)  # back online: the outbox sends the kept form, the page follows it
    assert wait_for(lambda: count(Issue) == 1)
    time.sleep(0.5)  # a second send, if there were one, would have arrived by now
    assert count(Issue) == 1
    issue = db.session.scalar(select(Issue))
    assert (issue.title, issue.idempotency_key) == ("3栋下水道堵塞", key)
    (photo,) = db.session.scalars(select(Photo).where(Photo.issue_id == issue.id))
    assert (photo.width, photo.height) == (2048, 1536)
    assert issue.reference in page.locator(".flash").first.inner_text()
    assert outbox(phone) == []
    phone.check("sent")


def test_draft_is_offered_back_and_a_kept_draft_is_sent_on_the_next_visit(phone):
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    page.select_option("#category", label=category("greenery").name_zh)
    page.fill("#title", "楼下绿化带杂草丛生")
    page.fill("#resident_name", "赵大爷")
    page.locator("label.choice.urgent").tap()
    key = page.input_value("#idempotency_key")

    phone.goto("/file/")  # the page is opened again: a fresh form, and an offer to restore the draft
    assert page.input_value("#title") == "" and page.input_value("#idempotency_key") != key
    note = page.locator("#draft-note")
    assert note.is_visible() and note.locator("button").count() == 2
    phone.check("restore-offer")
    note.locator("button").first.tap()
    assert page.input_value("#title") == "楼下绿化带杂草丛生" and page.input_value("#resident_name") == "赵大爷"
    assert page.input_value("#idempotency_key") == key and page.is_checked("#urgency-1")
    assert page.input_value("#category") == str(category("greenery").id)
    assert note.is_hidden()

    # Sent while offline, the page closed before the connection came back: the next visit sends it, once,
    # and does not offer it back.
    page.context.set_offline(True)
    page.locator("form#filing button.primary").tap()
    note.wait_for()
    assert note.inner_text() == note.get_attribute("data-saved")
    phone.new_page(between=lambda context: context.set_offline(False))
    phone.goto("/file/")
    assert wait_for(lambda: count(Issue) == 1)
    issue = db.session.scalar(select(Issue))
    assert (issue.title, issue.idempotency_key, issue.urgency) == ("楼下绿化带杂草丛生", key, "urgent")
    assert issue.resident_name == "赵大爷"
    assert wait_for(lambda: outbox(phone) == [])  # sent by this page or already by the service worker
    assert phone.page.locator("#outbox .outbox-bar").count() == 0
    assert phone.page.locator("#draft-note").is_hidden() and draft_of(phone, leader) is None
    phone.check("sent-on-next-visit")


def test_leader_of_many_neighbours_searches_for_one(phone, monkeypatch):
    """Above MAX_CHOICES 邻 the form asks for a search word; what was typed survives the search."""
    monkeypatch.setattr(places, "MAX_CHOICES", 3)
    make_tree(zones=1, groups=3, neighbours=2)
    leader = make_person("zone_leader", nodes_at("zone")[0], name="张桂兰")
    wanted = nodes_at("neighbour")[3]
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    assert page.locator("#neighbour option[data-c]").count() == 0
    page.fill("#title", "楼道灯坏了")
    phone.check("search")
    page.fill("#neighbour_filter", "第2组")
    with page.expect_response(lambda r: r.request.method == "POST"):
        page.press("#neighbour_filter", "Enter")
    page.locator("#neighbour option[data-c]").first.wait_for(state="attached")
    assert page.locator("#neighbour option[data-c]").count() == 2
    assert page.input_value("#title") == "楼道灯坏了"
    page.select_option("#neighbour", str(wanted.id))
    page.select_option("#category", label=category("lighting").name_zh)
    phone.check("found")
    phone.tap("form#filing button.primary")
    assert "/issues/" in phone.path
    assert count(Issue) == 1 and db.session.scalar(select(Issue)).neighbour_id == wanted.id


def test_form_without_javascript_keeps_input_and_files(browser, live_server, engine_name):
    """With scripts off: errors come back with what was typed, and filing works."""
    leader = small_world()
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, java_script_enabled=False, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(live_server("/auth/login"))
        page.fill("#mobile", leader.mobile)
        page.fill("#password", "password-123")
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        page.goto(live_server("/file/"))
        assert page.locator("#geo").is_hidden()  # "use my location" needs JavaScript
        page.fill("#description", "垃圾桶满了没人清")
        with page.expect_navigation():
            page.click("form#filing button.primary")
        assert page.locator("#title-error").is_visible() and page.input_value("#description") == "垃圾桶满了没人清"
        page.select_option("#category", label=category("sanitation").name_zh)
        page.fill("#title", "3栋垃圾桶满溢")
        page.set_input_files("#photos", [photo_file()])
        with page.expect_navigation():
            page.click("form#filing button.primary")
        assert "/issues/" in page.url
        assert count(Issue) == 1 and count(Photo) == 1
    finally:
        context.close()


def test_logout_forgets_the_residents_contact_in_the_typed_form_but_keeps_the_rest(phone):
    """The form's autosave keeps the resident's name and phone only while its own leader is logged in."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    page.fill("#title", "楼道灯不亮")
    page.fill("#resident_name", "赵大爷")
    page.fill("#resident_phone", "13912345678")
    assert draft_of(phone, leader)["v"]["resident_phone"] == "13912345678"
    phone.tap(page.locator(".topnav form[action$='/auth/logout'] button"))
    draft = draft_of(phone, leader)
    assert draft["v"]["title"] == "楼道灯不亮"  # an unsent form is not lost
    assert "resident_name" not in draft["v"] and "resident_phone" not in draft["v"]
    assert "13912345678" not in page.evaluate("JSON.stringify(localStorage)")


def test_a_compound_moved_away_while_the_form_was_open_is_shown_with_why(phone):
    """The 小区 the form chose moves to another 社区 before the 邻长 sends it: the message shows beside the 小区 field,
    everything typed kept; choosing no 小区 files. (Without JavaScript the page comes back with the field and its
    message even though the 社区 no longer lists it: tests/test_filing.py.)"""
    leader = small_world()
    compound = db.session.scalar(select(Compound).where(Compound.name == "普瑞斯堡小区"))
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    page.select_option("#category", label=category("lighting").name_zh)
    page.fill("#title", "3栋楼道灯不亮")
    page.select_option("#building", label="3栋")
    other = make_node(nodes_at("street")[0], "community", "白沙洲社区")
    db.session.get(Compound, compound.id).community_id = other.id
    db.session.commit()
    page.locator("form#filing button.primary").tap()  # sent through the outbox: the answer comes in place
    message = page.locator("#compound-error")
    message.wait_for()
    assert count(Issue) == 0 and "小区" in message.inner_text()
    assert page.input_value("#title") == "3栋楼道灯不亮"
    phone.check("compound-refused")
    page.select_option("#compound", "")
    phone.tap("form#filing button.primary")
    assert "/issues/" in phone.path
    assert count(Issue) == 1 and db.session.scalar(select(Issue.compound_id)) is None
