"""The triage console (分拨台) and the responsible parties' queue, through the real routes.

Each role's access is spelled out per route; bulk actions are checked to be all-or-nothing by
comparing the issue rows, timeline events and audit rows before and after a refused request.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import AuditEntry, Issue, IssueEvent, utcnow
from governance.services.triage import operations
from tests.builders import category, force_status, make_issue, make_party, make_person, make_tree, nodes_at
from tests.conftest import Auth, csrf_from
from tests.pages import find, find_all, table_rows, text_of, texts_of

REF_RE = re.compile(r"WC-\d{4}-\d{6}")


@pytest.fixture
def world(app):
    """Two communities A and B of one street, a leader on each level of A, branches, admins, two parties."""
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=2)
    a, b = nodes_at("community")
    neighbours = nodes_at("neighbour")  # A: 0, 1; B: 2, 3
    org_x = make_party("property", "金湾物业", a)
    org_y = make_party("property", "别处物业", b)
    return {
        "a": a,
        "b": b,
        "x": org_x,
        "y": org_y,
        "neighbour": make_person("neighbour_leader", neighbours[0], name="邻长甲"),
        "neighbour_b": make_person("neighbour_leader", neighbours[2], name="邻长乙"),
        "group": make_person("group_leader", nodes_at("group")[0], name="组长"),
        "zone": make_person("zone_leader", nodes_at("zone")[0], name="片长"),
        "branch_a": make_person("branch_member", a, name="支部甲"),
        "branch_b": make_person("branch_member", b, name="支部乙"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街镇"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区"),
        "staff_x": make_person("org_staff", None, organisation=org_x, name="物业甲"),
        "staff_y": make_person("org_staff", None, organisation=org_y, name="物业乙"),
    }


ROLES = ("neighbour", "group", "zone", "branch_a", "branch_b", "street", "district", "staff_x", "staff_y")


def at_community(world, who="neighbour", title="路面破损", **fields) -> Issue:
    """An issue filed in the person's 邻 and raised to the community level."""
    issue = make_issue(world[who], title=title, **fields)
    return force_status(issue, issue.status, level="community")


def login(app, person):
    """A fresh client logged in as the person."""
    client = app.test_client()
    response = Auth(client).login(person.mobile)
    assert response.status_code in (302, 303)
    return client


def rows_of(html: str) -> list[str]:
    """The references in the queue table, in order."""
    table = find(html, "table[data-queue]")
    return texts_of(table, "a[data-open]") if table is not None else []


def snapshot():
    """Everything a refused bulk action must leave untouched."""
    db.session.expire_all()
    issues = db.session.execute(
        select(
            Issue.id,
            Issue.status,
            Issue.level,
            Issue.version,
            Issue.assignee_org_id,
            Issue.assignment_state,
            Issue.priority,
        )
    ).all()
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (IssueEvent, AuditEntry)]
    return sorted(issues), counts


def item(issue: Issue) -> str:
    db.session.expire_all()
    fresh = db.session.get(Issue, issue.id)
    return f"{fresh.id}:{fresh.version}"


def post_bulk(client, community, items, token_page=None, **fields):
    """Post the bulk form as the console renders it (CSRF token from the console or, if refused, the home page)."""
    page = client.get(token_page or f"/triage/community/{community.id}")
    token = csrf_from(page.get_data(as_text=True) if page.status_code == 200 else client.get("/").text)
    data = {"csrf_token": token, "item": items, **fields}
    return client.post(f"/triage/community/{community.id}/bulk", data=data)


def due(days=7) -> str:
    return (beijing_today() + timedelta(days=days)).isoformat()


def fresh(issue: Issue) -> Issue:
    db.session.expire_all()
    return db.session.get(Issue, issue.id)


# --- who may open what ------------------------------------------------------------------------


def test_every_route_by_role(world, app):
    a, b, x = world["a"], world["b"], world["x"]
    issue = at_community(world)
    expected = {
        # role: (/triage/, console A, export A, console B, org queue, org export)
        "neighbour": (403, 403, 403, 403, 403, 403),
        "group": (403, 403, 403, 403, 403, 403),
        "zone": (403, 403, 403, 403, 403, 403),
        "branch_a": (303, 200, 200, 403, 403, 403),
        "branch_b": (303, 403, 403, 200, 403, 403),
        "street": (200, 200, 200, 200, 403, 403),
        "district": (200, 200, 200, 200, 403, 403),
        "staff_x": (403, 403, 403, 403, 200, 200),
        "staff_y": (403, 403, 403, 403, 200, 200),
    }
    urls = (
        "/triage/",
        f"/triage/community/{a.id}",
        f"/triage/community/{a.id}/export.csv",
        f"/triage/community/{b.id}",
        "/triage/org/",
        "/triage/org/export.csv",
    )
    for role in ROLES:
        client = login(app, world[role])
        got = tuple(client.get(url).status_code for url in urls)
        assert got == expected[role], role
        # Not a community, unknown: 404 for everyone who triages, 403 otherwise; beyond the database's integers: 404.
        for node_id in (nodes_at("zone")[0].id, 999999):
            status = client.get(f"/triage/community/{node_id}").status_code
            assert status == (404 if role in ("branch_a", "branch_b", "street", "district") else 403), (role, node_id)
        assert client.get(f"/triage/community/{10**12}").status_code == 404
        # The POST routes: the bulk bar and the bulk accept.
        response = post_bulk(client, a, [item(issue)], action="priority", priority="high")
        assert response.status_code in ((303,) if role in ("branch_a", "street", "district") else (403,)), role
        token = csrf_from(client.get("/").text)
        accept = client.post("/triage/org/accept", data={"csrf_token": token, "item": [item(issue)]})
        assert accept.status_code == (422 if role.startswith("staff") else 403), role
    # Anonymous: to the login page.
    anonymous = app.test_client()
    for url in urls:
        assert anonymous.get(url).status_code == 302
    assert x.id  # paired for the org queue


def test_branch_is_sent_to_its_console_and_admins_choose(world, app):
    at_community(world)
    at_community(world, "neighbour_b")
    client = login(app, world["branch_a"])
    assert client.get("/triage/").headers["Location"].endswith(f"/triage/community/{world['a'].id}")
    html = login(app, world["street"]).get("/triage/").get_data(as_text=True)
    assert world["a"].name in html and world["b"].name in html
    assert f"/triage/community/{world['a'].id}" in html


def test_nav_and_home_links(world, app):
    branch = login(app, world["branch_a"]).get("/").get_data(as_text=True)
    assert 'href="/triage/"' in branch and f"/triage/community/{world['a'].id}" in branch
    assert "/triage/org/" not in branch
    staff = login(app, world["staff_x"]).get("/").get_data(as_text=True)
    assert "/triage/org/" in staff and 'href="/triage/"' not in staff
    leader = login(app, world["group"]).get("/").get_data(as_text=True)
    assert "/triage/" not in leader


# --- another community's issues -----------------------------------------------------------------


def test_branch_of_a_cannot_see_or_touch_bs_issues(world, app):
    own = at_community(world)
    foreign = at_community(world, "neighbour_b", title="外社区问题")
    client = login(app, world["branch_a"])
    html = client.get(f"/triage/community/{world['a'].id}?reach=all&status=all").get_data(as_text=True)
    assert rows_of(html) == [own.reference] and foreign.reference not in html
    assert client.get(f"/triage/community/{world['b'].id}/export.csv").status_code == 403
    assert client.get(f"/issues/{foreign.id}").status_code == 403
    before = snapshot()
    # Posted to A's own console, alone and together with an issue of A: refused as a whole.
    for items in ([item(foreign)], [item(own), item(foreign)]):
        response = post_bulk(client, world["a"], items, action="assign", organisation=str(world["x"].id), due_on=due())
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert f"#{foreign.id}" in text and foreign.reference not in text  # named, but not revealed
        assert snapshot() == before
    # Posted to B's console: the console itself is refused.
    response = post_bulk(client, world["b"], [item(foreign)], token_page="/", action="priority", priority="high")
    assert response.status_code == 403
    assert snapshot() == before


# --- the responsible party's queue --------------------------------------------------------------


def assigned(world, org_key, who="neighbour", title="路面破损"):
    branch = "branch_a" if org_key == "x" else "branch_b"
    issue = make_issue(world[who], title=title)
    operations.assign(world[branch], issue, world[org_key], beijing_today() + timedelta(days=5))
    db.session.commit()
    return issue


def test_org_staff_see_only_their_assignments(world, app):
    mine = [assigned(world, "x", title=f"我方{i}") for i in range(2)]
    theirs = assigned(world, "y", "neighbour_b", title="他方")
    unassigned = at_community(world)
    client = login(app, world["staff_x"])
    html = client.get("/triage/org/").get_data(as_text=True)
    assert set(rows_of(html)) == {i.reference for i in mine}
    assert world["a"].name in html  # the community column
    for tab in ("active", "resolved", "closed", "bogus"):
        assert theirs.reference not in client.get(f"/triage/org/?tab={tab}").get_data(as_text=True)
    exported = client.get("/triage/org/export.csv").get_data(as_text=True)
    assert {i.reference for i in mine} <= set(REF_RE.findall(exported))
    assert theirs.reference not in exported and unassigned.reference not in exported
    assert client.get(f"/issues/{theirs.id}").status_code == 403
    assert client.get(f"/issues/{unassigned.id}").status_code == 403
    assert client.get(f"/issues/{mine[0].id}").status_code == 200
    # Bulk accept with one issue of another party: nothing changes, and the message names it.
    before = snapshot()
    token = csrf_from(html)
    response = client.post(
        "/triage/org/accept", data={"csrf_token": token, "item": [item(mine[0]), item(theirs), item(mine[1])]}
    )
    assert response.status_code == 422
    assert f"#{theirs.id}" in response.get_data(as_text=True)
    assert snapshot() == before
    # The selection is kept.
    assert f'value="{item(mine[0])}" checked' in response.get_data(as_text=True)
    # Without it: both accepted at once.
    response = client.post("/triage/org/accept", data={"csrf_token": token, "item": [item(m) for m in mine]})
    assert response.status_code == 303
    assert all(fresh(m).assignment_state == "accepted" and fresh(m).status == "in_progress" for m in mine)
    active = client.get("/triage/org/?tab=active").get_data(as_text=True)
    assert set(rows_of(active)) == {m.reference for m in mine}
    # Accepting again: already answered.
    response = client.post("/triage/org/accept", data={"csrf_token": token, "item": [item(mine[0])]})
    assert response.status_code == 422 and mine[0].reference in response.get_data(as_text=True)
    # A branch member has no queue.
    assert login(app, world["branch_a"]).get("/triage/org/").status_code == 403


def test_decline_returns_the_issue_to_the_branch_with_the_reason(world, app):
    issue = assigned(world, "x", title="退回的问题")
    staff = login(app, world["staff_x"])
    assert issue.reference in rows_of(staff.get("/triage/org/").get_data(as_text=True))
    operations.decline(world["staff_x"], fresh(issue), "不在我司管理范围")
    db.session.commit()
    assert issue.reference not in staff.get("/triage/org/").get_data(as_text=True)
    assert staff.get(f"/issues/{issue.id}").status_code == 403
    branch = login(app, world["branch_a"])
    console = branch.get(f"/triage/community/{world['a'].id}?organisation=none").get_data(as_text=True)
    assert issue.reference in rows_of(console)
    assert "不在我司管理范围" in branch.get(f"/issues/{issue.id}").get_data(as_text=True)


# --- bulk actions -------------------------------------------------------------------------------


def test_bulk_assign_with_one_closed_issue_changes_nothing(world, app):
    good = [at_community(world, title=f"好{i}") for i in range(2)]
    closed = force_status(at_community(world, title="已关闭"), "closed")
    client = login(app, world["branch_a"])
    before = snapshot()
    items = [item(good[0]), item(closed), item(good[1])]
    response = post_bulk(
        client,
        world["a"],
        items,
        action="assign",
        organisation=str(world["x"].id),
        due_on=due(3),
        note="请三日内处理",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    refusal = text_of(html, "#refusal")
    assert closed.reference in refusal and good[0].reference not in refusal
    assert snapshot() == before
    # The choices and the typed text are kept; the selection too (the visible rows).
    assert "请三日内处理" in html and due(3) in html
    assert f'value="{item(good[0])}" checked' in html
    assert re.search(rf'<option selected value="{world["x"].id}"|<option value="{world["x"].id}" selected', html)


def test_each_bulk_action_succeeds(world, app):
    client = login(app, world["branch_a"])
    a = world["a"]

    def run(issues, **fields):
        response = post_bulk(client, a, [item(i) for i in issues], **fields)
        assert response.status_code == 303, response.get_data(as_text=True)[:3000]
        assert f"/triage/community/{a.id}" in response.headers["Location"]
        return [fresh(i) for i in issues]

    ack = run([at_community(world, title="待受理1"), at_community(world, title="待受理2")], action="acknowledge")
    assert {i.status for i in ack} == {"acknowledged"}
    assigned_ = run(
        [at_community(world, title="派单1"), at_community(world, title="派单2")],
        action="assign",
        organisation=str(world["x"].id),
        due_on=due(10),
    )
    assert {(i.assignee_org_id, i.assignment_state) for i in assigned_} == {(world["x"].id, "pending")}
    prio = run([at_community(world, title="优先")], action="priority", priority="high")
    assert prio[0].priority == "high"
    reason = db.session.scalar(select(operations.RejectReason.id).order_by(operations.RejectReason.sort))
    rejected = run([at_community(world, title="驳回")], action="reject", reason=str(reason), note="不属于受理范围")
    assert rejected[0].status == "rejected" and rejected[0].reject_reason_id == reason
    kept = at_community(world, title="保留")
    copies = [at_community(world, title="重复1"), at_community(world, title="重复2")]
    merged = run([kept, *copies], action="merge", kept=kept.reference.lower())
    assert "2" in client.get(f"/triage/community/{a.id}").get_data(as_text=True).split('role="status"', 1)[1][:200]
    assert merged[0].status != "duplicate"
    assert {(i.status, i.duplicate_of_id) for i in merged[1:]} == {("duplicate", kept.id)}
    down = run([at_community(world, title="下派")], action="send_down", level="zone", note="请片长先行处理")
    assert down[0].level == "zone"
    up = run([at_community(world, title="上报")], action="escalate", note="需要街镇协调")
    assert up[0].level == "street"
    # Filters survive the redirect.
    response = post_bulk(client, a, [item(at_community(world))], action="acknowledge")
    response = client.post(
        f"/triage/community/{a.id}/bulk?priority=high&reach=all",
        data={
            "csrf_token": csrf_from(client.get("/").text),
            "item": [item(prio[0])],
            "action": "priority",
            "priority": "low",
        },
    )
    assert response.status_code == 303 and "priority=high" in response.headers["Location"]
    assert "reach=all" in response.headers["Location"]


def test_request_level_refusals(world, app):
    issue = at_community(world)
    client = login(app, world["branch_a"])
    before = snapshot()
    cases = [
        ([], {"action": "acknowledge"}),  # nothing selected
        ([item(issue)], {"action": "bogus"}),
        ([item(issue)], {"action": ""}),
        ([item(issue)], {"action": "accept"}),  # the party's, not the branch's
        ([item(issue)], {"action": "merge", "kept": "WC-2099-999999"}),
        ([item(issue)], {"action": "assign", "organisation": str(world["y"].id), "due_on": due()}),  # B's party
        ([item(issue)], {"action": "assign", "organisation": "99999999999", "due_on": "2020-01-01"}),
        ([item(issue)], {"action": "priority", "priority": "urgentest"}),
        ([item(issue)], {"action": "send_down", "level": "street", "note": "x"}),
        ([item(issue)], {"action": "send_down", "level": "zone", "note": ""}),
        ([item(issue)], {"action": "reject", "reason": "abc"}),
        (["abc", "1:x", f"{10**12}:1"], {"action": "acknowledge"}),
        ([f"{issue.id}:999"], {"action": "acknowledge"}),  # stale version
        ([f"{issue.id}:{'9' * 50}"], {"action": "acknowledge"}),
    ]
    for items, fields in cases:
        response = post_bulk(client, world["a"], items, **fields)
        assert response.status_code == 422, (items, fields, response.status_code)
        assert 'id="refusal"' in response.get_data(as_text=True)
        assert snapshot() == before, (items, fields)
    too_many = [f"{n}:1" for n in range(1, 202)]
    assert post_bulk(client, world["a"], too_many, action="acknowledge").status_code == 422


# --- the queue: filters, paging, counts ---------------------------------------------------------


def test_filters(world, app):
    below = make_issue(world["neighbour"], title="组内问题")  # still at the 邻
    road = at_community(world, title="道路")
    water = at_community(world, title="供水", category="water" if category("water") else "road")
    urgent = at_community(world, title="紧急", urgency="urgent")
    done = force_status(at_community(world, title="已办结"), "resolved")
    late = at_community(world, title="超时")
    late.next_deadline_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    operations.assign(world["branch_a"], fresh(road), world["x"], beijing_today() + timedelta(days=3))
    operations.set_priority(world["branch_a"], fresh(water), "high")
    db.session.commit()
    client = login(app, world["branch_a"])
    base = f"/triage/community/{world['a'].id}"

    def shown(query=""):
        response = client.get(base + query)
        assert response.status_code == 200
        return rows_of(response.get_data(as_text=True))

    default = shown()
    assert set(default) == {road.reference, water.reference, urgent.reference, late.reference}
    assert default[0] == urgent.reference  # urgent first, then high priority
    assert default[1] == water.reference
    assert below.reference in shown("?reach=all")
    assert done.reference in shown("?status=all") and shown("?status=resolved") == [done.reference]
    assert shown("?organisation=none") and road.reference not in shown("?organisation=none")
    assert shown("?organisation=pending") == [road.reference]
    assert shown(f"?organisation={world['x'].id}") == [road.reference]
    assert shown("?priority=high") == [water.reference]
    assert shown("?overdue=1") == [late.reference]
    if category("water"):
        assert shown(f"?category={category('water').id}") == [water.reference]
    html = client.get(base).get_data(as_text=True)
    # Badges: waiting for acceptance, overdue.
    assert "badge pending" in html and "badge overdue" in html


def test_paging_and_counts(world, app):
    for n in range(53):
        make_issue(world["neighbour"], title=f"问题{n}", commit=False)
    db.session.commit()
    db.session.execute(db.update(Issue).values(level="community"))
    db.session.commit()
    force_status(db.session.scalars(select(Issue).order_by(Issue.id)).first(), "closed")
    client = login(app, world["branch_a"])
    base = f"/triage/community/{world['a'].id}"
    first = client.get(base).get_data(as_text=True)
    second = client.get(base + "?page=2").get_data(as_text=True)
    assert len(rows_of(first)) == 50 and len(rows_of(second)) == 2
    assert not set(rows_of(first)) & set(rows_of(second))
    assert "?page=2" in first
    # Tabs: open 52, closed 1, all 53.
    tabs = find_all(first, "nav.triage-tabs a")
    counts = {
        re.search(r"status=(\w+)", tab["href"]).group(1): text_of(tab, "b") for tab in tabs if "status=" in tab["href"]
    }
    assert counts["closed"] == "1" and counts["all"] == "53" and counts["reported"] == "52"
    assert "52" in [text_of(tab, "b") for tab in tabs]  # the open tab
    assert client.get(base + "?page=99").status_code == 200


def test_response_times_on_a_hand_built_case(world, app):
    now = utcnow()
    rows = []
    for hours_to_accept, hours_to_resolve in ((2, 10), (4, None), (None, None)):
        issue = assigned(world, "x")
        issue.assigned_at = now - timedelta(days=3)
        if hours_to_accept is not None:
            issue.assignment_state, issue.accepted_at = "accepted", issue.assigned_at + timedelta(hours=hours_to_accept)
            issue.status = "in_progress"
        if hours_to_resolve is not None:
            issue.status, issue.resolved_at = "resolved", issue.assigned_at + timedelta(hours=hours_to_resolve)
        rows.append(issue)
    rows[1].next_deadline_at = now - timedelta(hours=1)  # overdue now
    db.session.commit()
    html = login(app, world["branch_a"]).get(f"/triage/community/{world['a'].id}").get_data(as_text=True)
    cells = [cell for row in table_rows(html, ".response-times tbody") for cell in row]
    # party, assigned, waiting, median hours to accept, resolved, median hours to resolve, overdue now
    assert cells == ["金湾物业", "3", "1", "3.0", "1", "10.0", "1"]


# --- export -------------------------------------------------------------------------------------


def test_csv_content_and_scope(world, app):
    mine = at_community(world, title="=SUM(A1)", resident_name="张三", resident_phone="13912345678")
    theirs = at_community(world, "neighbour_b", title="外社区")
    below = make_issue(world["neighbour"], title="还在邻")
    response = login(app, world["branch_a"]).get(f"/triage/community/{world['a'].id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    text = raw.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "编号",
        "标题",
        "类别",
        "小区",
        "楼栋",
        "层级",
        "状态",
        "优先级",
        "紧急",
        "责任单位",
        "接单状态",
        "期限",
        "超时",
        "上报时间",
    ]
    assert [r[0] for r in table[1:]] == [mine.reference]
    assert table[1][1] == "'=SUM(A1)"  # never a formula in Excel
    assert "张三" not in text and "13912345678" not in text
    assert theirs.reference not in text and below.reference not in text
    everything = login(app, world["street"]).get(f"/triage/community/{world['a'].id}/export.csv?reach=all")
    assert {below.reference, mine.reference} == set(REF_RE.findall(everything.get_data(as_text=True)))


def test_personal_data_stays_off_the_console(world, app):
    at_community(world, resident_name="张三", resident_phone="13912345678")
    html = login(app, world["branch_a"]).get(f"/triage/community/{world['a'].id}").get_data(as_text=True)
    assert "张三" not in html and "13912345678" not in html


# --- junk ---------------------------------------------------------------------------------------


JUNK = [
    "?reach=x&status=nope&category=abc&organisation=zzz&priority=max&overdue=2&page=-1",
    "?category=99999999999999&organisation=99999999999999&page=99999999999999",
    "?status=%E4%BD%A0&page=1.5&category=0",
    "?organisation=pending&status=all&reach=all&page=0",
]


def test_junk_parameters_never_fail(world, app):
    at_community(world)
    client = login(app, world["branch_a"])
    for query in JUNK:
        for path in ("", "/export.csv"):
            assert client.get(f"/triage/community/{world['a'].id}{path}{query}").status_code == 200, query
    staff = login(app, world["staff_x"])
    for query in ("?tab=nope&page=abc", "?tab=closed&page=99999999999999", "?tab=%00"):
        assert staff.get("/triage/org/" + query).status_code in (200, 400), query
        assert staff.get("/triage/org/export.csv" + query).status_code in (200, 400), query
    # Without the CSRF token: refused before anything is read.
    assert staff.post("/triage/org/accept", data={"item": ["1:1"]}).status_code == 400
    assert client.post(f"/triage/community/{world['a'].id}/bulk", data={"action": "acknowledge"}).status_code == 400
    token = csrf_from(staff.get("/triage/org/").get_data(as_text=True))
    for items in (["x"], ["1:"], [":"], ["-5:2"], []):
        response = staff.post("/triage/org/accept", data={"csrf_token": token, "item": items})
        assert response.status_code == 422, items


def test_the_page_carries_its_keyboard_aids(world, app):
    at_community(world)
    html = login(app, world["branch_a"]).get(f"/triage/community/{world['a'].id}").get_data(as_text=True)
    assert re.search(r'<script src="/static/js/triage\.js[^"]*" defer>', html)
    assert "data-select-all" in html and "<kbd>j</kbd>" in html and "<kbd>x</kbd>" in html
    assert 'name="item"' in html and "<script>" not in html
