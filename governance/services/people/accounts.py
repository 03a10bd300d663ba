"""Accounts: login, activation codes, passwords, disabling and role removal.

Service functions flush and never commit; the request (or CLI command) commits once.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ...extensions import db
from ...formatting import BEIJING
from ...models import ActivationCode, Node, Person, RoleAssignment, utcnow
from ...parsing import MOBILE_RE, parse_mobile  # noqa: F401 - MOBILE_RE: what a stored number looks like
from ..errors import ServiceError
from ..platform import audit, throttle
from . import turnover

# No 0/O, 1/I/L: codes are read off paper and typed on a phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
# NIST SP 800-63B 5.1.1.2: at least 8 characters, any characters, no composition rules, and never a
# password that is commonly used, a run of one character or a sequence, or the account's own number.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "data" / "common_passwords.txt"
SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc")
# A hash to check against when the number is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ServiceError):
    """A refused login, activation or password change; the form is shown again with the message beside the
    field it is about. Too many failures (throttled, slowed) answer 429, `retry_after` seconds."""

    MESSAGES = {
        "invalid": _l("The mobile number or password is not right."),
        "not_activated": _l(
            "This number has not been activated yet, so it has no password. Activate it first with the "
            "activation code on the slip from your community. Lost the slip? Ask your community party branch "
            "for a new one."
        ),
        "invalid_code": _l("The mobile number or activation code is not right, or the code has expired."),
        "invalid_reset_code": _l("The mobile number or reset code is not right, or the code has expired."),
        "disabled": _l("This account is disabled: enable it first, then issue a code."),
        "throttled": _l(
            "Too many failed attempts. You can try again after %(until)s (in about %(minutes)s minutes). "
            "Forgot your password? Your community party branch can give you a new code to set a new one."
        ),
        "slowed": _l("Too many failed attempts for this number. Please wait %(seconds)s seconds and try again."),
        "too_short": _l("The new password needs at least 8 characters."),
        "too_common": _l(
            "This password is too easy to guess: it is a commonly used password, or a repeated or sequential "
            "run of characters such as aaaaaaaa or 12345678. Any other 8 or more characters will do; "
            "a few unrelated words are easy to remember."
        ),
        "contains_mobile": _l("The new password must not contain your mobile number."),
        "wrong_current": _l("The current password is not right."),
    }
    STATUS = {"throttled": 429, "slowed": 429}
    DEFAULT_STATUS = 200

    def __init__(self, code: str, retry_after: int | None = None, **params):
        super().__init__(code, retry_after=retry_after, seconds=retry_after, **params)
        self.retry_after = retry_after


def locked_out(seconds: int) -> AccountError:
    """The refusal of a locked-out attempt, saying when (Beijing time, to the minute, rounded up) it ends."""
    until = datetime.now(BEIJING) + timedelta(seconds=seconds)
    if until.second or until.microsecond:
        until = until.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return AccountError("throttled", seconds, until=until.strftime("%H:%M"), minutes=max(1, math.ceil(seconds / 60)))


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of commonly used passwords (lower-case), read once."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _is_run_or_sequence(password: str) -> bool:
    """One character repeated (aaaaaaaa), a short pattern repeated (abababab), or a stretch of an alphabet,
    the digits or a keyboard row, either way (12345678, 87654321, qwertyui)."""
    text = password.lower()
    if len(set(text)) <= 2:
        return True
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return any(text in run or text in run[::-1] for run in SEQUENCES)


def password_problem(password: str, mobile: str | None = None) -> str | None:
    """Why a new password is not acceptable ('too_short' | 'too_common' | 'contains_mobile'), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if password.lower() in common_passwords() or _is_run_or_sequence(password):
        return "too_common"
    if mobile and (mobile in password or mobile[-8:] in password):
        return "contains_mobile"
    return None


def find_by_mobile(mobile: str) -> Person | None:
    """The person with this (normalised) number."""
    return db.session.scalar(select(Person).where(Person.mobile == mobile))


def _throttle_account(raw_mobile: str | None) -> tuple[str | None, str]:
    """The normalised number (or None) and the account part of the throttle keys for an attempt."""
    mobile = parse_mobile(raw_mobile)
    # A malformed number is keyed by its digest: arbitrary input never reaches a key or a query.
    account = mobile or hashlib.sha256((raw_mobile or "").encode("utf-8", "replace")).hexdigest()[:20]
    return mobile, account


def _admit(account: str, address: str) -> throttle.Attempt:
    """Count the attempt before any secret is checked (services/platform/throttle.py), or refuse it."""
    try:
        return throttle.admit(account, address)
    except throttle.Throttled as refused:
        if refused.retry_after:
            raise AccountError("slowed", refused.retry_after) from None
        raise locked_out(refused.locked_for or current_app.config["LOGIN_THROTTLE_WINDOW"]) from None


def authenticate(raw_mobile: str, password: str, address: str) -> Person:
    """Check a login; raises AccountError('throttled' | 'slowed' | 'not_activated' | 'invalid').

    What a failure reveals (account enumeration): a wrong password and an unknown or disabled number read
    the same ('invalid'). An enabled account that was never activated is said to be so ('not_activated'): its
    leader cannot log in at all until they activate, and "wrong password" sent them round the loop into the
    lockout. What this tells a stranger — that a number is a leader's account still waiting for its first
    password — is little and slow to learn: the accounts are leaders' numbers, known to their branch and
    printed on the slips; the lockout message already answers per number; and the attempt is counted before
    anything is looked up, exactly like any other failure, so asking costs the same tries (5 per number per
    address, 30 per address, every 15 minutes). It says nothing about the password or the code.
    """
    mobile, account = _throttle_account(raw_mobile)
    attempt = _admit(account, address)
    person = find_by_mobile(mobile) if mobile else None
    stored = person.password_hash if person is not None and person.password_hash else _DUMMY_HASH
    password_ok = check_password_hash(stored, password or "")
    if person is not None and person.enabled and not person.password_hash:
        throttle.failed(attempt)
        raise AccountError("not_activated")
    if person is None or not person.is_active or not password_ok:
        throttle.failed(attempt)
        raise AccountError("invalid")
    throttle.succeeded(attempt)
    person.last_login_at = utcnow()
    db.session.flush()
    return person


def _digest(code: str) -> str:
    """Keyed digest of a code; the key is the app secret so a leaked table is not enough."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, code.upper().replace(" ", "").replace("-", "").encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    """A fresh random code of CODE_LENGTH characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass
class IssuedCode:
    """One slip of a printed code sheet."""

    person: Person
    code: str
    roles: list[RoleAssignment]
    expires_at: datetime
    # A password-reset code: the account already has a password, which the code replaces.
    reset: bool = False


def issue_codes(issuer: Person | None, people: list[Person]) -> list[IssuedCode]:
    """Issue one activation code per person, revoking any earlier unused one (shown once, stored hashed)."""
    now = utcnow()
    expires = now + current_app.config["ACTIVATION_CODE_TTL"]
    ids = [p.id for p in people]
    if ids:
        db.session.execute(
            update(ActivationCode)
            .where(
                ActivationCode.person_id.in_(ids),
                ActivationCode.used_at.is_(None),
                ActivationCode.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    issued = []
    rows = []
    for person in people:
        code = new_code()
        rows.append(
            {
                "person_id": person.id,
                "code_hash": _digest(code),
                "issued_by_id": issuer.id if issuer else None,
                "issued_at": now,
                "expires_at": expires,
            }
        )
        issued.append(IssuedCode(person, code, list(person.roles), expires, reset=person.password_hash is not None))
    if rows:
        db.session.execute(ActivationCode.__table__.insert(), rows)
    db.session.flush()
    return issued


def issue_sheet(issuer: Person, people: list[Person]) -> list[IssuedCode]:
    """A printed sheet of codes for the people of a 片 (or smaller) who have not activated yet: each earlier
    unused code stops working, so the log says who printed it and for whom — one line per slip, marked as one
    bulk action (never the codes, which exist only on paper)."""
    with audit.batch():
        issued = issue_codes(issuer, people)
        for item in issued:
            _record_issued(issuer, item)
    db.session.flush()
    return issued


def _record_issued(issuer: Person, item: IssuedCode) -> None:
    """The audit line of one issued code: who issued it for whom (never the code)."""
    action = "reset_code_issued" if item.reset else "activation_code_issued"
    audit.record_change(issuer, action, _who(item.person), **audit.place_of(item.person))


def issue_code(issuer: Person, person: Person) -> IssuedCode:
    """A new one-time code for one person (a lost slip, a forgotten password, a locked-out phone): an activation
    code while the account was never activated, a password-reset code after. Printed on a slip like the
    activation codes; any earlier unused code stops working; it expires like them (ACTIVATION_CODE_TTL).

    The number's lockout is lifted here (throttle.forget_account), so that the leader can use the code from the
    phone that locked itself out. This stays as strict as it was: only a manager of the person can do it, by
    hand, audited, and the most it gives a stranger who was locked out on the number is a fresh round of the
    usual tries per address against a new 8-character code. One audit entry says who issued a code for whom —
    never the code, which exists only on the slip.
    """
    if not person.enabled:
        raise AccountError("disabled")
    # First: the counters are written on a connection of their own, which on SQLite would wait for this
    # session's write lock. Lifted a moment early if the rest then fails: a few more tries, nothing else.
    throttle.forget_account(person.mobile)
    (item,) = issue_codes(issuer, [person])
    _record_issued(issuer, item)
    db.session.flush()
    return item


def people_under(node: Node) -> list[Person]:
    """Everyone holding a role on this node or below it, ordered along the tree (for a printed list)."""
    level_col = {
        "district": None,
        "street": Node.street_id,
        "community": Node.community_id,
        "zone": Node.zone_id,
        "group": Node.group_id,
        "neighbour": Node.id,
    }[node.level]
    query = select(Person).join(RoleAssignment, RoleAssignment.person_id == Person.id).join(Node)
    if level_col is not None:
        query = query.where(level_col == node.id)
    query = query.order_by(Node.zone_id, Node.group_id, Node.id, Person.id)
    seen, people = set(), []
    for person in db.session.scalars(query):
        if person.id not in seen:
            seen.add(person.id)
            people.append(person)
    return people


@dataclass
class CodeUsed:
    """A one-time code used: the person, now logged in on this device, and whether it replaced a password."""

    person: Person
    reset: bool


def activate(raw_mobile: str, code: str, password: str, address: str) -> CodeUsed:
    """Set a password with a one-time code — the first (activation) or a new one (password reset); raises
    AccountError('throttled'|'slowed'|'invalid'|password problem). The code is used up, and any other unused
    code of the person revoked; the auth version goes up (every other session of the person ends: the caller
    also revokes their login rows, auth_session.end_all); the number's failures are forgotten; one audit entry."""
    mobile, account = _throttle_account(raw_mobile)
    problem = password_problem(password or "", mobile)
    if problem:
        raise AccountError(problem)
    attempt = _admit(account, address)
    person = find_by_mobile(mobile) if mobile else None
    now = utcnow()
    row = None
    if person is not None and person.enabled:
        row = db.session.scalar(
            select(ActivationCode).where(
                ActivationCode.person_id == person.id,
                ActivationCode.code_hash == _digest(code or ""),
                ActivationCode.used_at.is_(None),
                ActivationCode.revoked_at.is_(None),
                ActivationCode.expires_at > now,
            )
        )
    if row is None:
        throttle.failed(attempt)
        raise AccountError("invalid")
    throttle.succeeded(attempt)  # before this session writes: the counters commit on a connection of their own
    reset = person.password_hash is not None
    row.used_at = now
    db.session.execute(
        update(ActivationCode)
        .where(
            ActivationCode.person_id == person.id,
            ActivationCode.id != row.id,
            ActivationCode.used_at.is_(None),
            ActivationCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    person.password_hash = generate_password_hash(password)
    person.activated_at = person.activated_at or now
    person.auth_version += 1
    person.last_login_at = now
    audit.record_change(
        person, "password_reset" if reset else "account_activated", _who(person), **audit.place_of(person)
    )
    db.session.flush()
    return CodeUsed(person, reset)


def change_password(person: Person, current: str, new: str, address: str) -> None:
    """Change a password after checking the current one, throttled like a login on the same account (the
    form must not be an unlimited oracle for the current password); every other session ends."""
    problem = password_problem(new or "", person.mobile)
    if problem:
        raise AccountError(problem)
    attempt = _admit(person.mobile, address)
    if not person.password_hash or not check_password_hash(person.password_hash, current or ""):
        throttle.failed(attempt)
        raise AccountError("wrong_current")
    throttle.succeeded(attempt)
    person.password_hash = generate_password_hash(new)
    person.auth_version += 1
    db.session.flush()


def set_enabled(actor: Person | None, person: Person, enabled: bool) -> turnover.Handover | None:
    """Disable or re-enable an account; a disabled person's sessions end on their next request.

    Disabling ends the person's leader roles for the tree (turnover: their open work is handed on, each node
    they led becomes vacant) but keeps the assignments, so re-enabling gives them back.
    """
    if bool(person.enabled) == enabled:
        return None
    person.enabled = enabled
    where = audit.place_of(person)
    handover = None
    if not enabled:
        person.auth_version += 1
        db.session.flush()
        handover = turnover.end_roles(actor, list(person.roles), "disabled")
    audit.record_change(actor, "account_disabled" if not enabled else "account_enabled", _who(person), **where)
    db.session.flush()
    return handover


def remove_role(actor: Person | None, role: RoleAssignment) -> turnover.Handover:
    """Take one role away; the person's scope shrinks on their next request, and their open work under that
    role is handed on (turnover.end_roles)."""
    return turnover.end_roles(actor, [role], "removed")


def _who(person: Person) -> str:
    """A person as an account entry of the audit log names them."""
    return f"{person.name}（{person.mobile}）"
