"""Problems filed offline wait on the phone (IndexedDB, photos included) and are sent from any page once online.

Each test files offline, closes the tab, comes back online and opens another page of the app in a new tab:
the problem is filed exactly once, with every field and photo, or the server's refusal is shown and fixed.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Category, Issue, Photo
from tests.browser.test_filing_browser import count, photo_file, small_world, wait_for
from tests.builders import category, make_issue

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("uploads")]

NO_SERVICE_WORKER = {"service_workers": "block"}  # only the page-load path can send


def fill_form(page, title: str, kind: str = "drainage", building: str = "3栋") -> str:
    """Fill the filing form; returns its idempotency key."""
    page.select_option("#category", label=category(kind).name_zh)
    page.fill("#title", title)
    page.select_option("#building", label=building)
    return page.input_value("#idempotency_key")


def file_offline(phone) -> None:
    """Lose the connection and tap 提交: the form says it is kept on the phone."""
    page = phone.page
    page.context.set_offline(True)
    page.locator("form#filing button.primary").tap()
    note = page.locator("#draft-note")
    note.wait_for()
    assert note.inner_text() == note.get_attribute("data-saved")


def reopen_online(phone, path: str):
    """Close the tab, come back online, open `path` in a new tab."""
    fresh = phone.new_page(between=lambda context: context.set_offline(False))
    phone.goto(path)
    return fresh


def outbox_bar(page):
    return page.locator("#outbox .outbox-bar")


@pytest.mark.parametrize("reopen", ["/", "/file/"])
def test_offline_filing_with_a_photo_is_sent_once_from_any_page(phone, reopen):
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋下水道堵塞")
    page.locator("label.choice.urgent").tap()
    page.fill("#place_detail", "3栋1单元门口")
    page.set_input_files("#photos", [photo_file("drain.jpg", size=(4000, 3000))])
    file_offline(phone)
    assert count(Issue) == 0

    reopen_online(phone, reopen)
    assert wait_for(lambda: count(Issue) == 1 and count(Photo) == 1, timeout=15)
    time.sleep(1)  # a second send, if there were one, would have arrived by now
    assert count(Issue) == 1
    issue = db.session.scalar(select(Issue))
    assert (issue.title, issue.idempotency_key, issue.urgency) == ("3栋下水道堵塞", key, "urgent")
    assert issue.place_detail == "3栋1单元门口" and issue.building.name == "3栋"
    (photo,) = db.session.scalars(select(Photo).where(Photo.issue_id == issue.id))
    assert (photo.width, photo.height) == (2048, 1536)  # scaled on the phone, kept on the phone
    outbox_bar(phone.page).wait_for(state="hidden")
    assert phone.page.evaluate("Outbox.all().then((d) => d.length)") == 0


@pytest.mark.parametrize("reopen", ["/", "/file/"])
def test_offline_filing_keeps_the_different_problem_tick(phone, reopen):
    leader = small_world()
    compound_id = leader.roles[0].node.compound_id
    earlier = make_issue(leader, title="3栋下水道反味", category="drainage", compound_id=compound_id)
    before = count(Issue)
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋雨水井盖破损")
    page.locator("#duplicates .dups").wait_for()
    assert earlier.reference in page.locator("#duplicates").inner_text()
    page.locator("label.confirm").tap()
    file_offline(phone)

    reopen_online(phone, reopen)
    assert wait_for(lambda: count(Issue) == before + 1, timeout=15)
    issue = db.session.scalar(select(Issue).where(Issue.idempotency_key == key))
    assert issue.title == "3栋雨水井盖破损"


@pytest.mark.parametrize("phone", [NO_SERVICE_WORKER], indirect=True)
def test_without_a_service_worker_the_next_page_load_sends_it(phone):
    """The page-load path alone (service workers blocked): the home page sends the kept problem."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    fill_form(page, "3栋楼道灯不亮", kind="lighting")
    page.set_input_files("#photos", [photo_file("light.jpg")])
    file_offline(phone)
    assert outbox_bar(page).inner_text() == "1 条待发送"
    phone.check("waiting-on-the-form")

    reopen_online(phone, "/")
    assert wait_for(lambda: count(Issue) == 1 and count(Photo) == 1, timeout=15)
    issue = db.session.scalar(select(Issue))
    assert issue.title == "3栋楼道灯不亮" and len(issue.photos) == 1
    sent = phone.page.locator("#outbox .outbox-sent")
    sent.wait_for()
    assert issue.reference in sent.inner_text()
    phone.check("sent-from-home")


@pytest.mark.parametrize("phone", [NO_SERVICE_WORKER], indirect=True)
def test_a_refused_draft_is_shown_fixed_and_sent(phone):
    """The kind chosen offline was withdrawn meanwhile: the refusal is shown, the form reopens with the photo."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋外墙瓷砖脱落", kind="greenery")
    page.set_input_files("#photos", [photo_file("wall.jpg")])
    file_offline(phone)
    withdrawn = db.session.get(Category, category("greenery").id)
    withdrawn.active = False
    db.session.commit()

    page = reopen_online(phone, "/")
    bar = outbox_bar(page)
    refused = page.locator("#outbox .outbox-list .error")
    bar.wait_for()
    assert wait_for(lambda: page.evaluate("Outbox.all().then((d) => d[0] && d[0].state)") == "refused")
    assert count(Issue) == 0
    assert bar.inner_text() == "1 条待发送"
    bar.tap()
    refused.wait_for()
    assert "请选择问题类别" in refused.inner_text() and "3栋外墙瓷砖脱落" in page.locator("#outbox").inner_text()
    assert all(box["height"] >= 44 for box in (b.bounding_box() for b in page.locator("#outbox .button").all()))
    phone.check("refused-draft")

    phone.tap(page.locator("#outbox a.button"))  # 修改后发送: the form, filled from the draft
    page.locator("#category-error").wait_for()
    assert page.input_value("#title") == "3栋外墙瓷砖脱落" and page.input_value("#idempotency_key") == key
    assert page.evaluate("document.getElementById('photos').files.length") == 1
    assert "请选择问题类别" in page.locator("#category-error").inner_text()
    phone.check("fix-the-draft")
    page.select_option("#category", label=category("road").name_zh)
    with page.expect_navigation(url=lambda url: "/issues/" in url):
        page.locator("form#filing button.primary").tap()
    assert count(Issue) == 1
    issue = db.session.scalar(select(Issue))
    assert (issue.idempotency_key, issue.category_id, len(issue.photos)) == (key, category("road").id, 1)
    assert page.evaluate("Outbox.all().then((d) => d.length)") == 0


def test_background_sync_sends_it_with_no_page_open(phone):
    """The service worker's Background Sync: back online with every tab closed, the problem is filed."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.sync && r.active.scriptURL)").endswith("/sw.js")
    key = fill_form(page, "3栋电梯异响", kind="lift")
    page.set_input_files("#photos", [photo_file("lift.jpg")])
    file_offline(phone)
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.sync.getTags())") == ["outbox"]
    context = page.context
    page.close()
    context.set_offline(False)
    # No page of the app is open. (On SQLite the issue row is visible a moment before its photo.)
    assert wait_for(lambda: count(Issue) == 1 and count(Photo) == 1, timeout=20)
    issue = db.session.scalar(select(Issue))
    assert (issue.idempotency_key, len(issue.photos)) == (key, 1)
    phone.page = context.new_page()
    phone.watch()
    phone.goto("/")
    assert wait_for(lambda: phone.page.evaluate("Outbox.all().then((d) => d.length)") == 0)
    assert phone.page.locator("#outbox .outbox-bar").count() == 0
    assert count(Issue) == 1


@pytest.mark.parametrize("phone", [NO_SERVICE_WORKER], indirect=True)
def test_two_senders_at_once_file_it_once(phone):
    """Two senders of one draft (a page and the service worker): the claim lets one send; even two raw posts
    with the same idempotency key make one issue with one set of photos."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋垃圾桶满溢", kind="sanitation")
    page.set_input_files("#photos", [photo_file("bin.jpg")])
    file_offline(phone)
    phone.new_page(between=lambda context: context.set_offline(False))
    phone.goto("/p/")  # a public page: no outbox script of its own, so nothing sends before we do
    page = phone.page
    page.add_script_tag(url="/static/js/outbox.js")
    page.add_script_tag(url="/static/js/outbox-send.js")
    page.evaluate("(key) => Outbox.get(key).then((d) => { window.kept = d; })", key)
    answers = page.evaluate("(key) => Promise.all([Outbox.send(key), Outbox.send(key)])", key)
    assert sorted(bool(a.get("busy")) for a in answers) == [False, True]
    assert next(a for a in answers if not a.get("busy"))["ok"] is True
    assert count(Issue) == 1 and page.evaluate("Outbox.all().then((d) => d.length)") == 0

    # Past any claim (two phones, say): the server files a key once however often it arrives at once.
    statuses = page.evaluate(
        """async () => {
          const me = await (await fetch('/file/token')).json();
          const post = () => {
            const body = new FormData();
            for (const [n, v] of kept.fields) body.append(n, v);
            for (const p of kept.photos) body.append('photos', p, p.name);
            body.append('csrf_token', me.csrf_token);
            return fetch('/file/', { method: 'POST', body, headers: { 'X-Requested-With': 'outbox' } })
              .then(async (r) => [r.status, (await r.json()).reference]);
          };
          return Promise.all([post(), post()]);
        }"""
    )
    reference = db.session.scalar(select(Issue.reference))
    assert statuses == [[200, reference], [200, reference]] and count(Issue) == 1 and count(Photo) == 1


def test_a_logged_out_leader_is_asked_to_log_in_and_the_draft_waits(phone):
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋消防通道堵塞", kind="fire")
    file_offline(phone)

    def logged_out_and_online(context):
        context.clear_cookies()  # the session ended while the phone was offline
        context.set_offline(False)

    page = phone.new_page(between=logged_out_and_online)
    phone.goto("/auth/login")
    bar = outbox_bar(page)
    bar.wait_for()
    assert bar.inner_text() == "1 条待发送" and count(Issue) == 0
    bar.tap()
    listed = page.locator("#outbox .outbox-list").inner_text()
    assert "请登录后发送" in listed and "消防通道" not in listed  # whose it is is not known: no title, no discard
    assert page.locator("#outbox .outbox-list button").count() == 0
    phone.check("log-in-to-send")
    phone.log_in(leader.mobile)
    assert wait_for(lambda: count(Issue) == 1)
    assert db.session.scalar(select(Issue.idempotency_key)) == key
    page.locator("#outbox .outbox-sent").wait_for()
    assert page.locator("#outbox .outbox-bar").count() == 0


@pytest.mark.parametrize("phone", [NO_SERVICE_WORKER], indirect=True)
def test_a_draft_refused_as_a_possible_duplicate_is_ticked_and_sent(phone):
    """Someone filed a similar problem while the phone was offline: the leader sees it, ticks, sends."""
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    key = fill_form(page, "3栋化粪池外溢")
    page.set_input_files("#photos", [photo_file("tank.jpg")])
    file_offline(phone)
    other = make_issue(leader, title="3栋下水道冒水", category="drainage", compound_id=leader.roles[0].node.compound_id)

    page = reopen_online(phone, "/")
    assert wait_for(lambda: page.evaluate("Outbox.all().then((d) => d[0] && d[0].state)") == "refused")
    outbox_bar(page).tap()
    assert "此处已有类似的未办结问题" in page.locator("#outbox .outbox-list .error").inner_text()
    phone.tap(page.locator("#outbox a.button"))
    page.locator("#duplicates .dups").wait_for()
    assert other.reference in page.locator("#duplicates").inner_text()
    assert page.evaluate("document.getElementById('photos').files.length") == 1
    page.locator("label.confirm").tap()
    with page.expect_navigation(url=lambda url: "/issues/" in url):
        page.locator("form#filing button.primary").tap()
    issue = db.session.scalar(select(Issue).where(Issue.idempotency_key == key))
    assert issue.title == "3栋化粪池外溢" and len(issue.photos) == 1 and count(Issue) == 2


def test_photos_over_the_budget_are_not_kept_and_the_form_says_why(phone):
    leader = small_world()
    phone.log_in(leader.mobile)
    phone.goto("/file/")
    page = phone.page
    fill_form(page, "3栋墙面渗水")
    page.set_input_files("#photos", [photo_file(f"{n}.jpg", size=(320, 240)) for n in range(7)])
    page.context.set_offline(True)
    page.locator("form#filing button.primary").tap()
    note = page.locator("#draft-note")
    note.wait_for()
    assert note.inner_text() == "每个问题最多 6 张照片、共 10 MB（发送前保存在本机）。请少选几张或换小一些的照片。"
    assert page.evaluate("Outbox.all().then((d) => d.length)") == 0 and count(Issue) == 0
    page.set_input_files("#photos", [photo_file("1.jpg", size=(320, 240))])
    page.locator("form#filing button.primary").tap()
    assert wait_for(lambda: note.inner_text().startswith("已保存在本机"))
    assert page.evaluate("Outbox.all().then((d) => d.map((x) => x.photos.length))") == [1]
