"""The report charts (services/reports/charts.py) rendered by Chromium on a 360 px phone."""

from __future__ import annotations

import pytest

from governance import demo
from governance.extensions import db
from tests.browser.conftest import PHONE_HEIGHT, PHONE_WIDTH
from tests.test_charts import artifacts, demo_html

pytestmark = pytest.mark.browser


def test_demo_page_on_a_phone(browser):
    """Screenshot the demo at 360×740 (each chart in a report card's padding): fits the width, text ≥ 12 px, no
    two labels of a chart overlap."""
    folder = artifacts()
    html = folder / "charts.html"
    html.write_text(demo_html(), encoding="utf-8")
    context = browser.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT}, device_scale_factor=2, locale="zh-CN"
    )
    page = context.new_page()
    page.goto(html.as_uri())
    page.screenshot(path=str(folder / "charts.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    report = page.evaluate(
        """() => {
          const out = {small: [], overlaps: [], outside: []};
          for (const svg of document.querySelectorAll('svg')) {
            const frame = svg.getBoundingClientRect();
            const scale = frame.width / svg.viewBox.baseVal.width;
            const boxes = [];
            for (const t of svg.querySelectorAll('text')) {
              const px = parseFloat(t.getAttribute('font-size')) * scale;
              if (px < 12) out.small.push(`${t.textContent} ${px.toFixed(1)}px`);
              const b = t.getBoundingClientRect();
              if (!t.textContent) continue;
              if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5 ||
                  b.top < frame.top - 0.5 || b.bottom > frame.bottom + 0.5)
                out.outside.push(t.textContent);
              if (t.getAttribute('transform')) continue;  // turned labels: their boxes are not their ink
              for (const [other, o] of boxes) {
                if (b.left < o.right - 0.5 && o.left < b.right - 0.5 &&
                    b.top < o.bottom - 0.5 && o.top < b.bottom - 0.5)
                  out.overlaps.push(`${other} / ${t.textContent}`);
              }
              boxes.push([t.textContent, b]);
            }
          }
          return out;
        }"""
    )
    context.close()
    assert not report["small"], f"text under 12 px on a 360 px phone: {report['small']}"
    assert not report["outside"], f"text outside its chart: {report['outside']}"
    assert not report["overlaps"], f"overlapping labels: {report['overlaps']}"


# Every chart's text as the phone draws it: the font size times the chart's scale (its width on screen over its
# viewBox width), and the height of the text's box on screen.
RENDERED_TEXT = """() => [...document.querySelectorAll('svg.chart')].flatMap((svg) => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].filter((t) => t.textContent).map((t) => ({
    text: t.textContent,
    px: parseFloat(t.getAttribute('font-size')) * scale,
    box: t.getBoundingClientRect().height,
  }));
})"""


def test_report_chart_labels_are_at_least_12_px_on_a_phone(phone):
    """On the report page at 360×740 the chart labels were 9.9 px (12 viewBox units in a chart drawn 297 px wide
    inside the page's and the card's padding): every chart text is now at least 12 px as rendered."""
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    phone.log_in("13900000001", demo.DEMO_PASSWORD)
    phone.goto("/reports/")
    phone.page.wait_for_selector("svg.chart-trend")
    texts = phone.page.evaluate(RENDERED_TEXT)
    phone.check("report")
    assert {"chart-trend", "chart-rates"} <= set(
        phone.page.evaluate("[...document.querySelectorAll('svg.chart')].flatMap((s) => [...s.classList])")
    )
    assert len(texts) > 20
    small = [f"{t['text']} {t['px']:.1f}px" for t in texts if t["px"] < 12]
    assert not small, f"chart text under 12 px on a 360 px phone: {small}"
    # The glyphs' boxes agree (a CJK line box is about its font size).
    assert min(t["box"] for t in texts) >= 11.5, sorted(texts, key=lambda t: t["box"])[:3]
    # On the branch secretary's 1280×800 desk the charts stay at most 26rem wide, so their text is not oversized.
    phone.page.set_viewport_size({"width": 1280, "height": 800})
    desk = phone.page.evaluate(RENDERED_TEXT)
    phone.shot("report-desk")
    assert all(12 <= t["px"] <= 18 for t in desk), sorted({round(t["px"], 1) for t in desk})
