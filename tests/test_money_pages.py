"""The ledger pages: projects in scope, balances, recording through the real forms, exports."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import LedgerEntry
from governance.services import ledger
from tests.builders import make_issue, make_person, make_project, make_source, make_tree, nodes_at
from tests.conftest import csrf_from


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=1)
    community, other = nodes_at("community")
    project = make_project(community, name="普瑞斯堡改造")
    world = {
        "project": project,
        "residents": make_source(project, "resident_donation", "捐款倡议"),
        "property": make_source(project, "property", "普瑞物业"),
        "branch": make_person("branch_member", community),
        "other_branch": make_person("branch_member", other),
        "street": make_person("street_admin", nodes_at("street")[0]),
        "neighbour": make_person("neighbour_leader", nodes_at("neighbour")[0]),
    }
    return world


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def page(client, project) -> str:
    response = client.get(f"/money/{project.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def entry_form(html: str) -> tuple[str, str]:
    """The CSRF token and idempotency key of the record form."""
    form = html[html.index('id="record"') :]
    key = form.split('name="idempotency_key" type="hidden" value="')[1].split('"')[0]
    return csrf_from(form), key


def post_entry(client, project, html, **fields):
    token, key = entry_form(html)
    data = {"csrf_token": token, "idempotency_key": fields.pop("key", key), "kind": "receipt", **fields}
    return client.post(f"/money/{project.id}/entries", data=data)


def test_branch_sees_its_projects_and_records_through_the_form(world, client, auth):
    project = world["project"]
    auth.login(world["branch"].mobile)
    listing = client.get("/money/").get_data(as_text=True)
    assert "普瑞斯堡改造" in listing
    html = page(client, project)
    first = post_entry(client, project, html, amount="1,600.50", source_id=world["property"].id)
    again = post_entry(client, project, html, amount="1,600.50", source_id=world["property"].id)
    assert first.status_code == again.status_code == 302
    assert count() == 1
    assert db.session.scalar(select(LedgerEntry.amount_fen)) == 160050
    html = page(client, project)
    assert "1,600.50" in html
    assert "✓" in html and 'role="alert"' not in html


def test_the_page_shows_a_mismatch(world, client, auth):
    project = world["project"]
    db.session.add(LedgerEntry(project_id=project.id, kind="expenditure", amount_fen=5_00, payee="x", purpose="y"))
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert 'role="alert"' in html and "without an override" in html


@pytest.mark.parametrize("typed", ["1e3", "-5", "12.345", "", "abc"])
def test_a_bad_amount_keeps_the_input_and_records_nothing(world, client, auth, typed):
    auth.login(world["branch"].mobile)
    html = page(client, world["project"])
    response = post_entry(
        client, world["project"], html, amount=typed, source_id=world["property"].id, purpose="保留我"
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "保留我" in body and f'value="{typed}"' in body
    assert count() == 0


def test_overspend_needs_an_admin_override(world, client, auth):
    project = world["project"]
    ledger.record_receipt(world["branch"], project, world["property"], 100_00)
    issue = make_issue(world["neighbour"])
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert "override_reason" not in html[html.index('id="record"') :]
    data = {"kind": "expenditure", "amount": "150", "payee": "施工队", "purpose": "修路", "issue_refs": issue.reference}
    assert post_entry(client, project, html, **data).status_code == 400
    assert count() == 1
    auth.logout()
    auth.login(world["street"].mobile)
    html = page(client, project)
    response = post_entry(client, project, html, override_reason="先行垫付", **data)
    assert response.status_code == 302
    spent = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "expenditure"))
    assert spent.override_reason == "先行垫付" and [i.id for i in spent.issues] == [issue.id]


def test_reverse_through_the_form(world, client, auth):
    project = world["project"]
    receipt = ledger.record_receipt(world["branch"], project, world["property"], 100_00)
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    token = csrf_from(html[html.index('id="entry-') :])
    key = html.split('name="idempotency_key" type="hidden" value="')[1].split('"')[0]
    data = {"csrf_token": token, "idempotency_key": key, "entry_id": receipt.id, "reason": "错账"}
    assert client.post(f"/money/{project.id}/reverse", data=data).status_code == 302
    assert client.post(f"/money/{project.id}/reverse", data=data).status_code == 302  # same key: once
    assert count() == 2 and ledger.balances(project).total.received == 0
    data["idempotency_key"] = "another"
    assert client.post(f"/money/{project.id}/reverse", data=data).status_code == 400
    assert count() == 2


def test_other_community_and_leaders_are_refused(world, client, auth):
    project = world["project"]
    for who in ("other_branch", "neighbour"):
        auth.login(world[who].mobile)
        assert client.get(f"/money/{project.id}").status_code == 403
        assert client.get(f"/money/{project.id}/ledger.csv").status_code == 403
        token = csrf_from(client.get("/").get_data(as_text=True))
        data = {"csrf_token": token, "kind": "receipt", "amount": "5", "source_id": world["property"].id}
        assert client.post(f"/money/{project.id}/entries", data=data).status_code == 403
        listing = client.get("/money/")
        assert listing.status_code == 403 or "普瑞斯堡改造" not in listing.get_data(as_text=True)
        auth.logout()
    assert count() == 0


def test_exports_never_name_anonymous_donors(world, client, auth):
    from openpyxl import load_workbook

    project, drive = world["project"], world["residents"]
    ledger.record_receipt(world["branch"], project, drive, 500_00, donor_name="张伟国", donor_named=True)
    ledger.record_receipt(world["branch"], project, drive, 300_00, donor_name="李秘密")
    ledger.record_receipt(world["branch"], project, world["property"], 1_00, note="=HYPERLINK(1)")
    db.session.commit()
    auth.login(world["branch"].mobile)
    csv_text = client.get(f"/money/{project.id}/ledger.csv").get_data(as_text=True)
    xlsx = client.get(f"/money/{project.id}/ledger.xlsx")
    cells = [str(c) for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True) for c in row]
    html = page(client, project)
    for text in (csv_text, " ".join(cells), html):
        assert "张伟国" in text and "500.00" in text
        assert "李秘密" not in text
    assert "'=HYPERLINK(1)" in csv_text and "'=HYPERLINK(1)" in cells
    filtered = client.get(f"/money/{project.id}/ledger.csv?source={world['property'].id}").get_data(as_text=True)
    assert "张伟国" not in filtered and "HYPERLINK" in filtered
