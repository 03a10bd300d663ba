"""Editing the tree (调整网格): rename, move, merge and split the nodes, keeping every number right.

**The rule for history.** An issue belongs to its 邻: when a 邻 moves (alone, with its 组, or into a new 组
by a split) its issues move with it, and when a 邻 is merged into another its issues go to the kept 邻.
Every report — past periods too — follows the tree as it is now: a 邻 moved to another community in June
counts in its new community for January as well. The old place is not kept on the issues; it is kept in
the audit log (one entry per edit, with the names and paths before and after).

So that a scoped query stays one index lookup, the tree's place is copied onto many rows (the ancestor
columns of `node`, of `issue`, the community and 街镇 of each issue's `audit_entry` rows, the report
rollups keyed by community and 街镇). An edit rewrites all of them in the same transaction, with set-based
UPDATEs over the moved subtree (never a Python loop that writes issue by issue):

- `node`: the moved node and its descendants get the new parent's ancestors;
- `issue`: the issues of the moved 邻s get their new 组/片/community/街镇 (and a new `version`: a page
  opened before the move gets a conflict instead of writing over it);
- `audit_entry`: the issue-bound entries of those issues follow their issue's community and 街镇;
- rollups (only when issues change community or 街镇): each moved issue's contribution is taken from the
  rows of its old community/街镇 and added to the new ones, with the same `rollups.contribution()` the
  nightly check uses, read in one streamed pass over the moved issues (`rollups.check()` finds nothing);
- a 小区 whose nodes all move to another community moves with them (`compound.community_id`, and the
  projects of that 小区); one whose nodes or issues would end up in two communities is refused, and so are
  issues linked to a project phase of the community they would leave.

A merge also repoints everything that named the merged 邻 (API keys, 企业微信 robots, ended roles), ends
its leaders' roles (services/people/turnover.py, reason "merged": their issues are already in the kept 邻,
whose leaders carry on) and deletes the node. Functions flush and never commit; who may do what is asked of
governance/policy.py ("rename_node", "edit_tree", "move_node").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from ... import policy
from ...extensions import db
from ...models import (
    ApiKey,
    AuditEntry,
    Compound,
    EndedRole,
    Issue,
    Node,
    NotificationChannel,
    Person,
    Phase,
    Project,
    RoleAssignment,
)
from ..errors import ServiceError
from ..locks import lock_row
from ..platform import audit
from ..public import page_cache
from ..reports import rollups
from .tree import add_node, node_path

MAX_NAME = 40
# The parent level each movable level moves under: a 邻 to another 组, a 组 to another 片.
MOVE_PARENT = {"neighbour": "group", "group": "zone"}
# Who may rename a node is decided in policy; these levels have names that can be edited at all.
RENAMABLE = ("street", "community", "zone", "group", "neighbour")


class StructureError(ServiceError):
    """A tree edit that cannot be done as asked; nothing was changed."""

    MESSAGES = {
        "forbidden": _l("You may not change this part of the tree."),
        "bad_name": _l("Give a name of 1 to %(max)s characters."),
        "same_name": _l("That is already its name."),
        "name_taken": _l("“%(name)s” is already the name of another %(level)s under %(parent)s."),
        "not_renamable": _l("This level cannot be renamed here."),
        "not_movable": _l(
            "Only a neighbour unit (邻, to another group) or a group (组, to another zone) can be moved."
        ),
        "bad_parent": _l("Choose a %(level)s to move it under."),
        "same_parent": _l("It is already under %(parent)s."),
        "into_itself": _l("A node cannot be moved under itself or under a node below it."),
        "other_district": _l("Nodes cannot be moved out of the district."),
        "split_compound": _l(
            "Compound (小区) %(compound)s would be split between two communities: move all of its zones, groups and "
            "neighbour units (片/组/邻) together."
        ),
        "compound_name_taken": _l("The community %(community)s already has a compound (小区) named %(compound)s."),
        "project_name_taken": _l("The community %(community)s already has a project named %(project)s."),
        "linked_to_project": _l(
            "Issues of it are linked to the project %(project)s of %(community)s: unlink them before the move."
        ),
        "not_neighbour": _l("Only a neighbour unit (邻) can be merged, into another neighbour unit."),
        "merge_itself": _l("Choose another neighbour unit (邻) to keep."),
        "merge_other_community": _l(
            "A neighbour unit (邻) can be merged only into a neighbour unit of the same community."
        ),
        "not_group": _l("Only a group (组) can be split."),
        "nothing_chosen": _l("Tick at least one neighbour unit (邻) to move into the new group (组)."),
        "not_child": _l("Tick only neighbour units (邻) of this group (组)."),
    }
    STATUS = {**ServiceError.STATUS, "forbidden": 403}


LEVEL_NAMES_ZH = {"street": "街镇", "community": "社区", "zone": "片", "group": "组", "neighbour": "邻"}


# --- reading ----------------------------------------------------------------------------------------


def path_text(node: Node) -> str:
    """The node's place as people read it: 街镇 / 社区 / 片 / 组 / 邻."""
    return " / ".join(n.name for n in node_path(node))


def clean_name(name: str | None) -> str:
    """A node name as typed, trimmed (full-width spaces too); refused when empty, too long or holding control
    characters. Not otherwise normalised: full-width brackets and digits are how many names are written."""
    text = (name or "").strip()
    if not text or len(text) > MAX_NAME or any(unicodedata.category(c).startswith("C") for c in text):
        raise StructureError("bad_name", max=MAX_NAME)
    return text


def _sibling_named(parent_id: int | None, name: str, excluding: int | None = None) -> Node | None:
    query = select(Node).where(Node.parent_id == parent_id, Node.name == name)
    if excluding is not None:
        query = query.where(Node.id != excluding)
    return db.session.scalars(query.limit(1)).first()


def _refuse_clash(parent: Node | None, level: str, name: str, excluding: int | None = None) -> None:
    if _sibling_named(parent.id if parent else None, name, excluding) is not None:
        raise StructureError(
            "name_taken", name=name, level=LEVEL_NAMES_ZH.get(level, level), parent=parent.name if parent else ""
        )


def subtree_condition(node: Node):
    """SQL condition on Node: the node and everything below it."""
    if node.level == "neighbour":
        return Node.id == node.id
    return getattr(Node, f"{node.level}_id") == node.id


def outside_subtree(node: Node):
    """SQL condition on Node: every node not in the node's subtree (a NULL ancestor column is outside)."""
    if node.level == "neighbour":
        return Node.id != node.id
    column = getattr(Node, f"{node.level}_id")
    return column.is_(None) | (column != node.id)


def issue_condition(node: Node):
    """SQL condition on Issue: the issues of the 邻s in the node's subtree."""
    return getattr(Issue, policy.ISSUE_SCOPE_COLUMN[node.level]) == node.id


def _district_of(node: Node) -> int | None:
    street = db.session.get(Node, node.street_id) if node.street_id else None
    return street.parent_id if street is not None else None


def move_parents(person: Person, node: Node, community: Node | None = None) -> list[Node]:
    """The nodes the person may move `node` under, in one community (default: the node's own): each of
    the right level, not its present parent, in communities the person may move into."""
    level = MOVE_PARENT.get(node.level)
    community = community or db.session.get(Node, node.community_id)
    if level is None or community is None or community.level != "community":
        return []
    query = (
        select(Node)
        .where(Node.level == level, Node.community_id == community.id, Node.id != node.parent_id)
        .order_by(Node.zone_id, Node.id)
    )
    return [parent for parent in db.session.scalars(query) if policy.allowed(person, "move_node", (node, parent))]


def move_communities(person: Person, node: Node) -> list[Node]:
    """The communities the person may move `node` into (its own first), for the move page's first choice."""
    if node.level not in MOVE_PARENT:
        return []
    own = db.session.get(Node, node.community_id)
    query = select(Node).where(Node.level == "community").order_by(Node.street_id, Node.id)
    found = [own] if own is not None and policy.allowed(person, "edit_tree", node) else []
    for community in db.session.scalars(query.where(Node.id != node.community_id)):
        if policy.allowed(person, "move_across_communities", (own, community)):
            found.append(community)
    return found


def merge_targets(person: Person, node: Node) -> list[Node]:
    """The 邻 a 邻 may be merged into: the other 邻 of its community the person may edit."""
    if node.level != "neighbour":
        return []
    query = (
        select(Node)
        .where(Node.level == "neighbour", Node.community_id == node.community_id, Node.id != node.id)
        .order_by(Node.zone_id, Node.group_id, Node.id)
    )
    return [n for n in db.session.scalars(query) if policy.allowed(person, "edit_tree", n)]


@dataclass
class Impact:
    """What an edit will change (shown before it is confirmed) or changed."""

    neighbours: int = 0
    issues: int = 0
    crosses_community: bool = False
    compounds: list[str] | None = None


def move_impact(node: Node, new_parent: Node | None = None) -> Impact:
    """How many 邻 and issues move with the node, and whether they leave the community."""
    neighbours = db.session.scalar(
        select(func.count()).select_from(Node).where(subtree_condition(node), Node.level == "neighbour")
    )
    issues = db.session.scalar(select(func.count()).select_from(Issue).where(issue_condition(node)))
    crosses = new_parent is not None and new_parent.community_id != node.community_id
    return Impact(neighbours or 0, issues or 0, crosses)


def _node_names(nodes) -> str:
    return "、".join(n.name for n in nodes)


# --- rename -----------------------------------------------------------------------------------------


def check_rename(actor: Person, node: Node, name: str) -> str:
    """Refuse a rename that cannot be done; the clean new name otherwise. Changes nothing."""
    if node.level not in RENAMABLE:
        raise StructureError("not_renamable")
    if not policy.allowed(actor, "rename_node", node):
        policy.log_denial(actor, "rename_node", node)
        raise StructureError("forbidden")
    name = clean_name(name)
    if name == node.name:
        raise StructureError("same_name")
    parent = db.session.get(Node, node.parent_id) if node.parent_id else None
    _refuse_clash(parent, node.level, name, excluding=node.id)
    return name


def _lock(*nodes: Node | None) -> None:
    """Hold off other edits of these nodes (and of names under them) until the transaction ends, always in id
    order (no deadlocks between two edits), then read them afresh: the checks that follow see the latest."""
    present = sorted({n.id: n for n in nodes if n is not None}.items())
    for node_id, _node in present:
        lock_row(Node, node_id)
    for _node_id, node in present:
        db.session.expire(node)


def rename(actor: Person, node: Node, name: str) -> Node:
    """Give a node a new name, unique among its siblings."""
    _lock(node, db.session.get(Node, node.parent_id) if node.parent_id else None)
    name = check_rename(actor, node, name)
    before = path_text(node)
    old_name = node.name
    node.name = name
    db.session.flush()
    audit.record_change(
        actor,
        "node_rename",
        f"{LEVEL_NAMES_ZH[node.level]}改名：{old_name} → {name}（原路径 {before}；现路径 {path_text(node)}）",
        community_id=node.community_id,
        street_id=node.street_id,
    )
    _mark_pages(node.street_id, node.community_id)
    return node


# --- move -------------------------------------------------------------------------------------------


def check_move(actor: Person, node: Node, new_parent: Node | None) -> Impact:
    """Refuse a move that cannot be done (level, place, name, access, a 小区 split); what it would move
    otherwise. Changes nothing."""
    level = MOVE_PARENT.get(node.level)
    if level is None:
        raise StructureError("not_movable")
    if new_parent is None or new_parent.level != level:
        raise StructureError("bad_parent", level=LEVEL_NAMES_ZH[level])
    if new_parent.id == node.id or getattr(new_parent, f"{node.level}_id", None) == node.id:
        raise StructureError("into_itself")
    if new_parent.id == node.parent_id:
        raise StructureError("same_parent", parent=new_parent.name)
    if _district_of(new_parent) != _district_of(node):
        raise StructureError("other_district")
    if not policy.allowed(actor, "move_node", (node, new_parent)):
        policy.log_denial(actor, "move_node", (node, new_parent))
        raise StructureError("forbidden")
    _refuse_clash(new_parent, node.level, node.name)
    impact = move_impact(node, new_parent)
    if impact.crosses_community:
        impact.compounds = [c.name for c in _compounds_to_move(node, new_parent)]
    return impact


def move(actor: Person, node: Node, new_parent: Node) -> Impact:
    """Move a 邻 under another 组, or a 组 under another 片, with everything that carries its place."""
    _lock(node, new_parent)
    check_move(actor, node, new_parent)
    before = path_text(node)
    old_community, old_street = node.community_id, node.street_id
    impact = _relocate(node, new_parent)
    audit.record_change(
        actor,
        "node_move",
        f"{LEVEL_NAMES_ZH[node.level]}{node.name}迁移：{before} → {path_text(node)}"
        f"（{impact.neighbours}个邻，{impact.issues}件问题随迁）",
        **_where(old_community, old_street, node.community_id, node.street_id),
    )
    return impact


def _where(old_community, old_street, new_community, new_street) -> dict:
    """The community and 街镇 an edit happened in: the community when it stayed inside one, the 街镇 when it
    crossed communities of one 街镇, nothing narrower than the district otherwise."""
    if old_community == new_community:
        return {"community_id": new_community, "street_id": new_street}
    return {"community_id": None, "street_id": new_street if old_street == new_street else None}


def _relocate(node: Node, new_parent: Node) -> Impact:
    """Put `node` (a 邻 or 组) under `new_parent` and rewrite every copy of its place (no checks, no audit).
    The caller holds the locks of both."""
    impact = move_impact(node, new_parent)
    old = {"street_id": node.street_id, "community_id": node.community_id}
    new = new_parent.ancestor_ids()
    crosses = new["community_id"] != old["community_id"]
    moving_compounds = _compounds_to_move(node, new_parent) if crosses else []
    impact.compounds = [c.name for c in moving_compounds]
    # Ancestor columns the subtree takes from the new parent: those above the node's own level.
    columns = [c for c in ("street_id", "community_id", "zone_id", "group_id") if c != f"{node.level}_id"]
    values = {c: new[c] for c in columns}
    issues = issue_condition(node)  # read before the nodes change: it names the node itself, not its parents
    moved_ids = select(Issue.id).where(issues)
    _update(Node, subtree_condition(node), values)
    _update(Node, Node.id == node.id, {"parent_id": new_parent.id})
    _update(Issue, issues, {**values, "version": Issue.version + 1})
    if crosses or old["street_id"] != new["street_id"]:
        _update(
            AuditEntry,
            AuditEntry.issue_id.in_(moved_ids),
            {"community_id": new["community_id"], "street_id": new["street_id"]},
        )
        _move_contributions(issues, old, new)
        for compound in moving_compounds:
            _update(Compound, Compound.id == compound.id, {"community_id": new["community_id"]})
            _update(Project, Project.compound_id == compound.id, {"community_id": new["community_id"]})
    _expire_copies()
    _mark_pages(old["street_id"], old["community_id"], new["street_id"], new["community_id"])
    for compound in moving_compounds:
        page_cache.mark({f"compound:{compound.id}"})
    return impact


def _update(model, condition, values: dict) -> None:
    statement = update(model).where(condition).values(**values).execution_options(synchronize_session=False)
    db.session.execute(statement)


def _compounds_to_move(node: Node, new_parent: Node) -> list[Compound]:
    """The 小区 that go with the node to the other community; refuses when one would be split, when a name
    clashes there, or when issues are linked to a project that stays behind."""
    in_subtree = select(Node.compound_id).where(subtree_condition(node), Node.compound_id.is_not(None))
    of_issues = select(Issue.compound_id).where(issue_condition(node), Issue.compound_id.is_not(None))
    ids = set(db.session.scalars(in_subtree)) | set(db.session.scalars(of_issues))
    community = db.session.get(Node, new_parent.community_id)
    compounds = list(db.session.scalars(select(Compound).where(Compound.id.in_(ids)).order_by(Compound.id)))
    for compound in compounds:
        elsewhere_node = db.session.scalar(
            select(func.count()).select_from(Node).where(Node.compound_id == compound.id, outside_subtree(node))
        )
        elsewhere_issue = db.session.scalar(
            select(func.count()).select_from(Issue).where(Issue.compound_id == compound.id, ~issue_condition(node))
        )
        if elsewhere_node or elsewhere_issue:
            raise StructureError("split_compound", compound=compound.name)
        clash = db.session.scalar(
            select(Compound.id).where(Compound.community_id == community.id, Compound.name == compound.name)
        )
        if clash is not None:
            raise StructureError("compound_name_taken", community=community.name, compound=compound.name)
        for project in db.session.scalars(select(Project).where(Project.compound_id == compound.id)):
            if db.session.scalar(
                select(Project.id).where(Project.community_id == community.id, Project.name == project.name)
            ):
                raise StructureError("project_name_taken", community=community.name, project=project.name)
    moving = [c.id for c in compounds]
    linked = db.session.execute(
        select(Project.name, Node.name)
        .join(Phase, Phase.project_id == Project.id)
        .join(Issue, Issue.project_phase_id == Phase.id)
        .join(Node, Node.id == Project.community_id)
        .where(issue_condition(node), (Project.compound_id.is_(None)) | (Project.compound_id.not_in(moving or [0])))
        .limit(1)
    ).first()
    if linked is not None:
        raise StructureError("linked_to_project", project=linked[0], community=linked[1])
    # And the other way: a project that moves with its 小区 must not keep issues that stay behind.
    staying = db.session.execute(
        select(Project.name, Node.name)
        .join(Phase, Phase.project_id == Project.id)
        .join(Issue, Issue.project_phase_id == Phase.id)
        .join(Node, Node.id == Project.community_id)
        .where(Project.compound_id.in_(moving or [0]), ~issue_condition(node))
        .limit(1)
    ).first()
    if staying is not None:
        raise StructureError("linked_to_project", project=staying[0], community=staying[1])
    return compounds


def _move_contributions(issues, old: dict, new: dict) -> None:
    """Take the moved issues' contributions from their old community/街镇's rollup rows and add them to the
    new ones (the issues already carry the new place)."""
    delta = rollups.Delta()
    columns = [getattr(Issue, name) for name in rollups.FIELDS]
    result = db.session.connection().execute(select(*columns).where(issues).execution_options(yield_per=5000))
    for row in result:
        now = dict(zip(rollups.FIELDS, row, strict=True))
        delta.add(rollups.contribution({**now, **old}), -1)
        delta.add(rollups.contribution(now), 1)
    delta.apply(db.session.connection())


def _expire_copies() -> None:
    """The UPDATEs bypassed the session: loaded nodes, issues and the rest are read afresh when next used
    (an issue held with its old community would otherwise move its rollup contribution from the wrong row)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, (Node, Issue, AuditEntry, Compound, Project, ApiKey, NotificationChannel, EndedRole)):
            db.session.expire(obj)


def _mark_pages(*ids) -> None:
    """The public pages of these 街镇 and communities (and the district's) and the reports show the tree:
    refresh them."""
    tags = {page_cache.TREE}
    for street_id, community_id in zip(ids[0::2], ids[1::2], strict=True):
        tags |= page_cache.issue_tags(street_id, community_id, None, None)
    page_cache.mark(tags)


# --- merge ------------------------------------------------------------------------------------------


def check_merge(actor: Person, merged: Node, kept: Node | None) -> Impact:
    """Refuse a merge that cannot be done; what it would move otherwise. Changes nothing."""
    if merged.level != "neighbour" or kept is None or kept.level != "neighbour":
        raise StructureError("not_neighbour")
    if merged.id == kept.id:
        raise StructureError("merge_itself")
    if merged.community_id != kept.community_id:
        raise StructureError("merge_other_community")
    for node in (merged, kept):
        if not policy.allowed(actor, "edit_tree", node):
            policy.log_denial(actor, "edit_tree", node)
            raise StructureError("forbidden")
    return move_impact(merged)


def merge(actor: Person, merged: Node, kept: Node | None) -> Impact:
    """Merge one 邻 into another of the same community: its issues and everything naming it go to the kept
    邻, its leaders' roles end (reason "merged"), and the merged node is deleted."""
    from .turnover import end_roles  # ends roles and hands their work on

    _lock(merged, kept)
    impact = check_merge(actor, merged, kept)
    before, into = path_text(merged), path_text(kept)
    name, community_id, street_id = merged.name, merged.community_id, merged.street_id
    kept_id, merged_id = kept.id, merged.id
    # The issues first: once they are in the kept 邻 its leaders carry on, so the roles ending below have no
    # open work left on the merged node to hand up the tree.
    values = {"neighbour_id": kept.id, "group_id": kept.group_id, "zone_id": kept.zone_id}
    _update(Issue, Issue.neighbour_id == merged_id, {**values, "version": Issue.version + 1})
    _update(ApiKey, ApiKey.node_id == merged_id, {"node_id": kept_id})
    _update(NotificationChannel, NotificationChannel.node_id == merged_id, {"node_id": kept_id})
    _expire_copies()
    roles = list(db.session.scalars(select(RoleAssignment).where(RoleAssignment.node_id == merged_id)))
    leaders = _node_names([r.person for r in roles])
    end_roles(actor, roles, reason="merged")
    db.session.flush()
    _update(EndedRole, EndedRole.node_id == merged_id, {"node_id": kept_id})
    db.session.execute(delete(Node).where(Node.id == merged_id).execution_options(synchronize_session=False))
    _expire_copies()
    if merged in db.session:
        db.session.expunge(merged)
    kept_name = db.session.get(Node, kept_id).name
    ended = f"；{leaders}的邻长职务结束" if leaders else ""
    audit.record_change(
        actor,
        "node_merge",
        f"邻{name}并入{kept_name}：{before} → {into}（{impact.issues}件问题随迁{ended}）",
        community_id=community_id,
        street_id=street_id,
    )
    _mark_pages(street_id, community_id)
    return impact


# --- split ------------------------------------------------------------------------------------------


def check_split(actor: Person, group: Node, name: str, neighbours: list[Node]) -> tuple[str, Impact]:
    """Refuse a split that cannot be done; the clean name and what it would move otherwise. Changes nothing."""
    if group.level != "group":
        raise StructureError("not_group")
    if not policy.allowed(actor, "edit_tree", group):
        policy.log_denial(actor, "edit_tree", group)
        raise StructureError("forbidden")
    name = clean_name(name)
    if not neighbours:
        raise StructureError("nothing_chosen")
    if any(n.parent_id != group.id or n.level != "neighbour" for n in neighbours):
        raise StructureError("not_child")
    _refuse_clash(db.session.get(Node, group.parent_id), "group", name)
    impact = Impact()
    for neighbour in neighbours:
        one = move_impact(neighbour)
        impact.neighbours += one.neighbours
        impact.issues += one.issues
    return name, impact


def split(actor: Person, group: Node, name: str, neighbours: list[Node]) -> Node:
    """Make a new 组 under the same 片, named `name`, and move the chosen 邻 of `group` into it (a move each;
    the new 组 starts vacant: nobody is its 组长 until one is appointed)."""
    _lock(group, db.session.get(Node, group.parent_id), *neighbours)
    name, impact = check_split(actor, group, name, neighbours)
    zone = db.session.get(Node, group.parent_id)
    before = path_text(group)
    community_id, street_id, compound_id = group.community_id, group.street_id, group.compound_id
    names = "、".join(n.name for n in neighbours)
    created = add_node(zone, "group", name)
    created.compound_id = compound_id
    db.session.flush()
    for neighbour in sorted(neighbours, key=lambda n: n.id):
        _relocate(neighbour, created)
    audit.record_change(
        actor,
        "node_split",
        f"组拆分：{before} 分出新组 {path_text(created)}，迁入{names}"
        f"（{impact.neighbours}个邻，{impact.issues}件问题随迁）",
        community_id=community_id,
        street_id=street_id,
    )
    return created
