"""Login throttling (登录限流): counts failures per key in a fixed window.

With Redis configured the counters live there (shared by every web process, expiring by
themselves); without it, or while Redis is unreachable, they live in the database.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from ..extensions import db
from ..models import LoginFailure, utcnow
from ..redis_conn import get_redis, key

log = logging.getLogger("governance.throttle")


def _window() -> int:
    return int(current_app.config["LOGIN_THROTTLE_WINDOW"])


def _redis_or_none():
    """The Redis client if it answers, else None (login must keep working without Redis)."""
    client = get_redis()
    if client is None:
        return None
    try:
        client.ping()
    except Exception:  # noqa: BLE001 - any connection problem means: use the database
        log.warning("Redis unreachable; login throttling falls back to the database")
        return None
    return client


def failures(throttle_key: str) -> int:
    """Failures recorded for a key in the current window."""
    client = _redis_or_none()
    if client is not None:
        value = client.get(key("login", throttle_key))
        return int(value or 0)
    row = db.session.get(LoginFailure, throttle_key)
    if row is None or row.window_start + timedelta(seconds=_window()) < utcnow():
        return 0
    return row.count


def record_failure(throttle_key: str) -> None:
    """Count one failure; the window starts at the first failure."""
    client = _redis_or_none()
    if client is not None:
        redis_key = key("login", throttle_key)
        pipe = client.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, _window(), nx=True)
        pipe.execute()
        return
    now = utcnow()
    row = db.session.get(LoginFailure, throttle_key)
    if row is None:
        db.session.add(LoginFailure(key=throttle_key, count=1, window_start=now))
    elif row.window_start + timedelta(seconds=_window()) < now:
        row.count, row.window_start = 1, now
    else:
        row.count += 1
    db.session.flush()


def clear(throttle_key: str) -> None:
    """Forget a key's failures after a successful login."""
    client = _redis_or_none()
    if client is not None:
        client.delete(key("login", throttle_key))
    row = db.session.get(LoginFailure, throttle_key)
    if row is not None:
        db.session.delete(row)
        db.session.flush()
