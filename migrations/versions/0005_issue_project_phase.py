"""issue.project_phase_id: the renovation project phase whose works cover an issue

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_phase_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_issue_project_phase_id"), ["project_phase_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_issue_project_phase_id_phase"), "phase", ["project_phase_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_issue_project_phase_id_phase"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_issue_project_phase_id"))
        batch_op.drop_column("project_phase_id")
