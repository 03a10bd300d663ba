"""Timeline entries and inbox messages keep their facts, not sentences: `issue_event.facts` and
`notification.facts` (JSON), read out in the reader's language when shown

Revision ID: 0019
Revises: 0018

Until now the system's own part of some timeline entries was stored as a Chinese sentence in `note` (派单至 X，
2026-12-10 前办结 / X 已接单 / X 退回：… / 回访：满意 / <不予受理原因>：… / 合并至 WC-… / WC-… 已合并至本问题), and a
handover message as 【工作交接】A卸任，n项工作转交给您: an English reader saw Chinese. The upgrade reads those
sentences back into facts (the party, the date, the satisfaction, the rejection reason's id, the reference)
and leaves in `note` only what a person typed.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH = 5000
SATISFACTION = {"回访：满意": "satisfied", "回访：基本满意": "basically_satisfied", "回访：不满意": "unsatisfied"}
ASSIGNED = re.compile(r"^派单至 (?P<party>.+)，(?P<due_on>\d{4}-\d{2}-\d{2}) 前办结$", re.S)
ACCEPTED = re.compile(r"^(?P<party>.+) 已接单$", re.S)
DECLINED = re.compile(r"^(?P<party>.+?) 退回：(?P<note>.*)$", re.S)
MERGED_INTO = re.compile(r"^合并至 (?P<kept>WC-\d{4}-\d+)$")
MERGED_HERE = re.compile(r"^(?P<duplicate>WC-\d{4}-\d+) 已合并至本问题$")
ROLES = {"邻长": "neighbour_leader", "组长": "group_leader", "片长": "zone_leader", "社区党组织成员": "branch_member"}
ROLES.update({"街镇管理员": "street_admin", "区管理员": "district_admin"})
HANDED_ON = re.compile(r"^(?P<leaving>.+)（(?P<role>[^（）]+)）卸任，由(?P<to>.+)接手$", re.S)
HANDED_UP = re.compile(r"^(?P<leaving>.+)（(?P<role>[^（）]+)）卸任，本级空缺，转(?P<to>.+)办理$", re.S)
CALLBACK_ON = re.compile(r"^(?P<leaving>.+)（(?P<role>[^（）]+)）卸任，回访转交(?P<owner>.+)$", re.S)
HANDOVER = re.compile(r"^\[工作交接\] (?P<names>.*)卸任，(?P<count>\d+)项工作转交给您$", re.S)

event = sa.table(
    "issue_event",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("to_status", sa.String),
    sa.column("from_level", sa.String),
    sa.column("note", sa.Text),
    sa.column("facts", sa.JSON),
)
notification = sa.table(
    "notification",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("text", sa.String),
    sa.column("facts", sa.JSON),
)


def facts_of(kind: str, to_status: str | None, note: str, reasons: list[tuple[int, str]]):
    """(facts, the typed note) of an old timeline entry; None when it holds no sentence of the system's."""
    note = note or ""
    if kind == "assigned" and (found := ASSIGNED.match(note)):
        return {"party": found["party"], "due_on": found["due_on"]}, ""
    if kind == "accepted" and (found := ACCEPTED.match(note)):
        return {"party": found["party"]}, ""
    if kind == "declined" and (found := DECLINED.match(note)):
        return {"party": found["party"]}, found["note"]
    if kind == "merged" and (found := MERGED_HERE.match(note)):
        return {"duplicate": found["duplicate"]}, ""
    if kind == "handover":
        for pattern in (HANDED_UP, HANDED_ON, CALLBACK_ON):
            found = pattern.match(note)
            if found and found["role"] in ROLES:
                facts = {"leaving": found["leaving"], "role": ROLES[found["role"]]}
                if pattern is CALLBACK_ON:
                    facts["callback_to"] = found["owner"]
                else:
                    facts["to"] = found["to"].split("、")
                return facts, ""
        return None
    if kind != "status":
        return None
    if to_status in ("closed", "reopened") and note in SATISFACTION:
        return {"satisfaction": SATISFACTION[note]}, ""
    if to_status == "duplicate" and (found := MERGED_INTO.match(note)):
        return {"kept": found["kept"]}, ""
    if to_status == "rejected":
        for reason_id, name in reasons:  # the longest name first: one may begin with another
            if note == name or note.startswith(f"{name}："):
                return {"reason_id": reason_id}, note[len(name) + 1 :]
    return None


def upgrade():
    op.add_column("issue_event", sa.Column("facts", sa.JSON(), nullable=True))
    op.add_column("notification", sa.Column("facts", sa.JSON(), nullable=True))
    bind = op.get_bind()
    reasons = sorted(bind.execute(sa.text("SELECT id, name_zh FROM reject_reason")).all(), key=lambda r: -len(r[1]))
    kinds = ("assigned", "accepted", "declined", "merged", "handover", "status")
    last = 0
    while True:
        rows = bind.execute(
            sa.select(event.c.id, event.c.kind, event.c.to_status, event.c.note)
            .where(event.c.id > last, event.c.kind.in_(kinds), event.c.note != "")
            .order_by(event.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        changes = []
        for row in rows:
            read = facts_of(row.kind, row.to_status, row.note, reasons)
            if read is not None:
                changes.append({"row_id": row.id, "facts": read[0], "note": read[1]})
        if changes:
            bind.execute(
                event.update()
                .where(event.c.id == sa.bindparam("row_id"))
                .values(facts=sa.bindparam("facts"), note=sa.bindparam("note")),
                changes,
            )
    rows = bind.execute(
        sa.select(notification.c.id, notification.c.text).where(notification.c.kind == "handover")
    ).all()
    changes = []
    for row in rows:
        if found := HANDOVER.match(row.text or ""):
            names = [name for name in found["names"].split("、") if name]
            changes.append({"row_id": row.id, "facts": {"names": names, "count": int(found["count"])}})
    if changes:
        bind.execute(
            notification.update()
            .where(notification.c.id == sa.bindparam("row_id"))
            .values(facts=sa.bindparam("facts")),
            changes,
        )


def sentence_of(kind, to_status, from_level, facts: dict, note: str, reasons: dict[int, str]) -> str:
    """The old stored sentence of an entry with facts (the downgrade writes them back into `note`)."""
    if kind == "assigned":
        return f"派单至 {facts['party']}，{facts['due_on']} 前办结"
    if kind == "accepted":
        return f"{facts['party']} 已接单"
    if kind == "declined":
        return f"{facts['party']} 退回：{note}"
    if kind == "merged":
        return f"{facts['duplicate']} 已合并至本问题"
    if kind == "handover":
        role = {code: text for text, code in ROLES.items()}[facts["role"]]
        if "callback_to" in facts:
            return f"{facts['leaving']}（{role}）卸任，回访转交{facts['callback_to']}"
        if from_level:
            return f"{facts['leaving']}（{role}）卸任，本级空缺，转{'、'.join(facts['to'])}办理"
        return f"{facts['leaving']}（{role}）卸任，由{'、'.join(facts['to'])}接手"
    if "satisfaction" in facts:
        return {code: text for text, code in SATISFACTION.items()}[facts["satisfaction"]]
    if "kept" in facts:
        return note or f"合并至 {facts['kept']}"
    if "reason_id" in facts:
        reason = reasons.get(facts["reason_id"], "")
        return f"{reason}：{note}" if note else reason
    return note


def downgrade():
    bind = op.get_bind()
    reasons = dict(bind.execute(sa.text("SELECT id, name_zh FROM reject_reason")).all())
    rows = bind.execute(
        sa.select(event.c.id, event.c.kind, event.c.to_status, event.c.from_level, event.c.note, event.c.facts).where(
            event.c.facts.is_not(None)
        )
    ).all()
    changes = [
        {
            "row_id": row.id,
            "note": sentence_of(row.kind, row.to_status, row.from_level, row.facts, row.note or "", reasons),
        }
        for row in rows
        if row.facts
    ]
    if changes:
        bind.execute(
            event.update().where(event.c.id == sa.bindparam("row_id")).values(note=sa.bindparam("note")), changes
        )
    op.drop_column("notification", "facts")
    op.drop_column("issue_event", "facts")
