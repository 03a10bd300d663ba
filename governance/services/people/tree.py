"""Reading and building the tree: 区 → 街镇 → 社区/村 → 片 → 组 → 邻."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, select, true

from ...extensions import db
from ...models import LEVELS, Node, Person, RoleAssignment

# The role that leads each of the three volunteer levels.
LEADER_ROLE = {"zone": "zone_leader", "group": "group_leader", "neighbour": "neighbour_leader"}


def node_path(node: Node) -> list[Node]:
    """The node's ancestors and itself, top down (the district is left out: there is only one)."""
    ids = [node.street_id, node.community_id, node.zone_id, node.group_id]
    wanted = [i for i in ids if i is not None and i != node.id]
    found = {n.id: n for n in db.session.scalars(select(Node).where(Node.id.in_(wanted)))} if wanted else {}
    path = [found[i] for i in ids if i in found]
    if node.level != "district":
        path.append(node)
    return path


def issue_path(issue) -> list[Node]:
    """node_path of an issue's 邻, in one statement from the issue's own ancestor columns: the 邻 is loaded with
    its ancestors, so `issue.neighbour` is then read from the session without SQL."""
    ids = [issue.street_id, issue.community_id, issue.zone_id, issue.group_id, issue.neighbour_id]
    found = {n.id: n for n in db.session.scalars(select(Node).where(Node.id.in_([i for i in ids if i is not None])))}
    return [found[i] for i in ids if i in found]


def within_condition(node: Node):
    """SQL condition on Node: the node itself and everything below it."""
    if node.level == "district":
        return true()
    if node.level == "neighbour":
        return Node.id == node.id
    # A node's own level column holds its own id (add_node), so this includes the node.
    return getattr(Node, f"{node.level}_id") == node.id


def children(node: Node) -> list[Node]:
    """The node's direct children, in the tree's order."""
    return list(db.session.scalars(select(Node).where(Node.parent_id == node.id).order_by(Node.id)))


def nodes_and_children(node_ids: list[int]) -> list[Node]:
    """These nodes, each followed by its children (the places a form offers a role: its own node and the
    ones just below), in the tree's order."""
    if not node_ids:
        return []
    nodes = db.session.scalars(
        select(Node).where((Node.id.in_(node_ids)) | (Node.parent_id.in_(node_ids))).order_by(Node.id)
    ).all()
    ordered = []
    for node in nodes:
        if node.id in node_ids:
            ordered.append(node)
            ordered.extend(n for n in nodes if n.parent_id == node.id and n.id not in node_ids)
    return ordered


# The key of a node's own rows (a leader on the node itself) when rows at and under it are grouped per child.
OWN = 0


def child_key(node: Node):
    """SQL over Node (the node a row belongs to): which child of `node` the row lies under, OWN for the node
    itself — what a per-child breakdown groups by."""
    if node.level == "neighbour":
        return literal(OWN)
    child_level = LEVELS[node.rank + 1]
    column = Node.id if child_level == "neighbour" else getattr(Node, f"{child_level}_id")
    return case((Node.id == node.id, literal(OWN)), else_=column)


@dataclass
class PerChild:
    """Figures at a node: its own rows', each child's subtree's (in the tree's order), and the whole."""

    node: Node
    own: Any
    children: list[tuple[Node, Any]]
    total: Any


def per_child(node: Node, found: dict, empty: Callable[[], Any], kids: list[Node] | None = None) -> PerChild:
    """Figures grouped by child_key(node) laid out per child (empty() where a child has none); the total is
    the sum of the parts (each figures object has add()). `kids`: the node's children when the caller has
    them already (else they are read)."""
    own = found.pop(OWN, None) or empty()
    if kids is None:
        kids = children(node) if node.level != "neighbour" else []
    below = [(child, found.get(child.id) or empty()) for child in kids]
    total = empty()
    for figures in [own, *(f for _, f in below)]:
        total.add(figures)
    return PerChild(node, own, below, total)


def leaders_of(nodes: list[Node]) -> dict[int, list[Person]]:
    """The people holding a node-bound role on each of these nodes."""
    if not nodes:
        return {}
    rows = db.session.execute(
        select(RoleAssignment.node_id, Person)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.node_id.in_([n.id for n in nodes]))
        .order_by(RoleAssignment.id)
    )
    result: dict[int, list[Person]] = {}
    for node_id, person in rows:
        result.setdefault(node_id, []).append(person)
    return result


def descendant_counts(node: Node) -> dict[str, int]:
    """How many 片/组/邻 lie under a node."""
    column = {"street": Node.street_id, "community": Node.community_id, "zone": Node.zone_id, "group": Node.group_id}
    query = select(Node.level, func.count()).group_by(Node.level)
    if node.level in column:
        query = query.where(column[node.level] == node.id)
    elif node.level != "district":
        return {}
    counts = dict(db.session.execute(query).all())
    return {level: counts.get(level, 0) for level in LEVELS[LEVELS.index(node.level) + 1 :]}


def add_node(parent: Node | None, level: str, name: str, kind: str | None = None) -> Node:
    """Create a child node with its ancestor columns filled in; flushes to get its id."""
    node = Node(level=level, name=name, kind=kind, parent_id=parent.id if parent else None)
    if parent is not None:
        for col, value in parent.ancestor_ids().items():
            setattr(node, col, value)
        node.compound_id = parent.compound_id
    db.session.add(node)
    db.session.flush()
    if level != "district" and level != "neighbour":
        setattr(node, f"{level}_id", node.id)
        db.session.flush()
    return node
