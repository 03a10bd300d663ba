"""Test builders (CTFd style): small, explicit objects instead of fixtures copied around."""

from __future__ import annotations

import itertools

from werkzeug.security import generate_password_hash

from governance.extensions import db
from governance.models import LEVELS, ROLE_LEVEL, Building, Compound, Node, Organisation, Person, RoleAssignment, utcnow
from governance.services.people.tree import add_node

PASSWORD = "password-123"
# Hashing is the slow part of making people; every test person shares one precomputed hash.
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
_mobiles = itertools.count(13800000000)


def next_mobile() -> str:
    """A unique, valid mobile number."""
    return str(next(_mobiles))


def make_node(parent: Node | None, level: str, name: str | None = None) -> Node:
    """One node under `parent`."""
    return add_node(parent, level, name or f"{level}-{next(_mobiles) % 100000}")


def make_tree(streets: int = 1, communities: int = 1, zones: int = 1, groups: int = 1, neighbours: int = 1):
    """A full little district; returns the district node (children reachable by query)."""
    district = make_node(None, "district", "望城区")
    for s in range(streets):
        street = make_node(district, "street", f"街道{s + 1}")
        for c in range(communities):
            community = make_node(street, "community", f"{street.name}社区{c + 1}")
            for z in range(zones):
                zone = make_node(community, "zone", f"{community.name}第{z + 1}片")
                for g in range(groups):
                    group = make_node(zone, "group", f"{zone.name}第{g + 1}组")
                    for n in range(neighbours):
                        make_node(group, "neighbour", f"{group.name}第{n + 1}邻")
    db.session.commit()
    return district


def make_person(
    role: str | None = None,
    node: Node | None = None,
    *,
    name: str | None = None,
    mobile: str | None = None,
    activated: bool = True,
    organisation: Organisation | None = None,
) -> Person:
    """A person, optionally holding one role; activated with PASSWORD unless told otherwise."""
    person = Person(
        name=name or f"测试{next(_mobiles) % 1000}",
        mobile=mobile or next_mobile(),
        password_hash=_HASH if activated else None,
        activated_at=utcnow() if activated else None,
    )
    db.session.add(person)
    db.session.flush()
    if role:
        db.session.add(
            RoleAssignment(person_id=person.id, role=role, node_id=node.id if node else None, organisation=organisation)
        )
    db.session.commit()
    return person


def grant(person: Person, role: str, node: Node | None = None, organisation: Organisation | None = None):
    """Give an existing person one more role."""
    assignment = RoleAssignment(
        person_id=person.id, role=role, node_id=node.id if node else None, organisation=organisation
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def make_organisation(kind: str = "property", name: str | None = None) -> Organisation:
    """A responsible-party organisation."""
    org = Organisation(kind=kind, name=name or f"{kind}-{next(_mobiles) % 100000}")
    db.session.add(org)
    db.session.commit()
    return org


def make_party(kind: str = "property", name: str | None = None, *communities: Node) -> Organisation:
    """A responsible party serving the given communities (the triage lists offer it there)."""
    party = make_organisation(kind, name)
    party.communities.extend(communities)
    db.session.commit()
    return party


def make_compound(community: Node, name: str = "普瑞斯堡", buildings: tuple[str, ...] = ()) -> Compound:
    """A 小区 in a community, with the named buildings (in `compound.buildings`, in the order given)."""
    compound = Compound(community_id=community.id, name=name)
    db.session.add(compound)
    db.session.flush()
    for building in buildings:
        db.session.add(Building(compound_id=compound.id, name=building))
    db.session.commit()
    return compound


def nodes_at(level: str) -> list[Node]:
    """All nodes of one level, in creation order."""
    return list(db.session.scalars(db.select(Node).where(Node.level == level).order_by(Node.id)))


def first_nodes() -> dict[str, Node]:
    """The first node of each level (the tree's first branch), by level."""
    return {level: nodes_at(level)[0] for level in LEVELS}


def make_role_holders(
    roles: tuple[str, ...] = tuple(ROLE_LEVEL),
    *,
    by: str = "role",
    name: str | None = "{role}-holder",
    organisation: Organisation | None = None,
    staff_name: str | None = "物业员工",
) -> dict[str, Person]:
    """One person per node-bound role on the tree's first branch (a 邻长 on the first 邻 … the district admin).

    Keyed by role name, or by the level the role sits on with by="level" (a branch member under "community").
    Named by the `name` pattern ({role} is filled in; None: the builders' default names). With an
    organisation, its staff member too, under "org_staff" (named `staff_name`). Made in the order of `roles`.
    """
    first = first_nodes()
    people = {}
    for role in roles:
        key = ROLE_LEVEL[role] if by == "level" else role
        people[key] = make_person(role, first[ROLE_LEVEL[role]], name=name.format(role=role) if name else None)
    if organisation is not None:
        people["org_staff"] = make_person("org_staff", None, organisation=organisation, name=staff_name)
    return people


def category(code: str = "road"):
    """A default category by code (seeded by the migration)."""
    from governance.models import Category

    return db.session.scalar(db.select(Category).where(Category.code == code))


def make_issue(filer: Person, neighbour: Node | None = None, *, key: str | None = None, commit: bool = True, **fields):
    """File an issue through the real service, as `filer`, in `neighbour` (default: the filer's own 邻)."""
    from governance.services.issues.lifecycle import IssueInput, file_issue

    if neighbour is None:
        neighbour = next(r.node for r in filer.roles if r.node is not None and r.node.level == "neighbour")
    data = IssueInput(
        category_id=fields.pop("category_id", None) or category(fields.pop("category", "road")).id,
        title=fields.pop("title", "路面破损"),
        neighbour_id=neighbour.id,
        **fields,
    )
    issue, _ = file_issue(filer, data, key)
    if commit:
        db.session.commit()
    return issue


def force_status(issue, status: str, level: str | None = None):
    """Put an issue straight into a status (test set-up only: real changes go through the service)."""
    issue.status = status
    if level:
        issue.level = level
    db.session.commit()
    return issue


def make_project(community: Node, name: str = "老旧小区改造", phases: tuple[str, ...] = ("一期", "二期")):
    """A renovation project of a community with named phases (budget 1,000,000.00 each)."""
    from governance.models import Phase, Project

    project = Project(community_id=community.id, name=name)
    db.session.add(project)
    db.session.flush()
    for sort, phase in enumerate(phases):
        db.session.add(Phase(project_id=project.id, name=phase, sort=sort, budget_fen=100_000_000))
    db.session.commit()
    return project


def make_source(project, kind: str = "property", name: str | None = None, **fields):
    """A funding source of a project."""
    from governance.models import FundingSource

    source = FundingSource(project_id=project.id, kind=kind, name=name or f"{kind}-{next(_mobiles) % 100000}", **fields)
    db.session.add(source)
    db.session.commit()
    return source
