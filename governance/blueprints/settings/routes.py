"""Views of the settings blueprint: SLA policy, categories, background jobs, 企业微信 group robots."""

from __future__ import annotations

from datetime import timedelta, timezone

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ... import policy
from ...access import requires
from ...extensions import db
from ...models import HANDLING_LEVELS, URGENCIES, Category, Node, NotificationChannel
from ...services import settings as service
from ...services.reference import DEFAULT_SLA
from . import bp
from .forms import CategoryForm, CategoryNamesForm, ChannelForm, ConfirmForm, SlaForm

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


@bp.route("/categories", methods=["GET", "POST"])
@requires("manage_categories")
def categories():
    """Every category, and a form to add one."""
    if request.method == "GET":
        return render_categories(CategoryForm(formdata=None, data={"sort": str(next_sort())}))
    form = CategoryForm()
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_categories(form)
    try:
        category = service.add_category(form.code.data, form.name_zh.data, form.name_en.data, form.sort.number)
    except service.SettingsError as err:
        db.session.rollback()
        flash(refusal(err.code), "error")
        return render_categories(form)
    db.session.commit()
    flash(_("Category “%(name)s” added.", name=category.name_zh), "success")
    return redirect(url_for("settings.categories"))


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
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return render_template("settings/category.html", category=item, form=form, confirm=ConfirmForm())
    try:
        service.update_category(item, form.name_zh.data, form.name_en.data, form.sort.number)
    except service.SettingsError as err:
        db.session.rollback()
        flash(refusal(err.code), "error")
        return render_template("settings/category.html", category=item, form=form, confirm=ConfirmForm())
    db.session.commit()
    flash(_("Category “%(name)s” saved.", name=item.name_zh), "success")
    return redirect(url_for("settings.categories"))


@bp.route("/categories/<int:category_id>/active", methods=["POST"])
@requires("manage_categories")
def category_active(category_id):
    """Deactivate a category (issues keep it; nobody can choose it for a new one) or bring it back."""
    item = db.session.get(Category, category_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        try:
            service.set_category_active(item, active)
        except service.SettingsError as err:
            db.session.rollback()
            flash(refusal(err.code), "error")
            return redirect(url_for("settings.categories"))
        db.session.commit()
        if active:
            flash(_("Category “%(name)s” can be chosen again.", name=item.name_zh), "success")
        else:
            flash(_("Category “%(name)s” deactivated; its issues keep it.", name=item.name_zh), "success")
    return redirect(url_for("settings.categories"))


# --- background jobs ----------------------------------------------------------------------------


@bp.route("/jobs")
@requires("view_jobs")
def jobs():
    """How much work is waiting, what failed and why, with a retry button for each failure."""
    return render_template(
        "settings/jobs.html",
        counts=service.job_counts(),
        failed=service.recent_jobs(("failed",)),
        waiting=service.recent_jobs(("pending", "queued", "running")),
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
