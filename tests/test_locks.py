"""Row locks (services/locks.py): what the lock statement asks of the database, on both engines.

On SQLite the lock is an UPDATE that changes nothing; which column it sets decides its cost. Setting the
primary key made SQLite check every foreign key that refers to the row (a look-up in each referring table) and
rewrite the table's indexes, for each lock taken: 2 ms of a filing's lock of its 邻 on the demo world, more than
the rest of the filing's statements together.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import update

from governance.extensions import db
from governance.models import Compound, Issue, Node, Project, ResidentReport, SurveyCampaign
from governance.services import locks

from .builders import make_node
from .conftest import Statements

LOCKED_MODELS = (Node, Issue, Project, SurveyCampaign, ResidentReport, Compound)


def sqlite_program(statement: str) -> set[str]:
    """The opcodes of SQLite's program for `statement` (EXPLAIN)."""
    rows = db.session.connection().exec_driver_sql(f"EXPLAIN {statement}", (1,)).all()
    return {row[1] for row in rows}


@pytest.mark.parametrize("model", LOCKED_MODELS, ids=lambda model: model.__name__)
def test_a_lock_checks_no_foreign_key_and_writes_no_index(app, model):
    with app.app_context():
        with Statements() as sent:
            locks.lock_row(model, 1)
        (statement,) = sent.statements
        if db.engine.dialect.name == "postgresql":
            assert statement.rstrip().endswith("FOR UPDATE")
        else:
            program = sqlite_program(statement)
            assert not {op for op in program if op.startswith(("Fk", "Idx"))}, statement
        db.session.rollback()


@pytest.mark.parametrize("model", LOCKED_MODELS, ids=lambda model: model.__name__)
def test_the_lock_column_is_plain(model):
    column = locks._lock_column(model).property.columns[0]
    table = model.__table__
    referred = {fk.column for other in table.metadata.tables.values() for fk in other.foreign_keys}
    assert not column.primary_key and not column.foreign_keys and column not in referred
    assert all(column not in list(index.columns) for index in table.indexes)


def test_locked_reads_the_row_as_it_is_now(app):
    """locked() refreshes the session's copy of the row it locks (a rename made behind the session's back is
    what it returns) and answers None for a row that is not there."""
    with app.app_context():
        node = make_node(None, "district", "望城区")
        db.session.commit()
        assert node.name == "望城区"  # the session's copy, loaded
        db.session.execute(
            update(Node).where(Node.id == node.id).values(name="新名").execution_options(synchronize_session=False)
        )
        assert locks.locked(Node, node.id).name == "新名"
        assert locks.locked(Node, 2**31 - 1) is None
        db.session.rollback()


def test_locked_refreshes_the_session_copy_as_a_fresh_query_would(app):
    """The copy the session holds comes back as the row is now, as a query with populate_existing leaves it: a
    change to it not yet flushed is written first, the parent it had loaded is read again after a move made
    behind the session's back, and nothing is left to flush; a row the session did not hold comes back in the
    session."""
    with app.app_context():
        district = make_node(None, "district", "望城区")
        old, new = make_node(district, "street", "旧街道"), make_node(district, "street", "新街道")
        community = make_node(old, "community", "社区")
        db.session.commit()
        assert community.parent is old  # loaded
        db.session.execute(
            update(Node)
            .where(Node.id == community.id)
            .values(parent_id=new.id, street_id=new.id)
            .execution_options(synchronize_session=False)
        )
        community.name = "改过的名字"
        copy = locks.locked(Node, community.id)
        assert copy is community
        assert (copy.name, copy.parent_id, copy.street_id) == ("改过的名字", new.id, new.id)
        assert copy.parent is new
        assert not db.session.dirty
        db.session.expunge(new)
        fresh = locks.locked(Node, new.id)
        assert fresh is not new and fresh in db.session and fresh.name == "新街道"
        assert not db.session.is_modified(fresh)
        db.session.rollback()


AS_LOADED_FIRST = """
from governance import create_app
from governance.extensions import db
from governance.models import Job, utcnow
from governance.services.locks import as_loaded

app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None, "SECRET_KEY": "x" * 40})
with app.app_context():
    now = utcnow()
    row = {column.key: None for column in Job.__table__.c}
    row.update(id=7, kind="notify", payload="{}", status="pending", attempts=0, max_attempts=3, created_at=now)
    job = as_loaded(Job, row)
    print(job.id, job.kind, job in db.session)
"""


def test_as_loaded_works_as_a_process_first_use_of_the_orm():
    """A worker whose first ORM act is a filing or a deferred job: nothing has configured the mappers yet (a
    constructor would have), and the object is still made (it failed there, with the mappers unconfigured)."""
    done = subprocess.run([sys.executable, "-c", AS_LOADED_FIRST], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["7", "notify", "True"]


@pytest.mark.parametrize("value", ["filed", "", "it's 50% 'quoted'", 0, 7, -3, 2.5, True, False, None])
def test_a_constant_written_into_a_statement_reads_back_as_itself(app, value):
    """locks.constant writes a value into a statement's text (not as a parameter); the database reads it back
    unchanged on both engines — quotes doubled, a percent sign left to the driver's own escaping."""
    from sqlalchemy import Boolean, Float, Integer, String, select

    type_ = {str: String, int: Integer, float: Float, bool: Boolean, type(None): String}[type(value)]
    with app.app_context():
        statement = select(locks.constant(value, type_()))
        assert statement.compile(dialect=db.engine.dialect).params == {}  # in the text, not a parameter
        with Statements() as sent:
            back = db.session.execute(statement).scalar()
        assert back == value and (value is None or type(back) is type(value))
        assert len(sent.statements) == 1
        db.session.rollback()
