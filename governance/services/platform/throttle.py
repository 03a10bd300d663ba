"""Password-guess throttling (登录限流) for login, activation codes and the change-password form.

Every attempt is counted *before* its password is looked at, with an atomic increment (Redis INCR, or an
INSERT … ON CONFLICT DO UPDATE … RETURNING committed on a connection of its own), so a burst of concurrent
guesses cannot all slip past one read of the counter: the n-th attempt sees n. Three counters, each in a
fixed window of LOGIN_THROTTLE_WINDOW seconds:

- per address (`a:<address>`): LOGIN_MAX_FAILURES_PER_ADDRESS attempts that did not succeed, over all
  accounts, refuse that address (one machine trying many numbers);
- per account × address (`p:<account>|<address>`): LOGIN_MAX_FAILURES_PER_ACCOUNT attempts refuse that
  address for that account (one machine guessing one number);
- per account (`m:<account>`), over all addresses: past LOGIN_MAX_FAILURES_PER_ACCOUNT the account is
  *slowed*, never locked: an address must wait LOGIN_DELAY_BASE seconds, doubling with every further
  failure up to LOGIN_DELAY_MAX, between its first try and its next evaluated one (`w:<account>|<address>`,
  the "waiting room"), and again after each failure. A stranger's guesses elsewhere therefore delay the
  leader by at most LOGIN_DELAY_MAX seconds; the right password from the leader's own phone still gets in.

A refusal says which it is: a slowed address how many seconds to wait, a locked-out one (its own tries on
the account, or the address's over all accounts, used up) how long until its counter's window ends — the
login page turns that into a time of day (services/people/accounts.py).

The address is the proxy-aware client address (governance/client.py). A success clears the account's
counters. With Redis configured the counters live there (shared by every web process, expiring by
themselves); without it, or while Redis is unreachable, in the database (`login_failure`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, delete, literal, or_, select, update

from ...extensions import db
from ...models import LoginFailure, utcnow
from ...redis_conn import answering_redis, key
from ..locks import engine_insert

log = logging.getLogger("governance.throttle")
# An address longer than an IPv6 text (whatever a forwarded header carried) is keyed by its digest.
MAX_ADDRESS_LENGTH = 45


class Throttled(Exception):
    """The attempt is refused before any password check. `retry_after`: the seconds an address that is only
    slowed must wait; None when it is locked out until its counter's window ends, `locked_for` seconds."""

    def __init__(self, retry_after: int | None = None, locked_for: int | None = None):
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.locked_for = locked_for


@dataclass
class Attempt:
    """An admitted attempt, to be reported back with failed() or succeeded()."""

    account: str
    address: str
    slowed: bool


def _window() -> int:
    return int(current_app.config["LOGIN_THROTTLE_WINDOW"])


def address_key_part(address: str | None) -> str:
    """The address as it appears in a key: itself, or a digest when it is too long to be an address."""
    address = address or "unknown"
    if len(address) > MAX_ADDRESS_LENGTH:
        return "h" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:32]
    return address


# --- counters: Redis or the database, each step atomic on its own ------------------------------------------


def _insert(values: dict):
    """INSERT … for the engine in use (both support ON CONFLICT DO UPDATE … RETURNING)."""
    return engine_insert(LoginFailure, db.engine.dialect.name).values(**values)


def _run(statement, returning: bool = False):
    """Run one statement on a connection of its own, committed at once: a count must be visible to every
    concurrent attempt before this one's password is checked, and must outlive the request's rollback."""
    with db.engine.begin() as conn:
        result = conn.execute(statement)
        return result.scalar_one() if returning else None


def _incr(name: str) -> int:
    """Add one to a counter (a new window when the old one ended) and return the new count."""
    client = answering_redis()
    if client is not None:
        redis_key = key("login", name)
        pipe = client.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, _window(), nx=True)
        return int(pipe.execute()[0])
    now = utcnow()
    expired = LoginFailure.window_start < now - timedelta(seconds=_window())
    window_type = LoginFailure.window_start.type
    statement = (
        _insert({"key": name, "count": 1, "window_start": now})
        .on_conflict_do_update(
            index_elements=[LoginFailure.key],
            set_={
                "count": case((expired, 1), else_=LoginFailure.count + 1),
                "window_start": case((expired, literal(now, window_type)), else_=LoginFailure.window_start),
            },
        )
        .returning(LoginFailure.count)
    )
    return int(_run(statement, returning=True))


def _decr(name: str) -> None:
    """Take back one count (an attempt that was not evaluated, or one that succeeded)."""
    client = answering_redis()
    if client is not None:
        redis_key = key("login", name)
        if client.decr(redis_key) <= 0:
            client.delete(redis_key)
        return
    _run(
        update(LoginFailure)
        .where(LoginFailure.key == name, LoginFailure.count > 0)
        .values(count=LoginFailure.count - 1)
    )


def _forget(*names: str) -> None:
    client = answering_redis()
    if client is not None:
        client.delete(*(key("login", name) for name in names))
    _run(delete(LoginFailure).where(LoginFailure.key.in_(names)))


def _waiting_since(name: str, restart: bool = False) -> float:
    """When this account × address started waiting (seconds since the epoch); set now if it was not waiting
    (or `restart`)."""
    now = time.time()
    client = answering_redis()
    if client is not None:
        redis_key = key("login", name)
        if restart:
            client.set(redis_key, now, ex=_window())
            return now
        client.set(redis_key, now, nx=True, ex=_window())
        return float(client.get(redis_key) or now)
    moment = utcnow()
    window_type = LoginFailure.window_start.type
    expired = LoginFailure.window_start < moment - timedelta(seconds=_window())
    kept = (
        literal(moment, window_type)
        if restart
        else case((expired, literal(moment, window_type)), else_=LoginFailure.window_start)
    )
    statement = (
        _insert({"key": name, "count": 0, "window_start": moment})
        .on_conflict_do_update(index_elements=[LoginFailure.key], set_={"window_start": kept})
        .returning(LoginFailure.window_start)
    )
    return _run(statement, returning=True).timestamp()


def _read(name: str):
    """(count, seconds left in its window) of a counter, on a connection of its own; (0, 0) when none runs."""
    client = answering_redis()
    if client is not None:
        redis_key = key("login", name)
        pipe = client.pipeline()
        pipe.get(redis_key)
        pipe.ttl(redis_key)
        value, ttl = pipe.execute()
        if value is None:
            return 0, 0
        return int(value), ttl if ttl > 0 else _window()
    with db.engine.connect() as conn:
        row = conn.execute(
            select(LoginFailure.count, LoginFailure.window_start).where(LoginFailure.key == name)
        ).first()
    if row is None:
        return 0, 0
    left = (row.window_start + timedelta(seconds=_window()) - utcnow()).total_seconds()
    return (row.count, math.ceil(left)) if left > 0 else (0, 0)


def _locked_for(name: str) -> int:
    """Seconds until a counter that refused an attempt starts a new window (at least 1)."""
    return max(1, _read(name)[1] or _window())


def _glob_escaped(text: str) -> str:
    """`text` matched literally in a Redis SCAN pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def forget_account(account: str) -> None:
    """Lift every lock on an account: its failures over all addresses, and each address's tries and wait on it.
    The addresses' own counts over all accounts stay. For a person's new one-time code (accounts.issue_code):
    the leader must be able to use it from the phone that was locked out."""
    prefixes = (f"p:{account}|", f"w:{account}|")
    client = answering_redis()
    if client is not None:
        names = [key("login", f"m:{account}")]
        for prefix in prefixes:  # one SCAN per prefix; a code is issued by hand, one person at a time
            names += client.scan_iter(match=_glob_escaped(key("login", prefix)) + "*", count=1000)
        client.delete(*names)
    _run(
        delete(LoginFailure).where(
            or_(
                LoginFailure.key == f"m:{account}",
                *(LoginFailure.key.startswith(prefix, autoescape=True) for prefix in prefixes),
            )
        )
    )


def count(name: str) -> int:
    """The current count of a counter (0 when its window ended); for pages and tests."""
    client = answering_redis()
    if client is not None:
        return int(client.get(key("login", name)) or 0)
    row = db.session.execute(
        select(LoginFailure.count, LoginFailure.window_start).where(LoginFailure.key == name)
    ).first()
    if row is None or row.window_start + timedelta(seconds=_window()) < utcnow():
        return 0
    return row.count


# --- the rule --------------------------------------------------------------------------------------------


def delay(account_failures: int) -> int:
    """Seconds an address waits once the account has this many recent failures (0 below the limit)."""
    cfg = current_app.config
    over = account_failures - cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    if over <= 0:
        return 0
    return int(min(cfg["LOGIN_DELAY_BASE"] * 2 ** (over - 1), cfg["LOGIN_DELAY_MAX"]))


def admit(account: str, address: str | None) -> Attempt:
    """Count an attempt on an account from an address, or raise Throttled; call before checking a password,
    and before the request's own session writes anything (the counters commit on their own connection)."""
    cfg = current_app.config
    address = address_key_part(address)
    pair = f"{account}|{address}"
    if _incr(f"a:{address}") > cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        raise Throttled(locked_for=_locked_for(f"a:{address}"))
    account_failures = _incr(f"m:{account}")
    wait = delay(account_failures)
    if wait:
        if _read(f"p:{pair}")[0] >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
            # This address has used its tries on this account: it is locked out, not merely slowed, and must
            # be told so (and until when) — not "wait 2 seconds", after which it would be refused again.
            _decr(f"m:{account}")
            raise Throttled(locked_for=_locked_for(f"p:{pair}"))
        waited = max(0.0, time.time() - _waiting_since(f"w:{pair}"))  # clocks round to the microsecond
        if waited < wait:
            _decr(f"m:{account}")  # a refused attempt is not a failure: it must not lengthen anyone's wait
            _decr(f"a:{address}")
            raise Throttled(max(1, math.ceil(wait - waited)))
    if _incr(f"p:{pair}") > cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        _decr(f"m:{account}")
        raise Throttled(locked_for=_locked_for(f"p:{pair}"))
    return Attempt(account=account, address=address, slowed=bool(wait))


def failed(attempt: Attempt) -> None:
    """The password (or code) was wrong: the counts stay; a slowed address waits again before its next try."""
    if attempt.slowed:
        _waiting_since(f"w:{attempt.account}|{attempt.address}", restart=True)


def succeeded(attempt: Attempt) -> None:
    """The right password: forget the account's failures (and give back the address's count)."""
    pair = f"{attempt.account}|{attempt.address}"
    _forget(f"m:{attempt.account}", f"p:{pair}", f"w:{pair}")
    _decr(f"a:{attempt.address}")
