"""Residents' reports in the demo world (services/residents/reports.py): three reports from 普瑞斯堡 to the demo
邻长 — one sent two hours ago and still waiting (on the 邻长's home card), one answered within three hours
(declined: already fixed), one sent thirty hours ago and still waiting (late for 一日内答复率)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import Category, Household, Person
from ..services.residents import reports
from .context import DemoContext

# (hours ago, kind, what the resident wrote, hours until the 邻长 answered or None, the answer)
REPORTS = (
    (2, "lighting", "单元门口的路灯晚上不亮，老人进出看不清台阶。", None, None),
    (9, "sanitation", "楼道里堆了旧家具，挡住了消防通道。", 3, "already_fixed"),
    (30, "greenery", "楼前的树枝压到了二楼的窗户，刮风时敲玻璃。", None, None),
)


def build_resident_reports(ctx: DemoContext) -> None:
    """The three reports, sent through the service as a resident's phone would."""
    leader = db.session.get(Person, ctx.people["neighbour_leader"])
    role = next(r for r in leader.roles if r.role == "neighbour_leader")
    household = db.session.scalar(select(Household).where(Household.neighbour_id == role.node_id).limit(1))
    building_id = household.building_id if household is not None else None
    for n, (hours_ago, kind, text, answered_after, reason) in enumerate(REPORTS):
        sent_at = ctx.now - timedelta(hours=hours_ago)
        category = db.session.scalar(select(Category).where(Category.code == kind))
        submission = reports.Submission(ctx.compound_id, building_id, category.id, text, form_key=f"demo-report-{n}")
        report, _token, _created = reports.send(submission, reports.Source(f"demo-phone-{n}", "demo"), [], now=sent_at)
        if answered_after is not None:
            reports.decline(leader, report, reason)
            report.decided_at = sent_at + timedelta(hours=answered_after)
            ctx.counts["audit_entries"] += 1  # the decline is audited
    db.session.flush()
    ctx.counts["resident_reports"] = len(REPORTS)
