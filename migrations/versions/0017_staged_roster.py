"""Roster imports show before they change: a checked file waits in `staged_roster` for its confirmation

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "staged_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("allow_new_nodes", sa.Boolean(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_staged_roster_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_roster")),
    )
    with op.batch_alter_table("staged_roster", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staged_roster_person_id"), ["person_id"], unique=False)


def downgrade():
    with op.batch_alter_table("staged_roster", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staged_roster_person_id"))
    op.drop_table("staged_roster")
