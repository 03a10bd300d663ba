"""index issue.duplicate_of_id (the duplicates of an issue; deleting issues without a scan)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issue_duplicate_of_id"), ["duplicate_of_id"], unique=False)


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issue_duplicate_of_id"))
