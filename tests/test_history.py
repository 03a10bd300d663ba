"""demo/history.py: generated years of issues hold together with the tree and the lifecycle rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from governance import demo
from governance.demo import history
from governance.extensions import db
from governance.models import (
    OPEN_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    Category,
    Issue,
    IssueEvent,
    Node,
    Person,
    RoleAssignment,
)
from governance.services.issues.lifecycle import IssueInput, file_issue
from governance.services.reports import rollups

N = 2000
NOW = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
REFERENCE = re.compile(r"^WC-(\d{4})-(\d{6,})$")


def test_history_holds_together(app):
    demo.load_demo_world(scale=0.02, now=NOW)
    db.session.commit()
    before = db.session.scalar(select(func.max(Issue.id)))
    events_before = db.session.scalar(select(func.count()).select_from(IssueEvent))
    result = history.load(N, now=NOW)
    db.session.commit()
    assert result["issues"] == N and result["events"] == N
    assert result["rollups_s"] is not None

    issues = db.session.scalars(select(Issue).where(Issue.id > before).order_by(Issue.id)).all()
    assert len(issues) == N
    nodes = {node.id: node for node in db.session.scalars(select(Node).where(Node.level == "neighbour"))}
    leaders = dict(
        db.session.execute(
            select(RoleAssignment.node_id, RoleAssignment.person_id).where(RoleAssignment.role == "neighbour_leader")
        ).all()
    )
    categories = set(db.session.scalars(select(Category.id).where(Category.active.is_(True))))
    references = set()
    previous_created = None
    by_status: dict[str, int] = {}
    overdue = 0
    for issue in issues:
        node = nodes[issue.neighbour_id]
        # The ancestors are the 邻's, and the filer is its 邻长.
        assert (issue.group_id, issue.zone_id, issue.community_id, issue.street_id) == (
            node.group_id,
            node.zone_id,
            node.community_id,
            node.street_id,
        )
        assert issue.compound_id == node.compound_id
        assert issue.filed_by_id == leaders[issue.neighbour_id]
        assert issue.category_id in categories
        # References: the app's format, unique, the id in filing order.
        match = REFERENCE.match(issue.reference)
        assert match and int(match[2]) == issue.id and int(match[1]) == issue.created_at.year
        references.add(issue.reference)
        assert previous_created is None or issue.created_at >= previous_created
        previous_created = issue.created_at
        assert NOW - timedelta(days=3 * 366) <= issue.created_at < NOW
        # Timestamps in lifecycle order, all before now.
        stamps = [s for s in (issue.acknowledged_at, issue.resolved_at, issue.closed_at) if s is not None]
        assert stamps == sorted(stamps)
        assert all(issue.created_at <= s < NOW for s in stamps)
        assert issue.created_at <= issue.updated_at < NOW
        for later in (issue.assigned_at, issue.accepted_at):
            assert later is None or issue.created_at <= later < NOW
        assert issue.status in STATUSES
        by_status[issue.status] = by_status.get(issue.status, 0) + 1
        if issue.status in OPEN_STATUSES:
            assert issue.next_deadline_at is not None and issue.resolve_due_at is not None
            assert issue.closed_at is None and issue.resolved_at is None
            overdue += issue.next_deadline_at <= NOW
        else:
            assert issue.next_deadline_at is None and issue.ack_due_at is None
        if issue.status == "reported":
            assert issue.acknowledged_at is None and issue.ack_due_at is not None
            assert issue.acknowledged_on_time is None
        if issue.status in ("acknowledged", "in_progress", "resolved", "closed", "reopened"):
            assert issue.acknowledged_at is not None and issue.acknowledged_on_time is not None
        if issue.status in ("resolved", "closed"):
            assert issue.resolved_at is not None and issue.resolved_on_time is not None
        if issue.status in TERMINAL_STATUSES:
            assert issue.closed_at is not None
        if issue.status == "closed":
            assert issue.satisfaction in (None, "satisfied", "basically_satisfied")
        elif issue.status == "reopened":
            assert issue.satisfaction == "unsatisfied" and issue.resolved_on_time is None
        else:
            assert issue.satisfaction is None
        if issue.status == "rejected":
            assert issue.reject_reason_id is not None
        if issue.status == "duplicate":
            kept = db.session.get(Issue, issue.duplicate_of_id)
            assert kept.id < issue.id and kept.neighbour_id == issue.neighbour_id
        else:
            assert issue.duplicate_of_id is None
        if issue.assignment_state is not None:
            assert issue.assignee_org_id is not None and issue.assigned_at is not None
    assert len(references) == N
    # The mix: mostly closed or resolved, a few % open, some of every side exit; some overdue.
    assert (by_status.get("closed", 0) + by_status.get("resolved", 0)) / N > 0.7
    assert 0.01 < sum(by_status.get(s, 0) for s in OPEN_STATUSES) / N < 0.15
    assert all(by_status.get(s, 0) for s in ("rejected", "withdrawn", "duplicate"))
    assert overdue > 0 and result["overdue"] == overdue
    levels = dict(
        db.session.execute(select(Issue.level, func.count()).where(Issue.id > before).group_by(Issue.level)).all()
    )
    assert levels["neighbour"] + levels["group"] > N / 2
    assigned = db.session.scalar(select(func.count()).where(Issue.id > before, Issue.assignee_org_id.is_not(None)))
    assert 0.02 < assigned / N < 0.12
    # One 'filed' event each, at filing, by the filer.
    filed = db.session.execute(
        select(IssueEvent.issue_id, IssueEvent.at, IssueEvent.actor_id, IssueEvent.kind).where(
            IssueEvent.issue_id > before
        )
    ).all()
    assert db.session.scalar(select(func.count()).select_from(IssueEvent)) == events_before + N
    by_id = {issue.id: issue for issue in issues}
    assert all(kind == "filed" and by_id[i].created_at == at and by_id[i].filed_by_id == a for i, at, a, kind in filed)
    # The report tables were rebuilt from the raw rows.
    assert rollups.compare(rollups.expected(), rollups.stored()) == []
    # The id sequences moved on: the app files after the history.
    person = db.session.get(Person, leaders[issues[0].neighbour_id])
    issue, created = file_issue(
        person, IssueInput(category_id=issues[0].category_id, title="之后", neighbour_id=issues[0].neighbour_id)
    )
    db.session.commit()
    assert created and issue.id > issues[-1].id


def test_generate_is_repeatable(app):
    demo.load_demo_world(scale=0.005, now=NOW)
    db.session.commit()
    first = list(history.generate(300, now=NOW, seed=7))
    assert first == list(history.generate(300, now=NOW, seed=7))
    assert first != list(history.generate(300, now=NOW, seed=8))
    assert all(row["created_at"].tzinfo is not None for row in first)
