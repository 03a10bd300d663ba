"""Public progress: Open311 API keys, one-time resident rating links, issues filed through the API

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"], name=op.f("fk_api_key_created_by_id_person")),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"], name=op.f("fk_api_key_node_id_node")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_api_key_key_digest")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_index(op.f("ix_api_key_node_id"), "api_key", ["node_id"], unique=False)
    op.create_table(
        "rating_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.String(length=24), nullable=True),
        sa.CheckConstraint(
            "rating IS NULL OR rating IN ('satisfied','basically_satisfied','unsatisfied')",
            name=op.f("ck_rating_token_rating"),
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"], name=op.f("fk_rating_token_created_by_id_person")),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"], name=op.f("fk_rating_token_issue_id_issue")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_token")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_rating_token_token_digest")),
    )
    op.create_index(op.f("ix_rating_token_issue_id"), "rating_token", ["issue_id"], unique=False)
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.alter_column("filed_by_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("open311_token", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_issue_api_key_id"), ["api_key_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_issue_open311_token"), ["open311_token"])
        batch_op.create_foreign_key(batch_op.f("fk_issue_api_key_id_api_key"), "api_key", ["api_key_id"], ["id"])


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_issue_api_key_id_api_key"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_issue_open311_token"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_issue_api_key_id"))
        batch_op.drop_column("open311_token")
        batch_op.drop_column("api_key_id")
        batch_op.alter_column("filed_by_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_rating_token_issue_id"), table_name="rating_token")
    op.drop_table("rating_token")
    op.drop_index(op.f("ix_api_key_node_id"), table_name="api_key")
    op.drop_table("api_key")
