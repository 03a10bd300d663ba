"""Residents' one-time rating links (评价码): the 邻长 hands one over once an issue is resolved.

The link carries 32 random bytes; only their SHA-256 digest is stored, so a database dump cannot be
turned back into working links (the bytes are random, so no salt is needed). A link works once and
for LINK_DAYS, and only while it is the issue's latest link for its current resolution: a new link
replaces the unused one before it, and once the resident has answered, no new link can be made until
the issue is reopened and resolved again. The answer is kept on the issue (`issue.resident_rating`)
and is the issue's one answer to 满意率, before any callback (services/reports/rates.py).
Functions flush and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ... import policy
from ...extensions import db
from ...models import SATISFACTION, Issue, Person, RatingToken, utcnow
from ..errors import ServiceError
from ..locks import locked
from ..public import page_cache
from ..reports import rollups

LINK_DAYS = 14
# A resident rates the fix: while the issue stands resolved or was closed after it.
RATABLE_STATUSES = ("resolved", "closed")
MAX_TOKEN = 64  # token_urlsafe(32) is 43 characters; anything far longer is not one of ours


class RatingError(ServiceError):
    """A refused rating or link: `code` is forbidden, not_resolved, rated, unknown, used, replaced, expired,
    closed or bad_rating."""

    MESSAGES = {
        # Making a link (the 邻长, from the issue page).
        "not_resolved": _l("A rating link can only be made while the issue is resolved."),
        "rated": _l("The resident has already rated this fix, so no new link can be made."),
        # Following one (the resident): the link cannot be used.
        "unknown": _l("This rating link is not known. Please check that it was copied completely."),
        "used": _l("This rating link has already been used. Thank you — your answer was counted once."),
        "expired": _l(
            "This rating link has expired. Ask your neighbour leader for a new one if you still want to rate."
        ),
        "closed": _l("This issue is being handled again, so it cannot be rated now."),
        "replaced": _l(
            "This rating link is no longer valid: a newer link was made for this issue. Please use the newest one."
        ),
    }
    # A link that cannot be used is gone (410), or was never there (404).
    STATUS = {"forbidden": 403, "unknown": 404, "not_resolved": 409, "rated": 409, "bad_rating": 400}
    DEFAULT_STATUS = 410


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def rated(issue: Issue) -> bool:
    """The resident has already answered a link made for the issue's current resolution."""
    if issue.resolved_at is None:
        return False
    return (
        db.session.scalar(
            select(RatingToken.id)
            .where(
                RatingToken.issue_id == issue.id,
                RatingToken.used_at.is_not(None),
                RatingToken.created_at >= issue.resolved_at,
            )
            .limit(1)
        )
        is not None
    )


def create_link(actor: Person, issue: Issue, now: datetime | None = None) -> str:
    """A new one-time link for a resolved issue, by someone the policy lets record its callback; returns the
    token. It replaces the issue's earlier unused links; refused once the resident has rated this resolution."""
    if not policy.allowed(actor, "callback_issue", issue):
        policy.log_denial(actor, "callback_issue", issue)
        raise RatingError("forbidden")
    locked(Issue, issue.id)  # before reading what is checked: the issue as it is now, under the lock
    if issue.status != "resolved" or issue.resolved_at is None:
        raise RatingError("not_resolved")
    if rated(issue):
        raise RatingError("rated")
    now = now or utcnow()
    db.session.execute(
        update(RatingToken)
        .where(RatingToken.issue_id == issue.id, RatingToken.used_at.is_(None), RatingToken.replaced_at.is_(None))
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        RatingToken(
            issue_id=issue.id,
            token_digest=digest(token),
            created_by_id=actor.id,
            created_at=now,
            expires_at=now + timedelta(days=LINK_DAYS),
        )
    )
    db.session.flush()
    return token


def find(token: str) -> RatingToken | None:
    """The link a token stands for, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return db.session.scalar(select(RatingToken).where(RatingToken.token_digest == digest(token)))


def check(link: RatingToken | None, now: datetime | None = None) -> None:
    """Raise RatingError unless the link may still be used."""
    now = now or utcnow()
    if link is None:
        raise RatingError("unknown")
    if link.used_at is not None:
        raise RatingError("used")
    if link.issue.status not in RATABLE_STATUSES:
        raise RatingError("closed")
    if link.replaced_at is not None or link.issue.resolved_at is None or link.created_at < link.issue.resolved_at:
        raise RatingError("replaced")  # a newer link, or a link made for an earlier resolution
    if link.expires_at <= now:
        raise RatingError("expired")


def rate(token: str, rating: str, now: datetime | None = None) -> RatingToken:
    """Record the resident's answer once; a second use (even a concurrent one) is refused as used."""
    now = now or utcnow()
    if rating not in SATISFACTION:
        raise RatingError("bad_rating")
    link = find(token)
    if link is None:
        raise RatingError("unknown")
    locked(Issue, link.issue_id)  # the issue as it is now, under the lock (link.issue below is this copy)
    db.session.refresh(link)
    check(link, now)
    # A conditional UPDATE: of two simultaneous answers, exactly one finds used_at still empty.
    claimed = db.session.execute(
        update(RatingToken)
        .where(
            RatingToken.id == link.id,
            RatingToken.used_at.is_(None),
            RatingToken.replaced_at.is_(None),
            RatingToken.expires_at > now,
        )
        .values(used_at=now, rating=rating)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise RatingError("used")
    db.session.refresh(link)
    _record_answer(link.issue, rating)
    return link


def rate_resolution(issue_id: int, rating: str, now: datetime | None = None) -> Issue:
    """The answer of the resident who reported the issue (from their tracking page, services/residents): the
    same one answer per resolution as a link's. It is kept as a used link of its own, so `rated` and every
    figure read it like a link's, and the issue's unused links stop working."""
    now = now or utcnow()
    if rating not in SATISFACTION:
        raise RatingError("bad_rating")
    issue = locked(Issue, issue_id)  # before reading what is checked: a link answered meanwhile is seen
    if issue is None:
        raise RatingError("unknown")
    if issue.status not in RATABLE_STATUSES or issue.resolved_at is None:
        raise RatingError("closed")
    if rated(issue):
        raise RatingError("used")
    db.session.execute(
        update(RatingToken)
        .where(RatingToken.issue_id == issue.id, RatingToken.used_at.is_(None), RatingToken.replaced_at.is_(None))
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.add(
        RatingToken(
            issue_id=issue.id,
            token_digest=digest(secrets.token_urlsafe(32)),  # never handed out: it only records the answer
            created_at=now,
            expires_at=now,
            used_at=now,
            rating=rating,
        )
    )
    db.session.flush()
    _record_answer(issue, rating)
    return issue


def _record_answer(issue: Issue, rating: str) -> None:
    """The resident's answer on the issue, its rollups and public pages."""
    previous = issue.resident_rating
    # Core, like the claim: the resident's answer is not an edit of the issue (its version stays).
    db.session.execute(
        update(Issue)
        .where(Issue.id == issue.id)
        .values(resident_rating=rating)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(issue)
    rollups.rating_changed(issue, previous)
    # The UPDATEs bypassed the ORM, so the flush hook did not see them: 满意率 on the public pages changes.
    page_cache.mark_issue(issue)
