"""Views of the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ... import policy
from ...access import requires
from ...extensions import db
from ...formatting import local_time, start_of_beijing_day
from ...models import AuditEntry, Person
from ...parsing import parse_id
from . import bp
from .forms import RECORDED_IN_CHINESE, AuditFilterForm, action_label, detail_text

PAGE_SIZE = 50


def day_start(day) -> datetime:
    """Midnight at the start of a Beijing day, as an aware UTC datetime."""
    return start_of_beijing_day(day)


def entry_conditions(form: AuditFilterForm) -> list:
    """The WHERE of the log: the viewer's scope, then every filter that was valid."""
    conditions = []
    scope = policy.audit_scope_condition(current_user)
    if scope is not None:
        conditions.append(scope)
    person = form.person_filter()
    if person is not None:
        kind, text = person
        if kind == "mobile":
            # A whole number (11 digits) is one person: an exact match reads the unique index.
            match = Person.mobile == text if len(text) >= 11 else Person.mobile.contains(text, autoescape=True)
        else:
            match = Person.name.contains(text, autoescape=True)
        # Through the actor ids, so the (actor_id, id) index serves the newest-first read.
        conditions.append(AuditEntry.actor_id.in_(select(Person.id).where(match)))
    if form.action.data and not form.action.errors:
        conditions.append(AuditEntry.action == form.action.data)
    if form.date_from.day:
        conditions.append(AuditEntry.at >= day_start(form.date_from.day))
    if form.date_to.day and not form.date_to.errors:
        conditions.append(AuditEntry.at < day_start(form.date_to.day + timedelta(days=1)))
    return conditions


def filter_args(form: AuditFilterForm) -> dict[str, str]:
    """The filters in force, as query-string arguments for the pager (what was refused is dropped)."""
    args = {}
    for name in ("person", "action", "date_from", "date_to"):
        field = form[name]
        if field.data and not field.errors:
            args[name] = field.data
    return args


@bp.route("/")
@requires("view_audit")
def index():
    """Who did what to which issue in the viewer's area, newest first, filtered and paged by id."""
    form = AuditFilterForm(formdata=request.args)
    # Refused filters are shown beside their field and left out; the rest still apply.
    refused = bool(request.args) and not form.validate()
    before = parse_id(request.args.get("before"))
    query = (
        select(AuditEntry)
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.issue))
        .where(*entry_conditions(form))
    )
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(PAGE_SIZE + 1)))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    # The branch scope is what they may see anyway; a street or district admin's too. Checked all the same.
    visible = {e.issue_id for e in rows if e.issue is not None and policy.allowed(current_user, "view_issue", e.issue)}
    return render_template(
        "audit/index.html",
        form=form,
        refused=refused,
        entries=rows,
        visible=visible,
        args=filter_args(form),
        before=before,
        older=older,
        when=local_time,
        action_label=action_label,
        detail_text=detail_text,
        recorded_in_chinese=RECORDED_IN_CHINESE,
    )
