"""Six months of the district's issues: who files what where, and each issue's story replayed up to the load."""

from __future__ import annotations

import math
import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate

from sqlalchemy import select

from ..extensions import db
from ..models import Building, Compound, Node
from .context import CHINA_OFFSET, DAY, HOUR, DemoContext, epoch
from .replay import LEVEL_RANK, IssueLife, IssueWorld, ancestors
from .tree import DEPARTMENTS, DEVELOPER, OTHER_PROPERTY_COMPANY, PROPERTY_COMPANY, SURNAMES

FULL_ISSUES = 24_000  # across the district over HISTORY_DAYS, besides 普瑞斯堡's own 31
HISTORY_DAYS = 183


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
    now = epoch(ctx.now)
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
            **ancestors(node),
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


def replay_district_issue(  # noqa: C901 - one story told step by step, each step may be the last before the load
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

    def story() -> None:  # noqa: C901 - the story's branches read in the order a life takes them
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
                # The holder of the level it is at sends it one level up (a 组长 escalating a 邻-level
                # issue would send it to the 片: lifecycle.escalation_target).
                life.escalate(clock, "holder", rng.choice(ESCALATE_REASONS))
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
