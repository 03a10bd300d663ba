"""Migration 0019 reads the Chinese sentences older versions stored in timeline notes and handover messages
back into facts, and its downgrade writes them back, on both engines.

The entries are made by today's services (assignment, acceptance, a declined assignment, a callback, a
rejection, a merge, a handover); the downgrade must produce exactly the sentences older versions wrote, and
the upgrade must give back the same facts and typed notes.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import IssueEvent, Notification, RejectReason, RoleAssignment
from governance.services.issues.lifecycle import record_callback, transition
from governance.services.people import turnover
from governance.services.triage import operations
from tests.builders import force_status, make_issue, make_party, make_person, make_tree, nodes_at
from tests.conftest import build_app, make_database


@pytest.fixture
def own_database(engine_name, tmp_path_factory):
    """A database of this test's own: it is migrated down and up again."""
    url, drop = make_database(engine_name, tmp_path_factory)
    app = build_app(url)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    drop()


def entries() -> list[tuple]:
    rows = db.session.execute(
        select(IssueEvent.id, IssueEvent.kind, IssueEvent.note, IssueEvent.facts).order_by(IssueEvent.id)
    )
    return [tuple(row) for row in rows]


def test_the_facts_go_back_to_sentences_and_come_back(own_database):
    make_tree(neighbours=2)
    community = nodes_at("community")[0]
    company = make_party("property", "金湾物业", community)
    branch = make_person("branch_member", community, name="支部")
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0], name="老邻长")
    make_person("neighbour_leader", nodes_at("neighbour")[0], name="新邻长")  # the successor on the same 邻
    staff = make_person("org_staff", None, organisation=company, name="物业员工")
    due_on = beijing_today() + timedelta(days=5)

    assigned = make_issue(leader, title="路灯不亮")
    operations.assign(branch, assigned, company, due_on, "请尽快")
    operations.accept(staff, assigned)
    declined = make_issue(leader, title="井盖松动")
    operations.assign(branch, declined, company, due_on)
    operations.decline(staff, declined, "不在我司管理范围")
    called = force_status(make_issue(leader, title="楼道堆物"), "resolved")
    record_callback(leader, called, "basically_satisfied", "居民说基本满意")
    reason = db.session.scalar(select(RejectReason).order_by(RejectReason.id))
    transition(branch, make_issue(leader, title="私人纠纷"), "rejected", "已告知居民", reject_reason=reason)
    kept = make_issue(leader, title="路面坑洼")
    transition(branch, make_issue(leader, title="路面坑洼2"), "duplicate", duplicate_of=kept)
    waiting = make_issue(leader, title="等待处理")
    force_status(waiting, "reported", "neighbour")
    db.session.commit()
    role = db.session.scalar(select(RoleAssignment).where(RoleAssignment.person_id == leader.id))
    turnover.end_roles(branch, [role], "removed")
    db.session.commit()

    reason_name, kept_reference = reason.name_zh, kept.reference
    before = entries()
    handover_before = db.session.execute(select(Notification.text, Notification.facts)).all()
    assert any(facts for *_rest, facts in before)
    db.session.remove()  # no open transaction may hold the tables the migration alters (PostgreSQL waits)

    downgrade(revision="0018")
    db.session.remove()
    notes = {row[0]: row[2] for row in db.session.execute(db.text("SELECT id, kind, note FROM issue_event"))}
    by_id = {event_id: (kind, facts) for event_id, kind, _note, facts in before}
    sentences = {by_id[i][0]: notes[i] for i in notes if by_id[i][1]}
    assert sentences["assigned"] == f"派单至 金湾物业，{due_on.isoformat()} 前办结"
    assert sentences["accepted"] == "金湾物业 已接单"
    assert sentences["declined"] == "金湾物业 退回：不在我司管理范围"
    assert sentences["merged"].endswith(" 已合并至本问题")
    assert sentences["handover"] == "老邻长（邻长）卸任，由新邻长接手"
    statuses = [notes[i] for i in notes if by_id[i][0] == "status" and by_id[i][1]]
    assert "回访：基本满意" in statuses and f"{reason_name}：已告知居民" in statuses
    assert f"合并至 {kept_reference}" in statuses
    db.session.remove()

    upgrade()
    db.session.remove()
    assert entries() == before
    assert db.session.execute(select(Notification.text, Notification.facts)).all() == handover_before
