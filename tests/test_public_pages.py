"""Public progress pages: every page on both engines, filters, 404s, the canary test over pages and
cache entries, cache invalidation and TTL, conditional requests, resident rating links, the demo poster."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update
from sqlalchemy import text as sql_text
from werkzeug.datastructures import FileStorage

from governance import demo
from governance.extensions import db
from governance.models import Building, Compound, Issue, IssueEvent, RatingToken, utcnow
from governance.redis_conn import BREAKER
from governance.services.issues import rating
from governance.services.issues.lifecycle import add_comment, escalate, record_callback, transition
from governance.services.money import ledger
from governance.services.platform import photos
from governance.services.public import page_cache
from governance.services.public.projection import PUBLIC_EVENT_KINDS
from governance.services.reports import rates
from governance.services.residents import reports
from tests.builders import (
    category,
    force_status,
    make_compound,
    make_issue,
    make_person,
    make_project,
    make_source,
    make_tree,
    nodes_at,
)
from tests.canaries import CANARIES as BASE_CANARIES
from tests.canaries import PUBLIC_UPDATE
from tests.conftest import Statements, another_worker, csrf_from, settle_near_copy
from tests.pages import find, find_all, text_of

# Unique strings that must never reach a public page or a cache entry.
CANARIES = {**BASE_CANARIES, "donor": "金丝雀捐款人", "donor_phone": "13755556666"}


pytestmark = pytest.mark.usefixtures("fresh_public_cache")


@pytest.fixture
def world(app):
    """One 街镇, one community with the 小区 普瑞斯堡 (3栋), its 邻长, 组长 and branch member."""
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=1)
    community = nodes_at("community")[0]
    compound = make_compound(community)
    building = Building(compound_id=compound.id, name="3栋")
    db.session.add(building)
    db.session.commit()
    return {
        "street": nodes_at("street")[0],
        "community": community,
        "other_community": nodes_at("community")[1],
        "compound": compound,
        "building": building,
        "neighbour": make_person(
            "neighbour_leader", nodes_at("neighbour")[0], name=CANARIES["leader_name"], mobile=CANARIES["leader_mobile"]
        ),
        "group": make_person("group_leader", nodes_at("group")[0], name=CANARIES["group_name"]),
        "branch": make_person("branch_member", community),
    }


def file(world, **fields):
    """An issue in 普瑞斯堡 3栋, filed by the 邻长."""
    fields.setdefault("compound_id", world["compound"].id)
    fields.setdefault("building_id", world["building"].id)
    return make_issue(world["neighbour"], **fields)


def resolve(world, issue, note="路面已修复"):
    """Acknowledge, start and resolve through the lifecycle service, as the 组长; committed."""
    for status in ("acknowledged", "in_progress"):
        transition(world["group"], issue, status)
    transition(world["group"], issue, "resolved", note)
    db.session.commit()


def jpeg() -> FileStorage:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(buffer, "JPEG")
    buffer.seek(0)
    return FileStorage(buffer, filename="photo.jpg", content_type="image/jpeg")


def body(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


# --- pages ---------------------------------------------------------------------------------------


def test_every_public_page_answers_without_login(world, client):
    issue = file(world)
    resolve(world, issue)
    add_comment(world["branch"], issue, "public_update", PUBLIC_UPDATE)
    db.session.commit()
    compound, community, street = world["compound"], world["community"], world["street"]

    district = body(client, "/p/")
    assert street.name in district and f"/p/street/{street.id}" in district
    assert f"/p/community/{community.id}" in body(client, f"/p/street/{street.id}")
    community_page = body(client, f"/p/community/{community.id}")
    assert f"/p/compound/{compound.id}" in community_page and "普瑞斯堡" in community_page
    page = body(client, f"/p/compound/{compound.id}")
    assert issue.reference in page and "普瑞斯堡 3栋" in page and PUBLIC_UPDATE in page
    assert "100.0%" in page  # 办结率: one issue, resolved
    assert f"/p/issue/{issue.reference}" in page and f"/p/compound/{compound.id}/poster" in page
    own = body(client, f"/p/issue/{issue.reference}")
    assert PUBLIC_UPDATE in own and "普瑞斯堡 3栋" in own
    assert body(client, f"/p/issue/{issue.reference.lower()}") == own  # references are case-blind
    poster = body(client, f"/p/compound/{compound.id}/poster")
    assert 'data-qr-target="http://localhost/p/compound/' in poster and "<svg" in poster
    for html in (district, community_page, page, own, poster):
        # Light pages, strict CSP: no script but the poster's print button's, from a static file; no inline style.
        scripts = [tag.get("src", "") for tag in find_all(html, "script")]
        assert len(scripts) == (1 if html is poster else 0), scripts
        assert all(src.startswith("/static/js/print.js") for src in scripts), scripts
        assert 'style="' not in html
        assert "/auth/logout" not in html  # no logged-in menu


def test_unknown_places_and_references_are_404(world, client):
    street, community = world["street"], world["community"]
    for url in (
        "/p/street/999999",
        f"/p/street/{community.id}",  # a community is not a 街镇
        f"/p/community/{street.id}",
        "/p/community/999999",
        "/p/compound/999999",
        "/p/compound/999999/poster",
        "/p/issue/WC-2026-999999",
        "/p/issue/not a reference!",
        "/p/photo/999999",
        "/p/photo/999999/thumb",
        "/p/street/99999999999999999999",
    ):
        assert client.get(url).status_code == 404, url


def test_filters_and_paging(world, client):
    road = [file(world, category="road") for _ in range(22)]
    lights = file(world, category="lighting")
    resolve(world, road[0])
    url = f"/p/compound/{world['compound'].id}"

    first = body(client, url)
    assert "23" in first and f"{url}?page=2" in first
    assert len(re.findall(r'class="issue-card"', first)) == 20
    second = body(client, f"{url}?page=2")
    assert len(re.findall(r'class="issue-card"', second)) == 3
    resolved = body(client, f"{url}?status=resolved")
    assert road[0].reference in resolved and lights.reference not in resolved
    assert len(re.findall(r'class="issue-card"', resolved)) == 1
    open_only = body(client, f"{url}?status=open")
    assert road[0].reference not in open_only and lights.reference in open_only
    only_lights = body(client, f"{url}?category=lighting")
    assert lights.reference in only_lights and road[1].reference not in only_lights
    assert len(re.findall(r'class="issue-card"', body(client, f"{url}?category=nosuchthing"))) == 0
    # Nonsense filters are ignored, not rendered back into the (shared, cached) page.
    odd = body(client, f"{url}?status=<b>x</b>&page=-3&utm=金丝雀")
    assert "金丝雀" not in odd and "&lt;b&gt;" not in odd and "<b>x</b>" not in odd


def test_public_responses_are_cacheable_and_set_no_cookie(world, client):
    file(world)
    response = client.get(f"/p/compound/{world['compound'].id}")
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert "Set-Cookie" not in response.headers
    assert "Cookie" in response.headers.get("Vary", "")


# --- the canary test -----------------------------------------------------------------------------


def seed_canaries(world, uploads) -> dict:
    """Every kind of private text, through the real services; returns what the public may see."""
    branch = world["branch"]
    issue = file(
        world,
        title=CANARIES["title"],
        description=CANARIES["description"],
        place_detail=CANARIES["place_detail"],
        resident_name=CANARIES["resident_name"],
        resident_phone=CANARIES["resident_phone"],
    )
    add_comment(world["neighbour"], issue, "comment", CANARIES["comment"])
    add_comment(branch, issue, "internal_note", CANARIES["internal"])
    add_comment(branch, issue, "public_update", PUBLIC_UPDATE)
    escalate(world["neighbour"], issue, CANARIES["escalation"])
    db.session.commit()
    shown, hidden = (photos.attach(issue, photos.save_upload(jpeg()), "before", world["neighbour"]) for _ in range(2))
    photos.set_public(branch, shown, True)
    db.session.commit()
    resolve(world, issue, CANARIES["resolve"])
    record_callback(world["neighbour"], issue, "unsatisfied", CANARIES["callback"])
    db.session.commit()

    rated = file(world, title=CANARIES["title"], resident_phone=CANARIES["resident_phone"])
    resolve(world, rated, CANARIES["resolve"])
    token = rating.create_link(world["neighbour"], rated)
    db.session.commit()

    # Residents' reports: one taken up as an issue (its words become the issue's description), one waiting.
    nodes_at("neighbour")[0].compound_id = world["compound"].id  # the 邻 reports of 普瑞斯堡 go to
    reported = []
    for n in range(2):
        submission = reports.Submission(
            world["compound"].id,
            world["building"].id,
            category("lighting").id,
            f"{CANARIES['report_text']}{n}",
            phone=CANARIES["report_phone"],
        )
        reported.append(reports.send(submission, reports.Source(f"canary-phone-{n}", "10.9.9.9"), []))
    (taken, taken_token, _), (_waiting, waiting_token, _) = reported
    reports.confirm(world["neighbour"], taken, reports.prefilled(taken))
    db.session.commit()

    project = make_project(world["community"], name="普瑞斯堡改造")
    project.compound_id = world["compound"].id
    drive = make_source(project, "resident_donation", "第一次捐款")
    ledger.record_receipt(
        branch, project, drive, 500_00, donor_name=CANARIES["donor"], note=f"电话{CANARIES['donor_phone']}"
    )
    db.session.commit()
    return {
        "issue": issue,
        "rated": rated,
        "token": token,
        "shown": shown,
        "hidden": hidden,
        "project": project,
        "tracking": [taken_token, waiting_token],
        "from_report": taken.issue,
    }


def public_urls(world, seeded) -> list[str]:
    compound, issue, rated = world["compound"], seeded["issue"], seeded["rated"]
    base = f"/p/compound/{compound.id}"
    return [
        "/p/",
        f"/p/street/{world['street'].id}",
        f"/p/community/{world['community'].id}",
        f"/p/community/{world['other_community'].id}",
        base,
        f"{base}?status=reopened",
        f"{base}?category=road",
        f"{base}/poster",
        f"/p/issue/{issue.reference}",
        f"/p/issue/{rated.reference}",
        f"/p/rate/{seeded['token']}",
        f"/money/public/{seeded['project'].id}",
        f"/p/search?q={compound.name[:2]}",
        f"{base}/feed.atom",
        f"/p/community/{world['community'].id}/feed.atom",
        f"/p/issue/{issue.reference}/feed.atom",
        f"/p/issue/{rated.reference}/feed.atom",
        f"/p/issue/{seeded['from_report'].reference}",
        *(f"/p/track/{token}" for token in seeded["tracking"]),
        "/open311/v2/requests.json",
    ]


def assert_no_canary(text: str, where: str) -> None:
    for label, canary in CANARIES.items():
        assert canary not in text, f"{label} ({canary}) leaked into {where}"


def check_canaries(world, client, seeded) -> None:
    for url in public_urls(world, seeded):
        html = body(client, url)
        assert_no_canary(html, url)
        assert seeded["hidden"].stored_name not in html
    own = body(client, f"/p/issue/{seeded['issue'].reference}")
    assert PUBLIC_UPDATE in own  # the deliberate public update is shown
    assert f"/p/photo/{seeded['shown'].id}" in own and f"/p/photo/{seeded['hidden'].id}" not in own
    picture = client.get(f"/p/photo/{seeded['shown'].id}")
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    assert picture.headers["Cache-Control"] == "public, max-age=60"
    assert client.get(f"/p/photo/{seeded['shown'].id}/thumb").status_code == 200
    assert client.get(f"/p/photo/{seeded['hidden'].id}").status_code == 404
    assert client.get(f"/p/photo/{seeded['hidden'].id}/thumb").status_code == 404
    # The rating page is not cached, but its POST answer must not leak either.
    path = f"/p/rate/{seeded['token']}"
    token = csrf_from(body(client, path))
    confirm = client.post(path, data={"rating": "satisfied", "csrf_token": token})
    assert confirm.status_code == 200
    assert_no_canary(confirm.get_data(as_text=True), "the rating's confirmation")
    thanks = client.post(path, data={"rating": "satisfied", "confirm": "1", "csrf_token": token})
    assert thanks.status_code == 200
    assert_no_canary(thanks.get_data(as_text=True), "the rating answer")


def refill(world, client, seeded) -> None:
    """Fetch the cacheable pages again, so the cache holds each of them."""
    for url in public_urls(world, seeded):
        if "/rate/" not in url and "/track/" not in url:
            body(client, url)


def test_no_canary_on_any_public_page_or_in_the_in_process_cache(world, client, uploads):
    seeded = seed_canaries(world, uploads)
    check_canaries(world, client, seeded)
    refill(world, client, seeded)  # the rating above refreshed the pages it counts on
    entries = page_cache.memory_bodies()
    assert len(entries) >= 9  # the cacheable pages above were stored
    for text in entries:
        assert_no_canary(text, "an in-process cache entry")


def test_no_canary_in_the_redis_cache(redis_app, world, client, uploads):
    seeded = seed_canaries(world, uploads)
    check_canaries(world, client, seeded)
    refill(world, client, seeded)
    from governance.redis_conn import get_redis

    redis = get_redis()
    keys = page_cache.redis_keys()
    pages = [k for k in keys if k.startswith(redis_app.config["REDIS_PREFIX"] + "pub:page:")]
    assert len(pages) >= 9
    for name in keys:
        kind = redis.type(name).decode()
        values = [redis.get(name)] if kind == "string" else list(redis.smembers(name)) if kind == "set" else []
        for raw in values:
            assert_no_canary(raw.decode(), f"Redis key {name}")
    assert page_cache.memory_bodies() == []  # with Redis configured nothing is kept in-process


# --- cache ---------------------------------------------------------------------------------------


def resolved_cards(html: str) -> int:
    return html.count('badge status status-resolved"')


def test_a_change_shows_on_the_next_request(world, client):
    issue = file(world)
    for status in ("acknowledged", "in_progress"):
        transition(world["group"], issue, status)
    db.session.commit()
    url = f"/p/compound/{world['compound'].id}"
    before = body(client, url)
    assert resolved_cards(before) == 0 and body(client, url) == before  # served from the cache
    assert len(page_cache.memory_bodies()) == 1
    transition(world["group"], issue, "resolved", "已修复")
    db.session.commit()  # the session hook drops the pages of this 小区, community, 街镇, district and issue
    assert page_cache.memory_bodies() == []
    after = body(client, url)
    assert resolved_cards(after) == 1 and "100.0%" in after


@pytest.mark.parametrize("held", [True, False])
def test_an_event_drops_its_issues_pages_whether_or_not_the_session_holds_the_issue(world, client, held):
    """The hook reads an event's issue's places from the session's copy when it holds one loaded, else from the
    database: both drop the same pages."""
    from governance.models import IssueEvent

    issue = file(world)
    issue_id = issue.id
    body(client, f"/p/issue/{issue.reference}")
    body(client, f"/p/compound/{world['compound'].id}")
    assert len(page_cache.memory_bodies()) == 2
    if held:
        db.session.refresh(issue)
    else:
        db.session.expunge(issue)
    db.session.add(IssueEvent(issue_id=issue_id, kind="public_update", note="进展", public=True))
    db.session.commit()
    assert page_cache.memory_bodies() == []


def test_a_change_in_redis_shows_on_the_next_request(redis_app, world, client):
    issue = file(world)
    for status in ("acknowledged", "in_progress"):
        transition(world["group"], issue, status)
    db.session.commit()
    url = f"/p/compound/{world['compound'].id}"
    assert resolved_cards(body(client, url)) == 0
    assert body(client, f"/p/issue/{issue.reference}")
    stored = [k for k in page_cache.redis_keys() if "pub:page:" in k]
    assert len(stored) == 2
    transition(world["group"], issue, "resolved", "已修复")
    db.session.commit()
    assert [k for k in page_cache.redis_keys() if "pub:page:" in k] == []
    assert resolved_cards(body(client, url)) == 1
    assert "status-resolved" in body(client, f"/p/issue/{issue.reference}")


def test_an_unnoticed_change_shows_within_a_minute(world, client, monkeypatch):
    issue = file(world)
    url = f"/p/compound/{world['compound'].id}"
    start = page_cache.now()
    monkeypatch.setattr(page_cache, "now", lambda: start)
    assert resolved_cards(body(client, url)) == 0
    # Changed behind the ORM's back (a bulk job, a manual fix): no hook hears of it.
    db.session.execute(update(Issue).where(Issue.id == issue.id).values(status="resolved", resolved_at=utcnow()))
    db.session.commit()
    monkeypatch.setattr(page_cache, "now", lambda: start + 59)
    assert resolved_cards(body(client, url)) == 0  # still the cached copy
    monkeypatch.setattr(page_cache, "now", lambda: start + 60)
    assert resolved_cards(body(client, url)) == 1  # never older than a minute


@pytest.mark.parametrize("kept_in", ["memory", "redis"])
def test_a_page_rendered_before_a_commit_is_not_served_after_it(app, kept_in, request):
    """A slow render that read the old data and is stored after the invalidation carries an old generation
    (kept in the worker's memory, or in Redis where the invalidation bumps the generations)."""
    if kept_in == "redis":
        request.getfixturevalue("redis_app")
    entry, gen = page_cache.lookup("compound:1", "zh|/p/compound/1")
    assert entry is None
    page_cache.invalidate({"compound:1"})  # another request committed a change meanwhile
    page_cache.store("compound:1", "zh|/p/compound/1", "old page", gen)
    assert page_cache.lookup("compound:1", "zh|/p/compound/1")[0] is None
    _, gen = page_cache.lookup("compound:1", "zh|/p/compound/1")
    page_cache.store("compound:1", "zh|/p/compound/1", "new page", gen)
    assert page_cache.lookup("compound:1", "zh|/p/compound/1")[0].body == "new page"


@pytest.mark.parametrize("read_first", ["page", "value"])
def test_a_change_made_while_redis_was_held_off_is_announced_before_redis_is_read_again(redis_app, read_first):
    """The breaker held Redis off when a change was committed (this worker had met a Redis failure a moment
    before): the next time this process reaches Redis it announces the change before it reads anything, so
    neither it — whose leader just acted — nor another worker serves the page or value kept from before."""
    page, variant = "compound:1", "zh|/p/compound/1"
    page_cache.lookup(page, variant)  # this worker's copy and its channel start
    settle_near_copy(redis_app)
    _, gen = page_cache.lookup(page, variant)
    page_cache.store(page, variant, "old page", gen)
    assert page_cache.kept_value((page,), "a value", lambda apart: "old value", page_cache.TTL) == "old value"
    BREAKER.trip(ConnectionError("a moment's failure"))
    page_cache.invalidate({page})  # committed while Redis was refused
    BREAKER.reset()
    settle_near_copy(redis_app)  # Redis answers this worker again
    reads = [
        lambda: page_cache.lookup(page, variant)[0] is None,
        lambda: page_cache.kept_value((page,), "a value", lambda apart: "new value", page_cache.TTL) == "new value",
    ]
    for read in reads if read_first == "page" else reversed(reads):
        assert read()
    with another_worker(redis_app):
        assert page_cache.lookup(page, variant)[0] is None


def test_a_change_left_untold_for_longer_than_a_page_lives_is_let_go(redis_app, monkeypatch):
    """Every page kept from before a change has aged out a TTL after it: announcing it then is no use, so a
    long outage does not pile up tags to send."""
    BREAKER.trip(ConnectionError("Redis is down"))
    page_cache.invalidate({"compound:1"})
    BREAKER.reset()
    start = page_cache.now()
    monkeypatch.setattr(page_cache, "now", lambda: start + page_cache.TTL)
    assert page_cache.UNANNOUNCED.take() == {}


def test_an_unchanged_page_answers_304(world, client, monkeypatch):
    file(world)
    url = f"/p/compound/{world['compound'].id}"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    # Re-rendered after the TTL but the same: same validators, still 304.
    start = page_cache.now()
    monkeypatch.setattr(page_cache, "now", lambda: start + 120)
    later = client.get(url, headers={"If-Modified-Since": modified})
    assert later.status_code == 304
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    # A change: the old validators no longer match.
    file(world)
    changed = client.get(url, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_pages_are_cached_per_language(world, client):
    file(world)
    url = f"/p/compound/{world['compound'].id}"
    chinese = body(client, url)
    assert '<html lang="zh-CN">' in chinese and "/lang/en" in chinese
    set_language = re.search(r'href="(/lang/en[^"]*)"', chinese).group(1).replace("&amp;", "&")
    assert client.get(set_language).status_code == 302  # the language switch of the page header
    english = body(client, url)
    assert '<html lang="en">' in english and "Resolution rate" in english
    assert len(page_cache.memory_bodies()) == 2


# --- resident rating -----------------------------------------------------------------------------


def make_link(world, client, auth, issue) -> str:
    """The 邻长 makes a rating link from the internal issue page; returns the link's path."""
    auth.login(world["neighbour"].mobile)
    page = body(client, f"/issues/{issue.id}")
    assert f"/p/rating-link/{issue.id}" in page
    response = client.post(f"/p/rating-link/{issue.id}", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<svg" in html
    url = re.search(r'data-rating-url="([^"]+)"', html).group(1)
    auth.logout()
    return url.removeprefix("http://localhost")


def test_a_rating_counts_once_and_feeds_the_satisfaction_rate(world, client, auth):
    issue = file(world)
    resolve(world, issue)
    path = make_link(world, client, auth, issue)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 43
    stored = db.session.scalar(select(RatingToken))
    assert stored.token_digest == rating.digest(token) and token not in stored.token_digest
    assert stored.expires_at - stored.created_at == timedelta(days=14)

    page = body(client, path)
    assert issue.reference in page and page.count('name="rating"') == 3
    # Three equal answers: none chosen beforehand, none drawn as the main button.
    choices = re.findall(r'<button type="submit" name="rating" value="[a-z_]+" class="([^"]+)"', page)
    assert len(choices) == 3 and len(set(choices)) == 1 and "primary" not in choices[0]
    assert "checked" not in page and "autofocus" not in page
    csrf = csrf_from(page)
    no_csrf = client.post(path, data={"rating": "satisfied", "confirm": "1"})
    assert no_csrf.status_code == 400
    bad = client.post(path, data={"rating": "great", "confirm": "1", "csrf_token": csrf})
    assert bad.status_code == 400 and db.session.scalar(select(RatingToken.used_at)) is None
    # A tap shows the answer back; nothing counts until it is confirmed, and it can be chosen again.
    chosen = client.post(path, data={"rating": "unsatisfied", "csrf_token": csrf})
    assert chosen.status_code == 200 and "不满意" in chosen.get_data(as_text=True)
    assert db.session.scalar(select(RatingToken.used_at)) is None
    assert rates.figures().ratings == 0
    assert f'href="{path}"' in chosen.get_data(as_text=True)  # choose again
    done = client.post(path, data={"rating": "basically_satisfied", "confirm": "1", "csrf_token": csrf})
    assert done.status_code == 200 and "基本满意" in done.get_data(as_text=True)
    again = client.post(path, data={"rating": "unsatisfied", "confirm": "1", "csrf_token": csrf})
    assert again.status_code == 410
    assert client.get(path).status_code == 410
    figures = rates.figures(Issue.compound_id == world["compound"].id)
    assert (figures.ratings, figures.ratings_satisfied, figures.satisfaction_rate) == (1, 1, 1.0)
    assert "100.0%" in body(client, f"/p/compound/{world['compound'].id}")


def test_expired_unknown_and_refused_links(world, client, auth):
    issue = file(world)
    path = f"/p/rating-link/{issue.id}"
    # Not resolved yet: no button, and the POST is refused without making a link.
    auth.login(world["neighbour"].mobile)
    assert path not in body(client, f"/issues/{issue.id}")
    refused = auth.post(path, form_page=f"/issues/{issue.id}")
    assert refused.status_code == 302 and db.session.scalar(select(RatingToken)) is None
    auth.logout()
    resolve(world, issue)
    # The 组长 may see the issue but the callback (and so the rating link) is the 邻长's.
    auth.login(world["group"].mobile)
    assert path not in body(client, f"/issues/{issue.id}")
    assert auth.post(path, form_page=f"/issues/{issue.id}").status_code == 403
    auth.logout()
    assert client.post(path).status_code in (400, 401)  # anonymous: never a link

    link = make_link(world, client, auth, issue)
    db.session.execute(update(RatingToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get(link).status_code == 410
    assert client.get("/p/rate/not-a-token").status_code == 404
    assert client.get("/p/rate/" + "x" * 500).status_code == 404
    with pytest.raises(rating.RatingError):
        rating.rate(link.rsplit("/", 1)[1], "satisfied")


def test_one_answer_per_fix_however_many_links(world, client, auth):
    """Three links for one fix used to count three answers: a new link replaces the unused one, and once the
    resident has rated, the issue page offers no new link and a POST is refused."""
    issue = file(world)
    resolve(world, issue)
    first, second = make_link(world, client, auth, issue), make_link(world, client, auth, issue)
    page = client.get(first)
    assert page.status_code == 410 and "新的" in page.get_data(as_text=True)
    csrf = csrf_from(body(client, second))
    assert client.post(second, data={"rating": "satisfied", "confirm": "1", "csrf_token": csrf}).status_code == 200
    assert client.post(first, data={"rating": "satisfied", "confirm": "1", "csrf_token": csrf}).status_code == 410
    auth.login(world["neighbour"].mobile)
    detail = body(client, f"/issues/{issue.id}")
    assert f"/p/rating-link/{issue.id}" not in detail and "居民已评价" in detail
    refused = auth.post(f"/p/rating-link/{issue.id}", form_page=f"/issues/{issue.id}")
    assert refused.status_code == 302 and db.session.query(RatingToken).count() == 2
    record_callback(world["neighbour"], issue, "satisfied")  # the callback adds no second answer
    db.session.commit()
    figures = rates.figures(Issue.compound_id == world["compound"].id)
    assert (figures.ratings, figures.callbacks, figures.satisfaction_rate) == (1, 0, 1.0)


# --- the demo world ------------------------------------------------------------------------------


def test_demo_public_pages_and_the_pruisburg_poster(app, client):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    compound = db.session.scalar(select(Compound).where(Compound.name == demo.PRUISBURG))
    poster = body(client, f"/p/compound/{compound.id}/poster")
    figures = rates.figures(Issue.compound_id == compound.id)
    assert figures.total >= 31
    numbers = re.findall(r'<p class="figure(?: rate)?"><b[^>]*>([^<]+)</b>', poster)
    assert numbers[:3] == [str(figures.total), str(figures.open), str(figures.done)]
    assert f"{figures.resolution_rate * 100:.1f}%" in poster
    assert f"{figures.satisfaction_rate * 100:.1f}%" in poster
    # The poster shows the compound page's figures and status counts, exactly; a print button wired by a static
    # script (the CSP refuses inline ones); and a line saying what its QR code is for.
    compound_page = body(client, f"/p/compound/{compound.id}")
    for selector in (".public-figures", ".status-counts"):
        assert text_of(poster, f".poster {selector}") == text_of(compound_page, selector), selector
    assert find(poster, "button[type=button][data-print]") is not None
    assert [tag.get("src", "") for tag in find_all(poster, "script")] == [find(poster, "script")["src"]]
    assert "/static/js/print.js" in find(poster, "script")["src"]
    assert "普瑞斯堡" in text_of(poster, ".poster-qr .poster-scan-title")
    for community in nodes_at("community"):
        assert client.get(f"/p/community/{community.id}").status_code == 200
    assert "普瑞斯堡" in body(client, f"/p/community/{compound.community_id}")
    page = body(client, f"/p/compound/{compound.id}")
    assert demo.PROJECT_NAME in page and "/money/public/" in page  # the co-funding
    for login in demo.DEMO_LOGINS:
        assert login["mobile"] not in page and login["mobile"] not in poster
    assert json.dumps(figures.total)  # the figures above were of a real compound


# --- finding a page ----------------------------------------------------------------------------------


def test_a_resident_finds_an_issue_by_its_reference_or_number_and_a_compound_by_its_name(world, client):
    """The notice board prints a reference; a resident remembers a number or the 小区's name."""
    issue = file(world, title="路灯不亮")
    db.session.commit()
    year = issue.reference.split("-")[1]
    for typed in (issue.reference, issue.reference.lower(), str(issue.id), f" {issue.id} ", f"{year}-{issue.id}"):
        response = client.get("/p/search", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/p/issue/{issue.reference}"), typed
    compound = world["compound"]
    found = client.get("/p/search", query_string={"q": compound.name[1:3]})
    assert found.status_code == 200
    assert [a["href"] for a in find_all(found.text, ".search-results a")] == [f"/p/compound/{compound.id}"]
    for nothing in ("没有这个小区", "%", "_", "WC-1999-1", "99999999999"):
        page = client.get("/p/search", query_string={"q": nothing})
        assert page.status_code == 200 and not find_all(page.text, ".search-results a"), nothing
        assert text_of(page.text, ".search-none"), nothing
    assert client.get("/p/search", query_string={"q": "  "}).headers["Location"].endswith("/p/")
    # Every public page offers the search.
    form = find(body(client, "/p/"), "form.public-search")
    assert form["action"] == "/p/search" and form.select_one("input[name=q]")


# --- feeds -----------------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"


def read_feed(client, url: str) -> ElementTree.Element:
    """The feed at `url`, checked against what RFC 4287 requires of a feed and of each entry."""
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/atom+xml", url
    feed = ElementTree.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert (feed.findtext(ATOM + name) or "").strip(), (url, name)
    assert feed.find(f"{ATOM}link[@rel='self']") is not None and feed.find(f"{ATOM}link[@rel='alternate']") is not None
    ids = []
    for entry in feed.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "content"):
            assert (entry.findtext(ATOM + name) or "").strip(), (url, name)
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http")
        datetime.strptime(entry.findtext(f"{ATOM}updated"), "%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, UTC
        ids.append(entry.findtext(f"{ATOM}id"))
    assert len(ids) == len(set(ids)), url
    return feed


def entry_events(feed) -> list[int]:
    return [int(e.findtext(f"{ATOM}id").rsplit("#event-", 1)[1]) for e in feed.findall(f"{ATOM}entry")]


def test_feeds_carry_the_public_events_only_newest_first(world, client, uploads):
    seeded = seed_canaries(world, uploads)
    compound, issue = world["compound"], seeded["issue"]
    # A plain recount: the public events of the 小区's issues, of the kinds the public timeline shows.
    expected = sorted(
        db.session.scalars(
            select(IssueEvent.id)
            .join(Issue, Issue.id == IssueEvent.issue_id)
            .where(
                Issue.compound_id == compound.id,
                IssueEvent.public.is_(True),
                IssueEvent.kind.in_(PUBLIC_EVENT_KINDS),
            )
        ),
        reverse=True,
    )
    feed = read_feed(client, f"/p/compound/{compound.id}/feed.atom")
    assert entry_events(feed) == expected[:50] and expected
    text = ElementTree.tostring(feed, encoding="unicode")
    assert PUBLIC_UPDATE in text
    assert_no_canary(text, "the 小区's feed")
    own = read_feed(client, f"/p/issue/{issue.reference}/feed.atom")
    mine = [i for i in expected if db.session.get(IssueEvent, i).issue_id == issue.id]
    assert entry_events(own) == mine
    assert_no_canary(ElementTree.tostring(own, encoding="unicode"), "the issue's feed")
    read_feed(client, f"/p/community/{world['community'].id}/feed.atom")
    # The pages say where their feed is.
    page = body(client, f"/p/compound/{compound.id}")
    assert (
        find(page, "link[rel=alternate][type='application/atom+xml']")["href"] == f"/p/compound/{compound.id}/feed.atom"
    )
    assert find(body(client, f"/p/issue/{issue.reference}"), "a.feed-link")["href"].endswith("/feed.atom")


def test_a_new_public_update_is_in_the_feed_at_once(world, client):
    issue = file(world)
    db.session.commit()
    url = f"/p/compound/{world['compound'].id}/feed.atom"
    assert "管道已更换" not in body(client, url)
    with Statements() as sent:  # a feed read again from the cache asks the database nothing
        assert client.get(url).status_code == 200
    assert sent.count == 0, str(sent)
    add_comment(world["branch"], issue, "public_update", "管道已更换")
    db.session.commit()
    assert "管道已更换" in body(client, url)
    assert "管道已更换" in body(client, f"/p/issue/{issue.reference}/feed.atom")


def test_feeds_of_what_does_not_exist_are_404(world, client):
    body(client, "/p/compound/999999/feed.atom", 404)
    body(client, f"/p/community/{world['street'].id}/feed.atom", 404)  # a 街镇 is not a community
    body(client, "/p/issue/WC-1999-000001/feed.atom", 404)
    body(client, "/p/issue/%3Cx%3E/feed.atom", 404)


def test_a_rejection_shows_its_reason_from_the_list_but_never_the_note(world, client):
    """The public may read why an issue was not taken up (the managed list's name); the note the branch typed
    stays inside."""
    from governance.models import RejectReason
    from governance.services.triage import operations

    issue = file(world)
    reason = db.session.scalars(select(RejectReason).where(RejectReason.active)).first()
    operations.reject(world["branch"], issue, reason, "内部说明：业主私事")
    db.session.commit()
    page = body(client, f"/p/issue/{issue.reference}")
    notes = [n.get_text(strip=True) for n in find_all(page, ".event-note")]
    assert f"原因：{reason.name_zh}" in notes
    feed = body(client, f"/p/issue/{issue.reference}/feed.atom")
    assert f"原因：{reason.name_zh}" in feed
    assert "业主私事" not in page and "业主私事" not in feed


def test_every_public_list_page_is_the_plain_newest_first_order(world, client):
    """The public lists read their rows by the staff list's index-ordered arms (listing.newest_keys): every page of
    every scope, status filter and category is the page of a plain `ORDER BY created_at DESC, id DESC`, ties
    included (issues filed in the same second). The page itself says how many issues its list holds — without a
    category filter, the sum of the page's own figures by status (no COUNT): the same number."""
    from governance.models import OPEN_STATUSES
    from governance.services.public import projection

    other = make_person("neighbour_leader", nodes_at("neighbour")[0])
    issues = [file(world, category=("road", "lighting")[i % 2]) for i in range(14)]
    issues += [make_issue(other, category="road") for _ in range(4)]  # no 小区
    same_second = issues[0].created_at
    for issue in issues[3:9]:
        issue.created_at = same_second
    for issue in issues[::3]:
        force_status(issue, "acknowledged")
    for issue in issues[1::5]:
        force_status(issue, "resolved")
    db.session.commit()

    def plain(condition, status, category_id):
        rows = db.session.scalars(select(Issue).order_by(Issue.created_at.desc(), Issue.id.desc())).all()
        keep = [
            i
            for i in rows
            if (condition is None or db.session.scalar(select(Issue.id).where(Issue.id == i.id, condition)))
            and (status is None or (i.status in OPEN_STATUSES if status == "open" else i.status == status))
            and (category_id is None or i.category_id == category_id)
        ]
        return [i.reference for i in keep]

    scopes = [
        ("district", None),
        ("street", world["street"].id),
        ("community", world["community"].id),
        ("compound", world["compound"].id),
    ]
    for level, target_id in scopes:
        condition = projection.scope_condition(level, target_id)
        for status in (None, "open", "acknowledged", "resolved", "closed"):
            for category_id in (None, category("road").id):
                want = plain(condition, status, category_id)
                for page in (1, 2, 3, 4):
                    got = projection.issue_page(condition, status, category_id, page, per_page=4, level=level)
                    assert [i.reference for i in got.items] == want[(page - 1) * 4 : page * 4], (status, page)
                    assert got.total == len(want)
                code = None if category_id is None else "road"
                url = f"/p/{level}/{target_id}" if target_id else "/p/"
                html = client.get(url, query_string={"status": status, "category": code}).get_data(as_text=True)
                assert text_of(html, "p.count-line") == f"共{len(want)}个问题", (level, status, category_id)


def test_the_public_district_list_reads_no_issue_it_does_not_show(app):
    """The district's and a 街镇's newest issues come from the (status, created_at) and (street, status, created_at)
    indexes in order: in the plans of the statements the public list sends, SQLite neither scans the issue table
    nor sorts, and PostgreSQL, with sequential scans ruled out (on a small table the planner would rightly prefer
    one), has no sort step. A plain ORDER BY created_at read and sorted every issue of the district."""
    from sqlalchemy import event

    from governance.services.public import projection

    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=1)
    postgres = db.engine.dialect.name == "postgresql"
    for level, target_id in (("district", None), ("street", nodes_at("street")[0].id)):
        condition = projection.scope_condition(level, target_id)
        sent = []

        def record(_conn, _cursor, statement, parameters, *_args, sent=sent):
            sent.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            projection.issue_page(condition, level=level)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        ordered = [(st, params) for st, params in sent if "ORDER BY issue.created_at" in st]
        assert ordered, sent
        for statement, parameters in ordered:
            if postgres:
                # Which path the planner costs lowest on a table of a few rows depends on the statistics earlier
                # tests left (a bitmap scan and a sort, now and then; once, an index led by the 街镇 whose order
                # lacks the id, and an incremental sort of the ties). With scans in the table's order and sorting,
                # incremental too, made a last resort, a Sort still shows when no index gives the order.
                for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"):
                    db.session.execute(sql_text(f"SET LOCAL {setting} = off"))
                rows = db.session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
                plan = " ".join(row[0] for row in rows)
                assert "Sort" not in plan and "Seq Scan" not in plan, plan
            else:
                rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                plan = " | ".join(row[3] for row in rows)
                assert "SCAN issue " not in plan + " " and "TEMP B-TREE" not in plan, plan
        db.session.rollback()
