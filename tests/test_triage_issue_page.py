"""Triage on the issue page: assign, accept, decline, priority, send down, follow, ready replies — by role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import Issue, IssueEvent, IssueFollower, ResponseTemplate
from governance.services.triage import operations
from tests.builders import force_status, make_issue, make_organisation, make_party, make_person, make_tree, nodes_at
from tests.conftest import csrf_from
from tests.pages import find, text_of


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=1)
    community_a, community_b = nodes_at("community")
    property_co = make_party("property", "金湾物业", community_a)
    neighbours = nodes_at("neighbour")
    return {
        "n0": make_person("neighbour_leader", neighbours[0], name="邻长甲"),
        "g0": make_person("group_leader", nodes_at("group")[0], name="组长"),
        "branch": make_person("branch_member", community_a, name="支部甲"),
        "branch_b": make_person("branch_member", community_b, name="支部乙"),
        "staff": make_person("org_staff", None, organisation=property_co, name="物业员工"),
        "other_staff": make_person("org_staff", None, organisation=make_organisation("property"), name="别家"),
        "property": property_co,
    }


def fresh(issue) -> Issue:
    db.session.expire_all()
    return db.session.get(Issue, issue.id)


def step(client, issue, name, fields=None):
    """Post one triage form as the page renders it."""
    page = client.get(f"/issues/{issue.id}")
    token = csrf_from(page.get_data(as_text=True) if page.status_code == 200 else client.get("/").text)
    data = {f"{name}-{k}": v for k, v in (fields or {}).items()}
    data[f"{name}-version"] = str(fresh(issue).version)
    data["csrf_token"] = token
    return client.post(f"/issues/{issue.id}/triage/{name}", data=data)


def due(days=7):
    return (beijing_today() + timedelta(days=days)).isoformat()


def test_the_branch_assigns_and_the_party_accepts(world, client, auth):
    issue = make_issue(world["n0"])
    auth.login(world["branch"].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert f"/issues/{issue.id}/triage/assign" in html and "金湾物业" in html
    response = step(client, issue, "assign", {"organisation": str(world["property"].id), "due_on": due()})
    assert response.status_code == 303
    assert fresh(issue).assignment_state == "pending"
    auth.logout()
    auth.login(world["staff"].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert f"/issues/{issue.id}/triage/accept" in html and f"/issues/{issue.id}/triage/decline" in html
    assert f"/issues/{issue.id}/status/resolved" not in html  # not before 接单
    assert step(client, issue, "accept").status_code == 303
    assert fresh(issue).status == "in_progress"
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert f"/issues/{issue.id}/status/resolved" in html


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"organisation": "x", "due_on": due()},
        {"organisation": "99999999999", "due_on": due()},
        {"organisation": "PROPERTY", "due_on": "not a date"},
        {"organisation": "PROPERTY", "due_on": "1999-01-01"},
        {"organisation": "PROPERTY", "due_on": due(), "note": "说" * 3000},
    ],
)
def test_bad_assignments_say_why_and_keep_the_text(world, client, auth, fields):
    issue = make_issue(world["n0"])
    auth.login(world["branch"].mobile)
    data = {k: (str(world["property"].id) if v == "PROPERTY" else v) for k, v in fields.items()}
    response = step(client, issue, "assign", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    # The reason is said beside the field it is about (the party, the date), or above the form.
    assert ('role="alert"' in html or "has-error" in html) and 'id="act-assign" open' in html
    assert fresh(issue).assignee_org_id is None


@pytest.mark.parametrize(
    ("fields", "wrong", "kept"),
    [
        ({"organisation": "", "due_on": "2099-01-01"}, "organisation", "due_on"),
        ({"organisation": "PROPERTY", "due_on": "1999-01-01"}, "due_on", "organisation"),
    ],
)
def test_an_assignment_is_checked_on_the_server_with_the_message_beside_its_field(
    world, client, auth, fields, wrong, kept
):
    """Like every other form: no browser-only `required`; the message sits beside the field and what was
    chosen in the other field stays."""
    issue = make_issue(world["n0"])
    auth.login(world["branch"].mobile)
    form = find(client.get(f"/issues/{issue.id}").get_data(as_text=True), "#act-assign form")
    assert not form.select("[required]")
    data = {k: (str(world["property"].id) if v == "PROPERTY" else v) for k, v in fields.items()}
    response = step(client, issue, "assign", data)
    assert response.status_code == 422 and fresh(issue).assignee_org_id is None
    form = find(response.get_data(as_text=True), "#act-assign form")
    assert form.select_one(f"#assign-{wrong}").get("aria-invalid") == "true"
    assert text_of(form.select_one(f"#assign-{wrong}").parent, ".error")
    field = form.select_one(f"#assign-{kept}")
    chosen = field.select_one("option[selected]").get("value") if field.name == "select" else field.get("value")
    assert chosen == data[kept]


@pytest.mark.parametrize("who", ["n0", "g0", "branch_b", "staff", "other_staff"])
def test_only_the_branch_assigns(world, client, auth, who):
    issue = make_issue(world["n0"])
    auth.login(world[who].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert "/triage/assign" not in html
    response = step(client, issue, "assign", {"organisation": str(world["property"].id), "due_on": due()})
    assert response.status_code == 403
    assert fresh(issue).assignee_org_id is None


def test_decline_sends_the_party_back_to_its_queue_and_the_branch_sees_why(world, client, auth):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], beijing_today() + timedelta(days=3))
    db.session.commit()
    auth.login(world["other_staff"].mobile)
    assert step(client, issue, "decline", {"note": "不归我们"}).status_code == 403
    auth.logout()
    auth.login(world["staff"].mobile)
    response = step(client, issue, "decline", {"note": ""})
    assert response.status_code == 422
    response = step(client, issue, "decline", {"note": "不在我司物业范围"})
    assert response.status_code == 303 and f"/issues/{issue.id}" not in response.headers["Location"]
    assert client.get(f"/issues/{issue.id}").status_code == 403
    auth.logout()
    auth.login(world["branch"].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert "不在我司物业范围" in html and fresh(issue).assignee_org_id is None


def test_priority_and_send_down(world, client, auth):
    issue = force_status(make_issue(world["n0"]), "acknowledged", level="community")
    auth.login(world["branch"].mobile)
    assert step(client, issue, "priority", {"priority": "nonsense"}).status_code == 422
    assert step(client, issue, "priority", {"priority": "high"}).status_code == 303
    assert fresh(issue).priority == "high"
    assert step(client, issue, "send_down", {"level": "district", "note": "x"}).status_code == 422
    assert step(client, issue, "send_down", {"level": "zone", "note": ""}).status_code == 422
    assert step(client, issue, "send_down", {"level": "zone", "note": "请片长核实"}).status_code == 303
    assert fresh(issue).level == "zone"
    kinds = [
        e.kind
        for e in db.session.scalars(select(IssueEvent).where(IssueEvent.issue_id == issue.id).order_by(IssueEvent.id))
    ]
    assert kinds[-2:] == ["priority", "sent_down"]


def test_unknown_step_and_huge_ids(world, client, auth):
    issue = make_issue(world["n0"])
    auth.login(world["branch"].mobile)
    assert step(client, issue, "explode").status_code == 404
    token = csrf_from(client.get("/").text)
    assert client.post(f"/issues/{2**40}/triage/assign", data={"csrf_token": token}).status_code == 404


def test_follow_and_unfollow(world, client, auth):
    issue = make_issue(world["n0"])
    auth.login(world["g0"].mobile)
    token = csrf_from(client.get(f"/issues/{issue.id}").text)
    assert client.post(f"/issues/{issue.id}/follow", data={"csrf_token": token, "follow-on": "1"}).status_code == 303
    assert db.session.get(IssueFollower, (issue.id, world["g0"].id)) is not None
    assert 'name="follow-on" value="0"' in client.get(f"/issues/{issue.id}").text  # the button now unfollows
    assert client.post(f"/issues/{issue.id}/follow", data={"csrf_token": token, "follow-on": "0"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(IssueFollower, (issue.id, world["g0"].id)) is None
    auth.logout()
    auth.login(world["branch_b"].mobile)
    token = csrf_from(client.get("/").text)
    assert client.post(f"/issues/{issue.id}/follow", data={"csrf_token": token, "follow-on": "1"}).status_code == 403


def test_ready_replies_fit_the_category_and_status_and_fill_the_box(world, client, auth):
    issue = force_status(make_issue(world["n0"], category="fire"), "in_progress", level="community")
    auth.login(world["branch"].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    shown = {t.title for t in operations.templates_for(fresh(issue))}
    assert {"消防整改", "处理中"} <= shown and "路灯维修" not in shown and "已受理" not in shown
    for title in shown:
        assert title in html
    fire = db.session.scalar(select(ResponseTemplate).where(ResponseTemplate.title == "消防整改"))
    html = client.get(f"/issues/{issue.id}?template={fire.id}").get_data(as_text=True)
    assert f"{fire.body}</textarea>" in html
    # A 邻长 posts no public updates, so gets no ready replies.
    auth.logout()
    auth.login(world["n0"].mobile)
    assert "template-pick" not in client.get(f"/issues/{issue.id}").text


def test_no_start_button_while_the_assignment_waits_and_a_forced_post_changes_nothing(world, client, auth):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], beijing_today() + timedelta(days=3))
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    waiting = "已派单给金湾物业，待其接单后才能开始处理"
    assert f"/issues/{issue.id}/status/in_progress" not in html and waiting in html
    assert f"/issues/{issue.id}/triage/assign" in html  # the branch may still reassign
    before = (fresh(issue).status, fresh(issue).version, len(fresh(issue).events))
    token = csrf_from(html)
    data = {"in_progress-version": str(fresh(issue).version), "csrf_token": token}
    response = client.post(f"/issues/{issue.id}/status/in_progress", data=data)
    assert response.status_code == 422
    assert waiting in response.get_data(as_text=True) and 'role="alert"' in response.get_data(as_text=True)
    assert (fresh(issue).status, fresh(issue).version, len(fresh(issue).events)) == before
    auth.logout()
    # Once the party accepts, the work has started (and nobody is shown the waiting line any more).
    auth.login(world["staff"].mobile)
    assert step(client, issue, "accept").status_code == 303
    html = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert fresh(issue).status == "in_progress" and waiting not in html
