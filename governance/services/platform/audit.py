"""The audit log (操作日志): who did what to which issue, written in the same transaction as the change.

Every human step of the lifecycle and of triage calls `record`; a bulk action marks its rows with
one batch id, so the log shows them as one decision over many issues.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ...extensions import db
from ...models import AuditEntry, Issue, Node, Person, utcnow

_batch: ContextVar[str | None] = ContextVar("audit_batch", default=None)

# The actions the log knows, in the order the filter lists them.
ACTIONS = (
    "acknowledge",
    "start",
    "resolve",
    "close",
    "reopen",
    "reject",
    "merge",
    "withdraw",
    "escalate",
    "send_down",
    "assign",
    "accept",
    "decline",
    "priority",
    "callback",
    # Changes to the people and the tree (no issue: the entry carries the community or street it happened in).
    "roster_import",
    "role_removed",
    "account_disabled",
    "account_enabled",
    "activation_code_issued",
    "reset_code_issued",
    "account_activated",
    "password_reset",
    "handover",
    "node_rename",
    "node_move",
    "node_merge",
    "node_split",
    "notice_sent",
    "survey_created",
    "survey_edited",
    "survey_opened",
    "survey_closed",
    "households_imported",
    "report_confirmed",
    "report_declined",
    "report_source_blocked",
    "report_unblocked",
    # Tables of people's data taken out of the app (CSV, Excel): the issue list, the triage queue, a project's
    # ledger, a survey's households, a notice's recipients.
    "export",
)
STATUS_ACTION = {
    "acknowledged": "acknowledge",
    "in_progress": "start",
    "resolved": "resolve",
    "closed": "close",
    "reopened": "reopen",
    "rejected": "reject",
    "duplicate": "merge",
    "withdrawn": "withdraw",
}


def record(actor: Person | None, action: str, issue: Issue, detail: str = "") -> AuditEntry | None:
    """Append one audit row for a person's action on an issue (the system's own steps are in the timeline)."""
    if actor is None:
        return None
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id,
        action=action,
        issue_id=issue.id,
        community_id=issue.community_id,
        street_id=issue.street_id,
        detail=(detail or "")[:500],
        batch=_batch.get(),
    )
    db.session.add(entry)
    return entry


def record_change(
    actor: Person | None,
    action: str,
    detail: str,
    *,
    community_id: int | None = None,
    street_id: int | None = None,
    issue: Issue | None = None,
) -> AuditEntry:
    """Append one audit row for a change to the people or the tree (who, when, what before and after in
    `detail`); the system's own changes (actor None) are recorded too, since nobody else will say them."""
    entry = AuditEntry(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        issue_id=issue.id if issue is not None else None,
        community_id=issue.community_id if issue is not None else community_id,
        street_id=issue.street_id if issue is not None else street_id,
        detail=(detail or "")[:500],
        batch=_batch.get(),
    )
    db.session.add(entry)
    return entry


@contextmanager
def batch() -> Iterator[str]:
    """Mark every row recorded inside as one bulk action."""
    token = _batch.set(uuid.uuid4().hex)
    try:
        yield _batch.get()
    finally:
        _batch.reset(token)


def place_of(person: Person) -> dict[str, int | None]:
    """The community and street an entry about a person's own act is logged under: those of the person's first
    role (none for a district-wide role or a party's staff: only the district's admins read it)."""
    for role in person.roles:
        if role.node is not None:
            return place_of_node(role.node)
    return {"community_id": None, "street_id": None}


def place_of_node(node: Node) -> dict[str, int | None]:
    """The community and street an entry about something at `node` is logged under."""
    return {"community_id": node.community_id, "street_id": node.street_id}
