"""What the public may see (公开信息): the one projection used by the public pages, the poster and Open311.

Everything public goes through here, so the pages and the API cannot disagree about it. An issue is
public as: reference, category, coarse place (小区 and 楼栋, nothing finer), status, current level,
the responsible party's name and whether it has accepted yet (an issue assigned but not accepted reads
as 待责任单位接单, never as 处理中), its dates and deadline, the notes of its public updates, and the photos
staff marked public. Never public: the title and description (typed by leaders, they may name
people), the resident's contact, the filer and every other person, place details and coordinates,
internal notes, comments, callbacks, and the free-text notes of any other event (a resolve note or
an escalation reason may name someone; only a deliberate public update is written for the public).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Building, Category, Compound, Issue, IssueEvent, Node, Organisation, Photo

# Events the public timeline shows (as what happened; notes only for public updates).
PUBLIC_EVENT_KINDS = ("filed", "status", "escalated", "overdue", "assigned", "accepted", "merged", "public_update")
OPEN311_CLOSED = ("resolved", "closed", "rejected", "duplicate", "withdrawn")
# The public status of an open issue whose assignment (派单) waits for the party's 接单: nobody works on it yet.
AWAITING_PARTY = "awaiting_party"
# Open311's status_notes for it (the API speaks Chinese, like its service names).
AWAITING_PARTY_NOTE = "待责任单位接单"


@dataclass
class PublicEvent:
    """One line of the public timeline."""

    at: datetime
    kind: str
    from_status: str | None = None
    to_status: str | None = None
    from_level: str | None = None
    to_level: str | None = None
    text: str = ""  # only a public update's own words
    id: int = 0  # the timeline entry's id: a feed entry's identity
    reason_id: int | None = None  # a rejection's reason, from the managed list (its name is public; a note is not)


@dataclass
class PublicIssue:
    """An issue as anyone may see it."""

    id: int
    reference: str
    category_code: str
    category_zh: str
    category_en: str
    compound: str
    building: str
    status: str
    level: str
    urgency: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    expected_at: datetime | None  # the resolution deadline while open
    assignee: str
    community_id: int
    street_id: int
    compound_id: int | None
    duplicate_of: str | None = None
    awaiting_party: bool = False  # assigned to `assignee`, which has not accepted (接单) yet
    latest_update: str = ""
    events: list[PublicEvent] = field(default_factory=list)
    photos: list[tuple[int, str]] = field(default_factory=list)  # (id, stage: before/after) of the public ones

    @property
    def photo_ids(self) -> list[int]:
        return [photo_id for photo_id, _ in self.photos]

    @property
    def place(self) -> str:
        """小区 and 楼栋, e.g. 普瑞斯堡 3栋 (empty when the leader gave neither)."""
        return " ".join(part for part in (self.compound, self.building) if part)

    @property
    def public_status(self) -> str:
        """What the public pages show as the status: AWAITING_PARTY while the party has not accepted."""
        return AWAITING_PARTY if self.awaiting_party else self.status

    @property
    def open311_status(self) -> str:
        """Open311 knows two statuses: open and closed."""
        return "closed" if self.status in OPEN311_CLOSED else "open"


def status_notes(item: PublicIssue, latest_update: str) -> str:
    """Open311's status_notes: the waiting state first when the party has not accepted, then the latest
    public update."""
    if item.awaiting_party:
        return f"{AWAITING_PARTY_NOTE}；{latest_update}" if latest_update else AWAITING_PARTY_NOTE
    return latest_update


def project(issue: Issue, category: Category, compound: Compound | None, building: Building | None, org) -> PublicIssue:
    """The public fields of one issue (its relations already loaded)."""
    return PublicIssue(
        id=issue.id,
        reference=issue.reference or "",
        category_code=category.code,
        category_zh=category.name_zh,
        category_en=category.name_en,
        compound=compound.name if compound else "",
        building=building.name if building else "",
        status=issue.status,
        level=issue.level,
        urgency=issue.urgency,
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        acknowledged_at=issue.acknowledged_at,
        resolved_at=issue.resolved_at,
        closed_at=issue.closed_at,
        expected_at=issue.resolve_due_at if issue.is_open else None,
        assignee=org.name if org is not None else "",
        awaiting_party=issue.is_open and issue.assignment_state == "pending" and org is not None,
        community_id=issue.community_id,
        street_id=issue.street_id,
        compound_id=issue.compound_id,
    )


def public_query():
    """SELECT issue with what its public projection needs, in one round trip."""
    return (
        select(Issue, Category, Compound, Building, Organisation)
        .select_from(Issue)
        .join(Category, Category.id == Issue.category_id)
        .outerjoin(Compound, Compound.id == Issue.compound_id)
        .outerjoin(Building, Building.id == Issue.building_id)
        .outerjoin(Organisation, Organisation.id == Issue.assignee_org_id)
    )


def public_issues(statement) -> list[PublicIssue]:
    """Run a public_query() (filtered, ordered, limited by the caller) into public issues."""
    return [project(*row) for row in db.session.execute(statement).all()]


def public_issue(reference: str, with_timeline: bool = True) -> PublicIssue | None:
    """One issue by its reference, with its public timeline and public photos; None when unknown."""
    reference = (reference or "").strip().upper()[:24]
    row = db.session.execute(public_query().where(Issue.reference == reference)).first()
    if row is None:
        return None
    item = project(*row)
    if row[0].duplicate_of_id:
        item.duplicate_of = db.session.scalar(select(Issue.reference).where(Issue.id == row[0].duplicate_of_id))
    if with_timeline:
        item.events = public_timeline(item.id)
        item.photos = [
            tuple(row)
            for row in db.session.execute(
                select(Photo.id, Photo.stage)
                .where(Photo.issue_id == item.id, Photo.public.is_(True))
                .order_by(Photo.id)
            )
        ]
        updates = [e.text for e in item.events if e.kind == "public_update"]
        item.latest_update = updates[-1] if updates else ""
    return item


def public_timeline(issue_id: int) -> list[PublicEvent]:
    """The public events of an issue, oldest first; free text only from public updates."""
    events = db.session.scalars(
        select(IssueEvent)
        .where(IssueEvent.issue_id == issue_id, IssueEvent.public.is_(True), IssueEvent.kind.in_(PUBLIC_EVENT_KINDS))
        .order_by(IssueEvent.id)
    )
    return [public_event(e) for e in events]


def public_event(e: IssueEvent) -> PublicEvent:
    """A timeline entry as the public sees it: what happened, and words only of a public update."""
    return PublicEvent(
        at=e.at,
        kind=e.kind,
        from_status=e.from_status,
        to_status=e.to_status,
        from_level=e.from_level,
        to_level=e.to_level,
        text=e.note if e.kind == "public_update" else "",
        id=e.id,
        reason_id=(e.facts or {}).get("reason_id") if e.kind == "status" and e.to_status == "rejected" else None,
    )


def latest_updates(issue_ids: list[int]) -> dict[int, str]:
    """The newest public update of each issue (for lists), in one query."""
    if not issue_ids:
        return {}
    rows = db.session.execute(
        select(IssueEvent.issue_id, IssueEvent.note)
        .where(IssueEvent.issue_id.in_(issue_ids), IssueEvent.kind == "public_update", IssueEvent.public.is_(True))
        .order_by(IssueEvent.id)
    )
    return {issue_id: note for issue_id, note in rows}


def public_photo(photo_id: int) -> Photo | None:
    """A photo anyone may see: marked public by staff, of an issue that has a reference."""
    photo = db.session.get(Photo, photo_id, options=[joinedload(Photo.issue)])
    if photo is None or not photo.public or photo.issue is None or not photo.issue.reference:
        return None
    return photo


# --- where -------------------------------------------------------------------------------------


def scope_condition(level: str, target_id: int | None):
    """SQL condition on Issue for a public scope: the district, a 街镇, a community or a 小区."""
    if level == "district":
        return None
    column = {"street": Issue.street_id, "community": Issue.community_id, "compound": Issue.compound_id}[level]
    return column == target_id


def scope_target(level: str, target_id: int | None):
    """The node or compound a public page is about (None when it does not exist)."""
    if level == "compound":
        return db.session.get(Compound, target_id) if target_id else None
    if level == "district":
        return db.session.scalar(select(Node).where(Node.level == "district").order_by(Node.id).limit(1))
    node = db.session.get(Node, target_id) if target_id else None
    return node if node is not None and node.level == level else None


# --- lists and places of the public pages ------------------------------------------------------

PAGE_SIZE = 20


@dataclass
class PublicPage:
    """One page of a scope's public issue list."""

    items: list[PublicIssue]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass
class Place:
    """A place on the public tree: the district, a 街镇, a community or a 小区."""

    level: str
    id: int
    name: str


# Levels whose issues an index holds in (scope, status, created_at) order: their lists are read by arms.
ARMED_LEVELS = ("district", "street", "community")


def issue_page(
    condition,
    status: str | None = None,
    category_id: int | None = None,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    *,
    level: str | None = None,
    by_status: dict[str, int] | None = None,
) -> PublicPage:
    """A scope's public issues, newest first, filtered by status (or 'open') and category, with their latest update.

    `condition`: the scope's (scope_condition: None for the district, else one column's equality), at `level`
    (None: any other condition, read by the plain query). `by_status`: the scope's issues counted by status, when
    the caller has them (the page's own figures) — the number of issues a list without a category filter holds
    is then their sum, not a COUNT over every issue of the scope.
    The district's, a 街镇's and a community's rows are found by the staff list's index-ordered arms
    (listing.newest_keys), each stopping after the rows up to this page — a plain ORDER BY created_at would read
    and sort every issue there; a 小区's (a few hundred issues, which no (小区, status, created_at) index holds in
    order) by one plain query. Then the page's rows are read by id."""
    from sqlalchemy import func

    from ...models import OPEN_STATUSES, STATUSES
    from ..issues.listing import newest_keys

    where = [Issue.reference.is_not(None)]
    if category_id:
        where.append(Issue.category_id == category_id)
    statuses = list(OPEN_STATUSES) if status == "open" else [status] if status else list(STATUSES)
    counted = [*where, Issue.status.in_(statuses)] if status else where
    if condition is not None:
        counted = [*counted, condition]
    if by_status is not None and not category_id:
        total = sum(by_status.get(name, 0) for name in statuses)
    else:
        total = db.session.scalar(select(func.count()).select_from(Issue).where(*counted)) or 0
    if level in ARMED_LEVELS:
        keys = newest_keys(condition, statuses, where, page * per_page)[(page - 1) * per_page :]
        ids = [issue_id for issue_id, _created in keys]
    else:
        newest = select(Issue.id).where(*counted).order_by(Issue.created_at.desc(), Issue.id.desc())
        ids = list(db.session.scalars(newest.limit(per_page).offset((page - 1) * per_page)))
    found = {item.id: item for item in public_issues(public_query().where(Issue.id.in_(ids)))} if ids else {}
    items = [found[issue_id] for issue_id in ids if issue_id in found]
    updates = latest_updates(ids)
    for item in items:
        item.latest_update = updates.get(item.id, "")
    return PublicPage(items, total, page, per_page)


def children(level: str, target) -> list[Place]:
    """The places one step down: the district's 街镇, a 街镇's communities, a community's 小区."""
    if level == "community":
        rows = db.session.execute(
            select(Compound.id, Compound.name).where(Compound.community_id == target.id).order_by(Compound.id)
        )
        return [Place("compound", i, name) for i, name in rows]
    child = {"district": "street", "street": "community"}.get(level)
    if child is None:
        return []
    rows = db.session.execute(
        select(Node.id, Node.name).where(Node.level == child, Node.parent_id == target.id).order_by(Node.id)
    )
    return [Place(child, i, name) for i, name in rows]


def ancestors(level: str, target) -> list[Place]:
    """The places above, district first (for the way back up)."""
    places: list[Place] = []
    node = target.community if level == "compound" else (target.parent if level != "district" else None)
    while node is not None:
        places.insert(0, Place(node.level, node.id, node.name))
        node = node.parent
    return places


def projects_of(level: str, target_id: int):
    """The renovation projects a community or 小区 page shows the funding of."""
    from ...models import Project

    if level == "community":
        return list(db.session.scalars(select(Project).where(Project.community_id == target_id).order_by(Project.id)))
    if level == "compound":
        return list(db.session.scalars(select(Project).where(Project.compound_id == target_id).order_by(Project.id)))
    return []


def compounds_named(text: str, limit: int = 20) -> list[tuple[int, str, str]]:
    """(id, name, community name) of the 小区 whose name holds the text, by name; at most `limit`."""
    rows = db.session.execute(
        select(Compound.id, Compound.name, Node.name)
        .join(Node, Node.id == Compound.community_id)
        .where(Compound.name.contains(text, autoescape=True))
        .order_by(Compound.name, Compound.id)
        .limit(limit)
    )
    return [tuple(row) for row in rows]


@dataclass
class FeedEntry:
    """One public event of an issue, for a feed of a place: what happened and to which issue."""

    event: PublicEvent
    reference: str
    category_zh: str
    category_en: str


FEED_SIZE = 50


def public_events_in(condition, limit: int = FEED_SIZE) -> list[FeedEntry]:
    """The newest public events of the issues a public scope holds (condition: scope_condition), newest first;
    the same events and words as the issues' public timelines."""
    statement = (
        select(IssueEvent, Issue.reference, Category.name_zh, Category.name_en)
        .join(Issue, Issue.id == IssueEvent.issue_id)
        .join(Category, Category.id == Issue.category_id)
        .where(
            IssueEvent.public.is_(True),
            IssueEvent.kind.in_(PUBLIC_EVENT_KINDS),
            Issue.reference.is_not(None),
        )
        .order_by(IssueEvent.id.desc())
        .limit(limit)
    )
    if condition is not None:
        statement = statement.where(condition)
    return [
        FeedEntry(
            public_event(e),
            reference,
            name_zh,
            name_en,
        )
        for e, reference, name_zh, name_en in db.session.execute(statement)
    ]
