"""Reference data every database starts with: problem categories and the default SLA policy."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import HANDLING_LEVELS, Category, SlaPolicy

# The 普瑞斯堡 kinds first (DESIGN §1), then the usual rest.
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


def seed_defaults() -> None:
    """Insert the defaults into empty tables (the migration does the same on a new database)."""
    if not db.session.scalar(select(func.count()).select_from(Category)):
        db.session.execute(Category.__table__.insert(), category_rows())
    if not db.session.scalar(select(func.count()).select_from(SlaPolicy)):
        db.session.execute(SlaPolicy.__table__.insert(), sla_rows())
    db.session.flush()
