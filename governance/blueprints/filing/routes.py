"""Views of the filing blueprint: the form, the duplicates fragment, and photo files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ... import policy, web
from ...access import login_required, requires
from ...extensions import db
from ...formatting import BEIJING, category_name
from ...models import Photo
from ...parsing import parse_id
from ...services.issues import lifecycle, places
from ...services.platform import photos
from . import bp
from .forms import FilingForm, new_key

# A draft kept on the phone (IndexedDB) holds at most PHOTOS_PER_ISSUE photos and this many bytes of them,
# after the phone has scaled them to PHOTO_MAX_SIDE (a scaled phone photo is 0.3–1.5 MB).
DRAFT_MAX_BYTES = 10 * 1024 * 1024


def issue_url(issue) -> str:
    """The issue's detail page."""
    return url_for("issues.detail", issue_id=issue.id)


@bp.context_processor
def helpers():
    """What the filing templates call."""
    return {
        "issue_url": issue_url,
        "category_label": category_name,
        "short_date": lambda value: format_date(value.astimezone(BEIJING).date(), "short"),
    }


def wants_json() -> bool:
    """The form's script and the outbox send with fetch and want a JSON answer on success."""
    return request.headers.get("X-Requested-With") in ("fetch", "outbox")


def refusal(form, status: int, duplicates, message):
    """Why a draft from the outbox was not filed: a sentence for the list of drafts, and the errors per field."""
    errors = {name: [str(e) for e in field.errors] for name, field in form._fields.items() if field.errors}
    if message is None:
        message = " ".join(
            " ".join(texts)
            if form[name].type == "HiddenField"
            else _("%(field)s: %(error)s", field=form[name].label.text, error=" ".join(texts))
            for name, texts in errors.items()
        )
    answer = {
        "ok": False,
        "reason": str(message or _("The problem could not be filed. Please check the form.")),
        "errors": errors,
        "duplicates": [issue.reference for issue in duplicates or []],
    }
    if duplicates:
        status = 409
    elif status == 200:
        status = 422
    return jsonify(answer), status


class Choices:
    """Everything the place fields list for this person and what they chose so far. Read when the form is
    shown: a filing that validates and is made never lists them (the form's validators and the service check
    the chosen values themselves), which spares a POST the statements of five lists."""

    def __init__(self, person, form: FilingForm, searching: bool):
        self.person, self.form, self.searching = person, form, searching
        if form.neighbour.data is None and self.large:
            self.options  # noqa: B018 - a POST without a 邻 from someone with hundreds takes their own

    @cached_property
    def total(self) -> int:
        return places.count_neighbours(self.person)

    @cached_property
    def large(self) -> bool:
        return self.total > places.MAX_CHOICES

    @cached_property
    def options(self) -> list:
        form = self.form
        chosen = form.neighbour.data
        search = (form.neighbour_filter.data or "") if self.large else None
        if self.large and not self.searching and not chosen:
            chosen = places.own_neighbour_id(self.person)
        options = places.neighbour_options(self.person, search, include_id=chosen)
        if form.neighbour.data is None and chosen in {o.id for o in options}:
            form.neighbour.data = chosen
        return options

    @cached_property
    def grouped(self) -> list:
        return places.group_options(self.options)

    @cached_property
    def compounds(self) -> list:
        return places.compounds_in({o.community_id for o in self.options})

    @cached_property
    def buildings(self) -> list:
        return places.buildings_of([c.id for c in self.compounds])

    @cached_property
    def multi_compound(self) -> bool:
        return len(self.compounds) > 1

    @cached_property
    def categories(self) -> list[tuple[int, str]]:
        return [(c.id, category_name(c)) for c in places.active_categories()]

    def preselect(self, person, form: FilingForm) -> None:
        """A fresh form: the person's own 邻 (or the only one), and that 邻's 小区."""
        ids = [o.id for o in self.options]
        own = places.own_neighbour_id(person)
        if len(ids) == 1:
            form.neighbour.data = ids[0]
        elif own in ids:
            form.neighbour.data = own
        option = next((o for o in self.options if o.id == form.neighbour.data), None)
        if option is not None:
            form.compound.data = option.compound_id
        elif len({o.compound_id for o in self.options}) == 1 and self.options:
            form.compound.data = self.options[0].compound_id


def render_form(form, choices, *, status=200, duplicates=None, posted=False, message=None):
    """The form page, with everything typed kept (file inputs cannot be, and the page says so)."""
    if web.from_outbox():
        return refusal(form, status, duplicates, message)
    had_photos = posted and any(f.filename for f in request.files.getlist("photos"))
    page = render_template(
        "filing/new.html",
        form=form,
        choices=choices,
        duplicates=duplicates or [],
        had_photos=had_photos,
        message=message,
        max_photos=current_app.config["PHOTOS_PER_ISSUE"],
        max_bytes=current_app.config["PHOTO_MAX_BYTES"],
        max_side=current_app.config["PHOTO_MAX_SIDE"],
        draft_bytes=DRAFT_MAX_BYTES,
    )
    return page, status


def uploaded_files():
    """The chosen files (browsers send one empty part when none was chosen)."""
    return [f for f in request.files.getlist("photos") if f.filename]


@dataclass(frozen=True)
class Filed:
    """What the answer to a filing names, read before the commit expires the issue's attributes (reading them
    after it would load the issue again)."""

    reference: str
    url: str
    created: bool

    @classmethod
    def of(cls, issue, created: bool) -> Filed:
        return cls(issue.reference, issue_url(issue), created)


def done(filed: Filed):
    """Tell the user the reference and show the issue (JSON for the offline-draft script)."""
    if filed.created:
        flash(_("Filed as %(reference)s", reference=filed.reference), "success")
    else:
        flash(_("This problem was already filed as %(reference)s", reference=filed.reference), "info")
    if wants_json():
        body = jsonify(ok=True, created=filed.created, reference=filed.reference, url=filed.url)
        return body, (201 if filed.created else 200)
    return redirect(filed.url)


@bp.route("/", methods=["GET", "POST"])
@requires("file_any")
def new():
    """File a resident's problem: one screen, works without JavaScript, safe to submit twice."""
    person = current_user._get_current_object()
    form = FilingForm()
    form.person = person
    action = request.form.get("action") if request.method == "POST" else None
    choices = Choices(person, form, searching=action == "find")
    if request.method == "GET":
        form.idempotency_key.data = new_key()
        choices.preselect(person, form)
        return render_form(form, choices)
    if action == "find":  # people with hundreds of 邻 search for one first (works without JavaScript)
        if not (form.idempotency_key.data or "").strip():
            form.idempotency_key.data = new_key()
        return render_form(form, choices, posted=True)
    if not form.validate_on_submit():
        status = 403 if form.forbidden else 200
        return render_form(form, choices, status=status, posted=True)

    files = uploaded_files()
    earlier = answer_before_storing(person, form, choices, files)
    if earlier is not None:
        return earlier
    key = form.idempotency_key.data
    limit = current_app.config["PHOTOS_PER_ISSUE"]
    if len(files) > limit:
        form.photos.errors = [_("At most %(n)s photos, please.", n=limit)]
        return render_form(form, choices, posted=True)
    try:
        stored = photos.save_uploads(files)
    except photos.PhotoError as err:
        if err.code == "busy":
            return busy(form, choices, err)
        form.photos.errors = [err.message]
        return render_form(form, choices, status=413 if err.code == "too_large" else 200, posted=True)

    latitude, longitude = form.location()
    data = lifecycle.IssueInput(
        category_id=form.category.data,
        title=form.title.data,
        description=form.description.data or "",
        neighbour_id=form.neighbour.data,
        compound_id=form.compound.data,
        building_id=form.building.data,
        place_detail=form.place_detail.data or "",
        latitude=latitude,
        longitude=longitude,
        urgency=form.urgency.data,
        resident_name=form.resident_name.data or "",
        resident_phone=form.resident_phone.data or "",
    )

    def file_with_photos() -> Filed:
        issue, created = lifecycle.file_issue(person, data, key, look_up_first=False)
        if created and stored:
            filed = next((e for e in issue.events if e.kind == "filed"), None)
            for item in stored:
                photos.attach(issue, item, "before", person, event=filed)
        return Filed.of(issue, created)

    try:
        outcome = web.attempt(file_with_photos)
    except Exception:
        for item in stored:
            photos.discard(item)
        raise
    if outcome.refused:
        for item in stored:
            photos.discard(item)
        err = outcome.error
        field = {
            "bad_category": form.category,
            "bad_urgency": form.urgency,
            "bad_title": form.title,
            "bad_place": form.compound,
        }.get(err.code, form.neighbour)
        field.errors = [*field.errors, err.message]
        return render_form(form, choices, status=err.status, posted=True)
    filed = outcome.result
    if not filed.created:  # lost a race with a concurrent retry of the same filing
        for item in stored:
            photos.discard(item)
    return done(filed)


def answer_before_storing(person, form: FilingForm, choices: Choices, files: list):
    """The answer to a POST before anything is stored, or None to go on and file: a retry of a filing that went
    through gets its first issue, and a filing with similar problems open at the place is shown them.

    The retry is found by its key before its photos would be decoded and stored again, or where it would be
    shown similar problems (its own first issue among them); otherwise by the INSERT, which the unique key turns
    into a look-up — one statement fewer for a filing without photos."""
    duplicates = []
    if not form.confirm_different.data:
        duplicates = places.possible_duplicates(
            person, form.category.data, form.compound.data, form.building.data, form.neighbour.data
        )
    if duplicates or files:
        existing = lifecycle.find_existing(person, form.idempotency_key.data)
        if existing is not None:
            return done(Filed.of(existing, created=False))
    if duplicates:
        message = _("Similar problems are already open here. Is yours one of them?")
        return render_form(form, choices, duplicates=duplicates, posted=True, message=message)
    return None


def busy(form, choices, err):
    """Every photo-decoding slot is taken: 503 with Retry-After, nothing stored. The outbox gets no JSON, so
    its draft is not marked refused and is simply sent again later; the form page keeps what was typed."""
    headers = {"Retry-After": str(err.params.get("retry_after", photos.RETRY_AFTER))}
    if web.from_outbox():
        return err.message, 503, {**headers, "Content-Type": "text/plain; charset=utf-8"}
    page, _status = render_form(form, choices, posted=True, message=err.message)
    return page, 503, headers


@bp.errorhandler(413)
def too_large(error):
    """The whole request was over MAX_CONTENT_LENGTH: show the form again, saying why."""
    db.session.rollback()
    if request.endpoint != "filing.new" or not current_user.is_authenticated:
        return render_template("errors/error.html", code=413, error=error), 413
    form = FilingForm(formdata=None)
    form.person = current_user._get_current_object()
    choices = Choices(form.person, form, searching=False)
    form.idempotency_key.data = new_key()
    choices.preselect(form.person, form)
    total = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = _(
        "The photos were too large to send together (at most %(total)s MB in all). "
        "Choose fewer or smaller photos and send again.",
        total=total,
    )
    return render_form(form, choices, status=413, message=message)


@bp.route("/token")
@login_required
def token():
    """A fresh CSRF token and who is logged in, for drafts sent later from another page or the service worker."""
    return jsonify(csrf_token=generate_csrf(), person=current_user.id)


@bp.route("/duplicates")
@requires("file_any")
def duplicates():
    """Open issues of the same category at the same place, as a fragment the form script shows."""
    args = request.args
    found = places.possible_duplicates(
        current_user,
        parse_id(args.get("category")),
        parse_id(args.get("compound")),
        parse_id(args.get("building")),
        parse_id(args.get("neighbour")),
    )
    return render_template("filing/_duplicates.html", duplicates=found)


@bp.route("/photos/<int:photo_id>", defaults={"thumb": False})
@bp.route("/photos/<int:photo_id>/thumb", defaults={"thumb": True})
@login_required
def photo(photo_id: int, thumb: bool):
    """A stored photo (or its thumbnail: the full photo until the job has made it), for people who may see its issue."""
    item = db.session.get(Photo, photo_id)
    if item is None:
        abort(404)
    policy.authorize(current_user, "view_issue", item.issue)
    name = item.stored_name
    if thumb and item.thumb_name and os.path.exists(photos.path_of(item.thumb_name)):
        name = item.thumb_name
    return photos.send_stored_image(name)
