"""Views of a resident's report to their 邻长 (居民反映, services/residents/reports.py): the no-login form of a
小区 (its QR is on the notice-board poster, its link on the 小区 page and beside each leader named there), the
tracking page the resident keeps, and the rating of the fix from it.

None of these pages is cached or indexed: the form carries a CSRF token and the tracking page is the
resident's own. A device is known by a long-lived random cookie (REPORT_DEVICE_COOKIE) the form sets; it only
counts the device's reports (the service keeps a keyed digest of it, never the value).
"""

from __future__ import annotations

import secrets
import uuid

from flask import abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from ... import web
from ...access import public
from ...client import client_address
from ...extensions import csrf
from ...formatting import RESIDENT_DECLINE_LABELS, SATISFACTION_LABELS, local_time
from ...forms import Form, offered, options
from ...parsing import parse_id
from ...services.issues import places
from ...services.platform import photos
from ...services.public import projection as public_data
from ...services.residents import reports
from ...urls import public_url
from . import bp

REPORT_DEVICE_COOKIE = "resident_device"
DEVICE_COOKIE_DAYS = 400  # the longest a browser keeps a cookie


class ResidentReportForm(Form):
    """What a resident sends: the service checks every value and says what is wrong beside its field."""

    category = SelectField(_l("What kind of problem"), validate_choice=False)
    building = SelectField(_l("Building"), validate_choice=False)
    text = TextAreaField(
        _l("What and where"),
        render_kw={
            "maxlength": reports.TEXT_MAX,
            "rows": 5,
            "placeholder": _l("e.g. The light at the door of unit 2 is out"),
        },
    )
    photos = MultipleFileField(_l("Photos (up to 3, optional)"), render_kw={"accept": "image/*"})
    phone = StringField(
        _l("Your phone, if you want a call back (optional)"),
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "tel", "maxlength": 20},
    )
    # Made with the blank form: the same key twice makes one report and gives back the same tracking link.
    form_key = HiddenField()


def _choices(form: ResidentReportForm, buildings) -> None:
    form.category.choices = options(((str(c.id), c.label) for c in places.active_categories()), blank=_("Choose…"))
    form.building.choices = options(
        ((str(b.id), b.name) for b in buildings), blank=_("Not a building (the grounds, a gate, the car park…)")
    )


def _render_form(compound, form: ResidentReportForm, status: int = 200, error: str | None = None):
    response = make_response(
        render_template("public/report_form.html", compound=compound, form=form, error=error), status
    )
    if not request.cookies.get(REPORT_DEVICE_COOKIE):
        response.set_cookie(
            REPORT_DEVICE_COOKIE,
            secrets.token_urlsafe(24),
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/compound/<int:compound_id>/report", methods=["GET", "POST"])
@public
@csrf.exempt  # the form checks its own token (form.validate), so an expired one comes back with what was typed
def report(compound_id: int):
    """Tell the 邻长 about a problem: kind, what and where, building, up to three photos, a phone if wanted."""
    found = reports.compound_places(compound_id)
    if found is None:
        abort(404)
    compound, buildings = found
    if request.method == "GET" and places.neighbour_for(compound, None) is None:
        # No 邻 of this 小区 to send to: said before any typing (a POST is refused by the service the same way).
        return _render_form(compound, None, 200, str(reports.ReportError("no_neighbour").message))
    if request.method == "GET":
        form = ResidentReportForm(formdata=None)
        _choices(form, buildings)
        wanted = request.args.get("building", "")
        form.building.data = wanted if wanted in offered(form.building) else ""
        form.form_key.data = uuid.uuid4().hex
        return _render_form(compound, form)
    budget = int(current_app.config["RESIDENT_REPORT_MAX_BYTES"])
    if (request.content_length or 0) > budget:  # refused before the body is read: nothing to keep
        form = ResidentReportForm(formdata=None)
        _choices(form, buildings)
        form.form_key.data = uuid.uuid4().hex
        message = _(
            "The photos are too large to send together (at most %(mb)s MB in all). Please send fewer or smaller "
            "photos.",
            mb=budget // (1024 * 1024),
        )
        return _render_form(compound, form, 413, message)
    form = ResidentReportForm()
    _choices(form, buildings)
    if not form.validate():  # only the CSRF token can fail: the page was open too long, or cookies are off
        form.form_key.data = form.form_key.data or uuid.uuid4().hex
        return _render_form(compound, form, 400, _("The form had expired. Please check it and send it again."))
    uploads = [f for f in (form.photos.data or []) if getattr(f, "filename", "")]
    limit = int(current_app.config["RESIDENT_REPORT_PHOTOS"])
    if len(uploads) > limit:
        form.photos.errors = [str(reports.ReportError("too_many_photos", max=limit).message)]
        return _render_form(compound, form, 413)
    submission = reports.Submission(
        compound_id=compound.id,
        building_id=parse_id(form.building.data) if form.building.data else None,
        category_id=parse_id(form.category.data),
        text=form.text.data or "",
        phone=form.phone.data or "",
        form_key=form.form_key.data,
    )
    if submission.building_id is None and form.building.data:
        form.building.errors = [str(reports.ReportError("bad_building").message)]
        return _render_form(compound, form, 422)
    try:
        stored = photos.save_uploads(uploads)
    except photos.PhotoError as err:
        form.photos.errors = [err.message]
        return _render_form(compound, form, err.status)
    source = reports.Source(device=request.cookies.get(REPORT_DEVICE_COOKIE) or None, address=client_address())
    outcome = web.attempt(lambda: reports.send(submission, source, stored))
    if outcome.refused or not outcome.result[2]:
        for item in stored:  # refused, or a resend that found the first report
            photos.discard(item)
    if outcome.refused:
        err = outcome.error
        field = getattr(form, err.field, None) if getattr(err, "field", None) else None
        if field is not None:
            field.errors = [err.message]
            return _render_form(compound, form, err.status)
        return _render_form(compound, form, err.status, err.message)
    _report, token, _created = outcome.result
    return redirect(url_for(".track", token=token, sent=1), code=303)


def _unknown_link():
    message = _("This tracking link is not known. Please check that it was copied completely.")
    return render_template("public/gone.html", message=message, title=_("Tracking link")), 404


@bp.route("/track/<token>")
@public
def track(token: str):
    """The resident's page of their report: its reference, where it is, and once it became an issue, the issue's
    public progress (and, once resolved, a button to rate the fix)."""
    report = reports.find(token)
    if report is None:
        return _unknown_link()
    item = public_data.public_issue(report.issue.reference) if report.issue is not None else None
    response = make_response(
        render_template(
            "public/track.html",
            report=report,
            item=item,
            token=token,
            link=public_url(".track", token=token),
            sent=request.args.get("sent") == "1",
            may_rate=reports.may_rate(report),
            decline_label=RESIDENT_DECLINE_LABELS.get(report.decline_reason or "", ""),
            local_time=local_time,
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/track/<token>/rate", methods=["GET", "POST"])
@public
def track_rate(token: str):
    """Rate the fix of the report's issue: the same three answers, chosen and confirmed, counted once."""
    report = reports.find(token)
    if report is None:
        return _unknown_link()
    if not reports.may_rate(report):
        return redirect(url_for(".track", token=token), code=303)
    item = public_data.public_issue(report.issue.reference, with_timeline=False)
    return rating_page(item, lambda chosen: reports.rate(token, chosen), url_for(".track_rate", token=token))


def rating_page(item, record, again: str):
    """The rating form of a fix: three equal answers, none chosen; a chosen one is shown back to confirm (or
    choose again) before `record(answer)` counts it, once. Shared by the rating link and the tracking page."""
    chosen = request.form.get("rating", "") if request.method == "POST" else ""
    if request.method == "POST" and chosen not in SATISFACTION_LABELS:
        error = _("Please choose one of the three answers.")
        return render_template("public/rate.html", item=item, choices=SATISFACTION_LABELS, error=error), 400
    if request.method == "POST" and request.form.get("confirm") == "1":
        outcome = web.attempt(lambda: record(chosen))
        if outcome.refused:
            return render_template("public/gone.html", message=outcome.error.message), outcome.error.status
        return render_template("public/rated.html", item=item, answer=SATISFACTION_LABELS[chosen])
    if request.method == "POST":  # chosen, not yet confirmed: nothing is counted yet
        label = SATISFACTION_LABELS[chosen]
        return render_template("public/rate_confirm.html", item=item, chosen=chosen, label=label, again=again)
    return render_template("public/rate.html", item=item, choices=SATISFACTION_LABELS, error=None)
