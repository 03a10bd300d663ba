"""The schema comes only from migrations, and the migrations and the models agree on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from governance.extensions import db
from governance.models import SPARSE_ISSUE_COLUMNS, Issue


def test_migrations_match_models(app):
    """No pending autogenerate diff after `upgrade` (the fixture database was built by migrations)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_every_model_table_exists(app):
    """Every table the models declare was created by the migrations."""
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in db.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_sqlite_pragmas(app):
    """SQLite runs in WAL mode with foreign keys enforced."""
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_columns_a_filing_leaves_empty_are_indexed_only_where_set_and_found_through_those_indexes(app):
    """A filing writes no entry into the indexes of the issue's sparse columns (each is partial, WHERE … IS NOT
    NULL), and a query naming a value — = or IN, as the app's queries do — still finds rows through them on both
    engines (PostgreSQL told not to scan the table, which it would prefer on a fixture this small)."""
    postgres = db.engine.dialect.name == "postgresql"
    with db.engine.connect() as connection:
        if postgres:
            connection.exec_driver_sql("SET enable_seqscan = off")
            definitions = dict(connection.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes").all())
        else:
            definitions = dict(connection.exec_driver_sql("SELECT name, sql FROM sqlite_master").all())
        for column in SPARSE_ISSUE_COLUMNS:
            name = f"ix_issue_{column}"
            assert " ".join(definitions[name].replace("(", " ").replace(")", " ").split()).endswith(
                f"WHERE {column} IS NOT NULL"
            ), definitions[name]
            for condition in (Issue.__table__.c[column] == 7, Issue.__table__.c[column].in_([7, 8])):
                statement = select(Issue.id).where(condition)
                compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
                plan = " ".join(
                    str(row)
                    for row in connection.exec_driver_sql(
                        f"EXPLAIN {'' if postgres else 'QUERY PLAN '}{compiled}"
                    ).all()
                )
                assert name in plan, (column, str(compiled), plan)
