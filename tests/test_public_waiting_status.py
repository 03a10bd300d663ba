"""An issue assigned (派单) but not yet accepted (接单) reads publicly as waiting for the responsible party:
on its public page, in the public lists and in Open311's status_notes — never as 处理中."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from governance.extensions import db
from governance.formatting import beijing_today
from governance.services.issues.lifecycle import LifecycleError, add_comment, transition
from governance.services.public import projection
from governance.services.triage import operations
from tests.builders import make_compound, make_issue, make_party, make_person, make_tree, nodes_at
from tests.pages import issue_card, text_of

pytestmark = pytest.mark.usefixtures("fresh_public_cache")

WAITING = "待责任单位接单"


@pytest.fixture
def world(app):
    """普瑞斯堡 3栋 in a community served by 普瑞物业; its 邻长, branch member and the company's staff member."""
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=1)
    community = nodes_at("community")[0]
    compound = make_compound(community, buildings=("3栋",))
    party = make_party("property", "普瑞物业", community)
    return {
        "community": community,
        "compound": compound,
        "neighbour": make_person("neighbour_leader", nodes_at("neighbour")[0]),
        "branch": make_person("branch_member", community),
        "party": party,
        "staff": make_person("org_staff", None, organisation=party),
        "issue": make_issue(
            make_person("neighbour_leader", nodes_at("neighbour")[0]),
            compound_id=compound.id,
            building_id=compound.buildings[0].id,
        ),
    }


def body(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def badge(html: str) -> str:
    """The status badges of the public issue page, as read."""
    return text_of(html, "p.badges")


def card(html: str, reference: str) -> str:
    """One issue's card in a public list, as read."""
    return issue_card(html, reference)["text"]


def assign(world):
    operations.assign(world["branch"], world["issue"], world["party"], beijing_today() + timedelta(days=3))
    db.session.commit()


def test_public_pages_say_the_party_has_not_accepted_yet(world, client):
    issue = world["issue"]
    assign(world)
    with pytest.raises(LifecycleError):  # the branch's 开始处理 is refused while it waits
        transition(world["branch"], issue, "in_progress")
    db.session.rollback()
    lists = [f"/p/compound/{world['compound'].id}", f"/p/community/{world['community'].id}"]
    own = body(client, f"/p/issue/{issue.reference}")
    assert WAITING in badge(own) and "处理中" not in badge(own)
    assert "普瑞物业" in own  # the party is public
    for url in lists:
        shown = card(body(client, url), issue.reference)
        assert WAITING in shown and "处理中" not in shown
    assert projection.public_issue(issue.reference).awaiting_party
    # 接单: now it is in hand.
    operations.accept(world["staff"], issue)
    db.session.commit()
    own = body(client, f"/p/issue/{issue.reference}")
    assert "处理中" in badge(own) and WAITING not in own
    for url in lists:
        shown = card(body(client, url), issue.reference)
        assert "处理中" in shown and WAITING not in shown


def test_the_english_pages_say_it_too(world, client):
    assign(world)
    assert client.get("/lang/en").status_code == 302  # the language switch of the page header
    own = body(client, f"/p/issue/{world['issue'].reference}")
    assert '<html lang="en">' in own
    assert "Waiting for the responsible party to accept" in badge(own)


def test_open311_status_notes_say_it_and_status_stays_open(world, client):
    issue = world["issue"]
    assign(world)
    (listed,) = json.loads(body(client, "/open311/v2/requests.json"))
    single = json.loads(body(client, f"/open311/v2/requests/{issue.reference}.json"))[0]
    for item in (listed, single):
        assert item["status"] == "open" and item["status_notes"] == WAITING
        assert item["agency_responsible"] == "普瑞物业"
    xml = body(client, f"/open311/v2/requests/{issue.reference}.xml")
    assert f"<status>open</status><status_notes>{WAITING}</status_notes>" in xml.replace("\n", "")
    # A public update posted meanwhile is still given, after the waiting state.
    add_comment(world["branch"], issue, "public_update", "已联系物业")
    db.session.commit()
    (listed,) = json.loads(body(client, "/open311/v2/requests.json"))
    assert listed["status_notes"] == f"{WAITING}；已联系物业"
    operations.accept(world["staff"], issue)
    db.session.commit()
    (listed,) = json.loads(body(client, "/open311/v2/requests.json"))
    assert listed["status"] == "open" and listed["status_notes"] == "已联系物业"
