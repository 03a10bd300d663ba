"""The rates leaders are judged by (考核指标), defined once (docs/DESIGN.md §6), used by every page, export and API.

Which issues: those matching the scope condition (a node of the tree, a category, a party …) and, with a
period, filed (created_at) in [start, end). Every figure below is over those issues only; "now" is the
moment the figures are computed unless given.

- 响应率 response rate = issues acknowledged on time ÷ issues filed, both without withdrawn (已撤回)
  ones: an issue withdrawn after an on-time acknowledgement is outside the base, so it is outside the
  numerator too (a rate is never above 100 %).
  Acknowledged on time (`issue.acknowledged_on_time`): at its first acknowledgement (受理, by hand or by
  派单) the acknowledgement deadline in force had not passed and the SLA sweep had found no deadline
  passed while it waited (an escalation sets fresh deadlines, which must not forgive the missed one).
  An issue never acknowledged — still waiting, rejected, or merged as a duplicate before it was — counts
  in the base and not as on time.
- 办结率 resolution rate = issues resolved or closed ÷ issues filed, both counted without withdrawn
  (已撤回) and duplicate (重复) issues — a merged duplicate is counted once, in the kept issue.
- 按期办结率 on-time rate = issues resolved on time ÷ issues resolved. Resolved: status resolved or
  closed (closing needs a resolution first), with a resolution time; a reopened issue counts again only
  once resolved again. Rejected, withdrawn and duplicate issues were never resolved and are left out.
  Resolved on time (`issue.resolved_on_time`): at its latest resolution (办结) the resolution deadline in
  force (the level's, or the party's date from 派单) had not passed, and the sweep had found no deadline
  passed since the issue was acknowledged or last reopened.
- 满意率 satisfaction rate = satisfied answers ÷ answers, with **one answer per issue**: each issue filed,
  without withdrawn and duplicate ones (as for 办结率), contributes at most one answer — the resident's own
  rating (评价码: the rating of its latest used link, `issue.resident_rating`) if one was given, otherwise
  the 邻长's latest callback (回访, `issue.satisfaction`). However many links were made or callbacks
  recorded, one fix counts once: a new link replaces the issue's unused one, and no new link can be made
  once the resident has rated the current resolution (a reopened issue resolved again may ask again, and
  then its latest rating is the answer). "Satisfied" and "basically satisfied" both count as satisfied;
  "not satisfied" counts against. `callbacks`/`ratings` count the issues whose answer came from each.
- Time to resolve = resolution time − filing time, over the resolved issues (as for 按期办结率; the latest
  resolution of a reopened one), counted in whole hours rounded up (a 20-minute fix takes 1 hour; the
  reports keep an hours histogram, services/reports/rollups.py). Median and 90th percentile by the nearest-rank
  method: of n durations in ascending order the p-th percentile is the ⌈p·n/100⌉-th; the median is the
  50th percentile, so the lower middle value for an even n (an actual duration, never an average of two).
- Overdue now = open issues (reported, acknowledged, in progress, reopened) with a deadline at their
  current level (acknowledgement or resolution) at or before now — as `Issue.overdue`, and including
  those overdue at the top level, whose due dates stay passed.
- Counts by status are of every issue filed in the scope (withdrawn and duplicate included, shown apart).

Issues acknowledged or resolved before these flags were kept (migration 0009) have them unknown unless
the timeline shows a missed deadline; unknown counts as not on time.

A rate with nothing to divide by is None ("no data yet"), never 0 % or 100 %.

Notices down the tree (services/outreach/notices.py), over the leaders a notice went to (at and under a node):
- 阅读率 read rate = recipients who opened it ÷ recipients.
- 回复率 reply rate = recipients who replied ÷ recipients, for a notice that asks for a reply (None otherwise).
A node's figures are its own leaders' plus each child's; every recipient is counted once, where their role sits.

Door-to-door surveys (services/outreach/surveys.py), over the households known at and under a node (each of one
邻). A household is answered if any of its visits was answered; otherwise declined or absent by its latest
visit; otherwise not visited.
- 走访率 visit rate = households answered or declined ÷ households known (an absent household is still to reach).
- 应答率 answer rate = households answered ÷ households answered or declined.
A node's figures are the sum of its children's (and its own households'); every household is counted once.

Residents' reports to their 邻长 (services/residents/reports.py), over the reports received in a period at and
under a node (each of one 邻, where the building is):
- 一日内答复率 answered within a day = reports confirmed or declined within 24 hours of arriving ÷ reports whose
  first 24 hours are over or that were answered within them (a report still inside its first day, unanswered,
  is not yet late and not counted).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_, select

from ...extensions import db
from ...formatting import BEIJING_SQLITE_MODIFIER, BEIJING_ZONE_NAME
from ...models import OPEN_STATUSES, STATUSES, Issue, utcnow

SATISFIED = ("satisfied", "basically_satisfied")
NOT_COUNTED = ("withdrawn", "duplicate")
RESOLVED = ("resolved", "closed")

# (code, name, definition) for a "how is this computed" note, in the reader's language; the module docstring
# is the long form.
DEFINITIONS = (
    ("response_rate", _l("Response rate (响应率)"), _l(
        "Issues acknowledged on time ÷ issues filed, both without withdrawn issues; on time means the first "
        "acknowledgement came within its deadline and the issue was not escalated for lateness.")),
    ("resolution_rate", _l("Resolution rate (办结率)"), _l(
        "Issues resolved or closed ÷ issues filed (without withdrawn issues and duplicates).")),
    ("on_time_rate", _l("On-time resolution rate (按期办结率)"), _l(
        "Issues resolved on time ÷ issues resolved (including those closed after resolution); rejected, "
        "withdrawn and duplicate issues do not count.")),
    ("satisfaction_rate", _l("Satisfaction rate (满意率)"), _l(
        "Issues answered satisfied or basically satisfied ÷ issues with an answer; each issue counts one "
        "answer: the resident's own rating first, otherwise the neighbour leader's latest callback (without "
        "withdrawn issues and duplicates).")),
    ("median_resolve", _l("Median hours to resolve"), _l(
        "The median of the hours from filing to resolution (rounded up), by nearest rank (the lower of two "
        "middle values).")),
    ("p90_resolve", _l("90th percentile of hours to resolve"), _l(
        "The 90th percentile of the hours resolved issues took from filing to resolution, by nearest rank.")),
    ("overdue", _l("Overdue now"), _l(
        "Open issues whose acknowledgement or resolution deadline at their current level has passed.")),
)  # fmt: skip


NOTICE_DEFINITIONS = (
    ("read_rate", _l("Read rate (阅读率)"), _l("Leaders who opened the notice ÷ leaders it went to.")),
    ("reply_rate", _l("Reply rate (回复率)"), _l(
        "Leaders who replied ÷ leaders it went to, for a notice that asks for a reply.")),
)  # fmt: skip


class SummedCounts:
    """Figures of a disjoint set (a child's subtree) that add into a parent's name by name: the class lists
    its counts in COUNTED (what is not a count, such as whether a notice asks for a reply, is not summed)."""

    COUNTED: ClassVar[tuple[str, ...]] = ()

    def add(self, other):
        """Count `other`'s too (a disjoint set: a child's subtree)."""
        for name in self.COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class NoticeFigures(SummedCounts):
    """Read receipts and replies of a notice over some of its recipients (see the module docstring)."""

    recipients: int = 0
    read: int = 0
    replied: int = 0
    asks_reply: bool = False

    def asking(self, asks_reply: bool) -> NoticeFigures:
        """These figures, for a notice that asks (or not) for a reply."""
        self.asks_reply = asks_reply
        return self

    COUNTED = ("recipients", "read", "replied")

    @property
    def unread(self) -> int:
        return self.recipients - self.read

    @property
    def read_rate(self) -> float | None:
        """阅读率, 0–1, or None without recipients."""
        return self.read / self.recipients if self.recipients else None

    @property
    def reply_rate(self) -> float | None:
        """回复率, 0–1, or None without recipients or when no reply is asked."""
        return self.replied / self.recipients if self.recipients and self.asks_reply else None


SURVEY_DEFINITIONS = (
    ("visit_rate", _l("Visit rate (走访率)"), _l(
        "Households that answered or declined ÷ households known; a household where nobody was in is still to "
        "be reached.")),
    ("answer_rate", _l("Answer rate (应答率)"), _l("Households that answered ÷ households that answered or declined.")),
)  # fmt: skip


@dataclass
class SurveyFigures(SummedCounts):
    """Households of a survey's area by their state (see the module docstring)."""

    households: int = 0
    answered: int = 0
    declined: int = 0
    absent: int = 0

    COUNTED = ("households", "answered", "declined", "absent")

    @property
    def reached(self) -> int:
        return self.answered + self.declined

    @property
    def not_visited(self) -> int:
        return self.households - self.reached - self.absent

    @property
    def visit_rate(self) -> float | None:
        """走访率, 0–1, or None without households."""
        return self.reached / self.households if self.households else None

    @property
    def answer_rate(self) -> float | None:
        """应答率, 0–1, or None before any household was reached."""
        return self.answered / self.reached if self.reached else None


RESIDENT_REPORT_DEFINITIONS = (
    ("answered_within_day_rate", _l("Resident reports answered within a day (一日内答复率)"), _l(
        "Reports confirmed into an issue or declined with a reason within 24 hours of arriving ÷ reports whose "
        "first 24 hours are over or that were answered within them.")),
)  # fmt: skip

DAY_SECONDS = 24 * 3600


@dataclass
class ResidentReportFigures(SummedCounts):
    """Residents' reports received at and under a node (see the module docstring)."""

    received: int = 0
    waiting: int = 0
    confirmed: int = 0
    declined: int = 0
    answered_within_day: int = 0
    due: int = 0  # first day over, or answered within it

    COUNTED = ("received", "waiting", "confirmed", "declined", "answered_within_day", "due")

    @property
    def answered_within_day_rate(self) -> float | None:
        """一日内答复率, 0–1, or None before any report's first day is over."""
        return self.answered_within_day / self.due if self.due else None


def resident_report_figures(group_by, where: list, now: datetime | None = None) -> dict:
    """ResidentReportFigures per value of `group_by`, over ResidentReport rows (joined to whatever `where`
    names) — one grouped statement."""
    from ...models import ResidentReport

    now_seconds = int((now or utcnow()).timestamp())
    created = _seconds(ResidentReport.created_at)
    within = and_(
        ResidentReport.decided_at.is_not(None),
        _seconds(ResidentReport.decided_at) - created <= DAY_SECONDS,
    )
    due = or_(within, created <= now_seconds - DAY_SECONDS)

    def counted(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = db.session.execute(
        select(
            group_by,
            func.count(ResidentReport.id),
            counted(ResidentReport.status == "waiting"),
            counted(ResidentReport.status == "confirmed"),
            counted(ResidentReport.status == "declined"),
            counted(within),
            counted(due),
        )
        .where(*where)
        .group_by(group_by)
    )
    return {key: ResidentReportFigures(*(int(v or 0) for v in values)) for key, *values in rows}


def answer(status: str, satisfaction: str | None, resident_rating: str | None) -> tuple[str, str] | None:
    """The one answer an issue gives to 满意率: ("rating", r) for the resident's own, else ("callback", s) for
    the 邻长's latest callback; None for no answer, or for a withdrawn or duplicate issue."""
    if status in NOT_COUNTED:
        return None
    if resident_rating is not None:
        return "rating", resident_rating
    if satisfaction is not None:
        return "callback", satisfaction
    return None


def rank(n: int, p: float) -> int:
    """The 1-based position of the p-th percentile (0 < p ≤ 100) among n ascending values, by nearest rank."""
    return max(math.ceil(p * n / 100), 1)


def nearest_rank(ordered: list, p: float):
    """The p-th percentile of ascending values by nearest rank; None when there are none."""
    return ordered[rank(len(ordered), p) - 1] if ordered else None


def resolve_hours(created_at: datetime, resolved_at: datetime) -> int:
    """Whole hours from filing to resolution, rounded up, between the two times in whole seconds (as SQL)."""
    seconds = int(resolved_at.timestamp()) - int(created_at.timestamp())
    return max(-(-seconds // 3600), 0)


def _seconds(column):
    """SQL: a UTC time column as whole seconds since the epoch, on either engine."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", func.date_trunc("second", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def hours_to_resolve():
    """SQL twin of resolve_hours over Issue.created_at and Issue.resolved_at."""
    seconds = _seconds(Issue.resolved_at) - _seconds(Issue.created_at)
    return case((seconds <= 0, 0), else_=(seconds + 3599) // 3600)


def china_month():
    """SQL: the Beijing month of Issue.created_at as 'YYYY-MM'."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(BEIJING_ZONE_NAME, Issue.created_at), "YYYY-MM")
    return func.strftime("%Y-%m", Issue.created_at, BEIJING_SQLITE_MODIFIER)


def hours_by(group_by, where: list) -> dict:
    """How many resolved issues took each whole number of hours, per value of `group_by` (None: one group)."""
    key = group_by if group_by is not None else literal(None)
    hours = hours_to_resolve()
    is_resolved = and_(Issue.status.in_(RESOLVED), Issue.resolved_at.is_not(None))
    result: defaultdict = defaultdict(Counter)
    rows = db.session.execute(select(key, hours, func.count()).where(is_resolved, *where).group_by(key, hours))
    for value, n_hours, count in rows:
        result[value][int(n_hours)] += count
    return dict(result)


# The plain counters of Figures, summed by Figures.add and kept per rollup row.
COUNTS = (
    "callbacks",
    "callbacks_satisfied",
    "ratings",
    "ratings_satisfied",
    "acknowledged_on_time",
    "resolved",
    "resolved_on_time",
    "overdue",
)


@dataclass
class Figures:
    """Counts by status and the rates (see the module docstring) for one scope and period."""

    by_status: dict[str, int] = field(default_factory=dict)
    callbacks: int = 0
    callbacks_satisfied: int = 0
    ratings: int = 0
    ratings_satisfied: int = 0
    acknowledged_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    overdue: int = 0
    # Time to resolve: how many resolved issues took each number of whole hours.
    hours: Counter = field(default_factory=Counter)

    def add(self, other: Figures) -> Figures:
        """Count `other`'s issues in these figures too (disjoint sets of issues, e.g. two months)."""
        for status, count in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + count
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hours.update(other.hours)
        return self

    def count_answer(self, given: tuple[str, str] | None, issues: int = 1) -> None:
        """Count `issues` issues whose one answer (see `answer`) is `given`."""
        if given is None:
            return
        source, rating = given
        if source == "rating":
            self.ratings += issues
            self.ratings_satisfied += issues if rating in SATISFIED else 0
        else:
            self.callbacks += issues
            self.callbacks_satisfied += issues if rating in SATISFIED else 0

    def percentile_hours(self, p: float) -> int | None:
        """The p-th percentile of the whole hours to resolve, by nearest rank; None with nothing resolved."""
        n = sum(self.hours.values())
        if not n:
            return None
        wanted = rank(n, p)
        seen = 0
        for hours in sorted(self.hours):
            seen += self.hours[hours]
            if seen >= wanted:
                return hours
        raise AssertionError("unreachable")

    @property
    def median_resolve(self) -> int | None:
        """Median whole hours from filing to resolution (nearest rank)."""
        return self.percentile_hours(50)

    @property
    def p90_resolve(self) -> int | None:
        """90th percentile of the whole hours from filing to resolution (nearest rank)."""
        return self.percentile_hours(90)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def responded_base(self) -> int:
        """Issues filed, without withdrawn ones: the base of 响应率."""
        return self.total - self.by_status.get("withdrawn", 0)

    @property
    def counted(self) -> int:
        """Issues filed, without withdrawn and duplicates: the base of 办结率."""
        return self.total - sum(self.by_status.get(s, 0) for s in NOT_COUNTED)

    @property
    def done(self) -> int:
        return self.by_status.get("resolved", 0) + self.by_status.get("closed", 0)

    @property
    def open(self) -> int:
        return sum(self.by_status.get(s, 0) for s in OPEN_STATUSES)

    @property
    def response_rate(self) -> float | None:
        """响应率, 0–1, or None without issues."""
        return self.acknowledged_on_time / self.responded_base if self.responded_base else None

    @property
    def resolution_rate(self) -> float | None:
        """办结率, 0–1, or None without issues."""
        return self.done / self.counted if self.counted else None

    @property
    def on_time_rate(self) -> float | None:
        """按期办结率, 0–1, or None without a resolved issue."""
        return self.resolved_on_time / self.resolved if self.resolved else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率, 0–1, or None without any callback or rating."""
        answers = self.callbacks + self.ratings
        return (self.callbacks_satisfied + self.ratings_satisfied) / answers if answers else None


def figures(
    condition=None, *, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None
) -> Figures:
    """Figures over the issues matching `condition` (a SQL condition on Issue; None: the whole district)
    filed in [start, end) (either bound may be open), with overdue counted at `now`."""
    return grouped(None, condition, start=start, end=end, now=now).get(None) or Figures(
        by_status=dict.fromkeys(STATUSES, 0)
    )


def period_conditions(condition=None, start: datetime | None = None, end: datetime | None = None) -> list:
    """The WHERE clauses for a scope condition and a filing period [start, end)."""
    where = [condition] if condition is not None else []
    if start is not None or end is not None:
        # Every status, spelled out: the planners can then range-scan the (…, status, created_at) indexes
        # once per status instead of reading the whole table (SQLite: 35 ms → under 1 ms for two days).
        where.append(Issue.status.in_(STATUSES))
    if start is not None:
        where.append(Issue.created_at >= start)
    if end is not None:
        where.append(Issue.created_at < end)
    return where


def grouped(
    group_by,
    condition=None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    durations: bool = True,
) -> dict:
    """Figures per value of the Issue column `group_by` (None: one group keyed None), from the raw rows."""
    now = now or utcnow()
    where = period_conditions(condition, start, end)
    key = group_by if group_by is not None else literal(None)
    results: dict = {}

    def of(value) -> Figures:
        if value not in results:
            results[value] = Figures(by_status=dict.fromkeys(STATUSES, 0))
        return results[value]

    is_resolved = and_(Issue.status.in_(RESOLVED), Issue.resolved_at.is_not(None))
    overdue = and_(Issue.status.in_(OPEN_STATUSES), or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now))
    responded = and_(Issue.acknowledged_on_time.is_(True), Issue.status != "withdrawn")
    rows = db.session.execute(
        select(
            key,
            Issue.status,
            Issue.satisfaction,
            Issue.resident_rating,
            func.count(),
            func.sum(case((responded, 1), else_=0)),
            func.sum(case((is_resolved, 1), else_=0)),
            func.sum(case((and_(is_resolved, Issue.resolved_on_time.is_(True)), 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(*where)
        .group_by(key, Issue.status, Issue.satisfaction, Issue.resident_rating)
    )
    for value, status, satisfaction, resident_rating, count, acknowledged, resolved, resolved_on_time, late in rows:
        result = of(value)
        result.by_status[status] += count
        result.acknowledged_on_time += acknowledged or 0
        result.resolved += resolved or 0
        result.resolved_on_time += resolved_on_time or 0
        result.overdue += late or 0
        result.count_answer(answer(status, satisfaction, resident_rating), count)
    if durations:
        for value, counter in hours_by(group_by, where).items():
            of(value).hours.update(counter)
    return results


def overdue_counts(group_by, condition=None, *, start=None, end=None, now: datetime | None = None) -> dict:
    """Open issues past a deadline at `now`, per value of `group_by` (None: one group keyed None)."""
    now = now or utcnow()
    key = group_by if group_by is not None else literal(None)
    where = period_conditions(condition, start, end)
    rows = db.session.execute(
        select(key, func.count())
        .where(
            Issue.status.in_(OPEN_STATUSES),
            or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now),
            *where,
        )
        .group_by(key)
    )
    return dict(rows.all())
