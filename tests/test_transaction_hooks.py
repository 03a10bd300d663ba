"""What waits for a commit — the pages a change drops, the jobs it hands over — happens at the real commit.

SQLAlchemy reports a savepoint's release and its rollback through the same session events as the commit and
rollback of the transaction itself. Taken at their word, the release of a savepoint (the idempotent insert of a
filing, a survey visit, a notice) dropped the cached pages before the change was committed — a reader in
between computed the page from the old rows and kept it under the new generation — and a savepoint rolled back
(a retry that lost the race at the unique key) forgot every page tag and job the transaction had gathered
before it: its pages stayed as they were, its jobs waited for the relay.
"""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Job
from governance.services.platform import jobs
from governance.services.public import page_cache


class Rollback(Exception):
    """Leaves a savepoint by rolling it back."""


def rolled_back_savepoint(action) -> None:
    try:
        with db.session.begin_nested():
            action()
            raise Rollback
    except Rollback:
        pass


def handed_over() -> list[int]:
    """The jobs the request would hand over now (and takes them: the test's app context ends without)."""
    return [entry.job_id for entry in g.pop("jobs_committed", [])]


@pytest.fixture
def invalidated(monkeypatch):
    calls: list[set[str]] = []
    monkeypatch.setattr(page_cache, "invalidate", lambda tags: calls.append(set(tags)))
    return calls


def test_a_released_savepoint_drops_no_page_before_the_commit(app, invalidated):
    with app.app_context():
        page_cache.mark({"community:1"})
        with db.session.begin_nested():
            page_cache.mark({"community:2"})
        assert invalidated == []  # nothing is committed yet: a page computed now would show the old rows
        db.session.commit()
        assert invalidated == [{"community:1", "community:2"}]


def test_a_rolled_back_savepoint_keeps_the_transactions_page_tags(app, invalidated):
    with app.app_context():
        page_cache.mark({"community:1"})
        rolled_back_savepoint(lambda: page_cache.mark({"community:2"}))
        db.session.commit()
        assert len(invalidated) == 1 and "community:1" in invalidated[0]


def test_a_rolled_back_transaction_drops_nothing(app, invalidated):
    with app.app_context():
        page_cache.mark({"community:1"})
        with db.session.begin_nested():
            page_cache.mark({"community:2"})
        db.session.rollback()
        db.session.commit()
        assert invalidated == []


def test_jobs_are_handed_over_once_the_transaction_commits(app):
    with app.app_context():
        first = jobs.defer("notify", {"event_id": 1})
        with db.session.begin_nested():
            inner = jobs.defer("notify", {"event_id": 2})
        assert g.get("jobs_committed", []) == []  # not committed yet: nothing to hand over
        db.session.commit()
        assert handed_over() == [first.id, inner.id]


def test_a_rolled_back_savepoint_keeps_the_jobs_deferred_before_it(app):
    with app.app_context():
        first = jobs.defer("notify", {"event_id": 1})
        rolled_back_savepoint(lambda: jobs.defer("notify", {"event_id": 2}))

        def nested_twice():
            with db.session.begin_nested():
                jobs.defer("notify", {"event_id": 3})
            jobs.defer("notify", {"event_id": 4})

        rolled_back_savepoint(nested_twice)
        last = jobs.defer("notify", {"event_id": 5})
        db.session.commit()
        assert handed_over() == [first.id, last.id]  # the rolled-back rows are gone, and not handed over
        assert db.session.scalar(select(func.count()).select_from(Job)) == 2


def test_a_rolled_back_transaction_hands_over_no_job(app):
    with app.app_context():
        jobs.defer("notify", {"event_id": 1})
        db.session.rollback()
        db.session.commit()
        assert g.get("jobs_committed", []) == []
