"""亮身份: leaders are named on their compound's public page and poster only when they chose it — by surname
unless they chose their full name, never with a phone; everyone else stays off every public page, feed, API
answer and cache entry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Person
from governance.services.public import page_cache

from .builders import make_compound, make_person, make_tree, nodes_at
from .pages import find_all, flash_messages

QUIET = "隐藏甲"  # a leader who never opted in: a canary
PHONE = "13955556666"


@pytest.fixture
def compound_world(app, fresh_public_cache):
    make_tree(zones=1, groups=1, neighbours=2)
    community = nodes_at("community")[0]
    compound = make_compound(community, "普瑞斯堡", buildings=("1栋", "2栋"))
    for node in nodes_at("zone") + nodes_at("group") + nodes_at("neighbour"):
        node.compound_id = compound.id
    first, second = nodes_at("neighbour")
    people = {
        "zone": make_person("zone_leader", nodes_at("zone")[0], name="王建军"),
        "group": make_person("group_leader", nodes_at("group")[0], name="李红梅", mobile=PHONE),
        "first": make_person("neighbour_leader", first, name="张秀英"),
        "quiet": make_person("neighbour_leader", second, name=QUIET),
        "branch": make_person("branch_member", community, name="支部"),
    }
    db.session.commit()
    return compound, people


def public_texts(client, compound) -> dict[str, str]:
    """Every public answer that could name a leader of the compound."""
    paths = [
        f"/p/compound/{compound.id}",
        f"/p/compound/{compound.id}/poster",
        f"/p/compound/{compound.id}/feed.atom",
        f"/p/community/{compound.community_id}",
        "/open311/v2/requests.json",
    ]
    return {path: client.get(path).get_data(as_text=True) for path in paths}


def leaders_shown(client, compound) -> list[str]:
    """Each named leader as listed: the name and role, and where they serve (not the link to report to them)."""
    return [
        " ".join(part.get_text(" ", strip=True) for part in li.find_all(["b", "span"], recursive=False))
        for li in find_all(client.get(f"/p/compound/{compound.id}").get_data(as_text=True), ".leader-list li")
    ]


def test_nobody_is_named_until_they_choose_it(app, client, auth, compound_world):
    compound, people = compound_world
    assert leaders_shown(client, compound) == []
    auth.login(people["first"].mobile)
    page = client.get("/auth/profile")
    assert page.status_code == 200
    done = auth.post("/auth/profile", {"listing": "full"}, form_page="/auth/profile", follow_redirects=True)
    assert flash_messages(done.get_data(as_text=True))
    auth.logout()
    auth.login(people["group"].mobile)
    auth.post("/auth/profile", {"listing": "surname"}, form_page="/auth/profile")
    auth.logout()
    auth.login(people["zone"].mobile)
    auth.post("/auth/profile", {"listing": "surname"}, form_page="/auth/profile")
    # Shown at once (the cached page is dropped), top role first, with what each covers.
    shown = leaders_shown(client, compound)
    first, second = nodes_at("neighbour")
    assert shown == [
        f"王·片长 {nodes_at('zone')[0].name}（{first.name}、{second.name}）",
        f"李·组长 {nodes_at('group')[0].name}（{first.name}、{second.name}）",
        f"张秀英·邻长 {first.name}",
    ]
    for path, text in public_texts(client, compound).items():
        assert QUIET not in text and "李红梅" not in text and PHONE not in text, path
        for person in people.values():
            assert person.mobile not in text, path
    poster = client.get(f"/p/compound/{compound.id}/poster").get_data(as_text=True)
    assert "张秀英·邻长" in poster and "王·片长" in poster
    for body in page_cache.memory_bodies():
        assert QUIET not in body and PHONE not in body
    # Choosing "do not name me" takes the name off at once.
    auth.post("/auth/profile", {"listing": ""}, form_page="/auth/profile")
    assert [text.split(" ")[0] for text in leaders_shown(client, compound)] == ["李·组长", "张秀英·邻长"]


def test_only_leaders_choose_and_a_disabled_one_is_never_named(app, client, auth, compound_world):
    compound, people = compound_world
    auth.login(people["branch"].mobile)
    assert client.get("/auth/profile").status_code == 403
    auth.logout()
    auth.login(people["first"].mobile)
    refused = auth.post("/auth/profile", {"listing": "everything"}, form_page="/auth/profile")
    assert refused.status_code == 422
    assert db.session.scalar(select(Person.public_listing).where(Person.id == people["first"].id)) is None
    auth.post("/auth/profile", {"listing": "full"}, form_page="/auth/profile")
    assert len(leaders_shown(client, compound)) == 1
    db.session.get(Person, people["first"].id).enabled = False
    db.session.commit()
    page_cache.clear()
    assert leaders_shown(client, compound) == []
