"""Jobs may end `skipped`: after a restore from backup, rows that were still waiting are not sent again

Revision ID: 0012
Revises: 0011

`flask outbox after-restore` (services/platform/restore.py) marks them; the relay hands over only `pending` and
`queued` rows, so a `skipped` row is never run.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD = "status IN ('pending','queued','running','done','failed')"
NEW = "status IN ('pending','queued','running','done','failed','skipped')"


def upgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_job_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_job_status"), NEW)


def downgrade():
    op.execute("UPDATE job SET status = 'failed' WHERE status = 'skipped'")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_job_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_job_status"), OLD)
