"""Views of the triage console (分拨台) and the responsible parties' queue (待办).

The console lists one community's issues most pressing first and runs one action over many of
them at once. Bulk actions go through services.triage.operations.bulk, which is all-or-nothing: on any refusal
the request rolls back and the console is shown again (422) naming every refused issue and why, with
the selection and what was typed kept. Each successful request commits once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from ... import policy, web
from ...access import requires
from ...extensions import db
from ...formatting import (
    PRIORITY_LABELS,
    beijing_today,
    category_name,
    level_label,
    local_time,
    status_label,
)
from ...forms import offered, options
from ...models import (
    HANDLING_LEVELS,
    OPEN_STATUSES,
    PRIORITIES,
    STATUSES,
    Building,
    Category,
    Compound,
    Issue,
    Node,
    Organisation,
    utcnow,
)
from ...parsing import parse_id, parse_page
from ...services.errors import ServiceError
from ...services.issues.listing import find_reference
from ...services.people import vacancies
from ...services.public import page_cache
from ...services.reports import exports
from ...services.triage import operations
from ...services.triage.queries import EXPORT_LIMIT, community_counts, export_rows, node_names, triage_communities
from ..issues.forms import reject_reason_choices
from . import bp
from .forms import AcceptForm, BulkForm, parse_items

PAGE_SIZE = 50
DONE_MESSAGES = {
    "acknowledge": lambda n: ngettext("%(num)s issue acknowledged.", "%(num)s issues acknowledged.", n),
    "assign": lambda n: ngettext(
        "%(num)s issue assigned; the party is asked to accept it.",
        "%(num)s issues assigned; the party is asked to accept them.",
        n,
    ),
    "priority": lambda n: ngettext("Priority set on %(num)s issue.", "Priority set on %(num)s issues.", n),
    "reject": lambda n: ngettext("%(num)s issue rejected.", "%(num)s issues rejected.", n),
    "merge": lambda n: ngettext(
        "%(num)s issue merged into the kept one.", "%(num)s issues merged into the kept one.", n
    ),
    "send_down": lambda n: ngettext(
        "%(num)s issue sent down with your instruction.", "%(num)s issues sent down with your instruction.", n
    ),
    "escalate": lambda n: ngettext(
        "%(num)s issue escalated to the street (街镇).", "%(num)s issues escalated to the street (街镇).", n
    ),
    "accept": lambda n: ngettext(
        "%(num)s assignment accepted: the work has started.", "%(num)s assignments accepted: the work has started.", n
    ),
}
ORG_TAB_LABELS = {
    "pending": _l("Waiting for acceptance (待接单)"),
    "active": _l("In hand"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
}
CSV_HEADERS = [
    "编号",
    "标题",
    "类别",
    "小区",
    "楼栋",
    "层级",
    "状态",
    "优先级",
    "紧急",
    "责任单位",
    "接单状态",
    "期限",
    "超时",
    "上报时间",
]


@dataclass
class Refusal:
    """Why a bulk request changed nothing: one message, and each refused issue with its reason."""

    message: str
    issues: list[tuple[str, str]] = field(default_factory=list)


def refusal_from(err: ServiceError) -> Refusal:
    """The person-readable form of a refusal from the triage service."""
    return Refusal(err.message, err.issues if isinstance(err, operations.BulkError) else [])


# --- choosing a community -----------------------------------------------------------------------


@bp.route("/")
@requires("triage_console")
def index():
    """The person's consoles: straight to it for one community, otherwise a list grouped by 街镇."""
    communities = triage_communities(current_user)
    if len(communities) == 1:
        return redirect(url_for(".console", community_id=communities[0].id), 303)
    counts = community_counts([c.id for c in communities], utcnow())
    streets = node_names(c.street_id for c in communities)
    groups: dict[int, list] = {}
    for community in communities:
        groups.setdefault(community.street_id, []).append((community, *counts.get(community.id, (0, 0))))
    grouped = [(streets.get(street_id, ""), rows) for street_id, rows in groups.items()]
    return render_template("triage/choose.html", grouped=grouped)


# --- the console --------------------------------------------------------------------------------


def load_community(community_id: int) -> Node:
    """The community, if it exists and the person runs its console (403 otherwise, logged)."""
    community = db.session.get(Node, community_id)
    if community is None or community.level != "community":
        abort(404)
    policy.authorize(current_user, "triage_console", community)
    return community


def parse_console(args, community: Node) -> tuple[operations.ConsoleFilters, int, dict[str, str]]:
    """The filters, the page and the non-default filters as query arguments; unknown values are ignored."""
    reach = args.get("reach", "")
    status = args.get("status", "")
    organisation = (args.get("organisation") or "").strip()
    if organisation not in ("", "none", "pending"):
        number = parse_id(organisation)
        organisation = str(number) if number else ""
    filters = operations.ConsoleFilters(
        community=community,
        reach=reach if reach == "all" else "community",
        status=status if status == "all" or status in STATUSES else "open",
        category_id=parse_id(args.get("category")),
        organisation=organisation,
        priority=args.get("priority", "") if args.get("priority") in PRIORITIES else "",
        overdue=args.get("overdue") == "1",
    )
    page = parse_page(args.get("page"))
    values = {
        "reach": "all" if filters.reach == "all" else "",
        "status": "" if filters.status == "open" else filters.status,
        "category": str(filters.category_id or ""),
        "organisation": filters.organisation,
        "priority": filters.priority,
        "overdue": "1" if filters.overdue else "",
    }
    return filters, page, {k: v for k, v in values.items() if v}


def bulk_form(community: Node, formdata=None) -> BulkForm:
    """The bulk action bar with this community's choices; after a refusal, with what was typed."""
    form = BulkForm(formdata=formdata)
    choose = _("Choose…")
    form.organisation.choices = options(
        ((str(o.id), o.name) for o in operations.eligible_organisations(community)), blank=choose
    )
    form.priority.choices = options(((p, str(PRIORITY_LABELS[p])) for p in PRIORITIES), blank=choose)
    form.reason.choices = reject_reason_choices()
    form.level.choices = options(((lv, level_label(lv)) for lv in operations.LOWER_LEVELS), blank=choose)
    if not form.due_on.data:
        form.due_on.data = (beijing_today() + timedelta(days=7)).isoformat()
    return form


def display_names(categories) -> dict[str, dict]:
    """Status, level, priority and category names in the interface language, looked up once per page."""
    return {
        "status": {s: status_label(s) for s in STATUSES},
        "level": {lv: level_label(lv) for lv in HANDLING_LEVELS},
        "priority": {p: str(PRIORITY_LABELS[p]) for p in PRIORITIES},
        "category": {c.id: category_name(c) for c in categories},
    }


def preload_places(issues: list[Issue]) -> list:
    """Load the rows' 小区 and 楼栋 in two queries, so each row finds them in the session instead of querying.

    Categories and organisations are loaded whole by the callers for the same reason (small tables). The
    session holds clean objects weakly: the caller keeps the returned list until the page is rendered.
    """
    loaded = []
    for model, ids in ((Compound, {i.compound_id for i in issues}), (Building, {i.building_id for i in issues})):
        ids.discard(None)
        if ids:
            loaded += db.session.scalars(select(model).where(model.id.in_(ids)))
    return loaded


def render_console(community, filters, page, args, form, refusal=None, selected=(), status=200, kept=False):
    """The console page: tabs with counts, filters, the bulk bar, one page of the queue, response times.

    `form` None: a fresh bulk bar. `kept`: the plain page (no refusal, nothing selected, a fresh form) comes
    from the page cache when someone with the same roles read it under the current generations of the
    community's area and the tree less than a minute ago — a committed change to an issue there, a role, a
    party or a reason drops it at once."""

    def content() -> str:
        return _render_console_content(community, filters, page, args, form or bulk_form(community), refusal, selected)

    if kept:
        variant = page_cache.variant(
            "triage", community.id, policy.scope_signature(current_user), sorted(args.items()), page
        )
        tags = (page_cache.area_tag(community), page_cache.TREE)
        body = page_cache.fragment(tags, variant, content, token=generate_csrf())
    else:
        body = Markup(content())
    return render_template("triage/console.html", community=community, content=body), status


def _render_console_content(community, filters, page, args, form, refusal, selected) -> str:
    now = utcnow()
    issues, total = operations.console_page(filters, page, PAGE_SIZE, now)
    counts = operations.console_counts(community, filters.reach, now)
    counts["all"] = sum(counts.get(s, 0) for s in STATUSES)
    categories = list(db.session.scalars(select(Category).order_by(Category.sort, Category.id)))
    organisations = list(db.session.scalars(select(Organisation).order_by(Organisation.name)))
    places = preload_places(issues)
    assignable = {int(value) for value in offered(form.organisation) if value}
    refused = {label for label, _ in refusal.issues} if refusal else set()
    body = render_template(
        "triage/_console.html",
        community=community,
        street=db.session.get(Node, community.street_id) if community.street_id else None,
        filters=filters,
        args=args,
        tab_args={k: v for k, v in args.items() if k not in ("status", "overdue", "organisation")},
        issues=issues,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        counts=counts,
        statuses=STATUSES,
        open_statuses=OPEN_STATUSES,
        categories=categories,
        organisations=[o for o in organisations if o.id in assignable or str(o.id) == filters.organisation],
        priorities=PRIORITIES,
        form=form,
        refusal=refusal,
        selected=set(selected),
        refused=refused,
        now=now,
        times=operations.response_times(community, now=now),
        names=display_names(categories),
        several=len(triage_communities(current_user)) > 1,
        vacant=vacancies.counts_within([community])[community.id].total,
    )
    del places
    return body


@bp.route("/community/<int:community_id>")
@requires("triage_console")
def console(community_id):
    """One community's triage queue, most pressing first, with counts and the bulk action bar."""
    community = load_community(community_id)
    filters, page, args = parse_console(request.args, community)
    return render_console(community, filters, page, args, None, kept=True)


@bp.route("/community/<int:community_id>/bulk", methods=["POST"])
@requires("triage_console")
def bulk(community_id):
    """Run one action over the selected issues; all or nothing."""
    community = load_community(community_id)
    filters, page, args = parse_console(request.args, community)
    form = bulk_form(community, request.form)
    raw_items = request.form.getlist("item")
    items, junk = parse_items(raw_items)
    action = form.action.data or ""
    kept = find_reference(current_user, form.kept.data) if action == "merge" else None
    request_ = operations.BulkRequest(
        action=action if action != "accept" else "",  # accepting is the party's, from its own queue
        items=items,
        organisation_id=parse_id(form.organisation.data),
        due_on=form.due_date(),
        priority=form.priority.data or "",
        reason_id=parse_id(form.reason.data),
        note=form.note.data or "",
        level=form.level.data or "",
        kept_id=kept.id if kept else None,
    )

    def run() -> int:
        if junk:
            raise operations.BulkError([(value, "not_found") for value in junk])
        count = operations.bulk(current_user, request_)
        if kept is not None and any(issue_id == kept.id for issue_id, _ in items):
            count -= 1  # the kept issue may be selected with its duplicates: it was not merged
        return count

    def refused(err: ServiceError):
        db.session.expire_all()
        selected = {issue_id for issue_id, _ in items}
        return render_console(community, filters, page, args, form, refusal_from(err), selected, err.status)

    return web.perform(
        run,
        done=DONE_MESSAGES.get(action),
        to=url_for(".console", community_id=community.id, **args),
        refused=refused,
        conflict=operations.BulkError,
    )


def csv_response(
    rows, filename_stem: str, what: str, place: Node | None, community_names: dict[int, str] | None = None
) -> Response:
    """The rows as a CSV Excel opens in Chinese, through the app's one table writer, written to the audit log
    as `what` taken out of `place` (None: the exporter's own area)."""
    headers = CSV_HEADERS if community_names is None else ["社区", *CSV_HEADERS]
    now = utcnow()
    lines = []
    for row in rows:
        late = row.status in OPEN_STATUSES and row.next_deadline_at is not None and row.next_deadline_at <= now
        line = [
            row.reference,
            row.title,
            category_name(row.Category),
            row.compound or "",
            row.building or "",
            level_label(row.level),
            status_label(row.status),
            str(PRIORITY_LABELS.get(row.priority, row.priority)),
            _("Urgent") if row.urgency == "urgent" else "",
            row.organisation or "",
            {"pending": _("Waiting for acceptance"), "accepted": _("Accepted")}.get(row.assignment_state or "", ""),
            local_time(row.next_deadline_at),
            _("Overdue") if late else "",
            local_time(row.created_at),
        ]
        if community_names is not None:
            line.insert(0, community_names.get(row.community_id, ""))
        lines.append(line)
    columns = [exports.Column(title) for title in headers]
    criteria = urlencode(request.args)
    return exports.recorded_response(current_user, what, place, filename_stem, columns, lines, "csv", criteria=criteria)


@bp.route("/community/<int:community_id>/export.csv")
@requires("triage_console")
def export(community_id):
    """The filtered queue as CSV (at most 10,000 rows, this community only, no resident details)."""
    community = load_community(community_id)
    filters, _page, _args = parse_console(request.args, community)
    rows = export_rows(operations.console_conditions(filters, utcnow()), EXPORT_LIMIT)
    return csv_response(rows, f"triage-{community.id}", "分派队列", community)


# --- vacancies (空缺) ----------------------------------------------------------------------------


@bp.route("/community/<int:community_id>/vacancies")
@requires("view_vacancies")
def vacancies_page(community_id):
    """The community's 片/组/邻 without an active leader: since when, and the work waiting there."""
    community = db.session.get(Node, community_id)
    if community is None or community.level != "community":
        abort(404)
    policy.authorize(current_user, "view_vacancies", community)
    found = vacancies.vacancies_under(community)
    return render_template(
        "triage/vacancies.html",
        community=community,
        street=db.session.get(Node, community.street_id) if community.street_id else None,
        vacancies=found,
        counts=Counter(v.node.level for v in found),
        levels=vacancies.LEADER_LEVELS,
        several=len(triage_communities(current_user)) > 1,
    )


# --- the responsible party's queue --------------------------------------------------------------


def render_org(tab: str, page: int, refusal=None, selected=(), status=200):
    """The party's queue: tabs with counts, one page of the tab, the bulk accept bar."""
    issues, total = operations.org_queue(current_user, tab, page, PAGE_SIZE)
    counts = operations.org_counts(current_user)
    categories = list(db.session.scalars(select(Category)))
    places = preload_places(issues)  # every row's place from the session (kept until the page is rendered)
    orgs = policy.staff_organisations(current_user)
    organisations = list(db.session.scalars(select(Organisation).where(Organisation.id.in_(orgs))))
    body = render_template(
        "triage/org.html",
        tab=tab,
        tabs=[(t, ORG_TAB_LABELS[t]) for t in operations.ORG_TABS],
        issues=issues,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        counts=counts,
        communities=node_names(i.community_id for i in issues),
        organisations=organisations,
        form=AcceptForm(),
        refusal=refusal,
        selected=set(selected),
        refused={label for label, _ in refusal.issues} if refusal else set(),
        now=utcnow(),
        open_statuses=OPEN_STATUSES,
        names=display_names(categories),
    )
    del places
    return body, status


def parse_tab(args) -> tuple[str, int]:
    """The tab (default: waiting for acceptance) and page; unknown values fall back to the defaults."""
    tab = args.get("tab", "")
    return (tab if tab in operations.ORG_TABS else "pending"), parse_page(args.get("page"))


@bp.route("/org/")
@requires("org_queue")
def org_queue():
    """The issues assigned to the person's organisations, across communities."""
    tab, page = parse_tab(request.args)
    return render_org(tab, page)


@bp.route("/org/accept", methods=["POST"])
@requires("org_queue")
def org_accept():
    """Accept (接单) the selected assignments; all or nothing."""
    tab, page = parse_tab(request.args)
    AcceptForm()  # the CSRF token is checked for every POST by CSRFProtect
    items, junk = parse_items(request.form.getlist("item"))

    def run() -> int:
        if junk:
            raise operations.BulkError([(value, "not_found") for value in junk])
        return operations.bulk(current_user, operations.BulkRequest(action="accept", items=items))

    def refused(err: ServiceError):
        db.session.expire_all()
        return render_org(tab, page, refusal_from(err), {i for i, _ in items}, err.status)

    return web.perform(
        run,
        done=DONE_MESSAGES["accept"],
        to=url_for(".org_queue", tab="active"),
        refused=refused,
        conflict=operations.BulkError,
    )


@bp.route("/org/export.csv")
@requires("org_queue")
def org_export():
    """The party's assignments as CSV (one tab when asked for, otherwise all of them)."""
    orgs = policy.staff_organisations(current_user)
    conditions = [Issue.assignee_org_id.in_(orgs)]
    tab = request.args.get("tab", "")
    if tab in operations.ORG_TABS:
        conditions.append(operations.org_tab_condition(tab))
    rows = export_rows(conditions, EXPORT_LIMIT)
    return csv_response(rows, "assignments", "责任单位派单", None, node_names(r.community_id for r in rows))
