"""Views of the settings blueprint: SLA policy, categories, background jobs, 企业微信 group robots,
rejection reasons, response templates and responsible parties.

The lists admins keep are described here (ManagedListPages) and served by the views of lists.py; what is
particular to one list stays here: a robot's test message, an organisation's communities."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ... import policy, web
from ...access import requires
from ...extensions import db
from ...formatting import local_time, status_label, urgency_label
from ...forms import options
from ...models import (
    HANDLING_LEVELS,
    ORGANISATION_KINDS,
    STATUSES,
    URGENCIES,
    Node,
    NotificationChannel,
    Organisation,
)
from ...services import settings as service
from ...services.issues.reference import DEFAULT_SLA
from . import bp
from .forms import (
    CategoryForm,
    CategoryNamesForm,
    ChannelForm,
    ConfirmForm,
    OrganisationForm,
    PairingForm,
    RejectReasonForm,
    ResponseTemplateForm,
    SlaForm,
)
from .lists import ManagedListPages, register


def job_kind_label(kind: str) -> str:
    """What a job does, in words (unknown kinds by their code)."""
    labels = {
        "notify": _("Notifications"),
        "webhook": _("Group-robot message"),
        "thumbnail": _("Photo thumbnails"),
    }
    return labels.get(kind, kind)


@bp.route("/")
@requires("open_settings")
def index():
    """The settings the person may change."""
    return render_template("settings/index.html")


# --- SLA policy ---------------------------------------------------------------------------------


def render_sla(form: SlaForm, status: int = 200):
    return (
        render_template(
            "settings/sla.html",
            form=form,
            confirm=ConfirmForm(),
            levels=HANDLING_LEVELS,
            urgencies=URGENCIES,
            urgency_label=urgency_label,
            defaults=DEFAULT_SLA,
            low=service.SLA_MIN_HOURS,
            high=service.SLA_MAX_HOURS,
        ),
        status,
    )


@bp.route("/sla", methods=["GET", "POST"])
@requires("edit_sla")
def sla():
    """Hours to acknowledge and to resolve, per handling level and urgency, saved all at once."""
    if request.method == "GET":
        return render_sla(SlaForm(formdata=None, data=SlaForm.initial(service.sla_table())))
    form = SlaForm()
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Some time limits need correcting; nothing was saved."), "error")
        return render_sla(form)
    outcome = web.attempt(lambda: service.save_sla(form.values(), current_user))
    if outcome.refused:
        flash(outcome.error.message, "error")
        return render_sla(form, outcome.error.status)
    if outcome.result:  # how many hours changed
        flash(_("Time limits saved. They apply to deadlines set from now on."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for("settings.sla"))


@bp.route("/sla/defaults", methods=["POST"])
@requires("edit_sla")
def sla_defaults():
    """Put the default time limits back."""
    back = url_for("settings.sla")
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    return web.perform(
        lambda: service.restore_default_sla(current_user),
        done=_("The default time limits are back. They apply to deadlines set from now on."),
        to=back,
        refused=lambda _err: redirect(back),
        say_refusal=True,
        code=302,
    )


# --- categories ---------------------------------------------------------------------------------

CATEGORIES = ManagedListPages(
    endpoint="categories",
    singular="category",
    id_arg="category_id",
    action="manage_categories",
    rules=service.CATEGORIES,
    new_form=CategoryForm,
    edit_form=CategoryNamesForm,
    rows=service.categories,
    list_extras=lambda: {"issue_counts": service.issue_counts_by_category()},
    added=lambda item: _("Category “%(name)s” added.", name=item.name_zh),
    saved=lambda item: _("Category “%(name)s” saved.", name=item.name_zh),
    switched_on=lambda item: _("Category “%(name)s” can be chosen again.", name=item.name_zh),
    switched_off=lambda item: _("Category “%(name)s” deactivated; its issues keep it.", name=item.name_zh),
)


# --- background jobs ----------------------------------------------------------------------------


@bp.route("/jobs")
@requires("view_jobs")
def jobs():
    """How much work is waiting, what failed and why, with a retry button for each failure; failed and
    stuck jobs are all listed, whatever their age, stuck ones ahead of the rest."""
    waiting, stuck_ids = service.waiting_jobs()
    return render_template(
        "settings/jobs.html",
        counts=service.job_counts(),
        failed=service.failed_jobs(),
        waiting=waiting,
        stuck_ids=stuck_ids,
        limit=service.ATTENTION_LIMIT,
        lease_minutes=int(service.jobs.lease().total_seconds() // 60),
        confirm=ConfirmForm(),
        when=lambda value: local_time(value, empty="—"),
        error_summary=service.error_summary,
        kind_label=job_kind_label,
        on_redis=bool(current_app.config.get("REDIS_URL")),
    )


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@requires("view_jobs")
def job_retry(job_id):
    """Give a failed job more tries; it runs (or is handed to a worker) once this request commits."""
    if ConfirmForm().validate_on_submit():
        if web.attempt(lambda: service.retry_job(job_id)).result:
            flash(_("Job %(id)s will be tried again.", id=job_id), "success")
        else:
            flash(_("Job %(id)s is not waiting for a retry (it may have been retried already).", id=job_id), "info")
    return redirect(url_for("settings.jobs"))


# --- 企业微信 group robots -----------------------------------------------------------------------


def node_choices(person) -> list:
    """The 街镇 and 社区 the person may set a robot for, grouped by 街镇 (each under its <optgroup>)."""
    nodes = service.channel_nodes(person)
    street_ids = {n.street_id for n in nodes if n.street_id}
    names = dict(db.session.execute(select(Node.id, Node.name).where(Node.id.in_(street_ids))).all())
    grouped: dict[str, list[tuple[int, str]]] = {}
    for node in nodes:
        label = _("%(name)s (the whole 街镇)", name=node.name) if node.level == "street" else node.name
        grouped.setdefault(names.get(node.street_id, "—"), []).append((node.id, label))
    return [choice for street, pairs in grouped.items() for choice in options(pairs, optgroup=street)]


def managed_channel(channel_id: int) -> tuple[NotificationChannel, Node]:
    """A channel the current person manages (404 if none, 403 if not theirs)."""
    channel = db.session.get(NotificationChannel, channel_id) or abort(404)
    node = db.session.get(Node, channel.node_id) or abort(404)
    policy.authorize(current_user, "manage_channels", node)
    return channel, node


def channel_node(form: ChannelForm) -> dict:
    """The chosen place, which must be one the person manages, and the address."""
    node = db.session.get(Node, form.node_id.data) or abort(404)
    policy.authorize(current_user, "manage_channels", node)
    return {"node": node, **form.values()}


def place_name(channel: NotificationChannel) -> str:
    return db.session.get(Node, channel.node_id).name


def with_places(form: ChannelForm) -> ChannelForm:
    form.node_id.choices = node_choices(current_user)
    return form


CHANNELS = ManagedListPages(
    endpoint="channels",
    singular="channel",
    id_arg="channel_id",
    action="manage_channels",
    rules=service.CHANNELS,
    new_form=ChannelForm,
    choices=with_places,
    values=channel_node,
    load=lambda channel_id: managed_channel(channel_id)[0],
    rows=lambda: service.channels_for(current_user),
    list_extras=lambda: {"masked": service.masked_url},
    refusal_field=lambda form, _code: form.url,
    added=lambda item: _("Robot added for %(name)s. Send it a test message to check it.", name=place_name(item)),
    switched_on=lambda item: _("The robot of %(name)s is on again.", name=place_name(item)),
    switched_off=lambda item: _("The robot of %(name)s is off; nothing more is sent to it.", name=place_name(item)),
)


@bp.route("/channels/<int:channel_id>/test", methods=["POST"])
@requires("manage_channels")
def channel_test(channel_id):
    """Send the robot a test message (as a background job, like every notification)."""
    channel, node = managed_channel(channel_id)
    back = url_for("settings.channels")
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    return web.perform(
        lambda: service.send_test_message(channel, node, current_user),
        done=_(
            "A test message is on its way to the group of %(name)s. If it does not arrive, check the address.",
            name=node.name,
        ),
        to=back,
        refused=lambda _err: redirect(back),
        say_refusal=True,
        code=302,
    )


# --- rejection reasons (不予受理理由) -------------------------------------------------------------

REJECT_REASONS = ManagedListPages(
    endpoint="reject_reasons",
    singular="reject_reason",
    id_arg="reason_id",
    action="manage_reject_reasons",
    rules=service.REJECT_REASONS,
    new_form=RejectReasonForm,
    edit_form=RejectReasonForm,
    rows=service.reject_reasons,
    added=lambda item: _("Rejection reason “%(name)s” added.", name=item.name_zh),
    saved=lambda item: _("Rejection reason “%(name)s” saved.", name=item.name_zh),
    switched_on=lambda item: _("Rejection reason “%(name)s” is offered again.", name=item.name_zh),
    switched_off=lambda item: _(
        "Rejection reason “%(name)s” deactivated; issues rejected with it keep it.", name=item.name_zh
    ),
)


# --- response templates (回复模板) ----------------------------------------------------------------


def category_labels() -> dict[int, str]:
    """Every category by id, the deactivated ones marked (a template may still point at one)."""
    labels = {}
    for item in service.categories():
        labels[item.id] = item.name_zh if item.active else _("%(name)s (deactivated)", name=item.name_zh)
    return labels


def status_labels() -> dict[str, str]:
    """Every status by code, in lifecycle order."""
    return {status: status_label(status) for status in STATUSES}


RESPONSE_TEMPLATES = ManagedListPages(
    endpoint="response_templates",
    singular="response_template",
    id_arg="template_id",
    action="manage_templates",
    rules=service.RESPONSE_TEMPLATES,
    new_form=ResponseTemplateForm,
    edit_form=ResponseTemplateForm,
    blank=lambda: {"category_id": "", "status": ""},
    choices=lambda form: form.set_choices(category_labels(), status_labels()),
    rows=service.response_templates,
    list_extras=lambda: {"categories": category_labels(), "statuses": status_labels()},
    added=lambda item: _("Template “%(title)s” added.", title=item.title),
    saved=lambda item: _("Template “%(title)s” saved.", title=item.title),
    switched_on=lambda item: _("Template “%(title)s” is offered again.", title=item.title),
    switched_off=lambda item: _("Template “%(title)s” deactivated.", title=item.title),
)


# --- responsible parties (责任单位) ----------------------------------------------------------------


def organisation_kind_labels() -> dict[str, str]:
    """Every kind of responsible party, in words."""
    labels = {
        "property": _("Property company"),
        "developer": _("Developer"),
        "department": _("District department (区直单位)"),
        "street_office": _("Street office (街镇)"),
    }
    return {kind: labels[kind] for kind in ORGANISATION_KINDS}


def organisation_refusal_field(form: OrganisationForm, code: str):
    """A refusal goes beside the field it is about (a name taken meanwhile by another admin), else on top."""
    return {"organisation_taken": form.name, "street_required": form.street_id, "bad_street": form.street_id}.get(code)


def pairing_form(organisation: Organisation, formdata=None) -> tuple[PairingForm, list[tuple[Node, list[Node]]]]:
    """The pairing form (every community offered) and the communities grouped by 街镇."""
    grouped = service.communities_by_street()
    if formdata is None:
        form = PairingForm(formdata=None, data={"communities": [c.id for c in organisation.communities]})
    else:
        form = PairingForm()
    form.communities.choices = options((c.id, c.name) for _street, communities in grouped for c in communities)
    return form, grouped


def organisation_url(organisation: Organisation) -> str:
    return url_for("settings.organisation", organisation_id=organisation.id)


def organisation_page(organisation: Organisation) -> dict:
    """What an organisation's page shows besides its form: its communities, ticked, grouped by 街镇."""
    pairing, grouped = pairing_form(organisation)
    return {"pairing": pairing, "grouped": grouped}


ORGANISATIONS = ManagedListPages(
    endpoint="organisations",
    singular="organisation",
    id_arg="organisation_id",
    action="manage_organisations",
    rules=service.ORGANISATIONS,
    new_form=OrganisationForm,
    edit_form=OrganisationForm,
    blank=lambda: {"kind": "property", "street_id": ""},
    choices=lambda form: form.set_choices(organisation_kind_labels(), service.streets()),
    rows=service.organisations,
    list_extras=lambda: {
        "paired": service.paired_counts(),
        "streets": {s.id: s.name for s in service.streets()},
        "kind_labels": organisation_kind_labels(),
    },
    item_extras=organisation_page,
    refusal_field=organisation_refusal_field,
    added=lambda item: _("“%(name)s” added. Now choose the communities it serves.", name=item.name),
    saved=lambda item: _("“%(name)s” saved.", name=item.name),
    switched_on=lambda item: _("“%(name)s” can be assigned issues again.", name=item.name),
    switched_off=lambda item: _("“%(name)s” deactivated; issues already assigned to it keep it.", name=item.name),
    after_add=organisation_url,  # next: the communities it serves
    after_switch=organisation_url,
)


@bp.route("/organisations/<int:organisation_id>/communities", methods=["POST"])
@requires("manage_organisations")
def organisation_communities(organisation_id):
    """Pair the organisation with the ticked communities (their branches can then assign to it)."""
    item = db.session.get(Organisation, organisation_id) or abort(404)
    pairing, grouped = pairing_form(item, formdata=request.form)
    back = organisation_url(item)
    return web.submit(
        pairing,
        lambda typed: ORGANISATIONS.item_page(item, ORGANISATIONS.form(item), pairing=typed, grouped=grouped),
        lambda: service.set_organisation_communities(item, pairing.communities.data or []),
        done=lambda _result: ngettext(
            "“%(name)s” now serves %(num)d community.",
            "“%(name)s” now serves %(num)d communities.",
            len(item.communities),
            name=item.name,
        ),
        to=back,
        refused=lambda _err: redirect(back),
        say_refusal=True,
        code=302,
    )


for pages in (CATEGORIES, CHANNELS, REJECT_REASONS, RESPONSE_TEMPLATES, ORGANISATIONS):
    register(bp, pages)
