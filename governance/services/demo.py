"""The demo world (演示数据): the whole 望城区 tree at full size, its leaders, places and organisations
(and the communities each serves), the 31 普瑞斯堡 issues and six months of the district's issues with
their timelines, triage (assignments, merges, rejections, priorities), followers and audit log.

`load_demo_world()` runs the functions of DEMO_STEPS in order, each receiving one DemoContext that
carries the ids later steps need (the 普瑞斯堡 compound, its community, its 片/组/邻, the demo people,
the 普瑞斯堡 issues). Later work adds its own demo data (funding, …) by appending a step to DEMO_STEPS.

Bulk rows go in through Core inserts with ids computed here: the ORM would need a round trip per
node to learn the parent's id, and 40,000 rows must load in seconds on SQLite and PostgreSQL alike.
The issue history (a quarter of a million rows) goes straight through the driver (insert_history).
Nothing here commits: run.py and `flask demo load` commit once when the whole world is built.
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from sqlalchemy import func, select, text
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import (
    HANDLING_LEVELS,
    OPEN_STATUSES,
    PRIORITIES,
    AppMeta,
    AuditEntry,
    Building,
    Category,
    Compound,
    FundingSource,
    Issue,
    IssueEvent,
    IssueFollower,
    LedgerEntry,
    Node,
    Notification,
    Organisation,
    Person,
    Phase,
    Project,
    RejectReason,
    RoleAssignment,
    SlaPolicy,
    ledger_entry_issue,
    organisation_community,
    utcnow,
)
from .issues.lifecycle import MERGE_REFUSED, NOTE_REQUIRED, TRANSITIONS
from .platform.audit import STATUS_ACTION
from .triage.operations import MAX_ASSIGN_DAYS

META_KEY = "demo_world"
DEMO_PASSWORD = "demo-2026"
# Full-size totals of the district (DESIGN §1); scale < 1 shrinks them, never below one per parent.
FULL_COMMUNITIES = 130
FULL_ZONES = 1062
FULL_GROUPS = 4018
FULL_NEIGHBOURS = 15659
# Fixed so the world is identical on every load; each step draws from its own stream (see DemoContext.rng)
# so adding a step never changes what the earlier ones build.
SEED = 20260415
BATCH = 5000

DISTRICT_NAME = "望城区"
# Made-up 街镇: 街道 hold 社区, 镇 hold 村.
STREETS = (
    *("云栖街道", "柳岸街道", "枫桥街道", "银湖街道", "清溪街道", "临江街道"),
    *("荷塘镇", "杏花镇", "竹溪镇", "石泉镇", "稻香镇"),
)
PRUISBURG_STREET = "云栖街道"
PRUISBURG_COMMUNITY = "金湾"  # + 社区
PRUISBURG = "普瑞斯堡"
PRUISBURG_BUILDINGS = 12
# The 普瑞斯堡 片 is laid out by stairwell: 4 组 of 3 buildings, each building's 2 单元 a 邻.
PRUISBURG_GROUPS = 4
PRUISBURG_UNITS = 2
# Other compounds: (name, street, community index within the street, buildings).
OTHER_COMPOUNDS = (
    ("枫桥花园", "枫桥街道", 0, 8),
    ("银湖雅苑", "银湖街道", 1, 6),
    ("临江名邸", "临江街道", 0, 10),
    ("荷塘新村", "荷塘镇", 0, 5),
)

PROPERTY_COMPANY = "普瑞物业服务有限公司"
DEVELOPER = "湘瑞置业发展有限公司"
OTHER_PROPERTY_COMPANY = "安居物业管理有限公司"
DEPARTMENTS = ("区住建局", "区城管局", "区市政局", "区水务局", "区交通运输局")
# How many communities each department is paired with (organisation_community), and the departments
# that always serve 金湾社区 (its branch hands drainage and road works outside the compound to them).
DEPARTMENT_REACH = (8, 16)
PRUISBURG_DEPARTMENTS = ("区市政局", "区水务局")

DEMO_LOGINS: list[dict] = [
    {"key": "district_admin", "label": "区管理员 district admin", "mobile": "13900000001", "password": DEMO_PASSWORD},
    {
        "key": "branch_member",
        "label": "金湾社区党支部 branch member",
        "mobile": "13900000002",
        "password": DEMO_PASSWORD,
    },
    {"key": "zone_leader", "label": "普瑞斯堡片长 zone leader", "mobile": "13900000003", "password": DEMO_PASSWORD},
    {"key": "group_leader", "label": "普瑞斯堡组长 group leader", "mobile": "13900000004", "password": DEMO_PASSWORD},
    {
        "key": "neighbour_leader",
        "label": "普瑞斯堡邻长 neighbour leader",
        "mobile": "13900000005",
        "password": DEMO_PASSWORD,
    },
    {"key": "property_staff", "label": "普瑞物业 property company", "mobile": "13900000006", "password": DEMO_PASSWORD},
]
# Fixed names so the demo script can say who to log in as.
DEMO_NAMES = {
    "district_admin": "周建国",
    "branch_member": "李红梅",
    "zone_leader": "王建华",
    "group_leader": "陈秀英",
    "neighbour_leader": "刘志强",
    "property_staff": "赵明轩",
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田"
    "董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰志红华建国文辉玉梅凤珍金海林波斌宇浩凯俊鹏飞鑫"
    "婷雪琳晨欣怡雨思佳子涵博文慧琴云莲春秋冬松柏荣昌盛福寿德新"
)
# Two-character roots for community names; combined, shuffled, unique across the district.
NAME_FIRST = "金银玉锦翠碧丹紫青白云月星阳春秋和安康福泰兴华新乐宁永长东南西北"
NAME_SECOND = "湾湖桥塘坪山岭园林溪港洲坡苑庄冲坝岗堤滩"


@dataclass
class DemoContext:
    """What the steps share: the clock, the counts so far and the ids later steps build on."""

    scale: float
    now: datetime = field(default_factory=utcnow)
    counts: dict[str, int] = field(default_factory=dict)
    district_id: int | None = None
    # Street id → (name, is_town); community id → (name, street id, kind).
    streets: dict[int, tuple[str, bool]] = field(default_factory=dict)
    communities: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    zone_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    neighbour_ids: list[int] = field(default_factory=list)
    # 普瑞斯堡: its compound, community, street, 片, 组 and 邻 (the 邻 by group, in order).
    compound_id: int | None = None
    community_id: int | None = None
    street_id: int | None = None
    zone_id: int | None = None
    compound_group_ids: list[int] = field(default_factory=list)
    compound_neighbour_ids: list[list[int]] = field(default_factory=list)
    building_ids: dict[str, int] = field(default_factory=dict)
    # Other compounds: name → (compound id, community id).
    other_compounds: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Organisation name → id; the 普瑞斯堡 property company and developer also by role.
    organisations: dict[str, int] = field(default_factory=dict)
    property_org_id: int | None = None
    developer_org_id: int | None = None
    # Community id → the organisations that serve it (organisation_community); 街镇 id → its office.
    paired: dict[int, set[int]] = field(default_factory=dict)
    offices: dict[int, int] = field(default_factory=dict)
    # DEMO_LOGINS key → person id.
    people: dict[str, int] = field(default_factory=dict)
    # The 31 普瑞斯堡 issues, in the order of PRUISBURG_ISSUES (funding links its spending to them).
    pruisburg_issue_ids: list[int] = field(default_factory=list)
    _next_id: dict[str, int] = field(default_factory=dict)
    _touched: set[str] = field(default_factory=set)

    def rng(self, stream: str) -> random.Random:
        """A deterministic random stream of its own for one step."""
        return random.Random(f"{SEED}:{stream}")

    def scaled(self, full: int, minimum: int) -> int:
        """A full-size total shrunk by the scale, never below what the tree's shape needs."""
        return max(minimum, round(full * self.scale))

    def allocate(self, model, n: int) -> list[int]:
        """Reserve n fresh ids of a table, after both its current max and any earlier reservation."""
        table = model.__tablename__
        current = db.session.scalar(select(func.max(model.id))) or 0
        start = max(current + 1, self._next_id.get(table, 1))
        self._next_id[table] = start + n
        return list(range(start, start + n))

    def insert(self, model, rows: list[dict]) -> None:
        """Insert rows (ids included) with Core in large batches."""
        for i in range(0, len(rows), BATCH):
            db.session.execute(model.__table__.insert(), rows[i : i + BATCH])
        if rows:
            self._touched.add(model.__tablename__)

    def insert_history(self, model, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert many rows straight through the driver: executemany on SQLite, COPY on PostgreSQL.

        The history tables run to hundreds of thousands of rows, and SQLAlchemy's per-row parameter
        processing would take most of the load time. Columns named `at` or `*_at` hold whole epoch
        seconds here and are written as SQLAlchemy writes a UTCDateTime: naive UTC text on SQLite
        (same format, so comparisons and reads agree), timestamptz on PostgreSQL.
        """
        if not rows:
            return
        table = model.__tablename__
        stamps = [i for i, name in enumerate(columns) if name == "at" or name.endswith("_at")]
        postgres = db.session.get_bind().dialect.name == "postgresql"
        converted = stamps_as_text(rows, stamps, postgres)
        names = ", ".join(f'"{c}"' for c in columns)
        connection = db.session.connection().connection.driver_connection
        if postgres:
            with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in converted:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', converted)
        if "id" in columns:  # a table without an id column has no sequence to move on
            self._touched.add(table)

    def sync_sequences(self) -> None:
        """On PostgreSQL, move each touched table's id sequence past the explicit ids, so ORM inserts fit after."""
        if db.session.get_bind().dialect.name == "postgresql":
            for table in sorted(self._touched):
                db.session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")
                )
        self._touched.clear()


@functools.cache
def _clock_text(suffix: str) -> list[str]:
    """'HH:MM:SS' plus a suffix for every second of a day (".000000" as SQLAlchemy writes SQLite, "+00")."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(86400)]


def stamps_as_text(rows, stamps: list[int], postgres: bool) -> list[list]:
    """Rows with their epoch-second stamps (at the `stamps` indexes) as the text the driver loads fastest."""
    # Text for a whole second: the date part per day (a few hundred of them), the clock part from a table.
    days: dict[int, str] = {}
    clock = _clock_text("+00" if postgres else ".000000")
    converted = []
    for row in rows:
        row = list(row)
        for i in stamps:
            stamp = row[i]
            if stamp is not None:
                day, second = divmod(stamp, 86400)
                date = days.get(day)
                if date is None:
                    date = days[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86400))
                row[i] = date + clock[second]
        converted.append(row)
    return converted


def spread(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split total over the weights, each getting at least `minimum` (largest remainder, deterministic)."""
    extra = total - minimum * len(weights)
    if extra < 0:
        raise ValueError(f"cannot spread {total} over {len(weights)} with at least {minimum} each")
    whole = sum(weights)
    shares = [extra * w / whole for w in weights]
    counts = [minimum + int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (int(shares[i]) - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def node_row(node_id: int, level: str, name: str, parent: dict | None, kind: str | None = None) -> dict:
    """A node row with its ancestor columns filled exactly as tree.add_node fills them."""
    row = {
        "id": node_id,
        "level": level,
        "name": name,
        "kind": kind,
        "parent_id": parent["id"] if parent else None,
        "street_id": parent["street_id"] if parent else None,
        "community_id": parent["community_id"] if parent else None,
        "zone_id": parent["zone_id"] if parent else None,
        "group_id": parent["group_id"] if parent else None,
        "compound_id": parent["compound_id"] if parent else None,
    }
    if level not in ("district", "neighbour"):
        row[f"{level}_id"] = node_id
    return row


def person_name(rng: random.Random) -> str:
    """A plausible made-up Chinese name: a surname and one or two given characters."""
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(SURNAMES) + given


def build_tree_top(ctx: DemoContext) -> None:
    """The district, its 11 街镇 and their 社区/村."""
    rng = ctx.rng("tree-top")
    district_id = ctx.allocate(Node, 1)[0]
    district = node_row(district_id, "district", DISTRICT_NAME, None)
    street_rows = [
        node_row(i, "street", name, district, kind="镇" if name.endswith("镇") else "街道")
        for i, name in zip(ctx.allocate(Node, len(STREETS)), STREETS, strict=True)
    ]
    # Towns are bigger in area but have fewer, smaller villages per head than the urban streets.
    per_street = spread(FULL_COMMUNITIES, [rng.uniform(0.7, 1.5) for _ in STREETS], minimum=8)
    roots = [a + b for a in NAME_FIRST for b in NAME_SECOND if a + b != PRUISBURG_COMMUNITY]
    rng.shuffle(roots)
    community_rows = []
    ids = iter(ctx.allocate(Node, sum(per_street)))
    for street, count in zip(street_rows, per_street, strict=True):
        kind = "村" if street["kind"] == "镇" else "社区"
        for index in range(count):
            root = roots.pop()
            # 金湾社区 sits third in its street so it is not simply "the first one".
            if street["name"] == PRUISBURG_STREET and index == 2:
                root = PRUISBURG_COMMUNITY
            row = node_row(next(ids), "community", root + kind, street, kind=kind)
            community_rows.append(row)
            ctx.communities[row["id"]] = (row["name"], street["id"], kind)
            if root == PRUISBURG_COMMUNITY:
                ctx.community_id, ctx.street_id = row["id"], street["id"]
    # Level by level: every row's parent must exist before it does.
    for rows in ([district], street_rows, community_rows):
        ctx.insert(Node, rows)
    ctx.district_id = district_id
    ctx.streets = {r["id"]: (r["name"], r["kind"] == "镇") for r in street_rows}
    ctx.counts.update(streets=len(street_rows), communities=len(community_rows))


def build_places(ctx: DemoContext) -> None:
    """The 普瑞斯堡 compound with 1栋…12栋, and a few other compounds."""
    by_street: dict[str, list[int]] = {}
    for community_id, (_name, street_id, _kind) in ctx.communities.items():
        by_street.setdefault(ctx.streets[street_id][0], []).append(community_id)
    wanted = [(PRUISBURG, ctx.community_id, PRUISBURG_BUILDINGS)]
    wanted += [(name, sorted(by_street[street])[index], n) for name, street, index, n in OTHER_COMPOUNDS]
    compound_ids = ctx.allocate(Compound, len(wanted))
    compound_rows = [
        {"id": i, "community_id": community_id, "name": name}
        for i, (name, community_id, _n) in zip(compound_ids, wanted, strict=True)
    ]
    ctx.insert(Compound, compound_rows)
    building_rows = []
    building_ids = iter(ctx.allocate(Building, sum(n for _name, _c, n in wanted)))
    for compound_id, (name, community_id, n) in zip(compound_ids, wanted, strict=True):
        for b in range(1, n + 1):
            building_rows.append({"id": next(building_ids), "compound_id": compound_id, "name": f"{b}栋"})
        if name == PRUISBURG:
            ctx.compound_id = compound_id
        else:
            ctx.other_compounds[name] = (compound_id, community_id)
    ctx.insert(Building, building_rows)
    ctx.building_ids = {r["name"]: r["id"] for r in building_rows if r["compound_id"] == ctx.compound_id}
    ctx.counts.update(compounds=len(wanted), buildings=len(building_rows))


def build_tree_cells(ctx: DemoContext) -> None:
    """The 片, 组 and 邻 of every community, exactly 1,062 / 4,018 / 15,659 at full size."""
    rng = ctx.rng("tree-cells")
    communities = sorted(ctx.communities)
    fixed_neighbours = PRUISBURG_BUILDINGS * PRUISBURG_UNITS
    n_zones = ctx.scaled(FULL_ZONES, len(communities))
    n_groups = ctx.scaled(FULL_GROUPS, n_zones - 1 + PRUISBURG_GROUPS)
    n_neighbours = ctx.scaled(FULL_NEIGHBOURS, n_groups - PRUISBURG_GROUPS + fixed_neighbours)
    # Urban 社区 are denser than villages, and sizes vary a lot: lognormal weights give a long tail.
    zone_weights = [
        rng.lognormvariate(0, 0.45) * (1.3 if ctx.communities[c][2] == "社区" else 0.8) for c in communities
    ]
    zones_per = spread(n_zones, zone_weights)
    compound_of = {community_id: compound_id for compound_id, community_id in ctx.other_compounds.values()}
    compound_of[ctx.community_id] = ctx.compound_id

    zone_rows, zone_ids = [], iter(ctx.allocate(Node, n_zones))
    for community_id, count in zip(communities, zones_per, strict=True):
        name, street_id, kind = ctx.communities[community_id]
        parent = {"id": community_id, "street_id": street_id, "community_id": community_id}
        parent.update(zone_id=None, group_id=None, compound_id=None)
        for z in range(1, count + 1):
            row = node_row(next(zone_ids), "zone", f"第{z}片", parent)
            # The first 片 of a compound's community covers that compound.
            if z == 1 and community_id in compound_of:
                row["compound_id"] = compound_of[community_id]
            zone_rows.append(row)
    ctx.insert(Node, zone_rows)
    ctx.zone_id = next(r["id"] for r in zone_rows if r["compound_id"] == ctx.compound_id)

    others = [r for r in zone_rows if r["id"] != ctx.zone_id]
    groups_per = dict(
        zip(
            [r["id"] for r in others],
            spread(n_groups - PRUISBURG_GROUPS, [rng.lognormvariate(0, 0.35) for _ in others]),
            strict=True,
        )
    )
    groups_per[ctx.zone_id] = PRUISBURG_GROUPS
    group_rows, group_ids = [], iter(ctx.allocate(Node, n_groups))
    for zone in zone_rows:
        for g in range(1, groups_per[zone["id"]] + 1):
            group_rows.append(node_row(next(group_ids), "group", f"第{g}组", zone))
    ctx.insert(Node, group_rows)

    compound_groups = [r for r in group_rows if r["zone_id"] == ctx.zone_id]
    others = [r for r in group_rows if r["zone_id"] != ctx.zone_id]
    neighbours_per = dict(
        zip(
            [r["id"] for r in others],
            spread(n_neighbours - fixed_neighbours, [rng.lognormvariate(0, 0.35) for _ in others]),
            strict=True,
        )
    )
    neighbour_rows, neighbour_ids = [], iter(ctx.allocate(Node, n_neighbours))
    for group in group_rows:
        if group["zone_id"] == ctx.zone_id:
            continue
        for n in range(1, neighbours_per[group["id"]] + 1):
            neighbour_rows.append(node_row(next(neighbour_ids), "neighbour", f"第{n}邻", group))
    # In 普瑞斯堡 a 邻 is one stairwell, so residents find theirs by building and unit.
    per_group = PRUISBURG_BUILDINGS // PRUISBURG_GROUPS
    for g, group in enumerate(compound_groups):
        ids = []
        for b in range(g * per_group + 1, (g + 1) * per_group + 1):
            for u in range(1, PRUISBURG_UNITS + 1):
                row = node_row(next(neighbour_ids), "neighbour", f"{b}栋{u}单元", group)
                neighbour_rows.append(row)
                ids.append(row["id"])
        ctx.compound_neighbour_ids.append(ids)
    ctx.insert(Node, neighbour_rows)

    ctx.zone_ids = [r["id"] for r in zone_rows]
    ctx.group_ids = [r["id"] for r in group_rows]
    ctx.neighbour_ids = [r["id"] for r in neighbour_rows]
    ctx.compound_group_ids = [r["id"] for r in compound_groups]
    ctx.counts.update(zones=len(zone_rows), groups=len(group_rows), neighbours=len(neighbour_rows))


def build_organisations(ctx: DemoContext) -> None:
    """Responsible parties: 普瑞斯堡's property company and developer, district departments, 街镇 offices."""
    wanted = [(PROPERTY_COMPANY, "property", None), (OTHER_PROPERTY_COMPANY, "property", None)]
    wanted.append((DEVELOPER, "developer", None))
    wanted += [(name, "department", None) for name in DEPARTMENTS]
    for street_id, (name, is_town) in sorted(ctx.streets.items()):
        wanted.append((name + ("人民政府" if is_town else "办事处"), "street_office", street_id))
    ids = ctx.allocate(Organisation, len(wanted))
    rows = [
        {"id": i, "kind": kind, "name": name, "street_id": street_id, "active": True}
        for i, (name, kind, street_id) in zip(ids, wanted, strict=True)
    ]
    ctx.insert(Organisation, rows)
    ctx.organisations = {r["name"]: r["id"] for r in rows}
    ctx.property_org_id = ctx.organisations[PROPERTY_COMPANY]
    ctx.developer_org_id = ctx.organisations[DEVELOPER]
    ctx.offices = {r["street_id"]: r["id"] for r in rows if r["kind"] == "street_office"}
    ctx.counts["organisations"] = len(rows)
    pair_organisations(ctx)


def pair_organisations(ctx: DemoContext) -> None:
    """Which communities each party serves: 普瑞斯堡's three companies its community (the other property
    company also the other compounds'), each district department a handful; 街镇 offices need none."""
    rng = ctx.rng("organisation-communities")
    other_property = ctx.organisations[OTHER_PROPERTY_COMPANY]
    pairs = {(org_id, ctx.community_id) for org_id in (ctx.property_org_id, ctx.developer_org_id, other_property)}
    pairs |= {(other_property, community_id) for _compound, community_id in ctx.other_compounds.values()}
    communities = sorted(ctx.communities)
    for name in DEPARTMENTS:
        org_id = ctx.organisations[name]
        pairs |= {(org_id, community_id) for community_id in rng.sample(communities, rng.randint(*DEPARTMENT_REACH))}
    pairs |= {(ctx.organisations[name], ctx.community_id) for name in PRUISBURG_DEPARTMENTS}
    for org_id, community_id in pairs:
        ctx.paired.setdefault(community_id, set()).add(org_id)
    db.session.execute(
        organisation_community.insert(),
        [{"organisation_id": o, "community_id": c} for o, c in sorted(pairs)],
    )
    ctx.counts["organisation_communities"] = len(pairs)


def build_people(ctx: DemoContext) -> None:
    """A leader for every 片/组/邻, branch members, admins and staff; only the demo logins can log in."""
    rng = ctx.rng("people")
    compound_group = ctx.compound_group_ids[0]
    demo_nodes = {
        ("district_admin", ctx.district_id): "district_admin",
        ("zone_leader", ctx.zone_id): "zone_leader",
        ("group_leader", compound_group): "group_leader",
        ("neighbour_leader", ctx.compound_neighbour_ids[0][0]): "neighbour_leader",
    }
    # (role, node id, organisation id) per person, leaders first so their numbers run along the tree.
    holders: list[tuple[str, int | None, int | None]] = []
    holders += [("zone_leader", i, None) for i in ctx.zone_ids]
    holders += [("group_leader", i, None) for i in ctx.group_ids]
    holders += [("neighbour_leader", i, None) for i in ctx.neighbour_ids]
    leaders = len(holders)
    for community_id in sorted(ctx.communities):
        holders += [("branch_member", community_id, None)] * 2
    holders += [("street_admin", i, None) for i in sorted(ctx.streets)]
    holders.append(("district_admin", ctx.district_id, None))
    # One staff member per organisation, two for 普瑞斯堡's property company (the first is the demo login).
    holders += [("org_staff", None, org_id) for org_id in [ctx.property_org_id, *ctx.organisations.values()]]

    # Werkzeug's hash is deliberately slow; the six demo logins share one password, so hash it once.
    demo_hash = generate_password_hash(DEMO_PASSWORD)
    mobiles = {login["key"]: login["mobile"] for login in DEMO_LOGINS}
    person_ids = ctx.allocate(Person, len(holders))
    role_ids = ctx.allocate(RoleAssignment, len(holders))
    person_rows, role_rows = [], []
    branch_seen = property_seen = False
    for index, (person_id, role_id, (role, node_id, org_id)) in enumerate(
        zip(person_ids, role_ids, holders, strict=True)
    ):
        key = demo_nodes.get((role, node_id))
        if role == "branch_member" and node_id == ctx.community_id and not branch_seen:
            key, branch_seen = "branch_member", True
        if role == "org_staff" and org_id == ctx.property_org_id and not property_seen:
            key, property_seen = "property_staff", True
        # 1990xxxxxxx for leaders and 1980xxxxxxx for everyone else: valid, unique, obviously fake.
        mobile = str(19900000000 + index) if index < leaders else str(19800000000 + index - leaders)
        name = person_name(rng)
        if key:
            ctx.people[key] = person_id
            name, mobile = DEMO_NAMES[key], mobiles[key]
        person_rows.append(
            {
                "id": person_id,
                "name": name,
                "mobile": mobile,
                "password_hash": demo_hash if key else None,
                "enabled": True,
                "auth_version": 1,
                "locale": None,
                "created_at": ctx.now,
                "activated_at": ctx.now if key else None,
                "last_login_at": None,
            }
        )
        role_rows.append(
            {
                "id": role_id,
                "person_id": person_id,
                "role": role,
                "node_id": node_id,
                "organisation_id": org_id,
                "created_at": ctx.now,
            }
        )
    ctx.insert(Person, person_rows)
    ctx.insert(RoleAssignment, role_rows)
    ctx.counts.update(people=len(person_rows), leaders=leaders, roles=len(role_rows))


# --- issues (issue 3) ---------------------------------------------------------------------------
#
# No issue is written as it stands today: each one's life is replayed event by event with the rules
# of services.issues (TRANSITIONS, set_deadlines, callbacks) and services.triage (派单 with a deadline,
# 接单, 退回, priority, merging) and, between its events, with what the minute-by-minute SLA sweep would
# have done (超时自动上报, the system as actor). Statuses, levels,
# deadlines and timestamps therefore agree with the timeline exactly, every actor is someone the
# policy lets act at that moment, and a sweep run at load time finds nothing left to escalate.
# Times are whole epoch seconds, so a deadline is exactly its SLA hours after the event that set it.

HOUR, DAY = 3600, 86400
CHINA_OFFSET = 8 * HOUR  # 北京时间: leaders work by the local clock
FULL_ISSUES = 24_000  # across the district over HISTORY_DAYS, besides 普瑞斯堡's own 31
HISTORY_DAYS = 183
# Script actors: the holder of a handling level (rank = index in HANDLING_LEVELS).
LEVEL_RANK = {level: rank for rank, level in enumerate(HANDLING_LEVELS)}
ACTOR_RANK = {"neighbour": 0, "group": 1, "zone": 2, "branch": 3, "street": 4, "district": 5}
# The public note of the status change a callback causes, as services.issues words it.
SATISFACTION_NOTES = {"satisfied": "回访：满意", "basically_satisfied": "回访：基本满意", "unsatisfied": "回访：不满意"}
CALLBACK_STATUS = {"satisfied": "closed", "basically_satisfied": "closed", "unsatisfied": "reopened"}


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _dt(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class RefNote:
    """A note naming another issue by its reference, known only once the issues have their ids."""

    __slots__ = ("template", "life")

    def __init__(self, template: str, life: IssueLife):
        self.template, self.life = template, life

    def text(self, reference_of: Callable[[IssueLife], str]) -> str:
        return self.template.format(reference_of(self.life))


class IssueLife:
    """One issue replayed with the lifecycle and triage rules (services.issues, services.triage) and the
    SLA sweep (services.sla).

    `holders` are the people holding each handling level over the issue's 邻 (邻长 … 区管理员); `world`
    gives the SLA, the organisations' staff and names, and who serves which community. Script actors:
    'filer', 'handler' (the holder of the current level, at least the 组长), 'triage' (at least the
    community branch), 'org' (the assignee's staff) or a fixed level ('group', 'zone', 'branch',
    'street', 'district'). Anything the policy would refuse raises, so a script that drifts from the
    rules fails the load instead of storing nonsense. Besides its timeline an issue keeps the audit rows
    its human steps wrote (services.audit) and its followers (person → since when).
    """

    __slots__ = (
        "world", "sla", "rng", "urgency", "holders", "filer_id", "filer_rank", "community_id", "street_id",
        "status", "level", "priority", "assignee", "state", "assigned", "accepted", "duplicate_of",
        "reject_reason", "ack_due", "resolve_due", "next_due", "created", "updated", "acknowledged",
        "resolved", "closed", "satisfaction", "events", "audits", "followers", "ack_on_time", "resolve_on_time",
    )  # fmt: skip

    def __init__(self, world, rng, urgency, holders, filer_id, filer_rank, node):
        self.world, self.sla, self.rng, self.urgency, self.holders = world, world.sla, rng, urgency, holders
        self.filer_id, self.filer_rank = filer_id, filer_rank
        self.community_id, self.street_id = node["community_id"], node["street_id"]
        self.status, self.level, self.priority = None, "neighbour", "normal"
        # The assignment (派单): organisation, 'pending'/'accepted', when assigned and accepted.
        self.assignee = self.state = self.assigned = self.accepted = None
        self.duplicate_of = self.reject_reason = None
        self.ack_due = self.resolve_due = self.next_due = None
        self.created = self.updated = self.acknowledged = self.resolved = self.closed = None
        self.satisfaction = None
        # services.issues.met_deadlines at the first acknowledgement and the latest resolution.
        self.ack_on_time = self.resolve_on_time = None
        # (at, actor, kind, from_status, to_status, from_level, to_level, note, public, deadline_at, notify)
        self.events: list[tuple] = []
        self.audits: list[tuple] = []  # (at, actor, action, detail)
        self.followers: dict[int, int] = {}

    # -- who acts ------------------------------------------------------------------------------

    def actor(self, who: str) -> tuple[int, int | None]:
        """A script actor → (person id, handling rank; None for a responsible party's staff)."""
        rank = LEVEL_RANK[self.level]
        if who == "filer":
            return self.filer_id, self.filer_rank
        if who == "org":
            return self.world.staff[self.assignee], None
        if who == "handler":
            rank = max(rank, 1)
        elif who == "triage":
            rank = max(rank, 3)
        else:
            rank = ACTOR_RANK[who]
        return self.holders[rank], rank

    def _refuse(self, what: str, who: str) -> None:
        raise ValueError(f"demo script breaks the rules: {who} may not {what} at {self.level}/{self.status}")

    def _may_handle(self, rank: int | None) -> bool:
        """policy.can_handle_issue: the level's holders and above, or the party's staff once it accepted."""
        return self.state == "accepted" if rank is None else rank >= max(LEVEL_RANK[self.level], 1)

    # -- what the services do ------------------------------------------------------------------

    def _event(self, at, actor, kind, note="", public=False, notify=None, **fields) -> None:
        if notify and "assignee" in notify:  # the party assigned at the time, if any
            notify = tuple(
                ("org", self.assignee) if n == "assignee" else n for n in notify if n != "assignee" or self.assignee
            )
        self.events.append(
            (
                at,
                actor,
                kind,
                fields.get("from_status"),
                fields.get("to_status"),
                fields.get("from_level"),
                fields.get("to_level"),
                note,
                public,
                fields.get("deadline_at"),
                notify,
            )
        )
        self.updated = at

    def _audit(self, at: int, actor: int | None, action: str, detail) -> None:
        """services.audit.record: one row per person's step; the system's own steps have none."""
        if actor is not None:
            self.audits.append((at, actor, action, detail))

    def _set_deadlines(self, at: int) -> None:
        """services.issues.set_deadlines."""
        hours = self.sla.get((self.level, self.urgency)) if self.status in OPEN_STATUSES else None
        if hours is None:
            self.ack_due = self.resolve_due = self.next_due = None
            return
        self.ack_due = at + hours[0] * HOUR if self.status == "reported" else None
        self.resolve_due = at + hours[1] * HOUR
        self.next_due = min(self.ack_due, self.resolve_due) if self.ack_due else self.resolve_due

    def advance(self, until: int, final: bool = False) -> None:
        """What the sweep (every minute) did before `until`: escalate once per passed deadline."""
        while self.next_due is not None and self.status in OPEN_STATUSES:
            deadline = self.next_due
            swept = deadline + 5 + int(self.rng.random() * 55)
            if final:  # the last sweep before the load ran just now
                swept = min(swept, until)
            if swept > until or deadline > until:
                return
            target = HANDLING_LEVELS[LEVEL_RANK[self.level] + 1] if self.level != "district" else None
            if target is None:
                self.next_due = None  # overdue at the top: recorded once, due dates stay passed
                fields = {"from_level": self.level, "to_level": self.level, "deadline_at": deadline}
                self._event(swept, None, "overdue", public=True, notify=("district",), **fields)
                continue
            from_level, self.level = self.level, target
            self._set_deadlines(swept)
            fields = {"from_level": from_level, "to_level": target, "deadline_at": deadline}
            self._event(swept, None, "escalated", public=True, notify=(target,), **fields)

    def status_at(self, moment: int) -> str:
        """The status the issue had at a moment of its (already replayed) life."""
        for event in reversed(self.events):
            if event[2] in ("filed", "status") and event[0] <= moment:
                return event[4]
        raise ValueError("demo script: the issue did not exist yet")

    def file(self, at: int) -> None:
        """services.issues.file_issue: the filer follows the issue from the start."""
        self.created, self.status = at, "reported"
        self._set_deadlines(at)
        fields = {"to_status": "reported", "to_level": "neighbour"}
        self._event(at, self.filer_id, "filed", public=True, notify=("group",), **fields)
        self.followers[self.filer_id] = at

    def move(
        self,
        at: int,
        who: str,
        to_status: str,
        note: str = "",
        duplicate_of: IssueLife | None = None,
        reason: tuple[int, str] | None = None,
    ) -> None:
        """services.issues.transition; `reason` (id, name) for a rejection, from the reject_reason table."""
        self.advance(at)
        if to_status not in TRANSITIONS[self.status]:
            raise ValueError(f"demo script: illegal transition {self.status} → {to_status}")
        person, rank = self.actor(who)
        if to_status == "in_progress" and self.state == "pending":  # services.issues: the party's 接单 starts it
            self._refuse("start work before the party accepted", who)
        if to_status in ("acknowledged", "in_progress", "resolved"):
            may = self._may_handle(rank)
        elif to_status == "withdrawn":
            may = person == self.filer_id or (rank is not None and rank >= 3)
        else:  # rejected, duplicate, closed by hand
            may = rank is not None and rank >= 3
        if not may or (to_status in NOTE_REQUIRED and not note):
            self._refuse(to_status, who)
        if to_status == "rejected":
            if reason is None:
                self._refuse("reject without a reason", who)
            self.reject_reason = reason[0]
            note = f"{reason[1]}：{note}" if note else reason[1]
        if to_status == "duplicate":
            if (
                duplicate_of is None
                or duplicate_of is self
                or duplicate_of.created > at
                or duplicate_of.status_at(at) in MERGE_REFUSED
            ):
                raise ValueError("demo script: a duplicate is merged into another live issue")
            self.duplicate_of = duplicate_of
            note = note or RefNote("合并至 {}", duplicate_of)
        if to_status == "acknowledged" and self.acknowledged is None:
            self.ack_on_time = self._met_deadlines(at, self.ack_due, None)
        elif to_status == "resolved":
            self.resolve_on_time = self._met_deadlines(at, self.resolve_due, self._working_since())
        elif to_status == "reopened":
            self.resolve_on_time = None
        from_status, self.status = self.status, to_status
        if to_status == "acknowledged":
            self.acknowledged = self.acknowledged or at
            self.ack_due, self.next_due = None, self.resolve_due
        elif to_status == "resolved":
            self.resolved = at
            self._set_deadlines(at)
        elif to_status in ("closed", "rejected", "duplicate", "withdrawn"):
            self.closed = at
            self._set_deadlines(at)
            if self.state == "pending":  # services.issues.transition: the request to the party lapses
                self.state = None
        elif to_status == "reopened":
            self.resolved = None
            self._set_deadlines(at)
        notify = ("filer",) if to_status != "reopened" else ("filer", self.level, "assignee")
        self._event(at, person, "status", note, True, notify, from_status=from_status, to_status=to_status)
        if to_status == "duplicate":
            duplicate_of.merged(at, person, self)
        self._audit(at, person, STATUS_ACTION[to_status], note)

    def _met_deadlines(self, at: int, due: int | None, since: int | None) -> bool:
        """services.issues.met_deadlines: within the deadline in force, and no sweep found one passed since."""
        if due is not None and at > due:
            return False
        return not any(e[9] is not None and (since is None or e[0] > since) for e in self.events)

    def _working_since(self) -> int | None:
        """services.issues._working_since: the last reopening, else the acknowledgement."""
        reopened = [e[0] for e in self.events if e[2] == "status" and e[4] == "reopened"]
        return max((d for d in (max(reopened, default=None), self.acknowledged) if d is not None), default=None)

    def merged(self, at: int, actor: int, duplicate: IssueLife) -> None:
        """services.issues._merge_into, on the kept issue: a timeline entry, and the duplicate's followers.

        The kept issue's own replay is already done, so the entry is appended out of order (the timeline
        is sorted by time when written) and the last change is whichever came later.
        """
        note = RefNote("{} 已合并至本问题", duplicate)
        self.events.append((at, actor, "merged", None, None, None, None, note, True, None, None))
        self.updated = max(self.updated, at)
        for person in {duplicate.filer_id, *duplicate.followers} - {self.filer_id}:
            if self.followers.get(person, at + 1) > at:
                self.followers[person] = at

    def escalate(self, at: int, who: str, reason: str) -> None:
        """services.issues.escalate, by hand."""
        self.advance(at)
        person, rank = self.actor(who)
        if self.status not in OPEN_STATUSES or self.level == "district" or rank is None:
            self._refuse("escalate", who)
        if rank < LEVEL_RANK[self.level]:
            self._refuse("escalate", who)
        from_level = self.level
        self.level = HANDLING_LEVELS[LEVEL_RANK[from_level] + 1]
        self._set_deadlines(at)
        fields = {"from_level": from_level, "to_level": self.level}
        self._event(at, person, "escalated", reason, True, (self.level,), **fields)
        self._audit(at, person, "escalate", reason)

    def assign(self, at: int, who: str, organisation_id: int, due_days: int, note: str = "") -> None:
        """services.triage.assign (派单): to a party serving the community, due by the end of a Beijing day
        `due_days` from today; a reported issue is acknowledged by it, a lower level taken up to 社区."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None or rank < 3 or self.status not in OPEN_STATUSES:
            self._refuse("assign", who)
        eligible = self.world.paired.get(self.community_id, ())
        if organisation_id not in eligible and organisation_id != self.world.offices[self.street_id]:
            raise ValueError("demo script: the party does not serve the issue's community")
        if not 0 <= due_days <= MAX_ASSIGN_DAYS or (organisation_id == self.assignee and self.state is not None):
            self._refuse("assign", who)
        if self.status == "reported":
            self.move(at, who, "acknowledged")
        from_level = None
        if LEVEL_RANK[self.level] < LEVEL_RANK["community"]:
            from_level, self.level = self.level, "community"
        self.assignee, self.state, self.assigned, self.accepted = organisation_id, "pending", at, None
        # The last second of the chosen Beijing day (services.triage.end_of_day).
        due = (at + CHINA_OFFSET) // DAY * DAY - CHINA_OFFSET + (due_days + 1) * DAY - 1
        self.ack_due, self.resolve_due, self.next_due = None, due, due
        day = time.strftime("%Y-%m-%d", time.gmtime(due + CHINA_OFFSET))
        text = f"派单至 {self.world.org_names[organisation_id]}，{day} 前办结" + (f"：{note}" if note else "")
        fields = {"from_level": from_level, "to_level": self.level} if from_level else {}
        self._event(at, person, "assigned", text, True, ("assignee",), **fields)
        self._audit(at, person, "assign", text)

    def accept(self, at: int) -> None:
        """services.triage.accept (接单) by the party's staff: the work starts."""
        self.advance(at)
        if self.status not in OPEN_STATUSES or self.state != "pending":
            self._refuse("accept", "org")
        person = self.world.staff[self.assignee]
        name = self.world.org_names[self.assignee]
        self.state, self.accepted = "accepted", at
        self._event(at, person, "accepted", f"{name} 已接单", True, ("community", "filer"))
        self._audit(at, person, "accept", name)
        if self.status in ("acknowledged", "reopened"):
            self.move(at, "org", "in_progress")

    def decline(self, at: int, reason: str) -> None:
        """services.triage.decline: the party hands the issue back to the branch (退回) with a reason."""
        self.advance(at)
        if self.status not in OPEN_STATUSES or self.state != "pending" or not reason:
            self._refuse("decline", "org")
        person = self.world.staff[self.assignee]
        name = self.world.org_names[self.assignee]
        self.assignee = self.state = self.assigned = self.accepted = None
        self._set_deadlines(at)
        levels = ("community",) if LEVEL_RANK[self.level] <= LEVEL_RANK["community"] else (self.level, "community")
        self._event(at, person, "declined", f"{name} 退回：{reason}", False, levels)
        self._audit(at, person, "decline", f"{name}：{reason}")

    def set_priority(self, at: int, who: str, priority: str) -> None:
        """services.triage.set_priority (优先级); nothing is recorded when it already has it."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None or rank < 3 or self.status not in OPEN_STATUSES or priority not in PRIORITIES:
            self._refuse("set the priority", who)
        if priority == self.priority:
            return
        self.priority = priority
        self._event(at, person, "priority", priority, False)
        self._audit(at, person, "priority", priority)

    def comment(self, at: int, who: str, kind: str, note: str) -> None:
        """services.issues.add_comment: a comment, an internal note or a public update."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None:  # the party's staff see the issue; they post updates once they work on it
            may = self.assignee is not None and (kind != "public_update" or self.state == "accepted")
        else:
            may = kind != "public_update" or self._may_handle(rank) or rank >= 3
        if not may or self.status == "duplicate":
            self._refuse(kind, who)
        self._event(at, person, kind, note, kind == "public_update")

    def callback(self, at: int, satisfaction: str, note: str = "") -> None:
        """services.issues.record_callback, by the filer."""
        self.advance(at)
        if self.status != "resolved" or (satisfaction == "unsatisfied" and not note):
            self._refuse("call back", "filer")
        to_status = CALLBACK_STATUS[satisfaction]
        self.satisfaction = satisfaction
        self._event(at, self.filer_id, "callback", note, False, None, to_status=to_status)
        self.status = to_status
        if to_status == "closed":
            self.closed = at
        else:
            self.resolved = self.resolve_on_time = None
        self._set_deadlines(at)
        notify = ("filer",) if to_status == "closed" else (self.level, "assignee")
        fields = {"from_status": "resolved", "to_status": to_status}
        self._event(at, self.filer_id, "status", SATISFACTION_NOTES[satisfaction], True, notify, **fields)
        self._audit(at, self.filer_id, "callback", satisfaction)

    def finish(self, now: int) -> None:
        """Bring the issue up to the load time: the sweeps up to now have all run."""
        self.advance(now, final=True)

    def row(self, issue_id: int, place: dict, ids: dict[IssueLife, int]) -> tuple:
        """The issue row (ISSUE_COLUMNS) as it stands at the end of the replay; `ids`: every life's id."""
        return (
            issue_id,
            f"WC-{_dt(self.created).year}-{issue_id:06d}",
            *(place[name] for name in PLACE_COLUMNS),
            self.urgency,
            self.priority,
            self.filer_id,
            None,  # idempotency_key: only phones send one
            None,  # latitude
            None,  # longitude
            self.status,
            self.level,
            self.assignee,
            self.state,
            self.assigned,
            self.accepted,
            self.reject_reason,
            ids[self.duplicate_of] if self.duplicate_of is not None else None,
            self.ack_due,
            self.resolve_due,
            self.next_due,
            self.created,
            self.updated,
            self.acknowledged,
            self.resolved,
            self.closed,
            self.satisfaction,
            1,  # version
            self.ack_on_time,
            self.resolve_on_time,
        )


# Column orders of the rows the issue step writes through DemoContext.insert_history.
PLACE_COLUMNS = (
    "category_id", "title", "description", "compound_id", "building_id", "place_detail",
    "resident_name", "resident_phone", "neighbour_id", "group_id", "zone_id", "community_id", "street_id",
)  # fmt: skip
ISSUE_COLUMNS = (
    "id", "reference", *PLACE_COLUMNS, "urgency", "priority", "filed_by_id", "idempotency_key", "latitude",
    "longitude", "status", "level", "assignee_org_id", "assignment_state", "assigned_at", "accepted_at",
    "reject_reason_id", "duplicate_of_id", "ack_due_at", "resolve_due_at", "next_deadline_at", "created_at",
    "updated_at", "acknowledged_at", "resolved_at", "closed_at", "satisfaction", "version", "acknowledged_on_time",
    "resolved_on_time",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "issue_id", "at", "actor_id", "kind", "from_status", "to_status", "from_level", "to_level", "note",
    "public", "deadline_at",
)  # fmt: skip
AUDIT_COLUMNS = ("id", "at", "actor_id", "action", "issue_id", "community_id", "street_id", "detail", "batch")
FOLLOWER_COLUMNS = ("issue_id", "person_id", "created_at")


@dataclass
class IssueWorld:
    """What the issue step needs from the tree: who holds what, the SLA, the categories, the rejection
    reasons and the responsible parties."""

    sla: dict[tuple[str, str], tuple[int, int]]
    categories: dict[str, int]
    # The active rejection reasons as (id, name_zh), in the order the branch sees them.
    reasons: list[tuple[int, str]]
    org_names: dict[int, str]
    paired: dict[int, set[int]]  # community id → the organisations serving it
    offices: dict[int, int]  # 街镇 id → its office
    # node id → the person holding its leader role (邻长/组长/片长); community → first branch member;
    # street → its admin; the district → its admin.
    holder: dict[int, int]
    staff: dict[int, int]  # organisation id → its first staff member
    members: dict[int, list[int]]  # node id → everyone holding a role on it (both branch members, say)
    org_members: dict[int, list[int]]  # organisation id → all its staff

    def holders(self, node: dict, district_id: int) -> tuple[int, ...]:
        """The six level holders over a 邻, neighbour first."""
        return (
            self.holder[node["id"]],
            self.holder[node["group_id"]],
            self.holder[node["zone_id"]],
            self.holder[node["community_id"]],
            self.holder[node["street_id"]],
            self.holder[district_id],
        )


def issue_world(ctx: DemoContext) -> IssueWorld:
    """Read back what the earlier steps built (a few plain queries)."""
    sla = {(p.level, p.urgency): (p.ack_hours, p.resolve_hours) for p in db.session.scalars(select(SlaPolicy))}
    categories = dict(db.session.execute(select(Category.code, Category.id)).all())
    reasons = [
        tuple(row)
        for row in db.session.execute(
            select(RejectReason.id, RejectReason.name_zh)
            .where(RejectReason.active.is_(True))
            .order_by(RejectReason.sort, RejectReason.id)
        )
    ]
    if not reasons:
        raise RuntimeError("the rejection reasons are not seeded (services.reference.seed_defaults)")
    org_names = dict(db.session.execute(select(Organisation.id, Organisation.name)).all())
    holder: dict[int, int] = {}
    staff: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    org_members: dict[int, list[int]] = {}
    rows = db.session.execute(
        select(
            RoleAssignment.role, RoleAssignment.node_id, RoleAssignment.organisation_id, RoleAssignment.person_id
        ).order_by(RoleAssignment.id)
    )
    for role, node_id, org_id, person_id in rows:
        if role == "org_staff":
            staff.setdefault(org_id, person_id)
            org_members.setdefault(org_id, []).append(person_id)
        else:
            holder.setdefault(node_id, person_id)
            members.setdefault(node_id, []).append(person_id)
    # The demo logins hold their nodes whatever the order above.
    holder[ctx.community_id] = ctx.people["branch_member"]
    staff[ctx.property_org_id] = ctx.people["property_staff"]
    return IssueWorld(
        sla=sla,
        categories=categories,
        reasons=reasons,
        org_names=org_names,
        paired=ctx.paired,
        offices=ctx.offices,
        holder=holder,
        staff=staff,
        members=members,
        org_members=org_members,
    )


def neighbour_nodes() -> dict[int, dict]:
    """Every 邻 with its ancestors and compound."""
    columns = (Node.id, Node.name, Node.group_id, Node.zone_id, Node.community_id, Node.street_id, Node.compound_id)
    rows = db.session.execute(select(*columns).where(Node.level == "neighbour").order_by(Node.id))
    return {row.id: row._asdict() for row in rows}


# One issue of the 普瑞斯堡 survey and after: (category, title, description, building, place, urgency,
# filing 邻 — None for the demo 邻长's own —, (resident, phone), steps). A step is (when, op, who, *args);
# `when` is ("d", days ago, "HH:MM" Beijing time), ("h", daytime hours ago) for what must sit just before
# the load, or a number of hours after the previous step (see _script_time). The steps read as the
# lifecycle and triage do: file, ack, start, resolve, callback, escalate, withdraw; reject (a reason of
# the reject_reason table by its place in the list, and a note), dup (the kept issue's index, a note or
# "" for the default), priority; assign (party, days to the deadline, note), accept and decline (by the
# party's staff); and the timeline's update (public), note (internal) and comment.
PRUISBURG_ISSUES: tuple = (
    (
        "road", "北门至5栋主干道路面大面积破损",
        "北门进来到5栋的主干道沥青路面龟裂、坑洼连片，最深的坑约10厘米，雨天积水看不清，上个月有老人在这里摔倒。"
        "居民反映这条路十几年没有修过。",
        "5栋", "北门至5栋主干道", "normal", None, ("王奶奶", "19700000101"),
        (
            (("d", 168, "09:10"), "file"),
            (0.1, "escalate", "filer", "路面整体破损，涉及全小区居民出行，超出本邻协调范围"),
            (2.5, "ack", "handler", "已到现场查看，破损面积约600平方米"),
            (1, "escalate", "handler", "需要整体翻修，请片长统筹"),
            (22, "escalate", "zone", "建议纳入普瑞斯堡老旧小区改造一期"),
            (23, "assign", "branch", "office", 45, "纳入老旧小区改造一期（湖南出版投资控股集团捐资），由街道组织施工"),
            (3, "accept"),
            (1, "update", "org", "施工方案已确定"),
            (240, "update", "branch", "一期改造施工单位已进场，主干道分段封闭施工，请居民从南门绕行"),
            (700, "resolve", "org", "主干道约600平方米沥青路面铣刨重铺完成，已通过街道、社区和居民代表联合验收"),
            (70, "callback", "satisfied", "回访王奶奶等3户居民，都说路面平整了，晚上走路也放心"),
        ),
    ),
    (
        "cctv", "小区监控系统基本瘫痪",
        "全小区32个监控摄像头只有3个有画面，监控室的硬盘录像机坏了两年没人修。近一个月4栋、7栋楼下接连发生"
        "3起电动车电瓶被盗，居民很担心。",
        None, "监控室及全小区", "normal", None, ("张先生", ""),
        (
            (("d", 167, "10:05"), "file"),
            (0.1, "escalate", "filer", "全小区安防问题，需逐级上报"),
            (3, "ack", "handler", "监控室设备已确认损坏"),
            (1, "escalate", "handler", "系统需整体更换，请片长协调"),
            (4.5, "escalate", "zone", "电瓶被盗频发，建议社区尽快处置"),
            (15, "escalate", "branch", "系统整体更换约需28万元，社区无力承担，上报街道统筹改造资金"),
            (24, "assign", "street", "office", 40, "由街道改造办纳入一期改造，湖南出版投资控股集团赞助"),
            (2, "accept"),
            (1, "update", "org", "已委托安防公司现场勘测"),
            (406, "update", "branch", "监控设备采购已完成招标，下周开始安装"),
            (504, "resolve", "org", "新装高清摄像头48个，更换硬盘录像机并接入派出所视频平台，监控室恢复24小时值守"),
            (52, "callback", "satisfied", "居民反映晚上回家安心多了，近期没有再发生电瓶被盗"),
        ),
    ),
    (
        "lighting", "2栋至6栋主干道路灯锈蚀、灯光昏暗",
        "主干道两侧16盏路灯灯杆底部锈穿，有2根明显倾斜；灯泡老化，晚上照度很低，居民夜间出行只能打手电，"
        "存在安全隐患。",
        None, "2栋至6栋主干道", "normal", None, ("李阿姨", ""),
        (
            (("d", 166, "19:40"), "file"),
            (13, "ack", "handler", "已夜间查看，16盏中9盏不亮"),
            (2, "assign", "branch", "property", 45, "路灯及灯杆属小区公共设施，由普瑞物业纳入一期改造更换"),
            (1, "accept"),
            (0.5, "update", "org", "已订购LED灯具"),
            (6, "update", "org", "2根倾斜灯杆已临时加固并设置警示"),
            (888, "resolve", "org", "更换LED路灯16盏，锈蚀灯杆全部除锈刷漆，倾斜灯杆重新浇筑基础扶正"),
            (50, "callback", "satisfied", "主干道晚上亮堂了，居民很满意"),
        ),
    ),
    (
        "signage", "楼栋号牌褪色，快递和救护车常找错楼",
        "1栋至12栋的楼栋号牌和单元牌大多褪色、脱落，快递外卖经常送错，上个月120急救车找不到11栋，耽误了十多分钟。",
        None, "1栋至12栋各楼栋", "normal", None, ("赵先生", ""),
        (
            (("d", 165, "09:30"), "file"),
            (1.5, "ack", "handler"),
            (0.5, "start", "handler", "社区志愿者和物业一起统计需更换的号牌"),
            (50, "resolve", "handler", "重新制作安装楼栋号牌12块、单元牌24块，夜间可反光"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "多栋楼消防栓无水、水带水枪缺失",
        "走访发现1栋至12栋共48处室内消火栓，有31处打开没有水，多数箱内水带、水枪缺失，消防管网锈蚀漏水，"
        "一旦发生火灾后果严重。",
        None, "1栋至12栋楼道", "normal", None, ("", ""),
        (
            (("d", 164, "10:20"), "file"),
            (0.1, "escalate", "filer", "全小区消防设施问题，超出本邻范围"),
            (2, "ack", "handler"),
            (1, "escalate", "handler", "需物业对消防系统整体维修，请片长协调"),
            (4, "escalate", "zone", "消防安全隐患大，请社区督促物业"),
            (19, "priority", "branch", "high"),
            (1, "assign", "branch", "property", 75, "责成普瑞物业对消防系统整体改造，物业出资47万元"),
            (1, "accept"),
            (2, "update", "org", "已委托消防工程公司检测管网"),
            (600, "update", "org", "消防主管网更换完成约六成，施工期间各楼栋配置临时灭火器"),
            (900, "resolve", "org", "更换消防主管网和48处消火栓箱及水带水枪，消防水泵房设备更新，经第三方消防检测合格"),
            (48, "callback", "satisfied", "居民代表参加了放水测试，每个消火栓都有水"),
        ),
    ),
    (
        "road", "3栋前人行道地砖松动翘起",
        "3栋门口到主干道的人行道有几十块地砖松动、翘起，下雨踩上去会溅水，老人推婴儿车不方便。",
        "3栋", "3栋门口人行道", "normal", None, ("孙阿姨", ""),
        (
            (("d", 163, "15:20"), "file"),
            (1.5, "ack", "handler"),
            (17, "start", "handler", "已通知物业安排维修"),
            (26, "resolve", "handler", "物业更换松动、破损地砖约30块"),
            (26, "callback", "satisfied", ""),
        ),
    ),
    (
        "lighting", "7栋后小路路灯不亮",
        "7栋后面通往后门的小路3盏路灯都不亮，台阶多，晚上看不清，前几天有老人摔倒。",
        "7栋", "7栋后门小路", "normal", "7栋1单元", ("周大爷", ""),
        (
            (("d", 162, "20:10"), "file"),
            (12.5, "ack", "handler"),
            (0.5, "start", "handler", "已通知物业电工"),
            (6, "resolve", "handler", "物业电工更换灯具3套并检修线路"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "sanitation", "5栋旁垃圾投放点异味大、清运不及时",
        "5栋旁的垃圾分类投放点每天只清运一次，下午垃圾满溢，天热异味很大，蚊蝇多，附近住户不敢开窗。",
        "5栋", "5栋旁垃圾分类投放点", "normal", None, ("吴女士", "19700000108"),
        (
            (("d", 161, "08:50"), "file"),
            (3, "ack", "handler"),
            (1, "start", "handler", "已联系环卫公司"),
            (40, "resolve", "handler", "与环卫公司协调，清运由每天一次增加为早晚各一次，投放点每天冲洗消杀"),
            (48, "callback", "basically_satisfied", "清运及时了，天热时仍有些异味"),
        ),
    ),
    (
        "drainage", "7栋化粪池满溢、污水外冒",
        "7栋化粪池满了，污水从井盖冒出来流到路面，臭味很大，1楼住户家里下水道返水。",
        "7栋", "7栋东侧化粪池", "urgent", "7栋2单元", ("郑先生", "19700000109"),
        (
            (("d", 158, "08:05"), "file"),
            (0.6, "ack", "handler"),
            (0.3, "start", "handler", "已通知物业紧急处理"),
            (9, "resolve", "handler", "物业联系吸污车清掏化粪池，疏通出户管道，现场冲洗消毒"),
            (48, "callback", "satisfied", ""),
        ),
    ),
    (
        "greenery", "中心花园枯死香樟树有倒伏风险",
        "中心花园两棵香樟树已经枯死，树干空心，刮大风时摇晃厉害，树下是老人小孩活动的地方。",
        None, "中心花园", "normal", None, ("", ""),
        (
            (("d", 150, "10:00"), "file"),
            (2, "ack", "handler"),
            (3, "start", "handler", "已拉警戒线，联系园林公司"),
            (45, "resolve", "handler", "园林公司砍伐枯树2棵，补种桂花树2棵"),
            (72, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "12栋楼道烟感按测试键不响",
        "12栋2单元各层楼道的烟感探测器按测试键都没有反应，担心真着火了不报警。",
        "12栋", "12栋2单元楼道", "normal", "12栋2单元", ("冯先生", ""),
        (
            (("d", 61, "19:30"), "file"),
            (14, "ack", "handler"),
            (2, "dup", "branch", 14, ""),
        ),
    ),
    (
        "road", "小区南侧进出道路狭窄坑洼、会车困难",
        "小区南侧唯一的进出道路宽不足5米，路面坑洼，早晚高峰车辆进出要排队，消防车无法进入，雨天积水严重。"
        "这条路是开发商当年没有按规划建成的。",
        None, "南门进出道路", "normal", None, ("陈先生", "19700000112"),
        (
            (("d", 138, "09:00"), "file"),
            (0.1, "escalate", "filer", "涉及小区进出道路改造，超出本邻范围"),
            (2, "ack", "handler"),
            (1, "escalate", "handler", "需开发商和社区协调，请片长上报"),
            (6, "escalate", "zone", "道路属开发商遗留问题，请社区协调"),
            (25, "priority", "branch", "high"),
            (1, "assign", "branch", "developer", 200, "经社区多次协调，开发商湘瑞置业同意出资实施进出道路改造"),
            (5, "accept"),
            (20, "update", "org", "已委托设计单位出具道路拓宽方案"),
            (300, "update", "branch", "开发商承诺出资近400万元，道路由5米拓宽至7米并新建人行道和雨水管网"),
            (1200, "update", "org", "雨水管网迁改完成，路基施工中"),
            (("h", 40), "update", "org", "沥青摊铺计划下月完成，施工期间南门限高通行"),
        ),
    ),
    (
        "road", "南门外道路坑洼、雨天泥泞",
        "南门出去的路坑坑洼洼，一下雨全是泥水，接送孩子上学很不方便。",
        None, "南门外道路", "normal", "10栋1单元", ("何女士", ""),
        (
            (("d", 120, "14:00"), "file"),
            (5, "dup", "branch", 11, "与“小区南侧进出道路狭窄坑洼、会车困难”为同一问题，已并入一并处理"),
        ),
    ),
    (
        "fire", "5栋北侧消防通道被私家车长期占用",
        "5栋北侧消防通道常年停着四五辆私家车，有一辆已经停了半年没动，消防车根本进不来。",
        "5栋", "5栋北侧消防通道", "normal", "5栋2单元", ("", ""),
        (
            (("d", 110, "19:00"), "file"),
            (14, "ack", "handler"),
            (1, "start", "handler", "已联系物业逐一劝离"),
            (30, "resolve", "handler", "物业施划消防通道禁停标线、安装地桩，占道车辆全部挪走"),
            (48, "callback", "satisfied", ""),
        ),
    ),
    (
        "fire", "12栋消防报警主机故障、烟感不报警",
        "12栋消防控制柜一直报故障，楼道烟感测试不报警，物业说主机太老了。12栋是高层，住了80多户。",
        "12栋", "12栋消防控制室", "normal", "12栋1单元", ("", ""),
        (
            (("d", 62, "09:40"), "file"),
            (2, "ack", "handler"),
            (0.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 30, "纳入普瑞物业消防系统改造"),
            (2, "accept"),
            (1, "update", "org", "已联系厂家返修报警主机"),
            (48, "update", "org", "报警主机已停产，需整体更换，正在报价"),
            (("h", 12), "update", "org", "新主机已到货，下周安装调试，期间物业每天人工巡查"),
        ),
    ),
    (
        "parking", "电动车充电桩不足，楼道飞线充电隐患大",
        "小区300多辆电动车只有一处8个口的充电桩，很多居民从楼上拉线下来充电，楼道里也有人充电，火灾隐患很大。",
        None, "全小区", "normal", None, ("", ""),
        (
            (("d", 95, "10:30"), "file"),
            (0.1, "escalate", "filer", "涉及全小区，需统筹"),
            (3, "ack", "handler"),
            (1, "escalate", "handler", "需新建充电设施，请片长协调"),
            (20, "escalate", "zone", "建议纳入改造二期"),
            (24, "update", "branch", "已纳入改造二期，拟在5栋、9栋旁新建充电车棚2处，资金来自居民捐款"),
            (24, "start", "branch", "选址方案已征求居民意见"),
        ),
    ),
    (
        "signage", "北门限速、禁停标识褪色看不清",
        "北门进来的限速和禁止停车标识牌褪色看不清，车辆进小区速度很快，门口也经常乱停车。",
        None, "北门", "normal", None, ("", ""),
        (
            (("d", 88, "09:15"), "file"),
            (2, "ack", "handler"),
            (1, "start", "handler", "已联系物业"),
            (44, "resolve", "handler", "更换限速5公里、禁止停车标识牌4块，路面重新喷涂限速标识"),
            (30, "callback", "satisfied", ""),
        ),
    ),
    (
        "other", "4栋楼上住户空调外机滴水",
        "4栋3楼住户的空调冷凝水直接滴到2楼阳台，多次上门沟通没有结果，希望社区处理。",
        "4栋", "4栋2单元", "normal", "4栋2单元", ("钱女士", "19700000118"),
        (
            (("d", 58, "20:30"), "file"),
            (12, "ack", "handler"),
            (26, "reject", "branch", 1, "相邻住户之间的纠纷，不属于公共设施问题；已告知居民可申请社区人民调解"),
        ),
    ),
    (
        "greenery", "8栋前香樟树遮挡低层采光",
        "8栋前面的香樟树长得太高太密，1、2楼白天也要开灯，居民希望修剪。",
        "8栋", "8栋南侧绿化带", "normal", "8栋1单元", ("", ""),
        (
            (("d", 46, "11:00"), "file"),
            (3, "ack", "handler"),
            (30, "withdraw", "filer", "居民已与物业协商，物业同意入冬后统一修剪，居民申请撤回"),
        ),
    ),
    (
        "drainage", "3栋门口雨水篦子堵塞、下雨积水",
        "3栋单元门口的雨水篦子被落叶和泥沙堵死，一下雨门口积水到脚踝，老人出门要蹚水。",
        "3栋", "3栋单元门口", "normal", None, ("林奶奶", ""),
        (
            (("d", 9, "10:00"), "file"),
            (1, "ack", "handler"),
            (2, "start", "handler", "已通知物业清掏"),
            (26, "resolve", "handler", "物业清掏雨水篦子2处，疏通雨水管约20米"),
            (("h", 20), "callback", "unsatisfied", "上周末下大雨，3栋门口积水仍没过脚踝，居民认为管道没有真正疏通"),
            (("h", 8), "note", "handler", "已约管道检测车来做内窥检测，查找堵点"),
        ),
    ),
    (
        "lift", "12栋电梯频繁停运，本周两次困人",
        "12栋电梯这周停了三次，两次把人困在里面，一次困了一个多小时，楼里有不少老人和行动不便的住户。",
        "12栋", "12栋电梯", "urgent", "12栋2单元", ("罗先生", "19700000121"),
        (
            (("d", 4, "16:20"), "file"),
            (0.1, "escalate", "filer", "困人事件频发，请组长协调"),
            (0.4, "ack", "handler"),
            (0.5, "escalate", "handler", "电梯主机老化，需动用专项维修资金，请片长协调"),
            (1, "escalate", "zone", "电梯安全无小事，请社区协调物业和维保单位"),
            (0.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 1, "责成普瑞物业与电梯维保单位立即检修"),
            (0.3, "accept"),
            (0.2, "update", "org", "维保单位已到场"),
            (18, "resolve", "org", "更换曳引机制动器和轿门门机，经特种设备检验机构检验合格，已恢复运行"),
        ),
    ),
    (
        "road", "8栋与9栋之间道路下沉开裂",
        "8栋和9栋之间的路面这个月明显下沉，裂缝越来越宽，最宽处能塞进手指，怀疑地下管道渗漏。",
        "8栋", "8栋与9栋之间道路", "normal", None, ("", ""),
        (
            (("h", 22), "file"),
            (0.1, "escalate", "filer", "疑似地下管道渗漏，需专业检测"),
            (1.5, "ack", "handler"),
            (1, "escalate", "handler", "需专业单位检测，请片长协调"),
            (2, "escalate", "zone", "存在塌陷风险，请社区协调专业单位检测"),
            (2.5, "priority", "branch", "high"),
            (0.5, "assign", "branch", "property", 7, "委托普瑞物业联系管道检测单位，先行设置围挡"),
            (1, "decline", "下沉路段在进出道路改造雨水管网迁改的施工范围内，应由开发商负责检测修复"),
            (1, "assign", "branch", "developer", 10, "雨水管网迁改施工段，由开发商湘瑞置业负责检测修复"),
            (0.5, "accept"),
            (0.5, "update", "org", "已设置围挡和警示灯，管道检测单位明天进场"),
        ),
    ),
    (
        "cctv", "10栋2单元门禁对讲损坏",
        "10栋2单元门禁对讲机按了没反应，单元门关不上，外来人员随便进出。",
        "10栋", "10栋2单元", "normal", "10栋2单元", ("", ""),
        (
            (("d", 5, "09:20"), "file"),
            (2, "ack", "handler"),
            (1, "start", "handler", "已报物业维修"),
            (30, "resolve", "handler", "物业更换10栋2单元门禁主机及电控锁"),
        ),
    ),
    (
        "drainage", "10栋地下室雨后返水",
        "每次下大雨10栋地下室就返水，积水有二三十厘米，储藏室的东西都泡了，怀疑市政管网排水不畅。",
        "10栋", "10栋地下室", "normal", "10栋1单元", ("曹先生", "19700000124"),
        (
            (("h", 26), "file"),
            (0.1, "escalate", "filer", "积水严重，请组长协调"),
            (1.5, "ack", "handler"),
            (1, "escalate", "handler", "需排查小区外市政管网，请片长协调"),
            (3, "escalate", "zone", "涉及市政排水，请社区协调"),
            (6, "escalate", "branch", "需改造市政排水管网，超出社区能力，请街道协调区水务局"),
            (("h", 6), "note", "street", "已联系区水务局，约定本周现场勘察"),
            (0.5, "assign", "street", "water", 14, "请区水务局勘察小区外市政排水管网，制定改造方案"),
        ),
    ),
    (
        "lighting", "12栋旁路灯不亮",
        "12栋西侧路灯从前天开始不亮，那一段路没有别的照明，晚上很黑。",
        "12栋", "12栋西侧", "normal", "12栋1单元", ("", ""),
        ((("h", 2), "file"),),
    ),
    (
        "road", "6栋停车场入口路面坑洼",
        "6栋地面停车场入口有两个大坑，车进出时底盘容易刮到，下雨积水。",
        "6栋", "6栋停车场入口", "normal", None, ("", ""),
        (
            (("h", 16), "file"),
            (2, "ack", "handler", "已通知物业查看"),
            (1, "assign", "branch", "property", 3, "请物业尽快修补停车场入口的坑洼"),
        ),
    ),
    (
        "lift", "11栋电梯按键失灵、轿厢照明不亮",
        "11栋电梯5楼、6楼按键按了没反应，轿厢顶灯也坏了一半，里面很暗。",
        "11栋", "11栋电梯", "normal", "11栋1单元", ("", ""),
        (
            (("h", 26), "file"),
            (1.5, "ack", "handler"),
            (2, "assign", "branch", "property", 3, "请物业督促电梯维保单位检修按键和轿厢照明"),
        ),
    ),
    (
        "sanitation", "2栋楼道堆放杂物堵塞通道",
        "2栋2单元楼道里堆了旧家具和纸箱，占了半个楼梯，既不好走也有火灾隐患。",
        "2栋", "2栋2单元楼道", "normal", None, ("", ""),
        ((("h", 5), "file"),),
    ),
    (
        "signage", "小区缺少平面导视图",
        "小区没有平面导视图，来访的亲友、维修师傅经常找不到楼栋，希望在大门口设置。",
        None, "南门、北门", "normal", None, ("", ""),
        (
            (("d", 6, "10:40"), "file"),
            (3, "ack", "handler"),
            (2, "start", "handler", "已与物业确定导视牌样式"),
            (50, "resolve", "handler", "在南门、北门各新设小区平面导视牌1块"),
        ),
    ),
    (
        "fire", "9栋楼道灭火器过期",
        "9栋各层楼道的灭火器压力表指针都在红区，标签显示已过期两年。",
        "9栋", "9栋各层楼道", "normal", "9栋1单元", ("", ""),
        (
            (("d", 4, "15:00"), "file"),
            (1.5, "ack", "handler"),
            (0.5, "assign", "branch", "property", 3, "请物业更换9栋楼道过期灭火器"),
            (1, "accept"),
            (20, "resolve", "org", "更换9栋楼道灭火器14具，并建立每月巡检记录"),
        ),
    ),
    (
        "parking", "北门外车辆占用人行道停放",
        "北门外人行道上每天停满车，行人只能走机动车道，接送孩子很危险。",
        None, "北门外人行道", "normal", None, ("", ""),
        (
            (("h", 24), "file"),
            (2, "ack", "handler"),
            (3, "start", "handler", "已与物业、城管沟通，拟施划停车位并设置隔离桩"),
        ),
    ),
)  # fmt: skip


DAY_STARTS, DAY_ENDS = 8 * HOUR, 22 * HOUR  # leaders act between these Beijing clock times


def _local(moment: int) -> int:
    """Seconds since Beijing midnight."""
    return (moment + CHINA_OFFSET) % DAY


def _daytime(moment: int) -> int:
    """The moment, or the next morning at the same minute if it falls in the night."""
    local = _local(moment)
    if local >= DAY_ENDS:
        return moment + DAY - local + DAY_STARTS + local % HOUR
    if local < DAY_STARTS:
        return moment + DAY_STARTS - local + local % HOUR
    return moment


def _working_back(now: int, hours: float) -> int:
    """`hours` of daytime before now, skipping nights: a recent step is always in the day."""
    moment, left = now, round(hours * HOUR)
    local = _local(moment)
    if local >= DAY_ENDS:
        moment -= local - DAY_ENDS
    elif local < DAY_STARTS:
        moment -= local + DAY - DAY_ENDS
    while True:
        available = _local(moment) - DAY_STARTS
        if left <= available:
            return moment - left
        left -= available
        moment -= available + DAY - DAY_ENDS + DAY_STARTS


def _working_after(moment: int, hours: float) -> int:
    """`hours` of daytime after a moment, skipping nights."""
    left = round(hours * HOUR)
    local = _local(moment)
    if local >= DAY_ENDS or local < DAY_STARTS:
        moment = _daytime(moment) - _local(moment) % HOUR
    while True:
        available = DAY_ENDS - _local(moment)
        if left < available:
            return moment + left
        left -= available
        moment += available + DAY - DAY_ENDS + DAY_STARTS


def _script_time(when, previous: int | None, recent: bool, now: int) -> tuple[int, bool]:
    """A step's time, and whether its chain now runs on the working clock.

    ("d", days, "HH:MM") is that Beijing clock time so many days before today; a number after it is
    that many hours later, moved to the next morning if it falls in the night. ("h", hours) is that
    many daytime hours before the load, and a number after it that many daytime hours later: what
    sits just before the load keeps its deadlines ahead of the load whatever the time of day it runs.
    """
    if isinstance(when, int | float):
        moment = _working_after(previous, when) if recent else _daytime(previous + round(when * HOUR))
    elif when[0] == "h":
        moment, recent = _working_back(now, when[1]), True
    else:
        today = (now + CHINA_OFFSET) // DAY * DAY - CHINA_OFFSET  # Beijing midnight, as UTC seconds
        hours, minutes = (int(part) for part in when[2].split(":"))
        moment, recent = today - when[1] * DAY + hours * HOUR + minutes * 60, False
    if previous is not None and moment <= previous:
        raise ValueError(f"demo script: step at {when} is not after the previous one")
    return moment, recent


STEP_STATUS = {"ack": "acknowledged", "start": "in_progress", "resolve": "resolved", "withdraw": "withdrawn"}
STEP_COMMENT = {"update": "public_update", "note": "internal_note", "comment": "comment"}


def pruisburg_lives(ctx: DemoContext, world: IssueWorld, nodes: dict[int, dict]) -> list[tuple[IssueLife, dict]]:
    """The 31 普瑞斯堡 issues, replayed: (life, the issue's fixed columns) in PRUISBURG_ISSUES order.

    Duplicates are replayed last, so the issue each is merged into has its whole life already.
    """
    rng = ctx.rng("pruisburg-issues")
    now = _ts(ctx.now)
    by_name = {nodes[i]["name"]: nodes[i] for ids in ctx.compound_neighbour_ids for i in ids}
    own = nodes[ctx.compound_neighbour_ids[0][0]]
    orgs = {
        "property": ctx.property_org_id,
        "developer": ctx.developer_org_id,
        "office": ctx.offices[ctx.street_id],
        "water": ctx.organisations["区水务局"],
    }
    result: list[tuple[IssueLife, dict] | None] = [None] * len(PRUISBURG_ISSUES)
    order = sorted(range(len(PRUISBURG_ISSUES)), key=lambda i: any(s[1] == "dup" for s in PRUISBURG_ISSUES[i][8]))
    for index in order:
        category, title, description, building, place, urgency, filed_in, resident, steps = PRUISBURG_ISSUES[index]
        node = by_name[filed_in] if filed_in else own
        holders = world.holders(node, ctx.district_id)
        life = IssueLife(world, rng, urgency, holders, holders[0], 0, node)
        at, recent = None, False
        for when, op, *args in steps:
            at, recent = _script_time(when, at, recent, now)
            if at > now:
                raise ValueError(f"demo script: {title} has a step after the load time")
            if op == "file":
                life.file(at)
            elif op == "reject":
                life.move(at, args[0], "rejected", args[2], reason=world.reasons[args[1]])
            elif op in STEP_STATUS:
                life.move(at, args[0], STEP_STATUS[op], *args[1:])
            elif op == "dup":
                life.move(at, args[0], "duplicate", args[2], duplicate_of=result[args[1]][0])
            elif op == "escalate":
                life.escalate(at, args[0], args[1])
            elif op == "assign":
                life.assign(at, args[0], orgs[args[1]], args[2], args[3])
            elif op == "accept":
                life.accept(at)
            elif op == "decline":
                life.decline(at, args[0])
            elif op == "priority":
                life.set_priority(at, args[0], args[1])
            elif op in STEP_COMMENT:
                life.comment(at, args[0], STEP_COMMENT[op], args[1])
            elif op == "callback":
                life.callback(at, args[0], args[1])
            else:
                raise ValueError(f"demo script: unknown step {op}")
        life.finish(now)
        fixed = {
            "category_id": world.categories[category],
            "title": title,
            "description": description,
            "compound_id": ctx.compound_id,
            "building_id": ctx.building_ids[building] if building else None,
            "place_detail": place,
            "resident_name": resident[0],
            "resident_phone": resident[1],
            **_ancestors(node),
        }
        result[index] = (life, fixed)
    return result


def _ancestors(node: dict) -> dict:
    """The issue's tree columns, copied from its 邻 as file_issue copies them."""
    return {
        "neighbour_id": node["id"],
        "group_id": node["group_id"],
        "zone_id": node["zone_id"],
        "community_id": node["community_id"],
        "street_id": node["street_id"],
    }


# --- the district's issues --------------------------------------------------------------------


@dataclass(frozen=True)
class StreetProfile:
    """How much one 街镇 files and how well it answers — the differences reports are meant to show.

    volume: issues per 邻 against the district's average; since: days since its leaders started
    filing; ack / resolve: median hours to acknowledge and to fix; unsatisfied: share of callbacks
    not satisfied; lazy: share of fixes nobody calls back about; escalate: share escalated by hand;
    extra: category weights it has more of.
    """

    volume: float
    since: int
    ack: float
    resolve: float
    unsatisfied: float
    lazy: float
    escalate: float
    extra: tuple[tuple[str, float], ...] = ()


STREET_PROFILES = {
    "云栖街道": StreetProfile(1.3, 183, 2.0, 26, 0.04, 0.04, 0.06),
    "柳岸街道": StreetProfile(1.5, 183, 11.0, 52, 0.08, 0.15, 0.08),
    "枫桥街道": StreetProfile(1.0, 183, 3.0, 32, 0.05, 0.08, 0.07),
    "银湖街道": StreetProfile(1.1, 183, 4.0, 66, 0.13, 0.10, 0.12, (("lift", 2.5), ("parking", 1.5))),
    "清溪街道": StreetProfile(0.9, 150, 5.0, 38, 0.06, 0.10, 0.08),
    "临江街道": StreetProfile(1.2, 183, 6.0, 48, 0.07, 0.12, 0.10, (("drainage", 2.2),)),
    "荷塘镇": StreetProfile(0.5, 120, 15.0, 80, 0.10, 0.25, 0.15),
    "杏花镇": StreetProfile(0.8, 183, 6.0, 42, 0.06, 0.12, 0.08),
    "竹溪镇": StreetProfile(0.7, 160, 8.0, 52, 0.19, 0.15, 0.10, (("sanitation", 1.6),)),
    "石泉镇": StreetProfile(0.8, 183, 12.0, 95, 0.09, 0.20, 0.14, (("road", 1.8),)),
    "稻香镇": StreetProfile(0.6, 75, 7.0, 42, 0.06, 0.12, 0.08),
}
URBAN_CATEGORIES = {
    "road": 13, "cctv": 6, "lighting": 12, "signage": 4, "fire": 6, "drainage": 9,
    "greenery": 8, "parking": 14, "lift": 7, "sanitation": 15, "other": 6,
}  # fmt: skip
VILLAGE_CATEGORIES = {
    "road": 20, "cctv": 3, "lighting": 14, "signage": 4, "fire": 4, "drainage": 16,
    "greenery": 8, "parking": 4, "lift": 0, "sanitation": 21, "other": 6,
}  # fmt: skip
# How long a kind takes to fix against the street's median, and how often it is urgent.
CATEGORY_PACE = {
    "road": 1.7, "cctv": 1.4, "lighting": 0.6, "signage": 0.9, "fire": 0.9, "drainage": 1.3,
    "greenery": 1.0, "parking": 1.2, "lift": 0.6, "sanitation": 0.5, "other": 1.0,
}  # fmt: skip
URGENT_SHARE = {"fire": 0.3, "lift": 0.35, "drainage": 0.15, "road": 0.05, "lighting": 0.05}
# Who fixes what once the branch hands it on; None: the 街镇 office.
CATEGORY_DEPARTMENT = {
    "road": "区市政局", "lighting": "区市政局", "drainage": "区水务局", "sanitation": "区城管局",
    "parking": "区城管局", "greenery": "区城管局", "signage": "区交通运输局", "lift": "区住建局", "fire": "区住建局",
}  # fmt: skip
# Inside a managed compound these are the property company's.
PROPERTY_CATEGORIES = ("road", "lighting", "cctv", "lift", "fire", "parking", "greenery", "sanitation")

TITLES = {
    "road": ("{p}路面坑洼破损", "{p}路面塌陷", "{p}人行道地砖松动", "{p}道路开裂积水", "{p}减速带损坏"),
    "cctv": ("{p}监控摄像头损坏", "{p}门禁系统故障", "{p}监控探头无画面", "{p}道闸失灵"),
    "lighting": ("{p}路灯不亮", "{p}路灯昏暗", "{p}路灯灯杆锈蚀倾斜", "{p}路灯白天常亮", "{p}照明线路裸露"),
    "signage": ("{p}路名牌缺失", "{p}指示牌褪色看不清", "{p}限速标志被树枝遮挡", "{p}门牌号脱落"),
    "fire": ("{p}消防通道被占用", "{p}灭火器过期", "{p}消防栓无水", "{p}堆放杂物堵塞通道", "{p}电动车飞线充电"),
    "drainage": ("{p}下水道堵塞", "{p}雨后积水严重", "{p}窨井盖破损", "{p}污水外溢", "{p}排水沟淤塞"),
    "greenery": ("{p}枯树有倒伏隐患", "{p}绿化带杂草丛生", "{p}树枝遮挡路灯", "{p}绿地被毁种菜"),
    "parking": ("{p}车辆乱停占道", "{p}非机动车棚破损", "{p}停车位划线模糊", "{p}僵尸车长期占用车位", "{p}充电桩故障"),
    "lift": ("{p}电梯频繁故障", "{p}电梯困人", "{p}电梯运行异响", "{p}电梯按键失灵"),
    "sanitation": ("{p}垃圾清运不及时", "{p}垃圾桶破损", "{p}建筑垃圾乱堆", "{p}卫生死角无人清扫", "{p}小广告乱贴"),
    "other": ("{p}噪音扰民", "{p}流浪犬伤人隐患", "{p}公共座椅损坏", "{p}健身器材损坏"),
}  # fmt: skip
IMPACTS = (
    "已经持续一个多星期", "多名居民反映", "老人小孩出行不便", "晚上存在安全隐患",
    "影响居民正常生活", "下雨天更严重", "之前反映过一次还没解决",
)  # fmt: skip
ASKS = ("请尽快安排处理。", "希望相关部门尽快维修。", "请社区协调解决。", "居民希望尽快解决。")
URBAN_PLACES = (
    "{b}栋{u}单元门口", "{b}栋楼下", "{b}栋旁", "小区北门", "小区南门", "小区主干道", "{b}栋后面小路",
    "社区广场", "菜市场旁", "社区服务中心门口", "{b}栋{u}单元楼道",
)  # fmt: skip
VILLAGE_PLACES = ("{g}村道", "{g}村民小组", "村部旁", "村卫生室门口", "{g}水塘边", "村小学门口", "{g}集中居住点")
COMPOUND_PLACES = ("{b}门口", "{b}楼下", "{b}旁", "{b}楼道", "{b}后面小路")
RESOLVED_NOTES = {
    "road": "已修补破损路面", "cctv": "已更换损坏设备，恢复正常", "lighting": "已更换灯具并检修线路",
    "signage": "已重新制作安装标识牌", "fire": "已整改到位，消防设施恢复正常", "drainage": "已清淤疏通，排水恢复正常",
    "greenery": "已修剪清理", "parking": "已清理整治，重新施划车位", "lift": "维保单位已维修，经检测恢复运行",
    "sanitation": "已清理，并增加清运频次", "other": "已协调处理",
}  # fmt: skip
# Rejections: (the reason's place in the reject_reason list, the branch's note or "").
REJECT_NOTES = (
    (1, "相邻住户之间的纠纷，已引导申请人民调解"),
    (4, "经现场核实，问题已由产权单位自行处理完毕"),
    (2, "该处属在建工地范围，由施工单位负责，已转告建设单位"),
    (0, "属业主自用部位，由业主自行维修，已向居民解释"),
    (3, ""),
)
ASSIGN_NOTES = ("", "", "请尽快安排人员到现场处置", "请按期办结并在平台反馈", "居民反映强烈，请优先处理")
DECLINE_REASONS = (
    "经现场核实不属于本单位职责范围，请转属地街道处理",
    "该处设施产权不属本单位，建议由属地街道协调",
    "涉及多家单位职责，请社区先行协调后再派单",
)


@dataclass(frozen=True)
class PartyProfile:
    """How a responsible party answers an assignment — the differences the response-times panel shows.

    accept: median hours to accept (接单); decline: share handed back (退回); pace: time to fix against
    the street's own pace.
    """

    accept: float
    decline: float
    pace: float


PARTY_PROFILES = {
    PROPERTY_COMPANY: PartyProfile(1.5, 0.03, 0.7),
    OTHER_PROPERTY_COMPANY: PartyProfile(6, 0.1, 1.1),
    DEVELOPER: PartyProfile(10, 0.1, 1.6),
    "区住建局": PartyProfile(30, 0.15, 1.5),
    "区城管局": PartyProfile(4, 0.06, 0.8),
    "区市政局": PartyProfile(12, 0.1, 1.2),
    "区水务局": PartyProfile(18, 0.12, 1.0),
    "区交通运输局": PartyProfile(40, 0.2, 1.3),
}
# The share of a party's kind of work the branch assigns to it straight away, whatever the level.
TAKE_UP = {OTHER_PROPERTY_COMPANY: 0.35, **dict.fromkeys(DEPARTMENTS, 0.25)}
# The 街镇 office takes what nobody else serves, and never hands it back.
OFFICE_PROFILE = PartyProfile(5, 0.0, 1.0)
WITHDRAW_NOTES = ("居民表示问题已自行解决，申请撤回", "登记有误，撤回本条", "居民与物业协商解决，申请撤回")
UNSATISFIED_NOTES = ("问题反复出现，居民不满意", "只做了临时处理，没有根治", "维修质量差，没几天又坏了")
UPDATES = ("已联系维修人员，预计本周内处理", "材料已采购，近日施工", "已现场查看，正在制定方案")
ESCALATE_REASONS = ("超出本级处理能力，请上级协调", "需多部门协调", "涉及资金较大，需上级统筹")
RESIDENT_TITLES = ("女士", "先生", "阿姨", "大爷", "奶奶")
# Filing is a daytime thing, peaking in the morning and after dinner (Beijing hours 8–21).
FILING_HOURS = (6, 10, 10, 8, 4, 4, 6, 8, 8, 7, 6, 8, 7, 4)


def _working_hours(moment: int, rng: random.Random) -> int:
    """People act between 08:00 and 21:30 Beijing time: later than that waits for the next morning."""
    local = (moment + CHINA_OFFSET) % DAY
    if local < 8 * HOUR:
        return moment + 8 * HOUR - local + rng.randint(0, 5400)
    if local >= 21 * HOUR + 1800:
        return moment + DAY - local + 8 * HOUR + rng.randint(0, 5400)
    return moment


@dataclass
class DistrictIssue:
    """One district issue before its replay: where, what, and how its story is meant to go."""

    created: int
    node: dict
    category: str
    fixed: dict
    urgency: str
    filer: tuple[int, int]
    profile: StreetProfile
    fate: str  # 'normal', 'withdraw', 'reject' or 'duplicate'
    escalate: int  # levels escalated by hand once acknowledged
    organisation: int  # who gets it if the branch hands it on (派单)
    office: int  # the 街镇 office: who gets it when that party hands it back
    seed: int
    duplicate_of: DistrictIssue | None = None  # an earlier issue of the same kind in the same community


def district_issues(ctx: DemoContext, world: IssueWorld, nodes: dict[int, dict]) -> list[DistrictIssue]:
    """Where and when the district's issues are filed, and what they are about (not yet replayed)."""
    rng = ctx.rng("district-issues")
    now = _ts(ctx.now)
    street_names = {street_id: name for street_id, (name, _town) in ctx.streets.items()}
    office = ctx.offices
    compound_property = ctx.organisations[OTHER_PROPERTY_COMPANY]
    group_names = dict(db.session.execute(select(Node.id, Node.name).where(Node.level == "group")).all())
    buildings: dict[int, list[str]] = {}
    for compound_id, name in db.session.execute(select(Building.compound_id, Building.name).order_by(Building.id)):
        buildings.setdefault(compound_id, []).append(name)
    compound_names = dict(db.session.execute(select(Compound.id, Compound.name)).all())
    building_ids = {
        (compound_id, name): building_id
        for building_id, compound_id, name in db.session.execute(
            select(Building.id, Building.compound_id, Building.name)
        )
    }
    community_factor = {c: rng.lognormvariate(0, 0.5) for c in sorted(ctx.communities)}
    candidates = [n for n in nodes.values() if n["zone_id"] != ctx.zone_id]
    weights = []
    for node in candidates:
        profile = STREET_PROFILES[street_names[node["street_id"]]]
        weights.append(profile.volume * profile.since / HISTORY_DAYS * community_factor[node["community_id"]])
    weights = [w * rng.lognormvariate(0, 0.6) for w in weights]
    total = max(len(ctx.communities), round(FULL_ISSUES * ctx.scale))
    chosen = rng.choices(candidates, cum_weights=list(accumulate(weights)), k=total)
    category_tables = {}
    for name, profile in STREET_PROFILES.items():
        for village in (False, True):
            table = dict(VILLAGE_CATEGORIES if village else URBAN_CATEGORIES)
            for code, factor in profile.extra:
                table[code] *= factor
            codes = [code for code, weight in table.items() if weight > 0]
            category_tables[(name, village)] = (codes, list(accumulate(table[c] for c in codes)))
    hours = list(accumulate(FILING_HOURS))
    specs = []
    for node in chosen:
        street = street_names[node["street_id"]]
        profile = STREET_PROFILES[street]
        village = ctx.communities[node["community_id"]][2] == "村"
        compound_id = node["compound_id"]
        codes, cumulative = category_tables[(street, village and compound_id is None)]
        category = codes[bisect(cumulative, rng.random() * cumulative[-1])]
        # Recent months have more: the system spread as leaders took it up.
        day = now - int(profile.since * rng.random() ** 1.35 * DAY)
        midnight = (day + CHINA_OFFSET) // DAY * DAY - CHINA_OFFSET
        created = midnight + (8 + bisect(hours, rng.random() * hours[-1])) * HOUR + rng.randint(0, HOUR - 1)
        if created > now - 600:
            created -= DAY
        building = None
        if compound_id is not None:
            building = rng.choice(buildings[compound_id])
            place = rng.choice(COMPOUND_PLACES).format(b=building)
            short = compound_names[compound_id] + building
        elif village:
            place = rng.choice(VILLAGE_PLACES).format(g=group_names[node["group_id"]])
            short = place
        else:
            place = rng.choice(URBAN_PLACES).format(b=rng.randint(1, 24), u=rng.randint(1, 4))
            short = place
        if category == "lift":
            short = (compound_names[compound_id] + building) if building else f"{rng.randint(1, 24)}栋"
        title = rng.choice(TITLES[category]).format(p=short)
        description = f"{title}，{rng.choice(IMPACTS)}。{rng.choice(ASKS)}"
        resident = rng.choice(SURNAMES) + rng.choice(RESIDENT_TITLES) if rng.random() < 0.6 else ""
        phone = f"1970{rng.randint(0, 9_999_999):07d}" if resident and rng.random() < 0.6 else ""
        urgency = "urgent" if rng.random() < URGENT_SHARE.get(category, 0.03) else "normal"
        if rng.random() < 0.12:
            filer = (world.holder[node["group_id"]], 1)
        else:
            filer = (world.holder[node["id"]], 0)
        roll = rng.random()
        fate = "withdraw" if roll < 0.02 else "reject" if roll < 0.045 else "duplicate" if roll < 0.075 else "normal"
        escalate = 0
        if rng.random() < profile.escalate * (1.5 if category in ("road", "drainage", "cctv", "lift") else 1):
            escalate = rng.choice((1, 2, 3, 3))
        # The party serving the community that fixes this kind, else the 街镇 office.
        serving = ctx.paired.get(node["community_id"], ())
        department = ctx.organisations.get(CATEGORY_DEPARTMENT.get(category))
        if compound_id is not None and category in PROPERTY_CATEGORIES and compound_property in serving:
            organisation = compound_property
        elif department in serving:
            organisation = department
        else:
            organisation = office[node["street_id"]]
        fixed = {
            "category_id": world.categories[category],
            "title": title[:80],
            "description": description,
            "compound_id": compound_id,
            "building_id": building_ids[(compound_id, building)] if building else None,
            "place_detail": place,
            "resident_name": resident,
            "resident_phone": phone,
            **_ancestors(node),
        }
        seed = rng.getrandbits(32)
        specs.append(
            DistrictIssue(
                created,
                node,
                category,
                fixed,
                urgency,
                filer,
                profile,
                fate,
                escalate,
                organisation,
                office[node["street_id"]],
                seed,
            )
        )
    specs.sort(key=lambda s: s.created)
    # A duplicate points at an earlier issue of the same kind in the same community, one the branch
    # does not turn away (an issue rejected or withdrawn takes no duplicates).
    earlier: dict[tuple[int, str], list[DistrictIssue]] = {}
    for spec in specs:
        key = (spec.node["community_id"], spec.category)
        if spec.fate == "duplicate":
            if not earlier.get(key):
                spec.fate = "normal"
            else:
                spec.duplicate_of = rng.choice(earlier[key][-5:])
        if spec.fate == "normal":
            earlier.setdefault(key, []).append(spec)
    return specs


def replay_district_issue(
    spec: DistrictIssue, world: IssueWorld, district_id: int, now: int, lives: dict[int, IssueLife]
) -> IssueLife:
    """One district issue's story, cut off at the load time (`lives`: the earlier ones, by id() of their spec)."""
    rng = random.Random(spec.seed)
    profile = spec.profile
    urgent = spec.urgency == "urgent"
    life = IssueLife(world, rng, spec.urgency, world.holders(spec.node, district_id), *spec.filer, spec.node)
    life.file(spec.created)
    clock = spec.created

    def after(median_hours: float, sigma: float = 0.9) -> bool:
        """Move the clock on by a plausible delay; False once that is past the load time."""
        nonlocal clock
        delay = max(120, int(HOUR * rng.lognormvariate(math.log(median_hours), sigma)))
        clock = _working_hours(clock + delay, rng)
        return clock < now

    def hand_over(fix: float) -> PartyProfile | None:
        """The branch assigns (派单) with a deadline to suit the work; the party accepts, or hands it back
        and the 街镇 office takes it. The party's profile once one has accepted, None if the load came first."""
        organisation = spec.organisation
        for attempt in range(2):
            if not after(4 * (0.3 if urgent else 1)):
                return None
            days = (1 if urgent else 3) + round(fix * 2 / 24)
            life.assign(clock, "triage", organisation, min(days, 90), rng.choice(ASSIGN_NOTES))
            party = PARTY_PROFILES.get(world.org_names[organisation], OFFICE_PROFILE)
            if not after(party.accept * (0.3 if urgent else 1), 1.0):
                return None
            if attempt or rng.random() >= party.decline or organisation == spec.office:
                life.accept(clock)
                return party
            life.decline(clock, rng.choice(DECLINE_REASONS))
            organisation = spec.office
        return None

    def prioritise() -> None:
        """The branch marks what must not wait (and a little that may) before handing it over."""
        if (urgent or spec.category in ("fire", "lift")) and rng.random() < 0.6:
            life.set_priority(clock, "triage", "high")
        elif spec.category in ("signage", "greenery") and rng.random() < 0.3:
            life.set_priority(clock, "triage", "low")

    def story() -> None:
        if not after(profile.ack * (0.25 if urgent else 1)):
            return
        if spec.fate == "duplicate":
            note = rng.choice(("", "与同一地点同类问题重复，已合并处理"))
            life.move(clock, "triage", "duplicate", note, lives[id(spec.duplicate_of)])
            return
        if spec.fate == "withdraw" and rng.random() < 0.4:
            life.move(clock, "filer", "withdrawn", rng.choice(WITHDRAW_NOTES))
            return
        fix = profile.resolve * CATEGORY_PACE[spec.category] * (0.3 if urgent else 1)
        # Work for the property company or a department serving the community the branch often takes
        # up and assigns straight away, now and then before the 组长 has even acknowledged it.
        take_up = TAKE_UP.get(world.org_names[spec.organisation], 0)
        if spec.fate == "normal" and not spec.escalate and rng.random() < take_up / 3:
            prioritise()
            party = hand_over(fix)
            if party is None:
                return
        else:
            life.move(clock, "handler", "acknowledged")
            if spec.fate == "reject":
                if after(8):
                    reason, note = rng.choice(REJECT_NOTES)
                    life.move(clock, "triage", "rejected", note, reason=world.reasons[reason % len(world.reasons)])
                return
            if spec.fate == "withdraw":
                if after(24):
                    life.move(clock, "filer", "withdrawn", rng.choice(WITHDRAW_NOTES))
                return
            for _ in range(spec.escalate):
                if not after(3):
                    return
                life.advance(clock)  # the sweep may have taken it up already
                if life.level == "district":
                    break
                life.escalate(clock, "handler", rng.choice(ESCALATE_REASONS))
                fix = profile.resolve * CATEGORY_PACE[spec.category] * 1.8 * (0.3 if urgent else 1)
            # Most of what reaches the community is handed to a party.
            life.advance(clock)
            reached = LEVEL_RANK[life.level] >= LEVEL_RANK["community"]
            if (reached and rng.random() < (0.75 if spec.escalate else 0.5)) or rng.random() < take_up:
                prioritise()
                party = hand_over(fix)
                if party is None:
                    return
            else:
                party = None
                if not after(1.5 if urgent else 5):
                    return
                life.move(clock, "handler", "in_progress")
        worker = "handler" if party is None else "org"
        fix *= party.pace if party else 1
        if rng.random() < 0.12:
            if not after(fix / 3):
                return
            life.comment(clock, worker, "public_update", rng.choice(UPDATES))
        if not after(fix):
            return
        life.move(clock, worker, "resolved", RESOLVED_NOTES[spec.category])
        for attempt in range(2):
            if rng.random() < profile.lazy or not after(30, 0.6):
                return
            unhappy = rng.random() < profile.unsatisfied / (1 + 2 * attempt)
            if unhappy:
                life.callback(clock, "unsatisfied", rng.choice(UNSATISFIED_NOTES))
            else:
                life.callback(clock, "basically_satisfied" if rng.random() < 0.15 else "satisfied")
                return
            if not after(8):
                return
            life.move(clock, worker, "in_progress", "已重新安排处理")
            if not after(fix * 0.7):
                return
            life.move(clock, worker, "resolved", RESOLVED_NOTES[spec.category])

    story()
    life.finish(now)
    return life


def build_issues(ctx: DemoContext) -> None:
    """The 31 普瑞斯堡 issues and the district's six months of issues, each with its whole timeline."""
    world = issue_world(ctx)
    nodes = neighbour_nodes()
    now = _ts(ctx.now)
    pruisburg = pruisburg_lives(ctx, world, nodes)
    lives: dict[int, IssueLife] = {}
    district = []
    for spec in district_issues(ctx, world, nodes):
        life = replay_district_issue(spec, world, ctx.district_id, now, lives)
        lives[id(spec)] = life
        district.append((life, spec.fixed))
    # Ids follow filing order, as they would have in real life.
    everything = sorted([*pruisburg, *district], key=lambda pair: pair[0].created)
    issue_ids = ctx.allocate(Issue, len(everything))
    id_of = {life: issue_id for (life, _fixed), issue_id in zip(everything, issue_ids, strict=True)}
    ctx.insert_history(Issue, ISSUE_COLUMNS, [life.row(id_of[life], fixed, id_of) for life, fixed in everything])
    ctx.pruisburg_issue_ids = [id_of[life] for life, _fixed in pruisburg]

    def reference(life: IssueLife) -> str:
        return f"WC-{_dt(life.created).year}-{id_of[life]:06d}"

    # Event ids follow time across the district, as the events were written.
    # One integer key per event (time, then issue, then its place in the issue) sorts fast.
    timeline = sorted(
        ((event[0] << 32) | (id_of[life] << 8) | seq, id_of[life], event, life)
        for life, _fixed in everything
        for seq, event in enumerate(life.events)
    )
    event_ids = ctx.allocate(IssueEvent, len(timeline))
    event_rows = [
        (event_id, issue_id, *event[:7], event[7] if type(event[7]) is str else event[7].text(reference), *event[8:10])
        for event_id, (_key, issue_id, event, _life) in zip(event_ids, timeline, strict=True)
    ]
    ctx.insert_history(IssueEvent, EVENT_COLUMNS, event_rows)
    # The audit log (people's steps only, ids in time order) and who follows each issue.
    audits = sorted(
        ((at << 32) | (id_of[life] << 8) | seq, at, actor, action, life, detail)
        for life, _fixed in everything
        for seq, (at, actor, action, detail) in enumerate(life.audits)
    )
    audit_rows = [
        (
            audit_id,
            at,
            actor,
            action,
            id_of[life],
            life.community_id,
            life.street_id,
            (detail if type(detail) is str else detail.text(reference))[:500],
            None,
        )
        for audit_id, (_key, at, actor, action, life, detail) in zip(
            ctx.allocate(AuditEntry, len(audits)), audits, strict=True
        )
    ]
    ctx.insert_history(AuditEntry, AUDIT_COLUMNS, audit_rows)
    follower_rows = [
        (id_of[life], person, since) for life, _fixed in everything for person, since in life.followers.items()
    ]
    ctx.insert_history(IssueFollower, FOLLOWER_COLUMNS, follower_rows)
    notifications = pruisburg_inbox(ctx, world, timeline, event_ids, {life for life, _fixed in pruisburg}, everything)
    ctx.counts.update(
        issues=len(everything),
        issue_events=len(event_rows),
        audit_entries=len(audit_rows),
        issue_followers=len(follower_rows),
        notifications=notifications,
    )


def pruisburg_inbox(ctx, world, timeline, event_ids, pruisburg, everything) -> int:
    """Inbox messages the 普瑞斯堡 timeline sent (as services.notify words them); older ones are read."""
    from .platform.notify import EVENT_TEXT, STATUS_TEXT

    rng = ctx.rng("pruisburg-inbox")
    now = _ts(ctx.now)
    titles = {life: (fixed["title"], fixed) for life, fixed in everything if life in pruisburg}
    column = {"neighbour": "neighbour_id", "group": "group_id", "zone": "zone_id"}
    column.update(community="community_id", street="street_id")
    rows, pending = [], []
    for event_id, (_key, issue_id, event, life) in zip(event_ids, timeline, strict=True):
        if life not in pruisburg or not event[10]:
            continue
        at, actor, kind, _fs, to_status, _fl, _tl = event[:7]
        title, fixed = titles[life]
        people: set[int] = set()
        for level in event[10]:
            if level == "filer":  # the filer, and whoever followed the issue by then
                people.update(p for p, since in life.followers.items() if since <= at)
            elif type(level) is tuple:  # ("org", id): the staff of the party assigned then
                people.update(world.org_members[level[1]])
            elif level == "district":
                people.update(world.members[ctx.district_id])
            elif level in column:
                people.update(world.members[fixed[column[level]]])
        people.discard(actor)
        what = EVENT_TEXT.get(kind, "更新")
        if kind == "status" and to_status:
            what = f"{what}：{STATUS_TEXT.get(to_status, to_status)}"
        if kind in ("escalated", "overdue") and actor is None:
            what = f"{what}（超时自动）"
        reference = f"WC-{_dt(life.created).year}-{issue_id:06d}"
        text = f"[{what}] {reference} {title}"[:300]
        sent = at + rng.randint(2, 90)
        for person in sorted(people):
            read = sent + rng.randint(600, 2 * DAY) if sent < now - 3 * DAY else None
            pending.append((person, issue_id, event_id, kind, text, sent, read))
    ids = ctx.allocate(Notification, len(pending))
    for notification_id, (person, issue_id, event_id, kind, text, sent, read) in zip(ids, pending, strict=True):
        rows.append(
            {
                "id": notification_id,
                "person_id": person,
                "issue_id": issue_id,
                "event_id": event_id,
                "kind": kind,
                "text": text,
                "created_at": _dt(min(sent, now)),
                "read_at": _dt(min(read, now)) if read else None,
            }
        )
    ctx.insert(Notification, rows)
    return len(rows)


# --- money: the 普瑞斯堡 renovation and its co-funding (issue 5) ----------------------------------

SPONSOR = "湖南出版投资控股集团"
PROJECT_NAME = "普瑞斯堡老旧小区改造"
# Phases: (name, budget in fen).
PROJECT_PHASES = (
    ("一期：主干道、监控、路灯和标识改造", 3_600_000_00),
    ("消防系统改造", 470_000_00),
    ("进出道路改造", 3_980_000_00),
)
# The two resident donation drives (捐款倡议): (name, target, raised, households, days ago it ran, phase).
DONATION_DRIVES = (
    ("第一次捐款倡议：一期改造", 1_000_000_00, 1_086_300_00, 640, (150, 120), 0),
    ("第二次捐款倡议：消防与电动车充电设施", 500_000_00, 521_450_00, 430, (95, 65), 1),
)
# What residents typically gave, in yuan.
DONATION_YUAN = (100, 200, 200, 300, 500, 500, 500, 800, 1000, 1000, 1000, 2000, 2000, 3000, 5000)
# The organisations' money: (source key, pledge, [(days ago, receipt)], phase index).
ORG_FUNDING = (
    ("sponsor", 2_000_000_00, [(158, 1_200_000_00), (100, 800_000_00)], 0),
    ("property", 470_000_00, [(132, 300_000_00), (70, 170_000_00)], 1),
    ("developer", 3_980_000_00, [(125, 2_000_000_00), (40, 1_000_000_00)], 2),
)
# Spending: (days ago, phase index, source key or None, amount, payee, purpose, PRUISBURG_ISSUES indexes).
EXPENDITURES = (
    (140, 0, "sponsor", 1_180_000_00, "望城宏达市政工程有限公司", "北门至5栋主干道沥青路面铣刨重铺", (0,)),
    (128, 0, "sponsor", 286_500_00, "湖南安视达安防科技有限公司", "全小区监控系统更换（高清摄像头48个、录像机）", (1,)),
    (118, 0, "drive0", 168_000_00, "长沙明亮照明工程有限公司", "主干道LED路灯16盏更换及灯杆扶正", (2, 6)),
    (110, 0, "drive0", 36_800_00, "望城新美标识制作部", "楼栋号牌、单元牌及北门标识更换", (3, 16, 28)),
    (108, 1, "property", 382_000_00, "湖南安泰消防工程有限公司", "消防主管网、48处消火栓箱及水泵房设备更换", (4,)),
    (60, 1, "property", 52_800_00, "湖南安泰消防工程有限公司", "12栋消防报警主机更换（预付款）", (14,)),
    (122, 2, "developer", 186_000_00, "湘江道路设计咨询有限公司", "南侧进出道路拓宽设计", (11, 12)),
    (90, 2, "developer", 1_320_000_00, "望城宏达市政工程有限公司", "南侧道路雨水管网迁改", (11,)),
    (35, 2, "developer", 1_050_000_00, "望城宏达市政工程有限公司", "南侧道路路基施工进度款", (11,)),
)
# The one correction: the property company's second instalment was entered twice (its copy, reversed).
DUPLICATED_RECEIPT = ("property", 70)


def _donations(rng: random.Random, raised: int, households: int) -> list[int]:
    """Donations in fen, in whole 50 yuan, from `households` households, adding up to exactly `raised`."""
    unit = 50_00
    amounts = [rng.choice(DONATION_YUAN) * 100 for _ in range(households)]
    scale = raised / sum(amounts) * 0.97
    amounts = [max(unit, round(a * scale / unit) * unit) for a in amounts]
    while sum(amounts) > raised:
        amounts.pop()
    # The rest, 100 yuan at a time, to households chosen at random (what is left of it to the last one).
    rest = raised - sum(amounts)
    while rest > 0:
        share = min(rest, 2 * unit)
        amounts[rng.randrange(len(amounts))] += share
        rest -= share
    return amounts


def build_funding(ctx: DemoContext) -> None:
    """The 普瑞斯堡 renovation: phases, the five kinds of money, spending against the issues, one reversal."""
    rng = ctx.rng("funding")
    now = ctx.now
    recorder = ctx.people["branch_member"]
    [project_id] = ctx.allocate(Project, 1)
    ctx.insert(
        Project,
        [
            {
                "id": project_id,
                "community_id": ctx.community_id,
                "compound_id": ctx.compound_id,
                "name": PROJECT_NAME,
                "description": "普瑞斯堡老旧小区改造：企业赞助、居民捐款、物业和开发商共同出资。",
                "created_at": now - timedelta(days=165),
            }
        ],
    )
    phase_ids = ctx.allocate(Phase, len(PROJECT_PHASES))
    ctx.insert(
        Phase,
        [
            {"id": i, "project_id": project_id, "name": name, "sort": sort, "budget_fen": budget}
            for sort, (i, (name, budget)) in enumerate(zip(phase_ids, PROJECT_PHASES, strict=True))
        ],
    )
    # Sources: the sponsor (no responsible-party organisation: it is named only), the drives, 物业, 开发商.
    wanted = [("sponsor", "enterprise", SPONSOR, None, None, None, None)]
    for index, (name, target, _raised, _n, (start, end), _phase) in enumerate(DONATION_DRIVES):
        days = (now - timedelta(days=start)).date(), (now - timedelta(days=end)).date()
        wanted.append((f"drive{index}", "resident_donation", name, None, *days, target))
    wanted.append(("property", "property", PROPERTY_COMPANY, ctx.property_org_id, None, None, None))
    wanted.append(("developer", "developer", DEVELOPER, ctx.developer_org_id, None, None, None))
    source_ids = dict(zip([w[0] for w in wanted], ctx.allocate(FundingSource, len(wanted)), strict=True))
    ctx.insert(
        FundingSource,
        [
            {
                "id": source_ids[key],
                "project_id": project_id,
                "kind": kind,
                "name": name,
                "organisation_id": org,
                "starts_on": starts,
                "ends_on": ends,
                "target_fen": target,
            }
            for key, kind, name, org, starts, ends, target in wanted
        ],
    )

    # Entries as (moment, columns, linked issue indexes); ids follow time, as they were recorded.
    pending: list[tuple[datetime, dict, tuple]] = []

    def entry(moment: datetime, kind: str, amount: int, phase: int | None, source: str | None, **columns) -> dict:
        row = {
            "project_id": project_id,
            "phase_id": phase_ids[phase] if phase is not None else None,
            "kind": kind,
            "amount_fen": amount,
            "source_id": source_ids[source] if source else None,
            "donor_name": "",
            "donor_named": False,
            "payee": "",
            "purpose": "",
            "reverses_id": None,
            "reason": "",
            "override_reason": "",
            "occurred_on": moment.date(),
            "created_by_id": recorder,
            "created_at": moment,
            "idempotency_key": None,
        }
        row.update(columns)
        return row

    def day(days_ago: float) -> datetime:
        return now - timedelta(days=days_ago) + timedelta(minutes=rng.randint(0, 600))

    for index, (_name, _target, raised, households, (start, end), phase) in enumerate(DONATION_DRIVES):
        for amount in _donations(rng, raised, households):
            named = rng.random() < 0.15
            moment = day(rng.uniform(end + 1, start))
            pending.append(
                (
                    moment,
                    entry(
                        moment,
                        "receipt",
                        amount,
                        phase,
                        f"drive{index}",
                        donor_name=person_name(rng),
                        donor_named=named,
                    ),
                    (),
                )
            )
    for key, pledge, receipts, phase in ORG_FUNDING:
        moment = day(receipts[0][0] + 3)
        pending.append((moment, entry(moment, "pledge", pledge, phase, key), ()))
        for days_ago, amount in receipts:
            moment = day(days_ago)
            row = entry(moment, "receipt", amount, phase, key)
            pending.append((moment, row, ()))
            if (key, days_ago) == DUPLICATED_RECEIPT:
                # The correction: the instalment entered again the next day, and that copy reversed.
                later = moment + timedelta(days=1)
                copy = dict(row, created_at=later, occurred_on=row["occurred_on"])
                reversal = dict(
                    row,
                    kind="reversal",
                    reason="同一笔到账重复登记，冲正重复的一笔",
                    created_at=later + timedelta(hours=3),
                    occurred_on=later.date(),
                )
                pending += [(later, copy, ()), (later + timedelta(hours=3), reversal, ())]
    for days_ago, phase, key, amount, payee, purpose, issues in EXPENDITURES:
        moment = day(days_ago)
        pending.append((moment, entry(moment, "expenditure", amount, phase, key, payee=payee, purpose=purpose), issues))
    pending.sort(key=lambda item: item[0])
    rows, links = [], []
    for entry_id, (_moment, row, issues) in zip(ctx.allocate(LedgerEntry, len(pending)), pending, strict=True):
        row["id"] = entry_id
        rows.append(row)
        links += [{"entry_id": entry_id, "issue_id": ctx.pruisburg_issue_ids[i]} for i in issues]
    reversal["reverses_id"] = copy["id"]
    ctx.insert(LedgerEntry, rows)
    db.session.execute(ledger_entry_issue.insert(), links)
    ctx.counts.update(ledger_entries=len(rows))
    link_issue_phases(ctx, phase_ids)


# The phase whose works cover the fire-safety issues (the property company's 消防系统改造).
FIRE_PHASE = 1


def link_issue_phases(ctx: DemoContext, phase_ids: list[int]) -> None:
    """Each 普瑞斯堡 issue the spending pays for belongs to that spending's phase (the access-road issues
    to the developer's road works, phase one's to phase one), and every fire-safety issue to the
    fire-protection phase."""
    phase_of: dict[int, int] = {}
    for _days, phase, _key, _amount, _payee, _purpose, issues in EXPENDITURES:
        for index in issues:
            phase_of[index] = phase
    for index, spec in enumerate(PRUISBURG_ISSUES):
        if spec[0] == "fire":
            phase_of[index] = FIRE_PHASE
    by_phase: dict[int, list[int]] = {}
    for index, phase in phase_of.items():
        by_phase.setdefault(phase_ids[phase], []).append(ctx.pruisburg_issue_ids[index])
    table = Issue.__table__
    for phase_id, issue_ids in sorted(by_phase.items()):
        db.session.execute(table.update().where(table.c.id.in_(issue_ids)).values(project_phase_id=phase_id))


# The world is built by these, in order; later work appends its own steps (issues, funding, history).
DEMO_STEPS: list[Callable[[DemoContext], None]] = [
    build_tree_top,
    build_places,
    build_tree_cells,
    build_organisations,
    build_people,
    build_issues,
    build_funding,
]


def demo_loaded() -> bool:
    """Whether this database already holds the demo world."""
    return db.session.get(AppMeta, META_KEY) is not None


def load_demo_world(scale: float = 1.0, now: datetime | None = None) -> dict:
    """Build the demo world (flush only, the caller commits) and return its counts.

    `now` is the moment the world's history leads up to (default: the real now); tests pass other
    moments to check that the history holds together whatever the time of day it is loaded.
    """
    if demo_loaded():
        raise RuntimeError("the demo world is already loaded in this database")
    started = time.perf_counter()
    ctx = DemoContext(scale=scale, now=now or utcnow())
    for step in DEMO_STEPS:
        step(ctx)
        # After every step, so a later step may use plain ORM inserts on PostgreSQL.
        ctx.sync_sequences()
    from .public.open311 import ensure_demo_key

    ensure_demo_key()  # the documented demo key of the README, bound to the district
    from .reports import rollups

    ctx.counts["rollup_rows"] = rollups.rebuild()  # the issues went in as bulk inserts, past the flush hook
    seconds = round(time.perf_counter() - started, 2)
    value = {"scale": scale, "counts": ctx.counts, "seconds": seconds, "loaded_at": ctx.now.isoformat()}
    db.session.add(AppMeta(key=META_KEY, value=json.dumps(value, ensure_ascii=False)))
    db.session.flush()
    return dict(ctx.counts)
