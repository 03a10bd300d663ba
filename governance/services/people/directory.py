"""Finding people inside a scope."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from ... import policy
from ...extensions import db
from ...models import Node, Person, RoleAssignment


def search(viewer: Person, q: str, page: int, page_size: int) -> tuple[list[Person], int]:
    """People holding a role inside the viewer's scope whose name or number matches q."""
    ids = select(RoleAssignment.person_id)
    if not any(s.level == "district" for s in policy.scopes(viewer)):  # the district sees everyone, staff too
        ids = ids.join(Node, Node.id == RoleAssignment.node_id).where(policy.node_scope_condition(viewer))
    query = select(Person).where(Person.id.in_(ids))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(Person.name.like(f"%{escaped}%", escape="\\"), Person.mobile.like(f"{escaped}%", escape="\\"))
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Person.id).limit(page_size).offset((page - 1) * page_size))
    return list(rows), total
