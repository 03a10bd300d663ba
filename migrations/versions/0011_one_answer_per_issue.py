"""满意率 counts one answer per issue: the resident's own rating on the issue, and replaced rating links

Revision ID: 0011
Revises: 0010

`issue.resident_rating` holds the rating of the issue's latest used link (services/issues/rating.py keeps it);
it is filled here from the links already answered. `rating_token.replaced_at` marks a link that a newer
one for the same issue replaced: of the links not yet used and not expired, all but each issue's newest
are marked replaced now. What the report rollups count changed (one answer per issue, and 响应率 without
withdrawn issues), so the rollups' check marker is dropped: the first periodic round after the upgrade
recomputes them (or run `flask rollups rebuild` right after `flask db upgrade`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resident_rating", sa.String(length=24), nullable=True))
    with op.batch_alter_table("rating_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True))

    issue = sa.table("issue", sa.column("id"), sa.column("resident_rating"))
    token = sa.table(
        "rating_token",
        sa.column("id"),
        sa.column("issue_id"),
        sa.column("used_at"),
        sa.column("expires_at"),
        sa.column("replaced_at"),
        sa.column("rating"),
        sa.column("created_at"),
    )
    latest = (
        sa.select(token.c.rating)
        .where(token.c.issue_id == issue.c.id, token.c.rating.is_not(None))
        .order_by(token.c.used_at.desc(), token.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(issue.update().values(resident_rating=latest))

    newer = token.alias("newer")
    op.execute(
        token.update()
        .where(
            token.c.used_at.is_(None),
            sa.exists().where(newer.c.issue_id == token.c.issue_id, newer.c.id > token.c.id),
        )
        .values(replaced_at=token.c.created_at)
    )
    op.execute("DELETE FROM app_meta WHERE key = 'rollups_check'")


def downgrade():
    with op.batch_alter_table("rating_token", schema=None) as batch_op:
        batch_op.drop_column("replaced_at")
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_column("resident_rating")
