"""The rates leaders are judged by (考核指标), defined once (DESIGN §6) and used by every page, export and the API.

Which issues: those matching the scope condition (a node of the tree, a category, a party …) and, with a
period, filed (created_at) in [start, end). Every figure below is over those issues only; "now" is the
moment the figures are computed unless given.

- 响应率 response rate = issues acknowledged on time ÷ issues filed, without withdrawn (已撤回) ones.
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
- 满意率 satisfaction rate = satisfied answers ÷ answers recorded, where the answers are the 邻长's
  callbacks (回访: the latest one per issue, `issue.satisfaction`) and the residents' own one-time
  ratings (评价码, each used link once). "Satisfied" and "basically satisfied" both count as satisfied;
  "not satisfied" counts against.
- Time to resolve = resolution time − filing time, over the resolved issues (as for 按期办结率; the latest
  resolution of a reopened one). Median and 90th percentile by the nearest-rank method: of n durations in
  ascending order the p-th percentile is the ⌈p·n/100⌉-th; the median is the 50th percentile, so the lower
  middle value for an even n (an actual duration, never an average of two).
- Overdue now = open issues (reported, acknowledged, in progress, reopened) with a deadline at their
  current level (acknowledgement or resolution) at or before now — as `Issue.overdue`, and including
  those overdue at the top level, whose due dates stay passed.
- Counts by status are of every issue filed in the scope (withdrawn and duplicate included, shown apart).

Issues acknowledged or resolved before these flags were kept (migration 0009) have them unknown unless
the timeline shows a missed deadline; unknown counts as not on time.

A rate with nothing to divide by is None ("no data yet"), never 0 % or 100 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from ..extensions import db
from ..models import OPEN_STATUSES, STATUSES, Issue, RatingToken, utcnow

SATISFIED = ("satisfied", "basically_satisfied")
NOT_COUNTED = ("withdrawn", "duplicate")
RESOLVED = ("resolved", "closed")

# (code, name, definition) for a "how is this computed" note; the module docstring is the long form.
DEFINITIONS = (
    ("response_rate", "响应率", "按时受理的问题数 ÷ 上报问题数（不含已撤回）；按时指首次受理未过时限且未超时上报。"),
    ("resolution_rate", "办结率", "已办结或已关闭的问题数 ÷ 上报问题数（不含已撤回和重复问题）。"),
    ("on_time_rate", "按期办结率", "按期办结的问题数 ÷ 已办结（含办结后关闭）的问题数；不予受理、撤回、重复不计。"),
    ("satisfaction_rate", "满意率", "满意和基本满意的回答数 ÷ 全部回答数，回答包括邻长回访和居民评价。"),
    ("median_resolve", "办结时长中位数", "已办结问题从上报到办结所用时间的中位数（最近秩法，偶数个取较小的中间值）。"),
    ("p90_resolve", "办结时长90分位", "已办结问题从上报到办结所用时间的第90百分位数（最近秩法）。"),
    ("overdue", "当前超时", "处理中的问题里，当前层级受理或办结时限已过的问题数。"),
)  # fmt: skip


def nearest_rank(ordered: list, p: float):
    """The p-th percentile (0 < p ≤ 100) of ascending values by nearest rank; None when there are none."""
    if not ordered:
        return None
    return ordered[max(math.ceil(p * len(ordered) / 100), 1) - 1]


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
    median_resolve: timedelta | None = None
    p90_resolve: timedelta | None = None

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
    now = now or utcnow()
    where = [condition] if condition is not None else []
    if start is not None:
        where.append(Issue.created_at >= start)
    if end is not None:
        where.append(Issue.created_at < end)
    result = Figures(by_status=dict.fromkeys(STATUSES, 0))
    is_resolved = and_(Issue.status.in_(RESOLVED), Issue.resolved_at.is_not(None))
    overdue = and_(Issue.status.in_(OPEN_STATUSES), or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now))
    rows = db.session.execute(
        select(
            Issue.status,
            Issue.satisfaction,
            func.count(),
            func.sum(case((Issue.acknowledged_on_time.is_(True), 1), else_=0)),
            func.sum(case((is_resolved, 1), else_=0)),
            func.sum(case((and_(is_resolved, Issue.resolved_on_time.is_(True)), 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(*where)
        .group_by(Issue.status, Issue.satisfaction)
    )
    for status, satisfaction, count, acknowledged, resolved, resolved_on_time, late in rows:
        result.by_status[status] += count
        result.acknowledged_on_time += acknowledged or 0
        result.resolved += resolved or 0
        result.resolved_on_time += resolved_on_time or 0
        result.overdue += late or 0
        if satisfaction is not None:
            result.callbacks += count
            if satisfaction in SATISFIED:
                result.callbacks_satisfied += count
    # Durations in Python: date arithmetic differs between the engines, and the nearest rank needs them sorted.
    durations = sorted(
        resolved_at - created_at
        for created_at, resolved_at in db.session.execute(
            select(Issue.created_at, Issue.resolved_at).where(is_resolved, *where)
        )
    )
    result.median_resolve = nearest_rank(durations, 50)
    result.p90_resolve = nearest_rank(durations, 90)
    ratings = (
        select(RatingToken.rating, func.count())
        .join(Issue, Issue.id == RatingToken.issue_id)
        .where(RatingToken.rating.is_not(None), *where)
        .group_by(RatingToken.rating)
    )
    for rating, count in db.session.execute(ratings):
        result.ratings += count
        if rating in SATISFIED:
            result.ratings_satisfied += count
    return result
