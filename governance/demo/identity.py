"""亮身份 in the demo world: the demo 片长 and 组长 are named on 普瑞斯堡's public page by surname, the demo 邻长 by
full name, and every third other 邻长 of 普瑞斯堡 by surname; everyone else chose nothing
(services/people/identity.py)."""

from __future__ import annotations

from sqlalchemy import select, update

from ..extensions import db
from ..models import Node, Person, RoleAssignment
from .context import DemoContext


def build_identities(ctx: DemoContext) -> None:
    """Who of 普瑞斯堡's leaders chose to be named, and how."""
    neighbour_leaders = db.session.scalars(
        select(RoleAssignment.person_id)
        .join(Node, Node.id == RoleAssignment.node_id)
        .where(RoleAssignment.role == "neighbour_leader", Node.compound_id == ctx.compound_id)
        .order_by(Node.id)
    ).all()
    surname = {ctx.people["zone_leader"], ctx.people["group_leader"], *neighbour_leaders[1::3]}
    surname.discard(ctx.people["neighbour_leader"])
    db.session.execute(update(Person).where(Person.id.in_(surname)).values(public_listing="surname"))
    db.session.execute(update(Person).where(Person.id == ctx.people["neighbour_leader"]).values(public_listing="full"))
    ctx.counts["leaders_named"] = len(surname) + 1
