"""Views of the reports blueprint: a node's report page and its tables as CSV/XLSX."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from ... import policy
from ...access import login_required, requires
from ...extensions import db
from ...formatting import beijing_today
from ...models import LEVELS, STATUSES, Node, utcnow
from ...services.people import tree
from ...services.public import page_cache
from ...services.reports import charts, exports, node_report, rates
from ...services.residents import reports as resident_reports
from . import bp

TABLES = ("summary", "children", "categories", "parties", "trend")
FORMATS = ("csv", "xlsx")
PERIOD_ERRORS = {
    "unknown": _l("Choose one of the periods offered."),
    "bad_date": _l("Write the date as YYYY-MM-DD."),
    "required": _l("Give both dates of the range."),
    "before_start": _l("The end date is before the start date."),
    "too_long": _l("A range can span at most five years."),
    "out_of_range": _l("Give a date between 2000 and 2099."),
}


@bp.route("/")
@requires("view_reports")
def mine():
    """Go to the report of the highest node the person serves."""
    nodes = sorted(
        (r.node for r in current_user.roles if r.node is not None), key=lambda n: (LEVELS.index(n.level), n.id)
    )
    return redirect(url_for("reports.node", node_id=nodes[0].id))


def _load(node_id: int) -> Node:
    """The node, if the person may see its report (404 for a node that does not exist)."""
    node = db.session.get(Node, node_id) or abort(404)
    policy.authorize(current_user, "view_report", node)
    return node


def _way_up(item: Node) -> list[Node]:
    """The node's ancestors, top down, whose reports the person may open."""
    district = db.session.scalar(select(Node).where(Node.level == "district").order_by(Node.id).limit(1))
    nodes = [district] if district is not None and item.level != "district" else []
    nodes += [n for n in tree.node_path(item) if n.id != item.id]
    return [n for n in nodes if policy.allowed(current_user, "view_report", n)]


def _period():
    """The period of the request and the error messages of its fields."""
    period, errors = node_report.parse_period(request.args, beijing_today())
    return period, {name: str(PERIOD_ERRORS[code]) for name, code in errors.items()}


@bp.route("/<int:node_id>")
@login_required
def node(node_id):
    """A node's report for a period: rates, children to drill into, categories, parties, monthly trend."""
    item = _load(node_id)
    period, errors = _period()
    sort = request.args.get("sort", "name")
    sort = sort if sort in node_report.SORTS else "name"
    descending = request.args.get("dir") == "desc"
    return render_template(
        "reports/report.html",
        node=item,
        path=_way_up(item),
        period=period,
        errors=errors,
        typed=request.args,
        periods=node_report.PERIODS,
        figures_html=_figures_html(item, period, sort, descending),
        previous=period.shifted(-1),
        following=period.shifted(1),
    )


def _figures_html(item: Node, period, sort: str, descending: bool) -> Markup:
    """The figures part of the page (reports/_figures.html), from the page cache when a request computed it
    under the current generations of its tags — the node's area and the tree — less than a minute ago. At a
    million issues the district's figures cost a few hundred milliseconds to compute; serving them costs one
    Redis round trip. Kept only where every worker hears of a change (shared_only): while Redis is away they
    are computed on each request, so whoever just acted never reads the figures from before."""
    variant = page_cache.variant("report", item.id, period.key, period.start, period.end, sort, descending)
    tags = (page_cache.area_tag(item), page_cache.TREE)
    return page_cache.fragment(tags, variant, lambda: _render_figures(item, period, sort, descending))


def _render_figures(item: Node, period, sort: str, descending: bool) -> str:
    now = utcnow()
    report = node_report.build_report(item, period, now)
    children = node_report.sort_rows(report.children, sort, descending)
    trend_chart = charts.trend_chart(
        [row.label for row in report.trend],
        [row.figures.total for row in report.trend],
        [row.figures.resolution_rate for row in report.trend],
        bar_label=_("Issues filed"),
        line_label=_("Resolution rate"),
        empty_text=_("No issues yet"),
    )
    children_chart = charts.rate_bars(  # in the table's order
        [(row.label, row.figures.resolution_rate) for row in children],
        empty_text=_("No issues yet"),
        title=_("Resolution rate"),
    )
    start, end = period.bounds
    return render_template(
        "reports/_figures.html",
        node=item,
        report=report,
        resident_reports=resident_reports.figures_by(item, start, end, now, [row.node for row in report.children]),
        resident_definitions=rates.RESIDENT_REPORT_DEFINITIONS,
        period=period,
        children=children,
        sort=sort,
        descending=descending,
        statuses=STATUSES,
        definitions=rates.DEFINITIONS,
        trend_chart=trend_chart,
        children_chart=children_chart,
        tables=TABLES,
        as_of=now,
    )


def _figure_columns(with_hours: bool) -> list:
    """The columns every report table shares after its first; the hours to resolve only `with_hours` (the
    breakdowns do not compute them, and an empty cell would read as "none resolved")."""
    Column = exports.Column
    hours = [Column(_("Median hours to resolve"), "int"), Column(_("90th percentile hours to resolve"), "int")]
    return [
        Column(_("Issues filed"), "int"),
        Column(_("Open"), "int"),
        Column(_("Resolved or closed"), "int"),
        Column(_("Overdue now"), "int"),
        Column(_("Response rate"), "rate"),
        Column(_("Resolution rate"), "rate"),
        Column(_("On-time rate"), "rate"),
        Column(_("Satisfaction rate"), "rate"),
        *(hours if with_hours else []),
    ]


def _figure_values(f, with_hours: bool) -> list:
    """The values under _figure_columns, in order."""
    values = [
        f.total,
        f.open,
        f.done,
        f.overdue,
        f.response_rate,
        f.resolution_rate,
        f.on_time_rate,
        f.satisfaction_rate,
    ]
    return values + ([f.median_resolve, f.p90_resolve] if with_hours else [])


def party_label(row) -> str:
    """A responsible party's name, or "not assigned" for issues no party took."""
    return row.label if row.key else _("Not assigned")


@bp.route("/<int:node_id>/<table>.<fmt>")
@login_required
def export(node_id, table, fmt):
    """One table of a node's report as CSV or XLSX (the same figures as the page)."""
    item = _load(node_id)
    if table not in TABLES or fmt not in FORMATS:
        abort(404)
    period, errors = _period()
    if errors:
        abort(400)
    report = node_report.build_report(item, period, with_trend=table == "trend")
    first = {
        "summary": _("Area"),
        "children": _("Area"),
        "categories": _("Category"),
        "parties": _("Responsible party"),
        "trend": _("Month"),
    }[table]
    rows = {
        "summary": [(item.name, report.figures)],
        "children": [(row.label, row.figures) for row in report.children],
        "categories": [(row.label, row.figures) for row in report.by_category],
        "parties": [(party_label(row), row.figures) for row in report.by_party],
        "trend": [(row.label, row.figures) for row in report.trend],
    }[table]
    with_hours = table == "summary"  # the node's own figures; its breakdowns carry no hours
    columns = [exports.Column(first, "text"), *_figure_columns(with_hours)]
    name = str(TABLE_NAMES[table])
    dates = f"{period.start.isoformat()} – {period.last_day.isoformat()}"
    stem = f"{item.name}-{name}-{period.start.isoformat()}-{period.last_day.isoformat()}"
    values = [[label, *_figure_values(f, with_hours)] for label, f in rows]
    # The areas' vacant 片/组/邻 now (the summary: below the node), as on the page.
    vacant = {
        "summary": [report.vacancies] if report.vacancies is not None else None,
        "children": [row.vacancies for row in report.children],
    }.get(table)
    if vacant is not None:
        columns.append(exports.Column(_("Vacant zones, groups and neighbour units (片/组/邻) now"), "int"))
        values = [[*line, counts.total] for line, counts in zip(values, vacant, strict=True)]
    # The sheet is named by its table; the area and the whole period (too long for a sheet name) head it.
    return exports.table_response(
        stem, columns, values, fmt, sheet_title=name, heading=f"{item.name} · {name} · {dates}"
    )


TABLE_NAMES = {
    "summary": _l("Summary"),
    "children": _l("Areas below"),
    "categories": _l("By category"),
    "parties": _l("By responsible party"),
    "trend": _l("Monthly trend"),
}
