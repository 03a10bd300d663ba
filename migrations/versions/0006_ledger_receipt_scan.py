"""ledger_entry.receipt_scan: the stored name of an expenditure's scanned receipt or invoice

A plain ADD COLUMN on both engines: on SQLite a batch (copy-and-move) would drop the append-only
triggers of 0004. The column is set when the entry is inserted, never updated.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("ledger_entry", sa.Column("receipt_scan", sa.String(length=64), nullable=True))


def downgrade():
    # SQLite ≥ 3.35 and PostgreSQL both drop a column in place (DDL: the row triggers do not fire).
    op.execute("ALTER TABLE ledger_entry DROP COLUMN receipt_scan")
