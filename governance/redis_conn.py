"""The shared Redis connection of a web (or job) process, with short timeouts and a circuit breaker.

Nothing connects at import time. Web requests must never hang on Redis: every command has a short socket
timeout (`REDIS_SOCKET_TIMEOUT`, half a second), no automatic retries, and after a timeout or a connection
error the breaker opens for `REDIS_BREAKER_SECONDS`. While it is open `get_redis()` answers None, so every
caller takes the path it already has for a deployment without Redis — public pages cache in-process, login
counters live in the database, outbox rows wait as 'pending' for the relay — and a command already holding
a client fails at once instead of waiting. A frozen Redis (SIGSTOP) therefore costs one request one timeout,
not every request several.

Workers do not use this client for their own loop: `governance.worker` opens a plain connection that may
block on the queue (see its docstring). Jobs they run use this one, like the web.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

log = logging.getLogger("governance.redis")


class CircuitBreaker:
    """Per process: after a Redis failure, refuse Redis for a few seconds instead of waiting on it again."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.seconds = 5.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, error: Exception) -> None:
        with self._lock:
            was_open = self.is_open()
            self._open_until = time.monotonic() + self.seconds
        if not was_open:
            log.warning("Redis failed (%s); not used for %.0f s", error, self.seconds)

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0

    def refuse_if_open(self) -> None:
        if self.is_open():
            raise redis.ConnectionError("Redis circuit open after a recent failure")


BREAKER = CircuitBreaker()


class _Guarded:
    """Connection methods that refuse at once while the breaker is open and open it on any failure."""

    def connect_check_health(self, *args, **kwargs):
        BREAKER.refuse_if_open()
        return _watch(super().connect_check_health, *args, **kwargs)

    def send_packed_command(self, *args, **kwargs):
        BREAKER.refuse_if_open()
        return _watch(super().send_packed_command, *args, **kwargs)

    def read_response(self, *args, **kwargs):
        return _watch(super().read_response, *args, **kwargs)


def _watch(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        BREAKER.trip(exc)
        raise


class GuardedConnection(_Guarded, Connection):
    """redis:// connections of the web and job processes."""


class GuardedSSLConnection(_Guarded, SSLConnection):
    """rediss:// connections of the web and job processes."""


def get_redis():
    """The app's Redis client; None when REDIS_URL is not configured, or while the breaker is open after a
    recent failure (callers then fall back exactly as without Redis)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis_client")
    if client is None:  # a new client (a new address, say) starts with the breaker closed
        client = make_client(current_app.config)
        current_app.extensions["redis_client"] = client
        BREAKER.reset()
    return None if BREAKER.is_open() else client


def make_client(config) -> redis.Redis:
    """A client with short timeouts, no retries and the breaker on every connection."""
    BREAKER.seconds = float(config.get("REDIS_BREAKER_SECONDS", 5))
    timeout = float(config.get("REDIS_SOCKET_TIMEOUT", 0.5))
    url = config["REDIS_URL"]
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        connection_class=GuardedSSLConnection if url.startswith("rediss://") else GuardedConnection,
    )


def answering_redis():
    """The client if Redis answers a ping now, else None: for counters that must keep working without Redis
    (login throttling, API rate limits), which then use the database instead."""
    client = get_redis()
    if client is None:
        return None
    try:
        client.ping()
    except Exception:  # noqa: BLE001 - any connection problem means: fall back (the breaker is open now)
        return None
    return client


def key(*parts: str) -> str:
    """A key inside this deployment's namespace."""
    return current_app.config["REDIS_PREFIX"] + ":".join(parts)
