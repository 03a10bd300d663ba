"""The rates leaders are judged by (考核指标), defined once (DESIGN §6) and used by every page and the API.

- 办结率 resolution rate = issues resolved or closed ÷ issues filed, both counted without withdrawn
  (已撤回) and duplicate (重复) issues — a merged duplicate is counted once, in the kept issue.
- 满意率 satisfaction rate = satisfied answers ÷ answers recorded, where the answers are the 邻长's
  callbacks (回访: the latest one per issue, `issue.satisfaction`) and the residents' own one-time
  ratings (评价码, each used link once). "Satisfied" and "basically satisfied" both count as satisfied;
  "not satisfied" counts against.
- Counts by status are of every issue filed in the scope (withdrawn and duplicate included, shown apart).

A rate with nothing to divide by is None ("no data yet"), never 0 % or 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..extensions import db
from ..models import STATUSES, Issue, RatingToken

SATISFIED = ("satisfied", "basically_satisfied")
NOT_COUNTED = ("withdrawn", "duplicate")


@dataclass
class Figures:
    """Counts by status and the two public rates for one scope."""

    by_status: dict[str, int] = field(default_factory=dict)
    callbacks: int = 0
    callbacks_satisfied: int = 0
    ratings: int = 0
    ratings_satisfied: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def counted(self) -> int:
        """Issues filed, without withdrawn and duplicates: the base of 办结率."""
        return self.total - sum(self.by_status.get(s, 0) for s in NOT_COUNTED)

    @property
    def done(self) -> int:
        return self.by_status.get("resolved", 0) + self.by_status.get("closed", 0)

    @property
    def open(self) -> int:
        return sum(self.by_status.get(s, 0) for s in ("reported", "acknowledged", "in_progress", "reopened"))

    @property
    def resolution_rate(self) -> float | None:
        """办结率, 0–1, or None without issues."""
        return self.done / self.counted if self.counted else None

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率, 0–1, or None without any callback or rating."""
        answers = self.callbacks + self.ratings
        return (self.callbacks_satisfied + self.ratings_satisfied) / answers if answers else None


def figures(condition=None) -> Figures:
    """Figures over the issues matching `condition` (a SQL condition on Issue; None: the whole district)."""
    where = [condition] if condition is not None else []
    result = Figures(by_status=dict.fromkeys(STATUSES, 0))
    for status, satisfaction, count in db.session.execute(
        select(Issue.status, Issue.satisfaction, func.count()).where(*where).group_by(Issue.status, Issue.satisfaction)
    ):
        result.by_status[status] += count
        if satisfaction is not None:
            result.callbacks += count
            if satisfaction in SATISFIED:
                result.callbacks_satisfied += count
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
