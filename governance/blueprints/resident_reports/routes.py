"""Views of the residents' reports blueprint: the list of the reports of my areas, one report (with its photos
and phone) to confirm into an issue or decline, and the branch's block of a report's source."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import policy, web
from ...access import login_required, requires
from ...extensions import db
from ...formatting import RESIDENT_DECLINE_LABELS, local_time
from ...forms import options
from ...models import RESIDENT_REPORT_STATUSES, ResidentReport, ResidentReportPhoto
from ...parsing import parse_id
from ...services.issues import places
from ...services.platform import photos
from ...services.residents import reports
from . import bp
from .forms import ConfirmForm, DeclineForm, SourceForm


@bp.context_processor
def report_helpers():
    return {"local_time": local_time, "DECLINE_LABELS": RESIDENT_DECLINE_LABELS}


@bp.route("/")
@requires("view_resident_reports")
def index():
    """The reports of my areas, waiting ones first; by status, or only those handed to one node's leaders."""
    status = request.args.get("status")
    status = status if status in RESIDENT_REPORT_STATUSES else None
    handler = parse_id(request.args.get("handler")) if request.args.get("handler") else None
    return render_template(
        "resident_reports/index.html",
        items=reports.in_scope(current_user, status, handler),
        counts=reports.status_counts(current_user),
        status=status,
        handler=handler,
    )


def _report(report_id: int) -> ResidentReport:
    report = db.session.get(ResidentReport, report_id) or abort(404)
    policy.authorize(current_user, "handle_resident_report", report)
    return report


def _confirm_form(report: ResidentReport, formdata=None) -> ConfirmForm:
    form = ConfirmForm(formdata=formdata)
    form.category.choices = options((str(c.id), c.label) for c in places.active_categories())
    if formdata is None:
        draft = reports.prefilled(report)
        form.category.data = str(draft.category_id)
        form.title.data = draft.title
        form.description.data = draft.description
        form.idempotency_key.data = uuid.uuid4().hex
    return form


def _render(report, confirm_form=None, decline_form=None, status: int = 200):
    return render_template(
        "resident_reports/detail.html",
        report=report,
        confirm_form=confirm_form or _confirm_form(report),
        decline_form=decline_form or DeclineForm(formdata=None),
        source_form=SourceForm(),
        may_block=policy.allowed(current_user, "block_report_source", report),
        blocks=reports.blocks_of(report),
    ), status


@bp.route("/<int:report_id>")
@login_required
def detail(report_id: int):
    """One report: the resident's words, place, photos and phone; confirm it into an issue or decline it.
    Opening it reads the reader's inbox messages about it (the badge in the top bar goes down)."""
    report = _report(report_id)
    if current_user.unread_at_load != 0 and reports.read_messages(report, [current_user]):
        db.session.commit()
    return _render(report)


@bp.route("/<int:report_id>/confirm", methods=["POST"])
@login_required
def confirm(report_id: int):
    """Make the report an issue (the form prefilled from it) and go to the issue."""
    report = _report(report_id)
    form = _confirm_form(report, request.form)
    if not form.validate():
        abort(400)
    draft = reports.IssueDraft(
        category_id=parse_id(form.category.data),
        title=form.title.data or "",
        description=form.description.data or "",
        urgency=form.urgency.data or "",
    )

    def refused(err):
        if err.code == "decided":
            flash(err.message, "info")
            return redirect(url_for(".detail", report_id=report.id), code=303)
        field = {"bad_title": form.title, "bad_category": form.category, "bad_urgency": form.urgency}.get(err.code)
        if field is not None:
            field.errors = [err.message]
        else:
            flash(err.message, "error")
        return _render(report, confirm_form=form, status=err.status)

    key = (form.idempotency_key.data or "")[:64] or None
    return web.perform(
        lambda: reports.confirm(current_user, report, draft, key),
        done=lambda issue: _("Taken up as issue %(ref)s.", ref=issue.reference),
        to=lambda issue: url_for("issues.detail", issue_id=issue.id),
        refused=refused,
    )


@bp.route("/<int:report_id>/decline", methods=["POST"])
@login_required
def decline(report_id: int):
    """Decline the report with a reason from the list (the resident's tracking page shows it)."""
    report = _report(report_id)
    form = DeclineForm()
    if not form.validate():
        abort(400)

    def refused(err):
        if err.code == "decided":
            flash(err.message, "info")
            return redirect(url_for(".detail", report_id=report.id), code=303)
        form.reason.errors = [err.message]
        return _render(report, decline_form=form, status=err.status)

    return web.perform(
        lambda: reports.decline(current_user, report, form.reason.data or ""),
        done=_("Answered: the resident sees the reason on their tracking page."),
        to=url_for(".detail", report_id=report.id),
        refused=refused,
    )


@bp.route("/<int:report_id>/block", methods=["POST"], defaults={"blocked": True})
@bp.route("/<int:report_id>/unblock", methods=["POST"], defaults={"blocked": False})
@login_required
def source(report_id: int, blocked: bool):
    """Stop the report's source (its phone and its network) from sending reports, or let it send again."""
    report = _report(report_id)
    if not SourceForm().validate():
        abort(400)
    back = url_for(".detail", report_id=report.id)
    return web.perform(
        lambda: reports.set_blocked(current_user, report, blocked),
        done=_("Reports from this source are paused.")
        if blocked
        else _("Reports from this source are accepted again."),
        to=back,
        refused=lambda err: redirect(back, code=303),
        say_refusal=True,
    )


@bp.route("/photo/<int:photo_id>")
@login_required
def photo(photo_id: int):
    """A photo of a report, for those who may handle it (private: never cached by the browser)."""
    item = db.session.get(ResidentReportPhoto, photo_id) or abort(404)
    policy.authorize(current_user, "handle_resident_report", item.report)
    return photos.send_stored_image(item.stored_name)
