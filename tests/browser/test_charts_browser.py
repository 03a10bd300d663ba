"""The report charts (services/reports/charts.py) rendered by Chromium on a 360 px phone."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE_HEIGHT, PHONE_WIDTH
from tests.test_charts import artifacts, demo_html

pytestmark = pytest.mark.browser


def test_demo_page_on_a_phone(browser):
    """Screenshot the demo at 360×740: fits the width, text ≥ 10.5 px, no two labels of a chart overlap."""
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
              if (px < 10.5) out.small.push(`${t.textContent} ${px.toFixed(1)}px`);
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
    assert not report["small"], f"text under 10.5 px on a 360 px phone: {report['small']}"
    assert not report["outside"], f"text outside its chart: {report['outside']}"
    assert not report["overlaps"], f"overlapping labels: {report['overlaps']}"
