"""Triage services: assignment and the party's answer, merge, reject with a reason, send down, bulk all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.formatting import beijing_today, end_of_beijing_day
from governance.models import AuditEntry, Issue, IssueEvent, IssueFollower, Notification, RejectReason
from governance.services.issues.lifecycle import LifecycleError, add_comment, record_callback, transition
from governance.services.platform import jobs
from governance.services.triage import operations
from tests.builders import force_status, make_issue, make_organisation, make_party, make_person, make_tree, nodes_at


@pytest.fixture
def world(app):
    """Two communities with one 邻 each; leaders, branch members, a property company and a department."""
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=2)
    community_a, community_b = nodes_at("community")
    neighbours = nodes_at("neighbour")
    property_co = make_party("property", "金湾物业", community_a)
    department = make_party("department", "区住建局", community_a)
    other = make_party("property", "别处物业", community_b)
    return {
        "a": community_a,
        "b": community_b,
        "n0": make_person("neighbour_leader", neighbours[0], name="邻长甲"),
        "n1": make_person("neighbour_leader", neighbours[1], name="邻长乙"),
        "nb": make_person("neighbour_leader", neighbours[2], name="邻长丙"),
        "g0": make_person("group_leader", nodes_at("group")[0], name="组长"),
        "branch": make_person("branch_member", community_a, name="支部甲"),
        "branch_b": make_person("branch_member", community_b, name="支部乙"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街镇"),
        "property": property_co,
        "department": department,
        "other": other,
        "staff": make_person("org_staff", None, organisation=property_co, name="物业员工"),
        "other_staff": make_person("org_staff", None, organisation=other, name="别处员工"),
    }


def events(issue, kind=None):
    query = select(IssueEvent).where(IssueEvent.issue_id == issue.id).order_by(IssueEvent.id)
    if kind:
        query = query.where(IssueEvent.kind == kind)
    return list(db.session.scalars(query))


def due(days=7):
    return beijing_today() + timedelta(days=days)


def snapshot():
    """Everything a refused bulk action must leave untouched."""
    db.session.expire_all()
    issues = db.session.execute(
        select(Issue.id, Issue.status, Issue.level, Issue.version, Issue.assignee_org_id, Issue.priority)
    ).all()
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (IssueEvent, AuditEntry)]
    return sorted(issues), counts


def test_eligible_parties_are_the_paired_ones_and_the_street_office(world):
    office = make_organisation("street_office", "街道办")
    office.street_id = nodes_at("street")[0].id
    db.session.commit()
    names = {o.name for o in operations.eligible_organisations(world["a"])}
    assert names == {"金湾物业", "区住建局", "街道办"}
    assert {o.name for o in operations.eligible_organisations(world["b"])} == {"别处物业", "街道办"}


def test_assign_accept_resolve_callback(world):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], due(10), "请尽快")
    db.session.commit()
    # Assigning takes a reported issue on, at the community level, with the party's deadline.
    assert issue.status == "acknowledged" and issue.level == "community"
    assert issue.assignment_state == "pending" and issue.assignee_org_id == world["property"].id
    assert issue.resolve_due_at == issue.next_deadline_at == end_of_beijing_day(due(10))
    assert issue.ack_due_at is None
    assigned = events(issue, "assigned")[-1]
    assert assigned.facts == {"party": "金湾物业", "due_on": due(10).isoformat()} and assigned.note == ""
    assert assigned.public and assigned.to_level == "community"
    # The instruction is for the party, not the public.
    assert "请尽快" not in assigned.note and events(issue, "comment")[-1].note == "请尽快"
    # Before accepting, the staff see it but may not work on it.
    with pytest.raises(LifecycleError):
        transition(world["staff"], issue, "in_progress")
    with pytest.raises(LifecycleError) as err:
        operations.accept(world["other_staff"], issue)
    assert err.value.code == "forbidden"
    operations.accept(world["staff"], issue)
    db.session.commit()
    assert issue.assignment_state == "accepted" and issue.accepted_at >= issue.assigned_at
    assert issue.status == "in_progress"
    with pytest.raises(LifecycleError) as err:
        operations.accept(world["staff"], issue)
    assert err.value.code == "not_pending"
    add_comment(world["staff"], issue, "public_update", "材料已到场")
    transition(world["staff"], issue, "resolved", "已更换消防栓")
    record_callback(world["n0"], issue, "unsatisfied", "仍漏水")
    db.session.commit()
    assert issue.status == "reopened" and issue.assignment_state == "accepted"
    transition(world["staff"], issue, "in_progress")  # the party works on it again
    actions = [a for (a,) in db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions == ["acknowledge", "assign", "accept", "start", "resolve", "callback", "start"]


def test_assign_refuses_bad_party_deadline_and_scope(world):
    issue = make_issue(world["n0"])
    for org, day, who, code in [
        (world["other"], due(), world["branch"], "bad_organisation"),  # serves another community
        (None, due(), world["branch"], "bad_organisation"),
        (world["property"], due(-1), world["branch"], "bad_deadline"),
        (world["property"], due(400), world["branch"], "bad_deadline"),
        (world["property"], None, world["branch"], "bad_deadline"),
        (world["property"], due(), world["branch_b"], "forbidden"),
        (world["property"], due(), world["g0"], "forbidden"),
        (world["property"], due(), world["staff"], "forbidden"),
    ]:
        with pytest.raises(LifecycleError) as err:
            operations.assign(who, issue, org, day)
        assert err.value.code == code
        db.session.rollback()
    assert db.session.get(Issue, issue.id).assignee_org_id is None


def test_decline_returns_the_issue_to_the_branch_with_the_reason(world):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], due())
    db.session.commit()
    with pytest.raises(LifecycleError) as err:
        operations.decline(world["staff"], issue, "  ")
    assert err.value.code == "note_required"
    operations.decline(world["staff"], issue, "不在我司管理范围")
    db.session.commit()
    assert issue.assignee_org_id is None and issue.assignment_state is None
    assert issue.status == "acknowledged" and issue.level == "community"
    assert issue.resolve_due_at is not None  # the branch's own clock again
    declined = events(issue, "declined")[-1]
    assert declined.note == "不在我司管理范围" and declined.facts["party"] and not declined.public
    # The staff no longer see it; the branch is told.
    from governance import policy

    assert not policy.allowed(world["staff"], "view_issue", issue)
    jobs.dispatch()
    told = db.session.scalars(select(Notification.person_id).where(Notification.event_id == declined.id)).all()
    assert world["branch"].id in told


def test_merge_points_both_ways_and_moves_followers(world):
    kept = make_issue(world["n0"], title="道路破损")
    copy = make_issue(world["n1"], title="路面坑洼")
    follower = make_person("group_leader", nodes_at("group")[0], name="关注者")
    operations.follow(follower, copy)
    operations.merge(world["branch"], copy, kept)
    db.session.commit()
    assert copy.status == "duplicate" and copy.duplicate_of_id == kept.id
    assert events(copy)[-1].facts == {"kept": kept.reference}
    merged = events(kept, "merged")[-1]
    assert merged.facts == {"duplicate": copy.reference} and merged.public
    followers = set(db.session.scalars(select(IssueFollower.person_id).where(IssueFollower.issue_id == kept.id)))
    assert {world["n0"].id, world["n1"].id, follower.id} <= followers
    # The duplicate can no longer be changed.
    for attempt in (
        lambda: add_comment(world["branch"], copy, "comment", "还有吗"),
        lambda: transition(world["branch"], copy, "acknowledged"),
        lambda: operations.assign(world["branch"], copy, world["property"], due()),
        lambda: operations.set_priority(world["branch"], copy, "high"),
        lambda: operations.merge(world["branch"], kept, copy),
    ):
        with pytest.raises(LifecycleError):
            attempt()
        db.session.rollback()
    # Followers of the duplicate hear about the kept issue's progress.
    transition(world["g0"], kept, "acknowledged")
    db.session.commit()
    jobs.dispatch()
    status_event = events(kept, "status")[-1]
    told = set(db.session.scalars(select(Notification.person_id).where(Notification.event_id == status_event.id)))
    assert {world["n1"].id, follower.id} <= told


def test_merge_refuses_a_kept_issue_out_of_reach_or_turned_away(world):
    copy = make_issue(world["n0"])
    elsewhere = make_issue(world["nb"])
    withdrawn = force_status(make_issue(world["n1"]), "withdrawn")
    for kept in (None, copy, elsewhere, withdrawn):
        with pytest.raises(LifecycleError):
            operations.merge(world["branch"], copy, kept)
        db.session.rollback()
    assert db.session.get(Issue, copy.id).status == "reported"


def test_reject_needs_an_active_reason(world):
    issue = make_issue(world["n0"])
    reason = db.session.scalars(select(RejectReason).order_by(RejectReason.sort)).first()
    with pytest.raises(LifecycleError) as err:
        operations.reject(world["branch"], issue, None, "说明")
    assert err.value.code == "reason_required"
    reason.active = False
    db.session.flush()
    with pytest.raises(LifecycleError):
        operations.reject(world["branch"], issue, reason)
    db.session.rollback()
    reason = db.session.get(RejectReason, reason.id)
    operations.reject(world["branch"], issue, reason, "已告知居民")
    db.session.commit()
    assert issue.status == "rejected" and issue.reject_reason_id == reason.id
    assert events(issue)[-1].note == "已告知居民"  # what the branch typed; the reason is a fact of the entry
    assert events(issue)[-1].facts == {"reason_id": reason.id}


def test_send_down_and_priority(world):
    issue = force_status(make_issue(world["n0"]), "acknowledged", level="community")
    operations.assign(world["branch"], issue, world["property"], due())
    with pytest.raises(LifecycleError) as err:
        operations.send_down(world["branch"], issue, "community", "下派")
    assert err.value.code == "bad_level"
    with pytest.raises(LifecycleError) as err:
        operations.send_down(world["branch"], issue, "group", "")
    assert err.value.code == "note_required"
    operations.send_down(world["branch"], issue, "group", "请组长上门核实")
    db.session.commit()
    assert issue.level == "group" and issue.assignee_org_id is None and issue.assignment_state is None
    sent = events(issue, "sent_down")[-1]
    assert (sent.from_level, sent.to_level, sent.note) == ("community", "group", "请组长上门核实")
    assert operations.set_priority(world["branch"], issue, "high") is True
    assert operations.set_priority(world["branch"], issue, "high") is False  # nothing to record
    with pytest.raises(LifecycleError):
        operations.set_priority(world["branch"], issue, "urgent!")
    db.session.commit()
    assert [e.note for e in events(issue, "priority")] == ["high"]


def test_bulk_applies_to_every_selected_issue(world):
    issues = [make_issue(world["n0"], title=f"问题{i}") for i in range(3)]
    request = operations.BulkRequest(
        "assign", [(i.id, i.version) for i in issues], organisation_id=world["department"].id, due_on=due(5)
    )
    assert operations.bulk(world["branch"], request) == 3
    db.session.commit()
    assert {i.assignee_org_id for i in issues} == {world["department"].id}
    batches = set(db.session.scalars(select(AuditEntry.batch).where(AuditEntry.action == "assign")))
    assert len(batches) == 1 and None not in batches


@pytest.mark.parametrize("spoiler", ["other_community", "closed", "stale", "missing"])
def test_bulk_with_one_bad_issue_changes_nothing(world, spoiler):
    good = [make_issue(world["n0"], title=f"问题{i}") for i in range(2)]
    items = [(i.id, i.version) for i in good]
    if spoiler == "other_community":
        bad = make_issue(world["nb"])
        items.append((bad.id, bad.version))
    elif spoiler == "closed":
        bad = force_status(make_issue(world["n1"]), "closed")
        items.insert(1, (bad.id, bad.version))
    elif spoiler == "stale":
        bad = make_issue(world["n1"])
        items.append((bad.id, bad.version - 1 if bad.version > 1 else 99))
    else:
        bad = None
        items.append((2**31 - 1, None))
    before = snapshot()
    request = operations.BulkRequest("assign", items, organisation_id=world["property"].id, due_on=due())
    with pytest.raises(operations.BulkError) as err:
        operations.bulk(world["branch"], request)
    db.session.rollback()
    assert snapshot() == before
    labels = [label for label, _ in err.value.failures]
    assert len(err.value.failures) == 1
    if spoiler == "other_community":  # not theirs to see: named by number only
        assert labels == [f"#{bad.id}"] and err.value.failures[0][1] == "forbidden"
    elif spoiler == "closed":
        assert labels == [bad.reference] and err.value.failures[0][1] == "not_open"
    elif spoiler == "stale":
        assert err.value.failures[0][1] == "conflict"
    else:
        assert err.value.failures[0][1] == "not_found"


def test_bulk_accept_by_staff_is_limited_to_their_assignments(world):
    mine = make_issue(world["n0"])
    operations.assign(world["branch"], mine, world["property"], due())
    theirs = make_issue(world["nb"])
    operations.assign(world["branch_b"], theirs, world["other"], due())
    db.session.commit()
    before = snapshot()
    request = operations.BulkRequest("accept", [(mine.id, None), (theirs.id, None)])
    with pytest.raises(operations.BulkError) as err:
        operations.bulk(world["staff"], request)
    db.session.rollback()
    assert snapshot() == before and err.value.failures == [(f"#{theirs.id}", "forbidden")]
    assert operations.bulk(world["staff"], operations.BulkRequest("accept", [(mine.id, None)])) == 1


def test_bulk_merge_keeps_the_chosen_issue(world):
    kept = make_issue(world["n0"], title="主问题")
    copies = [make_issue(world["n1"], title=f"重复{i}") for i in range(2)]
    items = [(i.id, None) for i in [kept, *copies]]
    operations.bulk(world["branch"], operations.BulkRequest("merge", items, kept_id=kept.id))
    db.session.commit()
    assert kept.status == "reported" and {c.status for c in copies} == {"duplicate"}
    assert len(events(kept, "merged")) == 2


def test_bulk_escalates_only_from_the_community(world):
    at_community = force_status(make_issue(world["n0"]), "acknowledged", level="community")
    below = make_issue(world["n0"])
    with pytest.raises(operations.BulkError) as err:
        operations.bulk(
            world["branch"],
            operations.BulkRequest("escalate", [(at_community.id, None), (below.id, None)], note="需街道协调"),
        )
    assert err.value.failures == [(below.reference, "not_at_community")]
    db.session.rollback()
    operations.bulk(world["branch"], operations.BulkRequest("escalate", [(at_community.id, None)], note="需街道协调"))
    db.session.commit()
    assert db.session.get(Issue, at_community.id).level == "street"


def test_console_counts_do_not_double_merged_duplicates(world):
    kept = force_status(make_issue(world["n0"]), "acknowledged", level="community")
    copy = force_status(make_issue(world["n1"]), "acknowledged", level="community")
    operations.merge(world["branch"], copy, kept)
    db.session.commit()
    counts = operations.console_counts(world["a"], "community")
    assert counts["open"] == 1 and counts["duplicate"] == 1
    rows, total = operations.console_page(operations.ConsoleFilters(world["a"]))
    assert [r.id for r in rows] == [kept.id] and total == 1


def test_response_times_on_a_hand_built_case(world):
    first, second = make_issue(world["n0"]), make_issue(world["n0"])
    for issue in (first, second):
        operations.assign(world["branch"], issue, world["property"], due())
    db.session.commit()
    now = first.assigned_at
    first.assigned_at, first.accepted_at = now - timedelta(hours=10), now - timedelta(hours=8)
    first.assignment_state, first.status = "accepted", "in_progress"
    second.assigned_at = now - timedelta(hours=5)
    db.session.commit()
    (times,) = operations.response_times(world["a"])
    assert (times.assigned, times.waiting, times.accepted) == (2, 1, 1)
    assert times.median_accept_hours == 2.0 and times.median_resolve_hours is None


def test_nobody_starts_work_while_the_assignment_waits_for_acceptance(world):
    """派单 then 待接单: the branch (or anyone above) may not set 处理中; only the party's 接单 starts the work."""
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], due())
    db.session.commit()
    before = snapshot()
    for who in ("branch", "street"):
        with pytest.raises(LifecycleError) as err:
            transition(world[who], issue, "in_progress")
        assert err.value.code == "awaiting_acceptance" and err.value.params == {"organisation": "金湾物业"}
        db.session.rollback()
    assert snapshot() == before and db.session.get(Issue, issue.id).status == "acknowledged"
    # No bulk step of the console starts work either.
    with pytest.raises(LifecycleError) as err:
        operations.bulk(world["branch"], operations.BulkRequest("start", [(issue.id, None)]))
    assert err.value.code == "bad_action"
    # The party's 接单 starts it.
    operations.accept(world["staff"], issue)
    db.session.commit()
    assert issue.status == "in_progress" and events(issue, "status")[-1].actor_id == world["staff"].id


def test_a_reopened_issue_reassigned_waits_for_the_new_party(world):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], due())
    operations.accept(world["staff"], issue)
    transition(world["staff"], issue, "resolved", "已修复")
    record_callback(world["n0"], issue, "unsatisfied", "仍未修好")
    operations.assign(world["branch"], issue, world["department"], due())
    db.session.commit()
    assert (issue.status, issue.assignment_state) == ("reopened", "pending")
    for who in ("branch", "staff"):  # the former party no longer works on it either
        with pytest.raises(LifecycleError):
            transition(world[who], issue, "in_progress")
        db.session.rollback()
    assert db.session.get(Issue, issue.id).status == "reopened"


def test_after_a_decline_the_branch_may_start_work_itself(world):
    issue = make_issue(world["n0"])
    operations.assign(world["branch"], issue, world["property"], due())
    operations.decline(world["staff"], issue, "不在我司管理范围")
    db.session.commit()
    transition(world["branch"], issue, "in_progress")
    db.session.commit()
    assert issue.status == "in_progress" and issue.assignment_state is None
