"""Logins are rows: a session ends at logout, after an idle timeout and at an absolute lifetime

Revision ID: 0013
Revises: 0012

Each login writes a `login_session` row (the digest of the random token its cookie carries); every request
checks it (governance/auth_session.py), so a cookie copied before logout no longer works after it. Sessions
from before this migration have no row and must log in again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_login_session_person_id_person"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_session_token_hash")),
    )
    op.create_index(op.f("ix_login_session_person_id"), "login_session", ["person_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_login_session_person_id"), table_name="login_session")
    op.drop_table("login_session")
