"""Triage (分拨): the community branch's console and the responsible parties' queue.

The branch assigns (派单) an issue to a responsible party with a deadline; the party accepts (接单)
or declines with a reason, which returns the issue to the branch. The branch also sets priority,
merges duplicates, rejects with a reason from the managed list, sends an issue back down with an
instruction, or escalates it to the 街镇. Each step appends a timeline event and an audit row, and
defers its notifications to the outbox, in the caller's transaction. Functions flush and never commit.

Bulk actions run the same single-issue functions over every selected issue and are all-or-nothing:
if one issue is refused, `bulk` raises BulkError naming every refused issue and why, and the
caller rolls the whole request back.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from ... import policy
from ...extensions import db
from ...formatting import beijing_today, end_of_beijing_day
from ...models import (
    HANDLING_LEVELS,
    OPEN_STATUSES,
    PRIORITIES,
    Issue,
    IssueFollower,
    Node,
    Organisation,
    Person,
    RejectReason,
    ResponseTemplate,
    organisation_community,
    utcnow,
)
from ...parsing import parse_id
from ..issues.lifecycle import (
    MAX_NOTE,
    LifecycleError,
    _authorize,
    _check_version,
    add_event,
    escalate,
    set_deadlines,
    transition,
)
from ..locks import engine_insert
from ..platform import audit, notify
from ..public import page_cache

MAX_ASSIGN_DAYS = 366
COMMUNITY_RANK = HANDLING_LEVELS.index("community")
# The levels a branch may send an issue back down to (下派).
LOWER_LEVELS = HANDLING_LEVELS[:COMMUNITY_RANK]


class BulkError(LifecycleError):
    """A bulk action refused as a whole: `failures` lists (issue label, error code) for each refused issue; a
    refusal of the request itself (nothing selected, too many, no such action) has only its `code`."""

    # The issue page's messages, in a wording that fits a list of many issues, and the console's own.
    MESSAGES = {
        **LifecycleError.MESSAGES,
        "conflict": _l("It was changed by someone else after you opened the console: reload and check it."),
        "not_open": _l("It is no longer open."),
        "illegal_transition": _l("This step is not possible from its current status."),
        "forbidden": _l("You may not do this on this issue."),
        "not_at_community": _l(
            "It is not handled at the community level, so it cannot be escalated to the street (街镇) from here."
        ),
        "not_found": _l("There is no such issue."),
        "nothing_selected": _l("Select at least one issue first."),
        "too_many": _l("At most 200 issues at a time."),
        "bad_action": _l("Choose an action."),
        "bad_duplicate": _l(
            "Give the reference of the issue to keep (e.g. WC-2026-000123); it must be one you can see."
        ),
        "top_level": _l("It is already at the district level: there is no level above."),
        "awaiting_acceptance": _l("It waits for the responsible party to accept it: their acceptance starts the work."),
    }
    # The console is shown again with the selection kept, whatever the reason.
    STATUS = {}

    def __init__(self, failures: list[tuple[str, str]] = (), code: str = "bulk_refused"):
        super().__init__(code)
        self.failures = list(failures)

    @property
    def issues(self) -> list[tuple[str, str]]:
        """Each refused issue's label with the reason in the interface language."""
        return [(label, str(self.MESSAGES.get(code, self.FALLBACK))) for label, code in self.failures]

    @property
    def message(self) -> str:
        if self.failures:
            return ngettext(
                "Nothing was changed: %(num)s issue cannot take this action.",
                "Nothing was changed: %(num)s issues cannot take this action.",
                len(self.failures),
            )
        return gettext("Nothing was changed: %(why)s", why=str(self.MESSAGES.get(self.code, self.FALLBACK)))


# --- who can take an assignment -----------------------------------------------------------------


def eligible_organisations(community: Node) -> list[Organisation]:
    """The parties a community may assign to: those paired with it, and its own 街镇 office."""
    paired = select(organisation_community.c.organisation_id).where(
        organisation_community.c.community_id == community.id
    )
    street_id = community.street_id or community.parent_id
    return list(
        db.session.scalars(
            select(Organisation)
            .where(
                Organisation.active.is_(True),
                or_(
                    Organisation.id.in_(paired),
                    and_(Organisation.kind == "street_office", Organisation.street_id == street_id),
                ),
            )
            .order_by(Organisation.kind, Organisation.name)
        )
    )


def _community(issue: Issue) -> Node:
    return db.session.get(Node, issue.community_id)


# --- single-issue steps -------------------------------------------------------------------------


def _open_or_refuse(issue: Issue) -> None:
    if not issue.is_open:
        raise LifecycleError("not_open")


def _note(text: str | None, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise LifecycleError("note_required")
    if len(text) > MAX_NOTE:
        raise LifecycleError("note_too_long")
    return text


def _notify(event, levels: list[str]) -> None:
    db.session.flush()
    notify.tell_of(event.id, levels)


def _take_up(issue: Issue) -> str | None:
    """The branch takes the issue on at its own level: a lower handling level moves up to 社区."""
    if HANDLING_LEVELS.index(issue.level) >= COMMUNITY_RANK:
        return None
    from_level, issue.level = issue.level, "community"
    return from_level


def assign(
    actor: Person,
    issue: Issue,
    organisation: Organisation | None,
    due_on: date | None,
    note: str = "",
    *,
    expected_version: int | None = None,
) -> None:
    """Assign (派单) to a responsible party with a deadline; a reported issue is acknowledged by this."""
    _check_version(issue, expected_version)
    _open_or_refuse(issue)
    _authorize(actor, "assign_issue", issue)
    note = _note(note)
    if organisation is None or organisation.id not in {o.id for o in eligible_organisations(_community(issue))}:
        raise LifecycleError("bad_organisation")
    today = beijing_today()
    if due_on is None or not today <= due_on <= today + timedelta(days=MAX_ASSIGN_DAYS):
        raise LifecycleError("bad_deadline")
    if organisation.id == issue.assignee_org_id and issue.assignment_state is not None:
        raise LifecycleError("already_assigned")
    now = utcnow()
    if issue.status == "reported":
        transition(actor, issue, "acknowledged", public=True)
    from_level = _take_up(issue)
    issue.assignee_org_id = organisation.id
    issue.assignment_state = "pending"
    issue.assigned_at, issue.accepted_at = now, None
    # The party's deadline replaces the level's: long works are not escalated every 72 hours.
    issue.ack_due_at = None
    issue.resolve_due_at = issue.next_deadline_at = end_of_beijing_day(due_on)
    issue.updated_at = now
    fields = {"from_level": from_level, "to_level": issue.level} if from_level else {}
    # The public line names the party and the date only; the branch's instruction is a comment: not public, but
    # read by the party it is addressed to (an internal note would be hidden from them, see policy).
    facts = {"party": organisation.name, "due_on": due_on.isoformat()}
    event = add_event(issue, actor, "assigned", "", True, at=now, facts=facts, **fields)
    if note:
        add_event(issue, actor, "comment", note, False, at=now)
    text = f"{organisation.name} · {due_on.isoformat()}"
    audit.record(actor, "assign", issue, f"{text} · {note}" if note else text)
    _notify(event, ["assignee"])


def _answer_pending(actor: Person, issue: Issue) -> None:
    """The party's own staff get a clear message when the assignment was already answered."""
    if issue.assignment_state != "pending" and policy.staff_of(actor, issue.assignee_org_id):
        raise LifecycleError("not_pending")


def accept(actor: Person, issue: Issue, *, expected_version: int | None = None) -> None:
    """The responsible party accepts (接单): the work starts."""
    _check_version(issue, expected_version)
    _open_or_refuse(issue)
    _answer_pending(actor, issue)
    _authorize(actor, "respond_assignment", issue)
    now = utcnow()
    issue.assignment_state, issue.accepted_at, issue.updated_at = "accepted", now, now
    name = issue.assignee_org.name if issue.assignee_org else ""
    event = add_event(issue, actor, "accepted", "", True, at=now, facts={"party": name})
    audit.record(actor, "accept", issue, name)
    if issue.status in ("acknowledged", "reopened"):
        transition(actor, issue, "in_progress", public=True)
    _notify(event, ["community", "filer"])


def decline(actor: Person, issue: Issue, reason: str, *, expected_version: int | None = None) -> None:
    """The responsible party declines with a reason: the issue goes back to the branch (退回)."""
    _check_version(issue, expected_version)
    _open_or_refuse(issue)
    _answer_pending(actor, issue)
    _authorize(actor, "respond_assignment", issue)
    reason = _note(reason, required=True)
    now = utcnow()
    name = issue.assignee_org.name if issue.assignee_org else ""
    issue.assignee_org_id = issue.assignment_state = issue.assigned_at = issue.accepted_at = None
    issue.updated_at = now
    set_deadlines(issue, now)  # the branch's own clock again
    event = add_event(issue, actor, "declined", reason, False, at=now, facts={"party": name})
    audit.record(actor, "decline", issue, f"{name} · {reason}")
    levels = ["community"] if HANDLING_LEVELS.index(issue.level) <= COMMUNITY_RANK else [issue.level, "community"]
    _notify(event, levels)


def set_priority(actor: Person, issue: Issue, priority: str, *, expected_version: int | None = None) -> bool:
    """Set the priority (优先级) the queue sorts by; False when it already had it (nothing recorded)."""
    _check_version(issue, expected_version)
    _open_or_refuse(issue)
    _authorize(actor, "prioritise_issue", issue)
    if priority not in PRIORITIES:
        raise LifecycleError("bad_priority")
    if issue.priority == priority:
        return False
    now = utcnow()
    issue.priority, issue.updated_at = priority, now
    add_event(issue, actor, "priority", priority, False, at=now)
    audit.record(actor, "priority", issue, priority)
    db.session.flush()
    return True


def send_down(actor: Person, issue: Issue, level: str, instruction: str, *, expected_version: int | None = None):
    """Send the issue back down (下派) to a lower level with an instruction; any assignment ends."""
    _check_version(issue, expected_version)
    _open_or_refuse(issue)
    _authorize(actor, "send_down_issue", issue)
    if level not in LOWER_LEVELS or HANDLING_LEVELS.index(level) >= HANDLING_LEVELS.index(issue.level):
        raise LifecycleError("bad_level")
    instruction = _note(instruction, required=True)
    now = utcnow()
    from_level = issue.level
    issue.level, issue.updated_at = level, now
    issue.assignee_org_id = issue.assignment_state = issue.assigned_at = issue.accepted_at = None
    set_deadlines(issue, now)
    event = add_event(issue, actor, "sent_down", instruction, False, at=now, from_level=from_level, to_level=level)
    audit.record(actor, "send_down", issue, instruction)
    _notify(event, [level])


def merge(actor: Person, duplicate: Issue, kept: Issue | None, note: str = "", *, expected_version=None):
    """Merge a duplicate into the kept issue (合并重复): see issues.transition."""
    return transition(actor, duplicate, "duplicate", note, expected_version=expected_version, duplicate_of=kept)


def reject(actor: Person, issue: Issue, reason: RejectReason | None, note: str = "", *, expected_version=None):
    """Reject (不予受理) with a reason from the managed list, and optionally a note."""
    return transition(actor, issue, "rejected", note, expected_version=expected_version, reject_reason=reason)


def active_reject_reasons() -> list[RejectReason]:
    """The reasons a branch may choose from now."""
    return list(
        db.session.scalars(
            select(RejectReason).where(RejectReason.active.is_(True)).order_by(RejectReason.sort, RejectReason.id)
        )
    )


# --- bulk ---------------------------------------------------------------------------------------

BULK_ACTIONS = ("acknowledge", "assign", "priority", "reject", "merge", "send_down", "escalate", "accept")


@dataclass
class BulkRequest:
    """One action over many issues: (issue id, version seen) pairs and the action's parameters."""

    action: str
    items: list[tuple[int, int | None]]
    organisation_id: int | None = None
    due_on: date | None = None
    priority: str = ""
    reason_id: int | None = None
    note: str = ""
    level: str = ""
    kept_id: int | None = None
    failures: list = field(default_factory=list)


MAX_BULK = 200


def bulk(actor: Person, request: BulkRequest) -> int:
    """Run one action over every selected issue; all or nothing (BulkError names each refusal)."""
    if request.action not in BULK_ACTIONS:
        raise BulkError(code="bad_action")
    if not request.items:
        raise BulkError(code="nothing_selected")
    if len(request.items) > MAX_BULK:
        raise BulkError(code="too_many")
    ids = [issue_id for issue_id, _ in request.items]
    found = {i.id: i for i in db.session.scalars(select(Issue).where(Issue.id.in_(ids)))}
    organisation = db.session.get(Organisation, request.organisation_id) if request.organisation_id else None
    reason = db.session.get(RejectReason, request.reason_id) if request.reason_id else None
    kept = db.session.get(Issue, request.kept_id) if request.kept_id else None
    if request.action == "merge" and (kept is None or not policy.allowed(actor, "view_issue", kept)):
        raise BulkError(code="bad_duplicate")
    failures = []
    with audit.batch():
        for issue_id, version in request.items:
            issue = found.get(issue_id)
            if issue is None:
                failures.append((f"#{issue_id}", "not_found"))
                continue
            label = issue.reference if policy.allowed(actor, "view_issue", issue) else f"#{issue_id}"
            if request.action == "merge" and kept is not None and issue.id == kept.id:
                continue  # the kept issue is selected with its duplicates: it stays
            try:
                _bulk_one(actor, issue, version, request, organisation, reason, kept)
            except LifecycleError as err:
                failures.append((label, err.code))
    if failures:
        raise BulkError(failures)
    return len(request.items)


def _bulk_one(actor, issue, version, request: BulkRequest, organisation, reason, kept) -> None:
    action = request.action
    if action == "acknowledge":
        transition(actor, issue, "acknowledged", expected_version=version)
    elif action == "assign":
        assign(actor, issue, organisation, request.due_on, request.note, expected_version=version)
    elif action == "priority":
        set_priority(actor, issue, request.priority, expected_version=version)
    elif action == "reject":
        reject(actor, issue, reason, request.note, expected_version=version)
    elif action == "merge":
        merge(actor, issue, kept, request.note, expected_version=version)
    elif action == "send_down":
        send_down(actor, issue, request.level, request.note, expected_version=version)
    elif action == "escalate":
        if issue.level != "community":
            raise LifecycleError("not_at_community")  # the console escalates to the 街镇 only
        escalate(actor, issue, request.note, expected_version=version)
    elif action == "accept":
        accept(actor, issue, expected_version=version)


# --- the console --------------------------------------------------------------------------------

# Sorted most pressing first: urgent, then high priority, then the nearest deadline.
URGENCY_ORDER = case((Issue.urgency == "urgent", 0), else_=1)
PRIORITY_ORDER = case((Issue.priority == "high", 0), (Issue.priority == "normal", 1), else_=2)
DEADLINE_ORDER = case((Issue.next_deadline_at.is_(None), 1), else_=0)
QUEUE_ORDER = (URGENCY_ORDER, PRIORITY_ORDER, DEADLINE_ORDER, Issue.next_deadline_at, Issue.id)
REACHED_LEVELS = HANDLING_LEVELS[COMMUNITY_RANK:]


@dataclass
class ConsoleFilters:
    """What the console shows: one community, which levels, which statuses and which slice."""

    community: Node
    reach: str = "community"  # 'community': reached the community or above; 'all': every level
    status: str = "open"  # 'open', 'all' or one status
    category_id: int | None = None
    organisation: str = ""  # '' any, 'none' unassigned, 'pending', or an organisation id
    priority: str = ""
    overdue: bool = False


def _status_condition(status: str):
    if status == "open":
        return Issue.status.in_(OPEN_STATUSES)
    if status == "all":
        return None
    return Issue.status == status


def _scope_conditions(community: Node, reach: str) -> list:
    conditions = [Issue.community_id == community.id]
    if reach != "all":
        conditions.append(Issue.level.in_(REACHED_LEVELS))
    return conditions


def console_conditions(filters: ConsoleFilters, now: datetime) -> list:
    """The WHERE of the console's list."""
    conditions = _scope_conditions(filters.community, filters.reach)
    status = _status_condition(filters.status)
    if status is not None:
        conditions.append(status)
    if filters.category_id:
        conditions.append(Issue.category_id == filters.category_id)
    if filters.organisation == "none":
        conditions.append(Issue.assignee_org_id.is_(None))
    elif filters.organisation == "pending":
        conditions.append(Issue.assignment_state == "pending")
    elif parse_id(filters.organisation):
        conditions.append(Issue.assignee_org_id == parse_id(filters.organisation))
    if filters.priority in PRIORITIES:
        conditions.append(Issue.priority == filters.priority)
    if filters.overdue:
        conditions += [Issue.status.in_(OPEN_STATUSES), Issue.next_deadline_at <= now]
    return conditions


def console_page(filters: ConsoleFilters, page: int = 1, per_page: int = 50, now: datetime | None = None):
    """One page of the queue, most pressing first, and the number of matching issues."""
    return queue_page(console_conditions(filters, now or utcnow()), page, per_page)


def queue_page(conditions: list, page: int, per_page: int) -> tuple[list[Issue], int]:
    """One page of a queue (the console's or a party's), most pressing first, and how many match."""
    total = db.session.scalar(select(func.count()).select_from(Issue).where(*conditions))
    issues = list(
        db.session.scalars(
            select(Issue)
            .where(*conditions)
            .order_by(*QUEUE_ORDER)
            .limit(per_page)
            .offset((max(page, 1) - 1) * per_page)
        )
    )
    return issues, total


def console_counts(community: Node, reach: str, now: datetime | None = None) -> dict[str, int]:
    """Issues per status in the console's scope, plus 'open', 'overdue' and 'pending' — in one scan."""
    now = now or utcnow()
    scope = _scope_conditions(community, reach)
    overdue = and_(Issue.status.in_(OPEN_STATUSES), Issue.next_deadline_at <= now)
    pending = Issue.assignment_state == "pending"
    rows = db.session.execute(
        select(
            Issue.status,
            func.count(),
            func.sum(case((overdue, 1), else_=0)),
            func.sum(case((pending, 1), else_=0)),
        )
        .where(*scope)
        .group_by(Issue.status)
    ).all()
    counts = {status: n for status, n, _overdue, _pending in rows}
    counts["open"] = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    counts["overdue"] = sum(int(n or 0) for _status, _n, n, _pending in rows)
    counts["pending"] = sum(int(n or 0) for _status, _n, _overdue, n in rows)
    return counts


@dataclass
class PartyTimes:
    """How a responsible party answers one community's assignments (响应时效)."""

    organisation: Organisation
    assigned: int = 0
    waiting: int = 0
    accepted: int = 0
    resolved: int = 0
    overdue: int = 0
    accept_hours: list[float] = field(default_factory=list)
    resolve_hours: list[float] = field(default_factory=list)

    @property
    def median_accept_hours(self) -> float | None:
        return round(statistics.median(self.accept_hours), 1) if self.accept_hours else None

    @property
    def median_resolve_hours(self) -> float | None:
        return round(statistics.median(self.resolve_hours), 1) if self.resolve_hours else None


def response_times(community: Node, since: datetime | None = None, now: datetime | None = None) -> list[PartyTimes]:
    """Per responsible party: assignments in the community since `since`, how fast they accept and resolve."""
    now = now or utcnow()
    since = since or now - timedelta(days=90)
    rows = db.session.execute(
        select(
            Issue.assignee_org_id,
            Issue.assignment_state,
            Issue.assigned_at,
            Issue.accepted_at,
            Issue.resolved_at,
            Issue.status,
            Issue.next_deadline_at,
        ).where(Issue.community_id == community.id, Issue.assignee_org_id.is_not(None), Issue.assigned_at >= since)
    ).all()
    organisations = {
        o.id: o for o in db.session.scalars(select(Organisation).where(Organisation.id.in_({r[0] for r in rows})))
    }
    result: dict[int, PartyTimes] = {}
    for org_id, state, assigned_at, accepted_at, resolved_at, status, deadline in rows:
        times = result.setdefault(org_id, PartyTimes(organisations[org_id]))
        times.assigned += 1
        if state == "pending":
            times.waiting += 1
        if accepted_at is not None:
            times.accepted += 1
            times.accept_hours.append((accepted_at - assigned_at).total_seconds() / 3600)
        if resolved_at is not None and status in ("resolved", "closed"):
            times.resolved += 1
            times.resolve_hours.append((resolved_at - assigned_at).total_seconds() / 3600)
        if status in OPEN_STATUSES and deadline is not None and deadline <= now:
            times.overdue += 1
    return sorted(result.values(), key=lambda t: (-t.assigned, t.organisation.name))


# --- the responsible party's queue --------------------------------------------------------------

ORG_TABS = ("pending", "active", "resolved", "closed")


def org_tab_condition(tab: str):
    """Which of the party's issues a tab shows."""
    return {
        "pending": Issue.assignment_state == "pending",
        "active": and_(Issue.assignment_state == "accepted", Issue.status.in_(OPEN_STATUSES)),
        "resolved": Issue.status == "resolved",
        "closed": Issue.status == "closed",
    }[tab]


def org_queue_conditions(person: Person, tab: str) -> list:
    """The WHERE of one tab of the party's queue: the issues assigned to the person's organisations."""
    return [Issue.assignee_org_id.in_(policy.staff_organisations(person)), org_tab_condition(tab)]


def org_queue(person: Person, tab: str, page: int = 1, per_page: int = 50):
    """The issues assigned to the person's organisations, in one tab, most pressing first."""
    return queue_page(org_queue_conditions(person, tab), page, per_page)


def org_counts(person: Person, now: datetime | None = None) -> dict[str, int]:
    """How many of the party's issues are in each tab, and how many are overdue."""
    now = now or utcnow()
    orgs = policy.staff_organisations(person)
    counts = {
        tab: db.session.scalar(
            select(func.count()).select_from(Issue).where(Issue.assignee_org_id.in_(orgs), org_tab_condition(tab))
        )
        for tab in ORG_TABS
    }
    counts["overdue"] = db.session.scalar(
        select(func.count())
        .select_from(Issue)
        .where(Issue.assignee_org_id.in_(orgs), Issue.status.in_(OPEN_STATUSES), Issue.next_deadline_at <= now)
    )
    return counts


# --- response templates and followers -----------------------------------------------------------


def templates_for(issue: Issue) -> list[ResponseTemplate]:
    """Ready replies for the issue's category and status (specific ones first, then general ones)."""
    return list(
        db.session.scalars(
            select(ResponseTemplate)
            .where(
                ResponseTemplate.active.is_(True),
                or_(ResponseTemplate.category_id.is_(None), ResponseTemplate.category_id == issue.category_id),
                or_(ResponseTemplate.status.is_(None), ResponseTemplate.status == issue.status),
            )
            .order_by(ResponseTemplate.category_id.is_(None), ResponseTemplate.sort, ResponseTemplate.id)
        )
    )


def is_following(person: Person, issue: Issue) -> bool:
    """Whether the person is told about the issue's progress (the filer always is)."""
    if issue.filed_by_id == person.id:
        return True
    return db.session.get(IssueFollower, (issue.id, person.id)) is not None


def follow(person: Person, issue: Issue, on: bool = True) -> None:
    """Follow (关注) an issue the person may see, or stop following it."""
    if not policy.allowed(person, "follow_issue", issue):
        policy.log_denial(person, "follow_issue", issue)
        raise LifecycleError("forbidden")
    row = db.session.get(IssueFollower, (issue.id, person.id))
    if on and row is None:
        values = {"issue_id": issue.id, "person_id": person.id, "created_at": utcnow()}
        db.session.execute(engine_insert(IssueFollower).values(**values).on_conflict_do_nothing())
        page_cache.mark_issue(issue)  # the flush hook sees the ORM delete below, not this Core insert
    elif not on and row is not None:
        db.session.delete(row)
    db.session.flush()
