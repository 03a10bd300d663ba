"""The money pages on a 360 px phone: the branch reads its project's ledger, a resident the public view."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import Project

pytestmark = pytest.mark.browser


def test_branch_reads_the_ledger_and_a_resident_the_public_view(phone):
    demo.load_demo_world(scale=0.02)
    db.session.commit()
    branch = next(entry for entry in demo.DEMO_LOGINS if entry["key"] == "branch_member")
    project = db.session.scalar(select(Project).order_by(Project.id))

    phone.log_in(branch["mobile"], branch["password"])
    phone.goto("/money/")
    assert project.name in phone.page.locator("main").inner_text()
    phone.check("projects")
    phone.goto(f"/money/{project.id}")
    body = phone.page.locator("main").inner_text()
    assert "1,607,750.00" in body or "1,607,750" in body  # the two resident drives
    phone.check("project-ledger")

    phone.page.context.clear_cookies()  # a resident: no login
    phone.goto(f"/money/public/{project.id}")
    public = phone.page.locator("main").inner_text()
    assert "普瑞物业服务有限公司" in public  # organisations are named
    assert "13900000" not in public  # no phone number of anyone
    phone.check("public-funding")
