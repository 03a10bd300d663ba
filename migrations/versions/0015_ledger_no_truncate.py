"""The append-only ledger refuses TRUNCATE too (PostgreSQL; SQLite has no TRUNCATE)

Revision ID: 0015
Revises: 0014

Migration 0004's row triggers refuse UPDATE and DELETE; TRUNCATE fires no row trigger, so a statement-level
BEFORE TRUNCATE trigger refuses it — also when it comes by CASCADE from a parent table. Defence in depth
against a mistaken statement: the app never truncates. A transaction that means it (the test suite's
cleanup between tests, nothing else) says so with `SET LOCAL governance.truncate_ledger = 'yes'`; that
takes no table lock of its own, unlike disabling the trigger.
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
    op.execute(
        """
        CREATE FUNCTION ledger_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('governance.truncate_ledger', true) = 'yes' THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION 'the ledger is append-only: TRUNCATE on % refused', TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_no_truncate()"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ledger_no_truncate()")
