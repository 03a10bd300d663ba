"""Route access: every endpoint is denied unless a decorator here opens it deliberately."""

from __future__ import annotations

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from . import policy

ACCESS_ATTR = "_access"
# Endpoints that are not view functions of ours but are deliberately public.
BUILTIN_PUBLIC = {"static"}


def public(view):
    """Open to anyone, logged in or not."""
    setattr(view, ACCESS_ATTR, ("public", None))
    return view


def login_required(view):
    """Open to any active, logged-in person; objects are still checked by the view's policy calls."""
    setattr(view, ACCESS_ATTR, ("login", None))
    return view


def requires(action: str):
    """Open to logged-in people whom the policy allows `action` without a target."""

    def decorate(view):
        setattr(view, ACCESS_ATTR, ("action", action))
        return view

    return decorate


def access_of(endpoint: str):
    """The access marker of an endpoint, or None when nobody opened it."""
    if endpoint in BUILTIN_PUBLIC:
        return ("public", None)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTR, None)


def reject_nul():
    """before_request hook: a NUL character is never real input, and PostgreSQL cannot store it."""
    values = [*request.args.values(), *request.form.values(), request.path]
    if any("\x00" in value for value in values):
        abort(400)


def enforce():
    """before_request hook: deny by default, then apply the endpoint's marker."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: let the 404/405 handlers answer
    marker = access_of(endpoint)
    if marker is None:
        policy.log_denial(current_user, f"endpoint:{endpoint}", "no access rule")
        abort(403)
    kind, action = marker
    if kind == "public":
        return None
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    if kind == "action":
        policy.authorize(current_user, action)
    return None
