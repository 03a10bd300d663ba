"""The rates (services/reports/rates.py) on small hand-built cases, each answer worked out beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from governance.extensions import db
from governance.models import Issue, RejectReason, utcnow
from governance.services.issues import rating, sla
from governance.services.issues.lifecycle import record_callback, transition
from governance.services.reports import rates
from governance.services.triage import operations
from tests.builders import force_status, make_issue, make_person, make_role_holders, make_tree, nodes_at


@pytest.fixture
def people(app):
    """One branch of the tree: two 邻长 (two 邻), their 组长 and the community branch."""
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=2)
    people = make_role_holders(("neighbour_leader", "group_leader", "branch_member"), by="level")
    people["neighbour2"] = make_person("neighbour_leader", nodes_at("neighbour")[1])
    return people


def commit(issue: Issue) -> Issue:
    db.session.commit()
    return issue


def acknowledged(people, **fields) -> Issue:
    issue = make_issue(people["neighbour"], **fields)
    transition(people["group"], issue, "acknowledged")
    return commit(issue)


def resolved(people, **fields) -> Issue:
    issue = acknowledged(people, **fields)
    transition(people["group"], issue, "in_progress")
    transition(people["group"], issue, "resolved", "已处理")
    return commit(issue)


def make_late(issue: Issue, which: str) -> None:
    """The deadline in force passed an hour ago (the sweep has not run yet)."""
    past = utcnow() - timedelta(hours=1)
    setattr(issue, f"{which}_due_at", past)
    issue.next_deadline_at = past
    db.session.commit()


def withdraw(people, issue: Issue) -> None:
    transition(people["neighbour"], issue, "withdrawn", "不需要了")
    db.session.commit()


def test_response_rate(people):
    on_time = acknowledged(people)
    late = make_issue(people["neighbour"])
    make_late(late, "ack")
    transition(people["group"], late, "acknowledged")
    waiting = make_issue(people["neighbour"])
    # Swept: the ack deadline passed, the sweep escalated to the 组 with fresh deadlines; acknowledging
    # within the fresh ones does not make up for the missed one.
    swept = make_issue(people["neighbour"])
    make_late(swept, "ack")
    assert sla.sweep()["escalated"] == 1
    db.session.refresh(swept)
    assert swept.level == "group" and swept.ack_due_at > utcnow()
    transition(people["group"], swept, "acknowledged")
    merged = make_issue(people["neighbour"])
    operations.merge(people["community"], merged, on_time)
    gone = make_issue(people["neighbour"])
    withdraw(people, gone)
    db.session.commit()

    assert on_time.acknowledged_on_time is True
    assert late.acknowledged_on_time is False and swept.acknowledged_on_time is False
    assert waiting.acknowledged_on_time is None and merged.acknowledged_on_time is None
    assert gone.acknowledged_on_time is None
    # Acknowledged on time: on_time only = 1. Base: 6 filed − 1 withdrawn = 5 (the duplicate, merged
    # before anyone acknowledged it, and the one still waiting count against). 1 ÷ 5 = 0.2.
    figures = rates.figures()
    assert (figures.total, figures.responded_base, figures.acknowledged_on_time) == (6, 5, 1)
    assert figures.response_rate == pytest.approx(0.2)


def test_acknowledgement_is_judged_once(people):
    issue = acknowledged(people)
    transition(people["group"], issue, "in_progress")
    transition(people["group"], issue, "resolved", "已处理")
    record_callback(people["neighbour"], issue, "unsatisfied", "还是坏的")
    make_late(issue, "resolve")
    transition(people["group"], issue, "in_progress")
    db.session.commit()
    # Reopened and worked on again: the first acknowledgement's flag stands, the resolution's is cleared.
    assert issue.acknowledged_on_time is True and issue.resolved_on_time is None


def test_resolution_and_on_time_rates(people):
    closed = resolved(people)
    record_callback(people["neighbour"], closed, "satisfied")
    late = acknowledged(people)
    transition(people["group"], late, "in_progress")
    make_late(late, "resolve")
    transition(people["group"], late, "resolved", "已处理")
    # Reopened, then resolved again on time: judged by the latest resolution only.
    again = resolved(people)
    record_callback(people["neighbour"], again, "unsatisfied", "还是坏的")
    assert again.resolved_on_time is None and again.resolved_at is None
    transition(people["group"], again, "in_progress")
    transition(people["group"], again, "resolved", "重新处理")
    rejected = make_issue(people["neighbour"])
    reason = db.session.scalars(select(RejectReason).where(RejectReason.active)).first()
    operations.reject(people["community"], rejected, reason)
    duplicate = make_issue(people["neighbour"])
    operations.merge(people["community"], duplicate, again)
    gone = acknowledged(people)
    transition(people["group"], gone, "in_progress")
    withdraw(people, gone)
    working = acknowledged(people)
    transition(people["group"], working, "in_progress")
    db.session.commit()

    assert (closed.status, closed.resolved_on_time) == ("closed", True)
    assert (late.status, late.resolved_on_time) == ("resolved", False)
    assert (again.status, again.resolved_on_time) == ("resolved", True)
    assert rejected.resolved_on_time is None and working.resolved_on_time is None
    figures = rates.figures()
    # 办结率: done = closed + late + again = 3; base = 7 filed − withdrawn − duplicate = 5
    # (closed, late, again, rejected, working). 3 ÷ 5 = 0.6.
    assert (figures.total, figures.counted, figures.done) == (7, 5, 3)
    assert figures.resolution_rate == pytest.approx(0.6)
    # 按期办结率: resolved = closed, late, again = 3 (rejected, withdrawn, duplicate never resolved);
    # on time = closed, again = 2. 2 ÷ 3.
    assert (figures.resolved, figures.resolved_on_time) == (3, 2)
    assert figures.on_time_rate == pytest.approx(2 / 3)


def test_withdrawn_after_an_on_time_acknowledgement_is_not_counted_as_responded(people):
    """A withdrawn issue is outside 响应率's base, so it may not count in its numerator either (the
    demo's 金湾社区 第2片 showed 105.9 %)."""
    kept = acknowledged(people)
    gone = acknowledged(people)
    transition(people["group"], gone, "in_progress")
    withdraw(people, gone)
    assert gone.acknowledged_on_time is True
    figures = rates.figures()
    assert (figures.responded_base, figures.acknowledged_on_time) == (1, 1)
    assert figures.response_rate == pytest.approx(1.0)
    assert kept.acknowledged_on_time is True


def test_satisfaction_counts_one_answer_per_issue(people):
    """Three rating links for one fix, each answered 满意, are one answer; the resident's rating wins over the
    callback; withdrawn and duplicate issues give no answer."""
    stuffed = resolved(people)
    tokens = [rating.create_link(people["neighbour"], stuffed) for _ in range(3)]
    db.session.commit()
    # A new link replaces the unused one before it: only the latest still works.
    with pytest.raises(rating.RatingError) as refused:
        rating.rate(tokens[0], "satisfied")
    assert refused.value.code == "replaced"
    rating.rate(tokens[2], "unsatisfied")
    db.session.commit()
    with pytest.raises(rating.RatingError) as refused:
        rating.create_link(people["neighbour"], stuffed)  # rated already: no new link for this resolution
    assert refused.value.code == "rated"
    # The 邻长's later callback does not add a second answer: the resident's own rating is the answer.
    record_callback(people["neighbour"], stuffed, "satisfied")
    happy = resolved(people)
    record_callback(people["neighbour"], happy, "satisfied")
    db.session.commit()
    figures = rates.figures()
    assert (figures.ratings, figures.ratings_satisfied) == (1, 0)
    assert (figures.callbacks, figures.callbacks_satisfied) == (1, 1)
    assert figures.satisfaction_rate == pytest.approx(0.5)


def test_a_reopened_and_resolved_again_issue_may_be_rated_again(people):
    issue = resolved(people)
    rating.rate(rating.create_link(people["neighbour"], issue), "unsatisfied")
    record_callback(people["neighbour"], issue, "unsatisfied", "还是坏的")
    transition(people["group"], issue, "in_progress")
    transition(people["group"], issue, "resolved", "重新处理")
    db.session.commit()
    rating.rate(rating.create_link(people["neighbour"], issue), "satisfied")  # a new resolution: asked again
    db.session.commit()
    figures = rates.figures()
    # One answer: the latest rating.
    assert (figures.ratings, figures.ratings_satisfied, figures.callbacks) == (1, 1, 0)


def test_satisfaction_rate_counts_callbacks_and_ratings(people):
    happy = resolved(people)
    record_callback(people["neighbour"], happy, "satisfied")
    mixed = resolved(people)
    record_callback(people["neighbour"], mixed, "unsatisfied", "还是坏的")
    transition(people["group"], mixed, "in_progress")
    transition(people["group"], mixed, "resolved", "重新处理")
    rating.rate(rating.create_link(people["neighbour"], mixed), "basically_satisfied")
    rated = resolved(people)
    rating.rate(rating.create_link(people["neighbour"], rated), "unsatisfied")
    unused = resolved(people)
    rating.create_link(people["neighbour"], unused)  # a link never answered is no answer
    db.session.commit()
    figures = rates.figures()
    # One answer per issue, the resident's own rating before the callback: happy (callback: satisfied),
    # mixed (its rating: basically satisfied, which counts as satisfied), rated (rating: unsatisfied);
    # unused gave none. Callbacks 1 (1 satisfied), ratings 2 (1 satisfied): 2 ÷ 3.
    assert (figures.callbacks, figures.callbacks_satisfied) == (1, 1)
    assert (figures.ratings, figures.ratings_satisfied) == (2, 1)
    assert figures.satisfaction_rate == pytest.approx(2 / 3)


def test_nearest_rank():
    # Odd n = 5: the median is the ⌈2.5⌉ = 3rd value, the 90th percentile the ⌈4.5⌉ = 5th.
    assert rates.nearest_rank([1, 2, 3, 4, 10], 50) == 3
    assert rates.nearest_rank([1, 2, 3, 4, 10], 90) == 10
    # Even n = 6: the median is the ⌈3⌉ = 3rd (the lower middle value, no averaging), the 90th the ⌈5.4⌉ = 6th.
    assert rates.nearest_rank([1, 2, 3, 4, 10, 20], 50) == 3
    assert rates.nearest_rank([1, 2, 3, 4, 10, 20], 90) == 20
    assert rates.nearest_rank([7], 90) == 7
    assert rates.nearest_rank([], 50) is None


def resolved_after(people, hours: float, status: str = "resolved") -> Issue:
    """An issue resolved exactly `hours` after it was filed (timestamps set by hand for exact durations)."""
    issue = resolved(people)
    if status == "closed":
        record_callback(people["neighbour"], issue, "satisfied")
    issue.resolved_at = issue.created_at + timedelta(hours=hours)
    return commit(issue)


def test_time_to_resolve_percentiles(people):
    for hours in (10, 1, 4, 3):
        resolved_after(people, hours)
    resolved_after(people, 2, status="closed")  # closed after resolving: counts
    force_status(acknowledged(people), "in_progress")  # not resolved: no duration
    # Odd: 1, 2, 3, 4, 10 h → median the 3rd = 3 h, 90th percentile the 5th = 10 h.
    figures = rates.figures()
    assert figures.resolved == 5
    assert (figures.median_resolve, figures.p90_resolve) == (3, 10)
    # Even: 1, 2, 3, 4, 10, 20 h → median the 3rd = 3 h, 90th percentile the ⌈5.4⌉ = 6th = 20 h.
    resolved_after(people, 20)
    figures = rates.figures()
    assert (figures.median_resolve, figures.p90_resolve) == (3, 20)


def test_overdue_now(people):
    waiting = make_issue(people["neighbour"])  # ack due 24 h after filing at the 邻 (test SLA)
    working = acknowledged(people)  # no ack deadline any more; resolution due later
    done = resolved(people)
    at_top = make_issue(people["neighbour"])
    # Overdue at the top: the sweep stops watching it (next deadline cleared), the due date stays passed.
    at_top.level, at_top.next_deadline_at = "district", None
    at_top.resolve_due_at = utcnow() - timedelta(hours=1)
    commit(at_top)
    gone = make_issue(people["neighbour"])
    withdraw(people, gone)
    now = waiting.ack_due_at
    assert working.resolve_due_at > now and done.resolve_due_at is None
    # At waiting's ack deadline: waiting (deadline ≤ now) and at_top; not working, done or withdrawn → 2.
    assert rates.figures(now=now).overdue == 2
    assert rates.figures(now=now - timedelta(seconds=1)).overdue == 1  # only at_top


def test_period_and_scope(people):
    def filed(at: datetime, neighbour: str = "neighbour") -> Issue:
        issue = make_issue(people[neighbour])
        issue.created_at = at
        return commit(issue)

    filed(datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    filed(datetime(2026, 2, 1, tzinfo=UTC))  # the start is in the period
    filed(datetime(2026, 2, 28, 12, tzinfo=UTC), "neighbour2")
    filed(datetime(2026, 3, 1, tzinfo=UTC))  # the end is not
    february = {"start": datetime(2026, 2, 1, tzinfo=UTC), "end": datetime(2026, 3, 1, tzinfo=UTC)}
    assert rates.figures(**february).total == 2
    assert rates.figures(start=february["start"]).total == 3
    assert rates.figures(end=february["end"]).total == 3
    first = Issue.neighbour_id == nodes_at("neighbour")[0].id
    assert rates.figures(first, **february).total == 1
    assert rates.figures(first).total == 3


def test_zero_denominators_are_none(people):
    empty = rates.figures()
    assert empty.total == 0
    for name in ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate"):
        assert getattr(empty, name) is None, name
    assert empty.median_resolve is None and empty.p90_resolve is None and empty.overdue == 0
    withdraw(people, make_issue(people["neighbour"]))
    only_withdrawn = rates.figures()
    assert only_withdrawn.total == 1
    assert only_withdrawn.response_rate is None and only_withdrawn.resolution_rate is None
    make_issue(people["neighbour"])
    # Filed but nothing resolved and nobody answered: 响应率 and 办结率 are 0, the other two have no base.
    waiting = rates.figures()
    assert waiting.response_rate == 0 and waiting.resolution_rate == 0
    assert waiting.on_time_rate is None and waiting.satisfaction_rate is None


def test_definitions_name_a_figure_each(app):
    figures = rates.Figures()
    codes = [code for code, _, _ in rates.DEFINITIONS]
    assert len(codes) == len(set(codes)) == 7
    for locale, stop in (("zh", "。"), ("en", ".")):
        with app.test_request_context(), force_locale(locale):
            for code, name, definition in rates.DEFINITIONS:
                assert hasattr(figures, code), code
                # A whole sentence in each language: translated, not the English text on a Chinese page.
                assert str(name) and str(definition).endswith(stop), (locale, code)
