"""Turnover (卸任与交接): when a leader's role ends, their open work moves on instead of waiting for nobody.

A role ends when a manager takes it away, when a roster import names someone else for the node, when the
holder's account is disabled, or when a tree edit merges the node away. `end_roles` then:

- keeps the tree's memory: one `EndedRole` row per role (a node's vacancy dates from its latest one) and one
  audit entry, naming the person, the role and the node as they were;
- hands on the issues waiting at the role's level on that node: to whoever now holds the same role there
  (the issue stays where it is, with a timeline entry saying who took it over), or — while the node is
  vacant — up to the first node above with a leader, as an escalation would, with fresh deadlines;
- hands on the callbacks (回访) owed on resolved issues the person filed (or had been handed) in that scope:
  to the successor, or the first leader above; `Issue.callback_owner_id` names them and the policy lets
  them record it;
- tells each new holder once: one inbox message per person per change, however many items it carries.

Every move is a timeline entry on the issue and an audit entry. The leaving person's own events keep their
name (the person row stays), so history reads as it happened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from ...extensions import db
from ...models import (
    ENDED_ROLE_REASONS,
    OPEN_STATUSES,
    ROLE_LEVEL,
    EndedRole,
    Issue,
    IssueFollower,
    Node,
    Notification,
    Person,
    RoleAssignment,
    utcnow,
)
from ..issues.lifecycle import add_event, set_deadlines
from ..platform import audit

# The role that holds each handling level of a node (the people told when work waits there).
LEVEL_ROLE = {level: role for role, level in ROLE_LEVEL.items()}
# The issue column that places an issue under a node of each level (the district holds everything).
SCOPE_COLUMN = {
    "neighbour": Issue.neighbour_id,
    "group": Issue.group_id,
    "zone": Issue.zone_id,
    "community": Issue.community_id,
    "street": Issue.street_id,
}
# Bottom up: where work goes when a node has nobody.
LEVELS_UP = ("neighbour", "group", "zone", "community", "street", "district")
ROLE_NAMES_ZH = {
    "neighbour_leader": "邻长",
    "group_leader": "组长",
    "zone_leader": "片长",
    "branch_member": "社区党组织成员",
    "street_admin": "街镇管理员",
    "district_admin": "区管理员",
}
REASON_ZH = {"removed": "角色被移除", "replaced": "名册导入换人", "disabled": "账号停用", "merged": "所在节点被合并"}


@dataclass
class Handover:
    """What one `end_roles` call moved, for the caller's message and the tests."""

    ended: list[EndedRole] = field(default_factory=list)
    moved_issues: int = 0  # issues handed to a successor or moved up
    moved_callbacks: int = 0
    # person id → ids of the issues handed to them
    received: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


def holders(role: str, node_id: int, excluding: set[int] = frozenset()) -> list[Person]:
    """The enabled people holding `role` on a node, earliest appointment first."""
    query = (
        select(Person)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.role == role, RoleAssignment.node_id == node_id, Person.enabled.is_(True))
        .order_by(RoleAssignment.id)
    )
    return [p for p in db.session.scalars(query) if p.id not in excluding]


def _ancestor_ids(node: Node) -> dict[str, int | None]:
    """The node at each level on the way up from `node` (itself included)."""
    district = db.session.scalar(select(Node.id).where(Node.level == "district").order_by(Node.id).limit(1))
    ids = {
        "street": node.street_id,
        "community": node.community_id,
        "zone": node.zone_id,
        "group": node.group_id,
        "district": district,
    }
    ids[node.level] = node.id
    return ids


def first_leaders_above(node: Node, excluding: set[int]) -> tuple[str, int, list[Person]] | None:
    """(level, node id, leaders) of the first node strictly above `node` that has an enabled leader."""
    ids = _ancestor_ids(node)
    for level in LEVELS_UP[LEVELS_UP.index(node.level) + 1 :]:
        node_id = ids.get(level)
        if node_id is None:
            continue
        people = holders(LEVEL_ROLE[level], node_id, excluding)
        if people:
            return level, node_id, people
    return None


def end_roles(actor: Person | None, roles: list[RoleAssignment], reason: str) -> Handover:
    """End these roles (the assignments are deleted, except when the account is being disabled: re-enabling
    gives them back) and hand their holders' open work on. Flushes, never commits."""
    if reason not in ENDED_ROLE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    result = Handover()
    now = utcnow()
    leaving: list[tuple[RoleAssignment, Person, Node]] = []
    for role in roles:
        if role.node_id is None:  # a responsible party's staff: no node, no tree work to hand on
            if reason != "disabled":
                db.session.delete(role)
            continue
        person, node = role.person, role.node
        ended = EndedRole(
            person_id=person.id,
            role=role.role,
            node_id=node.id,
            started_at=role.created_at,
            ended_at=now,
            ended_by_id=actor.id if actor is not None else None,
            reason=reason,
        )
        db.session.add(ended)
        result.ended.append(ended)
        leaving.append((role, person, node))
        audit.record_change(
            actor,
            "role_removed",
            f"{person.name}（{person.mobile}）卸任{ROLE_NAMES_ZH[role.role]}：{_path_text(node)}；原因：{REASON_ZH[reason]}",
            community_id=node.community_id,
            street_id=node.street_id,
        )
        if reason != "disabled":
            db.session.delete(role)
    db.session.flush()
    with audit.batch():
        for role, person, node in leaving:
            _hand_on(actor, role.role, person, node, now, result)
    _tell(result, now)
    db.session.flush()
    return result


def _path_text(node: Node) -> str:
    from .tree import node_path

    return " / ".join(n.name for n in node_path(node))


def _still_covers(person: Person, issue: Issue) -> bool:
    """Whether the person, enabled, still holds a role whose scope contains the issue (then nothing moves)."""
    if not person.enabled:
        return False
    places = {
        "neighbour": issue.neighbour_id,
        "group": issue.group_id,
        "zone": issue.zone_id,
        "community": issue.community_id,
        "street": issue.street_id,
    }
    for held in db.session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == person.id)):
        level = ROLE_LEVEL.get(held.role)
        if level == "district" or (level is not None and places.get(level) == held.node_id):
            return True
    return False


def _hand_on(actor: Person | None, role: str, person: Person, node: Node, now, result: Handover) -> None:
    level = ROLE_LEVEL[role]
    successors = holders(role, node.id, excluding={person.id})
    above = None if successors else first_leaders_above(node, excluding={person.id})
    scope = SCOPE_COLUMN.get(level)

    waiting = select(Issue).where(Issue.status.in_(OPEN_STATUSES), Issue.level == level).order_by(Issue.id)
    if scope is not None:
        waiting = waiting.where(scope == node.id)
    for issue in db.session.scalars(waiting):
        facts = {"leaving": person.name, "role": role}
        if successors:
            note = f"{person.name}（{ROLE_NAMES_ZH[role]}）卸任，由{'、'.join(p.name for p in successors)}接手"
            facts["to"] = [p.name for p in successors]
            add_event(issue, actor, "handover", "", False, at=now, facts=facts)
            receivers = successors
        elif above is not None:
            to_level, _node_id, receivers = above
            from_level = issue.level
            issue.level = to_level
            set_deadlines(issue, now)
            note = f"{person.name}（{ROLE_NAMES_ZH[role]}）卸任，本级空缺，转{'、'.join(p.name for p in receivers)}办理"
            facts["to"] = [p.name for p in receivers]
            add_event(
                issue, actor, "handover", "", False, from_level=from_level, to_level=to_level, at=now, facts=facts
            )
        else:
            continue  # nobody anywhere above: it stays, and the vacancy lists show it
        issue.updated_at = now
        audit.record_change(actor, "handover", note, issue=issue)
        result.moved_issues += 1
        for receiver in receivers:
            result.received[receiver.id].append(issue.id)

    owed = (
        select(Issue)
        .where(
            Issue.status == "resolved",
            ((Issue.filed_by_id == person.id) & Issue.callback_owner_id.is_(None))
            | (Issue.callback_owner_id == person.id),
        )
        .order_by(Issue.id)
    )
    if scope is not None:
        owed = owed.where(scope == node.id)
    owner = successors[0] if successors else (above[2][0] if above is not None else None)
    for issue in db.session.scalars(owed):
        if owner is None or _still_covers(person, issue):
            continue
        issue.callback_owner_id = owner.id
        issue.updated_at = now
        if db.session.get(IssueFollower, (issue.id, owner.id)) is None:
            db.session.add(IssueFollower(issue_id=issue.id, person_id=owner.id, created_at=now))
        note = f"{person.name}（{ROLE_NAMES_ZH[role]}）卸任，回访转交{owner.name}"
        facts = {"leaving": person.name, "role": role, "callback_to": owner.name}
        add_event(issue, actor, "handover", "", False, at=now, facts=facts)
        audit.record_change(actor, "handover", note, issue=issue)
        result.moved_callbacks += 1
        result.received[owner.id].append(issue.id)


def _tell(result: Handover, now) -> None:
    """One inbox message per person who received work, however many items (written with the change)."""
    if not result.received:
        return
    names = "、".join(sorted({e.person.name for e in result.ended}))
    for person_id, issue_ids in sorted(result.received.items()):
        unique = sorted(set(issue_ids))
        db.session.add(
            Notification(
                person_id=person_id,
                issue_id=unique[0] if len(unique) == 1 else None,
                event_id=None,
                kind="handover",
                text=f"[工作交接] {names}卸任，{len(unique)}项工作转交给您"[:300],
                facts={"names": sorted({e.person.name for e in result.ended}), "count": len(unique)},
                created_at=now,
            )
        )
