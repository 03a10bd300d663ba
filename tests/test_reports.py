"""Report pages and their exports: figures equal the raw computation, scope, periods, downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from governance.demo import DEMO_PASSWORD, load_demo_world
from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import LEVELS, Issue, Node
from governance.services.reports import node_report, rates
from tests.builders import make_issue, make_person, make_tree, nodes_at

FIELDS = (
    "by_status",
    "acknowledged_on_time",
    "resolved",
    "resolved_on_time",
    "callbacks",
    "callbacks_satisfied",
    "ratings",
    "ratings_satisfied",
    "overdue",
    "median_resolve",
    "p90_resolve",
)


def same(a: rates.Figures, b: rates.Figures) -> dict:
    """The fields on which two sets of figures differ (empty when equal)."""
    return {name: (getattr(a, name), getattr(b, name)) for name in FIELDS if getattr(a, name) != getattr(b, name)}


@pytest.fixture
def demo(app):
    """The demo world at a small scale (its six months of history)."""
    load_demo_world(scale=0.02)
    db.session.commit()
    return app


def test_every_node_and_period_reads_the_same_figures_as_the_raw_rows(demo):
    """Rollups for whole months + raw rows at the edges == rates.figures over the raw rows, at every level."""
    now = datetime.now(UTC)
    today = beijing_today(now)
    periods = [
        node_report.Period.named("week", today),
        node_report.Period.named("month", today - timedelta(days=40)),
        node_report.Period.named("quarter", today),
        node_report.Period.named("year", today),
        node_report.Period("custom", today - timedelta(days=150), today - timedelta(days=3)),  # partial at both ends
        node_report.Period("custom", date(2020, 1, 1), today + timedelta(days=1)),
    ]
    nodes = [db.session.scalar(select(Node).where(Node.level == level).order_by(Node.id)) for level in LEVELS]
    nodes += list(db.session.scalars(select(Node).where(Node.level == "street")))
    for node in nodes:
        for period in periods:
            start, end = period.bounds
            raw = rates.figures(node_report.scope_condition(node), start=start, end=end, now=now)
            report = node_report.build_report(node, period, now=now)
            assert same(report.figures, raw) == {}, (node.level, node.name, period)
            if report.children:
                child_level = report.children[0].node.level
                for row in report.children:
                    child = rates.figures(
                        getattr(Issue, f"{child_level}_id") == row.node.id, start=start, end=end, now=now
                    )
                    for name in ("by_status", "resolved", "resolved_on_time", "overdue", "ratings"):
                        assert getattr(row.figures, name) == getattr(child, name), (row.label, name, period)
            assert sum(row.figures.total for row in report.by_category) == raw.total
            assert sum(row.figures.total for row in report.by_party) == raw.total
            trend = {row.key: row.figures.total for row in report.trend}
            assert sum(trend.values()) >= 0 and len(report.trend) >= 12
    # The demo's history reaches the reports: a year of the district has issues in several months.
    year = node_report.build_report(nodes[0], periods[3], now=now)
    assert year.figures.total > 100 and sum(1 for row in year.trend if row.figures.total) >= 5
    assert len({round(row.figures.resolution_rate or 0, 2) for row in year.children}) > 3  # 街镇 differ


def test_no_rate_of_any_node_of_the_demo_passes_100_percent(demo):
    """The demo's 金湾社区 第2片 showed 响应率 105.9 % (45 片 above 100 %): withdrawn issues acknowledged on time
    counted in the numerator only. Every rate of every node, for the year and all time, lies within 0–100 %."""
    now = datetime.now(UTC)
    today = beijing_today(now)
    for period in (node_report.Period.named("year", today), node_report.all_time(now)):
        for node in db.session.scalars(select(Node).where(Node.level.in_(("district", "street", "community")))):
            report = node_report.build_report(node, period, now=now, with_trend=False)
            for row in [node_report.Row(node.name, report.figures), *report.children]:
                for name in ("response_rate", "resolution_rate", "on_time_rate", "satisfaction_rate"):
                    value = getattr(row.figures, name)
                    assert value is None or 0 <= value <= 1, (row.label, name, value)


def test_trend_months_equal_the_raw_months(demo):
    now = datetime.now(UTC)
    district = db.session.scalar(select(Node).where(Node.level == "district"))
    community = db.session.scalar(select(Node).where(Node.level == "community").order_by(Node.id))
    for node in (district, community):
        report = node_report.build_report(node, node_report.Period.named("year", beijing_today(now)), now=now)
        for row in report.trend:
            month = node_report.Period("month", row.key, node_report.add_months(row.key, 1))
            start, end = month.bounds
            raw = rates.figures(node_report.scope_condition(node), start=start, end=end, now=now)
            assert same(row.figures, raw) == {}, (node.name, row.label)


def test_periods_parse_and_refuse_bad_input():
    today = date(2026, 12, 1)
    assert node_report.parse_period({}, today) == (node_report.Period("month", date(2026, 12, 1), date(2027, 1, 1)), {})
    week, _ = node_report.parse_period({"period": "week"}, today)
    assert (week.start, week.end) == (date(2026, 11, 30), date(2026, 12, 7))  # Monday to Monday
    quarter, _ = node_report.parse_period({"period": "quarter", "start": "2026-05-17"}, today)
    assert (quarter.start, quarter.end) == (date(2026, 4, 1), date(2026, 7, 1))
    custom, _ = node_report.parse_period({"period": "custom", "start": "2026-01-05", "end": "2026-01-05"}, today)
    assert (custom.start, custom.end, custom.last_day) == (date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 5))
    assert node_report.parse_period({"period": "custom", "start": "2026-02-01", "end": "2026-01-01"}, today)[1] == {
        "end": "before_start"
    }
    assert node_report.parse_period({"period": "custom", "start": "x"}, today)[1] == {
        "start": "bad_date",
        "end": "required",
    }
    assert node_report.parse_period({"period": "custom", "start": "2000-01-01", "end": "2026-01-01"}, today)[1] == {
        "end": "too_long"
    }
    assert node_report.parse_period({"period": "decade"}, today)[1] == {"period": "unknown"}
    assert quarter.shifted(-1).start == date(2026, 1, 1) and week.shifted(1).start == date(2026, 12, 7)


@pytest.fixture
def zones(app):
    """Two 片 of one community with issues in each, a 片长 for the first, a community branch member."""
    make_tree(streets=1, communities=1, zones=2, groups=2, neighbours=1)
    neighbours = nodes_at("neighbour")
    filers = [make_person("neighbour_leader", n) for n in neighbours]
    for i, filer in enumerate(filers):
        for _ in range(i + 1):
            make_issue(filer)
    return {
        "zones": nodes_at("zone"),
        "zone_leader": make_person("zone_leader", nodes_at("zone")[0]),
        "branch": make_person("branch_member", nodes_at("community")[0]),
    }


def rows_of(response) -> list[list]:
    """The rows of an XLSX or CSV download (a report workbook's title row left out: the headers come first)."""
    if response.mimetype.endswith("sheet"):
        sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
        return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_a_zone_leader_sees_and_exports_only_their_zone(zones, client, auth):
    mine, other = zones["zones"]
    auth.login(zones["zone_leader"].mobile)
    assert client.get("/reports/").headers["Location"].endswith(f"/reports/{mine.id}")
    page = client.get(f"/reports/{mine.id}?period=year")
    assert page.status_code == 200
    community = mine.parent_id
    for url in (f"/reports/{other.id}", f"/reports/{community}", f"/reports/{other.id}/children.xlsx"):
        assert client.get(url).status_code == 403, url
    own_issues = db.session.scalar(select(func.count()).select_from(Issue).where(Issue.zone_id == mine.id))
    for table in ("summary", "children", "categories", "parties", "trend"):
        for fmt in ("csv", "xlsx"):
            response = client.get(f"/reports/{mine.id}/{table}.{fmt}?period=year")
            assert response.status_code == 200, (table, fmt)
            rows = rows_of(response)
            totals = [int(row[1]) for row in rows[1:] if row[1] not in (None, "")]
            assert sum(totals) == own_issues, (table, fmt, rows)
    groups = rows_of(client.get(f"/reports/{mine.id}/children.xlsx?period=year"))
    assert {row[0] for row in groups[1:]} == {g.name for g in nodes_at("group") if g.parent_id == mine.id}
    # The branch member sees the community and both 片 below it.
    auth.logout()
    auth.login(zones["branch"].mobile)
    html = client.get(f"/reports/{community}?period=year").get_data(as_text=True)
    assert mine.name in html and other.name in html


def test_xlsx_keeps_numbers_as_numbers_and_rates_as_percentages(zones, client, auth):
    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    response = client.get(f"/reports/{community.id}/children.xlsx?period=year")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header = [cell.value for cell in sheet[2]]  # under the title row
    assert header[:3] == ["地区", "已登记", "未办结"] or header[1] == "上报问题"
    assert isinstance(sheet.cell(3, 2).value, int)
    resolution = header.index("办结率") + 1
    assert "%" in sheet.cell(3, resolution).number_format
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&start=2026-13-45&end=x",
        "period=custom&start=2026-02-01&end=2026-01-01",
        "period=nonsense",
        "period=year&start=0001-01-01",
        "period=year&start=9999-12-31",
        "sort=%3Cscript%3E&dir=sideways",
        "period=custom&start=&end=",
    ],
)
def test_bad_report_input_gets_a_message_not_a_500(zones, client, auth, query):
    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    response = client.get(f"/reports/{community.id}?{query}")
    assert response.status_code == 200, query
    html = response.get_data(as_text=True)
    assert "<script>" not in html
    if "custom" in query or "nonsense" in query:
        assert 'role="alert"' in html
    export = client.get(f"/reports/{community.id}/children.csv?{query}")
    assert export.status_code in (200, 400)
    assert client.get(f"/reports/{community.id}/nothing.csv").status_code == 404
    assert client.get(f"/reports/{community.id}/children.pdf").status_code == 404


def test_children_sort_by_any_column_with_no_data_last(zones, client, auth):
    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    html = client.get(f"/reports/{community.id}?period=year&sort=total&dir=desc").get_data(as_text=True)
    first, second = zones["zones"]
    assert html.index(second.name) < html.index(first.name)  # the second 片 has more issues
    html = client.get(f"/reports/{community.id}?period=year&sort=total&dir=asc").get_data(as_text=True)
    assert html.index(first.name) < html.index(second.name)
    rows = [node_report.Row("a", rates.Figures()), node_report.Row("b", rates.Figures(by_status={"reported": 1}))]
    assert [r.label for r in node_report.sort_rows(rows, "resolution_rate", True)] == ["b", "a"]
    assert [r.label for r in node_report.sort_rows(rows, "resolution_rate", False)] == ["b", "a"]


def test_demo_accounts_reach_their_reports(demo, client, auth):
    auth.login("13900000003", DEMO_PASSWORD)  # 普瑞斯堡片长
    response = client.get("/reports/", follow_redirects=True)
    assert response.status_code == 200 and "办结率" in response.get_data(as_text=True)
    auth.logout()
    auth.login("13900000006", DEMO_PASSWORD)  # property company staff: no node, no reports
    assert client.get("/reports/").status_code == 403


def test_public_pages_read_the_rollups_with_the_same_figures(demo):
    from governance.blueprints.public.routes import scope_figures

    now = datetime.now(UTC)
    for level in ("district", "street", "community"):
        node = db.session.scalar(select(Node).where(Node.level == level).order_by(Node.id.desc()))
        condition = node_report.scope_condition(node)
        public = scope_figures(level, node, condition)
        assert same(public, rates.figures(condition, now=now)) == {}, level


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    period=st.one_of(st.sampled_from(node_report.PERIODS), st.text(max_size=12)),
    start=st.one_of(st.dates().map(str), st.text(max_size=12)),
    end=st.one_of(st.dates().map(str), st.text(max_size=12)),
    sort=st.one_of(st.sampled_from(node_report.SORTS), st.text(max_size=8)),
    table=st.sampled_from(["summary", "children", "trend", "x"]),
)
def test_report_parameters_never_500(zones, client, auth, period, start, end, sort, table):
    if client.get("/").status_code == 302:
        auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    query = {"period": period, "start": start, "end": end, "sort": sort, "dir": "desc"}
    assert client.get(f"/reports/{community.id}", query_string=query).status_code in (200, 400)  # 400: a NUL
    assert client.get(f"/reports/{community.id}/{table}.csv", query_string=query).status_code in (200, 400, 404)


def test_the_period_list_names_every_period_the_same_way_in_both_languages(zones, client, auth):
    """The list read 本周 / 月 / 季度 / 年度: one a "this …", the others bare nouns (This week / Month / Quarter /
    Year). Every period is now named the same way ("by …": the period shown is the one holding the start date,
    and ‹ Earlier / Later › keep it selected, so "this month" would be wrong there), from one label map."""
    from tests.pages import find_all, visible

    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]

    def options() -> list[str]:
        html = client.get(f"/reports/{community.id}?period=month&start=2026-01-15").get_data(as_text=True)
        return [visible(option) for option in find_all(html, "#r-period option")]

    assert options() == ["按周", "按月", "按季度", "按年", "按日期范围"]
    auth.post("/lang/en?next=/")
    assert options() == ["By week", "By month", "By quarter", "By year", "By date range"]
    from governance.formatting import PERIOD_LABELS

    assert tuple(PERIOD_LABELS) == node_report.PERIODS


SHEET_NAMES = {
    "zh": {
        "summary": "汇总",
        "children": "下级区域",
        "categories": "按类别",
        "parties": "按责任单位",
        "trend": "月度趋势",
    },
    "en": {
        "summary": "Summary",
        "children": "Areas below",
        "categories": "By category",
        "parties": "By responsible party",
        "trend": "Monthly trend",
    },
}


def test_report_workbooks_name_their_sheet_by_what_it_holds_and_say_the_period_in_a_title_row(zones, client, auth):
    """The sheets were named after the file, cut at Excel's 31 characters: "金湾社区-下级区域-2026-12-01-2026-12-3" read
    as a wrong date. Each sheet is now named by its table (within Excel's rules), and its first row says the
    area, the table and the whole period; the column headers follow, frozen, with their filter."""
    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    community.name = "金湾社区党群服务中心所辖的普瑞斯堡北区"  # long enough to have cut the period
    db.session.commit()
    for language in ("zh", "en"):
        if language == "en":
            auth.post("/lang/en?next=/")
        for table, name in SHEET_NAMES[language].items():
            response = client.get(f"/reports/{community.id}/{table}.xlsx?period=month&start=2026-12-05")
            assert response.status_code == 200, table
            book = openpyxl.load_workbook(io.BytesIO(response.data))
            assert book.sheetnames == [name], (language, table)
            sheet = book.active
            title = sheet["A1"].value
            assert community.name in title and "2026-12-01" in title and "2026-12-31" in title, title
            assert name in title
            header = [cell.value for cell in sheet[2]]
            assert header[1] == {"zh": "上报问题", "en": "Issues filed"}[language], header
            assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref.startswith("A2:")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("下级区域", "下级区域"),
        ("a/b\\c?d*e[f]g:h", "abcdefgh"),  # Excel refuses / \ ? * [ ] : in a sheet name
        ("'quoted'", "quoted"),  # nor may it start or end with an apostrophe
        ("History", "History (1)"),  # Excel keeps "History" for itself
        ("", "Sheet1"),
        ("x" * 40, "x" * 31),
    ],
)
def test_sheet_names_keep_excels_rules(given, expected):
    from governance.services.reports.exports import sheet_name

    assert sheet_name(given) == expected


def test_sorting_the_areas_keeps_the_place_on_the_page(zones, client, auth):
    """A sort link led to the page's top, a long scroll away from the table on a phone. Every sort link (a
    plain link: it works without JavaScript) now carries the fragment of its own column heading, which the
    sorted page holds: the browser scrolls the page, and the table sideways, back to it."""
    from urllib.parse import parse_qs, urlsplit

    from tests.pages import find, find_all

    auth.login(zones["branch"].mobile)
    community = nodes_at("community")[0]
    for query in ("period=year", "period=year&sort=total&dir=desc"):
        html = client.get(f"/reports/{community.id}?{query}").get_data(as_text=True)
        links = [a["href"] for a in find_all(html, "table.report-table thead a[href*='sort=']")]
        assert len(links) == 9, links
        for link in links:
            parts = urlsplit(link)
            key = parse_qs(parts.query)["sort"][0]
            assert parts.fragment == f"sort-{key}", link
            sorted_page = client.get(link.split("#")[0]).get_data(as_text=True)
            heading = find(sorted_page, f"#children-table thead th#sort-{key}")
            assert heading is not None and heading.get("aria-sort"), link
