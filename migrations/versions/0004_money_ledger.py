"""money: projects, phases, funding sources, append-only ledger

The ledger (ledger_entry and its expenditure → issue links) is append-only, and the database itself
enforces it: on PostgreSQL a trigger function refuses every UPDATE and DELETE (row triggers do not
fire on TRUNCATE, which the test suite uses to empty the database); on SQLite, BEFORE UPDATE/DELETE
triggers RAISE(ABORT). A correction is a reversal entry, never an edit.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


APPEND_ONLY_TABLES = ("ledger_entry", "ledger_entry_issue")


def guard_append_only():
    """Refuse UPDATE and DELETE on the ledger tables, in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the ledger is append-only: % on % refused (record a reversal instead)',
                    TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
    else:
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation} BEFORE {operation.upper()} ON {table}"
                    f" BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {operation} on {table} refused'); END"
                )


def drop_guard():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    else:
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade():
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["node.id"], name=op.f("fk_project_community_id_node")),
        sa.ForeignKeyConstraint(["compound_id"], ["compound.id"], name=op.f("fk_project_compound_id_compound")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_project_community_id_name")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_community_id"), ["community_id"], unique=False)

    op.create_table(
        "funding_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("target_fen", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('resident_donation','property','developer','enterprise','government')",
            name=op.f("ck_funding_source_kind"),
        ),
        sa.CheckConstraint("target_fen IS NULL OR target_fen >= 0", name=op.f("ck_funding_source_target")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_funding_source_organisation_id_organisation")
        ),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_funding_source_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_source")),
    )
    with op.batch_alter_table("funding_source", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_source_project_id"), ["project_id"], unique=False)

    op.create_table(
        "phase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("budget_fen >= 0", name=op.f("ck_phase_budget")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_phase_project_id_project")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phase")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_phase_project_id_name")),
    )
    with op.batch_alter_table("phase", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phase_project_id"), ["project_id"], unique=False)

    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("donor_name", sa.String(length=40), nullable=False),
        sa.Column("donor_named", sa.Boolean(), nullable=False),
        sa.Column("payee", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("override_reason", sa.String(length=300), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name=op.f("ck_ledger_entry_reversal")),
        sa.CheckConstraint("kind IN ('pledge','receipt','expenditure','reversal')", name=op.f("ck_ledger_entry_kind")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_ledger_entry_amount")),
        sa.ForeignKeyConstraint(["created_by_id"], ["person.id"], name=op.f("fk_ledger_entry_created_by_id_person")),
        sa.ForeignKeyConstraint(["phase_id"], ["phase.id"], name=op.f("fk_ledger_entry_phase_id_phase")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"], name=op.f("fk_ledger_entry_project_id_project")),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["ledger_entry.id"], name=op.f("fk_ledger_entry_reverses_id_ledger_entry")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["funding_source.id"], name=op.f("fk_ledger_entry_source_id_funding_source")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint(
            "created_by_id", "idempotency_key", name=op.f("uq_ledger_entry_created_by_id_idempotency_key")
        ),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_entry_reverses_id")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entry_created_by_id"), ["created_by_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entry_phase_id"), ["phase_id"], unique=False)
        batch_op.create_index("ix_ledger_entry_project", ["project_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entry_source_id"), ["source_id"], unique=False)

    op.create_table(
        "ledger_entry_issue",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entry.id"], name=op.f("fk_ledger_entry_issue_entry_id_ledger_entry")
        ),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"], name=op.f("fk_ledger_entry_issue_issue_id_issue")),
        sa.PrimaryKeyConstraint("entry_id", "issue_id", name=op.f("pk_ledger_entry_issue")),
    )
    with op.batch_alter_table("ledger_entry_issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entry_issue_issue_id"), ["issue_id"], unique=False)

    guard_append_only()


def downgrade():
    drop_guard()
    with op.batch_alter_table("ledger_entry_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_issue_issue_id"))

    op.drop_table("ledger_entry_issue")
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_source_id"))
        batch_op.drop_index("ix_ledger_entry_project")
        batch_op.drop_index(batch_op.f("ix_ledger_entry_phase_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entry_created_by_id"))

    op.drop_table("ledger_entry")
    with op.batch_alter_table("phase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phase_project_id"))

    op.drop_table("phase")
    with op.batch_alter_table("funding_source", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_source_project_id"))

    op.drop_table("funding_source")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_community_id"))

    op.drop_table("project")
