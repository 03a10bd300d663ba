"""A large issue-list export on a 360 px phone: the 片长 confirms, the file is prepared, it downloads."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from governance import demo
from governance.extensions import db
from governance.models import Issue, Person, RoleAssignment

pytestmark = pytest.mark.browser


def test_zone_leader_exports_a_large_list(phone, app, tmp_path):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    saved = {key: app.config.get(key) for key in ("EXPORT_SYNC_LIMIT", "EXPORT_DIR")}
    app.config.update(EXPORT_SYNC_LIMIT=3, EXPORT_DIR=str(tmp_path / "exports"))
    try:
        leader = db.session.scalar(select(Person).where(Person.mobile == "13900000003"))
        zone_id = db.session.scalar(select(RoleAssignment.node_id).where(RoleAssignment.person_id == leader.id))
        in_zone = db.session.scalar(select(func.count()).select_from(Issue).where(Issue.zone_id == zone_id))
        assert in_zone > 3
        phone.log_in("13900000003", demo.DEMO_PASSWORD)
        phone.goto("/issues/")
        phone.tap(".export-links a[href*='issues.xlsx']")
        phone.check("confirm")
        phone.tap("main form button[type=submit].primary")
        assert phone.path.startswith("/exports/")
        assert phone.page.locator("a.button.primary[download]").is_visible()
        phone.check("ready")
        href = phone.page.locator("a.button.primary[download]").get_attribute("href")
        response = phone.page.request.get(phone.server(href))
        assert response.status == 200
        rows = list(openpyxl.load_workbook(io.BytesIO(response.body())).active.iter_rows(values_only=True))
        assert len(rows) - 1 == in_zone  # every issue of the 片, nothing from elsewhere
        phone.goto("/exports/")
        phone.check("my-exports")
    finally:
        for key, value in saved.items():
            if value is None:
                app.config.pop(key, None)
            else:
                app.config[key] = value
