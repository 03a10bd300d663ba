"""The issue step: replays the 普瑞斯堡 and district issues and writes their rows, timelines, audit log,
followers and the 普瑞斯堡 inbox."""

from __future__ import annotations

import json

from ..models import AuditEntry, Issue, IssueEvent, IssueFollower, Notification
from ..services.platform.notify import summary_line
from .context import DAY, DemoContext, as_datetime, epoch
from .district import district_issues, replay_district_issue
from .pruisburg import pruisburg_lives
from .replay import (
    AUDIT_COLUMNS,
    EVENT_COLUMNS,
    FOLLOWER_COLUMNS,
    ISSUE_COLUMNS,
    IssueLife,
    IssueWorld,
    RefNote,
    neighbour_nodes,
    reference_for,
)


def issue_world(ctx: DemoContext) -> IssueWorld:
    """What the replay needs, read back from what the earlier steps built."""
    world = IssueWorld.read(ctx.paired, ctx.offices)
    # The demo logins hold their nodes whatever the order above.
    world.holder[ctx.community_id] = ctx.people["branch_member"]
    world.staff[ctx.property_org_id] = ctx.people["property_staff"]
    return world


def build_issues(ctx: DemoContext) -> None:
    """The 31 普瑞斯堡 issues and the district's six months of issues, each with its whole timeline."""
    world = issue_world(ctx)
    nodes = neighbour_nodes()
    now = epoch(ctx.now)
    pruisburg = pruisburg_lives(ctx, world, nodes)
    lives: dict[int, IssueLife] = {}
    district = []
    for spec in district_issues(ctx, world, nodes):
        life = replay_district_issue(spec, world, ctx.district_id, now, lives)
        lives[id(spec)] = life
        district.append((life, spec.fixed))
    # Ids follow filing order, as they would have in real life.
    everything = sorted([*pruisburg, *district], key=lambda pair: pair[0].created)
    issue_ids = ctx.allocate(Issue, len(everything))
    id_of = {life: issue_id for (life, _fixed), issue_id in zip(everything, issue_ids, strict=True)}
    ctx.insert_history(Issue, ISSUE_COLUMNS, [life.row(id_of[life], fixed, id_of) for life, fixed in everything])
    ctx.pruisburg_issue_ids = [id_of[life] for life, _fixed in pruisburg]

    def reference(life: IssueLife) -> str:
        return reference_for(life.created, id_of[life])

    # Event ids follow time across the district, as the events were written.
    # One integer key per event (time, then issue, then its place in the issue) sorts fast.
    timeline = sorted(
        ((event[0] << 32) | (id_of[life] << 8) | seq, id_of[life], event, life)
        for life, _fixed in everything
        for seq, event in enumerate(life.events)
    )
    event_ids = ctx.allocate(IssueEvent, len(timeline))

    def facts(event) -> str | None:
        """The entry's facts as the JSON column holds them (a reference to another issue filled in now)."""
        if not event[11]:
            return None
        found = {k: v.text(reference) if isinstance(v, RefNote) else v for k, v in event[11].items()}
        return json.dumps(found, ensure_ascii=False)

    event_rows = [
        (event_id, issue_id, *event[:10], facts(event))
        for event_id, (_key, issue_id, event, _life) in zip(event_ids, timeline, strict=True)
    ]
    ctx.insert_history(IssueEvent, EVENT_COLUMNS, event_rows)
    # The audit log (people's steps only, ids in time order) and who follows each issue.
    audits = sorted(
        ((at << 32) | (id_of[life] << 8) | seq, at, actor, action, life, detail)
        for life, _fixed in everything
        for seq, (at, actor, action, detail) in enumerate(life.audits)
    )
    audit_rows = [
        (
            audit_id,
            at,
            actor,
            action,
            id_of[life],
            life.community_id,
            life.street_id,
            (detail if type(detail) is str else detail.text(reference))[:500],
            None,
        )
        for audit_id, (_key, at, actor, action, life, detail) in zip(
            ctx.allocate(AuditEntry, len(audits)), audits, strict=True
        )
    ]
    ctx.insert_history(AuditEntry, AUDIT_COLUMNS, audit_rows)
    follower_rows = [
        (id_of[life], person, since) for life, _fixed in everything for person, since in life.followers.items()
    ]
    ctx.insert_history(IssueFollower, FOLLOWER_COLUMNS, follower_rows)
    notifications = pruisburg_inbox(ctx, world, timeline, event_ids, {life for life, _fixed in pruisburg}, everything)
    ctx.counts.update(
        issues=len(everything),
        issue_events=len(event_rows),
        audit_entries=len(audit_rows),
        issue_followers=len(follower_rows),
        notifications=notifications,
    )


def pruisburg_inbox(ctx, world, timeline, event_ids, pruisburg, everything) -> int:
    """Inbox messages the 普瑞斯堡 timeline sent (worded by services.platform.notify); older ones are read."""
    rng = ctx.rng("pruisburg-inbox")
    now = epoch(ctx.now)
    titles = {life: (fixed["title"], fixed) for life, fixed in everything if life in pruisburg}
    column = {"neighbour": "neighbour_id", "group": "group_id", "zone": "zone_id"}
    column.update(community="community_id", street="street_id")
    rows, pending = [], []
    for event_id, (_key, issue_id, event, life) in zip(event_ids, timeline, strict=True):
        if life not in pruisburg or not event[10]:
            continue
        at, actor, kind, _fs, to_status, _fl, _tl = event[:7]
        title, fixed = titles[life]
        people: set[int] = set()
        for level in event[10]:
            if level == "filer":  # the filer, and whoever followed the issue by then
                people.update(p for p, since in life.followers.items() if since <= at)
            elif type(level) is tuple:  # ("org", id): the staff of the party assigned then
                people.update(world.org_members[level[1]])
            elif level == "district":
                people.update(world.members[ctx.district_id])
            elif level in column:
                people.update(world.members[fixed[column[level]]])
        people.discard(actor)
        text = summary_line(kind, to_status, actor is None, reference_for(life.created, issue_id), title)
        sent = at + rng.randint(2, 90)
        for person in sorted(people):
            read = sent + rng.randint(600, 2 * DAY) if sent < now - 3 * DAY else None
            pending.append((person, issue_id, event_id, kind, text, sent, read))
    ids = ctx.allocate(Notification, len(pending))
    for notification_id, (person, issue_id, event_id, kind, text, sent, read) in zip(ids, pending, strict=True):
        rows.append(
            {
                "id": notification_id,
                "person_id": person,
                "issue_id": issue_id,
                "event_id": event_id,
                "kind": kind,
                "text": text,
                "created_at": as_datetime(min(sent, now)),
                "read_at": as_datetime(min(read, now)) if read else None,
            }
        )
    ctx.insert(Notification, rows)
    return len(rows)
