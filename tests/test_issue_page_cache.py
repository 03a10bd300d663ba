"""The issue page's body comes from the page cache, kept per reader: whatever a commit changes is on the next read.

The body of /issues/<id> (issues/_detail.html) is the reader's own — their actions, whether they follow, which
notes they may see — and is kept under the issue's tag, the tree's and, when the reader may merge the issue,
its community's (routes.detail_cache_key). These tests hold a kept page to the page computed afresh after
every kind of change: the issue's own steps, notes and photos, following, ready replies, likely duplicates,
roles; and check that no reader is ever given another's page or form token.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import status_label
from governance.models import Issue, ResponseTemplate, RoleAssignment
from governance.services.issues.lifecycle import TRANSITIONS, add_comment, transition
from governance.services.public import page_cache
from governance.services.triage import operations
from tests.builders import make_issue, make_person, make_role_holders, make_tree, nodes_at
from tests.conftest import Auth, Statements, csrf_from, logged_in_clients, take_redis_away
from tests.pages import find, inner_html, texts_of

TOKEN_VALUE = re.compile(r'(csrf_token"[^>]* value=")[^"]+')
READERS = ("zone_leader", "branch_member", "neighbour_leader")


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=2)
    return make_role_holders()


@pytest.fixture
def readers(app, world):
    return logged_in_clients(app, world, READERS)


def page(client, issue: Issue | int) -> str:
    response = client.get(f"/issues/{getattr(issue, 'id', issue)}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def body(client, issue: Issue | int) -> str:
    """What the reader's page shows under the top bar (the unread badge up there changes as pages are read),
    its form token written TOKEN (a token is signed with the second it was made in)."""
    return TOKEN_VALUE.sub(r"\1TOKEN", inner_html(page(client, issue), "main"))


def afresh(client, issue: Issue) -> str:
    """The same page computed now, with nothing kept."""
    page_cache.clear()
    return body(client, issue)


def timeline(html: str) -> list[str]:
    return texts_of(html, "ol.timeline .event-note")


def test_a_kept_issue_page_sends_no_statement(world, readers):
    issue = make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    issue_id = issue.id
    page(client, issue_id)  # the first read marks the leader's messages about it read
    with Statements() as miss:
        afresh(client, issue_id)
    with Statements() as hit:
        kept = body(client, issue_id)
    assert hit.count == 0, str(hit)  # the login and the issue (for the access check) are kept too
    assert miss.count > hit.count + 4, str(miss)
    assert kept == afresh(client, issue)


def test_notes_steps_and_following_show_on_the_next_read(world, readers):
    issue = make_issue(world["neighbour_leader"])
    zone = readers["zone_leader"]
    assert status_label("reported") in body(zone, issue)
    add_comment(world["neighbour_leader"], issue, "comment", "住户又来反映了")
    db.session.commit()
    assert "住户又来反映了" in timeline(body(zone, issue))
    transition(world["branch_member"], issue, "acknowledged", expected_version=issue.version)
    db.session.commit()
    html = body(zone, issue)
    assert status_label("acknowledged") in texts_of(html, ".issue-head .badge")
    assert html == afresh(zone, issue)
    assert find(body(zone, issue), ".follow-form button").get_text(strip=True) == "关注此问题"
    operations.follow(world["zone_leader"], issue)
    db.session.commit()
    assert find(body(zone, issue), ".follow-form button").get_text(strip=True) == "取消关注"
    operations.follow(world["zone_leader"], issue, on=False)
    db.session.commit()
    assert find(body(zone, issue), ".follow-form button").get_text(strip=True) == "关注此问题"


def test_a_new_ready_reply_and_a_likely_duplicate_show_on_the_next_read(world, readers):
    issue = make_issue(world["neighbour_leader"])
    branch = readers["branch_member"]
    html = body(branch, issue)
    assert texts_of(html, ".template-list a") == []
    db.session.add(ResponseTemplate(title="已转物业", body="已转交物业处理", sort=1))
    db.session.commit()
    assert texts_of(body(branch, issue), ".template-list a") == ["已转物业"]
    # Another issue of the same kind in the same place: offered for merging to whoever may merge.
    assert "duplicate" in TRANSITIONS[issue.status]
    other = make_issue(world["neighbour_leader"], title="路面又坏了")
    assert other.reference in body(branch, issue)
    assert body(branch, issue) == afresh(branch, issue)


def test_two_readers_never_share_a_page_and_each_posts_with_their_own_token(app, world):
    issue = make_issue(world["neighbour_leader"])
    community = nodes_at("community")[0]
    second = make_person("branch_member", community, name="支部乙")
    first_client, second_client = app.test_client(), app.test_client()
    Auth(first_client).login(world["branch_member"].mobile)
    Auth(second_client).login(second.mobile)
    first, second_page = page(first_client, issue), page(second_client, issue)
    tokens = csrf_from(first), csrf_from(second_page)
    assert tokens[0] != tokens[1]
    assert tokens[0] not in second_page and page_cache.TOKEN_SLOT not in second_page
    page(second_client, issue)  # kept now
    response = second_client.post(
        f"/issues/{issue.id}/status/acknowledged",
        data={"acknowledged-csrf_token": tokens[1], "acknowledged-version": str(issue.version)},
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "acknowledged"
    assert status_label("acknowledged") in texts_of(page(first_client, issue), ".issue-head .badge")


def test_a_role_ended_takes_the_kept_page_away(world, readers):
    issue = make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    assert "issue-actions" in page(client, issue)  # kept now, with the leader's actions
    role = db.session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == world["zone_leader"].id)).one()
    db.session.delete(role)
    db.session.commit()
    assert client.get(f"/issues/{issue.id}").status_code in (302, 403)


def test_with_redis_down_no_worker_keeps_its_own_copy(world, redis_app, readers):
    take_redis_away(redis_app)
    issue = make_issue(world["neighbour_leader"])
    body(readers["zone_leader"], issue)
    assert page_cache.memory_bodies() == []


def test_with_redis_the_page_is_kept_there_and_dropped_on_a_change(world, redis_app, readers):
    issue = make_issue(world["neighbour_leader"])
    body(readers["zone_leader"], issue)
    tag = page_cache.issue_tag(issue.reference)
    assert [k for k in page_cache.redis_keys() if f":pub:page:{tag}|" in k]
    assert page_cache.memory_bodies() == []
    add_comment(world["neighbour_leader"], issue, "comment", "楼下也漏水")
    db.session.commit()
    assert [k for k in page_cache.redis_keys() if f":pub:page:{tag}|" in k] == []
    assert "楼下也漏水" in timeline(body(readers["zone_leader"], issue))


STEPS = ("comment", "note", "advance", "follow", "unfollow", "reply", "another", "rename")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(STEPS), min_size=1, max_size=6))
def test_a_kept_page_always_equals_the_page_computed_afresh(world, readers, steps):
    """After any sequence of changes, every reader's page read (kept if it can be) is the page computed with
    nothing kept — the plain second computation."""
    from governance.models import Category

    page_cache.clear()
    issue = make_issue(world["neighbour_leader"], title="路灯不亮")
    for step in steps:
        for client in readers.values():
            body(client, issue)  # keep every reader's page before the change
        if step == "comment":
            add_comment(world["neighbour_leader"], issue, "comment", f"补充{len(steps)}")
        elif step == "note":
            add_comment(world["branch_member"], issue, "internal_note", "内部备注")
        elif step == "advance":
            following = [s for s in ("acknowledged", "in_progress", "resolved") if s in TRANSITIONS[issue.status]]
            if following:
                note = "已修好" if following[0] == "resolved" else ""
                transition(world["branch_member"], issue, following[0], note, expected_version=issue.version)
        elif step in ("follow", "unfollow"):
            operations.follow(world["zone_leader"], issue, on=step == "follow")
        elif step == "reply":
            db.session.add(ResponseTemplate(title=f"回复{len(steps)}", body="已处理", sort=1))
        elif step == "another":
            make_issue(world["neighbour_leader"], title="路灯又不亮", commit=False)
        elif step == "rename":
            category = db.session.get(Category, issue.category_id)
            category.name_zh = category.name_zh + "·"
        db.session.commit()
        for role, client in readers.items():
            kept = body(client, issue)
            assert kept == afresh(client, issue), (role, step)


def test_opening_an_issue_reads_its_messages_in_the_statement_that_loads_it(world, readers):
    """With messages unread elsewhere, whether any is about this issue comes with the issue (and is kept with
    it until any of the reader's messages is written or read); those that are get read, the others stay unread."""
    from governance.models import Notification

    issue, other = make_issue(world["neighbour_leader"]), make_issue(world["neighbour_leader"], title="井盖松动")
    reader = world["zone_leader"]
    about_it = Notification(person_id=reader.id, issue_id=issue.id, kind="escalated", text="关于此事")
    elsewhere = Notification(person_id=reader.id, issue_id=other.id, kind="escalated", text="另一件事")
    db.session.add_all([about_it, elsewhere])
    db.session.commit()
    ids, issue_id = (about_it.id, elsewhere.id), issue.id
    client = readers["zone_leader"]
    page(client, issue_id)
    db.session.expire_all()
    assert db.session.get(Notification, ids[0]).read_at is not None
    assert db.session.get(Notification, ids[1]).read_at is None
    with Statements() as hit:
        page(client, issue_id)
    assert hit.count == 2, str(hit)  # the login (which counts one unread), the issue with "any about it?"
    with Statements() as kept:
        page(client, issue_id)
    assert kept.count == 0, str(kept)  # both kept now
    again = Notification(person_id=reader.id, issue_id=issue_id, kind="escalated", text="又一条")
    db.session.add(again)
    db.session.commit()
    again_id = again.id
    page(client, issue_id)  # a message written drops what was kept: the new one is found and read
    db.session.expire_all()
    assert db.session.get(Notification, again_id).read_at is not None
    assert db.session.get(Notification, ids[1]).read_at is None


def test_an_issue_moved_out_of_the_readers_area_is_refused_on_the_next_read(world, readers):
    """The access check reads the kept issue row: any change to the issue drops it, a move included."""
    issue = make_issue(world["neighbour_leader"])
    client = readers["neighbour_leader"]
    for _ in range(2):
        assert client.get(f"/issues/{issue.id}").status_code == 200  # kept now
    other = next(node for node in nodes_at("neighbour") if node.id != issue.neighbour_id)
    issue.neighbour_id = other.id
    db.session.commit()
    assert client.get(f"/issues/{issue.id}").status_code == 403
