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
    # Plain DROP COLUMNs (SQLite 3.35+): a batch would copy tables that other tables' foreign keys refer to.
    for table in ("building", "compound"):
        op.drop_column(table, "longitude")
        op.drop_column(table, "latitude")
