"""Views of the issues blueprint: the scoped list, the issue page and its actions.

Every action goes through the lifecycle service (services/issues/lifecycle.py), which checks the policy,
the status graph and the version again; a refusal re-renders the page with the message and what
was typed, and nothing is saved. Each request commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ... import policy, web
from ...access import login_required
from ...auth_session import READ_METHODS
from ...extensions import db
from ...formatting import PRIORITY_LABELS, beijing_today, category_name, level_label, remembered, status_label
from ...forms import options
from ...models import (
    HANDLING_LEVELS,
    LEVELS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Category,
    Issue,
    IssueEvent,
    Notification,
    Organisation,
    Photo,
    RejectReason,
    ResponseTemplate,
    utcnow,
)
from ...parsing import parse_id
from ...services.errors import ServiceError
from ...services.issues import places, rating
from ...services.issues.lifecycle import (
    TRANSITION_ACTION,
    TRANSITIONS,
    LifecycleError,
    add_comment,
    escalate,
    escalation_target,
    record_callback,
    transition,
)
from ...services.issues.listing import (
    Cursor,
    OutOfScope,
    area_options,
    cache_key,
    fetch_page,
    find_reference,
    parse_filters,
)
from ...services.people.tree import issue_path, node_path
from ...services.platform import notify, photos
from ...services.public import page_cache
from ...services.triage import operations
from ...urls import url_ids
from . import bp
from .forms import (
    COMMENT_CHOICES,
    AssignForm,
    CallbackForm,
    CommentForm,
    DeclineForm,
    EscalateForm,
    FollowForm,
    PhotoPublicForm,
    PriorityForm,
    RejectForm,
    SendDownForm,
    TransitionForm,
    VersionedForm,
    reject_reason_choices,
)

# --- the list -----------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index():
    """The issues in the person's scope, newest first, filtered and paged by keyset.

    The list part comes from the page cache when someone with the same roles read the same page under the
    current generations of its areas less than a minute ago (a committed change to an issue there, the tree,
    a role, a category or a party drops it at once; only overdue-by-the-clock waits for the minute). It is
    kept only where every worker hears of changes, so whoever files an issue sees it in their list at once."""
    try:
        filters = parse_filters(request.args, current_user)
    except OutOfScope:
        abort(403)
    cursor = Cursor.parse(request.args)
    cursor_arg = "" if cursor is None else f"{cursor.direction}:{cursor.created_at.isoformat()}:{cursor.issue_id}"
    tags, variant = cache_key(current_user, filters, cursor_arg)
    content = page_cache.fragment(tags, variant, lambda: _render_list(filters, cursor))
    return render_template("issues/index.html", content=content)


def _render_list(filters, cursor) -> str:
    page = fetch_page(current_user, filters, cursor)
    categories = list(db.session.scalars(select(Category).order_by(Category.sort, Category.id)))
    return render_template(
        "issues/_list.html",
        page=page,
        filters=filters,
        args=filters.args(),
        quick_args={k: v for k, v in filters.args().items() if k not in ("status", "overdue")},
        chips=filter_chips(filters, categories),
        categories=categories,
        areas=area_options(current_user, filters.node),
        area_path=node_path(filters.node) if filters.node is not None else [],
        statuses=STATUSES,
        levels=HANDLING_LEVELS,
        # What every row repeats, put into the interface language (and URLs) once for the page.
        at_level={level: _("At %(level)s", level=level_label(level)) for level in LEVELS},
        status_labels={status: status_label(status) for status in STATUSES},
        category_labels={c.id: c.label for c in categories},
        issue_url=url_ids("issues.detail", "issue_id"),
    )


def filter_chips(filters, categories) -> list[tuple[str, str]]:
    """(what, link without it) for every filter in force, so each can be dropped with one tap."""
    args = filters.args()
    names = {c.id: c for c in categories}
    labels = {
        "status": _("Open") if filters.status == "open" else status_label(filters.status),
        "category": category_name(names.get(filters.category_id)) or str(filters.category_id),
        "level": _("At %(level)s", level=level_label(filters.level)),
        "overdue": _("Overdue"),
        "q": f"“{filters.q}”",
    }
    # Open, Resolved and Overdue on their own are shown by the quick filters above the list.
    quick = {"status": filters.status in ("open", "resolved") and not filters.overdue, "overdue": not filters.status}
    return [
        (labels[key], url_for(".index", **{k: v for k, v in args.items() if k != key}))
        for key in ("status", "overdue", "category", "level", "q")
        if key in args and not quick.get(key)
    ]


# --- the issue page -----------------------------------------------------------------------------


def load_issue(issue_id: int, with_parts: bool = True) -> Issue:
    """The issue, if it exists and the person may see it (403 otherwise, logged).

    `with_parts`: its category and 邻 come in the same statement — every action shows or checks them; the issue
    page reads them only when it renders its body, not when the body is kept (routes.detail)."""
    options = [joinedload(Issue.category), joinedload(Issue.neighbour)] if with_parts else []
    return _visible(db.session.get(Issue, issue_id, options=options))


# The reference of each issue read in this process: it never changes once the issue is filed, and it names
# the tag a kept issue is found under (load_issue_to_read).
_REFERENCES: dict[int, str] = {}


def load_issue_to_read(issue_id: int) -> tuple[Issue, bool]:
    """The issue for its page (without its parts, see load_issue) and whether the reader has unread messages
    about it (with nothing unread at all, counted with the login, not asked): in one statement, or — a page
    read of an issue read here before — from this worker's copy (page_cache.kept_value) under the issue's tag
    (any change to the issue drops it) and, when the reader has unread messages, theirs (any message of theirs
    written or read drops it), so a kept issue page sends no statement at all."""
    person_id, unread_anywhere = current_user.id, current_user.unread_at_load != 0

    def read(session) -> tuple[Issue | None, bool]:
        if not unread_anywhere:
            return session.get(Issue, issue_id), False
        row = session.execute(
            select(Issue, select(Notification.id).where(*_unread_about(Issue.id, person_id)).exists()).where(
                Issue.id == issue_id
            )
        ).first()
        return (row[0], bool(row[1])) if row else (None, False)

    reference = _REFERENCES.get(issue_id)
    if reference is None or request.method not in READ_METHODS:
        issue, unread_here = read(db.session)
    else:
        tags = (page_cache.issue_tag(reference),)
        if unread_anywhere:  # the reader's messages: their own tag, and the table's for writes that name no one
            tags += page_cache.person_rows(person_id, ("notification",))
        name = f"issue|{issue_id}|{person_id if unread_anywhere else ''}"
        kept, unread_here = page_cache.kept_value(tags, name, read, page_cache.TTL)
        issue = db.session.merge(kept, load=False) if kept is not None else None
    if issue is not None:
        remembered(_REFERENCES, issue_id, lambda: issue.reference)
    return _visible(issue), unread_here


def _unread_about(issue_id, person_id: int) -> tuple:
    """A person's unread messages about an issue (`issue_id` a value or a column)."""
    return Notification.person_id == person_id, Notification.read_at.is_(None), Notification.issue_id == issue_id


def _visible(issue: Issue | None) -> Issue:
    """404 for no issue, 403 (logged) for one the person may not see."""
    if issue is None:
        abort(404)
    policy.authorize(current_user, "view_issue", issue)
    return issue


# Target status → the button that asks for it, and whether it opens a form with a note.
TRANSITION_BUTTONS = {
    "acknowledged": (_l("Acknowledge"), False),
    "in_progress": (_l("Start work"), False),
    "resolved": (_l("Resolve…"), True),
    "closed": (_l("Close…"), True),
    "reopened": (_l("Reopen…"), True),
    "rejected": (_l("Reject…"), True),
    "duplicate": (_l("Merge into another issue…"), True),
    "withdrawn": (_l("Withdraw…"), True),
}
NOTE_LABELS = {
    "resolved": _l("What was done (required)"),
    "closed": _l("Note (optional)"),
    "reopened": _l("Why it is reopened (required)"),
    "rejected": _l("Note (optional)"),
    "duplicate": _l("Note (optional)"),
    "withdrawn": _l("Why it is withdrawn (required)"),
}
DONE_MESSAGES = {
    "acknowledged": _l("Acknowledged."),
    "in_progress": _l("Work has started."),
    "resolved": _l("Resolved. The filing leader will call the resident back."),
    "closed": _l("Closed."),
    "reopened": _l("Reopened."),
    "rejected": _l("Rejected."),
    "duplicate": _l("Merged into the kept issue; its followers now follow that one."),
    "withdrawn": _l("Withdrawn."),
}
ACTION_DONE = {
    "assign": _l("Assigned. The party's staff are notified and asked to accept it."),
    "accept": _l("Accepted: the work has started."),
    "decline": _l("Declined: the issue is back with the community branch."),
    "priority": _l("Priority saved."),
    "send_down": _l("Sent down with your instruction; its leaders are notified."),
}


@dataclass
class Action:
    """One thing the viewer may do on the page."""

    name: str  # also the form's prefix
    label: str
    url: str
    form: object
    with_form: bool = True
    note_label: str = ""


def may_move_to(issue: Issue, to_status: str) -> bool:
    """Whether the status graph leads from the issue's status to `to_status` and the policy lets the viewer take
    that step (the service checks again)."""
    return to_status in TRANSITIONS.get(issue.status, ()) and any(
        policy.allowed(current_user, action, issue) for action in TRANSITION_ACTION[to_status]
    )


def available_actions(issue: Issue, forms: dict) -> list[Action]:
    """Only what the status graph and the policy allow this viewer now (the service checks again)."""
    person = current_user
    actions = []
    for to_status, (label, with_form) in TRANSITION_BUTTONS.items():
        if not may_move_to(issue, to_status):
            continue
        if to_status == "reopened" and not policy.allowed(person, "triage_issue", issue):
            continue  # the 邻长 reopens through the callback form ("not satisfied")
        if to_status == "in_progress" and issue.assignment_state == "pending":
            continue  # the party's 接单 starts the work: the page says it waits for them instead
        url = url_for(".change_status", issue_id=issue.id, to_status=to_status)
        note_label = str(NOTE_LABELS.get(to_status, ""))
        actions.append(Action(to_status, str(label), url, forms[to_status], with_form, note_label))
    target = escalation_target(person, issue)
    if issue.is_open and target and policy.allowed(person, "escalate_issue", issue):
        label = _("Escalate to %(level)s…", level=level_label(target))
        actions.append(Action("escalate", label, url_for(".escalate_issue", issue_id=issue.id), forms["escalate"]))
    if issue.status == "resolved" and policy.allowed(person, "callback_issue", issue):
        label = _("Record the callback…")
        actions.append(Action("callback", label, url_for(".callback", issue_id=issue.id), forms["callback"]))
    actions += triage_actions(issue, forms)
    # Quick one-tap steps first, then the ones that open a form.
    return sorted(actions, key=lambda a: a.with_form)


def triage_actions(issue: Issue, forms: dict) -> list[Action]:
    """Assign, accept, decline, set priority, send down: what triage allows this viewer now."""
    person, actions = current_user, []

    def add(name, label, with_form=True):
        url = url_for(".triage_step", issue_id=issue.id, step=name)
        actions.append(Action(name, str(label), url, forms[name], with_form))

    if issue.is_open and policy.allowed(person, "respond_assignment", issue):
        add("accept", _l("Accept (接单)"), with_form=False)
        add("decline", _l("Decline…"))
    if issue.is_open and policy.allowed(person, "assign_issue", issue):
        add("assign", _l("Reassign…") if issue.assignee_org_id else _l("Assign to a responsible party…"))
        add("priority", _l("Set priority…"))
        if forms["send_down"].level.choices:
            add("send_down", _l("Send down…"))
    return actions


def comment_kinds(issue: Issue) -> list[str]:
    """The kinds of note the viewer may add."""
    kinds = []
    if policy.allowed(current_user, "comment_issue", issue):
        kinds.append("comment")
    if policy.allowed(current_user, "add_internal_note", issue):
        kinds.append("internal_note")
    if policy.allowed(current_user, "triage_issue", issue) or policy.allowed(current_user, "handle_issue", issue):
        kinds.append("public_update")
    return kinds


FORM_CLASSES = {
    **{to_status: TransitionForm for to_status in TRANSITION_BUTTONS},
    "rejected": RejectForm,
    "escalate": EscalateForm,
    "callback": CallbackForm,
    "comment": CommentForm,
    "assign": AssignForm,
    "accept": VersionedForm,
    "decline": DeclineForm,
    "priority": PriorityForm,
    "send_down": SendDownForm,
    "follow": FollowForm,
}
TRIAGE_STEPS = ("assign", "accept", "decline", "priority", "send_down")


class ActionForms(dict):
    """Every action's form by name, each built when first asked for: a page builds the forms of the actions
    its viewer is offered (a handful), not all eighteen. The failed one keeps what was typed (`failed_form`:
    the one validated, with its fields' errors); all carry the version shown now."""

    def __init__(self, issue: Issue, failed: str | None, failed_form: VersionedForm | None):
        super().__init__()
        self.issue, self.failed, self.failed_form = issue, failed, failed_form

    def __missing__(self, name: str):
        if name == self.failed and self.failed_form is not None:
            form = self.failed_form
        else:
            form = FORM_CLASSES[name](formdata=request.form if name == self.failed else None, prefix=name)
        if hasattr(form, "version"):
            form.version.data = str(self.issue.version)
        self[name] = form
        return form


def build_forms(issue: Issue, failed: str | None, failed_form: VersionedForm | None = None) -> ActionForms:
    """The action forms of the page (built as they are asked for), with the select lists the viewer needs."""
    forms = ActionForms(issue, failed, failed_form)
    set_choices(issue, forms)
    return forms


def set_choices(issue: Issue, forms: dict) -> None:
    """The select lists of the triage forms, for this issue and viewer (queried only when shown)."""
    person = current_user
    if issue.is_open and policy.allowed(person, "assign_issue", issue):
        community = db.session.get(type(issue.neighbour), issue.community_id)
        forms["assign"].organisation.choices = options(
            ((str(o.id), o.name) for o in operations.eligible_organisations(community)), blank=_("Choose…")
        )
        if not forms["assign"].due_on.data:
            forms["assign"].due_on.data = (beijing_today() + timedelta(days=7)).isoformat()
        forms["priority"].priority.choices = options((p, str(PRIORITY_LABELS[p])) for p in PRIORITIES)
        if forms["priority"].priority.data is None or request.method == "GET":
            forms["priority"].priority.data = issue.priority
        current = HANDLING_LEVELS.index(issue.level)
        forms["send_down"].level.choices = options((lv, level_label(lv)) for lv in operations.LOWER_LEVELS[:current])
    if may_reject(issue):
        forms["rejected"].reason.choices = reject_reason_choices()


def may_reject(issue: Issue) -> bool:
    """Whether the reject form is offered (anyone else's POST is refused by the service: 403, or the status)."""
    return "rejected" in TRANSITIONS.get(issue.status, ()) and policy.allowed(current_user, "triage_issue", issue)


def response_templates(issue: Issue, kinds: list[str]) -> list[ResponseTemplate]:
    """Ready replies the viewer may pick for a public update or a note (only for those who post updates)."""
    if "public_update" not in kinds:
        return []
    return operations.templates_for(issue)


def render_detail(
    issue: Issue,
    failed: str | None = None,
    error: str | None = None,
    status: int = 200,
    failed_form: VersionedForm | None = None,
):
    """The issue page; after a refusal, with the message (or `failed_form`'s errors beside its fields) and the
    refused form still filled in."""
    content = Markup(render_detail_content(issue, failed, error, failed_form))
    return render_template("issues/detail.html", issue=issue, content=content), status


def render_detail_content(
    issue: Issue, failed: str | None = None, error: str | None = None, failed_form: VersionedForm | None = None
) -> str:
    """The body of the issue page (issues/_detail.html) as this reader sees it."""
    path = issue_path(issue)  # first: it brings the issue's 邻 into the session with its ancestors
    forms = build_forms(issue, failed, failed_form)
    actions = available_actions(issue, forms)
    kinds = comment_kinds(issue)
    comment_form = forms["comment"]
    comment_form.kind.choices = [c for c in COMMENT_CHOICES if c.value in kinds]
    templates = response_templates(issue, kinds)
    picked = request.args.get("template", "") if request.method == "GET" else ""
    picked_id = parse_id(picked)
    if picked_id:  # without JavaScript, a template is picked by following its link
        chosen = next((t for t in templates if t.id == picked_id), None)
        if chosen is not None:
            comment_form.note.data = chosen.body
            comment_form.kind.data = "public_update"
    events = [
        event
        for event in db.session.scalars(
            select(IssueEvent)
            .where(IssueEvent.issue_id == issue.id)
            .options(joinedload(IssueEvent.actor))
            .order_by(IssueEvent.id)
        )
        if policy.can_view_event(current_user, event, issue)  # internal notes and callbacks: policy decides
    ]
    original = db.session.get(Issue, issue.duplicate_of_id) if issue.duplicate_of_id else None
    if original is not None and not policy.allowed(current_user, "view_issue", original):
        original = None
    shown = {a.name for a in actions} | ({"comment"} if kinds else set())
    candidates = places.merge_candidates(current_user, issue) if "duplicate" in shown else []
    kept_text = ""
    if failed and failed not in shown:
        # The step is gone (someone else moved the issue on): still give back what was typed.
        typed = [(k, v) for k, v in request.form.items() if v.strip()]
        kept_text = next((v for k, v in typed if k.endswith("-note")), "") or next(
            (v for k, v in typed if k == "escalate-reason"), ""
        )
    return render_template(
        "issues/_detail.html",
        issue=issue,
        resident_rated=issue.status == "resolved" and rating.rated(issue),
        photo_form=PhotoPublicForm(),
        path=path,
        actions=actions,
        comment_form=comment_form if kinds else None,
        events=events,
        original=original,
        merge_candidates=candidates,
        failed=failed,
        error=error,
        kept_text=kept_text,
        now=utcnow(),
        open_statuses=OPEN_STATUSES,
        templates=templates,
        following=operations.is_following(current_user, issue),
        follow_form=forms["follow"],
    )


@bp.route("/<int:issue_id>")
@login_required
def detail(issue_id):
    """Everything about one issue, its timeline and what the viewer may do next.

    The page's body is the reader's own (their actions, what they follow, which notes they may see) and comes
    from the page cache when they read it less than a minute ago and nothing it shows has changed since
    (detail_cache_key); kept only where every worker hears of changes, like the lists."""
    issue, unread_here = load_issue_to_read(issue_id)
    # Opening the issue reads its notifications: the badge in the top bar goes down.
    if unread_here:
        about = _unread_about(issue.id, current_user.id)
        unread = list(db.session.scalars(select(Notification.id).where(*about).limit(500)))
        notify.mark_read(current_user, unread)
        db.session.commit()
    if request.args:  # a ready reply picked without JavaScript fills the form in: rendered for this request
        return render_detail(issue)
    tags, variant = detail_cache_key(issue)
    content = page_cache.fragment(tags, variant, lambda: render_detail_content(issue), token=generate_csrf())
    return render_template("issues/detail.html", issue=issue, content=content)


def detail_cache_key(issue: Issue) -> tuple[tuple[str, ...], str]:
    """The tags and variant the reader's issue page is kept under: the issue itself (its events, photos,
    ratings and followers mark it), the tree (roles, names, reject reasons, ready replies) and, when the reader
    may merge it, its community (the likely duplicates listed are its other issues)."""
    tags = [page_cache.issue_tag(issue.reference), page_cache.TREE]
    if may_move_to(issue, "duplicate"):
        tags.append(page_cache.community_tag(issue.community_id))
    return tuple(tags), page_cache.variant("issue", issue.id, current_user.id)


def perform(issue: Issue, name: str, run, done: str, anchor: str = "top", to=None):
    """Run one service call and commit; on a refusal roll back and show the page with the reason."""
    issue_id = issue.id
    return web.perform(
        run,
        done=done,
        # An explicit fragment: otherwise the browser keeps the form's (#act-…) and scrolls past the message.
        to=to or url_for(".detail", issue_id=issue_id, _anchor=anchor),
        refused=lambda err: refused(issue_id, name, err),
        conflict=LifecycleError,
    )


# A refusal about one field of a form: its message goes beside that field, as a form's own checks put theirs.
FIELD_OF_REFUSAL = {
    ("rejected", "reason_required"): "reason",  # the reason went out of the list meanwhile
    ("assign", "bad_organisation"): "organisation",
    ("assign", "bad_deadline"): "due_on",
}


def refused(issue_id: int, name: str, err: ServiceError):
    """Show the latest version of the page with the refused form open, its reason and what was typed."""
    db.session.expire_all()
    issue = load_issue(issue_id)  # the latest version, still subject to the policy
    field = FIELD_OF_REFUSAL.get((name, err.code))
    if field is not None:
        form = FORM_CLASSES[name](prefix=name)  # what was sent, as sent
        getattr(form, field).errors = [err.message]
        return render_detail(issue, failed=name, status=err.status, failed_form=form)
    return render_detail(issue, failed=name, error=err.message, status=err.status)


@bp.route("/<int:issue_id>/status/<to_status>", methods=["POST"])
@login_required
def change_status(issue_id, to_status):
    """Acknowledge, start, resolve, close, reopen, reject, mark duplicate or withdraw."""
    if to_status not in TRANSITION_BUTTONS:
        abort(404)
    issue = load_issue(issue_id)
    form = FORM_CLASSES[to_status](prefix=to_status)
    if to_status == "rejected" and may_reject(issue):  # the reason is checked like a field: its message beside it
        form.reason.choices = reject_reason_choices()
        if not form.validate():
            return render_detail(issue, failed=to_status, status=422, failed_form=form)
    stored = []
    if to_status == "resolved":  # "after" photos of the fix, checked like the filing photos
        files = [f for f in request.files.getlist(form.photos.name) if f.filename]
        if len(files) > current_app.config["PHOTOS_PER_ISSUE"]:
            return refused(issue.id, to_status, LifecycleError("too_many_photos"))
        try:
            stored = photos.save_uploads(files)
        except photos.PhotoError as err:
            return refused(issue.id, to_status, err)

    def run():
        original = None
        if to_status == "duplicate":  # what was typed wins over a ticked suggestion
            original = find_reference(current_user, form.duplicate_of.data or form.candidate.data)
        reason = None
        reason_id = parse_id(form.reason.data) if to_status == "rejected" else None
        if reason_id:
            reason = db.session.get(RejectReason, reason_id)
        event = transition(
            current_user,
            issue,
            to_status,
            form.note.data or "",
            expected_version=form.expected_version(),
            duplicate_of=original,
            reject_reason=reason,
        )
        for item in stored:
            photos.attach(issue, item, "after", current_user, event)

    response = perform(issue, to_status, run, str(DONE_MESSAGES[to_status]))
    if getattr(response, "status_code", None) != 303:  # refused: the stored files will never be attached
        for item in stored:
            photos.discard(item)
    return response


@bp.route("/<int:issue_id>/photos/<int:photo_id>/public", methods=["POST"])
@login_required
def photo_public(issue_id, photo_id):
    """Staff mark a photo public (shown on the residents' page) or private again."""
    issue = load_issue(issue_id)
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.issue_id != issue.id:
        abort(404)
    form = PhotoPublicForm()
    if not form.validate_on_submit():
        abort(400)
    public = form.public.data == "1"

    def run():
        photos.set_public(current_user, photo, public)

    done = _l("The photo is now shown on the public page.") if public else _l("The photo is now private.")
    return perform(issue, "photos", run, str(done), anchor="photos")


@bp.route("/<int:issue_id>/escalate", methods=["POST"])
@login_required
def escalate_issue(issue_id):
    """Move the handling level up one step, with a reason."""
    issue = load_issue(issue_id)
    form = EscalateForm(prefix="escalate")
    target = escalation_target(current_user, issue)

    def run():
        escalate(current_user, issue, form.reason.data or "", expected_version=form.expected_version())

    done = _("Escalated to %(level)s; its leaders are notified.", level=level_label(target)) if target else ""
    return perform(issue, "escalate", run, done)


@bp.route("/<int:issue_id>/callback", methods=["POST"])
@login_required
def callback(issue_id):
    """Record the callback (回访) with the resident's satisfaction."""
    issue = load_issue(issue_id)
    form = CallbackForm(prefix="callback")

    def run():
        record_callback(
            current_user,
            issue,
            form.satisfaction.data or "",
            form.note.data or "",
            expected_version=form.expected_version(),
        )

    return perform(issue, "callback", run, _("Callback recorded."))


@bp.route("/<int:issue_id>/comment", methods=["POST"])
@login_required
def comment(issue_id):
    """Add a comment, an internal note or a public update."""
    issue = load_issue(issue_id)
    form = CommentForm(prefix="comment")

    def run():
        add_comment(current_user, issue, form.kind.data or "", form.note.data or "")

    return perform(issue, "comment", run, _("Added to the timeline."), anchor="add-note")


@bp.route("/<int:issue_id>/triage/<step>", methods=["POST"])
@login_required
def triage_step(issue_id, step):
    """Assign (派单), accept (接单), decline, set priority or send down one issue."""
    if step not in TRIAGE_STEPS:
        abort(404)
    issue = load_issue(issue_id)
    form = FORM_CLASSES[step](prefix=step)
    version = form.expected_version()

    def run():
        if step == "assign":
            org_id = parse_id(form.organisation.data)
            org = db.session.get(Organisation, org_id) if org_id else None
            operations.assign(current_user, issue, org, form.due_date(), form.note.data or "", expected_version=version)
        elif step == "accept":
            operations.accept(current_user, issue, expected_version=version)
        elif step == "decline":
            operations.decline(current_user, issue, form.note.data or "", expected_version=version)
        elif step == "priority":
            operations.set_priority(current_user, issue, form.priority.data or "", expected_version=version)
        elif step == "send_down":
            operations.send_down(
                current_user, issue, form.level.data or "", form.note.data or "", expected_version=version
            )

    back = url_for(".detail", issue_id=issue_id, _anchor="top")
    to = (lambda _result: after_decline(issue_id, back)) if step == "decline" else back
    return perform(issue, step, run, str(ACTION_DONE[step]), to=to)


def after_decline(issue_id: int, back: str) -> str:
    """Where a decline leads: the party no longer sees the issue, so back to its queue rather than to a page it
    may not open."""
    db.session.expire_all()
    fresh = db.session.get(Issue, issue_id)
    if policy.allowed(current_user, "view_issue", fresh):
        return back
    return url_for("triage.org_queue")


@bp.route("/<int:issue_id>/follow", methods=["POST"])
@login_required
def follow(issue_id):
    """Follow an issue (its progress comes to the inbox), or stop following it."""
    issue = load_issue(issue_id)
    form = FollowForm(prefix="follow")
    if not form.validate_on_submit():
        abort(400)
    on = form.on.data == "1"

    def run():
        operations.follow(current_user, issue, on)

    done = _l("You now follow this issue.") if on else _l("You no longer follow this issue.")
    return perform(issue, "follow", run, str(done))
