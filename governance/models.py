"""The data model: the district tree, places, organisations, people and their roles."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import db


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
LEVEL_LABELS = {
    "district": "区",
    "street": "街镇",
    "community": "社区/村",
    "zone": "片",
    "group": "组",
    "neighbour": "邻",
}
# Levels whose id every descendant carries in its own column, so scoped queries are one index lookup.
ANCESTOR_COLUMNS = ("street_id", "community_id", "zone_id", "group_id")


class Node(db.Model):
    """A node of the tree: 区 → 街镇 → 社区/村 → 片 → 组 → 邻."""

    __tablename__ = "node"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        CheckConstraint(
            "level IN ('district','street','community','zone','group','neighbour')",
            name="level",
        ),
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

    community: Mapped[Node] = relationship(foreign_keys=[community_id])
    buildings: Mapped[list[Building]] = relationship(back_populates="compound", order_by="Building.id")


class Building(db.Model):
    """A 楼栋 of a compound."""

    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("compound_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compound_id: Mapped[int] = mapped_column(ForeignKey("compound.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))

    compound: Mapped[Compound] = relationship(back_populates="buildings")


ORGANISATION_KINDS = ("property", "developer", "department", "street_office")


class Organisation(db.Model):
    """A responsible party: 物业, 开发商, 区直单位 or 街镇 office."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('property','developer','department','street_office')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # A 街镇 office belongs to its street.
    street_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )

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


class AppMeta(db.Model):
    """Small key/value facts about this database, such as which demo world it holds."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
