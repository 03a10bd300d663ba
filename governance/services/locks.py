"""Row locks for read-check-write steps, the same promise on both engines.

PostgreSQL locks the row (SELECT … FOR UPDATE, or FOR SHARE where only the row's writers must wait) until the
transaction ends. SQLite has no row locks and one writer: a read before the first write may be stale by the time
the transaction writes, so the write lock is taken first, by an UPDATE of the row that changes nothing.
Functions flush nothing and never commit.

That UPDATE sets a column to itself, and which column matters: SQLite checks every foreign key that refers to
a column named in SET (a scan of each referring table's index — 2 ms for a 邻, which a dozen tables refer to),
and rewrites every index holding it, even when the value stays the same. `_lock_column` picks a plain one.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, func, literal_column, null, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..extensions import db


def dialect_name() -> str:
    """The session's engine: 'postgresql' or 'sqlite'."""
    return db.session.get_bind().dialect.name


def engine_insert(model, dialect: str | None = None):
    """INSERT into `model`'s table for the session's engine (or the one named `dialect`), with the ON CONFLICT
    clauses both engines share (on_conflict_do_nothing, on_conflict_do_update, RETURNING)."""
    name = dialect or dialect_name()
    return (postgresql if name == "postgresql" else sqlite).insert(model)


def as_loaded(model, row):
    """The ORM object of a row that a Core INSERT … RETURNING (every column) has just written, in the session as
    if loaded: no history, so no flush writes it again, and no hook of a flush sees it (what those hooks would
    do, the inserting code does by name)."""
    # Filled as the ORM's loader fills what it reads (straight into the instance's dict, no attribute events):
    # through the constructor every column was a change to record and then forget, a third of the object's cost.
    # class_mapper configures the mappers first if nothing has yet (the constructor did that too).
    instance = class_mapper(model).class_manager.new_instance()
    instance.__dict__.update(row)
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


@cache
def decided_by_the_database(model) -> tuple:
    """The columns of `model` whose value an INSERT leaves to the database: the primary key and any with a
    server-side default. An INSERT … RETURNING these gives, with what it sent (inserted_row), the whole row."""
    return tuple(column for column in model.__table__.c if column.primary_key or column.server_default is not None)


def scalar_defaults(table, given) -> dict:
    """The columns of `table` not in `given` that have a default in the model, each with its value: an INSERT
    inside a WITH (or INSERT … SELECT) gets no defaults from SQLAlchemy, which fills them only for the statement
    it runs, so such a statement writes them by name."""
    defaults = {}
    for column in table.c:
        if column.key in given or column.default is None:
            continue
        if not column.default.is_scalar:
            raise TypeError(f"{table.name}.{column.key}: a default computed per row; the statement must set it")
        defaults[column.key] = column.default.arg
    return defaults


def constant(value, type_):
    """`value` (a string, number, boolean or None from the code, never from input) written into the text of a
    statement instead of sent as a parameter: for the constants of the long statements built once. psycopg
    works out the text of a statement with more than 50 parameters, or over 4 KB, anew on every run (its
    _queries.py), which cost the filing's statement 4 % of a filing's CPU."""
    if value is None:
        return null()
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str):
        text = "'" + value.replace("'", "''") + "'"
    else:
        raise TypeError(f"not a constant for a statement's text: {value!r}")
    return literal_column(text, type_)


def constants(table, values: dict) -> dict:
    """Each of `values` (column name → value) as a constant of that column of `table`, for a statement's text."""
    return {name: constant(value, table.c[name].type) for name, value in values.items()}


def inserted_row(model, result, returned) -> dict:
    """The whole row a one-row INSERT wrote: NULL in every column, then what it sent (its values and the defaults
    SQLAlchemy filled in for it), then what it returned (decided_by_the_database) — without the database
    describing and converting again every column it was sent: the commonest writes' largest share of a row."""
    row = dict.fromkeys(column.key for column in model.__table__.c)
    row.update(result.last_inserted_params())
    row.update(returned)
    return row


@cache
def _lock_column(model):
    """The column a no-op UPDATE of `model` sets on SQLite: one no foreign key refers to and no key or index
    holds, so that taking the lock costs no look-up in other tables and no index write (the primary key when
    the table has no such column)."""
    table = model.__table__
    referred = {fk.column for other in table.metadata.tables.values() for fk in other.foreign_keys}
    indexed = {column for index in table.indexes for column in index.columns}
    indexed |= {column for constraint in table.constraints for column in getattr(constraint, "columns", ())}
    for column in table.columns:
        if not (column.primary_key or column.foreign_keys or column.unique or column in referred | indexed):
            return getattr(model, column.key)
    return model.id


# The execution option of a statement that writes nothing new (SQLite's lock: a column set to itself): the page
# cache's hook does not take it for a change to its table.
CHANGES_NOTHING = "changes_nothing"


@cache
def _lock_statement(model, dialect: str, returning: bool, shared: bool = False):
    """The statement that locks one row of `model` (its id bound as :row_id), built once per model and engine.
    PostgreSQL: SELECT … FOR UPDATE (`shared`: FOR SHARE). SQLite: an UPDATE that changes nothing, which takes its
    write lock before anything is read. `returning`: it also reads every column of the row (a Core row: see
    locked)."""
    table = model.__table__
    if dialect == "postgresql":
        columns = table.c if returning else [table.c.id]
        return select(*columns).where(table.c.id == bindparam("row_id")).with_for_update(read=shared)
    column = _lock_column(model)
    statement = update(model).where(model.id == bindparam("row_id")).values({column: column})
    statement = statement.execution_options(synchronize_session=False, **{CHANGES_NOTHING: True})
    return statement.returning(*table.c) if returning else statement


def lock_row(model, row_id: int) -> None:
    """Hold off every other writer of this row (SQLite: of the database) until the transaction ends; call it
    before reading what the step checks."""
    db.session.execute(_lock_statement(model, dialect_name(), False), {"row_id": row_id})


def lock_names(*names: str) -> None:
    """Hold off every other transaction taking one of these names until this one ends: for a check counted over
    rows that do not exist yet (the reports a device sent today, whichever 小区 they went to), where no row
    stands for what is counted. PostgreSQL: transaction-scoped advisory locks on the names' hashes, taken in one
    order so that two takers never wait for each other; SQLite: its one writer, taken by a write that changes
    nothing to the one row every database of ours has (alembic_version)."""
    if dialect_name() == "postgresql":
        for name in sorted(set(names)):
            db.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
    else:
        db.session.execute(text("UPDATE alembic_version SET version_num = version_num"))


def locked(model, row_id: int, *, shared: bool = False):
    """lock_row, then the row as it is now, in one statement; None when there is no such row.

    `shared`: only the row's writers are held off, and wait for this transaction — not other holders of a shared
    lock of it (PostgreSQL's FOR SHARE: for a step that reads the row and must see no change to it until it
    commits, but writes elsewhere, so that many such steps on one row run side by side). On SQLite, whose one
    writer holds off everyone, the same as without.

    The session's copy, if it holds one, is refreshed as a query with populate_existing would: the session's
    unwritten changes flushed first, then every column set to what was read and its loaded relationships
    expired (read again when next used). Done by hand from a Core row, as as_loaded does for a new row: the
    ORM's loading of one row cost a filing (the commonest write, whose 邻 is locked) more than the statement."""
    if db.session.autoflush:  # what the session holds unwritten goes first, as before any query of the session
        db.session.flush()
    statement = _lock_statement(model, dialect_name(), True, shared)
    row = db.session.connection().execute(statement, {"row_id": row_id})
    row = row.mappings().first()
    if row is None:
        return None
    instance = db.session.identity_map.get(identity_key(model, row_id))
    if instance is None:
        return as_loaded(model, row)
    for key, value in row.items():
        set_committed_value(instance, key, value)
    loaded = [prop.key for prop in class_mapper(model).relationships if prop.key in instance.__dict__]
    if loaded:
        db.session.expire(instance, loaded)
    return instance


def open_savepoint(session):
    """The savepoint the session is in, or None. Inside a session's after_commit or after_rollback event it is
    the savepoint whose release or rollback the event reports — SQLAlchemy reports those through the same
    events as the end of the transaction itself — and None when the transaction ends. What waits for the commit
    (pages to drop, jobs to hand over) waits past a savepoint's release: nothing is committed yet."""
    return session.get_nested_transaction()


def within(transaction, savepoint) -> bool:
    """Whether `transaction` (a session's transaction or savepoint) is `savepoint` or one begun inside it."""
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def insert_once(row, find):
    """Add `row` and flush inside a savepoint; when a concurrent request carrying the same idempotency key got
    there first (its unique key refuses this row), only the savepoint is rolled back and the row that won is
    returned (`find()`); None when `row` went in. An integrity error of any other kind is raised."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing
    return None
