"""Vacancies (空缺) in the demo world: leaders of 普瑞斯堡 who left, so the tree pages, the reports and the
branch's vacancy list show some (services/people/vacancies.py defines them).

Each departure is what services/people/turnover.py leaves behind: the leader role gone and an `ended_role`
row dated in the past (the account stays, so the timelines keep the name; a disabled one is switched off).
The work stays where it was — nobody handed it on — which is what the branch's list is for.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import EndedRole, Person, RoleAssignment
from ..services.people.tree import LEADER_ROLE
from .context import DemoContext

# (普瑞斯堡 组 by index, its 邻 by index or None for the 组 itself, days since the leader left, why).
# The 组 hold three buildings of two units each: 邻 index = (building − 1 − 3 × 组) × 2 + unit − 1.
DEPARTURES = (
    (3, None, 75, "removed"),  # 第4组 (10–12栋): its 组长 moved away
    (3, 5, 40, "removed"),  # 12栋2单元: two of the compound's issues were filed there
    (0, 5, 9, "disabled"),  # 3栋2单元, in the demo 组长's own 组: the 邻长's account was switched off
)


def build_vacancies(ctx: DemoContext) -> None:
    """Three 普瑞斯堡 leaders leave: their roles end, an ended-role row records when and why."""
    rows = []
    ids = iter(ctx.allocate(EndedRole, len(DEPARTURES)))
    for group, neighbour, days, reason in DEPARTURES:
        node_id = ctx.compound_group_ids[group] if neighbour is None else ctx.compound_neighbour_ids[group][neighbour]
        role = LEADER_ROLE["group" if neighbour is None else "neighbour"]
        held = db.session.execute(
            select(RoleAssignment.id, RoleAssignment.person_id, RoleAssignment.created_at).where(
                RoleAssignment.node_id == node_id, RoleAssignment.role == role
            )
        ).one()
        ended_at = ctx.now - timedelta(days=days)
        rows.append(
            {
                "id": next(ids),
                "person_id": held.person_id,
                "role": role,
                "node_id": node_id,
                # The world's roles all date from its load; a leader who left before it had served since earlier.
                "started_at": min(held.created_at, ended_at - timedelta(days=365)),
                "ended_at": ended_at,
                "ended_by_id": ctx.people["branch_member"],
                "reason": reason,
            }
        )
        db.session.execute(delete(RoleAssignment).where(RoleAssignment.id == held.id))
        if reason == "disabled":
            db.session.execute(
                update(Person)
                .where(Person.id == held.person_id)
                .values(enabled=False, auth_version=Person.auth_version + 1)
            )
    ctx.insert(EndedRole, rows)
    ctx.counts["vacancies"] = len(rows)
