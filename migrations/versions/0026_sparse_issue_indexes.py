"""The issue's columns that a filing leaves empty (its Open311 key, party, merge, project, callback owner) are
indexed only where set: every filing wrote a NULL into each of those five indexes

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

SPARSE = ("api_key_id", "assignee_org_id", "duplicate_of_id", "project_phase_id", "callback_owner_id")


def where_set(column):
    where = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": where, "sqlite_where": where}


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        for column in SPARSE:
            batch_op.drop_index(f"ix_issue_{column}")
            batch_op.create_index(f"ix_issue_{column}", [column], unique=False, **where_set(column))


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        for column in SPARSE:
            batch_op.drop_index(f"ix_issue_{column}")
            batch_op.create_index(f"ix_issue_{column}", [column], unique=False)
