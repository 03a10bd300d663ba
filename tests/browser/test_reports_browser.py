"""Reports on a 360 px phone: the district admin drills from the district to a 片, sorts, downloads a table."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Node
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_district_admin_drills_down_to_a_zone(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    phone.log_in("13900000001", demo.DEMO_PASSWORD)
    phone.tap("nav.topnav a[href='/reports/']")
    assert phone.page.locator("h1").inner_text().startswith(demo.DISTRICT_NAME)
    phone.check("district")
    # A year, then the 街镇 with the lowest resolution rate first.
    phone.page.select_option("#r-period", "year")
    phone.tap(".period-form button[type=submit]")
    assert "period=year" in phone.path
    phone.tap("table.report-table thead a[href*='sort=resolution_rate']")
    assert "sort=resolution_rate" in phone.path
    # The sorted page opens at the table, not at its top (the link's fragment: no script needed).
    assert phone.path.endswith("#sort-resolution_rate")
    head = phone.page.locator("#sort-resolution_rate").bounding_box()
    assert phone.page.evaluate("window.scrollY") > 0, "the sorted page opened at its top"
    assert 0 <= head["y"] < 120 and head["x"] >= 0 and head["x"] + head["width"] <= 360, head
    phone.page.screenshot(path=str(ARTIFACTS / f"{phone.prefix}-sorted-as-seen.png"))  # the screen, not the page
    phone.check("district-sorted")
    rates = phone.page.locator("#children-h ~ .table-scroll tbody tr td:nth-child(6)").all_inner_texts()
    numbers = [float(t.rstrip("%")) for t in rates if t.strip() not in ("—", "")]
    assert numbers == sorted(numbers, reverse=True)
    # Scrolled sideways to the last figures, the table still says whose figures they are.
    table = phone.page.locator("#children-table")
    box = table.bounding_box()
    table.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    assert table.evaluate("el => el.scrollLeft") > 100, "the children table does not scroll on a phone"
    name = phone.page.locator("#children-table tbody th").first.bounding_box()
    assert abs(name["x"] - box["x"]) < 2, f"the place names scrolled away: {name} in {box}"
    phone.page.screenshot(path=str(ARTIFACTS / f"{phone.prefix}-scrolled-sideways.png"))
    table.evaluate("el => { el.scrollLeft = 0; }")
    # Drill down one level per tap: 街镇 → 社区 → 片.
    for level in ("street", "community", "zone"):
        phone.tap(phone.page.locator("#children-h ~ .table-scroll tbody th a").first)
        node = db.session.get(Node, int(phone.path.split("/")[2].split("?")[0]))
        assert node.level == level and "period=year" in phone.path
    phone.check("zone")
    assert phone.page.locator("svg[role=img]").count() >= 1
    # The children table of the 片 downloads as a spreadsheet with numbers as numbers.
    href = phone.page.locator(".downloads a:has-text('Excel')").first.get_attribute("href")
    response = phone.page.request.get(phone.server(href))
    assert response.status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.body())).active
    assert sheet.cell(1, 1).value and sheet.cell(2, 1).value and isinstance(sheet.cell(3, 2).value, int)
    # The way back up keeps the period.
    phone.tap(phone.page.locator("nav.crumbs a").last)
    assert db.session.get(Node, int(phone.path.split("/")[2].split("?")[0])).level == "community"
    phone.check_print("community-print")
    zone = db.session.scalar(select(Node).where(Node.level == "zone"))
    assert zone is not None
