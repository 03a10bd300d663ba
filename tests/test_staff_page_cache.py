"""The issue list and the triage console come from the page cache: whatever a commit changes is on the next page.

The list part of /issues/ (issues/_list.html) and the triage console's body (triage/_console.html) are kept
under the tags of the areas they cover and the tree's, shared by everyone with the same roles
(policy.scope_signature). These tests read them as leaders do and hold them to what a plain query over the
rows gives at that moment — after filings, handling, an escalation by the SLA sweep, a new role, a renamed
category or party — to never carrying one person's page (or form token) to someone else.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import status_label
from governance.models import OPEN_STATUSES, Category, Issue, RejectReason, utcnow
from governance.services.issues import sla
from governance.services.issues.lifecycle import transition
from governance.services.public import page_cache
from tests.builders import force_status, make_issue, make_party, make_person, make_role_holders, make_tree, nodes_at
from tests.conftest import Auth, Statements, csrf_from, logged_in_clients, take_redis_away
from tests.pages import find, home_todos, issue_cards, table_rows, texts_of

ROLES = ("neighbour_leader", "group_leader", "zone_leader", "branch_member", "street_admin", "district_admin")


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=2, zones=2, groups=1, neighbours=2)
    return make_role_holders()


@pytest.fixture
def readers(app, world):
    """A logged-in client per role holder (each keeps its own session)."""
    return logged_in_clients(app, world, ROLES)


def cards(client, query: str = "") -> list[dict]:
    response = client.get(f"/issues/{query}")
    assert response.status_code == 200
    return issue_cards(response.get_data(as_text=True))


def visible_issues(person) -> list[Issue]:
    """A plain second computation of what the list holds: every issue of the person's areas (their nodes'
    subtrees, compared by the ancestor columns in Python), newest first."""
    nodes = [r.node for r in person.roles if r.node is not None]
    everything = db.session.scalars(select(Issue).order_by(Issue.created_at.desc(), Issue.id.desc()))
    return [
        issue
        for issue in everything
        if any(node.level == "district" or getattr(issue, f"{node.level}_id") == node.id for node in nodes)
    ]


def expected(person) -> list[tuple[str, str]]:
    """The first page: (reference, status label), 25 at most."""
    return [(i.reference, status_label(i.status)) for i in visible_issues(person)[:25]]


def shown(client, query: str = "") -> list[tuple[str, str]]:
    return [(card["reference"], card["status"]) for card in cards(client, query)]


def test_an_issue_filed_shows_at_once_in_every_list_that_covers_it(world, readers):
    for client in readers.values():
        assert shown(client) == []
    issue = make_issue(world["neighbour_leader"])
    for role, client in readers.items():
        assert shown(client) == [(issue.reference, status_label("reported"))], role
    for status in ("acknowledged", "in_progress", "resolved"):
        transition(world["zone_leader"], issue, status, note="已处理")
        db.session.commit()
        for role, client in readers.items():
            assert shown(client) == [(issue.reference, status_label(status))], (role, status)


def test_an_issue_elsewhere_leaves_another_communitys_list_cached(world, app):
    """Only the lists whose areas hold the issue are rendered again."""
    other = nodes_at("community")[1]
    member = make_person("branch_member", other)
    client = app.test_client()
    Auth(client).login(member.mobile)
    cards(client)
    with Statements() as cached:
        cards(client)
    make_issue(world["neighbour_leader"])  # in the first community
    with Statements() as after:
        assert cards(client) == []
    assert after.count == cached.count, after


@pytest.mark.parametrize("level", ["district", "street", "community", "zone", "neighbour"])
def test_a_list_narrowed_to_an_area_shows_a_filing_there_at_once(world, readers, level):
    """?node= keeps the page under that area's tag: a filing in the area's last 邻 shows on the next page."""
    area = nodes_at(level)[-1]
    inside = [n for n in nodes_at("neighbour") if level == "district" or getattr(n, f"{level}_id", n.id) == area.id]
    query = f"?node={area.id}"
    assert shown(readers["district_admin"], query) == []
    issue = make_issue(world["district_admin"], inside[-1])
    assert shown(readers["district_admin"], query) == [(issue.reference, status_label("reported"))]


def test_a_cached_list_sends_no_statement(world, readers):
    make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    with Statements() as miss:
        cards(client)
    with Statements() as hit:
        cards(client)
    assert hit.count == 0, hit  # the login is kept too (auth_session._kept_login)
    assert miss.count > 3


def test_an_escalation_by_the_sla_sweep_shows_on_the_next_page(world, readers):
    """The sweep changes issues with Core UPDATEs, which the session hook does not see: it marks them."""
    issue = make_issue(world["neighbour_leader"])
    issue.ack_due_at = issue.next_deadline_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    client = readers["group_leader"]
    assert "overdue" in cards(client)[0]["marks"]
    assert sla.sweep()["escalated"] == 1
    card = cards(client)[0]
    assert "overdue" not in card["marks"]  # the next level's deadline lies ahead
    assert "片" in card["text"]  # handled at the 片 now (At 片 / 片 处理)


def test_two_people_share_a_page_only_when_they_see_the_same_issues(world, app):
    """Two branch members of one community read one entry; a 组长 of the other 组 never gets theirs."""
    community, other_group = nodes_at("community")[0], nodes_at("group")[1]
    second = make_person("branch_member", community)
    elsewhere = make_person("group_leader", other_group)
    issue = make_issue(world["neighbour_leader"])
    clients = {}
    for name, person in (("first", world["branch_member"]), ("second", second), ("elsewhere", elsewhere)):
        clients[name] = app.test_client()
        Auth(clients[name]).login(person.mobile)
    want = [(issue.reference, status_label("reported"))]
    assert shown(clients["first"]) == want
    with Statements() as shared:
        assert shown(clients["second"]) == want
    assert shared.count == 1, str(shared)
    assert shown(clients["elsewhere"]) == expected(elsewhere) == []


def test_a_new_role_widens_the_list_at_once(world, app):
    """The entry is chosen by the person's scopes: another role is another page."""
    leader = world["neighbour_leader"]
    client = app.test_client()
    Auth(client).login(leader.mobile)
    elsewhere = next(n for n in nodes_at("neighbour") if n.id != leader.roles[0].node_id)
    issue = make_issue(world["zone_leader"], elsewhere)
    assert shown(client) == expected(leader) == []
    make_person("neighbour_leader", elsewhere, mobile=None, name=None)  # someone else there: nothing changes
    from governance.models import RoleAssignment

    db.session.add(RoleAssignment(person_id=leader.id, role="neighbour_leader", node_id=elsewhere.id))
    db.session.commit()
    db.session.expire_all()
    assert shown(client) == [(issue.reference, status_label("reported"))]


def test_a_renamed_category_shows_on_the_next_page(world, readers):
    issue = make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    assert "新名字类别" not in cards(client)[0]["text"]
    db.session.get(Category, issue.category_id).name_zh = "新名字类别"
    db.session.commit()
    assert "新名字类别" in cards(client)[0]["text"]


def test_each_language_has_its_own_page(world, readers, app, monkeypatch):
    make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    assert cards(client)[0]["status"] == status_label("reported")
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "en")
    assert cards(client)[0]["status"] == "Reported"


def test_with_redis_the_list_is_shared_and_dropped_on_a_change(world, redis_app, readers):
    make_issue(world["neighbour_leader"])
    cards(readers["zone_leader"])
    community = nodes_at("community")[0]
    assert [k for k in page_cache.redis_keys() if f":pub:page:community:{community.id}|" in k]
    assert page_cache.memory_bodies() == []
    issue = make_issue(world["neighbour_leader"])
    assert [k for k in page_cache.redis_keys() if f":pub:page:community:{community.id}|" in k] == []
    assert cards(readers["zone_leader"])[0]["reference"] == issue.reference


def test_with_redis_down_no_worker_keeps_its_own_copy(world, redis_app, readers):
    """While the breaker holds Redis off, another worker would not hear of a filing: the list is not kept in
    a worker's memory then, so whoever files sees their issue in their list at once."""
    take_redis_away(redis_app)
    client = readers["zone_leader"]
    assert cards(client) == []
    issue = make_issue(world["neighbour_leader"])
    assert [c["reference"] for c in cards(client)] == [issue.reference]
    assert page_cache.memory_bodies() == []


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["file", "advance", "overdue", "sweep", "rename"]),
            st.integers(min_value=0, max_value=9),
            st.sampled_from(ROLES),
            st.sampled_from(["", "?status=open", "?overdue=1"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_list_always_shows_what_a_plain_query_gives(world, readers, steps):
    """Whatever sequence of changes commits, every role's list (cached or not) shows the issues, statuses and
    overdue marks a plain query over the rows gives at that moment."""
    neighbours = [n for n in nodes_at("neighbour") if n.community_id == nodes_at("community")[0].id]
    neighbours.append(nodes_at("neighbour")[-1])  # one in the other community
    for action, k, role, query in steps:
        issues = list(db.session.scalars(select(Issue).where(Issue.status.in_(OPEN_STATUSES)).order_by(Issue.id)))
        if action == "file":
            make_issue(world["district_admin"], neighbours[k % len(neighbours)], title=f"问题{k}")
        elif action == "advance" and issues:
            issue = issues[k % len(issues)]
            following = {"reported": "acknowledged", "acknowledged": "in_progress", "in_progress": "resolved"}
            if issue.status in following:
                transition(world["district_admin"], issue, following[issue.status], note="已处理")
                db.session.commit()
        elif action == "overdue" and issues:
            issue = issues[k % len(issues)]
            issue.ack_due_at = issue.next_deadline_at = utcnow() - timedelta(minutes=1)
            db.session.commit()
        elif action == "sweep":
            sla.sweep()
            db.session.expire_all()
        elif action == "rename":
            db.session.get(Category, 1 + k % 3).name_zh = f"类别{k}"
            db.session.commit()
        person, now = world[role], utcnow()
        rows = visible_issues(person)
        if query == "?overdue=1":
            rows = [i for i in rows if late(i, now)]
        elif query == "?status=open":
            rows = [i for i in rows if i.status in OPEN_STATUSES]
        page = cards(readers[role], query)
        assert [(c["reference"], c["status"]) for c in page] == [
            (i.reference, status_label(i.status)) for i in rows[:25]
        ], (action, role, query)
        overdue = {i.reference for i in rows if late(i, now)}
        for card in page:
            assert ("overdue" in card["marks"]) == (card["reference"] in overdue), (action, role, card)


def late(issue: Issue, now) -> bool:
    """Open with a deadline of its level passed (written out again here, not Issue.overdue)."""
    return issue.status in OPEN_STATUSES and any(
        d is not None and d <= now for d in (issue.ack_due_at, issue.resolve_due_at)
    )


# --- the triage console ------------------------------------------------------------------------


def console(client, community) -> str:
    response = client.get(f"/triage/community/{community.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def queue(html: str) -> list[str]:
    table = find(html, "table[data-queue]")
    return texts_of(table, "a[data-open]") if table is not None else []


def at_community(leader, **fields) -> Issue:
    issue = make_issue(leader, **fields)
    return force_status(issue, issue.status, level="community")


@pytest.fixture
def branch(app, world):
    """Two branch members of the first community, each logged in on a client of their own."""
    community = nodes_at("community")[0]
    second = make_person("branch_member", community, name="支部乙")
    clients = {}
    for name, person in (("first", world["branch_member"]), ("second", second)):
        clients[name] = app.test_client()
        Auth(clients[name]).login(person.mobile)
    return community, clients


def test_each_reader_of_a_kept_console_gets_their_own_form_token(world, branch):
    community, clients = branch
    at_community(world["neighbour_leader"])
    first = console(clients["first"], community)
    with Statements() as kept:
        second = console(clients["second"], community)
    assert kept.count <= 2, str(kept)  # the login and the community: nothing of the console
    tokens = csrf_from(first), csrf_from(second)
    assert tokens[0] != tokens[1]
    assert tokens[0] not in second and page_cache.TOKEN_SLOT not in second
    # The second reader's form works with the token their (kept) page carried, and the change shows at once.
    issue = db.session.scalars(select(Issue)).one()
    response = clients["second"].post(
        f"/triage/community/{community.id}/bulk",
        data={"csrf_token": tokens[1], "item": [f"{issue.id}:{issue.version}"], "action": "acknowledge"},
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).status == "acknowledged"
    before = table_rows(first, "table[data-queue]")
    after = table_rows(console(clients["first"], community), "table[data-queue]")
    assert status_label("reported") in before[1] and status_label("acknowledged") not in before[1]
    assert status_label("acknowledged") in after[1]  # the same row, acknowledged now


def test_an_issue_raised_to_the_community_shows_on_the_next_console(world, branch):
    community, clients = branch
    assert queue(console(clients["first"], community)) == []
    issue = at_community(world["neighbour_leader"])
    assert queue(console(clients["first"], community)) == [issue.reference]
    elsewhere = next(n for n in nodes_at("neighbour") if n.community_id != community.id)
    make_issue(world["district_admin"], elsewhere)  # another community: this console keeps its entry
    with Statements() as kept:
        console(clients["first"], community)
    assert kept.count <= 2, str(kept)


def test_a_renamed_party_and_a_new_reason_show_on_the_next_console(world, branch):
    community, clients = branch
    party = make_party("property", "金湾物业", community)
    at_community(world["neighbour_leader"])
    assert "金湾物业" in console(clients["first"], community)
    party.name = "新名物业"
    db.session.commit()
    page = console(clients["first"], community)
    assert "新名物业" in page and "金湾物业" not in page
    reason = RejectReason(name_zh="新理由", name_en="A new reason", sort=1)
    db.session.add(reason)
    db.session.commit()
    assert "新理由" in console(clients["first"], community)


# --- the home page's cards ------------------------------------------------------------------------


def todo_count(client, label: str) -> int:
    """The count of one to-do on the person's (only) card."""
    response = client.get("/")
    assert response.status_code == 200
    (todos,) = home_todos(response.get_data(as_text=True)).values()
    return next(t["count"] for t in todos if t["label"] == label)


def logged_in(app, person):
    client = app.test_client()
    assert Auth(client).login(person.mobile).status_code == 302
    return client


def test_a_kept_home_sends_no_statement_and_an_issue_shows_at_once(world, readers):
    client = readers["neighbour_leader"]
    assert todo_count(client, "未办结") == 0
    with Statements() as kept:
        todo_count(client, "未办结")
    assert kept.count == 0, str(kept)  # the cards and the login kept
    make_issue(world["neighbour_leader"])
    assert todo_count(client, "未办结") == 1


def test_a_notice_shows_on_each_recipients_home_and_leaves_it_once_opened(app, world):
    """Two 邻长 of one 邻 (the same roles): each home is the person's own, so one opening it leaves the other's
    count as it was."""
    from tests.test_notices import run_jobs, send

    first = world["neighbour_leader"]
    second = make_person("neighbour_leader", first.roles[0].node, name="第二邻长")
    clients = {person.id: logged_in(app, person) for person in (first, second)}
    label = "待阅读或回复的通知"
    assert [todo_count(c, label) for c in clients.values()] == [0, 0]
    notice = send(world["district_admin"], nodes_at("district")[0])
    run_jobs("notice_fanout")
    assert [todo_count(c, label) for c in clients.values()] == [1, 1]
    assert clients[first.id].get(f"/notices/{notice.id}").status_code == 200  # the read receipt (Core UPDATE)
    assert [todo_count(c, label) for c in clients.values()] == [0, 1]


def test_a_residents_report_shows_on_the_leaders_home_until_it_is_answered(app, uploads, fresh_public_cache):
    from tests.test_resident_reports import build_world, only_report
    from tests.test_resident_reports import send as send_report

    world = build_world()
    leader = logged_in(app, world["people"]["neighbour"])
    label = "待答复的居民反映"
    assert todo_count(leader, label) == 0
    assert send_report(app.test_client(), world).status_code == 303
    assert todo_count(leader, label) == 1
    report = only_report()
    declined = Auth(leader).post(
        f"/resident-reports/{report.id}/decline", {"reason": "duplicate"}, form_page=f"/resident-reports/{report.id}"
    )
    assert declined.status_code in (302, 303)
    assert todo_count(leader, label) == 0


def test_a_report_answered_by_one_leader_leaves_the_other_leaders_count(app, uploads, fresh_public_cache):
    """Two 邻长 of one 邻, both counting the report: when one answers it, the other's kept cards go too (the
    report's node tag, and their messages about it marked read)."""
    from tests.test_resident_reports import build_world, only_report
    from tests.test_resident_reports import send as send_report

    world = build_world()
    first = world["people"]["neighbour"]
    second = make_person("neighbour_leader", world["first"], name="第二邻长")
    db.session.commit()
    clients = [logged_in(app, first), logged_in(app, second)]
    label = "待答复的居民反映"
    assert send_report(app.test_client(), world).status_code == 303
    assert [todo_count(client, label) for client in clients] == [1, 1]
    assert [todo_count(client, label) for client in clients] == [1, 1]  # kept now
    report = only_report()
    declined = Auth(clients[0]).post(
        f"/resident-reports/{report.id}/decline", {"reason": "duplicate"}, form_page=f"/resident-reports/{report.id}"
    )
    assert declined.status_code in (302, 303)
    assert [todo_count(client, label) for client in clients] == [0, 0]


def test_a_residents_report_leaves_the_cards_of_other_nodes_kept(app, uploads, fresh_public_cache):
    """A report is tagged by the node it is handed to: the 片长 above that 邻, who counts only the reports handed
    to the 片, keeps their cards (no statement at all) when one arrives for the 邻长."""
    from tests.test_resident_reports import build_world
    from tests.test_resident_reports import send as send_report

    world = build_world()
    zone_leader = logged_in(app, world["people"]["zone"])
    label = "待答复的居民反映"
    assert todo_count(zone_leader, label) == 0
    assert todo_count(zone_leader, label) == 0  # kept now
    assert send_report(app.test_client(), world).status_code == 303
    with Statements() as sent:
        assert todo_count(zone_leader, label) == 0
    assert sent.count == 0, str(sent)


def test_a_household_due_again_shows_on_the_leaders_home_until_it_is_answered(app):
    from governance.formatting import beijing_today
    from governance.services.outreach import surveys
    from tests.test_surveys import build_survey_world, holder, households_of, open_campaign, question

    world = build_survey_world()
    campaign = open_campaign(world, kinds=("single",))
    neighbour = world["neighbours"][0]
    person = holder(world, "neighbour_leader", neighbour)
    client = logged_in(app, person)
    label = "待再访住户"
    assert todo_count(client, label) == 0
    household = households_of(neighbour)[0]
    visit, _ = surveys.record_visit(person, campaign, household, "absent")
    visit.revisit_on = beijing_today()  # the day to knock again has come
    db.session.commit()
    assert todo_count(client, label) == 1
    surveys.record_visit(
        person, campaign, household, "answered", {question(campaign, "single").id: surveys.Reply(choice="0")}
    )
    db.session.commit()
    assert todo_count(client, label) == 0
