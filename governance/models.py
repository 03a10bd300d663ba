"""The data model: the district tree, places, organisations, people and their roles."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import db
from .formatting import BilingualName


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on both engines (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


# The levels of the tree, top down. The index is the rank used by the policy module.
LEVELS = ("district", "street", "community", "zone", "group", "neighbour")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL of a CHECK that `column` holds one of `values`: the tuple the code uses, spelled once."""
    return f"{column} IN ({','.join(repr(value) for value in values)})"


# Levels whose id every descendant carries in its own column, so scoped queries are one index lookup.
ANCESTOR_COLUMNS = ("street_id", "community_id", "zone_id", "group_id")


class Node(db.Model):
    """A node of the tree: 区 → 街镇 → 社区/村 → 片 → 组 → 邻."""

    __tablename__ = "node"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        CheckConstraint(one_of("level", LEVELS), name="level"),
        Index("ix_node_level_parent", "level", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80))
    # 社区 or 村 for a community; free otherwise.
    kind: Mapped[str | None] = mapped_column(String(12))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    # Denormalised ancestors; a node's own level column holds its own id.
    street_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    # The 小区 a 片/组/邻 lives in, when it lives in one.
    # use_alter: compound and node point at each other, so this key is added after both tables exist.
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id", use_alter=True), index=True)

    parent: Mapped[Node | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    compound: Mapped[Compound | None] = relationship(foreign_keys=[compound_id])

    @property
    def rank(self) -> int:
        """0 for the district, 5 for a 邻."""
        return LEVELS.index(self.level)

    def ancestor_ids(self) -> dict[str, int | None]:
        """The ancestor columns a child of this node inherits."""
        return {col: getattr(self, col) for col in ANCESTOR_COLUMNS}

    def __repr__(self) -> str:
        return f"<Node {self.level} {self.id} {self.name}>"


class Compound(db.Model):
    """A 小区: a residential compound within a community."""

    __tablename__ = "compound"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # Where it is (WGS-84), when known: an Open311 request sent with coordinates finds its place by them.
    latitude: Mapped[float | None] = mapped_column(db.Float)
    longitude: Mapped[float | None] = mapped_column(db.Float)

    community: Mapped[Node] = relationship(foreign_keys=[community_id])
    buildings: Mapped[list[Building]] = relationship(back_populates="compound", order_by="Building.id")


class Building(db.Model):
    """A 楼栋 of a compound."""

    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("compound_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(db.Float)
    longitude: Mapped[float | None] = mapped_column(db.Float)

    compound: Mapped[Compound] = relationship(back_populates="buildings")


class ManagedItem:
    """A row of a list admins keep (categories, rejection reasons, response templates, responsible parties,
    group robots): switched off rather than deleted, because issues and jobs keep pointing at it.

    The column comes after the table's own ones, where each table has always had it.
    """

    active: Mapped[bool] = mapped_column(Boolean, default=True)


ORGANISATION_KINDS = ("property", "developer", "department", "street_office")


class Organisation(ManagedItem, db.Model):
    """A responsible party: 物业, 开发商, 区直单位 or 街镇 office."""

    __tablename__ = "organisation"
    __table_args__ = (CheckConstraint(one_of("kind", ORGANISATION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # A 街镇 office belongs to its street.
    street_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)

    communities: Mapped[list[Node]] = relationship(secondary="organisation_community", order_by="Node.id")


# The communities a responsible party serves (物业/开发商 of a compound there, a paired 区直单位);
# the branch assigns only to these and to its own 街镇 office.
organisation_community = Table(
    "organisation_community",
    db.metadata,
    Column("organisation_id", ForeignKey("organisation.id"), primary_key=True),
    Column("community_id", ForeignKey("node.id"), primary_key=True, index=True),
)


ROLES = (
    "neighbour_leader",
    "group_leader",
    "zone_leader",
    "branch_member",
    "street_admin",
    "district_admin",
    "org_staff",
)
# The level of the node each node-bound role sits on.
ROLE_LEVEL = {
    "neighbour_leader": "neighbour",
    "group_leader": "group",
    "zone_leader": "zone",
    "branch_member": "community",
    "street_admin": "street",
    "district_admin": "district",
}


class Person(UserMixin, db.Model):
    """Someone who logs in: a leader, a branch member, an admin or a responsible party's staff."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    mobile: Mapped[str] = mapped_column(String(11), unique=True)
    # NULL until the account is activated with a one-time code.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # False when an admin disables the account; checked on every request.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on password change or disabling, so every other session's cookie stops matching.
    auth_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str | None] = mapped_column(String(5))
    # 亮身份: whether a leader is named on the public pages of the compounds they serve — by surname
    # ("surname": 张·邻长) or full name ("full"); None (the default) names them nowhere. Never a phone.
    public_listing: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )
    # Not a column: the unread inbox count read with the person at login check (auth_session.load_person), for
    # the top bar's badge; None when unknown (marking messages read in this request resets it).
    unread_at_load = None  # int | None; an instance attribute (no annotation: the ORM would map it)

    @property
    def is_active(self) -> bool:  # Flask-Login asks this on every request
        return bool(self.enabled) and self.password_hash is not None

    def get_id(self) -> str:
        """Session identity: id and auth version, so a bumped version logs other sessions out."""
        return f"{self.id}.{self.auth_version}"

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.name}>"


class RoleAssignment(db.Model):
    """One role held by one person on one node (or, for staff, one organisation)."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("person_id", "role", "node_id"),
        UniqueConstraint("person_id", "role", "organisation_id"),
        CheckConstraint(
            "(role = 'org_staff' AND organisation_id IS NOT NULL AND node_id IS NULL)"
            " OR (role <> 'org_staff' AND node_id IS NOT NULL AND organisation_id IS NULL)",
            name="target",
        ),
        Index("ix_role_assignment_node_role", "node_id", "role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="roles")
    node: Mapped[Node | None] = relationship()
    organisation: Mapped[Organisation | None] = relationship()


ENDED_ROLE_REASONS = ("removed", "replaced", "disabled", "merged")


class EndedRole(db.Model):
    """A node-bound role someone held and no longer holds (卸任): the tree's memory of who served where.

    Written when a role is taken away, replaced by a roster import, or its holder's account is disabled
    (services/people/turnover.py); a node's vacancy (空缺) dates from its latest row. The person row stays,
    so timelines keep the original names.
    """

    __tablename__ = "ended_role"
    __table_args__ = (
        CheckConstraint(one_of("reason", ENDED_ROLE_REASONS), name="reason"),
        Index("ix_ended_role_node_role", "node_id", "role", "ended_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reason: Mapped[str] = mapped_column(String(12))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    node: Mapped[Node] = relationship()


class StagedRoster(db.Model):
    """A checked roster file waiting for its uploader to confirm the changes it showed (名册导入预览).

    Kept in the database, not on one web server's disk, so the confirmation may reach any process; the
    fingerprint is that of the change set shown, so a confirmation applies only what was seen.
    """

    __tablename__ = "staged_roster"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(db.LargeBinary)
    allow_new_nodes: Mapped[bool] = mapped_column(Boolean, default=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivationCode(db.Model):
    """A one-time code an admin hands a new leader to set their password (激活码)."""

    __tablename__ = "activation_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    # Only a digest is kept: the code itself is shown once, on the printed list.
    code_hash: Mapped[str] = mapped_column(String(64))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(db.Model):
    """Recent failed logins per key, for throttling when no Redis is configured."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginSession(db.Model):
    """One login on one device. The cookie carries a random token; the row keeps only its digest. A request
    is logged in only while its row exists, is not revoked (logout) and is within the idle timeout and the
    absolute lifetime (config.py); auth_session.py checks it on every request."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppMeta(db.Model):
    """Small key/value facts about this database, such as which demo world it holds."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- issues -------------------------------------------------------------------------------------

STATUSES = (
    "reported",
    "acknowledged",
    "in_progress",
    "resolved",
    "closed",
    "reopened",
    "rejected",
    "duplicate",
    "withdrawn",
)
TERMINAL_STATUSES = ("closed", "rejected", "duplicate", "withdrawn")
OPEN_STATUSES = ("reported", "acknowledged", "in_progress", "reopened")
# The handling levels, bottom up: escalation moves one step to the right.
HANDLING_LEVELS = ("neighbour", "group", "zone", "community", "street", "district")
URGENCIES = ("normal", "urgent")
# Set by the branch when triaging (优先级); the queue sorts high first.
PRIORITIES = ("high", "normal", "low")
# A responsible party's answer to an assignment (派单): waiting for 接单, or accepted.
ASSIGNMENT_STATES = ("pending", "accepted")
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")


class RejectReason(BilingualName, ManagedItem, db.Model):
    """A reason the branch may give for not accepting an issue (不予受理理由), managed by admins."""

    __tablename__ = "reject_reason"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(80))
    sort: Mapped[int] = mapped_column(Integer, default=100)


class ResponseTemplate(ManagedItem, db.Model):
    """A ready reply staff pick and edit before posting (回复模板), for a category and status or any."""

    __tablename__ = "response_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL: for every category / every status.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    status: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(String(500))
    sort: Mapped[int] = mapped_column(Integer, default=100)

    category: Mapped[Category | None] = relationship()


class Category(BilingualName, ManagedItem, db.Model):
    """A kind of problem (问题类别), managed by admins."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    sort: Mapped[int] = mapped_column(Integer, default=100)


# The issue's columns that only some issues set (an Open311 key, a party, a merge, a project, a callback).
SPARSE_ISSUE_COLUMNS = ("api_key_id", "assignee_org_id", "duplicate_of_id", "project_phase_id", "callback_owner_id")


def only_where_set(column: str) -> dict:
    """An Index's keywords that leave the rows where `column` is NULL out of it, on both engines."""
    where = text(f"{column} IS NOT NULL")
    return {"postgresql_where": where, "sqlite_where": where}


class Issue(db.Model):
    """A resident's problem as logged by a leader, with where it is and who handles it now."""

    __tablename__ = "issue"
    __table_args__ = (
        CheckConstraint(one_of("status", STATUSES), name="status"),
        CheckConstraint(one_of("level", HANDLING_LEVELS), name="level"),
        CheckConstraint(one_of("urgency", URGENCIES), name="urgency"),
        CheckConstraint(one_of("priority", PRIORITIES), name="priority"),
        CheckConstraint(
            f"assignment_state IS NULL OR ({one_of('assignment_state', ASSIGNMENT_STATES)} "
            "AND assignee_org_id IS NOT NULL)",
            name="assignment_state",
        ),
        # A retried submission carries the same key: one issue per filer and key.
        UniqueConstraint("filed_by_id", "idempotency_key"),
        # Scoped lists: one index per level of the tree, led by the scope column.
        Index("ix_issue_neighbour_status", "neighbour_id", "status", "created_at"),
        Index("ix_issue_group_status", "group_id", "status", "created_at"),
        Index("ix_issue_zone_status", "zone_id", "status", "created_at"),
        Index("ix_issue_community_status", "community_id", "status", "created_at"),
        Index("ix_issue_street_status", "street_id", "status", "created_at"),
        # The district's list (newest first, ties by id, no sort step) and the reports' "overdue now" counts,
        # which read the deadlines from the index instead of a million table rows.
        Index("ix_issue_status_created", "status", "created_at", "id", "ack_due_at", "resolve_due_at"),
        # The SLA sweep: open issues whose next deadline has passed.
        Index("ix_issue_next_deadline", "next_deadline_at"),
        Index("ix_issue_place", "compound_id", "building_id", "category_id", "status"),
        # Columns a filing leaves empty, indexed only where set: a filing writes none of these indexes (each was
        # an index entry of a NULL on every filing), and a query naming a value (=, IN) implies IS NOT NULL, so
        # it still finds them, as does a foreign key's check of a parent row's deletion.
        *(Index(f"ix_issue_{name}", name, **only_where_set(name)) for name in SPARSE_ISSUE_COLUMNS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(24), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), active_history=True)
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    place_detail: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float | None] = mapped_column(db.Float)
    longitude: Mapped[float | None] = mapped_column(db.Float)
    urgency: Mapped[str] = mapped_column(String(8), default="normal")
    priority: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    # Private: never on a public page.
    resident_name: Mapped[str] = mapped_column(String(40), default="")
    resident_phone: Mapped[str] = mapped_column(String(20), default="")
    # NULL when filed through the Open311 API (api_key_id says which key).
    # Found through the unique (filed_by_id, idempotency_key) index: no index of its own.
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    # The Open311 token returned to the API client that filed it (tokens/{token} looks it up).
    open311_token: Mapped[str | None] = mapped_column(String(40), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # Where the issue lives in the tree; the ancestors are copied so scoped queries use one index.
    neighbour_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("node.id"), active_history=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("node.id"), active_history=True)
    status: Mapped[str] = mapped_column(String(16), default="reported", active_history=True)
    level: Mapped[str] = mapped_column(String(12), default="neighbour")
    assignee_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), active_history=True)
    # The assignment (派单): 'pending' until the party accepts (接单); when each happened.
    assignment_state: Mapped[str | None] = mapped_column(String(12))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the branch did not accept it (不予受理), from the managed list.
    reject_reason_id: Mapped[int | None] = mapped_column(ForeignKey("reject_reason.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))
    # The renovation project phase whose works cover the issue, set by the branch.
    project_phase_id: Mapped[int | None] = mapped_column(ForeignKey("phase.id"))
    # Who owes the resident callback (回访) since the filer's role ended and the work was handed on
    # (services/people/turnover.py); NULL: the filer, as always before.
    callback_owner_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # Deadlines at the current level; next_deadline_at is the earlier one that still applies.
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, active_history=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, active_history=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(24), active_history=True)
    # The resident's own answer (评价码): the rating of the issue's latest used link, kept here by
    # services/issues/rating.py so 满意率 reads one answer per issue (services/reports/rates.py) without a join.
    resident_rating: Mapped[str | None] = mapped_column(String(24), active_history=True)
    # For 响应率 and 按期办结率 (services/reports/rates.py): whether the first acknowledgement, and the latest
    # resolution, met every deadline that applied; NULL until it happens (or unknown for old rows).
    acknowledged_on_time: Mapped[bool | None] = mapped_column(Boolean, active_history=True)
    resolved_on_time: Mapped[bool | None] = mapped_column(Boolean, active_history=True)
    # Optimistic locking: a stale edit fails instead of overwriting someone else's.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    category: Mapped[Category] = relationship()
    compound: Mapped[Compound | None] = relationship()
    building: Mapped[Building | None] = relationship()
    filed_by: Mapped[Person | None] = relationship(foreign_keys=[filed_by_id])
    api_key: Mapped[ApiKey | None] = relationship()
    neighbour: Mapped[Node] = relationship(foreign_keys=[neighbour_id])
    assignee_org: Mapped[Organisation | None] = relationship()
    events: Mapped[list[IssueEvent]] = relationship(
        back_populates="issue", order_by="IssueEvent.id", cascade="save-update, merge"
    )
    photos: Mapped[list[Photo]] = relationship(back_populates="issue", order_by="Photo.id")
    project_phase: Mapped[Phase | None] = relationship()
    reject_reason: Mapped[RejectReason | None] = relationship()

    @property
    def is_open(self) -> bool:
        """Still waiting for someone to act (not resolved and not in a terminal status)."""
        return self.status in OPEN_STATUSES

    def overdue(self, now: datetime | None = None) -> bool:
        """Open, and a deadline at the current level has passed (超时)."""
        now = now or utcnow()
        if not self.is_open:
            return False
        return any(due is not None and due <= now for due in (self.ack_due_at, self.resolve_due_at))


class IssueEvent(db.Model):
    """One entry of an issue's timeline (append-only): who, when, what, from → to."""

    __tablename__ = "issue_event"
    __table_args__ = (
        Index("ix_issue_event_issue", "issue_id", "id"),
        # One automatic escalation per deadline, whatever the number of concurrent sweeps.
        UniqueConstraint("issue_id", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL actor: the system (an automatic escalation).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_level: Mapped[str | None] = mapped_column(String(12))
    to_level: Mapped[str | None] = mapped_column(String(12))
    # Only what a person typed (a comment, a reason); the system's own part of the entry is in `facts`.
    note: Mapped[str] = mapped_column(Text, default="")
    # What the entry records beyond its kind, read out in the reader's language (formatting.event_facts_line):
    # assigned {party, due_on}, accepted/declined {party}, merged {duplicate}, and for status changes
    # {satisfaction} (a callback), {reason_id} (a rejection) or {kept} (a merge). None for the rest.
    facts: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # Shown on the public page (public updates, status changes); comments and notes are not.
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    # For automatic escalations: the deadline that fired, so one deadline escalates once.
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    issue: Mapped[Issue] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()


class Photo(db.Model):
    """A photo of an issue, re-encoded and stripped of EXIF, stored under a server-chosen name."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("issue_event.id"))
    # 'before' when filed, 'after' when resolved.
    stage: Mapped[str] = mapped_column(String(8), default="before")
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    thumb_name: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    # Staff decide: photos are public only when marked so (no faces, no plates).
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issue: Mapped[Issue] = relationship(back_populates="photos")


class IssueFollower(db.Model):
    """Someone told about an issue's progress (关注): its filer, and whoever follows it or a merged duplicate."""

    __tablename__ = "issue_follower"

    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(db.Model):
    """Who did what to which issue (操作日志), one row per issue and action, written with the change."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_community", "community_id", "id"),
        Index("ix_audit_entry_street", "street_id", "id"),
        Index("ix_audit_entry_actor", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    action: Mapped[str] = mapped_column(String(24))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"), index=True)
    # Copied from the issue so an admin's scope filters the log with one index.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"))
    detail: Mapped[str] = mapped_column(String(500), default="")
    # One bulk action shares a batch id across the issues it touched.
    batch: Mapped[str | None] = mapped_column(String(32))

    actor: Mapped[Person | None] = relationship()
    issue: Mapped[Issue | None] = relationship()


class ApiKey(db.Model):
    """An Open311 API key (接口密钥) issued by an admin and bound to a node: a POST files into its scope.

    Only a SHA-256 digest of the key is stored (keys are 32 random bytes, so no salt is needed);
    the prefix identifies a key in lists and logs without revealing it.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    node: Mapped[Node] = relationship()
    created_by: Mapped[Person | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class RatingToken(db.Model):
    """A one-time rating link (评价码) the 邻长 hands to the resident once an issue is resolved.

    Only a digest of the token is stored; a rating counts once (used_at), and the link expires. Only the
    issue's latest link works, and only for the resolution it was made for (services/issues/rating.py).
    """

    __tablename__ = "rating_token"
    __table_args__ = (CheckConstraint(f"rating IS NULL OR {one_of('rating', SATISFACTION)}", name="rating"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issue.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A newer link for the same issue replaced this one before it was used (only the latest link works).
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[str | None] = mapped_column(String(24))

    issue: Mapped[Issue] = relationship()


class SlaPolicy(db.Model):
    """Hours to acknowledge and to resolve, per handling level and urgency (admin-editable)."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("level", "urgency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    urgency: Mapped[str] = mapped_column(String(8))
    ack_hours: Mapped[int] = mapped_column(Integer)
    resolve_hours: Mapped[int] = mapped_column(Integer)


class Notification(db.Model):
    """One message in a person's in-app inbox."""

    __tablename__ = "notification"
    __table_args__ = (
        # Fan-out is idempotent: a retried job cannot notify the same person twice for one event.
        UniqueConstraint("person_id", "event_id"),
        # … and once per notice and kind (the notice, its one reminder).
        UniqueConstraint("person_id", "notice_id", "kind"),
        Index("ix_notification_inbox", "person_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("issue_event.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    # The line as first written (Chinese); the inbox shows it in the reader's language from the event, or from
    # `facts` for a message without one (a handover: {names, count}).
    text: Mapped[str] = mapped_column(String(300))
    facts: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[IssueEvent | None] = relationship()
    notice: Mapped[Notice | None] = relationship()


class NotificationChannel(ManagedItem, db.Model):
    """An outbound channel for a node, e.g. the community's 企业微信 group robot webhook."""

    __tablename__ = "notification_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24), default="wecom_webhook")
    url: Mapped[str] = mapped_column(String(500))


# --- notices down the tree (上传下达) ----------------------------------------------------------------

NOTICE_URGENCIES = ("normal", "urgent")
# What a notice asks back: nothing, a one-tap confirmation (its words in `reply_label`, e.g. 我已到岗), or a
# short text.
NOTICE_REPLIES = ("none", "confirm", "text")
# The leaders a notice can go to, top down.
NOTICE_ROLES = ("zone_leader", "group_leader", "neighbour_leader")


class Notice(db.Model):
    """A notice sent down the tree (上传下达): to every leader of the chosen roles on a node and under it, each
    with a read receipt and, when the notice asks for one, a reply (services/outreach/notices.py)."""

    __tablename__ = "notice"
    __table_args__ = (
        CheckConstraint(one_of("urgency", NOTICE_URGENCIES), name="urgency"),
        CheckConstraint(one_of("reply_kind", NOTICE_REPLIES), name="reply_kind"),
        # The form's key: a double tap or a resend after a dropped connection sends the notice once.
        UniqueConstraint("sent_by_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(12), default="normal")
    reply_kind: Mapped[str] = mapped_column(String(12), default="none")
    reply_label: Mapped[str | None] = mapped_column(String(40))
    # A photo sent with it (re-encoded, EXIF stripped: services/platform/photos.py), shown to its readers.
    photo_name: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The roles it goes to, comma-separated codes of NOTICE_ROLES.
    roles: Mapped[str] = mapped_column(String(80))
    # Unread (or unanswered, when a reply is asked) this long after it went out: one reminder, once.
    remind_after_hours: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the fan-out job when every recipient's row and inbox message exist.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    node: Mapped[Node] = relationship()
    sent_by: Mapped[Person | None] = relationship()

    @property
    def role_codes(self) -> list[str]:
        return [code for code in (self.roles or "").split(",") if code]

    @property
    def asks_reply(self) -> bool:
        return self.reply_kind != "none"


class NoticeRecipient(db.Model):
    """One leader a notice went to: where their role sits (for the per-node rates), when they opened it, and
    their reply."""

    __tablename__ = "notice_recipient"
    __table_args__ = (
        # The fan-out is idempotent: a retried job adds nobody twice.
        UniqueConstraint("notice_id", "person_id"),
        Index("ix_notice_recipient_person", "person_id", "notice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    role: Mapped[str] = mapped_column(String(20))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(String(200))

    notice: Mapped[Notice] = relationship()
    person: Mapped[Person] = relationship()
    node: Mapped[Node] = relationship()


# --- door-to-door surveys (走访问卷) ------------------------------------------------------------------


class Household(db.Model):
    """A household (户): a room of a building's unit, what a door-to-door survey visits. It belongs to the 邻
    whose 邻长 visits it (services/outreach/surveys.py)."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("building_id", "unit", "room"),
        Index("ix_household_neighbour", "neighbour_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"))
    unit: Mapped[str] = mapped_column(String(10))
    room: Mapped[str] = mapped_column(String(10))
    neighbour_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    building: Mapped[Building] = relationship()
    neighbour: Mapped[Node] = relationship()


SURVEY_STATES = ("draft", "open", "closed")
# Single choice, multiple choice, a short text, a 1–5 scale, and "a problem was found" (it files an issue).
SURVEY_QUESTION_KINDS = ("single", "multiple", "text", "scale", "problem")
# What a visit came to: the household answered, declined, or nobody was in (to be visited again).
SURVEY_OUTCOMES = ("answered", "declined", "absent")


class SurveyCampaign(db.Model):
    """A door-to-door survey (走访问卷) of the households at and under a node: a questionnaire the 三长 carry
    to every door. Frozen once the first visit exists; a later change is a new version (previous_id)."""

    __tablename__ = "survey_campaign"
    __table_args__ = (CheckConstraint(one_of("status", SURVEY_STATES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    purpose: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("survey_campaign.id"))
    # The branch may publish the counts (never the answers' text) on the 小区 pages.
    public_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    node: Mapped[Node] = relationship()
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="campaign", order_by="SurveyQuestion.position", cascade="all, delete-orphan"
    )


class SurveyQuestion(db.Model):
    """One question of a campaign's questionnaire, in its place."""

    __tablename__ = "survey_question"
    __table_args__ = (CheckConstraint(one_of("kind", SURVEY_QUESTION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaign.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(String(200))
    # The choices of a single or multiple choice question, in order.
    options: Mapped[list | None] = mapped_column(JSON(none_as_null=True))

    campaign: Mapped[SurveyCampaign] = relationship(back_populates="questions")


class SurveyVisit(db.Model):
    """One visit to a household for a campaign: answered, declined or nobody in. A household's state is its
    answered visit if it has one, else its latest."""

    __tablename__ = "survey_visit"
    __table_args__ = (
        CheckConstraint(one_of("outcome", SURVEY_OUTCOMES), name="outcome"),
        # The visit form's key: a visit recorded offline and sent twice is one visit.
        UniqueConstraint("visited_by_id", "idempotency_key"),
        Index("ix_survey_visit_campaign_household", "campaign_id", "household_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaign.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    visited_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    outcome: Mapped[str] = mapped_column(String(12))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revisit_on: Mapped[date | None] = mapped_column(Date)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    household: Mapped[Household] = relationship()
    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates="visit", cascade="all, delete-orphan")


class SurveyAnswer(db.Model):
    """A household's answer to one question: a choice, the choices, a text, a scale value, or the issue filed
    for the problem found."""

    __tablename__ = "survey_answer"
    __table_args__ = (UniqueConstraint("visit_id", "question_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("survey_visit.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"), index=True)
    # The chosen option's index (single) or indexes (multiple); a text; a 1–5 value.
    choice: Mapped[int | None] = mapped_column(Integer)
    choices: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    text: Mapped[str | None] = mapped_column(String(500))
    scale: Mapped[int | None] = mapped_column(Integer)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"), index=True)

    visit: Mapped[SurveyVisit] = relationship(back_populates="answers")


# --- residents' reports to their 邻长 (居民反映) ------------------------------------------------------

RESIDENT_REPORT_STATUSES = ("waiting", "confirmed", "declined")
# Why a leader declines a resident's report (the resident's tracking page shows which).
RESIDENT_DECLINE_REASONS = ("duplicate", "already_fixed", "not_public", "outside_area", "unclear")
REPORT_SOURCE_KINDS = ("device", "address")


class ResidentReport(db.Model):
    """A problem a resident told their 邻长 about through the no-login form of a 小区 (services/residents).

    It goes to the leaders of `handler_node` (the building's 邻, or the nearest node above it with a leader);
    one of them confirms it into an issue (`issue`) or declines it with a reason. The resident follows it
    through a tracking link (only its digest is stored) and the reference. Where it came from is kept only as
    keyed digests of the device cookie and the address, for the rate limits and the branch's blocks.
    Nothing here is public: the tracking page shows the status, the reason and the issue's public progress.
    """

    __tablename__ = "resident_report"
    __table_args__ = (
        CheckConstraint(one_of("status", RESIDENT_REPORT_STATUSES), name="status"),
        CheckConstraint(
            f"decline_reason IS NULL OR {one_of('decline_reason', RESIDENT_DECLINE_REASONS)}", name="decline_reason"
        ),
        Index("ix_resident_report_handler", "handler_node_id", "status", "created_at"),
        Index("ix_resident_report_neighbour", "neighbour_id", "created_at"),
        Index("ix_resident_report_device", "device_digest", "created_at"),
        Index("ix_resident_report_address", "address_digest", "created_at"),
        Index("ix_resident_report_text", "compound_id", "text_digest", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The form's key: a double tap or a resend after a dropped connection makes one report.
    form_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"))
    neighbour_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    handler_node_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    text: Mapped[str] = mapped_column(String(500))
    phone: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    decline_reason: Mapped[str | None] = mapped_column(String(24))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"), unique=True)
    device_digest: Mapped[str | None] = mapped_column(String(64))
    address_digest: Mapped[str] = mapped_column(String(64))
    text_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    compound: Mapped[Compound] = relationship()
    building: Mapped[Building | None] = relationship()
    neighbour: Mapped[Node] = relationship(foreign_keys=[neighbour_id])
    handler_node: Mapped[Node] = relationship(foreign_keys=[handler_node_id])
    category: Mapped[Category] = relationship()
    decided_by: Mapped[Person | None] = relationship()
    issue: Mapped[Issue | None] = relationship()
    photos: Mapped[list[ResidentReportPhoto]] = relationship(
        back_populates="report", order_by="ResidentReportPhoto.id", cascade="all, delete-orphan"
    )


class ResidentReportPhoto(db.Model):
    """A photo a resident sent with a report: re-encoded without EXIF like every photo, seen only by the leaders
    who handle the report; confirming the report makes it a (private) photo of the issue."""

    __tablename__ = "resident_report_photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("resident_report.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)

    report: Mapped[ResidentReport] = relationship(back_populates="photos")


class ReportSourceBlock(db.Model):
    """A source (a device or an address, by the same keyed digest a report keeps) the branch stopped from
    sending reports, from one of its reports; lifting the block deletes the row (both steps are audited)."""

    __tablename__ = "report_source_block"
    __table_args__ = (
        CheckConstraint(one_of("kind", REPORT_SOURCE_KINDS), name="kind"),
        UniqueConstraint("kind", "digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    digest: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int] = mapped_column(ForeignKey("resident_report.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


JOB_STATUSES = ("pending", "queued", "running", "done", "failed", "skipped")


class Job(db.Model):
    """Follow-up work, written in the same transaction as its cause, then handed to RQ (the outbox)."""

    __tablename__ = "job"
    __table_args__ = (
        # 'skipped': a final status for rows a restore from backup would otherwise send again
        # (services/platform/restore.py).
        CheckConstraint(one_of("status", JOB_STATUSES), name="status"),
        Index("ix_job_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    # Work that must happen once per cause carries a key, e.g. "notify:event:123".
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whoever asked (an export's requester, say); progress for jobs that report it.
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # Set (and committed) when an attempt starts sending something outside, cleared when it fails: a retry
    # that finds it set knows the earlier attempt died mid-send, and does not send again (jobs.sending).
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- money --------------------------------------------------------------------------------------

FUNDING_KINDS = ("resident_donation", "property", "developer", "enterprise", "government")
LEDGER_KINDS = ("pledge", "receipt", "expenditure", "reversal")


class Project(db.Model):
    """A renovation project (改造项目) of a community, optionally of one 小区."""

    __tablename__ = "project"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("node.id"), index=True)
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    community: Mapped[Node] = relationship(foreign_keys=[community_id])
    compound: Mapped[Compound | None] = relationship()
    phases: Mapped[list[Phase]] = relationship(back_populates="project", order_by="(Phase.sort, Phase.id)")
    sources: Mapped[list[FundingSource]] = relationship(back_populates="project", order_by="FundingSource.id")


class Phase(db.Model):
    """A phase of a project (一期、二期…) with its budget target in fen."""

    __tablename__ = "phase"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        CheckConstraint("budget_fen >= 0", name="budget"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    budget_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    project: Mapped[Project] = relationship(back_populates="phases")


class FundingSource(db.Model):
    """Where money comes from: a resident donation drive (捐款倡议), the 物业, the 开发商, a sponsor, 财政."""

    __tablename__ = "funding_source"
    __table_args__ = (
        CheckConstraint(one_of("kind", FUNDING_KINDS), name="kind"),
        CheckConstraint("target_fen IS NULL OR target_fen >= 0", name="target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    # The organisation behind it, when it is one of the responsible parties (物业, 开发商).
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    # Resident donation drives: when they run and what they aim for.
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    target_fen: Mapped[int | None] = mapped_column(BigInteger)

    project: Mapped[Project] = relationship(back_populates="sources")
    organisation: Mapped[Organisation | None] = relationship()


# Which issues an expenditure pays for. Append-only like the ledger (the migration guards both).
ledger_entry_issue = Table(
    "ledger_entry_issue",
    db.metadata,
    Column("entry_id", ForeignKey("ledger_entry.id"), primary_key=True),
    Column("issue_id", ForeignKey("issue.id"), primary_key=True, index=True),
)


class LedgerEntry(db.Model):
    """One line of a project's money ledger (append-only: never updated or deleted, only reversed).

    Amounts are positive integer fen; a reversal carries the amount of the entry it reverses and
    counts against that entry's kind. The database refuses UPDATE and DELETE (triggers, 0004).
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(one_of("kind", LEDGER_KINDS), name="kind"),
        CheckConstraint("amount_fen > 0", name="amount"),
        CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name="reversal"),
        # A retried form carries the same key: one entry per recorder and key.
        UniqueConstraint("created_by_id", "idempotency_key"),
        Index("ix_ledger_entry_project", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phase.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Pledges and receipts: whose money; expenditures: whose money paid (optional).
    source_id: Mapped[int | None] = mapped_column(ForeignKey("funding_source.id"), index=True)
    # Resident donations: the donor as they gave it, and whether they agreed to be named (by initial).
    donor_name: Mapped[str] = mapped_column(String(40), default="")
    donor_named: Mapped[bool] = mapped_column(Boolean, default=False)
    # Expenditures.
    payee: Mapped[str] = mapped_column(String(120), default="")
    purpose: Mapped[str] = mapped_column(String(300), default="")
    # Reversals: the entry reversed (at most once: unique) and why.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    # An expenditure beyond the available balance, allowed by an admin, says why.
    override_reason: Mapped[str] = mapped_column(String(300), default="")
    # Expenditures: the scanned receipt or invoice, re-encoded by the photo service under a name the
    # server chose (private: served only to people who may view the ledger).
    receipt_scan: Mapped[str | None] = mapped_column(String(64))
    occurred_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))

    project: Mapped[Project] = relationship()
    phase: Mapped[Phase | None] = relationship()
    source: Mapped[FundingSource | None] = relationship()
    reverses: Mapped[LedgerEntry | None] = relationship(remote_side=[id])
    created_by: Mapped[Person | None] = relationship()
    issues: Mapped[list[Issue]] = relationship(secondary=ledger_entry_issue, order_by="Issue.id")


# --- reports ------------------------------------------------------------------------------------


class IssueRollup(db.Model):
    """Report counts (报表汇总) of the issues filed in one Beijing month, in one community and category,
    with one responsible party (org_id 0: none). Maintained by services/reports/rollups.py."""

    __tablename__ = "issue_rollup"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_id: Mapped[int] = mapped_column(Integer, index=True)
    # Issues by current status.
    reported: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acknowledged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    in_progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    closed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duplicate: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdrawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The numerators of the rates (services/reports/rates.py).
    ack_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    done_on_time: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    callbacks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    callbacks_satisfied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ratings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ratings_satisfied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ResolveHoursRollup(db.Model):
    """How many issues filed in one Beijing month in one 街镇 took a given number of whole hours to resolve."""

    __tablename__ = "resolve_hours_rollup"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    street_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hours: Mapped[int] = mapped_column(Integer, primary_key=True)
    issues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
