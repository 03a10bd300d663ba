"""Years of district history on top of the demo tree: up to a million issues, for the capacity benchmarks.

    generate(n, years=3, seed=…, now=…)   yields n issue rows (dicts, as `insert(Issue)` takes them)
    load(n, …)                            inserts them (flush only: the caller commits) and returns counts
                                          and timings

The rows hold together with the tree and with the rules of services/issues/lifecycle.py:

- each issue sits in a 邻 and copies its 组/片/社区/街镇 ids and its compound from the node, and is filed
  by that 邻's 邻长; categories are the category table's active ones; references are the app's
  `WC-<year filed>-<id, 6+ digits>` with ids in filing order, after the table's current maximum;
- volume grows over the period (the last month has about 2.5× the first month's) and differs between
  streets and communities; filing happens in the daytime (Beijing time);
- statuses depend on age: old issues are almost all closed or resolved, some rejected, withdrawn or
  merged as duplicates (of an earlier issue of the same 邻), a few % still open (most of them recent);
  levels mostly 邻/组, fewer higher; about 6 % assigned to a responsible party serving the community
  (or the 街镇 office);
- acknowledged_at ≤ resolved_at ≤ closed_at, all after created_at and before `now`, as the status
  implies (rejected/withdrawn/duplicate set closed_at, a reopened issue has lost its resolution and was
  answered "unsatisfied"); acknowledged_on_time / resolved_on_time flags from the SLA policy;
  satisfaction on closed ones;
- open issues carry their current level's deadlines (`set_deadlines`); the sweep is taken to have been
  stopped for a while, so tens of thousands of them (at a million) are overdue and `sla.sweep()` has work.

Loading goes through the app's own path for history tables, DemoContext.insert_history of
demo/context.py (COPY on PostgreSQL, the driver's executemany on SQLite; SQLAlchemy's per-row
parameter processing would otherwise dominate), in batches, with one 'filed' timeline event per issue
(`events=False` leaves them out). Measured at a million issues on the 2-core development machine
(benchmarks/bench_full.py), the events add about a fifth to the insert time (SQLite 9 s on top of 52 s,
PostgreSQL 17 s on top of 77 s), which the 30-minute budget of that benchmark affords easily, so they
stay in. On SQLite the loader raises its connection's page cache while it loads (SQLITE_LOAD_CACHE_KIB).
Then, if services/reports/rollups.py has `rebuild()`, the report tables are recomputed from the raw rows (timed
on its own; `rebuild=False` leaves that to the caller).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import func, select

from ..extensions import db
from ..formatting import BEIJING_OFFSET
from ..models import (
    HANDLING_LEVELS,
    OPEN_STATUSES,
    Category,
    Issue,
    IssueEvent,
    Node,
    Organisation,
    RejectReason,
    RoleAssignment,
    SlaPolicy,
    organisation_community,
    utcnow,
)
from ..services.issues.lifecycle import deadlines_for
from .context import DAY, HOUR, DemoContext
from .replay import EVENT_COLUMNS, ISSUE_COLUMNS, LEVEL_RANK, reference_for

SEED = 20260501
# SQLite's default page cache (2 MB) makes every index insert of a big load a read from the OS: the
# loader raises it for its own connection while it loads (measured: 200,000 rows 17 s → 10 s).
SQLITE_LOAD_CACHE_KIB = 256 * 1024
# Beijing's offset in whole seconds, for the integer clock of filing hours (no summer time: exact).
BEIJING = int(BEIJING_OFFSET.total_seconds())
# Filing hours (Beijing time) and how busy each is.
FILING_HOURS = (7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)
FILING_WEIGHTS = (2, 6, 10, 10, 9, 5, 5, 8, 9, 9, 8, 6, 5, 4, 2)
# Handling level of issues that are not assigned to a party: mostly 邻/组.
LEVEL_WEIGHTS = (45, 30, 12, 9, 3, 1)
CATEGORY_WEIGHTS = {
    "road": 12,
    "lighting": 10,
    "sanitation": 14,
    "drainage": 9,
    "greenery": 7,
    "parking": 11,
    "lift": 6,
    "fire": 4,
    "cctv": 4,
    "signage": 3,
    "other": 8,
}
TITLES = {
    "road": ("路面坑洼积水", "人行道地砖松动", "小区主干道破损", "井盖缺失", "减速带损坏"),
    "lighting": ("路灯不亮", "楼道灯损坏", "路灯灯杆锈蚀", "地下车库照明不足"),
    "sanitation": ("垃圾清运不及时", "楼道堆放杂物", "垃圾桶破损", "绿化带内垃圾堆积"),
    "drainage": ("下水道堵塞", "雨水井反水", "化粪池外溢", "排水管破裂"),
    "greenery": ("树木枝叶遮挡窗户", "草坪无人养护", "枯树存在倒伏风险"),
    "parking": ("消防通道被占用", "乱停车堵塞道路", "非机动车棚损坏", "充电桩故障"),
    "lift": ("电梯停运", "电梯异响", "电梯按钮失灵"),
    "fire": ("消防栓无水", "灭火器过期", "楼道飞线充电"),
    "cctv": ("监控探头损坏", "门禁系统故障"),
    "signage": ("楼栋标识看不清", "路牌缺失"),
    "other": ("噪音扰民", "墙体渗水", "公共设施损坏"),
}
# Status of a closed-off (not open) issue, by weight; resolved ones wait for the callback.
DONE_STATUSES = ("closed", "resolved", "rejected", "withdrawn", "duplicate")
DONE_WEIGHTS = (82, 7, 4, 4, 3)
OPEN_CHOICES = ("reported", "acknowledged", "in_progress", "reopened")
OPEN_WEIGHTS = (30, 22, 38, 10)
ASSIGN_SHARE = 0.068  # of the issues that could have been assigned (≈ 6 % of all)
COLUMN_INDEX = {name: i for i, name in enumerate(ISSUE_COLUMNS)}
# The rest of a 'filed' event (EVENT_COLUMNS after id, issue_id, at, actor_id), as file_issue writes it.
FILED_EVENT = ("filed", None, "reported", None, "neighbour", "", True, None, None)
STAMP_COLUMNS = tuple(name for name in ISSUE_COLUMNS if name.endswith("_at"))


class Tree:
    """What the rows need from the database: the 邻 with their ancestors and 邻长, categories, SLA,
    rejection reasons, the parties serving each community and the first free ids."""

    def __init__(self) -> None:
        self.neighbours = [
            tuple(row)
            for row in db.session.execute(
                select(Node.id, Node.group_id, Node.zone_id, Node.community_id, Node.street_id, Node.compound_id)
                .where(Node.level == "neighbour")
                .order_by(Node.id)
            )
        ]
        self.leader: dict[int, int] = {}
        for node_id, person_id in db.session.execute(
            select(RoleAssignment.node_id, RoleAssignment.person_id)
            .where(RoleAssignment.role == "neighbour_leader")
            .order_by(RoleAssignment.id)
        ):
            self.leader.setdefault(node_id, person_id)
        self.neighbours = [row for row in self.neighbours if row[0] in self.leader]
        if not self.neighbours:
            raise RuntimeError("history needs a tree with 邻 and their 邻长 (load the demo world first)")
        self.categories = [
            (row.id, row.code)
            for row in db.session.execute(
                select(Category.id, Category.code).where(Category.active.is_(True)).order_by(Category.id)
            )
        ]
        if not self.categories:
            raise RuntimeError("no active category")
        self.sla = {(p.level, p.urgency): (p.ack_hours, p.resolve_hours) for p in db.session.scalars(select(SlaPolicy))}
        self.reasons = list(db.session.scalars(select(RejectReason.id).where(RejectReason.active.is_(True))))
        self.parties: dict[int, list[int]] = {}
        for org_id, community_id in db.session.execute(
            select(organisation_community.c.organisation_id, organisation_community.c.community_id).order_by(
                organisation_community.c.organisation_id
            )
        ):
            self.parties.setdefault(community_id, []).append(org_id)
        self.offices = dict(
            db.session.execute(
                select(Organisation.street_id, Organisation.id).where(
                    Organisation.kind == "street_office", Organisation.street_id.is_not(None)
                )
            ).all()
        )
        self.first_issue_id = (db.session.scalar(select(func.max(Issue.id))) or 0) + 1
        self.first_event_id = (db.session.scalar(select(func.max(IssueEvent.id))) or 0) + 1

    def hours(self, level: str, urgency: str) -> tuple[int, int]:
        """(hours to acknowledge, hours to resolve) at a level; the defaults when the policy has no row."""
        return self.sla.get((level, urgency)) or ((4, 24) if urgency == "urgent" else (24, 72))


def _timestamp(now: datetime | None) -> int:
    return int((now or utcnow()).timestamp())


def _filing_times(rng: random.Random, n: int, start: int, end: int) -> list[int]:
    """n filing moments in [start, end), sorted, with linearly growing density, in the daytime."""
    growth = 1.5  # density at the end ÷ density at the start − 1
    span = end - start
    hours = rng.choices(FILING_HOURS, weights=FILING_WEIGHTS, k=n)
    moments = []
    for hour in hours:
        r = rng.random()
        # Inverse of the CDF of a density ∝ 1 + growth·u on [0, 1).
        u = (math.sqrt(1 + 2 * growth * r * (1 + growth / 2)) - 1) / growth
        moment = start + int(u * span)
        midnight = moment - (moment + BEIJING) % DAY  # Beijing midnight, as epoch seconds
        filed = midnight + hour * HOUR + rng.randrange(HOUR)
        moments.append(filed if start <= filed < end else moment)
    moments.sort()
    return moments


def _weights(rng: random.Random, tree: Tree) -> list[float]:
    """Cumulative weight of each 邻: streets and communities differ, 邻 within them a little."""
    street_factor: dict[int, float] = {}
    community_factor: dict[int, float] = {}
    cumulative, total = [], 0.0
    for _node, _group, _zone, community, street, _compound in tree.neighbours:
        if street not in street_factor:
            street_factor[street] = rng.lognormvariate(0, 0.6)
        if community not in community_factor:
            community_factor[community] = rng.lognormvariate(0, 0.5)
        total += street_factor[street] * community_factor[community] * (0.5 + rng.random())
        cumulative.append(total)
    return cumulative


def rows(  # noqa: C901 - one row's status, timestamps and deadlines decided together, in one pass for speed
    n: int, *, years: float = 3, seed: int = SEED, now: datetime | None = None, tree: Tree | None = None
) -> Iterator[tuple]:
    """The issue rows as tuples in replay.ISSUE_COLUMNS order, timestamps as epoch seconds (the form
    DemoContext.insert_history takes), ids from the table's first free one, in filing order."""
    tree = tree or Tree()
    rng = random.Random(f"{seed}:history")
    end = _timestamp(now) - 60
    start = end - int(years * 365.25 * DAY)
    moments = _filing_times(rng, n, start, end)
    picks = rng.choices(tree.neighbours, cum_weights=_weights(rng, tree), k=n)
    category_ids = [cid for cid, _code in tree.categories]
    category_codes = dict(tree.categories)
    categories = rng.choices(category_ids, weights=[CATEGORY_WEIGHTS.get(c, 5) for _i, c in tree.categories], k=n)
    last_in: dict[int, int] = {}  # 邻 → its latest issue id (what a duplicate is merged into)
    lognormal = rng.lognormvariate
    random_ = rng.random
    for index in range(n):
        issue_id = tree.first_issue_id + index
        created = moments[index]
        node, group, zone, community, street, compound = picks[index]
        category = categories[index]
        code = category_codes[category]
        urgency = "urgent" if random_() < 0.08 else "normal"
        age = end - created
        p_open = 0.85 if age < 2 * DAY else 0.55 if age < 14 * DAY else 0.12 if age < 90 * DAY else 0.012
        if random_() < p_open:
            status = rng.choices(OPEN_CHOICES, weights=OPEN_WEIGHTS)[0]
        else:
            status = rng.choices(DONE_STATUSES, weights=DONE_WEIGHTS)[0]
        if status == "duplicate" and node not in last_in:
            status = "rejected"
        level = rng.choices(HANDLING_LEVELS, weights=LEVEL_WEIGHTS)[0]
        rank = LEVEL_RANK[level]
        ack_h, res_h = tree.hours("neighbour", urgency)
        acknowledged = resolved = closed = reopened_at = None
        ack_on_time = resolve_on_time = satisfaction = None
        assignee = state = assigned = accepted = reason = duplicate_of = None
        ack_due = resolve_due = next_due = None
        # The steps after filing, as offsets from created_at (scaled down below if they end after now).
        steps: dict[str, float] = {}
        if status in ("rejected", "withdrawn", "duplicate"):
            was_acknowledged = random_() < 0.3  # some are turned down or withdrawn after 受理
        else:
            was_acknowledged = status != "reported"
        if status == "reported":
            # Still unacknowledged: each missed acknowledgement deadline moved it up one level.
            rank = min(rank, int(age // (ack_h * HOUR)))
            level = HANDLING_LEVELS[rank]
        t = 0.0
        if was_acknowledged:
            t = lognormal(math.log(ack_h * HOUR * 0.3), 1.0)
            steps["acknowledged"] = t
        if status not in ("reported", "rejected", "withdrawn", "duplicate") and random_() < ASSIGN_SHARE:
            parties = tree.parties.get(community, [])
            office = tree.offices.get(street)
            choices = parties + ([office] if office else [])
            if choices:
                assignee = rng.choice(choices)
                level = "community" if random_() < 0.85 else "street"
                rank = LEVEL_RANK[level]
                t += lognormal(math.log(6 * HOUR), 0.8)
                steps["assigned"] = t
                if status != "acknowledged" or random_() < 0.5:
                    t += lognormal(math.log(4 * HOUR), 0.8)
                    steps["accepted"] = t
        escalated_late = rank > 0 and random_() < 0.35  # the sweep moved it at least once
        if status in ("resolved", "closed", "reopened"):
            t = max(t + 60, lognormal(math.log(res_h * HOUR * 0.5 * (1 + 0.5 * rank)), 0.9))
            steps["resolved"] = t
            if status != "resolved":
                t += lognormal(math.log(36 * HOUR), 0.8)
                steps["closed" if status == "closed" else "reopened"] = t
        elif status in ("rejected", "withdrawn", "duplicate"):
            t += lognormal(math.log(16 * HOUR), 1.0)
            steps["closed"] = t
        elif status in ("acknowledged", "in_progress") and rank > 0:
            steps["entered"] = t + random_() * max(age - t, 0) * 0.5
        # Everything happened before now: squeeze the steps of a recent issue into its age.
        last = max(steps.values(), default=0.0)
        squeeze = min(1.0, (age - 30) / last) if last > 0 else 1.0
        at = {step: created + int(offset * squeeze) for step, offset in steps.items()}
        if "acknowledged" in at:
            acknowledged = at["acknowledged"]
            ack_on_time = acknowledged - created <= ack_h * HOUR
        if "assigned" in at:
            assigned = at["assigned"]
            accepted = at.get("accepted")
            state = "accepted" if accepted is not None else "pending"
        if status in ("resolved", "closed"):
            resolved = at["resolved"]
            resolve_on_time = resolved - created <= res_h * HOUR * (1 + rank) and not escalated_late
        if status == "closed":
            closed = at["closed"]
            roll = random_()
            satisfaction = "satisfied" if roll < 0.78 else "basically_satisfied" if roll < 0.96 else None
        elif status == "reopened":
            reopened_at = at["reopened"]
            satisfaction = "unsatisfied"
        elif status in ("rejected", "withdrawn", "duplicate"):
            closed = at["closed"]
            if status == "rejected":
                reason = rng.choice(tree.reasons) if tree.reasons else None
            elif status == "duplicate":
                duplicate_of = last_in[node]
        # lifecycle.set_deadlines at the moment the issue entered its current state and level.
        if status in OPEN_STATUSES:
            if status == "reported":
                entered = created + rank * ack_h * HOUR
            elif status == "reopened":
                entered = reopened_at
            else:
                entered = at.get("entered", at.get("accepted", at.get("assigned", created)))
            ack_due, resolve_due, next_due = deadlines_for(status, tree.hours(level, urgency), entered, HOUR)
        updated = max([created, *at.values()])
        last_in[node] = issue_id
        yield (
            issue_id,
            reference_for(created, issue_id),
            category,
            rng.choice(TITLES.get(code, ("问题",))),
            "",
            compound,
            None,  # building_id
            f"{rng.randint(1, 30)}栋" if compound else "",
            "",  # resident_name
            "",  # resident_phone
            node,
            group,
            zone,
            community,
            street,
            urgency,
            "high" if random_() < 0.03 else "normal",
            tree.leader[node],
            None,  # idempotency_key
            None,  # latitude
            None,  # longitude
            status,
            level,
            assignee,
            state if status in OPEN_STATUSES or state == "accepted" else None,
            assigned,
            accepted,
            reason,
            duplicate_of,
            ack_due,
            resolve_due,
            next_due,
            created,
            updated,
            acknowledged,
            resolved,
            closed,
            satisfaction,
            1,  # version
            ack_on_time,
            resolve_on_time,
        )


def generate(
    n: int, *, years: float = 3, seed: int = SEED, now: datetime | None = None, tree: Tree | None = None
) -> Iterator[dict]:
    """n issue rows as dicts of Issue columns (aware UTC datetimes), ready for `insert(Issue)`."""
    stamps = [COLUMN_INDEX[name] for name in STAMP_COLUMNS]
    for row in rows(n, years=years, seed=seed, now=now, tree=tree):
        values = list(row)
        for i in stamps:
            if values[i] is not None:
                values[i] = datetime.fromtimestamp(values[i], UTC)
        yield dict(zip(ISSUE_COLUMNS, values, strict=True))


def load(
    n: int,
    *,
    years: float = 3,
    seed: int = SEED,
    now: datetime | None = None,
    events: bool = True,
    batch: int = 20_000,
    rebuild: bool = True,
) -> dict:
    """Insert n issues (and a 'filed' event each) through the app's history loader; flush only.

    Returns counts and seconds: generating the rows, inserting issues, inserting events, moving the
    id sequences, and the report tables' rebuild (None when services/reports/rollups.py has no rebuild())."""
    started = time.perf_counter()
    tree = Tree()
    ctx = DemoContext(scale=1.0)
    previous_cache = _sqlite_cache(SQLITE_LOAD_CACHE_KIB)
    timings = {"generate_s": 0.0, "issues_s": 0.0, "events_s": 0.0}
    event_id = tree.first_event_id
    source = rows(n, years=years, seed=seed, now=now, tree=tree)
    done = overdue = opened = 0
    deadline_now = _timestamp(now)
    next_due_index = COLUMN_INDEX["next_deadline_at"]
    status_index = COLUMN_INDEX["status"]
    created_index, filer_index = COLUMN_INDEX["created_at"], COLUMN_INDEX["filed_by_id"]
    while done < n:
        mark = time.perf_counter()
        chunk = [row for _, row in zip(range(batch), source, strict=False)]
        if not chunk:
            break
        filed = []
        if events:
            filed = [
                (event_id + i, row[0], row[created_index], row[filer_index], *FILED_EVENT)
                for i, row in enumerate(chunk)
            ]
        event_id += len(filed)
        for row in chunk:
            if row[status_index] in OPEN_STATUSES:
                opened += 1
                if row[next_due_index] is not None and row[next_due_index] <= deadline_now:
                    overdue += 1
        timings["generate_s"] += time.perf_counter() - mark
        mark = time.perf_counter()
        ctx.insert_history(Issue, ISSUE_COLUMNS, chunk)
        timings["issues_s"] += time.perf_counter() - mark
        if filed:
            mark = time.perf_counter()
            ctx.insert_history(IssueEvent, EVENT_COLUMNS, filed)
            timings["events_s"] += time.perf_counter() - mark
        done += len(chunk)
    if previous_cache is not None:
        _sqlite_cache(previous_cache)
    mark = time.perf_counter()
    ctx.sync_sequences()
    db.session.flush()
    timings["sequences_s"] = time.perf_counter() - mark
    timings["load_s"] = time.perf_counter() - started
    timings["rollups_s"] = rebuild_rollups() if rebuild else None
    return {"issues": done, "events": event_id - tree.first_event_id, "open": opened, "overdue": overdue, **timings}


def _sqlite_cache(kib: int) -> int | None:
    """On SQLite, set the page cache of the session's connection (KiB; negative pragma values are KiB)
    and return the previous setting (as a positive KiB figure); None on other engines."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return None
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{abs(kib)}")
    return abs(previous) if previous < 0 else previous * 4  # pages of 4 KiB


def rebuild_rollups() -> float | None:
    """Recompute the report tables from the raw rows, if services/reports/rollups.py offers it; seconds taken."""
    try:
        from ..services.reports import rollups
    except ImportError:
        return None
    rebuild = getattr(rollups, "rebuild", None)
    if rebuild is None:
        return None
    started = time.perf_counter()
    rebuild()
    db.session.flush()
    return time.perf_counter() - started
