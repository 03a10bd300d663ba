"""The one way a view runs a service call that changes something: call it, commit once, say what was done,
redirect; or, when the service refuses, roll back and show the page again with why and what was typed.

Services flush and never commit (governance/services/); they refuse with a ServiceError that carries its
own message and HTTP status (services/errors.py). SQLAlchemy's StaleDataError — a versioned row changed by
another request between our read and our write — is the same refusal as the service's own "conflict".

    return web.perform(
        lambda: lifecycle.escalate(current_user, issue, reason, expected_version=version),
        done=_("Escalated."),                       # flashed as "success"; or a function of the result
        to=url_for(".detail", issue_id=issue.id),   # 303 See Other; or a function of the result
        refused=lambda err: render_page(error=err.message, status=err.status),
        conflict=LifecycleError,                    # the class whose "conflict" a stale write becomes
    )

`refused(err)` gets the rolled-back refusal and returns the response: the page again, built from the request's
form so that what was typed is kept, usually with `err.status` (409 conflict, 403 forbidden, 422 otherwise;
a photo's 413 or 503). With `say_refusal=True` the message is also flashed as "error" first, for pages
that show it in the flash area rather than beside the form.

`submit(form, invalid, run, ...)` is the POST of a form: a form that does not validate is shown again by
`invalid(form)` (400 when its CSRF token is missing or wrong: nothing to show a person), otherwise `perform`.

`attempt(run)` is the core for a view whose answer is not a redirect (a page rendered with a value shown
once, a JSON answer, a file): it commits once and returns an Outcome with the result, or rolls back and
returns it with the refusal.

The settings lists (blueprints/settings/lists.py) are the pattern for a form page: a list's add and edit are
`submit(form, render, apply, done=..., to=..., refused=..., code=302)`, whose `refused` puts `err.message`
beside the field it is about (or flashes it) and shows `render(form)` with its status 200; a list's on/off
switch is `perform(..., refused=lambda err: redirect(back), say_refusal=True, code=302)`. Their 302s and
200s are kept as they were: a new page would use the defaults (303, `err.status`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request
from sqlalchemy.orm.exc import StaleDataError

from .extensions import db
from .services.errors import ServiceError


@dataclass
class Outcome:
    """What a service call came to: its result once committed, or the refusal after the rollback."""

    result: Any = None
    error: ServiceError | None = None

    @property
    def refused(self) -> bool:
        return self.error is not None


def attempt(run: Callable[[], Any], *, conflict: type[ServiceError] = ServiceError) -> Outcome:
    """Run the service call and commit once; a refusal (or a stale write, as `conflict`) is rolled back.

    Anything else is rolled back and raised: the request fails as it would have without this.
    """
    try:
        result = run()
        db.session.commit()
    except ServiceError as err:
        db.session.rollback()
        return Outcome(error=err)
    except StaleDataError:  # changed by another request between our read and our write
        db.session.rollback()
        return Outcome(error=conflict(code="conflict"))
    except BaseException:
        db.session.rollback()
        raise
    return Outcome(result=result)


def perform(
    run: Callable[[], Any],
    *,
    done,
    to,
    refused: Callable[[ServiceError], Any],
    conflict: type[ServiceError] = ServiceError,
    say_refusal: bool = False,
    category: str = "success",
    code: int = 303,
):
    """Run, commit, flash `done`, redirect to `to` (each a value or a function of the result); on a refusal,
    the rolled-back refusal goes to `refused`, which answers (see the module's description)."""
    outcome = attempt(run, conflict=conflict)
    if outcome.error is not None:
        if say_refusal:
            flash(outcome.error.message, "error")
        return refused(outcome.error)
    message = done(outcome.result) if callable(done) else done
    if message:
        flash(str(message), category)
    return redirect(to(outcome.result) if callable(to) else to, code=code)


def from_outbox() -> bool:
    """A form sent later by the phone's outbox (outbox.js: a filing or a visit kept offline, sent from any page
    or the service worker): it reads the answer as JSON, refusals included."""
    return request.headers.get("X-Requested-With") == "outbox"


def submit(form, invalid: Callable[[Any], Any], run: Callable[[], Any], **options):
    """The POST of a form: invalid → `invalid(form)` (a bad CSRF token: 400), else `perform(run, **options)`."""
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return invalid(form)
    return perform(run, **options)
