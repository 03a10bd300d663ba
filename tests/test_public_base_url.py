"""Absolute links come from PUBLIC_BASE_URL, never from the Host header a visitor sends.

A page a shared cache keeps (the poster, Open311's discovery and requests) must not carry the host of
whoever asked first: with a forged `Host: evil.example` the QR code printed on the notice board would
lead residents elsewhere. Production refuses to start without PUBLIC_BASE_URL; development and tests
fall back to the request's host, and such an answer is never cacheable and never enters the cache.
"""

from __future__ import annotations

import pytest

from governance.extensions import db
from governance.models import Photo
from governance.services.public import page_cache
from tests.builders import make_compound, make_issue, make_person, make_tree, nodes_at
from tests.conftest import PUBLIC_SITE

EVIL = "evil.example"


@pytest.fixture
def world(app, fresh_public_cache):
    make_tree()
    compound = make_compound(nodes_at("community")[0])
    issue = make_issue(make_person("neighbour_leader", nodes_at("neighbour")[0]))
    db.session.add(Photo(issue_id=issue.id, stored_name="pub.jpg", width=1, height=1, size_bytes=1, public=True))
    db.session.commit()
    return {"compound": compound, "issue": issue}


def public_urls(world) -> list[str]:
    return [
        f"/p/compound/{world['compound'].id}/poster",
        "/open311/v2/discovery.json",
        "/open311/v2/discovery.xml",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{world['issue'].reference}.json",
    ]


def test_with_public_base_url_a_forged_host_changes_nothing(world, client, base_url):
    for url in public_urls(world):
        response = client.get(url, headers={"Host": EVIL})
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        assert EVIL not in text, url
        assert "public" in response.headers["Cache-Control"], url
    poster = client.get(public_urls(world)[0]).get_data(as_text=True)
    assert f"{PUBLIC_SITE}/p/compound/{world['compound'].id}" in poster
    discovery = client.get("/open311/v2/discovery.json").get_json()
    assert all(e["url"].startswith(f"{PUBLIC_SITE}/open311/v2") for e in discovery["endpoints"])
    item = client.get("/open311/v2/requests.json", headers={"Host": EVIL}).get_json()[0]
    assert item["media_url"].startswith(f"{PUBLIC_SITE}/p/photo/")


def test_without_public_base_url_a_host_derived_link_is_never_shared(world, client):
    """The development fallback: the page shows the request's host, but no shared cache may keep it."""
    for url in public_urls(world):
        forged = client.get(url, headers={"Host": EVIL})
        assert forged.status_code == 200, url
        assert EVIL in forged.get_data(as_text=True), url  # the fallback is really in use
        assert "public" not in forged.headers["Cache-Control"], url
        assert "no-store" in forged.headers["Cache-Control"], url
        honest = client.get(url)
        assert EVIL not in honest.get_data(as_text=True), url
    assert not any(EVIL in page for page in page_cache.memory_bodies())
