"""A job that talks to the outside marks the attempt before it sends: `job.sending_since`

Revision ID: 0014
Revises: 0013

`jobs.sending()` commits the time an attempt starts its external side effect (a 企业微信 webhook POST)
before the POST, and a failed attempt clears it; a retry that finds it still set knows an earlier
attempt died while sending and does not send again (services/platform/jobs.py: at most once in the crash case).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("sending_since")
