"""The structure over time: roles that ended (`ended_role`) and who owes a handed-on callback

Revision ID: 0016
Revises: 0015

`ended_role` keeps one row per node-bound role that was taken away, replaced by a roster import or ended
by disabling its holder; a node's vacancy (空缺) dates from its latest row. `issue.callback_owner_id` names
the leader a callback (回访) was handed on to when its filer's role ended (services/people/turnover.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ended_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.CheckConstraint("reason IN ('removed','replaced','disabled','merged')", name=op.f("ck_ended_role_reason")),
        sa.ForeignKeyConstraint(["ended_by_id"], ["person.id"], name=op.f("fk_ended_role_ended_by_id_person")),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_ended_role_node_id_node")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_ended_role_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ended_role")),
    )
    with op.batch_alter_table("ended_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ended_role_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_ended_role_node_role", ["node_id", "role", "ended_at"], unique=False)
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_owner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_issue_callback_owner_id"), ["callback_owner_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_issue_callback_owner_id_person"), "person", ["callback_owner_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_issue_callback_owner_id_person"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_issue_callback_owner_id"))
        batch_op.drop_column("callback_owner_id")
    with op.batch_alter_table("ended_role", schema=None) as batch_op:
        batch_op.drop_index("ix_ended_role_node_role")
        batch_op.drop_index(batch_op.f("ix_ended_role_person_id"))
    op.drop_table("ended_role")
