"""A worker's own copy of the pages kept in Redis (services/public/near_cache.py).

A page read once from Redis is then served from the worker's copy, without a Redis command — but never after
a change another worker made and announced, never while Redis has not answered the worker lately (a frozen
Redis), and never after the worker lost its channel. A second worker is played by the same app with its own
Redis client and copy (`another_worker`): its own connections, as a second gunicorn process has.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import status_label
from governance.models import Issue
from governance.redis_conn import BREAKER, get_redis
from governance.services.issues.lifecycle import transition
from governance.services.public import near_cache, page_cache
from tests.builders import make_issue, make_role_holders, make_tree
from tests.conftest import another_worker, logged_in_clients, settle_near_copy
from tests.pages import issue_cards


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=1, zones=2, groups=1, neighbours=2)
    return make_role_holders()


@pytest.fixture
def readers(redis_app, world):
    return logged_in_clients(redis_app, world, ("zone_leader", "group_leader"))


def near(app) -> near_cache.NearCache:
    return app.extensions["page_cache_near"]


def settle(app) -> None:
    settle_near_copy(app)


class RedisReads:
    """Counts the page reads this worker sends to Redis (MGET)."""

    def __init__(self, app, monkeypatch):
        self.count = 0
        client = get_redis()
        real = client.mget

        def counted(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(client, "mget", counted)


def shown(client) -> list[tuple[str, str]]:
    response = client.get("/issues/")
    assert response.status_code == 200
    return [(card["reference"], card["status"]) for card in issue_cards(response.get_data(as_text=True))]


def test_a_kept_page_is_served_from_the_workers_copy_without_asking_redis(redis_app, world, readers, monkeypatch):
    issue = make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    assert shown(client) == [(issue.reference, status_label("reported"))]
    settle(redis_app)
    assert shown(client) == [(issue.reference, status_label("reported"))]  # copied from Redis now
    reads = RedisReads(redis_app, monkeypatch)
    for _ in range(3):
        # Vouched for afresh before each read: under a loaded suite one page can outlast live_for (a quarter
        # second), after which the copy is rightly not trusted until the channel answers again.
        settle(redis_app)
        assert shown(client) == [(issue.reference, status_label("reported"))]
    assert reads.count == 0


def test_a_change_another_worker_made_is_on_this_workers_next_page(redis_app, world, readers):
    issue = make_issue(world["neighbour_leader"])
    client = readers["zone_leader"]
    shown(client)
    settle(redis_app)
    shown(client)  # this worker now holds the list
    with another_worker(redis_app):
        transition(world["zone_leader"], issue, "acknowledged")
        db.session.commit()
        second = make_issue(world["neighbour_leader"])
    settle(redis_app)  # the copy is not dropped for want of an answer from Redis, only by what it hears
    assert shown(client) == [
        (second.reference, status_label("reported")),
        (issue.reference, status_label("acknowledged")),
    ]


def test_a_change_is_on_the_next_page_however_long_the_worker_was_idle(redis_app, world, readers):
    """Announcements wait on an idle worker's connection; all of them are read before its copy is served."""
    client = readers["zone_leader"]
    make_issue(world["neighbour_leader"])
    shown(client)
    settle(redis_app)
    shown(client)
    with another_worker(redis_app):
        for _ in range(30):
            make_issue(world["neighbour_leader"])
    settle(redis_app)
    newest = db.session.scalars(select(Issue).order_by(Issue.id.desc()).limit(25)).all()
    assert [reference for reference, _ in shown(client)] == [i.reference for i in newest]


def test_the_copy_is_not_served_when_redis_has_not_answered_lately(redis_app, world, readers, monkeypatch):
    """A frozen Redis answers nothing: once the last answer is older than live_for, the page is read from
    Redis (where the request meets the timeout and the breaker), and after twice that the copy is dropped."""
    client = readers["zone_leader"]
    make_issue(world["neighbour_leader"])
    shown(client)
    settle(redis_app)
    shown(client)
    copy = near(redis_app)
    assert copy.entries
    monkeypatch.setattr(copy.conn, "send_command", lambda *args, **kwargs: None)  # no PING reaches Redis
    start = near_cache.clock()
    monkeypatch.setattr(near_cache, "clock", lambda: start + copy.live_for)
    reads = RedisReads(redis_app, monkeypatch)
    shown(client)
    assert reads.count >= 1  # not from the copy
    monkeypatch.setattr(near_cache, "clock", lambda: start + copy.live_for * 3)
    copy.get("nothing")
    assert not copy.entries and copy.conn is None  # no answer for twice live_for: the channel is dropped


def test_a_lost_channel_drops_the_copy_and_the_worker_subscribes_again(redis_app, world, readers, monkeypatch):
    client = readers["zone_leader"]
    first = make_issue(world["neighbour_leader"])
    shown(client)
    settle(redis_app)
    shown(client)
    copy = near(redis_app)
    assert copy.entries
    copy.conn._sock.shutdown(socket.SHUT_RDWR)  # the connection is gone (Redis restarted, say)
    with another_worker(redis_app):
        second = make_issue(world["neighbour_leader"])  # announced while this worker cannot hear it
    monkeypatch.setattr(near_cache.log, "warning", lambda *args: None)
    assert [reference for reference, _ in shown(client)] == [second.reference, first.reference]
    BREAKER.reset()  # the lost connection opened the breaker, as any Redis failure does; a few seconds later:
    settle(redis_app)  # subscribed again: the copy is served once more
    shown(client)
    reads = RedisReads(redis_app, monkeypatch)
    assert [reference for reference, _ in shown(client)] == [second.reference, first.reference]
    assert reads.count == 0


def test_an_entry_read_before_an_announcement_is_not_copied_after_it(redis_app):
    """The entry a request read from Redis (or rendered) may be older than an announcement read meanwhile."""
    _, gen = page_cache.lookup("compound:1", "zh|a")  # a miss, remembered
    copy = near(redis_app)
    copy.drop(["street:9"])  # an announcement read between the miss and the store
    page_cache.store("compound:1", "zh|a", "page a", gen)
    assert not copy.entries
    _, gen = page_cache.lookup("compound:1", "zh|b")
    page_cache.store("compound:1", "zh|b", "page b", gen)
    assert [held[0].body for held in copy.entries.values()] == ["page b"]


def test_a_new_process_starts_its_own_copy(redis_app, monkeypatch):
    """After a fork (gunicorn's workers), the parent's channel and copy are not used."""
    page_cache.lookup("compound:1", "zh|/p/compound/1")
    parent = near(redis_app)
    monkeypatch.setattr(near_cache.os, "getpid", lambda: parent.pid + 1)
    page_cache.lookup("compound:1", "zh|/p/compound/1")
    assert near(redis_app) is not parent


def test_a_process_that_only_writes_keeps_no_copy(redis_app, world):
    """A job's process commits changes but reads no kept page: it subscribes to nothing (an unread channel
    would pile announcements up in Redis)."""
    redis_app.extensions.pop("page_cache_near", None)
    make_issue(world["neighbour_leader"])  # committed: its pages' tags are bumped and announced
    page_cache.store("compound:1", "zh|/p/compound/1", "page", "0")
    assert "page_cache_near" not in redis_app.extensions
