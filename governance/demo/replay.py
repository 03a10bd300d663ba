"""The fast lifecycle replay: one issue's life step by step with the services' rules, kept in memory as rows.

No issue is written as it stands today: each one's life is replayed event by event with the rules
of services.issues.lifecycle (TRANSITIONS, deadlines, on-time flags, callbacks, merging) and
services.triage.operations (派单 with a deadline, 接单, 退回, priority) and, between its events, with
what the minute-by-minute SLA sweep (services.issues.sla) would have done (超时自动上报, the system as
actor). The rules, constants and wording are imported from those modules; what stays here is the
bookkeeping the ORM would do (epoch-second stamps instead of datetimes, tuples instead of rows), so
thousands of issues replay in a second and go in through bulk inserts. Statuses, levels, deadlines and
timestamps therefore agree with the timeline exactly, every actor is someone the policy lets act at
that moment, and a sweep run at load time finds nothing left to escalate. tests/test_demo_replay.py
replays generated scripts through both this and the services and compares the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..formatting import beijing_today, end_of_beijing_day
from ..models import (
    HANDLING_LEVELS,
    OPEN_STATUSES,
    PRIORITIES,
    Category,
    Node,
    Organisation,
    RejectReason,
    RoleAssignment,
    SlaPolicy,
)
from ..services.issues.lifecycle import (
    MERGE_REFUSED,
    NOTE_REQUIRED,
    SATISFACTION_STATUS,
    TRANSITIONS,
    deadlines_for,
    next_level,
    on_time,
    reference_of,
    target_level,
    working_since,
)
from ..services.platform.audit import STATUS_ACTION
from ..services.triage.operations import COMMUNITY_RANK, MAX_ASSIGN_DAYS
from .context import HOUR, as_datetime, epoch

# Script actors: the holder of a handling level (rank = index in HANDLING_LEVELS).
LEVEL_RANK = {level: rank for rank, level in enumerate(HANDLING_LEVELS)}
ACTOR_RANK = {"neighbour": 0, "group": 1, "zone": 2, "branch": 3, "street": 4, "district": 5}
# Column orders of the rows the issue step writes through DemoContext.insert_history.
PLACE_COLUMNS = (
    "category_id", "title", "description", "compound_id", "building_id", "place_detail",
    "resident_name", "resident_phone", "neighbour_id", "group_id", "zone_id", "community_id", "street_id",
)  # fmt: skip
ISSUE_COLUMNS = (
    "id", "reference", *PLACE_COLUMNS, "urgency", "priority", "filed_by_id", "idempotency_key", "latitude",
    "longitude", "status", "level", "assignee_org_id", "assignment_state", "assigned_at", "accepted_at",
    "reject_reason_id", "duplicate_of_id", "ack_due_at", "resolve_due_at", "next_deadline_at", "created_at",
    "updated_at", "acknowledged_at", "resolved_at", "closed_at", "satisfaction", "version", "acknowledged_on_time",
    "resolved_on_time",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "issue_id", "at", "actor_id", "kind", "from_status", "to_status", "from_level", "to_level", "note",
    "public", "deadline_at", "facts",
)  # fmt: skip
AUDIT_COLUMNS = ("id", "at", "actor_id", "action", "issue_id", "community_id", "street_id", "detail", "batch")
FOLLOWER_COLUMNS = ("issue_id", "person_id", "created_at")
# The sweep runs every minute: it finds a passed deadline within a minute (see IssueLife.sweep_delay).
SWEEP_MINUTE = 60


def reference_for(created: int, issue_id: int) -> str:
    """The reference file_issue gives an issue filed at `created` (epoch seconds)."""
    return reference_of(issue_id, as_datetime(created))


class RefNote:
    """Another issue's reference (in a timeline entry's facts), known only once the issues have their ids."""

    __slots__ = ("wording", "life")

    def __init__(self, wording: Callable[[str], str], life: IssueLife):
        self.wording, self.life = wording, life

    def text(self, reference_of: Callable[[IssueLife], str]) -> str:
        return self.wording(reference_of(self.life))


@dataclass
class IssueWorld:
    """What the replay needs from the tree: who holds what, the SLA, the categories, the rejection
    reasons and the responsible parties."""

    sla: dict[tuple[str, str], tuple[int, int]]
    categories: dict[str, int]
    # The active rejection reasons as (id, name_zh), in the order the branch sees them.
    reasons: list[tuple[int, str]]
    org_names: dict[int, str]
    paired: dict[int, set[int]]  # community id → the organisations serving it
    offices: dict[int, int]  # 街镇 id → its office
    # node id → the person holding its leader role (邻长/组长/片长); community → first branch member;
    # street → its admin; the district → its admin.
    holder: dict[int, int]
    staff: dict[int, int]  # organisation id → its first staff member
    members: dict[int, list[int]]  # node id → everyone holding a role on it (both branch members, say)
    org_members: dict[int, list[int]]  # organisation id → all its staff

    def holders(self, node: dict, district_id: int) -> tuple[int, ...]:
        """The six level holders over a 邻, neighbour first."""
        return (
            self.holder[node["id"]],
            self.holder[node["group_id"]],
            self.holder[node["zone_id"]],
            self.holder[node["community_id"]],
            self.holder[node["street_id"]],
            self.holder[district_id],
        )

    @classmethod
    def read(cls, paired: dict[int, set[int]], offices: dict[int, int]) -> IssueWorld:
        """Read back what the tree holds (a few plain queries); `paired` and `offices` as the caller knows them."""
        sla = {(p.level, p.urgency): (p.ack_hours, p.resolve_hours) for p in db.session.scalars(select(SlaPolicy))}
        categories = dict(db.session.execute(select(Category.code, Category.id)).all())
        reasons = [
            tuple(row)
            for row in db.session.execute(
                select(RejectReason.id, RejectReason.name_zh)
                .where(RejectReason.active.is_(True))
                .order_by(RejectReason.sort, RejectReason.id)
            )
        ]
        if not reasons:
            raise RuntimeError("the rejection reasons are not seeded (services.issues.reference.seed_defaults)")
        org_names = dict(db.session.execute(select(Organisation.id, Organisation.name)).all())
        holder: dict[int, int] = {}
        staff: dict[int, int] = {}
        members: dict[int, list[int]] = {}
        org_members: dict[int, list[int]] = {}
        rows = db.session.execute(
            select(
                RoleAssignment.role, RoleAssignment.node_id, RoleAssignment.organisation_id, RoleAssignment.person_id
            ).order_by(RoleAssignment.id)
        )
        for role, node_id, org_id, person_id in rows:
            if role == "org_staff":
                staff.setdefault(org_id, person_id)
                org_members.setdefault(org_id, []).append(person_id)
            else:
                holder.setdefault(node_id, person_id)
                members.setdefault(node_id, []).append(person_id)
        return cls(
            sla=sla,
            categories=categories,
            reasons=reasons,
            org_names=org_names,
            paired=paired,
            offices=offices,
            holder=holder,
            staff=staff,
            members=members,
            org_members=org_members,
        )


def neighbour_nodes() -> dict[int, dict]:
    """Every 邻 with its ancestors and compound."""
    columns = (Node.id, Node.name, Node.group_id, Node.zone_id, Node.community_id, Node.street_id, Node.compound_id)
    rows = db.session.execute(select(*columns).where(Node.level == "neighbour").order_by(Node.id))
    return {row.id: row._asdict() for row in rows}


def ancestors(node: dict) -> dict:
    """The issue's tree columns, copied from its 邻 as file_issue copies them."""
    return {
        "neighbour_id": node["id"],
        "group_id": node["group_id"],
        "zone_id": node["zone_id"],
        "community_id": node["community_id"],
        "street_id": node["street_id"],
    }


class IssueLife:
    """One issue replayed with the lifecycle and triage rules (services.issues.lifecycle,
    services.triage.operations) and the SLA sweep (services.issues.sla).

    `holders` are the people holding each handling level over the issue's 邻 (邻长 … 区管理员); `world`
    gives the SLA, the organisations' staff and names, and who serves which community. Script actors:
    'filer', 'handler' (the holder of the current level, at least the 组长), 'holder' (the holder of the
    current level itself), 'triage' (at least the community branch), 'org' (the assignee's staff) or a
    fixed level ('group', 'zone', 'branch', 'street', 'district'). Anything the policy would refuse
    raises, so a script that drifts from the rules fails the load instead of storing nonsense. Besides
    its timeline an issue keeps the audit rows its human steps wrote (services.platform.audit) and its
    followers (person → since when).

    `sweep_delay(deadline)` is how long after a passed deadline the minute-by-minute sweep found it
    (default: a random second of the next minute, from `rng`).
    """

    __slots__ = (
        "world", "sla", "rng", "urgency", "holders", "filer_id", "filer_rank", "community_id", "street_id",
        "status", "level", "priority", "assignee", "state", "assigned", "accepted", "duplicate_of",
        "reject_reason", "ack_due", "resolve_due", "next_due", "created", "updated", "acknowledged",
        "resolved", "closed", "satisfaction", "events", "audits", "followers", "ack_on_time", "resolve_on_time",
        "sweep_delay",
    )  # fmt: skip

    def __init__(self, world, rng, urgency, holders, filer_id, filer_rank, node, sweep_delay=None):
        self.world, self.sla, self.rng, self.urgency, self.holders = world, world.sla, rng, urgency, holders
        self.filer_id, self.filer_rank = filer_id, filer_rank
        self.community_id, self.street_id = node["community_id"], node["street_id"]
        self.status, self.level, self.priority = None, "neighbour", "normal"
        # The assignment (派单): organisation, 'pending'/'accepted', when assigned and accepted.
        self.assignee = self.state = self.assigned = self.accepted = None
        self.duplicate_of = self.reject_reason = None
        self.ack_due = self.resolve_due = self.next_due = None
        self.created = self.updated = self.acknowledged = self.resolved = self.closed = None
        self.satisfaction = None
        # lifecycle.met_deadlines at the first acknowledgement and the latest resolution.
        self.ack_on_time = self.resolve_on_time = None
        # (at, actor, kind, from_status, to_status, from_level, to_level, note, public, deadline_at, notify)
        self.events: list[tuple] = []
        self.audits: list[tuple] = []  # (at, actor, action, detail)
        self.followers: dict[int, int] = {}
        self.sweep_delay = sweep_delay or self._random_sweep_delay

    def _random_sweep_delay(self, _deadline: int) -> int:
        return 5 + int(self.rng.random() * (SWEEP_MINUTE - 5))

    # -- who acts ------------------------------------------------------------------------------

    def actor(self, who: str) -> tuple[int, int | None]:
        """A script actor → (person id, handling rank; None for a responsible party's staff)."""
        rank = LEVEL_RANK[self.level]
        if who == "filer":
            return self.filer_id, self.filer_rank
        if who == "org":
            return self.world.staff[self.assignee], None
        if who == "handler":
            rank = max(rank, 1)
        elif who == "triage":
            rank = max(rank, COMMUNITY_RANK)
        elif who != "holder":
            rank = ACTOR_RANK[who]
        return self.holders[rank], rank

    def _refuse(self, what: str, who: str) -> None:
        raise ValueError(f"demo script breaks the rules: {who} may not {what} at {self.level}/{self.status}")

    def _may_handle(self, rank: int | None) -> bool:
        """policy.can_handle_issue: the level's holders and above, or the party's staff once it accepted."""
        return self.state == "accepted" if rank is None else rank >= max(LEVEL_RANK[self.level], 1)

    # -- what the services do ------------------------------------------------------------------

    def _event(self, at, actor, kind, note="", public=False, notify=None, facts=None, **fields) -> None:
        if notify and "assignee" in notify:  # the party assigned at the time, if any
            notify = tuple(
                ("org", self.assignee) if n == "assignee" else n for n in notify if n != "assignee" or self.assignee
            )
        self.events.append(
            (
                at,
                actor,
                kind,
                fields.get("from_status"),
                fields.get("to_status"),
                fields.get("from_level"),
                fields.get("to_level"),
                note,
                public,
                fields.get("deadline_at"),
                notify,
                facts,
            )
        )
        if self.updated is None or at > self.updated:  # a merge may have been recorded ahead of a sweep
            self.updated = at

    def _audit(self, at: int, actor: int | None, action: str, detail) -> None:
        """audit.record: one row per person's step; the system's own steps have none."""
        if actor is not None:
            self.audits.append((at, actor, action, detail))

    def _set_deadlines(self, at: int) -> None:
        """lifecycle.set_deadlines, in epoch seconds."""
        hours = self.sla.get((self.level, self.urgency))
        self.ack_due, self.resolve_due, self.next_due = deadlines_for(self.status, hours, at, HOUR)

    def advance(self, until: int, final: bool = False) -> None:
        """What the sweep (every minute) did before `until`: escalate once per passed deadline.

        The sweep finds a deadline the minute after it passed, or after the change that made it the next
        one if that came later (an acknowledgement puts the resolve deadline, perhaps passed, next)."""
        while self.next_due is not None and self.status in OPEN_STATUSES:
            deadline = self.next_due
            swept = max(deadline, self.updated) + self.sweep_delay(deadline)
            if final:  # the last sweep before the load ran just now
                swept = min(swept, until)
            if swept > until or deadline > until:
                return
            target = next_level(self.level)
            if target is None:
                self.next_due = None  # overdue at the top: recorded once, due dates stay passed
                fields = {"from_level": self.level, "to_level": self.level, "deadline_at": deadline}
                self._event(swept, None, "overdue", public=True, notify=("district",), **fields)
                continue
            from_level, self.level = self.level, target
            self._set_deadlines(swept)
            fields = {"from_level": from_level, "to_level": target, "deadline_at": deadline}
            self._event(swept, None, "escalated", public=True, notify=(target,), **fields)

    def status_at(self, moment: int) -> str:
        """The status the issue had at a moment of its (already replayed) life."""
        for event in reversed(self.events):
            if event[2] in ("filed", "status") and event[0] <= moment:
                return event[4]
        raise ValueError("demo script: the issue did not exist yet")

    def file(self, at: int) -> None:
        """lifecycle.file_issue: the filer follows the issue from the start."""
        self.created, self.status = at, "reported"
        self._set_deadlines(at)
        fields = {"to_status": "reported", "to_level": "neighbour"}
        self._event(at, self.filer_id, "filed", public=True, notify=("group",), **fields)
        self.followers[self.filer_id] = at

    def move(
        self,
        at: int,
        who: str,
        to_status: str,
        note: str = "",
        duplicate_of: IssueLife | None = None,
        reason: tuple[int, str] | None = None,
    ) -> None:
        """lifecycle.transition; `reason` (id, name) for a rejection, from the reject_reason table."""
        self.advance(at)
        if to_status not in TRANSITIONS[self.status]:
            raise ValueError(f"demo script: illegal transition {self.status} → {to_status}")
        person, rank = self.actor(who)
        if to_status == "in_progress" and self.state == "pending":  # the party's 接单 starts it
            self._refuse("start work before the party accepted", who)
        if to_status in ("acknowledged", "in_progress", "resolved"):
            may = self._may_handle(rank)
        elif to_status == "withdrawn":
            may = person == self.filer_id or (rank is not None and rank >= COMMUNITY_RANK)
        else:  # rejected, duplicate, closed by hand
            may = rank is not None and rank >= COMMUNITY_RANK
        if not may or (to_status in NOTE_REQUIRED and not note):
            self._refuse(to_status, who)
        facts = None
        if to_status == "rejected":
            if reason is None:
                self._refuse("reject without a reason", who)
            self.reject_reason = reason[0]
            facts = {"reason_id": reason[0]}
        if to_status == "duplicate":
            if (
                duplicate_of is None
                or duplicate_of is self
                or duplicate_of.created > at
                or duplicate_of.status_at(at) in MERGE_REFUSED
            ):
                raise ValueError("demo script: a duplicate is merged into another live issue")
            duplicate_of.advance(at)  # the kept issue's sweeps before the merge came first
            self.duplicate_of = duplicate_of
            facts = {"kept": RefNote(str, duplicate_of)}
        if to_status == "acknowledged" and self.acknowledged is None:
            self.ack_on_time = self._met_deadlines(at, self.ack_due, None)
        elif to_status == "resolved":
            self.resolve_on_time = self._met_deadlines(at, self.resolve_due, self._working_since())
        elif to_status == "reopened":
            self.resolve_on_time = None
        from_status, self.status = self.status, to_status
        if to_status == "acknowledged":
            self.acknowledged = self.acknowledged or at
            self.ack_due, self.next_due = None, self.resolve_due
        elif to_status == "resolved":
            self.resolved = at
            self._set_deadlines(at)
        elif to_status in ("closed", "rejected", "duplicate", "withdrawn"):
            self.closed = at
            self._set_deadlines(at)
            if self.state == "pending":  # lifecycle.transition: the request to the party lapses
                self.state = None
        elif to_status == "reopened":
            self.resolved = None
            self._set_deadlines(at)
        notify = ("filer",) if to_status != "reopened" else ("filer", self.level, "assignee")
        self._event(at, person, "status", note, True, notify, facts, from_status=from_status, to_status=to_status)
        if to_status == "duplicate":
            duplicate_of.merged(at, person, self)
        self._audit(at, person, STATUS_ACTION[to_status], note)

    def _met_deadlines(self, at: int, due: int | None, since: int | None) -> bool:
        """lifecycle.met_deadlines over the replayed timeline: the sweep's events carry deadline_at."""
        return on_time(at, due, (e[0] for e in self.events if e[9] is not None), since)

    def _working_since(self) -> int | None:
        """lifecycle._working_since: the last reopening, else the acknowledgement."""
        reopened = [e[0] for e in self.events if e[2] == "status" and e[4] == "reopened"]
        return working_since(max(reopened, default=None), self.acknowledged)

    def merged(self, at: int, actor: int, duplicate: IssueLife) -> None:
        """lifecycle._merge_into, on the kept issue: a timeline entry, and the duplicate's followers.

        The kept issue's own replay may already be done, so the entry may be appended out of order (the
        timeline is sorted by time when written) and the last change is whichever came later.
        """
        facts = {"duplicate": RefNote(str, duplicate)}
        self.events.append((at, actor, "merged", None, None, None, None, "", True, None, None, facts))
        self.updated = max(self.updated, at)
        for person in {duplicate.filer_id, *duplicate.followers} - {self.filer_id}:
            if self.followers.get(person, at + 1) > at:
                self.followers[person] = at

    def escalate(self, at: int, who: str, reason: str) -> None:
        """lifecycle.escalate, by hand: to the level above the higher of the issue's and the actor's."""
        self.advance(at)
        person, rank = self.actor(who)
        if self.status not in OPEN_STATUSES or next_level(self.level) is None or rank is None or not reason:
            self._refuse("escalate", who)
        if not LEVEL_RANK[self.level] <= rank < len(HANDLING_LEVELS) - 1:  # policy.can_escalate_issue
            self._refuse("escalate", who)
        from_level = self.level
        self.level = target_level(from_level, rank)
        self._set_deadlines(at)
        fields = {"from_level": from_level, "to_level": self.level}
        self._event(at, person, "escalated", reason, True, (self.level,), **fields)
        self._audit(at, person, "escalate", reason)

    def assign(self, at: int, who: str, organisation_id: int, due_days: int, note: str = "") -> None:
        """triage.assign (派单): to a party serving the community, due by the end of a Beijing day
        `due_days` from today; a reported issue is acknowledged by it, a lower level taken up to 社区.
        The branch's instruction is a comment of its own, not part of the public line."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None or rank < COMMUNITY_RANK or self.status not in OPEN_STATUSES:
            self._refuse("assign", who)
        eligible = self.world.paired.get(self.community_id, ())
        if organisation_id not in eligible and organisation_id != self.world.offices[self.street_id]:
            raise ValueError("demo script: the party does not serve the issue's community")
        if not 0 <= due_days <= MAX_ASSIGN_DAYS or (organisation_id == self.assignee and self.state is not None):
            self._refuse("assign", who)
        if self.status == "reported":
            self.move(at, who, "acknowledged")
        from_level = None
        if LEVEL_RANK[self.level] < COMMUNITY_RANK:
            from_level, self.level = self.level, "community"
        self.assignee, self.state, self.assigned, self.accepted = organisation_id, "pending", at, None
        due_on = beijing_today(as_datetime(at)) + timedelta(days=due_days)
        due = epoch(end_of_beijing_day(due_on))
        self.ack_due, self.resolve_due, self.next_due = None, due, due
        name = self.world.org_names[organisation_id]
        fields = {"from_level": from_level, "to_level": self.level} if from_level else {}
        facts = {"party": name, "due_on": due_on.isoformat()}
        self._event(at, person, "assigned", "", True, ("assignee",), facts, **fields)
        if note:
            self._event(at, person, "comment", note, False)
        text = f"{name} · {due_on.isoformat()}"
        self._audit(at, person, "assign", f"{text} · {note}" if note else text)

    def accept(self, at: int) -> None:
        """triage.accept (接单) by the party's staff: the work starts."""
        self.advance(at)
        if self.status not in OPEN_STATUSES or self.state != "pending":
            self._refuse("accept", "org")
        person = self.world.staff[self.assignee]
        name = self.world.org_names[self.assignee]
        self.state, self.accepted = "accepted", at
        self._event(at, person, "accepted", "", True, ("community", "filer"), {"party": name})
        self._audit(at, person, "accept", name)
        if self.status in ("acknowledged", "reopened"):
            self.move(at, "org", "in_progress")

    def decline(self, at: int, reason: str) -> None:
        """triage.decline: the party hands the issue back to the branch (退回) with a reason."""
        self.advance(at)
        if self.status not in OPEN_STATUSES or self.state != "pending" or not reason:
            self._refuse("decline", "org")
        person = self.world.staff[self.assignee]
        name = self.world.org_names[self.assignee]
        self.assignee = self.state = self.assigned = self.accepted = None
        self._set_deadlines(at)
        levels = ("community",) if LEVEL_RANK[self.level] <= COMMUNITY_RANK else (self.level, "community")
        self._event(at, person, "declined", reason, False, levels, {"party": name})
        self._audit(at, person, "decline", f"{name} · {reason}")

    def set_priority(self, at: int, who: str, priority: str) -> None:
        """triage.set_priority (优先级); nothing is recorded when it already has it."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None or rank < COMMUNITY_RANK or self.status not in OPEN_STATUSES or priority not in PRIORITIES:
            self._refuse("set the priority", who)
        if priority == self.priority:
            return
        self.priority = priority
        self._event(at, person, "priority", priority, False)
        self._audit(at, person, "priority", priority)

    def comment(self, at: int, who: str, kind: str, note: str) -> None:
        """lifecycle.add_comment: a comment, an internal note or a public update."""
        self.advance(at)
        person, rank = self.actor(who)
        if rank is None:  # the party's staff see the issue; they post updates once they work on it
            may = self.assignee is not None and kind != "internal_note"
            may = may and (kind != "public_update" or self.state == "accepted")
        else:
            may = kind != "public_update" or self._may_handle(rank) or rank >= COMMUNITY_RANK
        if not may or self.status == "duplicate" or not note:
            self._refuse(kind, who)
        self._event(at, person, kind, note, kind == "public_update")

    def callback(self, at: int, satisfaction: str, note: str = "") -> None:
        """lifecycle.record_callback, by the filer."""
        self.advance(at)
        if self.status != "resolved" or (satisfaction == "unsatisfied" and not note):
            self._refuse("call back", "filer")
        to_status = SATISFACTION_STATUS[satisfaction]
        self.satisfaction = satisfaction
        self._event(at, self.filer_id, "callback", note, False, None, to_status=to_status)
        self.status = to_status
        if to_status == "closed":
            self.closed = at
        else:
            self.resolved = self.resolve_on_time = None
        self._set_deadlines(at)
        notify = ("filer",) if to_status == "closed" else (self.level, "assignee")
        fields = {"from_status": "resolved", "to_status": to_status}
        self._event(at, self.filer_id, "status", "", True, notify, {"satisfaction": satisfaction}, **fields)
        self._audit(at, self.filer_id, "callback", satisfaction)

    def finish(self, now: int) -> None:
        """Bring the issue up to the load time: the sweeps up to now have all run."""
        self.advance(now, final=True)

    def row(self, issue_id: int, place: dict, ids: dict[IssueLife, int]) -> tuple:
        """The issue row (ISSUE_COLUMNS) as it stands at the end of the replay; `ids`: every life's id."""
        return (
            issue_id,
            reference_for(self.created, issue_id),
            *(place[name] for name in PLACE_COLUMNS),
            self.urgency,
            self.priority,
            self.filer_id,
            None,  # idempotency_key: only phones send one
            None,  # latitude
            None,  # longitude
            self.status,
            self.level,
            self.assignee,
            self.state,
            self.assigned,
            self.accepted,
            self.reject_reason,
            ids[self.duplicate_of] if self.duplicate_of is not None else None,
            self.ack_due,
            self.resolve_due,
            self.next_due,
            self.created,
            self.updated,
            self.acknowledged,
            self.resolved,
            self.closed,
            self.satisfaction,
            1,  # version
            self.ack_on_time,
            self.resolve_on_time,
        )
