"""A worker's own copy of the pages kept in Redis (近缓存): a kept page served without asking Redis.

Redis stays the one place pages are kept (page_cache.py). An entry is copied into the worker when one of
its requests read it from Redis or stored it there, and the copy is served only while

- the entry is fresh by the cache's own rule (younger than page_cache.TTL);
- no change to one of its tags has been announced since: every invalidation publishes the tags it bumped
  on one channel (`announce`), and the worker reads the channel's connection — without waiting — before it
  answers from its copy, dropping the entries of every tag announced;
- Redis has answered this worker lately: every PING_EVERY seconds the worker sends a PING down the same
  connection, and it trusts its copy only while the answer to a PING sent less than `live_for` seconds ago
  (half the socket timeout) has come back. Redis answers in order, so every announcement made before that
  PING has been read by then. A Redis that froze or went away stops the copy within `live_for`, and the
  request then asks Redis as before (meeting its timeout and the breaker, redis_conn.py).

Why whoever just acted sees their change at once, on whichever worker: the acting request's invalidation
returns only after Redis ran the PUBLISH and answered one more command (a PING after the invalidation's
script: Redis writes the announcement in the same turn as the script's answer, not necessarily before it), so the
announcement is on every worker's connection before the response to the actor leaves; the actor's next
request reads it off the connection before looking at the copy. A writer that loses Redis mid-way waits
out the socket timeout — longer than `live_for` — so by the time it answers, no worker trusts its copy.
(Across hosts the announcement still needs its one-way trip, which the actor's own next request — a full
round trip through the network — cannot beat.)

An idle worker's announcements wait on its connection, all read at its next request; Redis holds them up to
its pub/sub output limit (by default 8 MB for a minute: tens of thousands of announcements), past which it
drops the connection and the worker forgets its copy. A process that never reads a kept page (a job) starts
no copy and subscribes to nothing.

What a change made while its announcement could not be sent leaves: the writer's own breaker open (it met a
Redis failure within the last few seconds) while other workers still reach Redis — the writer announces it
before it next reads or keeps anything through Redis, or with its next change (page_cache.Unannounced), so
it never serves a page from before its own change; until then the other workers' copies keep what they hold,
for at most its age limit (a page TTL, a kept login KEEP_LOGIN_FOR), as a page kept in Redis itself would.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict

log = logging.getLogger("governance.public_cache")
MAX_ENTRIES = 1000  # per worker, the least recently used dropped first
PONGS = (b"PONG", [b"pong", b""])  # the answer to PING on a subscribed connection (RESP3, RESP2)
PING_EVERY_SHARE = 0.2  # of live_for: a PING at most this often, so an answer is never older than live_for


def clock() -> float:
    """The copy's clock (tests move it instead of sleeping)."""
    return time.monotonic()


class NearCache:
    """The copy of one worker (one process, one Redis client), read and written under its lock."""

    def __init__(self, client, channel: str, live_for: float):
        self.client = client
        self.channel = channel
        self.pid = os.getpid()
        self.live_for = live_for
        self.ping_every = live_for * PING_EVERY_SHARE
        self.lock = threading.RLock()
        self.conn = None
        self.entries: OrderedDict[str, tuple] = OrderedDict()  # page id → (entry, gen, tags)
        self.by_tag: dict[str, set[str]] = {}
        self.heard = 0  # announcements read so far: a copy is only taken when none came in meanwhile
        self.misses: dict[str, int] = {}  # page id → `heard` when a request missed it (for the store after)
        self.ping_sent_at: float | None = None
        self.answered_at = float("-inf")  # when the last answered PING was sent
        NEARS.add(self)

    # --- the channel ---------------------------------------------------------------------------

    def _connect(self) -> None:
        pool = self.client.connection_pool
        conn = pool.connection_class(**pool.connection_kwargs)
        conn.connect()
        conn.send_command("SUBSCRIBE", self.channel)
        conn.read_response(push_request=True)  # the confirmation; announcements come after it
        self.conn = conn

    def _lose(self, exc: Exception | None = None) -> None:
        """The channel failed: forget the copy (nothing is known to be current) and reconnect later."""
        if exc is not None:
            log.warning("page announcements lost (%s); pages are read from Redis", exc)
        if self.conn is not None:
            with contextlib.suppress(Exception):  # it is being dropped anyway
                self.conn.disconnect()
        self.conn = None
        self.ping_sent_at = None
        self.answered_at = float("-inf")
        self._forget()

    def _forget(self) -> None:
        self.entries.clear()
        self.by_tag.clear()
        self.misses.clear()
        self.heard += 1

    def _read_channel(self) -> None:
        """Read whatever has arrived, without waiting: announcements drop entries, an answer dates the
        copy; then send the next PING when one is due."""
        try:
            if self.conn is None:
                self._connect()
            conn = self.conn
            while conn.can_read(timeout=0):
                reply = conn.read_response(push_request=True)
                if isinstance(reply, list) and reply[0] == b"message":
                    self.drop(reply[2].decode().split(" "))
                elif reply in PONGS and self.ping_sent_at is not None:
                    self.answered_at, self.ping_sent_at = self.ping_sent_at, None
            at = clock()
            if self.ping_sent_at is None and at - self.answered_at >= self.ping_every:
                conn.send_command("PING")
                self.ping_sent_at = at
            elif self.ping_sent_at is not None and at - self.ping_sent_at >= self.live_for * 2:
                raise TimeoutError("no answer to PING")  # a frozen Redis: start over once it answers
        except Exception as exc:  # noqa: BLE001 - any failure: serve from Redis, as without this copy
            self._lose(exc)

    def _trusted(self) -> bool:
        return self.conn is not None and clock() - self.answered_at < self.live_for

    # --- the copy ------------------------------------------------------------------------------

    def get(self, page_id: str) -> tuple | None:
        """(entry, gen) from the copy when it may be served (the entry says itself whether it is young enough:
        `entry.young()`), else None — and the miss is remembered so the entry read or rendered next may be
        copied. A copy Redis has not vouched for lately is forgotten whole: a change made while Redis could
        not announce it (frozen, down) must not come back into use once Redis answers again."""
        with self.lock:
            self._read_channel()
            if not self._trusted():
                if self.entries:
                    self._forget()
            else:
                held = self.entries.get(page_id)
                if held is not None and held[0].young():
                    self.entries.move_to_end(page_id)
                    return held[0], held[1]
            self.misses[page_id] = self.heard
            if len(self.misses) > MAX_ENTRIES:
                self.misses.pop(next(iter(self.misses)))
            return None

    def put(self, page_id: str, tags: tuple[str, ...], entry, gen: str) -> None:
        """Copy an entry read from Redis, or stored there, after a miss — unless an announcement came in
        since the miss (the entry may be from before it)."""
        with self.lock:
            if self.misses.pop(page_id, None) != self.heard or self.conn is None:
                return
            self._remove(page_id)
            self.entries[page_id] = (entry, gen, tags)
            for tag in tags:
                self.by_tag.setdefault(tag, set()).add(page_id)
            while len(self.entries) > MAX_ENTRIES:
                self._remove(next(iter(self.entries)))

    def drop(self, tags) -> None:
        """Forget the entries of these tags (an announcement, or this worker's own invalidation)."""
        with self.lock:
            self.heard += 1
            for tag in tags:
                for page_id in self.by_tag.pop(tag, ()):
                    self._remove(page_id)

    def _remove(self, page_id: str) -> None:
        held = self.entries.pop(page_id, None)
        if held is None:
            return
        for tag in held[2]:
            pages = self.by_tag.get(tag)
            if pages is not None:
                pages.discard(page_id)
                if not pages:
                    del self.by_tag[tag]

    def close(self) -> None:
        with self.lock:
            self._lose()


NEARS: weakref.WeakSet[NearCache] = weakref.WeakSet()


def for_client(extensions: dict, client, channel: str, live_for: float) -> NearCache:
    """This worker's copy for the app's Redis client (a new one after a fork or a new client)."""
    near = extensions.get("page_cache_near")
    if near is None or near.client is not client or near.pid != os.getpid() or near.channel != channel:
        if near is not None and near.pid == os.getpid():
            near.close()
        near = extensions["page_cache_near"] = NearCache(client, channel, live_for)
    return near


def existing(extensions: dict, client) -> NearCache | None:
    """This worker's copy if it has one (a process that never reads a kept page — a job — starts none)."""
    near = extensions.get("page_cache_near")
    if near is None or near.client is not client or near.pid != os.getpid():
        return None
    return near


def forget_all() -> None:
    """Forget every copy in this process (tests start from nothing)."""
    for near in list(NEARS):
        with near.lock:
            near._forget()
