"""Compounds and buildings may carry coordinates (WGS-84): an Open311 request sent with lat/long finds the
nearest building of the key's area by them

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("compound", "building"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))


def downgrade():
    for table in ("building", "compound"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("longitude")
            batch_op.drop_column("latitude")
