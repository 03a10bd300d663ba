"""Reports: rollups per month × community × category × responsible party, and an hours histogram

Revision ID: 0010
Revises: 0009

Filled by `flask rollups rebuild` (or the nightly check) from the issues already there; afterwards
services/reports/rollups.py keeps them in step with every change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTS = (
    "reported",
    "acknowledged",
    "in_progress",
    "resolved",
    "closed",
    "reopened",
    "rejected",
    "duplicate",
    "withdrawn",
    "ack_on_time",
    "done",
    "done_on_time",
    "callbacks",
    "callbacks_satisfied",
    "ratings",
    "ratings_satisfied",
)


def upgrade():
    op.create_table(
        "issue_rollup",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTS),
        sa.PrimaryKeyConstraint("month", "community_id", "category_id", "org_id", name=op.f("pk_issue_rollup")),
    )
    op.create_index(op.f("ix_issue_rollup_street_id"), "issue_rollup", ["street_id"])
    op.create_table(
        "resolve_hours_rollup",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("issues", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("month", "street_id", "hours", name=op.f("pk_resolve_hours_rollup")),
    )


def downgrade():
    op.drop_table("resolve_hours_rollup")
    op.drop_index(op.f("ix_issue_rollup_street_id"), table_name="issue_rollup")
    op.drop_table("issue_rollup")
