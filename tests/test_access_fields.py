"""Access to the fields of an issue, not only to its page: for every role, which parts of the issue page appear.

The expectations are written out here from the rule in README.md's Conventions, independently of
governance/policy.py: everyone who may open the issue sees its place (with coordinates), description and
comments; the resident's contact is for the leaders whose node contains the issue and for the responsible
party's staff once they accepted it; internal notes and callback (回访) notes never reach the party's staff.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import Issue, Organisation, Person
from governance.services.issues.lifecycle import add_comment, record_callback, transition
from governance.services.triage import operations
from tests.builders import make_issue, nodes_at
from tests.test_access import ACTORS, build_world
from tests.test_issue_pages import act

CANARIES = {
    "title": "TITLE-OF-THE-ISSUE",
    "place": "3栋1单元门口",
    "coordinates": "28.34750, 112.90120",
    "description": "雨后积水很深",
    "resident_name": "张阿姨",
    "resident_phone": "13812345678",
    "comment": "COMMENT-FOR-EVERYONE",
    "instruction": "ASSIGN-INSTRUCTION-FOR-THE-PARTY",
    "internal_note": "INTERNAL-NOTE-OF-THE-BRANCH",
    "callback": "CALLBACK-WORDS-OF-THE-RESIDENT",
}
EVERYONE = {"title", "place", "coordinates", "description", "comment", "instruction"}
CONTACT = {"resident_name", "resident_phone"}
INTERNAL = {"internal_note", "callback"}


def expected_fields(actor_role: str, accepted: bool) -> set[str]:
    """What each role sees of an issue of its own 邻 (node roles) or assigned to its organisation (staff)."""
    if actor_role != "org_staff":
        return EVERYONE | CONTACT | INTERNAL
    return EVERYONE | (CONTACT if accepted else set())


def set_up(people: dict[str, Person], accept: bool) -> Issue:
    """An issue in the first 邻, with every kind of field, assigned to the organisation (accepted or waiting)."""
    issue = make_issue(
        people["neighbour_leader"],
        title=CANARIES["title"],
        place_detail=CANARIES["place"],
        description=CANARIES["description"],
        latitude=28.3475,
        longitude=112.9012,
        resident_name=CANARIES["resident_name"],
        resident_phone=CANARIES["resident_phone"],
    )
    branch, org = people["branch_member"], db.session.scalar(db.select(Organisation))
    org.communities.append(db.session.get(type(issue.neighbour), issue.community_id))
    add_comment(branch, issue, "comment", CANARIES["comment"])
    add_comment(branch, issue, "internal_note", CANARIES["internal_note"])
    # A first round: started by the 组长, resolved, and a callback (the resident unsatisfied) reopens it.
    transition(people["group_leader"], issue, "acknowledged")
    transition(people["group_leader"], issue, "in_progress")
    transition(people["group_leader"], issue, "resolved", "已修补")
    record_callback(people["neighbour_leader"], issue, "unsatisfied", CANARIES["callback"])
    operations.assign(branch, issue, org, beijing_today() + timedelta(days=5), CANARIES["instruction"])
    if accept:
        operations.accept(people["org_staff"], issue)
    db.session.commit()
    return issue


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "waiting"])
@pytest.mark.parametrize("actor_role", ACTORS)
def test_each_role_sees_exactly_its_fields_of_the_issue_page(app, client, auth, actor_role, accepted):
    people = build_world()
    issue = set_up(people, accepted)
    auth.login(people[actor_role].mobile)
    response = client.get(f"/issues/{issue.id}")
    assert response.status_code == 200, actor_role
    html = response.get_data(as_text=True)
    shown = {name for name, canary in CANARIES.items() if canary in html}
    assert shown == expected_fields(actor_role, accepted), (actor_role, accepted)
    # The form offers an internal note only to those who may read one.
    assert ('value="internal_note"' in html) == (actor_role != "org_staff"), actor_role


# An issue list's export (CSV and XLSX) carries, of each issue the list shows, its title and description — which
# everyone who may open the issue sees — and nothing narrower: no resident contact, no internal or callback notes,
# and no comments either (a list's row is the issue, not its timeline).
EXPORTED = {"title", "description"}


def export_text(client, fmt: str) -> str:
    """Every cell of the person's issue-list export, as one text."""
    import io

    import openpyxl

    response = client.get(f"/exports/issues.{fmt}")
    assert response.status_code == 200, fmt
    if fmt == "csv":
        return response.get_data().decode("utf-8-sig")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    return "\n".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None)


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "waiting"])
@pytest.mark.parametrize("actor_role", ACTORS)
def test_each_role_exports_exactly_the_list_fields_of_the_issue(app, client, auth, actor_role, accepted):
    people = build_world()
    set_up(people, accepted)
    auth.login(people[actor_role].mobile)
    for fmt in ("csv", "xlsx"):
        text = export_text(client, fmt)
        shown = {name for name, canary in CANARIES.items() if canary in text}
        assert shown == EXPORTED, (actor_role, accepted, fmt)


def test_party_staff_cannot_add_an_internal_note(app, client, auth):
    """The service refuses it too, not only the form: a note they could not read back would be lost to them."""
    people = build_world()
    issue = set_up(people, accept=True)
    auth.login(people["org_staff"].mobile)
    response = act(client, issue, "comment", "comment", {"kind": "internal_note", "note": "内部"})
    assert response.status_code == 403
    assert act(client, issue, "comment", "comment", {"kind": "comment", "note": "已到现场"}).status_code == 303


def test_a_branch_member_of_another_community_sees_nothing(app, client, auth):
    """The field rules come after the page rule: outside the scope the page itself is refused."""
    people = build_world()
    issue = set_up(people, accept=True)
    other = db.session.scalar(
        db.select(Person).where(Person.roles.any(node_id=nodes_at("community")[1].id, role="branch_member"))
    )
    auth.login(other.mobile)
    response = client.get(f"/issues/{issue.id}")
    assert response.status_code == 403
    assert not any(canary in response.get_data(as_text=True) for canary in CANARIES.values())
