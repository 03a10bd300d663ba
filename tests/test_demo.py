"""The demo world: tree invariants, leaders, places, organisations and the demo logins."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import (
    ANCESTOR_COLUMNS,
    LEVELS,
    AppMeta,
    Building,
    Compound,
    Node,
    Organisation,
    Person,
    RoleAssignment,
)
from governance.services import demo
from governance.services.accounts import MOBILE_RE
from governance.services.home import role_label
from governance.services.tree import LEADER_ROLE, add_node

SMALL = 0.02


@pytest.fixture
def small_world(app):
    """A small demo world, committed so that requests see it."""
    counts = demo.load_demo_world(scale=SMALL)
    db.session.commit()
    return counts


def check_tree() -> dict[int, Node]:
    """Every node's ancestor columns agree with its parent's, as tree.add_node fills them."""
    nodes = {n.id: n for n in db.session.scalars(select(Node))}
    for node in nodes.values():
        if node.level == "district":
            assert node.parent_id is None
            assert all(getattr(node, col) is None for col in ANCESTOR_COLUMNS)
            continue
        parent = nodes[node.parent_id]
        assert LEVELS.index(node.level) == LEVELS.index(parent.level) + 1, node
        expected = {col: getattr(parent, col) for col in ANCESTOR_COLUMNS}
        if node.level != "neighbour":
            expected[f"{node.level}_id"] = node.id
        assert {col: getattr(node, col) for col in ANCESTOR_COLUMNS} == expected, node
        if parent.compound_id is not None:
            assert node.compound_id == parent.compound_id, node
    return nodes


def check_leaders(nodes: dict[int, Node]) -> int:
    """Exactly one leader role of the right kind on each 片/组/邻; returns how many."""
    cells = {i for i, n in nodes.items() if n.level in LEADER_ROLE}
    rows = db.session.execute(
        select(RoleAssignment.node_id, RoleAssignment.role).where(RoleAssignment.role.in_(LEADER_ROLE.values()))
    ).all()
    per_node = Counter(node_id for node_id, _role in rows)
    assert set(per_node) == cells
    assert set(per_node.values()) == {1}
    assert all(LEADER_ROLE[nodes[node_id].level] == role for node_id, role in rows)
    return len(rows)


def check_mobiles() -> None:
    """Every number is a valid mainland mobile, and no two people share one."""
    mobiles = list(db.session.scalars(select(Person.mobile)))
    assert all(MOBILE_RE.match(m) for m in mobiles)
    assert len(set(mobiles)) == len(mobiles)


def test_demo_loaded_before_and_after(app):
    assert demo.demo_loaded() is False
    counts = demo.load_demo_world(scale=SMALL)
    assert demo.demo_loaded() is True
    meta = json.loads(db.session.get(AppMeta, demo.META_KEY).value)
    assert meta["scale"] == SMALL
    assert meta["counts"] == counts
    assert meta["seconds"] >= 0
    with pytest.raises(RuntimeError):
        demo.load_demo_world(scale=SMALL)


def test_small_world_tree_and_leaders(app, small_world):
    nodes = check_tree()
    levels = Counter(n.level for n in nodes.values())
    assert levels["district"] == 1
    assert levels["street"] == 11
    assert levels["community"] == small_world["communities"]
    for level, key in (("zone", "zones"), ("group", "groups"), ("neighbour", "neighbours")):
        assert levels[level] == small_world[key]
    # At least one of each below every community.
    for parent_level, child_level in (("community", "zone"), ("zone", "group"), ("group", "neighbour")):
        parents = {n.parent_id for n in nodes.values() if n.level == child_level}
        assert parents == {i for i, n in nodes.items() if n.level == parent_level}
    kinds = {(nodes[n.parent_id].name.endswith("镇"), n.kind) for n in nodes.values() if n.level == "community"}
    assert kinds == {(True, "村"), (False, "社区")}
    assert check_leaders(nodes) == small_world["leaders"]
    check_mobiles()


def test_only_demo_logins_are_activated(app, small_world):
    activated = set(db.session.scalars(select(Person.mobile).where(Person.password_hash.is_not(None))))
    assert activated == {login["mobile"] for login in demo.DEMO_LOGINS}
    assert db.session.scalar(select(func.count()).where(Person.activated_at.is_not(None))) == len(demo.DEMO_LOGINS)
    roles = Counter(db.session.scalars(select(RoleAssignment.role)))
    assert roles["branch_member"] == 2 * small_world["communities"]
    assert roles["street_admin"] == 11
    assert roles["district_admin"] == 1


def test_pruisburg_compound(app, small_world):
    compound = db.session.scalar(select(Compound).where(Compound.name == "普瑞斯堡"))
    assert compound is not None
    assert compound.community.name == "金湾社区"
    assert [b.name for b in compound.buildings] == [f"{i}栋" for i in range(1, 13)]
    covered = list(db.session.scalars(select(Node).where(Node.compound_id == compound.id)))
    zones = [n for n in covered if n.level == "zone"]
    assert len(zones) == 1
    zone = zones[0]
    assert zone.community_id == compound.community_id
    # The whole 片 is inside the compound, and nothing outside it claims to be.
    under_zone = set(db.session.scalars(select(Node.id).where(Node.zone_id == zone.id)))
    assert {n.id for n in covered} == under_zone
    assert {n.level for n in covered} == {"zone", "group", "neighbour"}
    assert db.session.scalar(select(func.count()).select_from(Compound)) > 1
    assert db.session.scalar(select(func.count()).select_from(Building)) > 12


def test_demo_leaders_sit_in_the_compound(app, small_world):
    compound = db.session.scalar(select(Compound).where(Compound.name == "普瑞斯堡"))
    by_key = {}
    for login in demo.DEMO_LOGINS:
        person = db.session.scalar(select(Person).where(Person.mobile == login["mobile"]))
        assert [r.role for r in person.roles] == [login["key"] if login["key"] != "property_staff" else "org_staff"]
        by_key[login["key"]] = person.roles[0]
    zone, group, neighbour = (by_key[k].node for k in ("zone_leader", "group_leader", "neighbour_leader"))
    assert zone.level == "zone" and zone.compound_id == compound.id
    assert group.level == "group" and group.zone_id == zone.id
    assert neighbour.level == "neighbour" and neighbour.group_id == group.id
    assert by_key["branch_member"].node_id == compound.community_id
    assert by_key["district_admin"].node.level == "district"
    assert by_key["property_staff"].organisation.kind == "property"


def test_organisations(app, small_world):
    orgs = list(db.session.scalars(select(Organisation)))
    kinds = Counter(o.kind for o in orgs)
    assert kinds["property"] >= 1 and kinds["developer"] == 1 and kinds["department"] >= 3
    offices = [o for o in orgs if o.kind == "street_office"]
    assert len({o.street_id for o in offices}) == 11
    assert all(db.session.get(Node, o.street_id).level == "street" for o in offices)
    staff = db.session.scalars(select(RoleAssignment).where(RoleAssignment.role == "org_staff")).all()
    assert any(r.organisation.name == demo.PROPERTY_COMPANY and r.node_id is None for r in staff)


def test_ids_continue_after_the_demo_world(app, small_world):
    # Explicit ids must not leave PostgreSQL's sequences behind: plain ORM inserts still work.
    zone = db.session.scalar(select(Node).where(Node.level == "zone"))
    node = add_node(zone, "group", "新建组")
    person = Person(name="新人", mobile="13700000000")
    db.session.add(person)
    db.session.flush()
    db.session.add(RoleAssignment(person_id=person.id, role="group_leader", node_id=node.id))
    db.session.commit()
    assert node.id > max(n for n in db.session.scalars(select(Node.id)) if n != node.id)


def test_every_demo_login_works(app, client, auth, small_world):
    for login in demo.DEMO_LOGINS:
        person = db.session.scalar(select(Person).where(Person.mobile == login["mobile"]))
        with app.test_request_context():
            label = role_label(person.roles[0].role)
        response = auth.login(login["mobile"], login["password"])
        assert response.status_code == 302, login["key"]
        page = client.get("/").get_data(as_text=True)
        assert person.name in page, login["key"]
        assert str(escape(label)) in page, login["key"]
        auth.logout()


@pytest.mark.slow
def test_full_size_world(app):
    started = db.session.scalar(select(func.count()).select_from(Node))
    assert started == 0
    counts = demo.load_demo_world()
    db.session.commit()
    assert counts["zones"] == 1062 and counts["groups"] == 4018 and counts["neighbours"] == 15659
    levels = dict(db.session.execute(select(Node.level, func.count()).group_by(Node.level)).all())
    assert levels == {
        "district": 1,
        "street": 11,
        "community": counts["communities"],
        "zone": 1062,
        "group": 4018,
        "neighbour": 15659,
    }
    assert 120 <= counts["communities"] <= 140
    nodes = check_tree()
    assert check_leaders(nodes) == 20739
    check_mobiles()
