"""The tree edits on a 360 px phone, in Chinese, as the community's branch does them: split a 组, move a 邻,
merge a 邻 — each form, the page saying what will change, and the page after it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Node
from tests.browser.test_pages import community_with_people
from tests.builders import make_issue, make_person, nodes_at

pytestmark = pytest.mark.browser


def test_branch_splits_moves_and_merges_on_a_phone(phone):
    community = community_with_people()
    member = make_person("branch_member", community, name="党支部书记杨红")
    group = nodes_at("group")[0]
    kids = [n for n in nodes_at("neighbour") if n.parent_id == group.id]
    make_issue(member, kids[1], title="楼道灯不亮")
    phone.log_in(member.mobile)

    phone.goto(f"/tree/{group.id}")
    phone.check("group-with-edits")
    phone.tap(phone.page.locator(f"a[href='/tree/{group.id}/split']"))
    phone.check("split-form")
    phone.page.fill("#name", "第1片第5组（新建）")
    phone.page.locator(f"input[name=neighbours][value='{kids[1].id}']").check()
    phone.tap("main form button[type=submit].primary")
    assert "将发生的变化" in phone.page.content()
    phone.check("split-preview")
    phone.tap("main form button[type=submit].primary")
    created = db.session.scalar(select(Node).where(Node.name == "第1片第5组（新建）"))
    assert created is not None and phone.path == f"/tree/{created.id}"
    phone.check("split-done")

    neighbour = kids[0]
    phone.goto(f"/tree/{neighbour.id}/move")
    phone.check("move-form")
    phone.page.select_option("#parent_id", str(nodes_at("group")[1].id))  # no 邻 of that name there
    phone.tap("main form button[type=submit].primary")
    phone.check("move-preview")
    phone.tap("main form button[type=submit].primary")
    assert phone.path == f"/tree/{neighbour.id}"
    phone.check("move-done")

    phone.goto(f"/tree/{kids[2].id}/merge")
    phone.check("merge-form")
    phone.page.select_option("#kept_id", str(neighbour.id))
    phone.tap("main form button[type=submit].primary")
    assert "职务结束" in phone.page.content()
    phone.check("merge-preview")
    phone.tap("main form button[type=submit].primary")
    assert phone.path == f"/tree/{neighbour.id}"
    phone.check("merge-done")
