"""The tree (区 → 街镇 → 社区/村 → 片 → 组 → 邻), its places, organisations and people, and the demo logins."""

from __future__ import annotations

import random

from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import Building, Compound, Node, Organisation, Person, RoleAssignment, organisation_community
from .context import DemoContext

DEMO_PASSWORD = "demo-2026"
# Full-size totals of the district (docs/DESIGN.md §1); scale < 1 shrinks them, never below one per parent.
FULL_COMMUNITIES = 130
FULL_ZONES = 1062
FULL_GROUPS = 4018
FULL_NEIGHBOURS = 15659

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

# Where each compound lies (WGS-84; 望城 is about 28.35°N 112.82°E): Open311 requests with lat/long find them.
COMPOUND_CENTRES = {
    "普瑞斯堡": (28.3521, 112.8193),
    "枫桥花园": (28.3612, 112.8311),
    "银湖雅苑": (28.3398, 112.8056),
    "临江名邸": (28.3705, 112.8420),
    "荷塘新村": (28.3104, 112.7902),
}
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
    centres = [COMPOUND_CENTRES[name] for name, _c, _n in wanted]
    compound_rows = [
        {"id": i, "community_id": community_id, "name": name, "latitude": lat, "longitude": lon}
        for i, (name, community_id, _n), (lat, lon) in zip(compound_ids, wanted, centres, strict=True)
    ]
    ctx.insert(Compound, compound_rows)
    building_rows = []
    building_ids = iter(ctx.allocate(Building, sum(n for _name, _c, n in wanted)))
    for compound_id, (name, community_id, n), (lat, lon) in zip(compound_ids, wanted, centres, strict=True):
        for b in range(1, n + 1):
            # Rows of four buildings about 45 m apart (0.0004° of latitude, 0.00045° of longitude here).
            row, column = divmod(b - 1, 4)
            building_rows.append(
                {
                    "id": next(building_ids),
                    "compound_id": compound_id,
                    "name": f"{b}栋",
                    "latitude": round(lat + 0.0004 * (row - 1), 6),
                    "longitude": round(lon + 0.00045 * (column - 1.5), 6),
                }
            )
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
