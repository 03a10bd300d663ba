"""A street administrator loads this quarter's roster: checks the file, reads what it will change, applies it."""

from __future__ import annotations

import csv
import io

import pytest

from governance.extensions import db
from tests.builders import make_issue, make_node, make_person, make_tree

pytestmark = pytest.mark.browser


def roster_file(tmp_path, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("街镇", "社区", "片", "组", "邻", "角色", "姓名", "手机号"))
    writer.writerows(rows)
    path = tmp_path / "第四季度名册.csv"
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return str(path)


def test_a_street_admin_checks_then_applies_a_roster(phone, tmp_path):
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    zone = make_node(community, "zone", "第1片")
    group = make_node(zone, "group", "第1组")
    neighbour = make_node(group, "neighbour", "第1邻")
    make_node(group, "neighbour", "第2邻")
    old = make_person("neighbour_leader", neighbour, name="王秀英")
    make_issue(old, title="3栋楼道灯不亮")
    admin = make_person("street_admin", street, name="街道管理员李明")
    db.session.commit()
    base = ("白沙洲街道", "普瑞斯堡社区", "第1片", "第1组")

    phone.log_in(admin.mobile)
    phone.goto("/admin/roster/")
    phone.check("roster-form")

    # A full-width digit: the line is shown as a mistake naming the 邻 that exists.
    phone.page.set_input_files("#file", roster_file(tmp_path, [(*base, "第１邻", "邻长", "赵国庆", "13912340001")]))
    phone.tap("main form button[type=submit].primary")
    assert "第1邻" in phone.page.locator(".roster-errors").inner_text()
    phone.check("roster-near-miss")

    rows = [(*base, "第1邻", "邻长", "赵国庆", "13912340001"), (*base, "第3邻", "邻长", "孙丽", "13912340002")]
    phone.page.set_input_files("#file", roster_file(tmp_path, rows))
    phone.tap("main form button[type=submit].primary")
    preview = phone.page.locator(".roster-preview").inner_text()
    assert "王秀英" in preview and "赵国庆" in preview and "第3邻" in preview
    phone.check("roster-preview")
    phone.page.set_viewport_size({"width": 1280, "height": 800})
    phone.shot("roster-preview-desktop")
    assert phone.overflow(1280) == 0
    phone.page.set_viewport_size({"width": 360, "height": 740})

    phone.tap(".roster-confirm button")
    assert phone.page.locator(".flash-success").count() == 1
    phone.check("roster-applied")
