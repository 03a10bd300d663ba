"""Reports: whether an issue was acknowledged and resolved on time, for 响应率 and 按期办结率

Revision ID: 0009
Revises: 0008

Backfill. The deadline in force when an old issue was acknowledged or resolved was cleared at that
moment, so it is not known; what is known is the SLA sweep's timeline events (deadline_at set), one per
deadline found passed. An old issue is marked late (False) where such an event shows a missed deadline
(before its first acknowledgement; after its acknowledgement or last reopening and before it was
resolved); otherwise the flag stays NULL (unknown), which services/reports/rates.py counts as not on time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_on_time", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resolved_on_time", sa.Boolean(), nullable=True))
    false = sa.false()
    issue = sa.table(
        "issue",
        sa.column("id"),
        sa.column("acknowledged_at"),
        sa.column("resolved_at"),
        sa.column("acknowledged_on_time"),
        sa.column("resolved_on_time"),
    )
    event = sa.table("issue_event", sa.column("issue_id"), sa.column("at"), sa.column("deadline_at"))
    status_event = sa.table(
        "issue_event", sa.column("issue_id"), sa.column("at"), sa.column("kind"), sa.column("to_status")
    ).alias("reopening")
    missed = sa.and_(event.c.issue_id == issue.c.id, event.c.deadline_at.is_not(None))
    op.execute(
        issue.update()
        .where(
            issue.c.acknowledged_at.is_not(None),
            sa.exists().where(missed, event.c.at <= issue.c.acknowledged_at),
        )
        .values(acknowledged_on_time=false)
    )
    # The current resolution's stretch began at the acknowledgement or the last reopening before it.
    reopened = (
        sa.select(sa.func.max(status_event.c.at))
        .where(
            status_event.c.issue_id == issue.c.id,
            status_event.c.kind == "status",
            status_event.c.to_status == "reopened",
            status_event.c.at <= issue.c.resolved_at,
        )
        .scalar_subquery()
    )
    op.execute(
        issue.update()
        .where(
            issue.c.resolved_at.is_not(None),
            sa.exists().where(
                missed,
                event.c.at > sa.func.coalesce(reopened, issue.c.acknowledged_at),
                event.c.at <= issue.c.resolved_at,
            ),
        )
        .values(resolved_on_time=false)
    )


def downgrade():
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_column("resolved_on_time")
        batch_op.drop_column("acknowledged_on_time")
