"""Turnover (卸任与交接): a leader whose role ends leaves no work behind — it goes to the successor or up."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance import policy
from governance.extensions import db
from governance.models import AuditEntry, EndedRole, Issue, IssueEvent, Notification, Person, RoleAssignment
from tests.builders import first_nodes, force_status, grant, make_issue, make_person, make_tree


@pytest.fixture
def branch(app):
    """A 邻 with its 邻长 (who filed three issues), the 组长, 片长 and branch member above them."""
    make_tree(neighbours=2)
    first = first_nodes()
    people = {
        "leader": make_person("neighbour_leader", first["neighbour"], name="老邻长"),
        "group": make_person("group_leader", first["group"], name="组长甲"),
        "zone": make_person("zone_leader", first["zone"], name="片长乙"),
        "branch": make_person("branch_member", first["community"], name="书记丙"),
    }
    leader = people["leader"]
    waiting = make_issue(leader, title="楼道灯不亮")
    owed = force_status(make_issue(leader, title="井盖松动"), "resolved")
    done = force_status(make_issue(leader, title="路面积水"), "closed")
    return {"people": people, "first": first, "waiting": waiting.id, "owed": owed.id, "done": done.id}


def remove_role_over_http(client, auth, manager: Person, holder: Person):
    """The branch member takes the 邻长 role away from the person page, as on the site."""
    role_id = db.session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.person_id == holder.id, RoleAssignment.role == "neighbour_leader"
        )
    )
    auth.login(manager.mobile)
    response = auth.post(f"/admin/roles/{role_id}/remove", form_page=f"/admin/people/{holder.id}")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.rollback()


def events(issue_id: int, kind: str = "handover") -> list[IssueEvent]:
    return list(db.session.scalars(select(IssueEvent).where(IssueEvent.issue_id == issue_id, IssueEvent.kind == kind)))


def inbox(person: Person) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.person_id == person.id, Notification.kind == "handover")
        )
    )


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_removed_leaders_work_goes_to_the_successor_on_the_same_node(app, client, auth, branch):
    old, manager = branch["people"]["leader"], branch["people"]["branch"]
    successor = make_person("neighbour_leader", branch["first"]["neighbour"], name="新邻长")

    remove_role_over_http(client, auth, manager, old)
    told = client.get(f"/admin/people/{old.id}").get_data(as_text=True)
    assert "已转交1个未办结问题和1个待回访" in told  # the manager is told what moved

    waiting, owed, done = (db.session.get(Issue, branch[k]) for k in ("waiting", "owed", "done"))
    assert waiting.level == "neighbour"  # the successor holds the node: it stays where it is
    [moved] = events(waiting.id)
    assert moved.facts == {"leaving": "老邻长", "role": "neighbour_leader", "to": ["新邻长"]}
    assert moved.actor_id == manager.id
    assert owed.callback_owner_id == successor.id
    assert policy.allowed(db.session.get(Person, successor.id), "callback_issue", owed)
    assert events(done.id) == []  # finished work does not move
    [message] = inbox(successor)  # told once, for both items
    assert "2" in message.text and message.issue_id is None
    assert inbox(branch["people"]["group"]) == []
    [ended] = db.session.scalars(select(EndedRole)).all()
    assert (ended.person_id, ended.role, ended.reason, ended.ended_by_id) == (
        old.id,
        "neighbour_leader",
        "removed",
        manager.id,
    )
    assert {e.issue_id for e in audit("handover")} == {waiting.id, owed.id}
    [removed] = audit("role_removed")
    assert "老邻长" in removed.detail and removed.community_id == branch["first"]["community"].id
    # History keeps the original names: the filing event still says who filed it.
    filed = db.session.scalar(select(IssueEvent).where(IssueEvent.issue_id == waiting.id, IssueEvent.kind == "filed"))
    assert filed.actor.name == "老邻长"


def test_a_vacant_node_hands_work_to_the_leader_above(app, client, auth, branch):
    old, manager, group = branch["people"]["leader"], branch["people"]["branch"], branch["people"]["group"]

    remove_role_over_http(client, auth, manager, old)

    waiting, owed = db.session.get(Issue, branch["waiting"]), db.session.get(Issue, branch["owed"])
    assert waiting.level == "group" and waiting.ack_due_at is not None  # fresh deadlines at the new level
    [moved] = events(waiting.id)
    assert (moved.from_level, moved.to_level) == ("neighbour", "group")
    assert owed.callback_owner_id == group.id
    assert policy.allowed(db.session.get(Person, group.id), "callback_issue", owed)
    assert policy.allowed(db.session.get(Person, group.id), "handle_issue", waiting)
    [message] = inbox(group)
    assert "老邻长" in message.text
    # The detail page shows the move on the timeline, as the new holder sees it.
    auth.logout()
    auth.login(group.mobile)
    page = client.get(f"/issues/{waiting.id}").get_data(as_text=True)
    assert "老邻长" in page


def test_when_the_group_is_vacant_too_work_goes_to_the_zone(app, branch):
    from governance.services.people import accounts

    people = branch["people"]
    accounts.set_enabled(people["branch"], db.session.get(Person, people["group"].id), False)
    db.session.commit()
    accounts.remove_role(people["branch"], db.session.get(Person, people["leader"].id).roles[0])
    db.session.commit()
    waiting = db.session.get(Issue, branch["waiting"])
    assert waiting.level == "zone"
    assert db.session.get(Issue, branch["owed"]).callback_owner_id == people["zone"].id
    assert len(inbox(people["zone"])) == 1


def test_disabling_an_account_hands_work_on_and_keeps_the_role_for_re_enabling(app, client, auth, branch):
    old, manager, group = branch["people"]["leader"], branch["people"]["branch"], branch["people"]["group"]
    auth.login(manager.mobile)
    response = auth.post(f"/admin/people/{old.id}/enabled", {"enable": "0"}, form_page=f"/admin/people/{old.id}")
    assert response.status_code == 302
    db.session.rollback()

    assert db.session.get(Issue, branch["waiting"]).level == "group"
    assert db.session.get(Issue, branch["owed"]).callback_owner_id == group.id
    assert [e.reason for e in db.session.scalars(select(EndedRole))] == ["disabled"]
    assert db.session.scalar(select(RoleAssignment).where(RoleAssignment.person_id == old.id)) is not None
    assert [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))].count(
        "account_disabled"
    ) == 1
    assert len(inbox(group)) == 1


def test_a_leader_who_still_covers_the_issue_keeps_the_callback(app, branch):
    """Someone who stays 组长 of the same 组 still may call back on the issue: nothing is handed on for it."""
    from governance.services.people import accounts

    people = branch["people"]
    leader = db.session.get(Person, people["leader"].id)
    grant(leader, "group_leader", branch["first"]["group"])
    role = next(r for r in db.session.get(Person, leader.id).roles if r.role == "neighbour_leader")
    accounts.remove_role(people["branch"], role)
    db.session.commit()
    assert db.session.get(Issue, branch["owed"]).callback_owner_id is None
