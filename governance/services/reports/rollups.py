"""Report rollups (报表汇总): what the district and 街镇 reports read instead of a million issue rows.

Each issue counts in exactly one `issue_rollup` row — the Beijing month it was filed in, its community,
category and current responsible party (org 0: none) — with what services/reports/rates.py needs: one for its
status, and one for each numerator it meets (acknowledged on time, resolved, resolved on time) and for
its one answer to 满意率 (`rates.answer`: a resident's rating or else a callback, and whether it was
satisfied). A resolved issue also counts once in
`resolve_hours_rollup` (month × 街镇 × whole hours to resolve) for the median and P90.

Kept in step in the same transaction as the change: a flush hook takes each changed issue's old
contribution away and adds its new one (the fields it reads are mapped with active_history, so the
old values are known even when they were not loaded). Core statements that bypass the ORM must apply a
`Delta` themselves: `issue_added` for filing's INSERT, `rating_changed` for services/rating.rate (the SLA
sweep changes no field counted here).

`check()` — run nightly, and by `flask rollups check` — recomputes both tables from the raw rows with
the same `contribution()`, reports every difference (a difference is a bug), and replaces the tables.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import bindparam, delete, event, inspect, select, text
from sqlalchemy.dialects import postgresql

from ...extensions import db
from ...formatting import BEIJING_OFFSET
from ...models import STATUSES, AppMeta, Issue, IssueRollup, ResolveHoursRollup, utcnow
from ..locks import constant, engine_insert
from .rates import RESOLVED, Figures, answer, resolve_hours

log = logging.getLogger("governance.rollups")

KEY = ("month", "community_id", "category_id", "org_id")
COUNTS = STATUSES + (
    "ack_on_time",
    "done",
    "done_on_time",
    "callbacks",
    "callbacks_satisfied",
    "ratings",
    "ratings_satisfied",
)
# The Issue fields a contribution reads; a change to any other field leaves the rollups alone.
FIELDS = (
    "created_at",
    "street_id",
    "community_id",
    "category_id",
    "assignee_org_id",
    "status",
    "acknowledged_on_time",
    "resolved_at",
    "resolved_on_time",
    "satisfaction",
    "resident_rating",
)
CHECK_META = "rollups_check"


def month_of(moment) -> date:
    """The first day of the Beijing month a UTC moment falls in."""
    local = moment + BEIJING_OFFSET
    return date(local.year, local.month, 1)


@dataclass(frozen=True)
class Contribution:
    """What one issue adds to the rollups: its row key, street, counts and hours to resolve (if resolved)."""

    key: tuple
    street_id: int
    counts: tuple  # (column, 1) pairs
    hours: int | None


def row_key(state: dict) -> tuple | None:
    """The rollup row an issue with these field values counts in."""
    if state.get("created_at") is None or state.get("community_id") is None:
        return None
    return (month_of(state["created_at"]), state["community_id"], state["category_id"], state["assignee_org_id"] or 0)


def contribution(state: dict) -> Contribution | None:
    """The contribution of an issue with these field values, or None."""
    key = row_key(state)
    if key is None:
        return None
    counts = Counter({state["status"]: 1})
    done = state["status"] in RESOLVED and state["resolved_at"] is not None
    if state["acknowledged_on_time"] is True and state["status"] != "withdrawn":
        counts["ack_on_time"] += 1
    if done:
        counts["done"] += 1
        if state["resolved_on_time"] is True:
            counts["done_on_time"] += 1
    answers = Figures()
    answers.count_answer(answer(state["status"], state["satisfaction"], state["resident_rating"]))
    for column in ("callbacks", "callbacks_satisfied", "ratings", "ratings_satisfied"):
        if getattr(answers, column):
            counts[column] += getattr(answers, column)
    hours = resolve_hours(state["created_at"], state["resolved_at"]) if done else None
    return Contribution(key, state["street_id"], tuple(sorted(counts.items())), hours)


class Delta:
    """Changes to the rollups gathered over a flush, applied as sorted upserts (sorted: no deadlocks)."""

    def __init__(self):
        self.rows: dict[tuple, Counter] = defaultdict(Counter)
        self.streets: dict[tuple, int] = {}
        self.added: set[tuple] = set()
        self.hours: Counter = Counter()

    def add(self, part: Contribution | None, sign: int) -> None:
        """Add (sign 1) or take away (sign -1) one issue's contribution."""
        if part is None:
            return
        # The row's 街镇 comes from what is added, never from a state being taken away (it may be stale).
        if sign > 0 or part.key not in self.streets:
            self.streets[part.key] = part.street_id
            if sign > 0:
                self.added.add(part.key)
        for column, n in part.counts:
            self.rows[part.key][column] += sign * n
        if part.hours is not None:
            self.hours[(part.key[0], part.street_id, part.hours)] += sign

    def apply(self, connection) -> None:
        """Write the changes in the current transaction."""
        dialect = connection.dialect.name
        rows = []
        for key in sorted(self.rows):
            counts = {column: n for column, n in self.rows[key].items() if n}
            if counts or key in self.added:  # a net change of nothing may still correct the 街镇
                rows.append(({**dict(zip(KEY, key, strict=True)), "street_id": self.streets[key], **counts}, key))
        # One statement per set of columns (executemany needs the same parameters in every row).
        by_columns = defaultdict(list)
        for row, key in rows:
            by_columns[(tuple(sorted(row)), key in self.added)].append(row)
        for (columns, added), batch in by_columns.items():
            statement = _rollup_upsert(dialect, tuple(c for c in columns if c in COUNTS), added)
            connection.execute(statement, [{**dict.fromkeys(COUNTS, 0), **row} for row in batch])
        hours = [
            {"month": m, "street_id": s, "hours": h, "issues": n} for (m, s, h), n in sorted(self.hours.items()) if n
        ]
        if hours:
            connection.execute(_hours_upsert(dialect), hours)


@cache
def _rollup_upsert(dialect: str, counted: tuple[str, ...], added: bool):
    """The upsert that adds to the `counted` columns of rollup rows (built once per engine and set of columns: a
    statement built anew costs more to build and to find in SQLAlchemy's cache than to run). `added`: the rows
    take the 街镇 of the issue added (the community's latest state)."""
    return _adding(engine_insert(IssueRollup.__table__, dialect), counted, added)


def _adding(statement, counted: tuple[str, ...], added: bool):
    """An INSERT into issue_rollup that, on a row already there, adds its `counted` columns to the row's (and,
    `added`, sets the row's 街镇 to the one inserted)."""
    table = IssueRollup.__table__
    increments = {column: table.c[column] + statement.excluded[column] for column in counted}
    if added:
        increments["street_id"] = statement.excluded.street_id
    return statement.on_conflict_do_update(index_elements=list(KEY), set_=increments)


@cache
def _hours_upsert(dialect: str):
    """The upsert that adds to the hours histogram."""
    table = ResolveHoursRollup.__table__
    statement = engine_insert(table, dialect)
    return statement.on_conflict_do_update(
        index_elements=["month", "street_id", "hours"],
        set_={"issues": table.c.issues + statement.excluded.issues},
    )


def counted_fields(issue: Issue) -> dict:
    """The fields a contribution reads, as the issue holds them now."""
    return {name: getattr(issue, name) for name in FIELDS}


def _states(issue: Issue) -> tuple[dict, dict]:
    """The counted fields of a stored issue before this flush and now (the same dict if none changed)."""
    state = inspect(issue)
    now, before, changed = {}, {}, False
    for name in FIELDS:
        history = state.attrs[name].history
        now[name] = before[name] = getattr(issue, name)
        if history.deleted:
            before[name] = history.deleted[0]
            changed = True
    return (before if changed else now), now


def _after_flush(session, flush_context) -> None:
    """Move each changed issue's contribution in the transaction that changed it."""
    if session.info.get("rollups_off"):
        return
    changes = [(None, counted_fields(obj)) for obj in session.new if isinstance(obj, Issue)]
    for obj in session.dirty:
        if isinstance(obj, Issue) and obj not in session.new:
            before, now = _states(obj)
            if before is not now:
                changes.append((before, now))
    deleted = [obj for obj in session.deleted if isinstance(obj, Issue)]
    if not changes and not deleted:
        return
    delta = Delta()
    for before, now in changes:
        if before is not None:
            delta.add(contribution(before), -1)
        delta.add(contribution(now), 1)
    for obj in deleted:
        delta.add(contribution(counted_fields(obj)), -1)
    delta.apply(session.connection())


def issue_added(issue: Issue) -> None:
    """The issue was inserted by a Core statement (filing, services/issues/lifecycle.py): add its contribution."""
    delta = Delta()
    delta.add(contribution(counted_fields(issue)), 1)
    delta.apply(db.session.connection())


def new_issue_parameters(fields: dict) -> tuple[tuple[str, ...], dict]:
    """What a new issue with these fields adds, as the parameters of new_issue_upsert: (the columns it counts
    in, the parameters, each named rollup_<column>: the row's key, its 街镇 and those counts). A new issue is
    never resolved: no hours."""
    part = contribution({name: fields.get(name) for name in FIELDS})
    if part is None or part.hours is not None:
        raise ValueError("a new issue counts in one rollup row and has no hours to resolve")
    counts = dict(part.counts)
    row = {**dict(zip(KEY, part.key, strict=True)), "street_id": part.street_id, **counts}
    return tuple(sorted(counts)), {f"rollup_{column}": value for column, value in row.items()}


def new_issue_upsert(source, counted: tuple[str, ...]):
    """PostgreSQL, inside a statement's WITH: add one new issue to its rollup row (new_issue_parameters) once
    for each row of `source` — the issue's INSERT, which gives no row when the issue was filed already — as
    issue_added would (the row takes the 街镇 of the issue added). The counts it does not add to are zero,
    written into the statement's text (locks.constant)."""
    table = IssueRollup.__table__
    columns = [*KEY, "street_id", *COUNTS]
    sent = {*KEY, "street_id", *counted}
    values = [
        bindparam(f"rollup_{column}", type_=table.c[column].type)
        if column in sent
        else constant(0, table.c[column].type)
        for column in columns
    ]
    return _adding(postgresql.insert(table).from_select(columns, select(*values).select_from(source)), counted, True)


def rating_changed(issue: Issue, old_rating: str | None) -> None:
    """The issue's resident_rating was set by a Core UPDATE (the issue holds the new value): move its answer."""
    now = counted_fields(issue)
    delta = Delta()
    delta.add(contribution({**now, "resident_rating": old_rating}), -1)
    delta.add(contribution(now), 1)
    delta.apply(db.session.connection())


def register_session_hooks(app) -> None:
    """Keep the rollups in step with every flush of the app's session (listening once per process: every app
    shares the scoped session)."""
    if not event.contains(db.session, "after_flush", _after_flush):
        event.listen(db.session, "after_flush", _after_flush)


# --- the nightly check ----------------------------------------------------------------------------


def expected() -> tuple[dict, dict]:
    """The rollup rows and hours histogram recomputed from the raw issues (key → counts)."""
    connection = db.session.connection()
    delta = Delta()
    columns = [getattr(Issue, name) for name in FIELDS]
    result = connection.execute(select(*columns).execution_options(yield_per=20000))
    for row in result:
        delta.add(contribution(dict(zip(FIELDS, row, strict=True))), 1)
    rows = {}
    for key, counts in delta.rows.items():
        rows[key] = {"street_id": delta.streets[key], **{column: counts.get(column, 0) for column in COUNTS}}
    return rows, {key: n for key, n in delta.hours.items() if n}


def stored() -> tuple[dict, dict]:
    """The rollup rows and hours histogram as they are in the database (all-zero rows left out)."""
    connection = db.session.connection()
    rows = {}
    for row in connection.execute(select(IssueRollup.__table__)).mappings():
        counts = {column: row[column] for column in COUNTS}
        if any(counts.values()):
            rows[tuple(row[k] for k in KEY)] = {"street_id": row["street_id"], **counts}
    table = ResolveHoursRollup.__table__
    hours = {(r.month, r.street_id, r.hours): r.issues for r in connection.execute(select(table)) if r.issues}
    return rows, hours


def compare(want: tuple[dict, dict], have: tuple[dict, dict]) -> list[str]:
    """Every way `have` (rows, hours) differs from `want`, as readable lines."""
    found = []
    for key in sorted(set(want[0]) | set(have[0]), key=str):
        a, b = want[0].get(key, {}), have[0].get(key, {})
        for column in ("street_id",) + COUNTS:
            if a.get(column, 0) != b.get(column, 0):
                found.append(f"rollup {key} {column}: raw {a.get(column, 0)}, stored {b.get(column, 0)}")
    for key in sorted(set(want[1]) | set(have[1]), key=str):
        if want[1].get(key, 0) != have[1].get(key, 0):
            found.append(f"hours {key}: raw {want[1].get(key, 0)}, stored {have[1].get(key, 0)}")
    return found


def _lock() -> None:
    """Hold off concurrent issue changes while the tables are recomputed (their flushes wait)."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE issue_rollup, resolve_hours_rollup IN EXCLUSIVE MODE"))
    else:  # SQLite: the first write takes the database's write lock until the commit
        connection.execute(delete(ResolveHoursRollup).where(ResolveHoursRollup.month == date(1900, 1, 1)))


def rebuild() -> int:
    """Replace both tables by their recomputation from the raw rows (e.g. after a bulk load); returns rows."""
    _lock()
    rows, hours = expected()
    _write(rows, hours)
    return len(rows)


def _write(rows: dict, hours: dict) -> None:
    """Replace both tables' rows (the caller holds the lock)."""
    connection = db.session.connection()
    connection.execute(delete(IssueRollup))
    connection.execute(delete(ResolveHoursRollup))
    batch = [{**dict(zip(KEY, key, strict=True)), **values} for key, values in rows.items()]
    for i in range(0, len(batch), 5000):
        connection.execute(IssueRollup.__table__.insert(), batch[i : i + 5000])
    batch = [{"month": m, "street_id": s, "hours": h, "issues": n} for (m, s, h), n in hours.items()]
    for i in range(0, len(batch), 5000):
        connection.execute(ResolveHoursRollup.__table__.insert(), batch[i : i + 5000])


def check(now=None) -> dict:
    """The nightly job: compare the rollups with the raw rows, log and keep every difference, rebuild.

    The caller commits. Returns {"checked_at", "rows", "differences": [...]}.
    """
    _lock()
    want = expected()
    found = compare(want, stored())
    if found:
        log.error("report rollups differ from the raw issues in %d place(s): %s", len(found), found[:20])
        _write(*want)
    result = {"checked_at": (now or utcnow()).isoformat(), "rows": len(want[0]), "differences": found[:100]}
    meta = db.session.get(AppMeta, CHECK_META) or AppMeta(key=CHECK_META)
    meta.value = json.dumps({**result, "difference_count": len(found)}, ensure_ascii=False, default=str)
    db.session.add(meta)
    return result


NIGHTLY_HOUR = 2  # Beijing time: the check runs in the first periodic round from 02:00


def check_if_due(now=None) -> dict | None:
    """Run the nightly check once per Beijing day, from NIGHTLY_HOUR on — or at once if the rollups were never
    checked (a database just migrated to them starts empty: the first periodic round fills them).
    None when it is not due."""
    now = now or utcnow()
    local = now + BEIJING_OFFSET
    last = last_check()
    if last is not None:
        if local.hour < NIGHTLY_HOUR:
            return None
        if (datetime.fromisoformat(last["checked_at"]) + BEIJING_OFFSET).date() >= local.date():
            return None
    result = check(now)
    db.session.commit()
    return result


def last_check() -> dict | None:
    """The latest nightly check's result, or None if it never ran."""
    meta = db.session.get(AppMeta, CHECK_META)
    return json.loads(meta.value) if meta else None
