"""The report rollups (services/reports/rollups.py) stay equal to the raw issues whatever happens to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.extensions import db
from governance.models import STATUSES, Issue, IssueRollup, ResolveHoursRollup
from governance.services.issues import rating
from governance.services.issues.lifecycle import TRANSITIONS, LifecycleError, record_callback, transition
from governance.services.reports import rollups
from tests.builders import category, make_issue, make_organisation, make_person, make_tree, nodes_at


@pytest.fixture
def world(app):
    """Two 街镇 with a community each, two 邻 per community, a 邻长 and a 组长 per community, two parties."""
    make_tree(streets=2, communities=1, zones=1, groups=1, neighbours=2)
    neighbours = nodes_at("neighbour")
    groups = nodes_at("group")
    people = {
        "neighbour": [make_person("neighbour_leader", n) for n in neighbours],
        "group": {g.id: make_person("group_leader", g) for g in groups},
    }
    orgs = [make_organisation("property"), make_organisation("developer")]
    people["admin"] = make_person("district_admin", nodes_at("district")[0])
    categories = [category(code).id for code in ("road", "lighting", "sanitation")]
    return {"neighbours": neighbours, "people": people, "orgs": orgs, "categories": categories}


def assert_in_step() -> None:
    """Stored rollups == their recomputation from the raw rows (and the check agrees)."""
    db.session.commit()
    assert rollups.compare(rollups.expected(), rollups.stored()) == []


def test_filing_and_lifecycle_keep_the_rollups(world):
    people = world["people"]
    filer = people["neighbour"][0]
    leader = people["group"][filer.roles[0].node.parent_id]
    issue = make_issue(filer)
    issue.created_at -= timedelta(minutes=20)  # resolved 20 minutes after filing (same month)
    db.session.commit()
    row = db.session.scalar(db.select(IssueRollup).where(IssueRollup.month == rollups.month_of(issue.created_at)))
    assert (row.reported, row.community_id, row.org_id) == (1, issue.community_id, 0)
    transition(leader, issue, "acknowledged")
    transition(leader, issue, "in_progress")
    transition(leader, issue, "resolved", "修好了")
    db.session.commit()
    db.session.refresh(row)
    assert (row.reported, row.resolved, row.ack_on_time, row.done, row.done_on_time) == (0, 1, 1, 1, 1)
    hours = db.session.scalar(db.select(ResolveHoursRollup))
    assert (hours.street_id, hours.hours, hours.issues) == (issue.street_id, 1, 1)  # minutes round up to 1 h
    token = rating.create_link(filer, issue)
    db.session.commit()
    rating.rate(token, "satisfied")
    record_callback(filer, issue, "basically_satisfied")
    db.session.commit()
    db.session.refresh(row)
    # One answer for the issue: the resident's rating, not the callback as well.
    assert (row.closed, row.callbacks, row.callbacks_satisfied, row.ratings, row.ratings_satisfied) == (1, 0, 0, 1, 1)
    # A change of party moves the whole contribution, the resident's rating included.
    issue.assignee_org_id = world["orgs"][0].id
    assert_in_step()
    moved = db.session.scalar(db.select(IssueRollup).where(IssueRollup.org_id == world["orgs"][0].id))
    assert (moved.closed, moved.ratings) == (1, 1)
    assert_in_step()


def test_the_check_reports_and_mends_a_difference(world, runner):
    make_issue(world["people"]["neighbour"][0])
    assert runner.invoke(args=["rollups", "check"]).exit_code == 0
    # Someone edits the table behind the hook's back: the nightly check names it and rebuilds.
    db.session.execute(db.update(IssueRollup).values(reported=IssueRollup.reported + 2))
    db.session.commit()
    result = runner.invoke(args=["rollups", "check"])
    assert result.exit_code == 1 and "reported: raw 1, stored 3" in result.output
    assert rollups.last_check()["difference_count"] == 1
    assert runner.invoke(args=["rollups", "check"]).exit_code == 0
    assert rollups.last_check()["difference_count"] == 0


def test_the_nightly_check_runs_once_a_night(world):
    make_issue(world["people"]["neighbour"][0])
    night = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 in Beijing
    # Never checked (a database just migrated to the rollups): the first round runs it, whatever the hour.
    assert rollups.check_if_due(night)["differences"] == []
    assert rollups.check_if_due(night + timedelta(minutes=5)) is None
    assert rollups.check_if_due(night + timedelta(hours=1, minutes=5)) is None  # 02:05: done today already
    next_night = night + timedelta(days=1)
    assert rollups.check_if_due(next_night) is None  # 01:00: not yet
    assert rollups.check_if_due(next_night + timedelta(hours=1))["rows"] == 1  # 02:00: once a night
    assert rollups.check_if_due(next_night + timedelta(hours=3)) is None


def test_a_database_migrated_with_issues_gets_its_rollups_at_the_first_round(world, app):
    from governance.worker import periodic_once

    make_issue(world["people"]["neighbour"][0])
    db.session.execute(db.delete(IssueRollup))  # as migration 0010 leaves an existing database
    db.session.commit()
    assert periodic_once(app)["rollup_differences"] > 0
    assert rollups.compare(rollups.expected(), rollups.stored()) == []


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "file",
                "status",
                "flags",
                "category",
                "party",
                "move",
                "callback",
                "filed_at",
                "resolve",
                "rate",
                "resident",
            ]
            + ["lifecycle"] * 4
        ),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
        st.booleans(),
    ),
    min_size=1,
    max_size=16,
)


def lifecycle_step(people, world, issue: Issue, issues: list[Issue], b: int) -> None:
    """One legal step of the lifecycle by the district admin (a callback by the 邻长); refusals change nothing."""
    leader = people["neighbour"][[n.id for n in world["neighbours"]].index(issue.neighbour_id)]
    try:
        if issue.status == "resolved" and b % 2:
            record_callback(leader, issue, ("satisfied", "unsatisfied")[b % 4 // 2], "回访")
            return
        choices = sorted(TRANSITIONS[issue.status] - {"rejected", "closed"})
        if not choices:
            return
        to = choices[b % len(choices)]
        kept = next((other for other in issues if other.id != issue.id and other.status != "duplicate"), None)
        if to == "duplicate" and kept is None:
            return
        actor = leader if to == "withdrawn" else people["admin"]
        transition(actor, issue, to, "测试", duplicate_of=kept if to == "duplicate" else None)
    except LifecycleError:
        db.session.rollback()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_rollups_equal_the_raw_rows_after_any_changes(world, operations):
    """Random filings and changes to every counted field, some on expired objects (old values not loaded)."""
    people = world["people"]
    rollups.rebuild()  # the database lives on between examples: start each one in step
    db.session.commit()
    for op, a, b, flag in operations:
        issues = list(db.session.scalars(db.select(Issue).order_by(Issue.id)))
        if op == "file" or not issues:
            filer = people["neighbour"][a % len(people["neighbour"])]
            make_issue(filer, category_id=world["categories"][b % 3])
            continue
        issue = issues[a % len(issues)]
        if flag:
            db.session.expire(issue)  # the hook must still know the old values (active_history)
        if op == "status":
            issue.status = STATUSES[b % len(STATUSES)]
        elif op == "flags":
            issue.acknowledged_on_time = (None, True, False)[b % 3]
            issue.resolved_on_time = (None, True, False)[(b // 3) % 3]
        elif op == "category":
            issue.category_id = world["categories"][b % 3]
        elif op == "party":
            issue.assignee_org_id = ([None] + [o.id for o in world["orgs"]])[b % 3]
        elif op == "move":  # to the other community and 街镇 (as a correction would)
            other = world["neighbours"][b % len(world["neighbours"])]
            issue.neighbour_id, issue.group_id, issue.zone_id = other.id, other.parent_id, other.parent.parent_id
            issue.community_id = other.parent.parent.parent_id
            issue.street_id = other.parent.parent.parent.parent_id
        elif op == "callback":
            issue.satisfaction = (None, "satisfied", "basically_satisfied", "unsatisfied")[b % 4]
        elif op == "filed_at":  # across month ends in Beijing time
            issue.created_at = datetime(2026, 1 + b % 12, 1, tzinfo=UTC) - timedelta(hours=8 + (b % 3) - 1)
        elif op == "resolve":
            issue.status = ("resolved", "closed")[b % 2]
            issue.resolved_at = issue.created_at + timedelta(minutes=b * 7)
        elif op == "lifecycle":  # through the services, as people do it
            lifecycle_step(people, world, issue, issues, b)
        elif op == "rate" and issue.status == "resolved":
            leader = people["neighbour"][[n.id for n in world["neighbours"]].index(issue.neighbour_id)]
            try:
                token = rating.create_link(leader, issue)
                db.session.commit()
                rating.rate(token, ("satisfied", "unsatisfied")[b % 2])
            except rating.RatingError:  # rated already for this resolution
                db.session.rollback()
        elif op == "resident":
            issue.resident_rating = (None, "satisfied", "basically_satisfied", "unsatisfied")[b % 4]
        db.session.commit()
    assert_in_step()


def test_healthz_shows_the_last_check(world, client, runner):
    assert client.get("/healthz").get_json()["checks"]["rollups"] == "never checked"
    runner.invoke(args=["rollups", "check"])
    assert client.get("/healthz").get_json()["checks"]["rollups"]["differences"] == 0
