"""Views of the notices blueprint: the list (received and sent), sending, reading and answering, and the
results per place with the people still to call."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import policy, web
from ...access import login_required, requires
from ...extensions import db
from ...formatting import LEVEL_LABELS, ROLE_LABELS, local_time
from ...forms import offered, options
from ...models import NOTICE_ROLES, Node, Notice
from ...parsing import parse_id, parse_number
from ...services.outreach import notices
from ...services.people.tree import node_path
from ...services.platform import photos
from ...services.reports import exports
from ...services.reports.rates import NOTICE_DEFINITIONS
from . import bp
from .forms import NoticeForm, ReplyForm

# A results page lists this many people; the download has them all.
PEOPLE_SHOWN_ON_PAGE = 200


@bp.context_processor
def notice_helpers():
    return {"local_time": local_time, "ROLE_LABELS": ROLE_LABELS, "LEVEL_LABELS": LEVEL_LABELS}


@bp.route("/")
@requires("receive_notices")
def index():
    """The notices sent to me (or only those still waiting for me), and those sent inside my area."""
    waiting = request.args.get("waiting") == "1"
    sent = notices.sent_in_scope(current_user) if policy.allowed(current_user, "send_notice") else None
    return render_template(
        "notices/index.html",
        received=notices.received(current_user, waiting_only=waiting),
        waiting=waiting,
        sent=sent,
    )


def _node_choices() -> list:
    return options((str(n.id), f"{n.name}（{LEVEL_LABELS[n.level]}）") for n in notices.target_nodes(current_user))


def _render_new(form: NoticeForm, status: int = 200):
    return render_template("notices/new.html", form=form), status


@bp.route("/new", methods=["GET", "POST"])
@requires("send_notice")
def new():
    """Write a notice and send it to the leaders of a place (and everything under it)."""
    choices = _node_choices()
    if request.method == "GET":
        form = NoticeForm(formdata=None)
        form.node_id.choices = choices
        wanted = request.args.get("node")
        form.node_id.data = wanted if wanted in offered(form.node_id) else None
        form.roles.data = list(NOTICE_ROLES)
        form.idempotency_key.data = uuid.uuid4().hex
        return _render_new(form)
    form = NoticeForm()
    form.node_id.choices = choices
    if not form.validate():  # only the CSRF token can fail here: every choice is checked by the service
        abort(400)
    node_id = parse_id(form.node_id.data)
    node = db.session.get(Node, node_id) if str(node_id) in offered(form.node_id) else None
    if node is None:
        form.node_id.errors = [_("Choose where it goes from the list.")]
        return _render_new(form, 422)
    remind = parse_number(form.remind_after_hours.data, 0, 10_000)
    draft = notices.Draft(
        title=form.title.data or "",
        body=form.body.data or "",
        roles=tuple(form.roles.data or ()),
        urgency=form.urgency.data or "",
        reply_kind=form.reply_kind.data or "",
        reply_label=form.reply_label.data or "",
        remind_after_hours=-1 if remind is None else remind,
    )

    key = (form.idempotency_key.data or "")[:64] or None
    earlier = notices.find_sent(current_user, key)
    if earlier is not None:  # a double tap, or the form sent again after a dropped connection
        flash(_("This notice was already sent."), "info")
        return redirect(url_for(".detail", notice_id=earlier.id), code=303)
    upload = form.photo.data
    photo = None
    if upload is not None and getattr(upload, "filename", ""):
        try:
            photo = photos.save_upload(upload)
        except photos.PhotoError as err:
            form.photo.errors = [err.message]
            return _render_new(form, err.status)

    def run():
        notice, created = notices.send(
            current_user, node, draft, photo_name=photo.stored_name if photo else None, key=key
        )
        if photo is not None and notice.photo_name != photo.stored_name:  # a resend that found the first
            photos.discard(photo)
        return notice, created

    def refused(err):
        if photo is not None:
            photos.discard(photo)
        field = getattr(form, err.field, None) if getattr(err, "field", None) else None
        (field if field is not None else form.node_id).errors = [err.message]
        return _render_new(form, err.status)

    return web.perform(
        run,
        done=lambda sent: (
            _("Notice sent to the leaders of %(place)s.", place=node.name)
            if sent[1]
            else _("This notice was already sent.")
        ),
        to=lambda sent: url_for(".detail", notice_id=sent[0].id),
        refused=refused,
    )


def _notice(notice_id: int) -> tuple[Notice, object]:
    """The notice and the person's own row of it, once the policy lets them open it."""
    notice = db.session.get(Notice, notice_id) or abort(404)
    recipient = notices.recipient_of(notice, current_user)
    policy.authorize(current_user, "read_notice", (notice, recipient))
    return notice, recipient


def _render_detail(notice, recipient, form: ReplyForm, status: int = 200):
    may_see_results = policy.allowed(current_user, "view_notice_results", notice)
    return (
        render_template(
            "notices/detail.html",
            notice=notice,
            recipient=recipient,
            form=form,
            results=notices.breakdown(notice, notice.node) if may_see_results else None,
        ),
        status,
    )


@bp.route("/<int:notice_id>")
@login_required
def detail(notice_id: int):
    """The notice; opening it is the read receipt. Its sender's side sees the figures too."""
    notice, recipient = _notice(notice_id)
    if recipient is not None and recipient.read_at is None:
        web.attempt(lambda: notices.mark_opened(current_user, recipient))
    return _render_detail(notice, recipient, ReplyForm(formdata=None))


@bp.route("/<int:notice_id>/reply", methods=["POST"])
@login_required
def reply(notice_id: int):
    """Answer the notice (one tap, or a short text)."""
    notice, recipient = _notice(notice_id)
    form = ReplyForm()
    if not form.validate():
        abort(400)

    def refused(err):
        form.reply.errors = [err.message]
        return _render_detail(notice, recipient, form, err.status)

    return web.perform(
        lambda: notices.reply(current_user, notice, form.reply.data),
        done=_("Your reply was sent."),
        to=url_for(".detail", notice_id=notice.id),
        refused=refused,
    )


@bp.route("/<int:notice_id>/photo")
@login_required
def photo(notice_id: int):
    """The notice's photo, for whoever may open the notice."""
    notice, _recipient = _notice(notice_id)
    if not notice.photo_name:
        abort(404)
    return photos.send_stored_image(notice.photo_name)


def _place(notice: Notice) -> Node:
    """The place a results page shows (?node=, inside the notice's area); the notice's own by default."""
    raw = request.args.get("node")
    if raw is None or raw == "":
        return notice.node
    node = db.session.get(Node, parse_id(raw)) if parse_id(raw) is not None else None
    if node is None or not notices.in_area(notice, node):
        abort(404)
    return node


def _shown() -> str:
    show = request.args.get("show", "unread")
    return show if show in notices.PEOPLE_SHOWN else "unread"


@bp.route("/<int:notice_id>/results")
@login_required
def results(notice_id: int):
    """Read and reply rates per child of a place, and the people there still to call."""
    notice = db.session.get(Notice, notice_id) or abort(404)
    policy.authorize(current_user, "view_notice_results", notice)
    node = _place(notice)
    show = _shown()
    top = notice.node
    path = [n for n in node_path(node) if n.rank >= top.rank] if node.id != top.id else [top]
    return render_template(
        "notices/results.html",
        notice=notice,
        node=node,
        path=path,
        show=show,
        shown=notices.people(notice, node, show, limit=PEOPLE_SHOWN_ON_PAGE),
        shown_total=notices.people_count(notice, node, show),
        limit=PEOPLE_SHOWN_ON_PAGE,
        result=notices.breakdown(notice, node),
        definitions=NOTICE_DEFINITIONS,
    )


def people_columns() -> list[exports.Column]:
    return [
        exports.Column(_("Name")),
        exports.Column(_("Mobile")),
        exports.Column(_("Role")),
        exports.Column(_("Place")),
        exports.Column(_("Community")),
        exports.Column(_("Read"), "datetime"),
        exports.Column(_("Replied"), "datetime"),
        exports.Column(_("Reply")),
    ]


@bp.route("/<int:notice_id>/results.csv", defaults={"fmt": "csv"})
@bp.route("/<int:notice_id>/results.xlsx", defaults={"fmt": "xlsx"})
@login_required
def results_file(notice_id: int, fmt: str):
    """The people of a results page (all of them) as CSV or Excel, to call down the list."""
    notice = db.session.get(Notice, notice_id) or abort(404)
    policy.authorize(current_user, "view_notice_results", notice)
    node = _place(notice)
    rows = (
        (
            person.name,
            person.mobile,
            str(ROLE_LABELS[recipient.role]),
            place.name,
            community.name if community is not None else "",
            recipient.read_at,
            recipient.replied_at,
            recipient.reply or "",
        )
        for recipient, person, place, community in notices.people(notice, node, _shown())
    )
    stem = _("Notice %(title)s - %(place)s", title=notice.title, place=node.name)
    what = f"通知回执名单（{notice.title}）"
    return exports.recorded_response(current_user, what, node, stem, people_columns(), rows, fmt)
