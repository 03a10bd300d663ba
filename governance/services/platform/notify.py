"""Notifications (通知): the in-app inbox, and outbound channels such as a 企业微信 group robot.

Fan-out is batched: one run takes the timeline events of up to BATCH waiting notify jobs, works out
every recipient with a few queries, writes all inbox rows in one insert (idempotent: one row per person
and event), and defers one webhook job per channel and MESSAGE_LINES events — never one job per person.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import defaultdict

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, case, cast, func, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ...formatting import names_list, status_label
from ...models import (
    Category,
    Issue,
    IssueEvent,
    IssueFollower,
    Notification,
    NotificationChannel,
    Person,
    RoleAssignment,
    utcnow,
)
from ..locks import constant, engine_insert
from ..public import page_cache
from . import jobs

log = logging.getLogger("governance.notify")
# The most notify jobs one run takes from a backlog (see jobs.handler), and the most events one group
# message lists (a 企业微信 text holds 2,048 bytes): more events make more messages, none is left out.
BATCH = 50
MESSAGE_LINES = 20
# Which role holds each handling level, and which column of the issue names its node.
LEVEL_HOLDERS = {
    "neighbour": ("neighbour_leader", "neighbour_id"),
    "group": ("group_leader", "group_id"),
    "zone": ("zone_leader", "zone_id"),
    "community": ("branch_member", "community_id"),
    "street": ("street_admin", "street_id"),
}
EVENT_TEXT = {
    "filed": _l("New issue"),
    "escalated": _l("Issue escalated"),
    "overdue": _l("Deadline passed"),
    "status": _l("Status update"),
    "callback": _l("Callback"),
    "assigned": _l("Assigned"),
    "accepted": _l("Accepted"),
    "declined": _l("Assignment declined"),
    "merged": _l("Duplicate merged"),
    "sent_down": _l("Sent down"),
    "priority": _l("Priority"),
    "handover": _l("Handover"),
}


# Messages about a notice down the tree (services/outreach/notices.py).
NOTICE_TEXT = {"notice": _l("Notice"), "notice_reminder": _l("Reminder")}


# A timeline entry's notify job is keyed by the entry: its leaders are told once, whoever defers it.
EVENT_KEY = "notify:event:"


def tell_of(event_id: int, levels: list[str]):
    """Tell the holders of `levels` about a timeline entry once its transaction commits (the notify job, deferred;
    the job already written for the entry if there is one)."""
    return jobs.defer("notify", {"event_id": event_id, "levels": list(levels)}, dedupe_key=f"{EVENT_KEY}{event_id}")


def tell_of_in(entries, levels: list[str], at):
    """PostgreSQL: tell_of for each timeline entry a statement writes (`entries`: its CTE, with the entries' `id`;
    `at`: the statement's time), as a part of that statement (jobs.deferred_in) — the payload and key tell_of
    writes, made in SQL of the id."""
    head = json.dumps({"event_id": 0})[:-2]  # '{"event_id": '
    tail = json.dumps({"event_id": 0, "levels": list(levels)})[len(head) + 1 :]  # after the id: ', "levels": […]}'
    event_id = cast(entries.c.id, Text)
    payload = constant(head, Text) + event_id + constant(tail, Text)
    return jobs.deferred_in("notify", entries, payload, constant(EVENT_KEY, Text) + event_id, at)


def _levels_for(event: IssueEvent, levels: list[str] | None) -> list[str]:
    """Explicit levels from the job, or the level the event moved the issue to."""
    if levels:
        return levels
    return [event.to_level] if event.to_level else []


def recipients(events: list[IssueEvent], levels: dict[int, set[str]]) -> dict[int, set[int]]:
    """event id → the people to tell (levels: event id → the levels to tell), with few queries whatever
    the number of events."""
    wanted: dict[int, set[tuple[str, int]]] = {}
    district_events, filer_of = set(), {}
    for event in events:
        issue = event.issue
        targets = set()
        for level in levels.get(event.id, ()):
            if level == "filer":
                filer_of[event.id] = issue.filed_by_id
            elif level == "district":
                district_events.add(event.id)
            elif level == "assignee" and issue.assignee_org_id:
                targets.add(("org_staff", issue.assignee_org_id))
            elif level in LEVEL_HOLDERS:
                role, column = LEVEL_HOLDERS[level]
                targets.add((role, getattr(issue, column)))
        wanted[event.id] = targets
    pairs = {pair for targets in wanted.values() for pair in targets}
    holders: dict[tuple[str, int], set[int]] = defaultdict(set)
    node_pairs = [p for p in pairs if p[0] != "org_staff"]
    org_ids = [p[1] for p in pairs if p[0] == "org_staff"]
    for chunk in _chunks(node_pairs, 500):
        rows = db.session.execute(
            select(RoleAssignment.role, RoleAssignment.node_id, RoleAssignment.person_id).where(
                tuple_(RoleAssignment.role, RoleAssignment.node_id).in_(chunk)
            )
        )
        for role, node_id, person_id in rows:
            holders[(role, node_id)].add(person_id)
    if org_ids:
        rows = db.session.execute(
            select(RoleAssignment.organisation_id, RoleAssignment.person_id).where(
                RoleAssignment.role == "org_staff", RoleAssignment.organisation_id.in_(org_ids)
            )
        )
        for org_id, person_id in rows:
            holders[("org_staff", org_id)].add(person_id)
    admins = set()
    if district_events:
        admins = set(
            db.session.scalars(select(RoleAssignment.person_id).where(RoleAssignment.role == "district_admin"))
        )
    # "filer" means everyone following the issue: its filer, and whoever follows it or a merged duplicate.
    followers: dict[int, set[int]] = defaultdict(set)
    followed = sorted({e.issue_id for e in events if e.id in filer_of})
    for chunk in _chunks(followed, 500):
        rows = db.session.execute(
            select(IssueFollower.issue_id, IssueFollower.person_id).where(IssueFollower.issue_id.in_(chunk))
        )
        for issue_id, person_id in rows:
            followers[issue_id].add(person_id)
    result = {}
    for event in events:
        people = set().union(*(holders[p] for p in wanted[event.id])) if wanted[event.id] else set()
        if event.id in district_events:
            people |= admins
        if event.id in filer_of:
            if filer_of[event.id] is not None:  # None: filed through the Open311 API
                people.add(filer_of[event.id])
            people |= followers[event.issue_id]
        people.discard(event.actor_id)
        result[event.id] = people
    return result


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def summary(event: IssueEvent) -> str:
    """One line about an event as stored and sent: in Chinese, whatever language the request that made it spoke
    (group robots post it; the inbox shows it again in its reader's language, see inbox_line)."""
    issue = event.issue
    with force_locale("zh"):
        return summary_line(event.kind, event.to_status, event.actor_id is None, issue.reference, issue.title)


def summary_line(kind: str, to_status: str | None, by_system: bool, reference: str, title: str) -> str:
    """The line of `summary` from its parts, in the current language (the demo world writes its inbox with it)."""
    what = str(EVENT_TEXT.get(kind, _l("Update")))
    if kind == "status" and to_status:
        what = _("%(what)s: %(status)s", what=what, status=status_label(to_status))
    if kind in ("escalated", "overdue") and by_system:
        what = _("%(what)s (automatic: deadline passed)", what=what)
    return f"[{what}] {reference} {title}"[:300]


def inbox_line(message: Notification) -> str:
    """A message of the inbox in the reader's language: from its event when it has one, from its facts for a
    handover; otherwise as it was written."""
    event = message.event
    if event is not None and event.issue is not None:
        issue = event.issue
        return summary_line(event.kind, event.to_status, event.actor_id is None, issue.reference, issue.title)
    notice = message.notice
    if notice is not None:
        what = NOTICE_TEXT.get(message.kind, EVENT_TEXT["status"])
        return f"[{what}] {notice.title}"
    facts = message.facts or {}
    if message.kind == "handover" and facts:
        return ngettext(
            "[Handover] %(names)s left: %(num)s item of their work is now yours",
            "[Handover] %(names)s left: %(num)s items of their work are now yours",
            facts["count"],
            names=names_list(facts["names"]),
        )
    if message.kind == "resident_report" and facts:
        category = db.session.get(Category, facts.get("category"))
        return _("[Resident report] %(place)s: %(kind)s", place=facts["place"], kind=category.label if category else "")
    return message.text


def insert_ignoring_duplicates(rows: list[dict]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either engine: a retried job adds nothing twice."""
    if not rows:
        return
    for chunk in _chunks(rows, 1000):
        named = page_cache.naming_people({row["person_id"] for row in chunk})
        db.session.execute(engine_insert(Notification).on_conflict_do_nothing(), chunk, execution_options=named)


@jobs.handler("notify", batch=BATCH)
def notify(payloads: list[dict]) -> None:
    """Fan timeline events out to the inbox and the outbound channels: the events of every job in the batch
    (each job names one event or a list, and the levels to tell, or none for the level the event moved
    the issue to) in one go."""
    asked: dict[int, list[list[str] | None]] = defaultdict(list)
    for payload in payloads:
        for event_id in payload.get("event_ids") or [payload["event_id"]]:
            asked[event_id].append(payload.get("levels"))
    # The issues come in one extra query, not one per event.
    events = list(
        db.session.scalars(
            select(IssueEvent)
            .where(IssueEvent.id.in_(list(asked)))
            .order_by(IssueEvent.id)
            .options(selectinload(IssueEvent.issue))
        )
    )
    if not events:
        return
    levels = {
        event.id: {level for wanted in asked[event.id] for level in _levels_for(event, wanted)} for event in events
    }
    people = recipients(events, levels)
    now = utcnow()
    rows = [
        {
            "person_id": person_id,
            "issue_id": event.issue_id,
            "event_id": event.id,
            "kind": event.kind,
            "text": summary(event),
            "created_at": now,
        }
        for event in events
        for person_id in sorted(people[event.id])
    ]
    insert_ignoring_duplicates(rows)
    _defer_channel_messages(events, people)


def _defer_channel_messages(events: list[IssueEvent], people: dict[int, set[int]]) -> None:
    """One webhook job per channel, carrying every event of this batch that concerns its node."""
    by_node: dict[int, list[IssueEvent]] = defaultdict(list)
    for event in events:
        issue = event.issue
        for node_id in {issue.neighbour_id, issue.group_id, issue.zone_id, issue.community_id, issue.street_id}:
            by_node[node_id].append(event)
    if not by_node:
        return
    channels = db.session.scalars(
        select(NotificationChannel).where(
            NotificationChannel.node_id.in_(list(by_node)), NotificationChannel.active.is_(True)
        )
    )
    mobiles = dict(
        db.session.execute(
            select(Person.id, Person.mobile).where(Person.id.in_({p for ids in people.values() for p in ids}))
        ).all()
    )
    for channel in channels:
        for concerned in _chunks(by_node[channel.node_id], MESSAGE_LINES):
            mention = sorted({mobiles[p] for e in concerned for p in people[e.id] if p in mobiles})
            body = wecom_text("\n".join(summary(e) for e in concerned), mention)
            key = f"webhook:{channel.id}:{min(e.id for e in concerned)}:{max(e.id for e in concerned)}"
            jobs.defer("webhook", {"channel_id": channel.id, "body": body}, dedupe_key=key)


def wecom_text(content: str, mentioned_mobiles: list[str]) -> dict:
    """A 企业微信 group-robot text message that @-mentions the people concerned by mobile number."""
    return {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mentioned_mobiles[:50]}}


@jobs.handler("webhook")
def send_webhook(payload: dict) -> None:
    """POST one message to a channel; a non-success answer raises, so the job is retried. The attempt is
    marked before the POST (jobs.sending), so a worker killed mid-send is not followed by a second message;
    X-Delivery-Id, the same on every attempt, lets a receiver drop a resend after a timeout."""
    channel = db.session.get(NotificationChannel, payload["channel_id"])
    if channel is None or not channel.active:
        return
    data = json.dumps(payload["body"], ensure_ascii=False).encode("utf-8")
    delivery = jobs.sending()  # committed before the POST: a worker dying mid-send is not followed by a resend
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Delivery-Id": delivery}
    request = urllib.request.Request(channel.url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - admin-configured URL
        answer = response.read(4096)
    # The robot answers 200 with {"errcode": 0} on success; anything else is a failure to retry.
    try:
        errcode = json.loads(answer or b"{}").get("errcode", 0)
    except ValueError:
        errcode = 0
    if errcode:
        raise RuntimeError(f"webhook refused the message: {answer[:200]!r}")


# The inbox badge counts this far and then shows "99+".
UNREAD_CAP = 99


def unread_sql(person_id):
    """SQL: a person's unread messages counted up to UNREAD_CAP + 1, reading at most that many index entries
    (the count is only run when the EXISTS finds no more than the cap). `person_id` may be a column: the
    login statement counts them for the person it loads (auth_session.load_person)."""
    unread = (Notification.person_id == person_id, Notification.read_at.is_(None))
    beyond = select(Notification.id).where(*unread).limit(1).offset(UNREAD_CAP).exists()
    counted = select(func.count()).select_from(Notification).where(*unread).scalar_subquery()
    return case((beyond, UNREAD_CAP + 1), else_=counted)


def unread_count(person: Person) -> int:
    """Unread inbox messages up to UNREAD_CAP + 1, for the badge in the top bar: the count read with the person
    at the start of the request, unless this request marked messages read since (mark_read)."""
    if person.unread_at_load is not None:
        return person.unread_at_load
    return db.session.scalar(select(unread_sql(person.id))) or 0


def inbox(person: Person, page: int, page_size: int = 30) -> list[Notification]:
    """A page of the person's inbox, newest first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.person_id == person.id)
            # its line is read from them
            .options(joinedload(Notification.event).joinedload(IssueEvent.issue), joinedload(Notification.notice))
            .order_by(Notification.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )


def mark_read(person: Person, ids: list[int] | None = None) -> None:
    """Mark some (or all) of the person's messages read."""
    from sqlalchemy import update

    statement = update(Notification).where(Notification.person_id == person.id, Notification.read_at.is_(None))
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    db.session.execute(statement.values(read_at=utcnow()), execution_options=page_cache.naming_people([person.id]))
    db.session.flush()
    person.unread_at_load = None  # the count read with the person is out of date now


__all__ = ["Issue", "notify", "send_webhook", "inbox", "unread_count", "mark_read"]
