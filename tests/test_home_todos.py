"""The to-do counts on the home page's role cards (待受理, 待回访, 未办结, 超时, 待接单 …).

Each count is checked twice: against a plain recount in Python over every issue row and notice receipt
(what waits for that role, written out here from the lifecycle's rules, independently of the SQL the page
runs), and against the page its link opens, which must list exactly as many issues (or notices). Generated
lifecycles (hypothesis) put issues in every status, level, deadline and assignment state across a tree of
two of everything.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import (
    HANDLING_LEVELS,
    NOTICE_ROLES,
    OPEN_STATUSES,
    STATUSES,
    Issue,
    Node,
    NoticeRecipient,
    Notification,
    ResidentReport,
    utcnow,
)
from governance.services import home
from governance.services.public import page_cache
from tests.builders import first_nodes, grant, make_issue, make_organisation, make_role_holders, make_tree
from tests.conftest import Auth, Statements
from tests.pages import find_all, home_todos, text_of

pytestmark = pytest.mark.usefixtures("english")

COUNT_LINE = re.compile(r"(\d[\d,]*) issues?")
PRESSING = ("Overdue", "Notices to read or answer")


@pytest.fixture
def world(app):
    make_tree(zones=2, groups=2, neighbours=2)
    organisation = make_organisation(name="物业公司甲")
    people = make_role_holders(organisation=organisation)
    return people, organisation


def scope_of(role: str, node: Node):
    column = {"neighbour": "neighbour_id", "group": "group_id", "zone": "zone_id", "community": "community_id"}
    column.update(street="street_id")
    if node.level == "district":
        return lambda issue: True
    return lambda issue: getattr(issue, column[node.level]) == node.id


def expected_todos(role: str, node: Node | None, organisation_id: int, now) -> dict[str, int]:
    """What waits for a role, counted in Python over every issue row."""
    issues = list(db.session.scalars(select(Issue)))
    if role == "org_staff":
        mine = [i for i in issues if i.assignee_org_id == organisation_id]
        return {
            "Waiting for you to accept": sum(i.assignment_state == "pending" for i in mine),
            "In progress": sum(i.assignment_state == "accepted" and i.status in OPEN_STATUSES for i in mine),
        }
    if role == "neighbour_leader":  # households whose latest knock found nobody in and whose day has come
        waiting_visits = {"Households to visit again": plain_due(node, now)}
    else:
        waiting_visits = {}
    if role in NOTICE_ROLES:  # notices not yet opened, or not answered when they ask for a reply
        waiting = {"Notices to read or answer": sum(
            r.read_at is None or (r.notice.reply_kind != "none" and r.replied_at is None)
            for r in db.session.scalars(select(NoticeRecipient))
            if r.role == role and r.node_id == node.id
        )}  # fmt: skip
    else:
        waiting = {}
    if role in ("neighbour_leader", "group_leader", "zone_leader", "branch_member"):  # sent to this node, unanswered
        reports = {"Residents' reports to answer": sum(
            r.status == "waiting" and r.handler_node_id == node.id for r in db.session.scalars(select(ResidentReport))
        )}  # fmt: skip
    else:
        reports = {}
    return {**issue_todos(role, node, organisation_id, now, issues), **waiting, **waiting_visits, **reports}


def plain_due(neighbour: Node, now) -> int:
    """Households of the 邻 to knock on again, recounted from every visit in order (open campaigns only)."""
    from governance.formatting import beijing_today
    from governance.models import SurveyCampaign, SurveyVisit

    today = beijing_today(now)
    latest, answered = {}, set()
    for visit in db.session.scalars(select(SurveyVisit).order_by(SurveyVisit.id)):
        key = (visit.campaign_id, visit.household_id)
        latest[key] = visit
        if visit.outcome == "answered":
            answered.add(key)
    return sum(
        1
        for key, visit in latest.items()
        if key not in answered
        and visit.outcome == "absent"
        and visit.revisit_on <= today
        and visit.household.neighbour_id == neighbour.id
        and db.session.get(SurveyCampaign, key[0]).status == "open"
    )


def issue_todos(role: str, node: Node | None, organisation_id: int, now, issues) -> dict[str, int]:
    """The issue to-dos of a role, counted in Python over every issue row."""
    inside = [i for i in issues if scope_of(role, node)(i)]
    overdue = sum(any(d is not None and d <= now for d in (i.ack_due_at, i.resolve_due_at)) for i in inside)
    if role == "neighbour_leader":
        return {
            "Awaiting callback": sum(i.status == "resolved" for i in inside),
            "Not yet resolved": sum(i.status in OPEN_STATUSES for i in inside),
            "Overdue": overdue,
        }
    if role == "branch_member":  # the console: issues that reached the community or above
        reached = [i for i in inside if HANDLING_LEVELS.index(i.level) >= HANDLING_LEVELS.index("community")]
        return {
            "Waiting for acknowledgement": sum(i.status == "reported" for i in reached),
            "Waiting for the party to accept": sum(
                i.assignment_state == "pending" and i.status in OPEN_STATUSES for i in reached
            ),
            "Overdue": sum(
                i.status in OPEN_STATUSES and i.next_deadline_at is not None and i.next_deadline_at <= now
                for i in reached
            ),
        }
    return {
        "Waiting for acknowledgement": sum(i.status == "reported" and i.level == node.level for i in inside),
        "Overdue": overdue,
    }


def listed_count(client, href: str) -> int:
    """How many issues the linked page says it lists (0 when it shows none), or how many notices it lists."""
    html = client.get(href).get_data(as_text=True)
    if href.startswith("/notices/"):
        return len(find_all(html, "ul.notice-list > li"))
    if href.startswith("/surveys/"):
        return len(find_all(html, "ul.due-list > li"))
    found = COUNT_LINE.search(text_of(html, ".count-line") or text_of(html, "main"))
    return int(found[1].replace(",", "")) if found else 0


def check_home(client, auth, people, organisation):
    now = utcnow()
    for role, person in people.items():
        auth.login(person.mobile)
        shown = home_todos(client.get("/").get_data(as_text=True))
        assert len(shown) == 1, role
        (todos,) = shown.values()
        node = next((r.node for r in person.roles if r.node is not None), None)
        want = expected_todos(role, node, organisation.id, now)
        assert {t["label"]: t["count"] for t in todos} == want, role
        for todo in todos:
            assert listed_count(client, todo["href"]) == todo["count"], (role, todo)
            assert todo["pressing"] == (todo["label"] in PRESSING and todo["count"] > 0)
        auth.logout()


def set_state(issue: Issue, status: str, level: str, late: bool, assignment: str, organisation_id: int, now):
    issue.status, issue.level = status, level
    due = now - timedelta(hours=1) if late else now + timedelta(days=2)
    issue.ack_due_at = due if status == "reported" else None
    issue.resolve_due_at = due if status in OPEN_STATUSES and status != "reported" else None
    issue.next_deadline_at = issue.ack_due_at or issue.resolve_due_at
    issue.assignee_org_id = organisation_id if assignment else None
    issue.assignment_state = assignment or None


def test_each_role_sees_its_waiting_work_and_each_count_opens_its_list(app, client, auth, world):
    people, organisation = world
    neighbours = list(db.session.scalars(select(Node).where(Node.level == "neighbour").order_by(Node.id)))
    now = utcnow()
    states = [
        ("reported", "group", False, ""),
        ("reported", "zone", True, ""),
        ("reported", "community", False, ""),
        ("acknowledged", "community", True, "pending"),
        ("in_progress", "community", False, "accepted"),
        ("resolved", "group", False, ""),
        ("resolved", "community", False, "accepted"),
        ("closed", "zone", False, ""),
        ("reopened", "street", True, ""),
        ("reported", "district", False, ""),
    ]
    for index, (status, level, late, assignment) in enumerate(states):
        issue = make_issue(people["district_admin"], neighbours[index % len(neighbours)], title=f"问题{index}")
        set_state(issue, status, level, late, assignment, organisation.id, now)
    db.session.commit()
    # A district-wide notice asking for a reply: the 组长 answered it, the 邻长 only read it, the 片长 has not.
    from governance.services.outreach import notices

    notice, _ = notices.send(
        people["district_admin"], first_nodes()["district"], notices.Draft("防汛", "排查", reply_kind="confirm")
    )
    notices.fan_out({"notice_id": notice.id})
    notices.reply(people["group_leader"], notice)
    due_households(people)
    notices.mark_opened(people["neighbour_leader"], notices.recipient_of(notice, people["neighbour_leader"]))
    db.session.commit()
    check_home(client, auth, people, organisation)


def due_households(people) -> None:
    """A survey of the 邻长's 邻: one household due another knock, one not yet due, one absent then answered."""
    from governance.models import Building, Compound, Household
    from governance.services.outreach import surveys

    neighbour = first_nodes()["neighbour"]
    compound = Compound(community_id=neighbour.community_id, name="小区")
    db.session.add(compound)
    db.session.flush()
    building = Building(compound_id=compound.id, name="1栋")
    db.session.add(building)
    db.session.flush()
    homes = [Household(building_id=building.id, unit="1", room=f"{n}01", neighbour_id=neighbour.id) for n in (1, 2, 3)]
    db.session.add_all(homes)
    campaign = surveys.create(people["branch_member"], first_nodes()["community"], "走访")
    question = surveys.add_question(people["branch_member"], campaign, "text", "建议")
    surveys.open_for_visits(people["branch_member"], campaign)
    leader = people["neighbour_leader"]
    today = beijing_today()
    surveys.record_visit(leader, campaign, homes[0], "absent", revisit_on=today)
    surveys.record_visit(leader, campaign, homes[1], "absent", revisit_on=today + timedelta(days=3))
    surveys.record_visit(leader, campaign, homes[2], "absent", revisit_on=today)
    surveys.record_visit(leader, campaign, homes[2], "answered", {question.id: surveys.Reply(text="好")})


def test_nothing_waiting_shows_zeros_that_are_not_pressing(app, client, auth, world):
    people, _ = world
    auth.login(people["zone_leader"].mobile)
    (todos,) = home_todos(client.get("/").get_data(as_text=True)).values()
    assert [(t["label"], t["count"], t["pressing"]) for t in todos] == [
        ("Residents' reports to answer", 0, False),
        ("Waiting for acknowledgement", 0, False),
        ("Overdue", 0, False),
        ("Notices to read or answer", 0, False),
    ]


def test_a_count_past_the_cap_reads_as_more_than(app, client, auth, world, monkeypatch):
    people, _ = world
    monkeypatch.setattr(home, "TODO_CAP", 2)
    for n in range(4):
        make_issue(people["neighbour_leader"], title=f"灯坏了{n}")
    auth.login(people["neighbour_leader"].mobile)
    html = client.get("/").get_data(as_text=True)
    assert "2+" in [t.strip() for t in re.findall(r'class="todo-count">([^<]+)<', html)]


def test_home_counts_every_card_in_one_statement(app, client, auth, world):
    people, organisation = world
    person = people["street_admin"]
    grant(person, "org_staff", organisation=organisation)
    grant(person, "branch_member", first_nodes()["community"])
    auth.login(person.mobile)
    client.get("/")
    page_cache.clear()  # the cards are computed again (not read from the page cache)
    with Statements() as sent:
        html = client.get("/").get_data(as_text=True)
    assert len(home_todos(html)) == 3
    counting = [s for s in sent.statements if "FROM issue" in s]
    assert len(counting) == 1, str(sent)  # every card's counts at once, however many cards
    with Statements() as kept:
        assert home_todos(client.get("/").get_data(as_text=True)) == home_todos(html)
    assert kept.count == 0, str(kept)  # kept: the cards and the login


def test_someone_elses_login_message_or_notice_leaves_the_cards_kept(app, client, auth, world):
    """The cards count issues and the to-do tables (notices, residents' reports, households, visits) — of a
    notice, the reader's own recipient rows — and nothing of anyone's logins or inbox: another leader logging in,
    getting a message, opening and answering a notice does not make everyone's cards be counted again (their
    kept login, which carries the inbox badge, is read again; that is one statement)."""
    from governance.services.outreach import notices

    people, _organisation = world
    notice, _ = notices.send(
        people["district_admin"], first_nodes()["district"], notices.Draft("防汛", "排查", reply_kind="confirm")
    )
    notices.fan_out({"notice_id": notice.id})
    db.session.commit()
    auth.login(people["zone_leader"].mobile)
    html = client.get("/").get_data(as_text=True)
    (todos,) = home_todos(html).values()
    assert {todo["label"]: todo["count"] for todo in todos}["Notices to read or answer"] == 1
    other = people["neighbour_leader"]
    assert Auth(app.test_client()).login(other.mobile).status_code == 302
    db.session.add(Notification(person_id=other.id, kind="notice", text="message"))
    notices.mark_opened(other, notices.recipient_of(notice, other))
    notices.reply(people["group_leader"], notice)
    db.session.commit()
    with Statements() as sent:
        again = client.get("/").get_data(as_text=True)
    assert home_todos(again) == home_todos(html)
    assert not [s for s in sent.statements if "FROM issue" in s], str(sent)
    assert sent.count <= 1, str(sent)


def test_a_knock_in_another_neighbour_unit_leaves_the_cards_kept(app, client, auth, world):
    """A household and its visits are tagged by their 邻: a 邻长 recording a knock drops the cards that count that
    邻's households (their own), not every leader's."""
    from governance.models import Household, SurveyCampaign
    from governance.services.outreach import surveys

    people, _organisation = world
    due_households(people)
    db.session.commit()
    auth.login(people["zone_leader"].mobile)
    html = client.get("/").get_data(as_text=True)
    campaign = db.session.scalar(select(SurveyCampaign))
    home = db.session.scalar(select(Household).order_by(Household.id))
    surveys.record_visit(people["neighbour_leader"], campaign, home, "absent", revisit_on=beijing_today())
    db.session.commit()
    with Statements() as sent:
        again = client.get("/").get_data(as_text=True)
    assert home_todos(again) == home_todos(html)
    assert sent.count == 0, str(sent)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    states=st.lists(
        st.tuples(
            st.integers(0, 7),
            st.sampled_from(STATUSES),
            st.sampled_from(HANDLING_LEVELS),
            st.booleans(),
            st.sampled_from(["", "pending", "accepted"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_counts_equal_a_recount_over_any_lifecycle(app, client, auth, world, states):
    """Whatever states the issues are in, every count equals the Python recount and its list's count."""
    people, organisation = world
    neighbours = list(db.session.scalars(select(Node).where(Node.level == "neighbour").order_by(Node.id)))
    now = utcnow()
    for where, status, level, late, assignment in states:
        issue = make_issue(people["district_admin"], neighbours[where], title="生成的问题")
        set_state(issue, status, level, late, assignment, organisation.id, now)
    db.session.commit()
    check_home(client, auth, people, organisation)
