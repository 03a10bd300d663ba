"""The settings pages on a 360 px phone, as a district administrator."""

from __future__ import annotations

import pytest

from governance.extensions import db
from governance.models import NotificationChannel
from governance.services.platform import jobs
from tests.builders import make_node, make_person, make_tree, nodes_at

pytestmark = pytest.mark.browser


@jobs.handler("test_browser_broken")
def _broken(payload):
    raise ConnectionError("webhook unreachable: [Errno 111] Connection refused")


def test_district_admin_settings_pages(phone):
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    db.session.add(
        NotificationChannel(
            node_id=community.id, url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7a1b-4bc4-97a0"
        )
    )
    failed = jobs.defer("test_browser_broken", {})
    failed.max_attempts = 1
    db.session.commit()
    jobs.dispatch()  # fails for good: the jobs page shows it with a retry button
    jobs.defer("notify", {"event_ids": []})  # and one still waiting
    db.session.commit()
    admin = make_person("district_admin", nodes_at("district")[0], name="区治理办周敏")

    phone.log_in(admin.mobile)
    assert phone.path == "/"
    phone.tap(phone.page.locator(".role-card a[href$='/admin/settings/']"))
    phone.check("settings")

    phone.tap(phone.page.locator("a[href$='/admin/settings/sla']"))
    assert phone.page.locator("table.sla-table").count() == 2
    phone.check("sla")

    # A wrong value: the page comes back with the message in its cell and what was typed kept.
    phone.page.fill("#ack_group_normal", "1.5")
    phone.page.fill("#resolve_zone_urgent", "2")
    phone.page.fill("#ack_zone_urgent", "8")
    phone.tap("form.sla-form button[type=submit]")
    assert phone.page.locator("#ack_group_normal-error").is_visible()
    assert phone.page.locator("#resolve_zone_urgent-error").is_visible()
    assert phone.page.input_value("#ack_group_normal") == "1.5"
    phone.check("sla-errors")

    phone.page.fill("#ack_group_normal", "12")
    phone.page.fill("#resolve_zone_urgent", "24")
    phone.tap("form.sla-form button[type=submit]")
    assert phone.page.locator(".flash-success").is_visible()
    assert phone.page.input_value("#ack_group_normal") == "12"
    phone.check("sla-saved")

    phone.goto("/admin/settings/categories")
    phone.tap(phone.page.locator(".category-list li a", has_text="停车管理"))
    phone.check("category")
    phone.tap(phone.page.locator("main form button", has_text="停用"))  # "Deactivate" in the default Chinese
    assert phone.path == "/admin/settings/categories"
    assert phone.page.locator(".category-list li.inactive").count() == 1
    phone.check("categories")

    phone.goto("/admin/settings/jobs")
    assert phone.page.locator(".job-list li").count() == 1
    phone.page.locator(".job-trace summary").tap()
    phone.check("jobs")

    phone.goto("/admin/settings/channels")
    assert phone.page.locator(".channel-list li").count() == 1
    phone.check("channels")
