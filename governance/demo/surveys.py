"""Door-to-door surveys in the demo world: the households of 普瑞斯堡 (7 floors × 6 rooms in each unit of its 12
buildings: about 1,000) and two campaigns of its 片.

- 普瑞斯堡品质提升入户问卷, closed: the questionnaire the 三长 carried to every door before the renovation. Most
  households answered, some declined, some were never found in; the problems found at the doors are the 31
  issues of the demo world (each linked to an answering household of its building).
- 二期改造意见征集, open now: a few days in, partly visited, so the demo's leaders have doors left to knock on.

Visits are by the 邻长 of each household's 邻 (its 组长 where the 邻 is vacant); everything is drawn from
fixed random streams, the same on both engines and at any scale (the compound is the same at every scale).
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import (
    Household,
    Issue,
    Node,
    RoleAssignment,
    SurveyAnswer,
    SurveyCampaign,
    SurveyQuestion,
    SurveyVisit,
)
from .context import DemoContext

FLOORS = 7
ROOMS_PER_FLOOR = 6
UNIT_NAME = re.compile(r"^(\d+)栋(\d+)单元$")

QUALITY = {
    "title": "普瑞斯堡品质提升入户问卷",
    "purpose": "为做好普瑞斯堡老旧小区品质提升改造，请各位片长、组长、邻长逐户上门宣传政策、发放问卷，"
    "了解居民对改造的意见和最急需解决的问题；入户发现的问题当场登记。",
    "days": (175, 160),
    "status": "closed",
    "questions": (
        ("single", "您对普瑞斯堡品质提升改造的态度", ["支持", "基本支持", "无所谓", "不支持"]),
        (
            "multiple",
            "您最希望优先解决的问题（可多选）",
            ["道路破损", "路灯照明", "监控安防", "停车难", "下水道堵塞", "绿化环境", "外墙脱落", "楼道老化"],
        ),
        ("scale", "您对小区目前居住环境的满意程度（1-5分）", None),
        ("text", "其他意见和建议", None),
        ("problem", "入户发现的问题", None),
    ),
    # Shares of households: answered, declined, absent (the rest were never visited).
    "shares": (0.86, 0.05, 0.05),
}
SECOND_PHASE = {
    "title": "二期改造意见征集",
    "purpose": "二期改造拟包含加装电梯、外墙保温、雨污分流等项目，请逐户征求居民意见。",
    "days": (4, -10),
    "status": "open",
    "questions": (
        ("single", "您是否同意本栋加装电梯", ["同意", "不同意", "视费用分摊而定"]),
        ("multiple", "您希望二期包含哪些项目（可多选）", ["加装电梯", "外墙保温", "雨污分流", "充电桩", "适老化改造"]),
        ("problem", "入户发现的问题", None),
    ),
    "shares": (0.3, 0.02, 0.06),
}
REMARKS = (
    "希望改造期间做好安全围挡",
    "停车位太少，希望统一规划",
    "希望增加老年人休息座椅",
    "改造资金使用情况要公开",
    "楼道灯经常不亮",
    "希望尽快开工",
)


def build_surveys(ctx: DemoContext) -> None:
    """The 普瑞斯堡 households, and the two campaigns with their visits and answers."""
    households = _households(ctx)
    visitors = _visitors(ctx)
    issues = {issue_id: building_id for issue_id, building_id in db.session.execute(
        select(Issue.id, Issue.building_id).where(Issue.id.in_(ctx.pruisburg_issue_ids))
    )}  # fmt: skip
    found = _campaign(ctx, QUALITY, households, visitors, [(i, issues[i]) for i in ctx.pruisburg_issue_ids])
    _campaign(ctx, SECOND_PHASE, households, visitors, [])
    ctx.counts.update(households=len(households), survey_problems_linked=found)


def _households(ctx: DemoContext) -> list[dict]:
    units = db.session.execute(
        select(Node.id, Node.name)
        .where(Node.level == "neighbour", Node.compound_id == ctx.compound_id)
        .order_by(Node.id)
    ).all()
    rows = []
    for neighbour_id, name in units:
        match = UNIT_NAME.match(name)
        if match is None or f"{match[1]}栋" not in ctx.building_ids:
            continue
        for floor in range(1, FLOORS + 1):
            for room in range(1, ROOMS_PER_FLOOR + 1):
                rows.append(
                    {
                        "building_id": ctx.building_ids[f"{match[1]}栋"],
                        "unit": match[2],
                        "room": f"{floor}{room:02d}",
                        "neighbour_id": neighbour_id,
                        "created_at": ctx.now - timedelta(days=200),
                    }
                )
    for row, row_id in zip(rows, ctx.allocate(Household, len(rows)), strict=True):
        row["id"] = row_id
    ctx.insert(Household, rows)
    return rows


def _visitors(ctx: DemoContext) -> dict[int, int]:
    """邻 id → who visits its households: its 邻长, or the 组长 above a vacant 邻, or the branch."""
    held = dict(
        db.session.execute(
            select(RoleAssignment.node_id, RoleAssignment.person_id).where(
                RoleAssignment.role.in_(("neighbour_leader", "group_leader", "zone_leader"))
            )
        ).all()
    )
    result = {}
    for node in db.session.scalars(select(Node).where(Node.compound_id == ctx.compound_id, Node.level == "neighbour")):
        result[node.id] = (
            held.get(node.id) or held.get(node.group_id) or held.get(node.zone_id) or ctx.people["branch_member"]
        )
    return result


def _campaign(ctx, spec: dict, households: list[dict], visitors: dict[int, int], problems: list[tuple]) -> int:
    """One campaign, its questionnaire, visits and answers; returns how many problems were linked to issues."""
    rng = ctx.rng(f"survey:{spec['title']}")
    first, last = spec["days"]
    starts = (ctx.now - timedelta(days=first)).date()
    campaign_id = ctx.allocate(SurveyCampaign, 1)[0]
    ctx.insert(
        SurveyCampaign,
        [
            {
                "id": campaign_id,
                "node_id": ctx.zone_id,
                "title": spec["title"],
                "purpose": spec["purpose"],
                "starts_on": starts,
                "ends_on": (ctx.now - timedelta(days=last)).date(),
                "status": spec["status"],
                "version": 1,
                "previous_id": None,
                "public_summary": spec["status"] == "closed",
                "created_by_id": ctx.people["branch_member"],
                "created_at": ctx.now - timedelta(days=first + 3),
            }
        ],
    )
    question_ids = ctx.allocate(SurveyQuestion, len(spec["questions"]))
    ctx.insert(
        SurveyQuestion,
        [
            {"id": qid, "campaign_id": campaign_id, "position": n, "kind": kind, "text": text, "options": options}
            for n, (qid, (kind, text, options)) in enumerate(zip(question_ids, spec["questions"], strict=True), 1)
        ],
    )
    questions = list(zip(question_ids, spec["questions"], strict=True))
    answered_share, declined_share, absent_share = spec["shares"]
    span = max(1, (first - max(last, 0)) * 24 * 3600 - 3600)
    visits, answers, answered_by_building = [], [], {}
    for household in households:
        draw = rng.random()
        if draw < answered_share:
            outcome = "answered"
        elif draw < answered_share + declined_share:
            outcome = "declined"
        elif draw < answered_share + declined_share + absent_share:
            outcome = "absent"
        else:
            continue
        at = ctx.now - timedelta(days=first) + timedelta(seconds=rng.randrange(span))
        visits.append(
            {
                "campaign_id": campaign_id,
                "household_id": household["id"],
                "visited_by_id": visitors[household["neighbour_id"]],
                "outcome": outcome,
                "visited_at": at,
                "revisit_on": (at + timedelta(days=2)).date() if outcome == "absent" else None,
                "idempotency_key": None,
            }
        )
        if outcome == "answered":
            answered_by_building.setdefault(household["building_id"], []).append(len(visits) - 1)
    for row, row_id in zip(visits, ctx.allocate(SurveyVisit, len(visits)), strict=True):
        row["id"] = row_id
    ctx.insert(SurveyVisit, visits)
    # The problems found at the doors: each issue on an answering household of its building (any, without one).
    everyone = [i for rows in answered_by_building.values() for i in rows]
    problem_of: dict[int, int] = {}
    for issue_id, building_id in problems:
        candidates = [i for i in answered_by_building.get(building_id, everyone) if i not in problem_of] or [
            i for i in everyone if i not in problem_of
        ]
        problem_of[rng.choice(candidates)] = issue_id
    titles = dict(
        db.session.execute(select(Issue.id, Issue.title).where(Issue.id.in_(list(problem_of.values())))).all()
    )
    for index, visit in enumerate(visits):
        if visit["outcome"] != "answered":
            continue
        for qid, (kind, _text, options) in questions:
            row = {"visit_id": visit["id"], "question_id": qid, "choice": None, "choices": None, "text": None,
                   "scale": None, "issue_id": None}  # fmt: skip
            if kind == "single":
                row["choice"] = min(len(options) - 1, int(rng.triangular(0, len(options), 0)))
            elif kind == "multiple":
                row["choices"] = sorted(rng.sample(range(len(options)), rng.randint(1, 3)))
            elif kind == "scale":
                row["scale"] = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
            elif kind == "text":
                if rng.random() > 0.15:
                    continue
                row["text"] = rng.choice(REMARKS)
            else:
                if index not in problem_of:
                    continue
                row["issue_id"] = problem_of[index]
                row["text"] = titles[problem_of[index]]
            answers.append(row)
    for row, row_id in zip(answers, ctx.allocate(SurveyAnswer, len(answers)), strict=True):
        row["id"] = row_id
    ctx.insert(SurveyAnswer, answers)
    return len(problem_of)
