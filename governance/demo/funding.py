"""The 普瑞斯堡 renovation: its phases, the five kinds of money, spending against the issues, one reversal."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ..extensions import db
from ..models import FundingSource, Issue, LedgerEntry, Phase, Project, ledger_entry_issue
from .context import DemoContext
from .pruisburg import PRUISBURG_ISSUES
from .tree import DEVELOPER, PROPERTY_COMPANY, person_name

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
