"""The public pages' front door (blueprints/public/front.py): a kept public page answered before Flask.

A request Flask answered from a kept page, for a visitor without a cookie, is answered again from the page
cache without Flask — with the very answer Flask gives (body, status, every header but Date), as fresh as
Flask's own lookup would have it, in the memory store and with Redis and the worker's near copy. Anything Flask
would answer differently goes to Flask: a cookie, a conditional or range header, another method, a request not
seen before, a page no longer kept, a page with links from the Host header.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask import request_started

from governance.blueprints.public import front
from governance.extensions import db
from governance.models import Photo
from governance.services.issues.lifecycle import add_comment
from tests.builders import make_compound, make_issue, make_person, make_tree, nodes_at
from tests.conftest import settle_near_copy, take_redis_away

pytestmark = pytest.mark.usefixtures("fresh_public_cache")

PUBLIC_NOTE = "物业已派人更换灯泡"


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=1)
    community = nodes_at("community")[0]
    compound = make_compound(community, buildings=("3栋",))
    building = compound.buildings[0]
    neighbour = make_person("neighbour_leader", nodes_at("neighbour")[0])
    branch = make_person("branch_member", community)
    issue = make_issue(neighbour, compound_id=compound.id, building_id=building.id, title="楼道灯不亮")
    db.session.add(Photo(issue_id=issue.id, stored_name="p.jpg", width=1, height=1, size_bytes=1, public=True))
    db.session.commit()
    return {
        "street": nodes_at("street")[0],
        "community": community,
        "compound": compound,
        "issue": issue,
        "branch": branch,
    }


def public_pages(world) -> list[str]:
    """Every kind of page the views offer to the front door."""
    compound, community = world["compound"].id, world["community"].id
    return [
        "/p/",
        f"/p/street/{world['street'].id}",
        f"/p/community/{community}",
        f"/p/compound/{compound}",
        f"/p/compound/{compound}?status=open&page=1",
        f"/p/compound/{compound}?category=road",
        f"/p/issue/{world['issue'].reference}",
        f"/p/compound/{compound}/feed.atom",
        f"/p/community/{community}/feed.atom",
        f"/p/issue/{world['issue'].reference}/feed.atom",
        f"/p/compound/{compound}/poster",
    ]


@contextmanager
def flask_requests(app):
    """The paths of the requests Flask itself handled inside the block."""
    seen: list[str] = []

    def note(sender, **extra):
        from flask import request

        seen.append(request.full_path.rstrip("?"))

    with request_started.connected_to(note, app):
        yield seen


def answer(response) -> tuple:
    """What a visitor receives, but the Date header (the moment of sending)."""
    headers = sorted((name, value) for name, value in response.headers if name != "Date")
    return response.status_code, headers, response.get_data()


def test_a_second_visit_without_a_cookie_gets_flasks_answer_without_flask(app, world, base_url):
    client = app.test_client()
    for url in public_pages(world):
        with flask_requests(app) as seen:
            first = client.get(url)
            second = client.get(url)
        assert first.status_code == 200, url
        assert seen == [url], url  # the second visit never reached Flask
        assert answer(second) == answer(first), url
        assert "Date" in second.headers, url


def test_the_front_door_answers_with_the_page_as_it_is_now(app, world):
    url = f"/p/issue/{world['issue'].reference}"
    client = app.test_client()
    client.get(url)
    before = client.get(url)
    add_comment(world["branch"], world["issue"], "public_update", PUBLIC_NOTE)
    db.session.commit()
    with flask_requests(app) as seen:
        after = client.get(url)
        again = client.get(url)
    assert seen == [url]  # the kept page changed: Flask rendered it, then the door answered
    assert after.headers["ETag"] != before.headers["ETag"]
    assert PUBLIC_NOTE in after.get_data(as_text=True)
    assert answer(again) == answer(after)
    # The same as a visitor whom Flask answers in full (an old validator is no match).
    assert answer(client.get(url, headers={"If-None-Match": before.headers["ETag"]}))[2] == after.get_data()


def test_with_redis_the_front_door_reads_the_workers_copy_and_hears_changes(redis_app, world):
    url = f"/p/compound/{world['compound'].id}"
    client = redis_app.test_client()
    client.get(url)
    settle_near_copy(redis_app)
    first = client.get(url)
    with flask_requests(redis_app) as seen:
        settle_near_copy(redis_app)
        assert answer(client.get(url)) == answer(first)
    assert seen == []
    add_comment(world["branch"], world["issue"], "public_update", PUBLIC_NOTE)
    db.session.commit()
    with flask_requests(redis_app) as seen:
        changed = client.get(url)
    assert seen == [url]
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_redis_going_away_sends_visitors_to_flask(redis_app, world):
    url = f"/p/compound/{world['compound'].id}"
    client = redis_app.test_client()
    client.get(url)
    take_redis_away(redis_app)
    with flask_requests(redis_app) as seen:
        response = client.get(url)
    assert response.status_code == 200
    assert seen == [url]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": '"whatever"'},
        {"If-Modified-Since": "Mon, 07 Dec 2026 00:00:00 GMT"},
        {"Range": "bytes=0-10"},
    ],
)
def test_what_flask_answers_differently_goes_to_flask(app, world, headers):
    url = f"/p/compound/{world['compound'].id}"
    client = app.test_client()
    client.get(url)
    with flask_requests(app) as seen:
        client.get(url, headers=headers)
        client.head(url)
    assert seen == [url, url]


def test_a_visitor_with_any_cookie_is_answered_by_flask(app, world):
    url = f"/p/compound/{world['compound'].id}"
    app.test_client().get(url)
    visitor = app.test_client()
    visitor.set_cookie("anything", "x")
    with flask_requests(app) as seen:
        visitor.get(url)
    assert seen == [url]


def test_a_visitor_with_a_session_is_answered_by_flask_in_their_language(app, world):
    url = f"/p/compound/{world['compound'].id}"
    anonymous = app.test_client()
    anonymous.get(url)
    visitor = app.test_client()
    visitor.get("/lang/en?next=/p/")
    with flask_requests(app) as seen:
        english = visitor.get(url)
    assert seen == [url]
    assert '<html lang="en">' in english.get_data(as_text=True)
    # A visitor without a cookie gets the default language whatever the browser asks for: the front door keys
    # a page by path and query alone, which holds only while nothing else in a cookieless request varies it.
    chinese = anonymous.get(url, headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in chinese.get_data(as_text=True)


def test_pages_with_links_from_the_host_header_are_never_answered_before_flask(app, world):
    url = f"/p/compound/{world['compound'].id}/poster"  # no PUBLIC_BASE_URL: its QR code names the Host
    client = app.test_client()
    with flask_requests(app) as seen:
        client.get(url, headers={"Host": "a.example"})
        second = client.get(url, headers={"Host": "b.example"})
    assert seen == [url, url]
    assert "b.example" in second.get_data(as_text=True)


def test_only_pages_flask_answered_from_the_cache_are_remembered(app, world):
    client = app.test_client()
    for url in ("/p/search?q=普瑞", f"/p/photo/{db.session.query(Photo.id).scalar()}", "/p/compound/999999"):
        with flask_requests(app) as seen:
            client.get(url)
            client.get(url)
        assert len(seen) == 2, url


def test_a_worker_remembers_a_bounded_number_of_requests(app, world, monkeypatch):
    monkeypatch.setattr(front, "MAX_REQUESTS", 3)
    client = app.test_client()
    base = f"/p/compound/{world['compound'].id}"
    for page in range(1, 6):
        client.get(f"{base}?page={page}&x={page}")
    remembered = app.extensions["public_front"].requests
    assert list(remembered) == [f"{base}?page={page}&x={page}" for page in (3, 4, 5)]
