"""The SLA sweep (超时自动上报): escalate every open issue whose deadline has passed, once per deadline.

Set-based: one conditional UPDATE … RETURNING per (level, urgency, acknowledged?) group of a batch.
The WHERE clause re-checks level and deadline, so two sweeps running at once escalate each issue
once: the second finds the level already moved (PostgreSQL re-evaluates the row after the first
commits; SQLite serialises writers). A unique (issue_id, deadline_at) on the timeline backs it up.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from ...extensions import db
from ...models import OPEN_STATUSES, Issue, IssueEvent, utcnow
from ..platform import jobs
from ..public import page_cache
from . import reference
from .lifecycle import next_level

BATCH = 2000


def sweep(now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """Escalate overdue open issues one level; at the district level just record the overdue once."""
    now = now or utcnow()
    policies = reference.sla_in_force()
    totals = {"escalated": 0, "overdue_at_top": 0}
    while True:
        rows = db.session.execute(
            select(Issue.id, Issue.level, Issue.urgency, Issue.status, Issue.next_deadline_at)
            .where(Issue.next_deadline_at <= now, Issue.status.in_(OPEN_STATUSES))
            .order_by(Issue.next_deadline_at, Issue.id)
            .limit(batch)
        ).all()
        db.session.commit()  # end the read so SQLite's write below starts from fresh data
        if not rows:
            break
        groups: dict[tuple[str, str, bool], list] = defaultdict(list)
        for row in rows:
            groups[(row.level, row.urgency, row.status == "reported")].append(row)
        event_ids, changed = [], []
        for (level, urgency, unacknowledged), members in groups.items():
            deadlines = {row.id: row.next_deadline_at for row in members}
            target = next_level(level)
            if target is None:
                moved = _mark_overdue_at_top(members, now)
                totals["overdue_at_top"] += len(moved)
            else:
                moved = _escalate_group(level, target, urgency, unacknowledged, members, policies, now)
                totals["escalated"] += len(moved)
            if moved:
                result = db.session.execute(
                    insert(IssueEvent).returning(IssueEvent.id),
                    [
                        {
                            "issue_id": issue_id,
                            "at": now,
                            "actor_id": None,
                            "kind": "escalated" if target else "overdue",
                            "from_level": level,
                            "to_level": target or level,
                            "note": "",
                            "public": True,
                            "deadline_at": deadlines[issue_id],
                        }
                        for issue_id in moved
                    ],
                )
                event_ids.extend(result.scalars().all())
                changed.extend(moved)
        # New level, deadlines and a public timeline entry: the cached pages showing them are stale.
        page_cache.mark_issue_ids(changed)
        if event_ids:
            # One batched fan-out job per sweep batch, not one job per issue or per person.
            jobs.defer("notify", {"event_ids": event_ids}, dedupe_key=f"notify:sweep:{event_ids[0]}")
        db.session.commit()
        jobs.dispatch()
        if len(rows) < batch:
            break
    return totals


def _escalate_group(level, target, urgency, unacknowledged, members, policies, now) -> list[int]:
    """One conditional UPDATE for a group of issues sharing level, urgency and acknowledgement."""
    hours = policies.get((target, urgency))  # (to acknowledge, to resolve)
    ack_due = resolve_due = None
    if hours is not None:
        resolve_due = now + timedelta(hours=hours[1])
        ack_due = now + timedelta(hours=hours[0]) if unacknowledged else None
    next_due = min((d for d in (ack_due, resolve_due) if d is not None), default=None)
    statement = (
        update(Issue)
        .where(
            Issue.id.in_([row.id for row in members]),
            Issue.level == level,
            Issue.next_deadline_at <= now,
            Issue.status.in_(OPEN_STATUSES),
        )
        .values(
            level=target,
            ack_due_at=ack_due,
            resolve_due_at=resolve_due,
            next_deadline_at=next_due,
            updated_at=now,
            version=Issue.version + 1,
        )
        .returning(Issue.id)
        .execution_options(synchronize_session=False)
    )
    return list(db.session.execute(statement).scalars())


def _mark_overdue_at_top(members, now) -> list[int]:
    """At the district there is nowhere higher: stop sweeping the issue (its due dates stay overdue)."""
    statement = (
        update(Issue)
        .where(
            Issue.id.in_([row.id for row in members]),
            Issue.level == "district",
            Issue.next_deadline_at <= now,
        )
        .values(next_deadline_at=None, updated_at=now, version=Issue.version + 1)
        .returning(Issue.id)
        .execution_options(synchronize_session=False)
    )
    return list(db.session.execute(statement).scalars())
