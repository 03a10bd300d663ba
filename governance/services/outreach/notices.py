"""Notices down the tree (上传下达): a leader or admin sends a notice to every leader of the chosen roles on a
node and under it; opening it is a read receipt, and a notice may ask for a reply (one tap, or a short text).

Sending writes the notice and one outbox job (`notice_fanout`) in the request's transaction, so an accepted
notice reaches everyone even if the web process dies right after. The job adds the recipients with one
INSERT … SELECT per role, top role first (ON CONFLICT DO NOTHING: a retry adds nobody twice, and a person who
holds two roles in the area is counted once, at the higher one), their inbox messages with one more, and
defers one 企业微信 message per active channel of a node in the area. Nothing loops over people in Python: a
district-wide notice to 20,739 leaders is a handful of statements (benchmarks/bench_notices.py).

A notice that asks for a reminder gets one, once: the periodic round (`remind_due`) defers a
`notice_reminder` job per notice whose time has come (dedupe key: once per notice), and those jobs run in
batches — one INSERT … SELECT of inbox messages for every recipient still waiting in the batch's notices.

The read and reply rates are defined with the other rates (services/reports/rates.py, NoticeFigures).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, or_, select, update
from sqlalchemy.orm import aliased

from ... import policy
from ...extensions import db
from ...models import (
    NOTICE_REPLIES,
    NOTICE_ROLES,
    NOTICE_URGENCIES,
    Node,
    Notice,
    NoticeRecipient,
    Notification,
    NotificationChannel,
    Person,
    RoleAssignment,
    UTCDateTime,
    utcnow,
)
from ...parsing import clean_text
from ..errors import ServiceError
from ..locks import engine_insert, insert_once
from ..people.tree import PerChild, child_key, nodes_and_children, per_child, within_condition
from ..platform import audit, jobs
from ..platform.notify import wecom_text
from ..public import page_cache
from ..reports.rates import NoticeFigures

TITLE_MAX = 80
BODY_MAX = 2000
REPLY_MAX = 200
REPLY_LABEL_MAX = 40
# What a one-tap reply says when the sender did not choose its words.
DEFAULT_CONFIRM = "收到"
REMIND_CHOICES = (0, 2, 6, 12, 24, 48)  # hours; 0: no reminder
# The stored (Chinese) first words of an inbox message; the inbox reads it out in its reader's language
# (notify.inbox_line).
STORED_PREFIX = {"notice": "[通知] ", "notice_reminder": "[提醒] "}
REMINDER_BATCH = 50


class NoticeError(ServiceError):
    """A notice that cannot be sent or answered as asked; nothing was changed."""

    MESSAGES = {
        "forbidden": _l("You may not send notices to this place."),
        "no_title": _l("Give the notice a title."),
        "title_too_long": _l("A title has at most %(max)s characters."),
        "no_body": _l("Write what the notice says."),
        "body_too_long": _l("A notice has at most %(max)s characters."),
        "no_roles": _l("Choose who receives it."),
        "bad_roles": _l("Choose who receives it from the list."),
        "bad_urgency": _l("Choose how urgent it is from the list."),
        "bad_reply_kind": _l("Choose what reply it asks for from the list."),
        "reply_label_too_long": _l("The words of the reply have at most %(max)s characters."),
        "bad_remind": _l("Choose when to remind from the list."),
        "not_recipient": _l("This notice was not sent to you."),
        "no_reply_asked": _l("This notice asks for no reply."),
        "no_reply": _l("Write your reply."),
        "reply_too_long": _l("A reply has at most %(max)s characters."),
    }
    STATUS = {**ServiceError.STATUS, "not_recipient": 403}
    # The form field each refusal is about (the page shows the message beside it).
    FIELDS = {
        "no_title": "title",
        "title_too_long": "title",
        "no_body": "body",
        "body_too_long": "body",
        "no_roles": "roles",
        "bad_roles": "roles",
        "bad_urgency": "urgency",
        "bad_reply_kind": "reply_kind",
        "reply_label_too_long": "reply_label",
        "bad_remind": "remind_after_hours",
        "no_reply": "reply",
        "reply_too_long": "reply",
    }

    @property
    def field(self) -> str | None:
        return self.FIELDS.get(self.code)


@dataclass(frozen=True)
class Draft:
    """What the sender typed and chose."""

    title: str
    body: str
    roles: tuple[str, ...] = NOTICE_ROLES
    urgency: str = "normal"
    reply_kind: str = "none"
    reply_label: str = ""
    remind_after_hours: int = 0


# --- where a person may send ---------------------------------------------------------------------------


def target_nodes(person: Person) -> list[Node]:
    """The places the person may send a notice to: the node of each sending role they hold and its children
    (a district admin: the district and each 街镇; a 组长: the 组 and each 邻), in the tree's order."""
    return nodes_and_children([s.node_id for s in policy.scopes(person) if s.role in policy.NOTICE_SENDER_ROLES])


# --- sending ------------------------------------------------------------------------------------------


def find_sent(person: Person, key: str | None) -> Notice | None:
    """The notice this person already sent with this form key."""
    if not key:
        return None
    return db.session.scalar(select(Notice).where(Notice.sent_by_id == person.id, Notice.idempotency_key == key))


def send(
    person: Person, node: Node, draft: Draft, *, photo_name: str | None = None, key: str | None = None
) -> tuple[Notice, bool]:
    """Write the notice and the job that fans it out (see the module's description); the same form key again
    returns the notice it sent (created=False) — a double tap or a resend reaches nobody twice."""
    existing = find_sent(person, key)
    if existing is not None:
        return existing, False
    if not policy.allowed(person, "send_notice", node):
        raise NoticeError("forbidden")
    title, body = clean_text(draft.title, one_line=True), clean_text(draft.body)
    if not title:
        raise NoticeError("no_title")
    if len(title) > TITLE_MAX:
        raise NoticeError("title_too_long", max=TITLE_MAX)
    if not body:
        raise NoticeError("no_body")
    if len(body) > BODY_MAX:
        raise NoticeError("body_too_long", max=BODY_MAX)
    if not draft.roles:
        raise NoticeError("no_roles")
    if set(draft.roles) - set(NOTICE_ROLES):
        raise NoticeError("bad_roles")
    if draft.urgency not in NOTICE_URGENCIES:
        raise NoticeError("bad_urgency")
    if draft.reply_kind not in NOTICE_REPLIES:
        raise NoticeError("bad_reply_kind")
    label = clean_text(draft.reply_label, one_line=True) if draft.reply_kind == "confirm" else ""
    if len(label) > REPLY_LABEL_MAX:
        raise NoticeError("reply_label_too_long", max=REPLY_LABEL_MAX)
    if draft.remind_after_hours not in REMIND_CHOICES:
        raise NoticeError("bad_remind")
    notice = Notice(
        node_id=node.id,
        sent_by_id=person.id,
        title=title,
        body=body,
        urgency=draft.urgency,
        reply_kind=draft.reply_kind,
        reply_label=(label or DEFAULT_CONFIRM) if draft.reply_kind == "confirm" else None,
        roles=",".join(role for role in NOTICE_ROLES if role in draft.roles),
        remind_after_hours=draft.remind_after_hours or None,
        photo_name=photo_name,
        idempotency_key=key or None,
        created_at=utcnow(),
        recipient_count=0,
    )
    earlier = insert_once(notice, lambda: find_sent(person, key))  # a concurrent resend with the same key
    if earlier is not None:
        return earlier, False
    audit.record_change(
        person,
        "notice_sent",
        f"{notice.title}（#{notice.id}）",
        community_id=node.community_id,
        street_id=node.street_id,
    )
    jobs.defer("notice_fanout", {"notice_id": notice.id}, dedupe_key=f"notice:{notice.id}")
    return notice, True


def _messages_from(recipients, kind: str, now: datetime):
    """INSERT … SELECT of one inbox message of `kind` for each recipient `recipients` selects (a SELECT of
    NoticeRecipient joined to Notice)."""
    text = func.substr(literal(STORED_PREFIX[kind]) + Notice.title, 1, 300)
    columns = ("person_id", "notice_id", "kind", "text", "created_at")
    rows = recipients.with_only_columns(
        NoticeRecipient.person_id,
        NoticeRecipient.notice_id,
        literal(kind),
        text,
        literal(now, UTCDateTime()),
    )
    return engine_insert(Notification).from_select(columns, rows).on_conflict_do_nothing()


@jobs.handler("notice_fanout")
def fan_out(payload: dict) -> None:
    """Add every recipient of a notice and their inbox message, and defer its group-robot messages."""
    notice = db.session.get(Notice, payload["notice_id"])
    if notice is None:
        return
    node = notice.node
    now = utcnow()
    columns = ("notice_id", "person_id", "node_id", "role")
    for role in notice.role_codes:  # top role first: a person with two roles in the area is counted at the higher
        holders = (
            select(
                literal(notice.id),
                RoleAssignment.person_id,
                RoleAssignment.node_id,
                literal(role),
            )
            .join(Node, Node.id == RoleAssignment.node_id)
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(RoleAssignment.role == role, within_condition(node), Person.enabled.is_(True))
        )
        if notice.sent_by_id is not None:
            holders = holders.where(RoleAssignment.person_id != notice.sent_by_id)
        db.session.execute(engine_insert(NoticeRecipient).from_select(columns, holders).on_conflict_do_nothing())
    recipients = select(NoticeRecipient).join(Notice, Notice.id == NoticeRecipient.notice_id)
    db.session.execute(_messages_from(recipients.where(NoticeRecipient.notice_id == notice.id), "notice", now))
    notice.recipient_count = db.session.scalar(
        select(func.count()).select_from(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id)
    )
    notice.fanned_out_at = notice.fanned_out_at or now
    channels = db.session.scalars(
        select(NotificationChannel.id)
        .join(Node, Node.id == NotificationChannel.node_id)
        .where(within_condition(node), NotificationChannel.active.is_(True))
    ).all()
    for channel_id in channels:
        content = STORED_PREFIX["notice"] + notice.title + "\n" + notice.body[:1500]
        jobs.defer(
            "webhook",
            {"channel_id": channel_id, "body": wecom_text(content, [])},
            dedupe_key=f"webhook:notice:{notice.id}:{channel_id}",
        )
    db.session.flush()


def waiting_condition():
    """SQL on NoticeRecipient joined to Notice: not opened yet, or asked for a reply and not answered."""
    return or_(
        NoticeRecipient.read_at.is_(None),
        (Notice.reply_kind != "none") & NoticeRecipient.replied_at.is_(None),
    )


def remind_due(now: datetime | None = None) -> int:
    """Defer the one reminder of each notice whose time has come (the periodic round); how many."""
    now = now or utcnow()
    candidates = db.session.scalars(
        select(Notice).where(
            Notice.remind_after_hours.is_not(None), Notice.reminded_at.is_(None), Notice.fanned_out_at.is_not(None)
        )
    ).all()
    due = [n for n in candidates if n.fanned_out_at + timedelta(hours=n.remind_after_hours) <= now]
    for notice in due:
        notice.reminded_at = now
        jobs.defer("notice_reminder", {"notice_id": notice.id}, dedupe_key=f"notice-reminder:{notice.id}")
    db.session.flush()
    return len(due)


@jobs.handler("notice_reminder", batch=REMINDER_BATCH)
def remind(payloads: list[dict]) -> None:
    """The reminders of a batch of notices: one INSERT … SELECT for every recipient still waiting in them."""
    ids = sorted({payload["notice_id"] for payload in payloads})
    waiting = (
        select(NoticeRecipient)
        .join(Notice, Notice.id == NoticeRecipient.notice_id)
        .where(NoticeRecipient.notice_id.in_(ids), waiting_condition())
    )
    db.session.execute(_messages_from(waiting, "notice_reminder", utcnow()))


# --- reading and answering -------------------------------------------------------------------------------


def recipient_of(notice: Notice, person: Person) -> NoticeRecipient | None:
    """The person's row of the notice, if it went to them."""
    return db.session.scalar(
        select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id, NoticeRecipient.person_id == person.id)
    )


def mark_opened(person: Person, recipient: NoticeRecipient | None) -> None:
    """The read receipt: the first opening is kept; the notice's inbox messages are read too."""
    if recipient is None:
        return
    now = utcnow()
    if recipient.read_at is None:
        db.session.execute(
            update(NoticeRecipient)
            .where(NoticeRecipient.id == recipient.id, NoticeRecipient.read_at.is_(None))
            .values(read_at=now),
            execution_options=page_cache.naming_people([recipient.person_id]),
        )
    opened = db.session.execute(
        update(Notification)
        .where(
            Notification.person_id == person.id,
            Notification.notice_id == recipient.notice_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=now),
        execution_options=page_cache.naming_people([person.id]),
    )
    if opened.rowcount:
        person.unread_at_load = None  # the top bar's count read with the person is out of date
    db.session.flush()
    db.session.refresh(recipient)


def reply(person: Person, notice: Notice, text: str | None = None) -> NoticeRecipient:
    """Answer the notice: the one-tap words, or a short text; a later answer replaces the earlier one."""
    recipient = recipient_of(notice, person)
    if recipient is None:
        raise NoticeError("not_recipient")
    if notice.reply_kind == "none":
        raise NoticeError("no_reply_asked")
    if notice.reply_kind == "confirm":
        answer = notice.reply_label or DEFAULT_CONFIRM
    else:
        answer = clean_text(text, one_line=True)
        if not answer:
            raise NoticeError("no_reply")
        if len(answer) > REPLY_MAX:
            raise NoticeError("reply_too_long", max=REPLY_MAX)
    now = utcnow()
    mark_opened(person, recipient)
    recipient.reply = answer
    recipient.replied_at = now
    db.session.flush()
    return recipient


# --- lists -------------------------------------------------------------------------------------------


def received(person: Person, *, waiting_only: bool = False, limit: int = 50) -> list[tuple[Notice, NoticeRecipient]]:
    """The notices sent to the person, newest first (only those still waiting for them, if asked)."""
    query = (
        select(Notice, NoticeRecipient)
        .join(NoticeRecipient, NoticeRecipient.notice_id == Notice.id)
        .where(NoticeRecipient.person_id == person.id)
        .order_by(Notice.id.desc())
        .limit(limit)
    )
    if waiting_only:
        query = query.where(waiting_condition())
    return [tuple(row) for row in db.session.execute(query)]


def waiting_ids(person_id: int, role: str | None = None, node_id: int | None = None):
    """SELECT of the ids of the person's notices still waiting for them (a home card's to-do counts them)."""
    query = (
        select(NoticeRecipient.id)
        .join(Notice, Notice.id == NoticeRecipient.notice_id)
        .where(NoticeRecipient.person_id == person_id, waiting_condition())
    )
    if role is not None:
        query = query.where(NoticeRecipient.role == role, NoticeRecipient.node_id == node_id)
    return query


def sent_in_scope(person: Person, limit: int = 50) -> list[tuple[Notice, NoticeFigures]]:
    """The notices sent to places inside the person's sending scope, newest first, with their figures."""
    condition = policy.node_scope_condition(person, policy.NOTICE_SENDER_ROLES)
    notices = db.session.scalars(
        select(Notice).join(Node, Node.id == Notice.node_id).where(condition).order_by(Notice.id.desc()).limit(limit)
    ).all()
    figures = _figures_by(NoticeRecipient.notice_id, NoticeRecipient.notice_id.in_([n.id for n in notices]))
    return [(n, figures.get(n.id, NoticeFigures()).asking(n.asks_reply)) for n in notices]


def _figures_by(key, *conditions) -> dict:
    """NoticeFigures grouped by `key`, over the recipients matching the conditions: one query."""
    rows = db.session.execute(
        select(key, func.count(), func.count(NoticeRecipient.read_at), func.count(NoticeRecipient.replied_at))
        .select_from(NoticeRecipient)
        .join(Node, Node.id == NoticeRecipient.node_id)
        .where(*conditions)
        .group_by(key)
    )
    return {k: NoticeFigures(recipients=n, read=r, replied=a) for k, n, r, a in rows}


def in_area(notice: Notice, node: Node) -> bool:
    """Whether `node` is the notice's node or below it (a results page may only drill down inside it)."""
    return policy.node_inside(node, notice.node)


def breakdown(notice: Notice, node: Node) -> PerChild:
    """Read and reply figures of the recipients at and under `node`, per child of it (one query)."""
    asks = notice.asks_reply
    found = _figures_by(child_key(node), NoticeRecipient.notice_id == notice.id, within_condition(node))
    return per_child(node, {k: f.asking(asks) for k, f in found.items()}, lambda: NoticeFigures(asks_reply=asks))


PEOPLE_SHOWN = ("unread", "unanswered", "all")


def _showing(query, show: str):
    """Only the recipients `show` asks for: who has not opened it ("unread"), not answered ("unanswered"), or
    everyone ("all")."""
    if show == "unread":
        return query.where(NoticeRecipient.read_at.is_(None))
    if show == "unanswered":
        return query.where(NoticeRecipient.replied_at.is_(None))
    return query


def people(notice: Notice, node: Node, show: str = "unread", limit: int | None = None):
    """The recipients at and under `node` that `show` asks for, with their place and community:
    (recipient, person, place, community), in the tree's order."""
    community = aliased(Node)
    query = (
        select(NoticeRecipient, Person, Node, community)
        .join(Person, Person.id == NoticeRecipient.person_id)
        .join(Node, Node.id == NoticeRecipient.node_id)
        .outerjoin(community, community.id == Node.community_id)
        .where(NoticeRecipient.notice_id == notice.id, within_condition(node))
        .order_by(Node.id, NoticeRecipient.role, Person.id)
    )
    query = _showing(query, show)
    return [tuple(row) for row in db.session.execute(query if limit is None else query.limit(limit))]


def people_count(notice: Notice, node: Node, show: str = "unread") -> int:
    """How many rows `people` gives without a limit."""
    query = (
        select(func.count())
        .select_from(NoticeRecipient)
        .join(Node, Node.id == NoticeRecipient.node_id)
        .where(NoticeRecipient.notice_id == notice.id, within_condition(node))
    )
    return db.session.scalar(_showing(query, show)) or 0
