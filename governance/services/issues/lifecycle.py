"""The issue lifecycle (问题生命周期): filing, status transitions, escalation, callbacks, comments.

Every rule about which status may follow which lives here, in TRANSITIONS. Each change appends
one timeline event and writes its follow-up work (notifications) to the job outbox in the same
transaction. Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, String, Text, bindparam, cast, func, insert, select, true, update
from sqlalchemy.dialects import postgresql

from ... import policy
from ...extensions import db
from ...models import (
    ANCESTOR_COLUMNS,
    HANDLING_LEVELS,
    OPEN_STATUSES,
    ApiKey,
    Issue,
    IssueEvent,
    IssueFollower,
    Node,
    Person,
    RejectReason,
    utcnow,
)
from ..errors import ServiceError
from ..locks import (
    as_loaded,
    constant,
    constants,
    decided_by_the_database,
    dialect_name,
    engine_insert,
    inserted_row,
    locked,
    scalar_defaults,
)
from ..platform import audit, jobs, notify
from ..public import page_cache
from ..reports import rollups
from . import reference

# status → the statuses it may move to (docs/DESIGN.md §3). Terminal statuses have no way out.
TRANSITIONS: dict[str, frozenset[str]] = {
    "reported": frozenset({"acknowledged", "rejected", "duplicate", "withdrawn"}),
    "acknowledged": frozenset({"in_progress", "rejected", "duplicate", "withdrawn"}),
    "in_progress": frozenset({"resolved", "duplicate", "withdrawn"}),
    "resolved": frozenset({"closed", "reopened"}),
    "reopened": frozenset({"in_progress", "duplicate", "withdrawn"}),
    "closed": frozenset(),
    "rejected": frozenset(),
    "duplicate": frozenset(),
    "withdrawn": frozenset(),
}
# Who may make each move: any one of these policy actions.
TRANSITION_ACTION = {
    "acknowledged": ("handle_issue",),
    "in_progress": ("handle_issue",),
    "resolved": ("handle_issue",),
    "closed": ("triage_issue",),
    "reopened": ("callback_issue", "triage_issue"),
    "rejected": ("triage_issue",),
    "duplicate": ("triage_issue",),
    "withdrawn": ("withdraw_issue",),
}
# Moves that must say why.
NOTE_REQUIRED = {"resolved", "withdrawn", "reopened"}
COMMENT_KINDS = ("comment", "internal_note", "public_update")
SATISFACTION_STATUS = {"satisfied": "closed", "basically_satisfied": "closed", "unsatisfied": "reopened"}
# The neutral public note of the status change a callback causes (the resident's words stay private).
MAX_TITLE, MAX_NOTE = 80, 2000


class LifecycleError(ServiceError):
    """A refused change to an issue; `code` selects the message shown on the issue page, nothing was changed."""

    MESSAGES = {
        "conflict": _l(
            "Someone else changed this issue while you had it open. This is the latest version: "
            "check it, then try again. What you typed is kept below."
        ),
        "forbidden": _l("You may not do this on this issue."),
        "illegal_transition": _l("This step is not possible from the issue's current status."),
        "note_required": _l("Please write a note: this step needs one."),
        "note_too_long": _l("The note is too long (at most 2,000 characters)."),
        "bad_duplicate": _l(
            "Give the reference of another issue you can see, which is not itself a duplicate (e.g. WC-2026-000123)."
        ),
        "not_open": _l("This issue is no longer open, so this step is not possible."),
        "top_level": _l("This issue is already at the district level: there is no level above."),
        "not_resolved": _l("A callback can only be recorded once the issue is resolved."),
        "bad_satisfaction": _l("Choose how satisfied the resident is."),
        "bad_kind": _l("Choose what kind of note this is."),
        "too_many_photos": _l("At most 6 photos at a time."),
        "reason_required": _l("Choose a reason from the list."),
        "merged": _l("This issue was merged into another one and can no longer be changed: continue there."),
        "bad_organisation": _l("Choose one of the responsible parties this community works with."),
        "bad_deadline": _l("Choose a deadline between today and one year from now."),
        "already_assigned": _l("It is already assigned to this party."),
        "not_pending": _l("This assignment has already been answered."),
        "bad_priority": _l("Choose a priority."),
        "bad_level": _l("Choose a level below the issue's current level."),
        "awaiting_acceptance": _l("Assigned to %(organisation)s: the work can start only once they accept it."),
    }


class FilingError(LifecycleError):
    """A refused filing (file_issue): the form is shown again with the message beside the field it is about."""

    MESSAGES = {
        "bad_neighbour": _l("Choose the neighbour unit (邻) this problem belongs to."),
        "forbidden": _l("You cannot file problems in that neighbour unit (邻)."),
        "bad_category": _l("Choose the kind of problem."),
        "bad_urgency": _l("Choose normal or urgent."),
        "bad_title": _l("Give the problem a short title."),
        "bad_place": _l("That compound or building is not in the community of the neighbour unit (邻)."),
    }
    FALLBACK = _l("The problem could not be filed. Please check the form.")
    # Like a form that did not validate, except a 邻 the person may not file in.
    STATUS = {"forbidden": 403}
    DEFAULT_STATUS = 200


@dataclass
class IssueInput:
    """What a filer submits (already trimmed by the form)."""

    category_id: int
    title: str
    description: str = ""
    neighbour_id: int | None = None
    compound_id: int | None = None
    building_id: int | None = None
    place_detail: str = ""
    latitude: float | None = None
    longitude: float | None = None
    urgency: str = "normal"
    resident_name: str = ""
    resident_phone: str = ""


def next_level(level: str) -> str | None:
    """The handling level above, or None at the district."""
    index = HANDLING_LEVELS.index(level)
    return HANDLING_LEVELS[index + 1] if index + 1 < len(HANDLING_LEVELS) else None


def escalation_target(actor: Person | None, issue: Issue) -> str | None:
    """Where an escalation sends the issue: the level above the higher of its own and the actor's.

    A 邻长 sends a 邻-level issue to the 组; a 组长 who escalates it sends it to the 片 ("组长:
    escalate to 片"), since the 组 has seen it. The system (a deadline) moves it one level.
    """
    return target_level(issue.level, policy.handling_rank(actor, issue) if actor is not None else None)


def target_level(level: str, actor_rank: int | None) -> str | None:
    """The level above the higher of `level` and the actor's handling rank (None: the system)."""
    current = HANDLING_LEVELS.index(level)
    if actor_rank is not None:
        current = max(current, actor_rank)
    return HANDLING_LEVELS[current + 1] if current + 1 < len(HANDLING_LEVELS) else None


def sla_hours(level: str, urgency: str) -> tuple[int, int] | None:
    """(ack hours, resolve hours) of the SLA for a level and urgency, None without a policy."""
    return reference.sla_in_force().get((level, urgency))


def set_deadlines(issue: Issue, now: datetime) -> None:
    """Deadlines for the issue's current level, from the SLA policy; none once it is no longer open."""
    hours = sla_hours(issue.level, issue.urgency) if issue.is_open else None
    issue.ack_due_at, issue.resolve_due_at, issue.next_deadline_at = deadlines_for(issue.status, hours, now)


def deadlines_for(status: str, hours: tuple[int, int] | None, now, hour=timedelta(hours=1)):
    """(ack due, resolve due, next deadline) for an issue in `status` whose level's SLA is `hours`
    ((ack hours, resolve hours), None: no policy) from `now`. None once it is no longer open, and at a level
    with no policy, which never escalates by itself. `hour` is one hour in the unit of `now` (the demo's
    replay counts epoch seconds)."""
    if status not in OPEN_STATUSES or hours is None:
        return None, None, None
    ack_due = now + hours[0] * hour if status == "reported" else None
    resolve_due = now + hours[1] * hour
    return ack_due, resolve_due, min(ack_due, resolve_due) if ack_due is not None else resolve_due


def add_event(issue: Issue, actor: Person | None, kind: str, note: str = "", public: bool = False, **fields):
    """Append one timeline event (never edited afterwards)."""
    event = IssueEvent(issue=issue, actor_id=actor.id if actor else None, kind=kind, note=note, public=public)
    for name, value in fields.items():
        setattr(event, name, value)
    event.at = fields.get("at") or utcnow()
    db.session.add(event)
    return event


def _check_version(issue: Issue, expected_version: int | None) -> None:
    """Refuse an edit made on a page that is older than the issue (someone else changed it)."""
    if expected_version is not None and int(expected_version) != issue.version:
        raise LifecycleError("conflict")


def _authorize(person: Person, actions: str | tuple[str, ...], issue: Issue) -> None:
    """Raise 'forbidden' (and log it) unless the policy allows one of the actions."""
    actions = (actions,) if isinstance(actions, str) else actions
    if not any(policy.allowed(person, action, issue) for action in actions):
        policy.log_denial(person, "/".join(actions), issue)
        raise LifecycleError("forbidden")


def find_existing(filer: Person | None, key: str | None) -> Issue | None:
    """The issue this filer already filed with this idempotency key."""
    if not key or filer is None:
        return None
    issue_id = db.session.connection().execute(_FILED_WITH_KEY, {"filer": filer.id, "key": key}).scalar()
    return db.session.get(Issue, issue_id) if issue_id is not None else None


# Looked up before every filing (and built once: building a statement costs more than running this one).
_FILED_WITH_KEY = select(Issue.id).where(
    Issue.filed_by_id == bindparam("filer"), Issue.idempotency_key == bindparam("key")
)


def file_issue(
    filer: Person | None,
    data: IssueInput,
    idempotency_key: str | None = None,
    *,
    api_key: ApiKey | None = None,
    look_up_first: bool = True,
) -> tuple[Issue, bool]:
    """File a new issue in a 邻; the same key again returns the first issue (created=False).

    An Open311 client files with `api_key` instead of a person: the key's node must contain the 邻.
    `look_up_first`: the key is looked up before anything is checked, so a retry gets its first issue even if
    the 邻 or the category has changed since. False: the caller has checked the same things already (the
    filing form), and a retry is found by the INSERT (the unique key refuses the second row), one statement
    fewer on every filing.
    """
    existing = find_existing(filer, idempotency_key) if look_up_first else None
    if existing is not None:
        return existing, False
    if data.neighbour_id and dialect_name() == "postgresql":
        # First as the session sees the 邻, unlocked: the statement takes the 邻's shared lock itself and files
        # only while the 邻 is still where the checks saw it (one statement fewer). Anything else — a check that
        # refuses, a place changed meanwhile, a key filed already — is decided again below, under the lock.
        seen = db.session.get(Node, data.neighbour_id)
        try:
            values = _filing_values(filer, data, idempotency_key, api_key, seen, log_denial=False)
        except FilingError:
            values = None
        issue = _insert_new_issue(values, place_as_seen=True) if values is not None else None
        if issue is not None:
            return issue, True
    neighbour = None
    if data.neighbour_id:
        # The issue copies the 邻's place: wait for a tree edit of it to end and read the place it left (a move
        # holds the rows of the nodes it rewrites until it commits; services/people/structure.py), never a
        # place a moment out of date that the move's UPDATE of the issues would not see. A shared lock: a move
        # that comes later waits for this filing, other filings in the 邻 do not.
        neighbour = locked(Node, data.neighbour_id, shared=True)
    issue = _insert_new_issue(_filing_values(filer, data, idempotency_key, api_key, neighbour))
    if issue is None:  # a concurrent retry with the same key got there first: its issue is the answer
        return find_existing(filer, idempotency_key), False
    return issue, True


def _filing_values(filer, data: IssueInput, key, api_key, neighbour: Node | None, *, log_denial=True) -> dict:
    """The new issue's columns, once every check passed (FilingError: the first that did not): the 邻 and the
    filer's right to file in it (a refusal logged unless `log_denial` is False), the category, urgency and title,
    and the 小区 and building within the 邻's 社区."""
    if neighbour is None or neighbour.level != "neighbour":
        raise FilingError("bad_neighbour")
    if api_key is not None:
        if filer is not None or not api_key.active or not policy.key_covers(api_key, neighbour):
            raise FilingError("forbidden")
    elif not policy.allowed(filer, "file_issue", neighbour):
        if log_denial:
            policy.log_denial(filer, "file_issue", neighbour)
        raise FilingError("forbidden")
    if data.category_id not in reference.active_category_ids():
        raise FilingError("bad_category")
    if data.urgency not in ("normal", "urgent"):
        raise FilingError("bad_urgency")
    title = (data.title or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise FilingError("bad_title")
    compound_id, building_id = _place(neighbour, data.compound_id, data.building_id)
    now = utcnow()
    values = dict(
        category_id=data.category_id,
        title=title,
        description=(data.description or "").strip(),
        compound_id=compound_id,
        building_id=building_id,
        place_detail=(data.place_detail or "").strip(),
        latitude=data.latitude,
        longitude=data.longitude,
        urgency=data.urgency,
        resident_name=(data.resident_name or "").strip(),
        resident_phone=(data.resident_phone or "").strip(),
        filed_by_id=filer.id if filer is not None else None,
        api_key_id=api_key.id if api_key is not None else None,
        idempotency_key=(key or None) if filer is not None else None,
        neighbour_id=neighbour.id,
        group_id=neighbour.group_id,
        zone_id=neighbour.zone_id,
        community_id=neighbour.community_id,
        street_id=neighbour.street_id,
        status="reported",
        level="neighbour",
        created_at=now,
        updated_at=now,
    )
    sla = sla_hours("neighbour", data.urgency)
    values["ack_due_at"], values["resolve_due_at"], values["next_deadline_at"] = deadlines_for("reported", sla, now)
    return values


# The timeline entry every filing starts with (its issue, time and actor are the filing's).
FILED_EVENT = dict(kind="filed", to_status="reported", to_level="neighbour", note="", public=True)
# Who is told of it: the 组长 acknowledges issues filed in their 组 (notify tells the 邻's leaders too).
FILED_TELLS = ["group"]


@dataclass(frozen=True)
class FilingStatements:
    """The Core statements of a filing, built once per engine (a statement built anew on every filing costs
    more to build and to find in SQLAlchemy's cache than to run)."""

    issue: Any  # SQLite: INSERT … ON CONFLICT (filer, key) DO NOTHING RETURNING what the database decides
    reference: Any  # SQLite: UPDATE issue SET reference WHERE id = :issue_id
    event: Any  # SQLite: INSERT INTO issue_event … RETURNING id
    follower: Any  # SQLite: INSERT INTO issue_follower
    filed: Any  # PostgreSQL: all of the above, the rollup and the notify job in one statement (and the 邻's lock)
    unsent: dict  # PostgreSQL: the row's other columns, each its model default or NULL (what `filed` wrote)


@cache
def _filing_statements(
    dialect: str, filed: frozenset[str], counted: tuple[str, ...], place_as_seen: bool = False
) -> FilingStatements:
    """`filed`: the columns a filing sets (the same every time); `counted`: the rollup columns a new issue counts
    in (PostgreSQL); `place_as_seen`: PostgreSQL's statement locks the 邻 itself and files only where it is as
    seen (_filed_in_one_statement). The INSERT returns only what the database decides — the id (and on
    PostgreSQL the reference made of it): the rest of the row is what was sent, its defaults and NULLs
    (locks.inserted_row; on PostgreSQL the model's defaults written by name). Each column returned costs the
    driver and the result a description and a conversion, once the commonest write's largest share."""
    table, events = Issue.__table__, IssueEvent.__table__
    if dialect == "postgresql":
        defaults = scalar_defaults(table, frozenset(("id", "reference", *filed)))
        unsent = {**dict.fromkeys(table.c.keys()), **defaults}
        return FilingStatements(
            None, None, None, None, _filed_in_one_statement(sorted(filed), counted, defaults, place_as_seen), unsent
        )
    return FilingStatements(
        issue=engine_insert(Issue, dialect)
        .on_conflict_do_nothing(index_elements=["filed_by_id", "idempotency_key"])
        .returning(*decided_by_the_database(Issue)),
        reference=update(table).where(table.c.id == bindparam("issue_id")),
        event=insert(events).returning(events.c.id),
        follower=insert(IssueFollower.__table__),
        filed=None,
        unsent={},
    )


def _filed_in_one_statement(filed: list[str], counted: tuple[str, ...], defaults: dict, place_as_seen: bool):
    """PostgreSQL: the issue, its first timeline entry, its filer as follower, its count in the rollups and the job
    that tells of it, in one statement — one round trip and one statement for the server to run instead of six
    (and the rollup row, which every filing in the 社区 and category writes, held for one round trip less):

        WITH new_id AS (SELECT nextval(<issue's sequence>) AS id),
             filed_issue AS (INSERT INTO issue (id, reference, …) SELECT new_id.id, <reference_of(id)>, :category_id, …
                             FROM new_id ON CONFLICT (filed_by_id, idempotency_key) DO NOTHING RETURNING …),
             filed_event AS (INSERT INTO issue_event (…) SELECT filed_issue.id, … FROM filed_issue RETURNING …),
             filed_follower AS (INSERT INTO issue_follower (…) SELECT filed_issue.id, … FROM filed_issue
                                WHERE :follower_id IS NOT NULL),
             filed_rollup AS (INSERT INTO issue_rollup … SELECT :rollup_month, … FROM filed_issue
                              ON CONFLICT (month, community_id, category_id, org_id) DO UPDATE …),
             filed_job AS (INSERT INTO job (…) SELECT 'notify', '{"event_id": ' || filed_event.id || …
                           FROM filed_event ON CONFLICT (dedupe_key) DO NOTHING RETURNING job.id)
        SELECT filed_issue.…, filed_job.id FROM filed_issue LEFT JOIN filed_job ON true

    The id comes first from the sequence, so the row is written once with its reference (setting it afterwards
    would rewrite the new row and each of its indexes). When the key's issue exists already the INSERT does
    nothing, the entries that read its rows do nothing either, and no row comes back.

    `place_as_seen`: the 邻 was not locked before; the statement takes its shared lock (waiting for a tree edit
    of it to commit) and files only if the 邻 is then where the filing's columns say — its 组, 片, 社区 and street:

        WITH filed_place AS (SELECT node.id FROM node WHERE node.id = :neighbour_id AND node.level = 'neighbour'
                             AND node.group_id = :group_id AND … FOR SHARE), …
             filed_issue AS (INSERT INTO issue … SELECT … FROM new_id JOIN filed_place ON true …)

    and otherwise writes nothing, as for a key filed already.

    Parameters: the issue's `filed` columns by name, `reference_prefix` (reference_prefix), `follower_id` (None:
    nobody follows), the rollup's (rollups.new_issue_parameters) and the job's (jobs.deferred_parameters). Every
    constant — `defaults` (locks.scalar_defaults), the entry's facts, the job's kind and defaults — is written into
    the text (locks.constant): psycopg converts a statement over 4 KB or with more than 50 parameters anew on every
    run, and this one is near the first limit (tests/test_page_budgets.py keeps it within both)."""
    table, events, followers = Issue.__table__, IssueEvent.__table__, IssueFollower.__table__
    sequence = func.pg_get_serial_sequence(constant("issue", String), constant("id", String))
    new_id = select(func.nextval(sequence).label("id")).cte("new_id")
    digits = cast(new_id.c.id, Text)
    # reference_of's digits: at least six, zero-padded (lpad alone would cut a seventh digit off).
    number = func.lpad(
        digits, func.greatest(constant(REFERENCE_DIGITS, Integer), func.length(digits)), constant("0", Text)
    )
    reference = bindparam("reference_prefix", type_=Text) + number
    params = {name: bindparam(name, type_=table.c[name].type) for name in filed}
    columns = {**params, **constants(table, defaults)}
    filed_from = select(new_id.c.id, reference, *columns.values())
    if place_as_seen:
        nodes = Node.__table__
        seen = (nodes.c[key] == params[key] for key in ANCESTOR_COLUMNS)  # a NULL matches nothing: under the lock
        where = (nodes.c.id == params["neighbour_id"], nodes.c.level == constant("neighbour", String), *seen)
        place = select(nodes.c.id).where(*where).with_for_update(read=True).cte("filed_place")
        filed_from = filed_from.select_from(new_id.join(place, true()))
    issue = (
        postgresql.insert(table)
        .from_select(["id", "reference", *columns], filed_from, False)
        .on_conflict_do_nothing(index_elements=["filed_by_id", "idempotency_key"])
        .returning(table.c.id, table.c.reference)  # the rest is what it was sent, defaults included
        .cte("filed_issue")
    )
    entry = constants(events, FILED_EVENT)
    entry.update(at=params["created_at"], actor_id=params["filed_by_id"])
    event = (
        insert(events)
        .from_select(["issue_id", *entry], select(issue.c.id, *entry.values()))
        .returning(events.c.id)
        .cte("filed_event")
    )
    follower_id = bindparam("follower_id", type_=Integer)
    follower = insert(followers).from_select(
        ["issue_id", "person_id", "created_at"],
        select(issue.c.id, follower_id, params["created_at"]).where(follower_id.is_not(None)),
    )
    job = notify.tell_of_in(event, FILED_TELLS, params["created_at"]).cte("filed_job")
    return (
        select(*issue.c, job.c.id.label("job_id"))
        .outerjoin_from(issue, job, true())
        .add_cte(follower.cte("filed_follower"), rollups.new_issue_upsert(issue, counted).cte("filed_rollup"))
    )


REFERENCE_DIGITS = 6


def reference_prefix(filed_at: datetime) -> str:
    """What an issue's reference says before its id: WC-2026-."""
    return f"WC-{filed_at.year}-"


def reference_of(issue_id: int, filed_at: datetime) -> str:
    """An issue's reference (编号): the year it was filed and its id, at least six digits: WC-2026-000123
    (PostgreSQL's filing writes the same in SQL: _filed_in_one_statement)."""
    return f"{reference_prefix(filed_at)}{issue_id:0{REFERENCE_DIGITS}d}"


def _insert_new_issue(values: dict, *, place_as_seen: bool = False) -> Issue | None:
    """Insert a new issue, its first timeline entry, its filer as follower, its count in the rollups and the job
    that tells of it with Core statements, and hand the issue to the session as if it had been loaded; None when a
    concurrent request with the same filer and idempotency key inserted its issue first — or, `place_as_seen`
    (PostgreSQL), when the 邻 is no longer where `values` place it (_filed_in_one_statement).

    Filing is the commonest write, and the ORM's unit of work (a savepoint, two flushes, the flush hooks'
    walks over the session) cost it more than its statements: one INSERT … ON CONFLICT DO NOTHING RETURNING
    takes the unique key's race without a savepoint, and what the flush hooks would have done is done by
    name — the issue's contribution to the rollups and the tags of the pages that show it.

    The reference is made of the id. PostgreSQL writes everything in one statement (_filed_in_one_statement).
    SQLite has no sequence: the row goes in, then its reference (a write to a page already in hand), then the
    entry, the follower, the rollup and the job."""
    connection = db.session.connection()
    filer_id = values["filed_by_id"]
    if dialect_name() == "postgresql":
        counted, tallies = rollups.new_issue_parameters(values)
        statements = _filing_statements("postgresql", frozenset(values), counted, place_as_seen)
        queued, job = jobs.deferred_parameters(values["created_at"])
        params = {**values, **tallies, **job, "reference_prefix": reference_prefix(values["created_at"])}
        decided = connection.execute(statements.filed, {**params, "follower_id": filer_id}).mappings().first()
        if decided is None:
            return None
        decided = dict(decided)
        job_id = decided.pop("job_id")
        if job_id is not None:
            jobs.dispatch_after_commit(job_id, written_queued=queued)
        issue = as_loaded(Issue, {**statements.unsent, **values, **decided})
    else:
        statements = _filing_statements("sqlite", frozenset(values), ())
        result = connection.execute(statements.issue, values)
        decided = result.mappings().first()
        if decided is None:
            return None
        reference = reference_of(decided["id"], values["created_at"])
        connection.execute(statements.reference, {"issue_id": decided["id"], "reference": reference})
        row = {**inserted_row(Issue, result, decided), "reference": reference}
        event = {**FILED_EVENT, "issue_id": row["id"], "actor_id": filer_id, "at": values["created_at"]}
        event_id = connection.execute(statements.event, event).scalar_one()
        if filer_id is not None:
            follower = dict(issue_id=row["id"], person_id=filer_id, created_at=values["created_at"])
            connection.execute(statements.follower, follower)
        issue = as_loaded(Issue, row)
        rollups.issue_added(issue)
        notify.tell_of(event_id, FILED_TELLS)
    page_cache.mark_issue(issue)
    return issue


def _place(neighbour: Node, compound_id: int | None, building_id: int | None) -> tuple[int | None, int | None]:
    """The 小区 and building ids, checked to belong to the 邻's 社区 (reference.py: the 社区's kept places)."""
    community_id = neighbour.community_id
    if compound_id and not reference.compound_in(compound_id, community_id):
        raise FilingError("bad_place")
    if building_id and (not compound_id or reference.building_compound(building_id, community_id) != compound_id):
        raise FilingError("bad_place")
    return compound_id or None, building_id or None


def transition(
    actor: Person,
    issue: Issue,
    to_status: str,
    note: str = "",
    *,
    expected_version: int | None = None,
    duplicate_of: Issue | None = None,
    reject_reason: RejectReason | None = None,
    public: bool = True,
) -> IssueEvent:
    """Move an issue to another status, if the lifecycle and the policy allow it.

    Rejecting (不予受理) needs a reason from the managed list; marking a duplicate merges it into the
    kept issue (see `_merge_into`).
    """
    _check_version(issue, expected_version)
    if to_status not in TRANSITIONS.get(issue.status, ()):
        raise LifecycleError("illegal_transition", from_status=issue.status, to_status=to_status)
    _refuse_while_awaiting(issue, to_status)
    _authorize(actor, TRANSITION_ACTION[to_status], issue)
    note = (note or "").strip()
    facts = None  # what the entry records beyond the note: the reason of a rejection, the kept issue of a merge
    if to_status in NOTE_REQUIRED and not note:
        raise LifecycleError("note_required")
    if len(note) > MAX_NOTE:
        raise LifecycleError("note_too_long")
    if to_status == "rejected":
        if reject_reason is None or not reject_reason.active:
            raise LifecycleError("reason_required")
        issue.reject_reason_id = reject_reason.id
        facts = {"reason_id": reject_reason.id}
    if to_status == "duplicate":
        if duplicate_of is None or duplicate_of.id == issue.id or duplicate_of.status in MERGE_REFUSED:
            raise LifecycleError("bad_duplicate")
        if not policy.allowed(actor, "triage_issue", duplicate_of):
            raise LifecycleError("forbidden")
        issue.duplicate_of_id = duplicate_of.id
        facts = {"kept": duplicate_of.reference}
    now = utcnow()
    from_status = issue.status
    if to_status == "acknowledged" and issue.acknowledged_at is None:
        issue.acknowledged_on_time = met_deadlines(issue, issue.ack_due_at, None, now)
    elif to_status == "resolved":
        issue.resolved_on_time = met_deadlines(issue, issue.resolve_due_at, _working_since(issue), now)
    elif to_status == "reopened":
        issue.resolved_on_time = None
    issue.status = to_status
    issue.updated_at = now
    if to_status == "acknowledged":
        issue.acknowledged_at = issue.acknowledged_at or now
        issue.ack_due_at = None
        issue.next_deadline_at = issue.resolve_due_at
    elif to_status == "resolved":
        issue.resolved_at = now
        set_deadlines(issue, now)
    elif to_status in ("closed", "rejected", "duplicate", "withdrawn"):
        issue.closed_at = now
        set_deadlines(issue, now)
        if issue.assignment_state == "pending":  # nothing left to accept: the request to the party lapses
            issue.assignment_state = None
    elif to_status == "reopened":
        issue.resolved_at = None
        set_deadlines(issue, now)
    event = add_event(
        issue, actor, "status", note, public, from_status=from_status, to_status=to_status, at=now, facts=facts
    )
    if to_status == "duplicate":
        _merge_into(actor, issue, duplicate_of, now)
    audit.record(actor, audit.STATUS_ACTION[to_status], issue, note)
    db.session.flush()
    notify_levels = ["filer"] if to_status != "reopened" else ["filer", issue.level, "assignee"]
    notify.tell_of(event.id, notify_levels)
    return event


def _refuse_while_awaiting(issue: Issue, to_status: str) -> None:
    """While an assignment (派单) waits for the party's 接单, nobody starts the work: the party's acceptance
    does (services.triage.operations.accept), or, after it declines, whoever handles the issue again."""
    if to_status == "in_progress" and issue.assignment_state == "pending":
        name = issue.assignee_org.name if issue.assignee_org else ""
        raise LifecycleError("awaiting_acceptance", organisation=name)


def met_deadlines(issue: Issue, due: datetime | None, since: datetime | None, now: datetime) -> bool:
    """On time (响应率, 按期办结率): `now` is within the deadline in force, and the SLA sweep found no
    deadline passed after `since` (None: ever).

    The sweep's escalation sets fresh deadlines at the next level, so the deadline in force alone
    would forgive every deadline missed before it; the sweep's events record each one (deadline_at).
    """
    if due is not None and now > due:
        return False
    swept = select(IssueEvent.at).where(IssueEvent.issue_id == issue.id, IssueEvent.deadline_at.is_not(None))
    return on_time(now, due, db.session.scalars(swept), since)


def on_time(now, due, swept: Iterable, since) -> bool:
    """The rule of met_deadlines: `now` within `due` (None: no deadline in force), and none of the sweep's
    escalations (`swept`: when each found a deadline passed) after `since` (None: ever)."""
    if due is not None and now > due:
        return False
    return not any(since is None or at > since for at in swept)


def _working_since(issue: Issue) -> datetime | None:
    """When the current stretch of work began: the last reopening, else the acknowledgement.

    Deadlines missed before it were the acknowledgement's or an earlier resolution's, not this one's.
    """
    reopened = db.session.scalar(
        select(func.max(IssueEvent.at)).where(
            IssueEvent.issue_id == issue.id, IssueEvent.kind == "status", IssueEvent.to_status == "reopened"
        )
    )
    return working_since(reopened, issue.acknowledged_at)


def working_since(last_reopened, acknowledged):
    """The later of the last reopening and the acknowledgement (None when neither happened)."""
    return max((d for d in (last_reopened, acknowledged) if d is not None), default=None)


# A duplicate is merged into a live issue: not into another duplicate or an issue that was turned away.
MERGE_REFUSED = ("duplicate", "rejected", "withdrawn")


def _merge_into(actor: Person, duplicate: Issue, kept: Issue, now: datetime) -> None:
    """Merge (合并): the kept issue's timeline says so, and the duplicate's followers follow it from now on."""
    add_event(kept, actor, "merged", "", True, at=now, facts={"duplicate": duplicate.reference})
    kept.updated_at = now
    wanted = {duplicate.filed_by_id} - {None} | set(
        db.session.scalars(select(IssueFollower.person_id).where(IssueFollower.issue_id == duplicate.id))
    )
    have = set(db.session.scalars(select(IssueFollower.person_id).where(IssueFollower.issue_id == kept.id)))
    for person_id in sorted(wanted - have - {kept.filed_by_id}):
        db.session.add(IssueFollower(issue_id=kept.id, person_id=person_id, created_at=now))


def escalate(
    actor: Person | None,
    issue: Issue,
    reason: str,
    *,
    expected_version: int | None = None,
    deadline: datetime | None = None,
) -> IssueEvent:
    """Move the handling level up (逐级上报, see escalation_target); actor None means the system, on a deadline."""
    _check_version(issue, expected_version)
    if not issue.is_open:
        raise LifecycleError("not_open")
    if next_level(issue.level) is None:
        raise LifecycleError("top_level")
    if actor is not None:
        _authorize(actor, "escalate_issue", issue)
    target = escalation_target(actor, issue)
    reason = (reason or "").strip()
    if not reason:
        raise LifecycleError("note_required")
    now = utcnow()
    from_level = issue.level
    issue.level = target
    issue.updated_at = now
    set_deadlines(issue, now)
    event = add_event(
        issue,
        actor,
        "escalated",
        reason[:MAX_NOTE],
        True,
        from_level=from_level,
        to_level=target,
        at=now,
        deadline_at=deadline,
    )
    audit.record(actor, "escalate", issue, reason)
    db.session.flush()
    notify.tell_of(event.id, [target])
    return event


def record_callback(
    actor: Person, issue: Issue, satisfaction: str, note: str = "", *, expected_version: int | None = None
) -> IssueEvent:
    """The filing 邻长's callback (回访): satisfied closes the issue, not satisfied reopens it."""
    _check_version(issue, expected_version)
    if issue.status != "resolved":
        raise LifecycleError("not_resolved")
    _authorize(actor, "callback_issue", issue)
    if satisfaction not in SATISFACTION_STATUS:
        raise LifecycleError("bad_satisfaction")
    note = (note or "").strip()
    if satisfaction == "unsatisfied" and not note:
        raise LifecycleError("note_required")
    now = utcnow()
    issue.satisfaction = satisfaction
    event = add_event(issue, actor, "callback", note[:MAX_NOTE], False, at=now)
    event.to_status = SATISFACTION_STATUS[satisfaction]
    db.session.flush()
    to_status = SATISFACTION_STATUS[satisfaction]
    from_status = issue.status
    issue.status = to_status
    issue.updated_at = now
    if to_status == "closed":
        issue.closed_at = now
    else:
        issue.resolved_at = None
        issue.resolved_on_time = None
    set_deadlines(issue, now)
    status_event = add_event(
        issue,
        actor,
        "status",
        "",
        True,
        from_status=from_status,
        to_status=to_status,
        at=now,
        facts={"satisfaction": satisfaction},
    )
    audit.record(actor, "callback", issue, satisfaction)
    db.session.flush()
    levels = ["filer"] if to_status == "closed" else [issue.level, "assignee"]
    notify.tell_of(status_event.id, levels)
    return event


def add_comment(actor: Person, issue: Issue, kind: str, note: str) -> IssueEvent:
    """A comment (visible to everyone who sees the issue), an internal note, or a public update."""
    if kind not in COMMENT_KINDS:
        raise LifecycleError("bad_kind")
    if issue.status == "duplicate":  # merged: its story goes on in the kept issue
        raise LifecycleError("merged")
    action = {"public_update": "triage_issue", "internal_note": "add_internal_note"}.get(kind, "comment_issue")
    if kind == "public_update" and policy.allowed(actor, "handle_issue", issue):
        action = "handle_issue"
    _authorize(actor, action, issue)
    note = (note or "").strip()
    if not note:
        raise LifecycleError("note_required")
    if len(note) > MAX_NOTE:
        raise LifecycleError("note_too_long")
    event = add_event(issue, actor, kind, note, public=kind == "public_update")
    issue.updated_at = event.at
    db.session.flush()
    return event
