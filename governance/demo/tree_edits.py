"""Tree edits in the demo world (调整网格): 金湾社区's branch moved a 普瑞斯堡 邻 to another 组 last month and
merged a 邻 twelve days ago, so the tree pages and the audit log (操作日志) show edits that happened.

Both go through services/people/structure.py, as the branch's pages do, with its audit entries dated back
to when the story says. The moved 邻 is one of 第4组's without issues (an issue that moves gets a new
`version`, and the demo's issues are as filed and triaged); the merged 邻 is a second entrance of a
building (2栋1单元（北门）) that the roster listed apart and the branch folded into 2栋1单元 — no leader and
no issue of its own, so the tree's counts stay those of the README.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import AuditEntry, Issue, Node, Person, RoleAssignment
from ..services.people import structure
from ..services.people.tree import add_node
from .context import DemoContext
from .vacancies import DEPARTURES

MOVED_FROM_GROUP, MOVED_TO_GROUP = 3, 2  # 普瑞斯堡 第4组 → 第3组
MOVED_DAYS_AGO = 30
MERGED_INTO = (0, 2)  # 普瑞斯堡 第1组, 2栋1单元
MERGED_NAME = "2栋1单元（北门）"
MERGED_DAYS_AGO = 12


def _quiet_neighbour(ctx: DemoContext) -> int | None:
    """The first 邻 of 第4组 with no issue and a leader in place (not one of the vacancies)."""
    vacant = {ctx.compound_neighbour_ids[g][n] for g, n, _days, _why in DEPARTURES if n is not None}
    for node_id in ctx.compound_neighbour_ids[MOVED_FROM_GROUP]:
        if node_id in vacant:
            continue
        issues = db.session.scalar(select(func.count()).select_from(Issue).where(Issue.neighbour_id == node_id))
        leaders = db.session.scalar(
            select(func.count()).select_from(RoleAssignment).where(RoleAssignment.node_id == node_id)
        )
        if not issues and leaders:
            return node_id
    return None


def _dated(entry_id: int, days: int, ctx: DemoContext) -> None:
    db.session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(at=ctx.now - timedelta(days=days)))


def _last_entry(action: str) -> int:
    return db.session.scalar(select(func.max(AuditEntry.id)).where(AuditEntry.action == action))


def build_tree_edits(ctx: DemoContext) -> None:
    """A 邻 moved last month and a 邻 merged twelve days ago, by 金湾社区's branch, with their audit entries."""
    branch = db.session.get(Person, ctx.people["branch_member"])
    edits = 0
    moved = _quiet_neighbour(ctx)
    if moved is not None:
        target = db.session.get(Node, ctx.compound_group_ids[MOVED_TO_GROUP])
        structure.move(branch, db.session.get(Node, moved), target)
        _dated(_last_entry("node_move"), MOVED_DAYS_AGO, ctx)
        edits += 1
    kept = db.session.get(Node, ctx.compound_neighbour_ids[MERGED_INTO[0]][MERGED_INTO[1]])
    extra = add_node(db.session.get(Node, kept.parent_id), "neighbour", MERGED_NAME)
    structure.merge(branch, extra, kept)
    _dated(_last_entry("node_merge"), MERGED_DAYS_AGO, ctx)
    edits += 1
    db.session.flush()
    ctx.counts["tree_edits"] = edits
    ctx.counts["audit_entries"] = ctx.counts.get("audit_entries", 0) + edits  # one entry per edit
