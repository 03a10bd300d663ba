"""The API-key page: list the keys of one's area, issue one (its value shown once), revoke one."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import policy, web
from ...access import requires
from ...extensions import db
from ...formatting import LEVEL_LABELS, local_time
from ...forms import options
from ...models import ApiKey, Node
from ...services.public import open311 as service
from ...urls import public_url
from . import bp
from .forms import ApiKeyForm, RevokeForm


def node_choices(person) -> list:
    """The district, 街镇 and 社区 the person may bind a key to, labelled with their level."""
    return options((node.id, f"{node.name}（{LEVEL_LABELS[node.level]}）") for node in service.key_nodes(person))


def render_keys(form: ApiKeyForm, new_key: str | None = None, status: int = 200):
    """The page; `new_key` is the value of a key just issued, shown this once."""
    return (
        render_template(
            "apikeys/index.html",
            form=form,
            keys=service.keys_for(current_user),
            new_key=new_key,
            revoke=RevokeForm(),
            local_time=local_time,
            endpoint=public_url("open311.discovery", fmt="xml").rsplit("/", 1)[0],
        ),
        status,
    )


@bp.route("/", methods=["GET", "POST"])
@requires("manage_api_keys")
def index():
    """The keys of the places one manages, and a form to issue one."""
    choices = node_choices(current_user)
    if request.method == "GET":
        form = ApiKeyForm(formdata=None)
        form.node_id.choices = choices
        return render_keys(form)
    form = ApiKeyForm()
    form.node_id.choices = choices
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_keys(form)
    node = db.session.get(Node, form.node_id.data) or abort(404)
    policy.authorize(current_user, "manage_api_keys", node)
    outcome = web.attempt(lambda: service.issue_key(current_user, node, form.name.data))
    if outcome.refused:
        form.name.errors = [outcome.error.message]
        return render_keys(form, status=outcome.error.status)
    api_key, value = outcome.result
    # Rendered, not redirected: the value must not travel through the (signed, not secret) session cookie.
    fresh = ApiKeyForm(formdata=None)
    fresh.node_id.choices = choices
    flash(_("Key %(prefix)s… issued for %(name)s.", prefix=api_key.prefix, name=node.name), "success")
    return render_keys(fresh, new_key=value)


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@requires("manage_api_keys")
def revoke(key_id: int):
    """Revoke a key: every request made with it is refused from now on."""
    api_key = db.session.get(ApiKey, key_id) or abort(404)
    policy.authorize(current_user, "manage_api_keys", api_key.node)
    if not RevokeForm().validate_on_submit():
        abort(400)
    outcome = web.attempt(lambda: service.revoke_key(current_user, api_key))
    if outcome.refused:  # the place is no longer the person's (checked above): as the policy says
        abort(outcome.error.status)
    if outcome.result:
        flash(_("Key %(prefix)s… revoked; it no longer works.", prefix=api_key.prefix), "success")
    else:
        flash(_("Key %(prefix)s… was already revoked.", prefix=api_key.prefix), "info")
    return redirect(url_for("apikeys.index"))
