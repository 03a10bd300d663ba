"""The district-wide status index also carries id and the two deadlines: lists in (created_at, id) order
without a sort step, and the reports' "overdue now" counts read from the index alone

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COLUMNS = ["status", "created_at", "id", "ack_due_at", "resolve_due_at"]


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_status_created")
        batch_op.create_index("ix_issue_status_created", COLUMNS, unique=False)


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index("ix_issue_status_created")
        batch_op.create_index("ix_issue_status_created", ["status", "created_at"], unique=False)
