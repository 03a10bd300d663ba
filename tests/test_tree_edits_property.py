"""Tree edits keep every copy of the tree right, whatever the order: a property-based test.

On a small district (two 街镇, four communities, a 小区 that can move whole and one that cannot), hypothesis
drives random sequences of renames, moves (inside a community, across communities, across 街镇), merges and
splits through services/people/structure.py, interleaved with filings and status changes through the
lifecycle service. After every step, each copy of the tree is compared with what walking `parent_id`
says, independently of the code under test:

- the report rollups equal their recomputation from the raw issues (`rollups.check()` finds nothing);
- every node's ancestor columns are its ancestors found by walking parent links;
- every issue's 组/片/community/街镇 are its 邻's;
- every issue-bound audit entry carries its issue's community and 街镇;
- the scope rule: a leader may view an issue exactly when the issue's 邻 lies under the leader's node.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from governance import policy
from governance.extensions import db
from governance.models import ANCESTOR_COLUMNS, AuditEntry, Compound, Issue, Node, Person, RoleAssignment
from governance.services.issues.lifecycle import TRANSITIONS, LifecycleError, transition
from governance.services.people import structure
from governance.services.reports import rollups
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import clean_database

OPERATIONS = ("file", "status", "rename", "move_neighbour", "move_group", "merge", "split")


def build_world() -> Person:
    """Two 街镇 × two communities × one 片 × two 组 × two 邻; a leader on several nodes; two 小区."""
    clean_database()
    make_tree(streets=2, communities=2, zones=1, groups=2, neighbours=2)
    admin = make_person("district_admin", nodes_at("district")[0])
    for role, level in (("street_admin", "street"), ("branch_member", "community"), ("zone_leader", "zone")):
        make_person(role, nodes_at(level)[0])
    for node in nodes_at("group")[:3]:
        make_person("group_leader", node)
    for node in nodes_at("neighbour")[::3]:
        make_person("neighbour_leader", node)
    community = nodes_at("community")[0]
    # 小区 A is one 组 and its 邻s: it can move whole. 小区 B is the first community's 片 and its other 组:
    # moving that 组 to another community would split it.
    whole = Compound(community_id=community.id, name="整体小区")
    parted = Compound(community_id=community.id, name="分散小区")
    db.session.add_all([whole, parted])
    db.session.flush()
    first_group, second_group = nodes_at("group")[:2]
    for node in db.session.scalars(select(Node).where(Node.group_id == first_group.id)):
        node.compound_id = whole.id
    for node in db.session.scalars(select(Node).where(Node.group_id == second_group.id)):
        node.compound_id = parted.id
    nodes_at("zone")[0].compound_id = parted.id
    db.session.commit()
    return admin


def pick(items: list, index: int):
    return items[index % len(items)] if items else None


def step(admin: Person, op: str, a: int, b: int) -> None:
    """One operation by the district admin; a refusal rolls back and changes nothing."""
    neighbours, groups, zones = nodes_at("neighbour"), nodes_at("group"), nodes_at("zone")
    try:
        if op == "file":
            neighbour = pick(neighbours, a)
            compound = neighbour.compound_id if b % 2 else None
            make_issue(admin, neighbour, commit=False, compound_id=compound)
        elif op == "status":
            issue = pick(list(db.session.scalars(select(Issue).order_by(Issue.id))), a)
            if issue is None:
                return
            choices = sorted(TRANSITIONS[issue.status] & {"acknowledged", "in_progress", "resolved", "reopened"})
            if choices:
                transition(admin, issue, pick(choices, b), "测试")
        elif op == "rename":
            node = pick(neighbours + groups + zones + nodes_at("community"), a)
            structure.rename(admin, node, f"新名{b % 7}")
        elif op == "move_neighbour":
            structure.move(admin, pick(neighbours, a), pick(groups, b))
        elif op == "move_group":
            structure.move(admin, pick(groups, a), pick(zones, b))
        elif op == "merge":
            structure.merge(admin, pick(neighbours, a), pick(neighbours, b))
        elif op == "split":
            group = pick(groups, a)
            kids = [n for n in neighbours if n.parent_id == group.id]
            chosen = [n for i, n in enumerate(kids) if (b >> i) & 1] or kids[:1]
            structure.split(admin, group, f"拆分组{b % 5}", chosen)
        db.session.commit()
    except (structure.StructureError, LifecycleError):
        db.session.rollback()


def walked_ancestors(node: Node, by_id: dict[int, Node]) -> dict[str, int | None]:
    """The node's ancestor columns as parent links say (its own level's column holds its own id)."""
    found = dict.fromkeys(ANCESTOR_COLUMNS)
    current = node
    while current is not None:
        column = f"{current.level}_id"
        if column in found:
            found[column] = current.id
        current = by_id.get(current.parent_id)
    return found


def under(node_id: int, ancestor_id: int, by_id: dict[int, Node]) -> bool:
    current = by_id.get(node_id)
    while current is not None:
        if current.id == ancestor_id:
            return True
        current = by_id.get(current.parent_id)
    return False


def assert_consistent() -> None:
    db.session.expire_all()
    assert rollups.check()["differences"] == []
    db.session.commit()
    nodes = list(db.session.scalars(select(Node)))
    by_id = {n.id: n for n in nodes}
    for node in nodes:
        assert {c: getattr(node, c) for c in ANCESTOR_COLUMNS} == walked_ancestors(node, by_id), node
    issues = list(db.session.scalars(select(Issue)))
    for issue in issues:
        neighbour = by_id[issue.neighbour_id]
        assert neighbour.level == "neighbour"
        for column in ANCESTOR_COLUMNS:
            assert getattr(issue, column) == getattr(neighbour, column), (issue.id, column)
        if issue.compound_id:
            assert db.session.get(Compound, issue.compound_id).community_id == issue.community_id
    community_of = {i.id: (i.community_id, i.street_id) for i in issues}
    for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.issue_id.is_not(None))):
        assert (entry.community_id, entry.street_id) == community_of[entry.issue_id], entry.id
    for role in db.session.scalars(select(RoleAssignment).where(RoleAssignment.node_id.is_not(None))):
        person = role.person
        for issue in issues:
            expected = role.role == "district_admin" or under(issue.neighbour_id, role.node_id, by_id)
            assert policy.allowed(person, "view_issue", issue) == expected, (role.role, role.node_id, issue.id)


EDITS = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 63), st.integers(0, 63)),
    min_size=3,
    max_size=10,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_every_copy_of_the_tree_follows_any_sequence_of_edits(app, edits):
    admin = build_world()
    for op, a, b in [("file", 0, 1), ("file", 5, 0), ("file", 9, 1), *edits]:
        step(admin, op, a, b)
        assert_consistent()
