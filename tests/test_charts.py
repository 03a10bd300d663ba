"""The inline SVG charts (services/reports/charts.py): valid XML, escaped text, gaps, clamping, and a phone
screenshot."""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup, escape

from governance.services.reports import charts
from governance.services.reports.charts import rate_bars, trend_chart

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"


def months(n: int, year: int = 2024, month: int = 8) -> list[str]:
    """n consecutive "YYYY-MM" labels from year-month."""
    out = []
    for _ in range(n):
        out.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def parse(chart) -> ET.Element:
    """The chart parsed as XML, after the checks every chart must pass."""
    assert isinstance(chart, Markup)
    assert str(chart).count("<svg") == 1
    root = ET.fromstring(str(chart))
    assert root.tag == SVG + "svg"
    assert re.fullmatch(r"0 0 360 \d+(\.\d)?", root.get("viewBox"))
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert root.get("role") == "img"
    assert root.get("aria-label") is not None
    assert root.find("svg:title", NS) is not None
    assert "style" not in str(chart)  # the CSP allows no inline style
    for text in root.iter(SVG + "text"):
        assert float(text.get("font-size")) >= 15  # ≥ 12 px in a report card on a 360 px phone
        assert text.get("fill"), "every text carries its colour as a fallback"
        assert (text.get("class") or "").startswith("chart-")
    for shape in [*root.iter(SVG + "rect"), *root.iter(SVG + "circle"), *root.iter(SVG + "path")]:
        assert (shape.get("class") or "").startswith("chart-")
    return root


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    """The content of the <text> elements (with the class `cls` among theirs)."""
    return [t.text or "" for t in root.iter(SVG + "text") if cls is None or cls in t.get("class", "").split()]


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    """The elements `tag` with the class `cls`."""
    return [el for el in root.iter(SVG + tag) if cls in el.get("class", "").split()]


def trend(labels, bars, line, **kw):
    """trend_chart with the usual legend texts."""
    return trend_chart(labels, bars, line, bar_label="上报问题数", line_label="办结率", **kw)


# --- trend_chart ----------------------------------------------------------------------------------------------------


def test_trend_basic_numbers_and_axes():
    root = parse(trend(months(6, 2026, 1), [3, 7, 12, 0, 5, 9], [0.5, 0.875, 1.0, None, 0.25, 0.6]))
    assert len(by_class(root, "rect", "chart-bar")) == 6
    shown = texts(root)
    assert {"上报问题数", "办结率"} <= set(texts(root, "chart-legend"))
    assert texts(root, "chart-tick-right") == ["0%", "25%", "50%", "75%", "100%"]
    assert texts(root, "chart-tick-left") == ["0", "5", "10", "15", "20"]  # max 12 → round step of 5
    assert shown.count("2026") == 1 and {"01", "06"} <= set(shown)  # six months: "01" … "06" over the year
    assert root.get("aria-label") == "上报问题数 · 办结率"
    tooltips = [t.text for t in root.iter(SVG + "title")]
    assert "2026-02: 办结率 87.5%" in tooltips and "2026-03: 上报问题数 12" in tooltips


def test_trend_few_months_show_full_labels():
    root = parse(trend(months(4, 2026, 1), [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4]))
    assert texts(root, "chart-label") == ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_trend_none_breaks_the_line():
    root = parse(trend(months(5), [1, 2, 3, 4, 5], [0.5, None, 0.7, 0.8, None]))
    points = by_class(root, "circle", "chart-point")
    assert len(points) == 3  # no point for a gap
    paths = by_class(root, "path", "chart-line")
    assert len(paths) == 1  # the lone first point has no segment; 0.7 → 0.8 is one
    assert paths[0].get("d").count("M") == 1 and paths[0].get("d").count("L") == 1
    gap_x = float(by_class(root, "rect", "chart-bar")[1].get("x"))
    assert all(abs(float(p.get("cx")) - gap_x) > 5 for p in points)


def test_trend_two_runs_are_two_paths():
    root = parse(trend(months(5), [1] * 5, [0.1, 0.2, None, 0.3, 0.4]))
    assert len(by_class(root, "path", "chart-line")) == 2


def test_trend_all_none_line_draws_only_bars():
    root = parse(trend(months(3), [4, 5, 6], [None, None, None]))
    assert not by_class(root, "path", "chart-line") and not by_class(root, "circle", "chart-point")
    assert len(by_class(root, "rect", "chart-bar")) == 3


def test_trend_empty_says_the_given_sentence():
    root = parse(trend([], [], [], empty_text="暂无数据 <b>&</b>"))
    assert texts(root) == ["暂无数据 <b>&</b>"]
    assert root.get("aria-label") == "暂无数据 <b>&</b>"
    assert not by_class(root, "rect", "chart-bar")
    assert float(root.get("viewBox").split()[3]) < 60  # small
    assert texts(parse(trend([], [], []))) == [""]  # still a text element, saying nothing


def test_trend_all_zeros():
    root = parse(trend(months(4), [0, 0, 0, 0], [0.0, 0.0, None, 0.0]))
    assert all(float(bar.get("height")) == 0 for bar in by_class(root, "rect", "chart-bar"))
    assert texts(root, "chart-tick-left") == ["0", "1", "2", "3", "4"]
    assert "nan" not in str(root.attrib) and "nan" not in ET.tostring(root, encoding="unicode")


def test_trend_single_month():
    root = parse(trend(["2026-07"], [12], [0.875]))
    assert len(by_class(root, "rect", "chart-bar")) == 1
    assert len(by_class(root, "circle", "chart-point")) == 1
    assert not by_class(root, "path", "chart-line")
    assert "2026-07" in texts(root, "chart-label")
    bar = by_class(root, "rect", "chart-bar")[0]
    assert float(bar.get("width")) <= 36  # one month is not a slab across the whole chart


def test_trend_36_months_labels_do_not_collide():
    labels = months(36, 2023, 8)
    chart = trend(labels, [i % 9 * 3 for i in range(36)], [None if i % 7 == 3 else (i % 10) / 10 for i in range(36)])
    root = parse(chart)
    assert len(by_class(root, "rect", "chart-bar")) == 36
    assert len(by_class(root, "circle", "chart-point")) == 31
    month_labels = [t for t in by_class(root, "text", "chart-label") if "chart-label-year" not in t.get("class")]
    years = by_class(root, "text", "chart-label-year")
    assert 6 <= len(month_labels) <= 18  # every k-th month, not 36 squeezed labels
    assert {t.text for t in month_labels} <= {"01", "04", "07", "10"}  # quarters
    assert [t.text for t in years] == ["2024", "2025", "2026"]  # 2023 is only 4 months: its year would collide
    for row in (month_labels, years):
        xs = [float(t.get("x")) for t in row]
        widths = [charts.text_width(t.text) for t in row]
        for i in range(1, len(xs)):
            assert xs[i] - xs[i - 1] >= (widths[i] + widths[i - 1]) / 2 + 2, "labels overlap"


def test_trend_many_free_labels_are_turned_and_thinned():
    labels = [f"第{i + 1}周（{i + 1}月）" for i in range(20)]
    root = parse(trend(labels, list(range(20)), [0.5] * 20))
    turned = by_class(root, "text", "chart-label")
    assert turned and all("rotate(-45" in t.get("transform") for t in turned)
    assert len(turned) < 20
    for t in turned:  # nothing leaves the viewBox on the left
        assert float(t.get("x")) - charts.text_width(t.text) * 0.71 >= 0


def test_trend_rates_are_clamped():
    above = parse(trend(months(2), [1, 1], [1.7, -0.3]))
    exact = parse(trend(months(2), [1, 1], [1.0, 0.0]))
    cy = [[p.get("cy") for p in by_class(root, "circle", "chart-point")] for root in (above, exact)]
    assert cy[0] == cy[1]
    assert "170" not in ET.tostring(above, encoding="unicode")
    tooltips = [t.text for t in above.iter(SVG + "title")]
    assert "2024-08: 办结率 100.0%" in tooltips and "2024-09: 办结率 0.0%" in tooltips


def test_trend_escapes_labels():
    evil = "<script>alert('x')</script>"
    chart = trend_chart(
        [evil, "A & B"], [1, 2], [0.5, 0.6], bar_label="问题 & <b>数</b>", line_label='"率"', title="<i>t</i>"
    )
    source = str(chart)
    assert "<script" not in source and "<b>" not in source and "<i>" not in source
    assert "&lt;script&gt;" in source and "A &amp; B" in source
    root = parse(chart)
    assert root.get("aria-label") == "<i>t</i>"
    everything = texts(root) + [t.text for t in root.iter(SVG + "title")]
    assert any(evil in text for text in everything) and any("A & B" in text for text in everything)
    assert "问题 & <b>数</b>" in texts(root, "chart-legend")


def test_trend_control_characters_do_not_break_the_xml():
    parse(trend(["2026-01\x00", "a\nb\x1f"], [1, 2], [0.1, 0.2]))


def test_trend_lengths_must_agree():
    with pytest.raises(ValueError):
        trend(months(3), [1, 2], [0.1, 0.2, 0.3])


def test_trend_big_counts_get_round_ticks():
    root = parse(trend(months(3), [1234, 80, 4999], [0.2, 0.3, 0.4]))
    assert texts(root, "chart-tick-left") == ["0", "2,000", "4,000", "6,000", "8,000"]


def test_long_legend_goes_on_two_rows():
    root = parse(
        trend_chart(
            months(3),
            [1, 2, 3],
            [0.1, 0.2, 0.3],
            bar_label="Issues filed in the month, all categories",
            line_label="Resolution rate of the issues filed that month",
        )
    )
    legend = by_class(root, "text", "chart-legend")
    assert len({t.get("y") for t in legend}) == 2


# --- rate_bars ------------------------------------------------------------------------------------------------------


def test_rate_bars_values_none_and_height():
    items = [("一社区", 0.875), ("二社区", None), ("三社区", 0.0), ("四社区", 1.0)]
    root = parse(rate_bars(items))
    assert texts(root, "chart-value") == ["87.5%", "—", "0.0%", "100.0%"]
    assert texts(root, "chart-label") == ["一社区", "二社区", "三社区", "四社区"]
    rows = by_class(root, "g", "chart-row")
    assert len(rows) == 4
    assert not by_class(rows[1], "rect", "chart-bar")  # None: no bar
    widths = [float(r.get("width")) for r in by_class(root, "rect", "chart-bar")]
    assert widths[1] == 0 and widths[0] == pytest.approx(widths[2] * 0.875, abs=0.1)
    assert root.get("aria-label") == "一社区 87.5%; 二社区 —; 三社区 0.0%; 四社区 100.0%"
    heights = [float(parse(rate_bars(items[:n])).get("viewBox").split()[3]) for n in (1, 2, 4)]
    assert heights[0] < heights[1] < heights[2]


def test_rate_bars_value_sits_at_the_bar_end_inside_the_viewbox():
    root = parse(rate_bars([("甲", 0.3), ("乙", 1.0)]))
    for bar, value in zip(by_class(root, "rect", "chart-bar"), by_class(root, "text", "chart-value"), strict=True):
        end = float(bar.get("x")) + float(bar.get("width"))
        assert end < float(value.get("x")) <= end + 6
        assert float(value.get("x")) + charts.text_width(value.text) <= 360


def test_rate_bars_clamp():
    root = parse(rate_bars([("超", 1.7), ("负", -0.2), ("nan", float("nan"))]))
    assert texts(root, "chart-value") == ["100.0%", "0.0%", "—"]
    widths = [float(r.get("width")) for r in by_class(root, "rect", "chart-bar")]
    assert widths[1] == 0 and widths[0] > 150


def test_rate_bars_truncate_long_names():
    name = "某某街道某某社区第一网格党支部第三居民小组"
    root = parse(rate_bars([(name, 0.5), ("短", 0.25)]))
    shown = texts(root, "chart-label")[0]
    assert shown.endswith("…") and len(shown) < len(name)
    assert charts.text_width(shown) <= 132
    assert f"{name}: 50.0%" in [t.text for t in root.iter(SVG + "title")]  # the full name as a tooltip


def test_rate_bars_escape_and_empty():
    source = str(rate_bars([("<script>x</script> & co", 0.5)]))
    assert "<script" not in source and "&lt;script&gt;" in source and "&amp; co" in source
    parse(Markup(source))
    root = parse(rate_bars([], empty_text="暂无数据"))
    assert texts(root) == ["暂无数据"] and not by_class(root, "rect", "chart-bar")


def test_markup_is_not_escaped_again_and_every_function_has_a_docstring():
    chart = rate_bars([("a", 0.5)])
    assert escape(chart) == chart
    for name, function in inspect.getmembers(charts, inspect.isfunction):
        if function.__module__ == charts.__name__:
            assert (function.__doc__ or "").strip(), f"{name} has no docstring"


# --- the demo page and its phone screenshot ------------------------------------------------------------------------

LONG_NAMES = [
    ("某某街道某某社区第一网格党支部第三居民小组", 0.875),
    ("二社区", None),
    ("三社区", 1.0),
    ("四社区 & <邻里>", 0.333),
    ("五社区", 0.0),
    ("六社区", 1.4),
]


def demo_html() -> str:
    """A script-free page of every chart case, each in a card laid out like a report page's (no chart stylesheet)."""
    twelve = [5, 9, 14, 7, 0, 3, 22, 18, 11, 6, 9, 13]
    twelve_rates = [0.6, 0.8, None, 0.7, None, 1.0, 0.45, 0.5, 0.9, 1.0, 0.75, 0.8]
    long_bars = [(i * 7) % 23 + 1 for i in range(36)]
    long_rates = [None if i % 11 == 5 else ((i * 13) % 10) / 10 for i in range(36)]
    weeks = [f"第{i + 1}周" for i in range(14)]
    sections = [
        ("12 个月", trend(months(12, 2025, 8), twelve, twelve_rates)),
        ("36 个月", trend(months(36, 2023, 8), long_bars, long_rates)),
        ("6 个月", trend(months(6, 2026, 2), [120, 340, 95, 410, 388, 1210], [0.95, 0.875, 0.9, 0.7, 0.65, 0.8])),
        ("3 个月", trend(months(3, 2026, 5), [4, 6, 5], [0.75, None, 0.8])),
        ("1 个月", trend(["2026-07"], [12], [0.875])),
        ("全为 0", trend(months(4), [0, 0, 0, 0], [None, None, None, None])),
        ("非月份标签", trend(weeks, list(range(14)), [0.5 + (i % 4) / 10 for i in range(14)])),
        ("无数据", trend([], [], [], empty_text="暂无数据")),
        ("各社区办结率", rate_bars(LONG_NAMES)),
        ("无数据", rate_bars([], empty_text="暂无数据")),
    ]
    body = "".join(f"<section><h2>{escape(title)}</h2>{chart}</section>" for title, chart in sections)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>charts</title>'
        "<style>body{margin:0;padding:1rem .9rem;font-family:'WenQuanYi Micro Hei',sans-serif;color:#1f2933}"
        "h2{font-size:1rem;margin:0 0 .25rem}svg{display:block}"
        # A report card: the page's side padding, then the card's border and padding (app.css .page, .card).
        "section{border:1px solid #e4e7eb;border-radius:10px;padding:1rem;margin:0 0 1rem}</style></head>"
        f"<body><h1>图表示例</h1>{body}</body></html>"
    )


def artifacts():
    """tests/artifacts, shared with the browser tests."""
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def test_demo_page_is_written():
    target = artifacts() / "charts.html"
    target.write_text(demo_html(), encoding="utf-8")
    assert "<script" not in target.read_text(encoding="utf-8")
