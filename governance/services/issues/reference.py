"""Reference data every database starts with: problem categories and the default SLA policy; and what every
filing reads of them and of the tree (the active categories, the hours in force, the 小区 and buildings of the
社区 it files in), kept in the serving worker."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import bindparam, func, select

from ...extensions import db
from ...models import HANDLING_LEVELS, Building, Category, Compound, RejectReason, ResponseTemplate, SlaPolicy
from ..public import page_cache

# The 普瑞斯堡 kinds first (docs/DESIGN.md §1), then the usual rest.
DEFAULT_CATEGORIES = (
    ("road", "道路破损", "Road surface"),
    ("cctv", "监控安防", "CCTV / security"),
    ("lighting", "路灯照明", "Street lighting"),
    ("signage", "标识标牌", "Signage"),
    ("fire", "消防安全", "Fire safety"),
    ("drainage", "排水管网", "Drainage"),
    ("greenery", "绿化养护", "Greenery"),
    ("parking", "停车管理", "Parking"),
    ("lift", "电梯", "Lifts"),
    ("sanitation", "环境卫生", "Sanitation"),
    ("other", "其他", "Other"),
)
# Hours to acknowledge and to resolve at every level: urgent 4 h / 24 h, normal 24 h / 72 h.
DEFAULT_SLA = {"urgent": (4, 24), "normal": (24, 72)}
# Why the branch may decline to take an issue on (不予受理), as the branches word it.
DEFAULT_REJECT_REASONS = (
    ("不属于社区治理范围", "Not a matter for community governance"),
    ("属于私人纠纷，建议通过调解或诉讼解决", "A private dispute: mediation or the courts"),
    ("已有明确的责任单位和处理渠道", "Already has a responsible party and channel"),
    ("信息不全，无法核实", "Not enough information to verify"),
    ("经核实问题不存在", "Checked: the problem does not exist"),
)
# Ready replies (回复模板): (category code or None, status or None, title, body). Staff edit before posting.
DEFAULT_TEMPLATES = (
    (None, "acknowledged", "已受理", "您反映的问题已受理，我们将尽快安排处理，请耐心等待。"),
    (None, "acknowledged", "已派单", "已派单至责任单位，预计X日内处理，处理进展将在此公布。"),
    (None, "in_progress", "处理中", "责任单位已接单，正在处理中，预计X日内完成。"),
    (None, "in_progress", "需协调", "该问题需多方协调，社区正在联系相关单位，进展将及时公布。"),
    (None, "resolved", "已办结", "问题已处理完毕，邻长将进行回访，如仍有问题请及时反映。"),
    ("road", "in_progress", "道路施工", "道路修复已纳入施工计划，施工期间请注意绕行，预计X日内完工。"),
    ("lighting", "in_progress", "路灯维修", "已安排电工检修路灯，预计X日内恢复照明。"),
    ("fire", "in_progress", "消防整改", "消防设施整改已由物业公司实施，预计X日内完成验收。"),
)


def category_rows() -> list[dict]:
    """The default categories as rows."""
    return [
        {"code": code, "name_zh": zh, "name_en": en, "sort": index * 10, "active": True}
        for index, (code, zh, en) in enumerate(DEFAULT_CATEGORIES, start=1)
    ]


def sla_rows() -> list[dict]:
    """The default SLA policy as rows, one per level and urgency."""
    return [
        {"level": level, "urgency": urgency, "ack_hours": ack, "resolve_hours": resolve}
        for level in HANDLING_LEVELS
        for urgency, (ack, resolve) in DEFAULT_SLA.items()
    ]


def reject_reason_rows() -> list[dict]:
    """The default rejection reasons as rows."""
    return [
        {"name_zh": zh, "name_en": en, "sort": index * 10, "active": True}
        for index, (zh, en) in enumerate(DEFAULT_REJECT_REASONS, start=1)
    ]


def template_rows(category_ids: dict[str, int]) -> list[dict]:
    """The default response templates as rows (a template whose category is missing is left out)."""
    rows = []
    for index, (code, status, title, body) in enumerate(DEFAULT_TEMPLATES, start=1):
        if code is not None and code not in category_ids:
            continue
        category_id = category_ids[code] if code else None
        rows.append(
            {
                "category_id": category_id,
                "status": status,
                "title": title,
                "body": body,
                "sort": index * 10,
                "active": True,
            }
        )
    return rows


def seed_defaults() -> None:
    """Insert the defaults into empty tables (the migrations do the same on a new database)."""
    if not db.session.scalar(select(func.count()).select_from(Category)):
        db.session.execute(Category.__table__.insert(), category_rows())
    if not db.session.scalar(select(func.count()).select_from(SlaPolicy)):
        db.session.execute(SlaPolicy.__table__.insert(), sla_rows())
    if not db.session.scalar(select(func.count()).select_from(RejectReason)):
        db.session.execute(RejectReason.__table__.insert(), reject_reason_rows())
    if not db.session.scalar(select(func.count()).select_from(ResponseTemplate)):
        codes = dict(db.session.execute(select(Category.code, Category.id)).all())
        db.session.execute(ResponseTemplate.__table__.insert(), template_rows(codes))
    db.session.flush()


# --- what filings read of them -------------------------------------------------------------------------

SlaTable = dict[tuple[str, str], tuple[int, int]]


def read_sla_table(session) -> SlaTable:
    """(level, urgency) → (hours to acknowledge, hours to resolve), for every row that exists."""
    return {(level, urgency): (ack, resolve) for level, urgency, ack, resolve in session.execute(_SLA_ROWS)}


_SLA_ROWS = select(SlaPolicy.level, SlaPolicy.urgency, SlaPolicy.ack_hours, SlaPolicy.resolve_hours)


def sla_in_force() -> SlaTable:
    """The SLA table every new deadline is set from (read_sla_table), kept in a serving worker."""
    return _kept((page_cache.table_tag("sla_policy"),), "reference:sla", read_sla_table)


def active_category_ids() -> frozenset[int]:
    """The categories a new issue may take, kept in a serving worker (Category is one of the tree's models: a
    change to one marks the tree's tag)."""
    return _kept((page_cache.TREE,), "reference:active_categories", _read_active_category_ids)


def _read_active_category_ids(session) -> frozenset[int]:
    return frozenset(session.scalars(select(Category.id).where(Category.active.is_(True))))


@dataclass(frozen=True)
class CommunityPlaces:
    """The 小区 of one 社区 and their buildings."""

    compounds: frozenset[int]
    building_compound: dict[int, int]  # building id → its 小区's id


def places_in(community_id: int) -> CommunityPlaces:
    """The 小区 and buildings of a 社区, kept in a serving worker (Compound and Building are tree models: a change
    to one marks the tree's tag)."""
    name = f"reference:places:{community_id}"
    return _kept((page_cache.TREE,), name, lambda session: _read_places(session, community_id))


def _read_places(session, community_id: int) -> CommunityPlaces:
    rows = session.execute(
        select(Compound.id, Building.id)
        .outerjoin(Building, Building.compound_id == Compound.id)
        .where(Compound.community_id == community_id)
    ).all()
    compounds = frozenset(compound_id for compound_id, _building_id in rows)
    buildings = {building_id: compound_id for compound_id, building_id in rows if building_id is not None}
    return CommunityPlaces(compounds, buildings)


def compound_in(compound_id: int, community_id: int | None) -> bool:
    """Whether the 小区 exists and is one of the 社区's (community_id None: of any 社区). Yes from the kept places;
    no only once the row itself says so (a 小区 added moments ago is not refused for a copy kept from before)."""
    if community_id is not None and compound_id in places_in(community_id).compounds:
        return True
    row = db.session.execute(_COMPOUND_COMMUNITY, {"id": compound_id}).first()
    return row is not None and (community_id is None or row.community_id == community_id)


def building_compound(building_id: int, community_id: int | None) -> int | None:
    """The 小区 of a building (None: no such building): from the 社区's kept places when it is one of them, else
    from the row."""
    if community_id is not None:
        found = places_in(community_id).building_compound.get(building_id)
        if found is not None:
            return found
    return db.session.scalar(_BUILDING_COMPOUND, {"id": building_id})


_COMPOUND_COMMUNITY = select(Compound.community_id).where(Compound.id == bindparam("id"))
_BUILDING_COMPOUND = select(Building.compound_id).where(Building.id == bindparam("id"))


# Seconds a kept value is used at most, whatever is heard: the most a change no worker heard of (its writer cut
# off from Redis at that moment) lives on. Reading again costs one statement a worker every so often.
KEEP_FOR = 10


def _kept(tags: tuple[str, ...], name: str, read):
    """In a request, what `read(session)` gives, kept in the worker until a change to `tags` is heard of
    (page_cache.kept_value) and for at most KEEP_FOR seconds: every filing checks its category and sets its
    deadlines, and reading the rows cost it a statement each, as much as its own checks. Elsewhere (a job, a
    command) read in the current session: a process that serves no pages keeps nothing (near_cache.py). Asked
    again within a request (the form, then the service), the answer it had."""
    if not has_request_context():
        return read(db.session)
    seen = g.setdefault("reference_kept", {})
    if name not in seen:
        seen[name] = page_cache.kept_value(tags, name, read, KEEP_FOR)
    return seen[name]
