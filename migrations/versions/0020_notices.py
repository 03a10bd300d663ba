"""Notices down the tree (上传下达): `notice` (with an optional photo and the form's idempotency key), one `notice_recipient` row per leader it went to (read receipt,
reply), and inbox messages that point at a notice (`notification.notice_id`)

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=12), nullable=False),
        sa.Column("reply_kind", sa.String(length=12), nullable=False),
        sa.Column("reply_label", sa.String(length=40), nullable=True),
        sa.Column("photo_name", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.String(length=80), nullable=False),
        sa.Column("remind_after_hours", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("urgency IN ('normal','urgent')", name=op.f("ck_notice_urgency")),
        sa.CheckConstraint("reply_kind IN ('none','confirm','text')", name=op.f("ck_notice_reply_kind")),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_notice_node_id_node")),
        sa.ForeignKeyConstraint(["sent_by_id"], ["person.id"], name=op.f("fk_notice_sent_by_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        sa.UniqueConstraint("sent_by_id", "idempotency_key", name=op.f("uq_notice_sent_by_id_idempotency_key")),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_node_id"), ["node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notice_sent_by_id"), ["sent_by_id"], unique=False)

    op.create_table(
        "notice_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_notice_recipient_node_id_node")),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_notice_recipient_notice_id_notice"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_notice_recipient_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_recipient")),
        sa.UniqueConstraint("notice_id", "person_id", name=op.f("uq_notice_recipient_notice_id_person_id")),
    )
    with op.batch_alter_table("notice_recipient", schema=None) as batch_op:
        batch_op.create_index("ix_notice_recipient_person", ["person_id", "notice_id"], unique=False)

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notification_notice_id_notice"), "notice", ["notice_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_notification_person_id_notice_id_kind"), ["person_id", "notice_id", "kind"]
        )


def downgrade():
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_notification_person_id_notice_id_kind"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_notification_notice_id_notice"), type_="foreignkey")
        batch_op.drop_column("notice_id")
    with op.batch_alter_table("notice_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_recipient_person")
    op.drop_table("notice_recipient")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_sent_by_id"))
        batch_op.drop_index(batch_op.f("ix_notice_node_id"))
    op.drop_table("notice")
