"""Views of the settings blueprint: SLA policy, categories, background jobs, 企业微信 group robots,
rejection reasons, response templates and responsible parties."""

from __future__ import annotations

from datetime import timedelta, timezone

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ... import policy
from ...access import requires
from ...extensions import db
from ...models import (
    HANDLING_LEVELS,
    ORGANISATION_KINDS,
    STATUSES,
    URGENCIES,
    Category,
    Node,
    NotificationChannel,
    Organisation,
    RejectReason,
    ResponseTemplate,
)
from ...services import settings as service
from ...services.issues.reference import DEFAULT_SLA
from ..issues.display import status_label
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

CHINA = timezone(timedelta(hours=8), "CST")  # no daylight saving: a fixed offset is exact


def local_time(value) -> str:
    """A stored UTC time as Beijing time, to the minute."""
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else "—"


def urgency_label(urgency: str) -> str:
    return {"normal": _("Normal"), "urgent": _("Urgent")}[urgency]


def job_kind_label(kind: str) -> str:
    """What a job does, in words (unknown kinds by their code)."""
    labels = {
        "notify": _("Notifications"),
        "webhook": _("Group-robot message"),
        "thumbnail": _("Photo thumbnails"),
    }
    return labels.get(kind, kind)


def refusal(code: str) -> str:
    """The message for a change the service refused."""
    return {
        "bad_cell": _("The time limits could not be saved. Please try again."),
        "out_of_range": _("The time limits could not be saved. Please try again."),
        "resolve_before_ack": _("The time limits could not be saved. Please try again."),
        "bad_code": _("This code cannot be used."),
        "code_taken": _("This code is already used by another category."),
        "name_taken": _("Another category already has this name."),
        "last_category": _("At least one category must stay active, or nobody could file an issue."),
        "bad_node": _("Robots can be set for a 街镇 or a 社区 only."),
        "bad_url": _("This is not a WeChat Work group-robot address."),
        "duplicate_channel": _("This robot is already set for this place."),
        "inactive_channel": _("This robot is switched off; switch it on before testing it."),
        "reason_taken": _("Another rejection reason already has this wording."),
        "last_reason": _("At least one rejection reason must stay active, or no issue could be rejected."),
        "bad_category": _("This category does not exist."),
        "bad_status": _("This status does not exist."),
        "bad_template": _("The template could not be saved. Please check the title and the text."),
        "organisation_taken": _("Another organisation already has this name."),
        "bad_organisation": _("The organisation could not be saved. Please check its name."),
        "bad_kind": _("Choose what kind of organisation this is."),
        "bad_street": _("This 街镇 does not exist."),
        "street_required": _("Choose the 街镇 this office belongs to."),
        "bad_community": _("Some of the chosen communities do not exist; please choose again."),
    }.get(code, _("The change could not be made."))


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
    try:
        changed = service.save_sla(form.values(), current_user)
    except service.SettingsError as err:
        db.session.rollback()
        flash(refusal(err.code), "error")
        return render_sla(form)
    db.session.commit()
    if changed:
        flash(_("Time limits saved. They apply to deadlines set from now on."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return redirect(url_for("settings.sla"))


@bp.route("/sla/defaults", methods=["POST"])
@requires("edit_sla")
def sla_defaults():
    """Put the default time limits back."""
    if ConfirmForm().validate_on_submit():
        service.restore_default_sla(current_user)
        db.session.commit()
        flash(_("The default time limits are back. They apply to deadlines set from now on."), "success")
    return redirect(url_for("settings.sla"))


# --- categories ---------------------------------------------------------------------------------


def render_categories(form: CategoryForm, status: int = 200):
    return (
        render_template(
            "settings/categories.html",
            form=form,
            categories=service.categories(),
            issue_counts=service.issue_counts_by_category(),
            confirm=ConfirmForm(),
        ),
        status,
    )


def next_sort() -> int:
    """A position after the last category."""
    last = db.session.scalar(select(db.func.max(Category.sort)))
    return min((last or 0) + 10, 9999)


def save_form(form, render, apply, message, back):
    """The POST of a settings list's form: invalid → the page again with its messages (a bad CSRF token: 400);
    refused by the service → rolled back, said, the page again with what was typed; else one commit, the
    message for the result, and back to where `back(result)` says."""
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render(form)
    try:
        result = apply()
    except service.SettingsError as err:
        db.session.rollback()
        flash(refusal(err.code), "error")
        return render(form)
    db.session.commit()
    flash(message(result), "success")
    return redirect(back(result))


@bp.route("/categories", methods=["GET", "POST"])
@requires("manage_categories")
def categories():
    """Every category, and a form to add one."""
    if request.method == "GET":
        return render_categories(CategoryForm(formdata=None, data={"sort": str(next_sort())}))
    form = CategoryForm()
    return save_form(
        form,
        render_categories,
        lambda: service.add_category(form.code.data, form.name_zh.data, form.name_en.data, form.sort.number),
        lambda added: _("Category “%(name)s” added.", name=added.name_zh),
        lambda _added: url_for("settings.categories"),
    )


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@requires("manage_categories")
def category(category_id):
    """Rename or move one category."""
    item = db.session.get(Category, category_id) or abort(404)
    if request.method == "GET":
        data = {"name_zh": item.name_zh, "name_en": item.name_en, "sort": str(item.sort)}
        form = CategoryNamesForm(formdata=None, data=data, category_id=item.id)
        return render_template("settings/category.html", category=item, form=form, confirm=ConfirmForm())
    form = CategoryNamesForm(category_id=item.id)
    return save_form(
        form,
        lambda f: render_template("settings/category.html", category=item, form=f, confirm=ConfirmForm()),
        lambda: service.update_category(item, form.name_zh.data, form.name_en.data, form.sort.number),
        lambda _result: _("Category “%(name)s” saved.", name=item.name_zh),
        lambda _result: url_for("settings.categories"),
    )


def switch_active(setter, item, back: str, on_text: str, off_text: str):
    """The deactivate / reactivate buttons of the settings lists: confirm, switch, commit once, say what happened."""
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        try:
            setter(item, active)
        except service.SettingsError as err:
            db.session.rollback()
            flash(refusal(err.code), "error")
            return redirect(back)
        db.session.commit()
        flash(on_text if active else off_text, "success")
    return redirect(back)


@bp.route("/categories/<int:category_id>/active", methods=["POST"])
@requires("manage_categories")
def category_active(category_id):
    """Deactivate a category (issues keep it; nobody can choose it for a new one) or bring it back."""
    item = db.session.get(Category, category_id) or abort(404)
    return switch_active(
        service.set_category_active,
        item,
        url_for("settings.categories"),
        _("Category “%(name)s” can be chosen again.", name=item.name_zh),
        _("Category “%(name)s” deactivated; its issues keep it.", name=item.name_zh),
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
        when=local_time,
        error_summary=service.error_summary,
        kind_label=job_kind_label,
        on_redis=bool(current_app.config.get("REDIS_URL")),
    )


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@requires("view_jobs")
def job_retry(job_id):
    """Give a failed job more tries; it runs (or is handed to a worker) once this request commits."""
    if ConfirmForm().validate_on_submit():
        if service.retry_job(job_id):
            db.session.commit()
            flash(_("Job %(id)s will be tried again.", id=job_id), "success")
        else:
            db.session.rollback()
            flash(_("Job %(id)s is not waiting for a retry (it may have been retried already).", id=job_id), "info")
    return redirect(url_for("settings.jobs"))


# --- 企业微信 group robots -----------------------------------------------------------------------


def node_choices(person) -> dict[str, list[tuple[int, str]]]:
    """The 街镇 and 社区 the person may set a robot for, grouped by 街镇 (for <optgroup>)."""
    nodes = service.channel_nodes(person)
    street_ids = {n.street_id for n in nodes if n.street_id}
    names = dict(db.session.execute(select(Node.id, Node.name).where(Node.id.in_(street_ids))).all())
    grouped: dict[str, list[tuple[int, str]]] = {}
    for node in nodes:
        label = _("%(name)s (the whole 街镇)", name=node.name) if node.level == "street" else node.name
        grouped.setdefault(names.get(node.street_id, "—"), []).append((node.id, label))
    return grouped


def render_channels(form: ChannelForm, status: int = 200):
    return (
        render_template(
            "settings/channels.html",
            form=form,
            channels=service.channels_for(current_user),
            masked=service.masked_url,
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.route("/channels", methods=["GET", "POST"])
@requires("manage_channels")
def channels():
    """The group robots of the places one manages, and a form to add one."""
    choices = node_choices(current_user)
    if request.method == "GET":
        form = ChannelForm(formdata=None)
        form.node_id.choices = choices
        return render_channels(form)
    form = ChannelForm()
    form.node_id.choices = choices
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_channels(form)
    node = db.session.get(Node, form.node_id.data) or abort(404)
    policy.authorize(current_user, "manage_channels", node)
    try:
        service.add_channel(node, form.url.data, allow_local=bool(current_app.testing))
    except service.SettingsError as err:
        db.session.rollback()
        form.url.errors = [refusal(err.code)]
        return render_channels(form)
    db.session.commit()
    flash(_("Robot added for %(name)s. Send it a test message to check it.", name=node.name), "success")
    return redirect(url_for("settings.channels"))


def managed_channel(channel_id: int) -> tuple[NotificationChannel, Node]:
    """A channel the current person manages (404 if none, 403 if not theirs)."""
    channel = db.session.get(NotificationChannel, channel_id) or abort(404)
    node = db.session.get(Node, channel.node_id) or abort(404)
    policy.authorize(current_user, "manage_channels", node)
    return channel, node


@bp.route("/channels/<int:channel_id>/active", methods=["POST"])
@requires("manage_channels")
def channel_active(channel_id):
    """Switch a robot off (nothing more is sent to it) or on again."""
    channel, node = managed_channel(channel_id)
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        if active and not service.webhook_url_ok(channel.url, allow_local=bool(current_app.testing)):
            flash(refusal("bad_url"), "error")
            return redirect(url_for("settings.channels"))
        service.set_channel_active(channel, active)
        db.session.commit()
        if active:
            flash(_("The robot of %(name)s is on again.", name=node.name), "success")
        else:
            flash(_("The robot of %(name)s is off; nothing more is sent to it.", name=node.name), "success")
    return redirect(url_for("settings.channels"))


@bp.route("/channels/<int:channel_id>/test", methods=["POST"])
@requires("manage_channels")
def channel_test(channel_id):
    """Send the robot a test message (as a background job, like every notification)."""
    channel, node = managed_channel(channel_id)
    if ConfirmForm().validate_on_submit():
        try:
            service.send_test_message(channel, node, current_user)
        except service.SettingsError as err:
            db.session.rollback()
            flash(refusal(err.code), "error")
            return redirect(url_for("settings.channels"))
        db.session.commit()
        flash(
            _(
                "A test message is on its way to the group of %(name)s. If it does not arrive, check the address.",
                name=node.name,
            ),
            "success",
        )
    return redirect(url_for("settings.channels"))


# --- rejection reasons (不予受理理由) -------------------------------------------------------------


def next_reason_sort() -> int:
    """A position after the last rejection reason."""
    last = db.session.scalar(select(db.func.max(RejectReason.sort)))
    return min((last or 0) + 10, 9999)


def render_reject_reasons(form: RejectReasonForm):
    """The list of rejection reasons with the add form."""
    return render_template(
        "settings/reject_reasons.html", form=form, reasons=service.reject_reasons(), confirm=ConfirmForm()
    )


@bp.route("/reject-reasons", methods=["GET", "POST"])
@requires("manage_reject_reasons")
def reject_reasons():
    """Every rejection reason, and a form to add one."""
    if request.method == "GET":
        return render_reject_reasons(RejectReasonForm(formdata=None, data={"sort": str(next_reason_sort())}))
    form = RejectReasonForm()
    return save_form(
        form,
        render_reject_reasons,
        lambda: service.add_reject_reason(form.name_zh.data, form.name_en.data, form.sort.number),
        lambda added: _("Rejection reason “%(name)s” added.", name=added.name_zh),
        lambda _added: url_for("settings.reject_reasons"),
    )


def render_reject_reason(reason: RejectReason, form: RejectReasonForm):
    """One rejection reason's page."""
    return render_template("settings/reject_reason.html", reason=reason, form=form, confirm=ConfirmForm())


@bp.route("/reject-reasons/<int:reason_id>", methods=["GET", "POST"])
@requires("manage_reject_reasons")
def reject_reason(reason_id):
    """Reword or move one rejection reason."""
    item = db.session.get(RejectReason, reason_id) or abort(404)
    if request.method == "GET":
        data = {"name_zh": item.name_zh, "name_en": item.name_en, "sort": str(item.sort)}
        return render_reject_reason(item, RejectReasonForm(formdata=None, data=data, reason_id=item.id))
    form = RejectReasonForm(reason_id=item.id)
    return save_form(
        form,
        lambda f: render_reject_reason(item, f),
        lambda: service.update_reject_reason(item, form.name_zh.data, form.name_en.data, form.sort.number),
        lambda _result: _("Rejection reason “%(name)s” saved.", name=item.name_zh),
        lambda _result: url_for("settings.reject_reasons"),
    )


@bp.route("/reject-reasons/<int:reason_id>/active", methods=["POST"])
@requires("manage_reject_reasons")
def reject_reason_active(reason_id):
    """Stop offering a rejection reason (rejected issues keep it) or offer it again."""
    item = db.session.get(RejectReason, reason_id) or abort(404)
    return switch_active(
        service.set_reject_reason_active,
        item,
        url_for("settings.reject_reasons"),
        _("Rejection reason “%(name)s” is offered again.", name=item.name_zh),
        _("Rejection reason “%(name)s” deactivated; issues rejected with it keep it.", name=item.name_zh),
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


def template_form(template: ResponseTemplate | None = None, formdata=None) -> ResponseTemplateForm:
    """The template form with its choices; showing `template` (or a new one) when formdata is None."""
    if formdata is None:
        data = {"category_id": "", "status": "", "sort": str(next_template_sort())}
        if template is not None:
            data = {
                "category_id": str(template.category_id) if template.category_id else "",
                "status": template.status or "",
                "title": template.title,
                "body": template.body,
                "sort": str(template.sort),
            }
        form = ResponseTemplateForm(formdata=None, data=data)
    else:
        form = ResponseTemplateForm()
    return form.set_choices(category_labels(), status_labels())


def next_template_sort() -> int:
    """A position after the last template."""
    last = db.session.scalar(select(db.func.max(ResponseTemplate.sort)))
    return min((last or 0) + 10, 9999)


def render_response_templates(form: ResponseTemplateForm):
    """The list of response templates with the add form."""
    return render_template(
        "settings/response_templates.html",
        form=form,
        templates=service.response_templates(),
        categories=category_labels(),
        statuses=status_labels(),
        confirm=ConfirmForm(),
    )


@bp.route("/response-templates", methods=["GET", "POST"])
@requires("manage_templates")
def response_templates():
    """Every response template, where it is offered, and a form to add one."""
    if request.method == "GET":
        return render_response_templates(template_form())
    form = template_form(formdata=request.form)
    return save_form(
        form,
        render_response_templates,
        lambda: service.add_response_template(*form.values()),
        lambda added: _("Template “%(title)s” added.", title=added.title),
        lambda _added: url_for("settings.response_templates"),
    )


def render_response_template(template: ResponseTemplate, form: ResponseTemplateForm):
    """One response template's page."""
    return render_template("settings/response_template.html", template=template, form=form, confirm=ConfirmForm())


@bp.route("/response-templates/<int:template_id>", methods=["GET", "POST"])
@requires("manage_templates")
def response_template(template_id):
    """Change one template: where it is offered, its title and its text."""
    item = db.session.get(ResponseTemplate, template_id) or abort(404)
    if request.method == "GET":
        return render_response_template(item, template_form(item))
    form = template_form(item, formdata=request.form)
    return save_form(
        form,
        lambda f: render_response_template(item, f),
        lambda: service.update_response_template(item, *form.values()),
        lambda _result: _("Template “%(title)s” saved.", title=item.title),
        lambda _result: url_for("settings.response_templates"),
    )


@bp.route("/response-templates/<int:template_id>/active", methods=["POST"])
@requires("manage_templates")
def response_template_active(template_id):
    """Stop offering a template, or offer it again."""
    item = db.session.get(ResponseTemplate, template_id) or abort(404)
    return switch_active(
        service.set_response_template_active,
        item,
        url_for("settings.response_templates"),
        _("Template “%(title)s” is offered again.", title=item.title),
        _("Template “%(title)s” deactivated.", title=item.title),
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


def organisation_form(organisation: Organisation | None = None, formdata=None) -> OrganisationForm:
    """The organisation form with its choices; showing `organisation` (or a new one) when formdata is None."""
    organisation_id = organisation.id if organisation is not None else None
    if formdata is None:
        data = {"kind": "property", "street_id": ""}
        if organisation is not None:
            data = {
                "name": organisation.name,
                "kind": organisation.kind,
                "street_id": str(organisation.street_id) if organisation.street_id else "",
            }
        form = OrganisationForm(formdata=None, data=data, organisation_id=organisation_id)
    else:
        form = OrganisationForm(organisation_id=organisation_id)
    return form.set_choices(organisation_kind_labels(), service.streets())


def refused(form: OrganisationForm, code: str) -> None:
    """Show a refusal beside the field it is about (a name taken meanwhile by another admin), else on top."""
    field = {"organisation_taken": form.name, "street_required": form.street_id, "bad_street": form.street_id}.get(code)
    if field is not None:
        field.errors = [*field.errors, refusal(code)]
    else:
        flash(refusal(code), "error")


def render_organisations(form: OrganisationForm):
    """The list of responsible parties with the add form."""
    streets = {s.id: s.name for s in service.streets()}
    return render_template(
        "settings/organisations.html",
        form=form,
        organisations=service.organisations(),
        paired=service.paired_counts(),
        streets=streets,
        kind_labels=organisation_kind_labels(),
    )


@bp.route("/organisations", methods=["GET", "POST"])
@requires("manage_organisations")
def organisations():
    """Every responsible party, how many communities each serves, and a form to add one."""
    if request.method == "GET":
        return render_organisations(organisation_form())
    form = organisation_form(formdata=request.form)
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_organisations(form)
    try:
        organisation = service.add_organisation(*form.values())
    except service.SettingsError as err:
        db.session.rollback()
        refused(form, err.code)
        return render_organisations(form)
    db.session.commit()
    flash(_("“%(name)s” added. Now choose the communities it serves.", name=organisation.name), "success")
    return redirect(url_for("settings.organisation", organisation_id=organisation.id))


def pairing_form(organisation: Organisation, formdata=None) -> tuple[PairingForm, list[tuple[Node, list[Node]]]]:
    """The pairing form (every community offered) and the communities grouped by 街镇."""
    grouped = service.communities_by_street()
    if formdata is None:
        form = PairingForm(formdata=None, data={"communities": [c.id for c in organisation.communities]})
    else:
        form = PairingForm()
    form.communities.choices = [(c.id, c.name) for _street, communities in grouped for c in communities]
    return form, grouped


def render_organisation(organisation: Organisation, form: OrganisationForm, pairing: PairingForm, grouped):
    """One organisation's page: its details, its communities, its state."""
    return render_template(
        "settings/organisation.html",
        organisation=organisation,
        form=form,
        pairing=pairing,
        grouped=grouped,
        chosen=set(pairing.communities.data or []),
        confirm=ConfirmForm(),
    )


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@requires("manage_organisations")
def organisation(organisation_id):
    """Rename one organisation, or change its kind or 街镇; the page also pairs it with communities."""
    item = db.session.get(Organisation, organisation_id) or abort(404)
    pairing, grouped = pairing_form(item)
    if request.method == "GET":
        return render_organisation(item, organisation_form(item), pairing, grouped)
    form = organisation_form(item, formdata=request.form)
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_organisation(item, form, pairing, grouped)
    try:
        service.update_organisation(item, *form.values())
    except service.SettingsError as err:
        db.session.rollback()
        refused(form, err.code)
        item = db.session.get(Organisation, organisation_id) or abort(404)
        pairing, grouped = pairing_form(item)
        return render_organisation(item, form, pairing, grouped)
    db.session.commit()
    flash(_("“%(name)s” saved.", name=item.name), "success")
    return redirect(url_for("settings.organisations"))


@bp.route("/organisations/<int:organisation_id>/communities", methods=["POST"])
@requires("manage_organisations")
def organisation_communities(organisation_id):
    """Pair the organisation with the ticked communities (their branches can then assign to it)."""
    item = db.session.get(Organisation, organisation_id) or abort(404)
    pairing, grouped = pairing_form(item, formdata=request.form)
    if not pairing.validate():
        if pairing.csrf_token.errors:
            abort(400)
        return render_organisation(item, organisation_form(item), pairing, grouped)
    try:
        service.set_organisation_communities(item, pairing.communities.data or [])
    except service.SettingsError as err:
        db.session.rollback()
        flash(refusal(err.code), "error")
        return redirect(url_for("settings.organisation", organisation_id=organisation_id))
    db.session.commit()
    flash(
        ngettext(
            "“%(name)s” now serves %(num)d community.",
            "“%(name)s” now serves %(num)d communities.",
            len(item.communities),
            name=item.name,
        ),
        "success",
    )
    return redirect(url_for("settings.organisation", organisation_id=organisation_id))


@bp.route("/organisations/<int:organisation_id>/active", methods=["POST"])
@requires("manage_organisations")
def organisation_active(organisation_id):
    """Deactivate an organisation (nothing new is assigned to it) or bring it back."""
    item = db.session.get(Organisation, organisation_id) or abort(404)
    return switch_active(
        service.set_organisation_active,
        item,
        url_for("settings.organisation", organisation_id=organisation_id),
        _("“%(name)s” can be assigned issues again.", name=item.name),
        _("“%(name)s” deactivated; issues already assigned to it keep it.", name=item.name),
    )
