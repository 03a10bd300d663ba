"""Finding people inside a scope."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from .. import policy
from ..extensions import db
from ..models import Node, Person, RoleAssignment


def scope_condition(person: Person):
    """SQL condition on Node matching every node the person's roles cover (None: everything)."""
    conditions = []
    for scope in policy.scopes(person):
        if scope.level == "district":
            return None
        column = Node.id if scope.level == "neighbour" else getattr(Node, f"{scope.level}_id")
        conditions.append(column == scope.node_id)
    return or_(*conditions) if conditions else Node.id.is_(None)


def search(viewer: Person, q: str, page: int, page_size: int) -> tuple[list[Person], int]:
    """People holding a role inside the viewer's scope whose name or number matches q."""
    condition = scope_condition(viewer)
    ids = select(RoleAssignment.person_id)
    if condition is not None:  # a district admin sees everyone, organisation staff included
        ids = ids.join(Node, Node.id == RoleAssignment.node_id).where(condition)
    query = select(Person).where(Person.id.in_(ids))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(Person.name.like(f"%{escaped}%", escape="\\"), Person.mobile.like(f"{escaped}%", escape="\\"))
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Person.id).limit(page_size).offset((page - 1) * page_size))
    return list(rows), total
