"""Reports (报表) for any node of the tree and any period: the rates, children, categories, parties, trend.

Every figure comes from services/reports/rates.py (the definitions). Where it is read from differs by size:
the district, a 街镇 or a community reads the rollups (services/reports/rollups.py) for the whole Beijing
months of the period and the raw issues only for the partial months at its edges; a 片, 组 or 邻 —
at most a few thousand issues — reads the raw issues. Overdue-now is always counted live. The
median and P90 hours come from the hours histogram for the district and a 街镇, else from raw rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, literal, or_, select

from ...extensions import db
from ...formatting import beijing_today, start_of_beijing_day
from ...models import (
    OPEN_STATUSES,
    STATUSES,
    Category,
    Issue,
    IssueRollup,
    Node,
    Organisation,
    ResolveHoursRollup,
    utcnow,
)
from ..people import tree, vacancies
from ..people.vacancies import VacancyCounts
from . import rates, rollups
from .rates import Figures

PERIODS = ("week", "month", "quarter", "year", "custom")
ROLLUP_LEVELS = ("district", "street", "community")
CHILD_LEVEL = {"district": "street", "street": "community", "community": "zone", "zone": "group", "group": "neighbour"}
MAX_DAYS = 5 * 366
# Dates a report may name (the tracker began in the 2020s; nothing is filed in the far past or future).
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
TREND_MONTHS = 12


def add_months(day: date, months: int) -> date:
    """The first of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """A reporting period: Beijing dates [start, end)."""

    key: str
    start: date
    end: date

    @classmethod
    def named(cls, key: str, anchor: date) -> Period:
        """The week, month, quarter or year containing `anchor`."""
        if key == "week":
            start = anchor - timedelta(days=anchor.weekday())
            return cls(key, start, start + timedelta(days=7))
        if key == "month":
            start = anchor.replace(day=1)
            return cls(key, start, add_months(start, 1))
        if key == "quarter":
            start = date(anchor.year, (anchor.month - 1) // 3 * 3 + 1, 1)
            return cls(key, start, add_months(start, 3))
        if key == "year":
            return cls(key, date(anchor.year, 1, 1), date(anchor.year + 1, 1, 1))
        raise ValueError(key)

    @property
    def last_day(self) -> date:
        """The last date in the period (inclusive), as people write ranges."""
        return self.end - timedelta(days=1)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC moments [start, end)."""
        return start_of_beijing_day(self.start), start_of_beijing_day(self.end)

    def shifted(self, steps: int) -> Period | None:
        """The period `steps` before/after (None for a custom range)."""
        if self.key == "custom":
            return None
        if self.key == "week":
            return Period.named("week", self.start + timedelta(days=7 * steps))
        months = {"month": 1, "quarter": 3, "year": 12}[self.key]
        return Period.named(self.key, add_months(self.start, months * steps))

    def args(self) -> dict:
        """The query arguments that name this period."""
        values = {"period": self.key, "start": self.start.isoformat()}
        if self.key == "custom":
            values["end"] = self.last_day.isoformat()
        return values


def all_time(now: datetime | None = None) -> Period:
    """Every issue ever filed, as whole months only (so the rollups answer alone, with no raw edges)."""
    return Period("custom", EARLIEST, add_months(beijing_today(now), 1))


def parse_period(args, today: date) -> tuple[Period, dict[str, str]]:
    """The period named by query arguments, and error codes per field (falling back to this month)."""
    key = args.get("period") or "month"
    errors: dict[str, str] = {}
    if key not in PERIODS:
        return Period.named("month", today), {"period": "unknown"}

    def day(name: str) -> date | None:
        text = (args.get(name) or "").strip()
        if not text:
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            errors[name] = "bad_date"
            return None
        if not EARLIEST <= value <= LATEST:
            errors[name] = "out_of_range"
            return None
        return value

    start, last = day("start"), day("end") if key == "custom" else None
    if key != "custom":
        return Period.named(key, start or today), errors
    if start is None and "start" not in errors:
        errors["start"] = "required"
    if last is None and "end" not in errors:
        errors["end"] = "required"
    if start and last:
        if last < start:
            errors["end"] = "before_start"
        elif (last - start).days >= MAX_DAYS:
            errors["end"] = "too_long"
    if errors:
        return Period.named("month", today), errors
    return Period("custom", start, last + timedelta(days=1)), errors


@dataclass
class Row:
    """One line of a breakdown: what it is, its figures, and the node to drill into (if any)."""

    label: str
    figures: Figures
    node: Node | None = None
    key: object = None
    # A child's vacant 片/组/邻 now (itself included), whatever the period (services/people/vacancies.py).
    vacancies: VacancyCounts | None = None


@dataclass
class Report:
    """Everything the report page and its exports show for one node and period."""

    node: Node
    period: Period
    figures: Figures
    children: list[Row] = field(default_factory=list)
    by_category: list[Row] = field(default_factory=list)
    by_party: list[Row] = field(default_factory=list)
    trend: list[Row] = field(default_factory=list)
    # The vacant 片/组/邻 below the node now: the sum of its children's (None for a 邻, which has none).
    vacancies: VacancyCounts | None = None


# --- reading the figures -------------------------------------------------------------------------

RAW_GROUPS = {
    None: None,
    "street": Issue.street_id,
    "community": Issue.community_id,
    "zone": Issue.zone_id,
    "group": Issue.group_id,
    "neighbour": Issue.neighbour_id,
    "category": Issue.category_id,
    "org": func.coalesce(Issue.assignee_org_id, 0),
}
ROLLUP_GROUPS = {
    None: None,
    "street": IssueRollup.street_id,
    "community": IssueRollup.community_id,
    "category": IssueRollup.category_id,
    "org": IssueRollup.org_id,
    "month": IssueRollup.month,
}


def scope_condition(node: Node):
    """SQL condition on Issue for a node's issues (None for the district)."""
    if node.level == "district":
        return None
    return getattr(Issue, f"{node.level}_id") == node.id


def _rollup_condition(node: Node):
    """SQL condition on IssueRollup for a node (None for the district)."""
    if node.level == "district":
        return None
    return getattr(IssueRollup, f"{node.level}_id") == node.id


def figures_of(sums) -> Figures:
    """Figures from the summed rollup columns (in rollups.COUNTS order)."""
    counts = dict(zip(rollups.COUNTS, (n or 0 for n in sums), strict=True))
    return Figures(
        by_status={status: counts[status] for status in STATUSES},
        acknowledged_on_time=counts["ack_on_time"],
        resolved=counts["done"],
        resolved_on_time=counts["done_on_time"],
        callbacks=counts["callbacks"],
        callbacks_satisfied=counts["callbacks_satisfied"],
        ratings=counts["ratings"],
        ratings_satisfied=counts["ratings_satisfied"],
    )


def rollup_breakdown(node: Node, child_level: str | None, first: date, last: date) -> dict:
    """From one scan of the rollups for the months [first, last): figures by child (when the rollups know the
    child level), by category and by party — {"child": {…}, "category": {…}, "org": {…}}."""
    child = ROLLUP_GROUPS.get(child_level) if child_level else None
    keys = [child if child is not None else literal(None), IssueRollup.category_id, IssueRollup.org_id]
    where = [IssueRollup.month >= first, IssueRollup.month < last]
    condition = _rollup_condition(node)
    if condition is not None:
        where.append(condition)
    columns = [func.sum(getattr(IssueRollup, column)) for column in rollups.COUNTS]
    result: dict = {"child": defaultdict(empty), "category": defaultdict(empty), "org": defaultdict(empty)}
    if child is None:
        del result["child"]
    statement = select(*keys, *columns).where(*where).group_by(*keys[1:] if child is None else keys)
    for child_id, category_id, org_id, *sums in db.session.execute(statement):
        if not any(sums):
            continue
        part = figures_of(sums)
        for name, value in (("child", child_id), ("category", category_id), ("org", org_id)):
            if name in result:
                result[name][value].add(part)
    return {name: dict(figures) for name, figures in result.items()}


def rollup_figures(node: Node, group: str | None, first: date, last: date, hours: bool) -> dict:
    """Figures per group from the rollups for the months [first, last) (first days of months)."""
    if first >= last:
        return {}
    key = ROLLUP_GROUPS[group]
    condition = _rollup_condition(node)
    where = [IssueRollup.month >= first, IssueRollup.month < last]
    if condition is not None:
        where.append(condition)
    columns = [func.sum(getattr(IssueRollup, column)) for column in rollups.COUNTS]
    statement = select(key if key is not None else literal(None), *columns).where(*where)
    statement = statement.group_by(key) if key is not None else statement
    results: dict = {}
    for value, *sums in db.session.execute(statement):
        if any(sums):
            results[value] = figures_of(sums)
    if hours:
        for value, counter in histogram_hours(node, group, first, last).items():
            results.setdefault(value, empty()).hours.update(counter)
    return results


def histogram_hours(node: Node, group: str | None, first: date, last: date) -> dict:
    """Whole hours to resolve per group (None, "street" or "month") from the hours rollup, months [first, last)."""
    hour_key = {None: None, "street": ResolveHoursRollup.street_id, "month": ResolveHoursRollup.month}[group]
    where = [ResolveHoursRollup.month >= first, ResolveHoursRollup.month < last]
    if node.level == "street":
        where.append(ResolveHoursRollup.street_id == node.id)
    statement = select(
        hour_key if hour_key is not None else literal(None),
        ResolveHoursRollup.hours,
        func.sum(ResolveHoursRollup.issues),
    ).where(*where)
    group_by = [ResolveHoursRollup.hours] + ([hour_key] if hour_key is not None else [])
    result: defaultdict = defaultdict(Counter)  # not setdefault(value, Counter()): a Counter made per row
    for value, hour, n in db.session.execute(statement.group_by(*group_by)):
        if n:
            result[value][hour] += n
    return dict(result)


def whole_months(period: Period) -> tuple[date, date] | None:
    """The whole Beijing months inside the period as [first, last) first days, or None if there are none."""
    first = period.start if period.start.day == 1 else add_months(period.start, 1)
    last = period.end.replace(day=1)
    return (first, last) if first < last else None


def node_hours(node: Node, period: Period) -> Counter:
    """Whole hours to resolve of the node's issues filed in the period: the histogram for the district and a
    街镇's whole months, the raw rows (one GROUP BY hours) for the rest."""
    condition = scope_condition(node)
    months = whole_months(period) if node.level in ("district", "street") else None
    spans = [(period.start, period.end)]
    hours = Counter()
    if months is not None:
        hours.update(histogram_hours(node, None, *months).get(None, {}))
        spans = [(period.start, months[0]), (months[1], period.end)]
    for a, b in spans:
        if a < b:
            hours.update(
                rates.hours_by(
                    None, rates.period_conditions(condition, start_of_beijing_day(a), start_of_beijing_day(b))
                ).get(None, {})
            )
    return hours


def _merge(into: dict, more: dict) -> dict:
    """Add the figures of `more` into `into`, group by group."""
    for value, figures in more.items():
        if value in into:
            into[value].add(figures)
        else:
            into[value] = figures
    return into


def node_figures(
    node: Node,
    period: Period,
    group: str | None = None,
    now: datetime | None = None,
    overdue: dict | None = None,
    whole: dict | None = None,
) -> dict:
    """Figures per group (None: one group keyed None) for a node's issues filed in the period.

    A caller that has them passes `overdue` (group value → live count, see overdue_breakdown) and `whole` (the
    rollups' figures of the whole months for this group, see rollup_breakdown), saving those queries."""
    start, end = period.bounds
    raw_group = RAW_GROUPS[group]
    condition = scope_condition(node)
    # Hours to resolve are shown for the node itself only (median, P90), not in the breakdowns.
    want_hours = group is None
    use_rollups = node.level in ROLLUP_LEVELS and group in ROLLUP_GROUPS
    if not use_rollups:
        results = rates.grouped(raw_group, condition, start=start, end=end, now=now, durations=want_hours)
    else:
        # Whole months from the rollups, the partial months at either edge from the raw rows.
        first, last = whole_months(period) or (None, None)
        hours_in_rollups = want_hours and node.level in ("district", "street")
        results = {}
        if first is not None:
            results = whole if whole is not None else rollup_figures(node, group, first, last, hours_in_rollups)
            edges = [(period.start, first), (last, period.end)]
        else:
            edges = [(period.start, period.end)]
        for a, b in edges:
            if a < b:
                edge = rates.grouped(
                    raw_group,
                    condition,
                    start=start_of_beijing_day(a),
                    end=start_of_beijing_day(b),
                    now=now,
                    durations=want_hours,
                )
                _merge(results, edge)
        if want_hours and not hours_in_rollups and first is not None:
            # A community's hours for its whole months: one GROUP BY hours over its resolved rows.
            where = rates.period_conditions(condition, start_of_beijing_day(first), start_of_beijing_day(last))
            for value, counter in rates.hours_by(raw_group, where).items():
                results.setdefault(value, empty()).hours.update(counter)
    if overdue is None:
        overdue = rates.overdue_counts(raw_group, condition, start=start, end=end, now=now)
    for value, figures in results.items():
        figures.overdue = overdue.get(value, 0)
    for value, n in overdue.items():
        if value not in results:
            results[value] = Figures(by_status=dict.fromkeys(STATUSES, 0), overdue=n)
    return results


def empty() -> Figures:
    """Figures of nothing."""
    return Figures(by_status=dict.fromkeys(STATUSES, 0))


def sum_of(parts) -> Figures:
    """The figures of a node from its children's (node_figures grouped by the child level): every issue is in
    exactly one child, so a node's figures are the sum of its children's — one reading of the rollups instead
    of two. Hours to resolve are not in grouped figures, so the sum carries none."""
    total = empty()
    for figures in parts:
        total.add(figures)
    return total


def trend(node: Node, period: Period, now: datetime | None = None) -> list[Row]:
    """Monthly figures from TREND_MONTHS before the period's end (or its start, if earlier) to its end."""
    last_month = (period.end - timedelta(days=1)).replace(day=1)
    first_month = min(period.start.replace(day=1), add_months(last_month, 1 - TREND_MONTHS))
    months = []
    month = first_month
    while month <= last_month:
        months.append(month)
        month = add_months(month, 1)
    whole = Period("custom", first_month, add_months(last_month, 1))
    if node.level in ROLLUP_LEVELS:
        by_month = _rollup_trend(node, whole, now or utcnow())
    else:
        by_month = {m: node_figures(node, Period("month", m, add_months(m, 1)), None, now).get(None) for m in months}
    return [Row(m.strftime("%Y-%m"), by_month.get(m) or empty(), key=m) for m in months]


def _rollup_trend(node: Node, whole: Period, now) -> dict:
    """Per-month figures from the rollups (the trend's months are whole months)."""
    hours = node.level in ("district", "street")
    results = rollup_figures(node, "month", whole.start, whole.end, hours)
    condition = scope_condition(node)
    if not hours:
        for value, figures in _raw_month_hours(condition, whole).items():
            results.setdefault(value, empty()).hours.update(figures)
    # Overdue now, by Beijing month of filing.
    start, end = whole.bounds
    month = rates.china_month()
    overdue = (
        select(month, func.count())
        .where(
            Issue.status.in_(OPEN_STATUSES),
            or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now),
            *rates.period_conditions(condition, start, end),
        )
        .group_by(month)
    )
    for text, count in db.session.execute(overdue):
        key = month_key(text)
        if key not in results:
            results[key] = empty()
        results[key].overdue += count
    return results


def month_key(text: str) -> date:
    """The first day of a 'YYYY-MM' month."""
    return date(int(text[:4]), int(text[5:7]), 1)


def _raw_month_hours(condition, whole: Period) -> dict:
    """Hours to resolve per Beijing month of filing, from the raw rows (one GROUP BY month, hours)."""
    start, end = whole.bounds
    where = rates.period_conditions(condition, start, end)
    month, hours = rates.china_month(), rates.hours_to_resolve()
    result: defaultdict = defaultdict(Counter)
    rows = db.session.execute(
        select(month, hours, func.count())
        .where(Issue.status.in_(rates.RESOLVED), Issue.resolved_at.is_not(None), *where)
        .group_by(month, hours)
    )
    for text, n_hours, count in rows:
        result[month_key(text)][int(n_hours)] += count
    return dict(result)


def overdue_breakdown(node: Node, period: Period, child_level: str | None, now: datetime) -> dict:
    """Overdue-now counts of the node's issues filed in the period, by child, category and party, in one query:
    {"child": {id: n}, "category": {id: n}, "org": {id or 0: n}, None: {None: total}}."""
    start, end = period.bounds
    keys = [
        RAW_GROUPS[child_level] if child_level else literal(None),
        RAW_GROUPS["category"],
        RAW_GROUPS["org"],
    ]
    rows = db.session.execute(
        select(*keys, func.count())
        .where(
            Issue.status.in_(OPEN_STATUSES),
            or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now),
            *rates.period_conditions(scope_condition(node), start, end),
        )
        .group_by(*keys)
    )
    result = {"child": Counter(), "category": Counter(), "org": Counter(), None: Counter()}
    for child, category, org, n in rows:
        result["child"][child] += n
        result["category"][category] += n
        result["org"][org] += n
        result[None][None] += n
    return result


def build_report(node: Node, period: Period, now: datetime | None = None, *, with_trend: bool = True) -> Report:
    """The whole report for a node and a period (the monthly trend, the costliest part, only `with_trend`)."""
    now = now or utcnow()
    child_level = CHILD_LEVEL.get(node.level)
    overdue = overdue_breakdown(node, period, child_level, now)
    months = whole_months(period) if node.level in ROLLUP_LEVELS else None
    whole = rollup_breakdown(node, child_level, *months) if months else {}
    if child_level:
        by_child = node_figures(node, period, child_level, now, overdue=overdue["child"], whole=whole.get("child"))
        # Every issue of the node lies in exactly one child: the node's counts are the children's sum.
        figures = empty()
        for child_figures in by_child.values():
            figures.add(child_figures)
        figures.hours = node_hours(node, period)
    else:
        figures = node_figures(node, period, None, now, overdue=overdue[None]).get(None) or empty()
    report = Report(node=node, period=period, figures=figures)
    if child_level:
        kids = tree.children(node)
        vacant = vacancies.counts_within(kids)
        report.children = [
            Row(child.name, by_child.get(child.id) or empty(), node=child, key=child.id, vacancies=vacant[child.id])
            for child in kids
        ]
        # Every 片/组/邻 below the node lies in exactly one child's area: the node's count is their sum
        # (tests/test_vacancies.py holds it to a count of its own), and a second scan would cost ~20 ms.
        report.vacancies = sum(vacant.values(), VacancyCounts())
    categories = {c.id: c for c in db.session.scalars(select(Category))}
    by_category = node_figures(node, period, "category", now, overdue=overdue["category"], whole=whole.get("category"))
    for value, category_figures in sorted(by_category.items(), key=lambda kv: -kv[1].total):
        category = categories.get(value)
        report.by_category.append(Row(category.label if category else str(value), category_figures, key=value))
    parties = node_figures(node, period, "org", now, overdue=overdue["org"], whole=whole.get("org"))
    names = dict(
        db.session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(list(parties)))).all()
    )
    for value, party_figures in sorted(parties.items(), key=lambda kv: (kv[0] == 0, -kv[1].total)):
        report.by_party.append(Row(names.get(value, "") if value else "", party_figures, key=value))
    report.trend = trend(node, period, now) if with_trend else []
    return report


SORTS = (
    "name",
    "total",
    "open",
    "overdue",
    "response_rate",
    "resolution_rate",
    "on_time_rate",
    "satisfaction_rate",
    "vacancies",
)


def sort_rows(rows: list[Row], key: str, descending: bool) -> list[Row]:
    """Rows sorted by a column; rows without a value (no data yet) always last."""
    if key not in SORTS or key == "name":
        return list(reversed(rows)) if descending else list(rows)

    def value(row: Row):
        if key == "vacancies":
            return row.vacancies.total if row.vacancies is not None else None
        return getattr(row.figures, key)

    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]
    return sorted(present, key=value, reverse=descending) + missing
