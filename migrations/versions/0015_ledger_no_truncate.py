"""The append-only ledger refuses TRUNCATE too (PostgreSQL; SQLite has no TRUNCATE)

Revision ID: 0015
Revises: 0014

Migration 0004's row triggers refuse UPDATE and DELETE; TRUNCATE fires no row trigger, so a statement-level
BEFORE TRUNCATE trigger refuses it — also when it comes by CASCADE from a parent table. Defence in depth:
the app never truncates; the test suite's cleanup lifts it inside its own transaction.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("ledger_entry", "ledger_entry_issue")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
