"""Views of the money blueprint: the projects in scope, a project's ledger and balances, recording
entries and reversals (CSRF, idempotency key, input kept on errors), CSV and XLSX export."""

from __future__ import annotations

import re
import uuid
from datetime import date
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from ... import policy, web
from ...access import login_required, public, requires
from ...extensions import db
from ...formatting import format_fen, funding_kind_labels, ledger_kind_labels, local_time
from ...models import LEDGER_KINDS, Issue, LedgerEntry, Node, Project
from ...parsing import parse_id, parse_page
from ...services.errors import ServiceError
from ...services.issues.listing import issue_by_reference
from ...services.money import ledger
from ...services.platform import photos
from ...services.reports import exports
from . import bp
from .forms import EntryForm, IssuePhaseForm, ReverseForm

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


def donor_label(entry: LedgerEntry) -> str:
    """Internal pages and exports name a resident donor only when they agreed to be named."""
    if entry.source is None or entry.source.kind != "resident_donation":
        return ""
    return entry.donor_name if entry.donor_named and entry.donor_name else _("Anonymous")


def project_or_404(project_id: int, action: str = "view_ledger") -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    policy.authorize(current_user, action, project)
    return project


def parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def ledger_filters() -> dict:
    """The list's filters from the query string; anything malformed is ignored."""
    kind = request.args.get("kind") or None
    source = parse_id(request.args.get("source"))
    return {
        "kind": kind if kind in LEDGER_KINDS else None,
        "source": source,
        "start": parse_day(request.args.get("start")),
        "end": parse_day(request.args.get("end")),
    }


def filtered(project: Project, filters: dict):
    query = select(LedgerEntry).where(LedgerEntry.project_id == project.id)
    if filters["kind"]:
        query = query.where(LedgerEntry.kind == filters["kind"])
    if filters["source"]:
        query = query.where(LedgerEntry.source_id == filters["source"])
    if filters["start"]:
        query = query.where(LedgerEntry.occurred_on >= filters["start"])
    if filters["end"]:
        query = query.where(LedgerEntry.occurred_on <= filters["end"])
    return query


def entry_form(project: Project, form: EntryForm | None = None) -> EntryForm:
    form = form or EntryForm(formdata=None, data={"idempotency_key": uuid.uuid4().hex, "kind": "receipt"})
    form.source_id.choices = [SelectChoice("", "—")] + [SelectChoice(s.id, s.name) for s in project.sources]
    form.phase_id.choices = [SelectChoice("", "—")] + [SelectChoice(p.id, p.name) for p in project.phases]
    return form


def issue_phase_form(project: Project, form: IssuePhaseForm | None = None) -> IssuePhaseForm:
    form = form or IssuePhaseForm(formdata=None, prefix="link")
    form.phase_id.choices = [SelectChoice("", _("No phase (unlink)"))] + [
        SelectChoice(p.id, p.name) for p in project.phases
    ]
    return form


def phase_issues(project: Project) -> dict[int, list[Issue]]:
    """The issues linked to each phase of the project, by phase id."""
    grouped: dict[int, list[Issue]] = {p.id: [] for p in project.phases}
    if grouped:
        for issue in db.session.scalars(
            select(Issue).where(Issue.project_phase_id.in_(list(grouped))).order_by(Issue.id)
        ):
            grouped[issue.project_phase_id].append(issue)
    return grouped


def reverse_form() -> ReverseForm:
    return ReverseForm(formdata=None, data={"idempotency_key": uuid.uuid4().hex})


def reverse_keys(entries, rform: ReverseForm | None) -> dict[int, str]:
    """An idempotency key of its own for each entry's reverse button: a page whose button reversed one
    entry still reverses another with its own. A form sent back with an error keeps the key it was sent
    with, so sending it again still reverses that entry once."""
    keys = {e.id: uuid.uuid4().hex for e in entries}
    entry_id = parse_id(rform.entry_id.data) if rform is not None and rform.idempotency_key.data else None
    if entry_id in keys:
        keys[entry_id] = rform.idempotency_key.data
    return keys


def refused_reuse(err: ServiceError, form) -> int:
    """The status of a refused entry; a key already used for other money is replaced by a fresh one,
    so the form kept on the page records anew when sent again."""
    if err.code == "key_reused":
        form.idempotency_key.data = uuid.uuid4().hex
    return err.status


def render_ledger(
    project: Project,
    form: EntryForm | None = None,
    rform: ReverseForm | None = None,
    status=200,
    lform: IssuePhaseForm | None = None,
):
    filters = ledger_filters()
    page = parse_page(request.args.get("page"))
    query = filtered(project, filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    entries = db.session.scalars(
        query.order_by(LedgerEntry.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    reversed_ids = set(
        db.session.scalars(select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.in_([e.id for e in entries])))
    )
    return (
        render_template(
            "money/project.html",
            project=project,
            figures=ledger.balances(project),
            empty=ledger.Figures(),
            problems=ledger.check_ledger(project),
            entries=entries,
            total=total,
            page=page,
            page_size=PAGE_SIZE,
            filters=filters,
            reversed_ids=reversed_ids,
            reverse_keys=reverse_keys(entries, rform),
            form=entry_form(project, form),
            rform=rform or reverse_form(),
            lform=issue_phase_form(project, lform),
            phase_issues=phase_issues(project),
            may_link=policy.allowed(current_user, "link_issue_phase", project),
            kind_labels=ledger_kind_labels(),
            source_kind_labels=funding_kind_labels(with_none=True),
            fen=format_fen,
            donor_label=donor_label,
            may_record=policy.allowed(current_user, "record_money", project),
            may_override=policy.allowed(current_user, "override_overspend", project),
            sources={s.id: s for s in project.sources},
            phases={p.id: p for p in project.phases},
        ),
        status,
    )


@bp.route("/")
@requires("view_ledger")
def index():
    """The renovation projects whose money the person runs, with their totals."""
    projects = db.session.scalars(
        select(Project).where(policy.project_scope_condition(current_user)).order_by(Project.id)
    ).all()
    rows = [(p, ledger.balances(p).total) for p in projects]
    return render_template("money/index.html", rows=rows, fen=format_fen)


@bp.route("/<int:project_id>")
@login_required
def project(project_id: int):
    """A project's balances (per phase and source kind) and its ledger, filtered."""
    return render_ledger(project_or_404(project_id))


@bp.route("/public/<int:project_id>")
@public
def public_view(project_id: int):
    """The public funding view of a project: figures only, no names but organisations' and agreed initials."""
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    labels = funding_kind_labels()
    return render_template(
        "money/public.html",
        funding=ledger.public_funding(project),
        kind_labels=labels,
        fen=format_fen,
    )


def linked_issues(project: Project, text: str) -> list[Issue] | None:
    """Issues named by reference (WC-2026-000123) or number; None when one is not of this community."""
    issues = []
    for token in filter(None, re.split(r"[\s,，、;；]+", text or "")):
        issue = issue_by_reference(token)
        if issue is None or issue.community_id != project.community_id:
            return None
        issues.append(issue)
    return issues


@bp.route("/<int:project_id>/entries", methods=["POST"])
@login_required
def record(project_id: int):
    """Record a pledge, a receipt or an expenditure; the same form posted twice records one entry."""
    project = project_or_404(project_id, "record_money")
    form = entry_form(project, EntryForm())
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Some fields need correcting; nothing was recorded."), "error")
        return render_ledger(project, form=form, status=400)
    try:
        existing = ledger.find_existing(
            current_user,
            form.idempotency_key.data,
            kind=form.kind.data,
            project_id=project.id,
            amount_fen=ledger.parse_amount(form.amount.data),
        )
    except ledger.LedgerError as err:
        if err.code == "key_reused":
            flash(err.message, "error")
            return render_ledger(project, form=form, status=refused_reuse(err, form))
        existing = None  # a malformed amount is reported below, with the other fields
    if existing is not None:
        flash(_("Already recorded (entry %(id)s).", id=existing.id), "info")
        return redirect(url_for("money.project", project_id=project.id))
    sources = {s.id: s for s in project.sources}
    phases = {p.id: p for p in project.phases}
    upload = form.receipt_scan.data
    scan = None
    if form.kind.data == "expenditure" and upload and getattr(upload, "filename", ""):
        try:
            scan = photos.save_upload(upload)
        except photos.PhotoError as err:
            form.receipt_scan.errors = [err.message]
            flash(_("Some fields need correcting; nothing was recorded."), "error")
            return render_ledger(project, form=form, status=400)

    def run() -> LedgerEntry:
        amount = ledger.parse_amount(form.amount.data)
        issues = linked_issues(project, form.issue_refs.data)
        if issues is None:
            raise ledger.LedgerError("issue_outside")
        options = {
            "phase": phases.get(form.phase_id.data),
            "occurred_on": form.occurred_on.data,
            "idempotency_key": form.idempotency_key.data or None,
        }
        source = sources.get(form.source_id.data)
        if form.kind.data == "expenditure":
            entry = ledger.record_expenditure(
                current_user,
                project,
                amount,
                payee=form.payee.data,
                purpose=form.purpose.data,
                source=source,
                issues=issues,
                override_reason=form.override_reason.data,
                receipt_scan=scan.stored_name if scan else None,
                **options,
            )
        else:
            record_income = ledger.record_pledge if form.kind.data == "pledge" else ledger.record_receipt
            entry = record_income(
                current_user,
                project,
                source,
                amount,
                donor_name=form.donor_name.data,
                donor_named=form.donor_named.data,
                note=form.purpose.data,
                **options,
            )
        if scan and entry.receipt_scan != scan.stored_name:  # a retry that found the entry already recorded
            photos.discard(scan)
        return entry

    def refused(err: ServiceError):
        if scan:
            photos.discard(scan)
        if err.code.startswith("amount_"):
            form.amount.errors = [err.message]
        return render_ledger(project, form=form, status=refused_reuse(err, form))

    return web.perform(
        run,
        done=lambda entry: _(
            "Recorded: %(kind)s of %(amount)s yuan.",
            kind=ledger_kind_labels()[entry.kind],
            amount=format_fen(entry.amount_fen),
        ),
        to=url_for("money.project", project_id=project.id),
        refused=refused,
        say_refusal=True,
        code=302,
    )


@bp.route("/<int:project_id>/entries/<int:entry_id>/receipt")
@login_required
def receipt_scan(project_id: int, entry_id: int):
    """The scanned receipt or invoice of an expenditure, for people who may view the project's ledger."""
    project = project_or_404(project_id)
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.project_id != project.id or not entry.receipt_scan:
        abort(404)
    return photos.send_stored_image(entry.receipt_scan)


@bp.route("/<int:project_id>/reverse", methods=["POST"])
@login_required
def reverse(project_id: int):
    """Reverse one entry of the project, with a reason."""
    project = project_or_404(project_id, "record_money")
    form = ReverseForm()
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Some fields need correcting; nothing was recorded."), "error")
        return render_ledger(project, rform=form, status=400)
    entry_id = parse_id(form.entry_id.data)
    entry = db.session.get(LedgerEntry, entry_id) if entry_id else None
    if entry is None or entry.project_id != project.id:
        abort(404)
    return web.perform(
        lambda: ledger.reverse(
            current_user,
            entry,
            form.reason.data,
            override_reason=form.override_reason.data,
            idempotency_key=form.idempotency_key.data or None,
        ),
        done=lambda reversal: _("Entry %(id)s reversed.", id=reversal.reverses_id),
        to=url_for("money.project", project_id=project.id),
        refused=lambda err: refused_reversal(project, form, err),
        say_refusal=True,
        code=302,
    )


def refused_reversal(project: Project, form: ReverseForm, err: ServiceError):
    """The ledger again, the refused row's form open with what was typed; a refusal about the reason or the
    override is said beside that field as well."""
    field = None
    if err.code == "reason_required":
        field = form.reason
    elif err.code == "overspend":
        overrides = policy.allowed(current_user, "override_overspend", project)
        field = form.override_reason if overrides else form.reason
    if field is not None:
        field.errors = [err.message]
    return render_ledger(project, rform=form, status=refused_reuse(err, form))


@bp.route("/<int:project_id>/issue-phase", methods=["POST"])
@login_required
def link_issue_phase(project_id: int):
    """Link an issue of the project's community to one of the project's phases, or unlink it."""
    project = project_or_404(project_id, "link_issue_phase")
    form = issue_phase_form(project, IssuePhaseForm(prefix="link"))
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        flash(_("Some fields need correcting; nothing was changed."), "error")
        return render_ledger(project, lform=form, status=400)
    issues = linked_issues(project, form.issue_ref.data)
    phases = {p.id: p for p in project.phases}
    phase = phases.get(form.phase_id.data)
    if form.phase_id.data is not None and phase is None:
        form.phase_id.errors = [_("Not a phase of this project.")]
    if not issues or len(issues) != 1:
        form.issue_ref.errors = [_("No issue of this community has that reference.")]
    if form.issue_ref.errors or form.phase_id.errors:
        flash(_("Some fields need correcting; nothing was changed."), "error")
        return render_ledger(project, lform=form, status=400)
    [issue] = issues
    issue.project_phase_id = phase.id if phase else None
    db.session.commit()
    if phase:
        flash(_("%(ref)s linked to the phase %(phase)s.", ref=issue.reference, phase=phase.name), "success")
    else:
        flash(_("%(ref)s is no longer linked to a phase.", ref=issue.reference), "success")
    return redirect(url_for("money.project", project_id=project.id, _anchor="phase-issues"))


def export_table(project: Project) -> tuple[list[exports.Column], list[list]]:
    """The filtered ledger as columns and rows; anonymous donors by the word only."""
    labels, kinds = ledger_kind_labels(), funding_kind_labels(with_none=True)
    entries = db.session.scalars(filtered(project, ledger_filters()).order_by(LedgerEntry.id).limit(EXPORT_LIMIT))
    columns = [
        exports.Column(_("Entry"), "int"),
        exports.Column(_("Date")),
        exports.Column(_("Kind")),
        exports.Column(_("Amount (yuan)")),
        exports.Column(_("Phase")),
        exports.Column(_("Source kind")),
        exports.Column(_("Source")),
        exports.Column(_("Donor")),
        exports.Column(_("Paid to")),
        exports.Column(_("Purpose or note")),
        exports.Column(_("Reverses entry"), "int"),
        exports.Column(_("Reason")),
        exports.Column(_("Override reason")),
        exports.Column(_("Issues")),
        exports.Column(_("Recorded at")),
    ]
    rows = [
        [
            e.id,
            e.occurred_on.isoformat() if e.occurred_on else "",
            labels[e.kind],
            format_fen(e.amount_fen),
            e.phase.name if e.phase else "",
            kinds[e.source.kind] if e.source else "",
            e.source.name if e.source else "",
            donor_label(e),
            e.payee,
            e.purpose,
            e.reverses_id,
            e.reason,
            e.override_reason,
            " ".join(i.reference or str(i.id) for i in e.issues),
            local_time(e.created_at),
        ]
        for e in entries
    ]
    return columns, rows


@bp.route("/<int:project_id>/ledger.csv")
@login_required
def export_csv(project_id: int):
    """The filtered ledger as CSV (UTF-8 with BOM, so Excel reads the Chinese)."""
    project = project_or_404(project_id)
    return recorded_ledger(project, "csv")


@bp.route("/<int:project_id>/ledger.xlsx")
@login_required
def export_xlsx(project_id: int):
    """The filtered ledger as an Excel workbook."""
    project = project_or_404(project_id)
    # The sheet says what it holds, in the reader's language (it was "ledger" in a Chinese workbook).
    title = _("Ledger of %(project)s", project=project.name)
    return recorded_ledger(project, "xlsx", sheet_title=title)


def recorded_ledger(project, fmt: str, **layout):
    """The filtered ledger as a file, written to the audit log under the project's community."""
    community = db.session.get(Node, project.community_id)
    columns, rows = export_table(project)
    stem, criteria = f"ledger-{project.id}", urlencode(request.args)
    return exports.recorded_response(
        current_user, f"项目台账（{project.name}）", community, stem, columns, rows, fmt, criteria=criteria, **layout
    )
