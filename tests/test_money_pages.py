"""The ledger pages: projects in scope, balances, recording through the real forms, exports."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Issue, LedgerEntry
from governance.services.money import ledger
from tests.builders import make_issue, make_person, make_project, make_source, make_tree, nodes_at
from tests.conftest import csrf_from, export_entries, hidden_value
from tests.pages import find, find_all, text_of


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
    key = hidden_value(form, "idempotency_key")
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
    key = hidden_value(html, "idempotency_key")
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
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.title == "普瑞斯堡改造收支明细"  # what it holds, in the reader's language
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row]
    html = page(client, project)
    for text in (csv_text, " ".join(cells), html):
        assert "张伟国" in text and "500.00" in text
        assert "李秘密" not in text
    assert "'=HYPERLINK(1)" in csv_text and "'=HYPERLINK(1)" in cells
    filtered = client.get(f"/money/{project.id}/ledger.csv?source={world['property'].id}").get_data(as_text=True)
    assert "张伟国" not in filtered and "HYPERLINK" in filtered
    entries = export_entries()  # each file is in the audit log, under the project's community
    assert [e.community_id for e in entries] == [project.community_id] * 3
    assert {e.actor_id for e in entries} == {world["branch"].id}
    assert ".csv（3行）" in entries[0].detail and ".xlsx（3行）" in entries[1].detail
    assert ".csv（1行）" in entries[2].detail and f"source={world['property'].id}" in entries[2].detail


def link_form(html: str) -> str:
    return csrf_from(html[html.index('id="phase-issues"') :])


def test_branch_links_an_issue_to_a_phase(world, client, auth):
    project = world["project"]
    issue = make_issue(world["neighbour"], title="消防栓无水")
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert issue.reference not in html[html.index('id="phase-issues"') : html.index('id="reconcile"')]
    phase = project.phases[1]
    data = {"link-csrf_token": link_form(html), "link-issue_ref": issue.reference, "link-phase_id": phase.id}
    response = client.post(f"/money/{project.id}/issue-phase", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).project_phase_id == phase.id
    html = page(client, project)
    section = html[html.index('id="phase-issues"') : html.index('id="reconcile"')]
    assert issue.reference in section and section.index(phase.name) < section.index(issue.reference)
    detail = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert phase.name in detail and project.name in detail
    # No phase: unlinked again.
    data["link-phase_id"] = ""
    assert client.post(f"/money/{project.id}/issue-phase", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).project_phase_id is None


def test_linking_stays_within_scope(world, client, auth):
    project = world["project"]
    other_project = make_project(nodes_at("community")[1], name="别的改造")
    outsider = make_issue(make_person("neighbour_leader", nodes_at("neighbour")[-1]))
    issue = make_issue(world["neighbour"])
    auth.login(world["branch"].mobile)
    html = page(client, project)
    token = link_form(html)
    for ref, phase_id in (
        (outsider.reference, project.phases[0].id),  # an issue of another community
        (issue.reference, other_project.phases[0].id),  # a phase of another project
        ("WC-2026-999999", project.phases[0].id),
        (f"{issue.reference} {issue.reference}", project.phases[0].id),
    ):
        data = {"link-csrf_token": token, "link-issue_ref": ref, "link-phase_id": phase_id}
        response = client.post(f"/money/{project.id}/issue-phase", data=data)
        assert response.status_code == 400
        assert ref in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).project_phase_id is None
    assert db.session.get(Issue, outsider.id).project_phase_id is None
    auth.logout()
    for who in ("other_branch", "neighbour"):
        auth.login(world[who].mobile)
        token = csrf_from(client.get("/").get_data(as_text=True))
        data = {"link-csrf_token": token, "link-issue_ref": issue.reference, "link-phase_id": project.phases[0].id}
        assert client.post(f"/money/{project.id}/issue-phase", data=data).status_code == 403
        auth.logout()
    assert db.session.get(Issue, issue.id).project_phase_id is None


def test_public_funding_view_keeps_donors_private(world, client, auth):
    """Canaries: anonymous donors' names and any phone number never reach the public page or the exports;
    a donor who agreed is shown by initial only on the public page."""
    from openpyxl import load_workbook

    project, drive, branch = world["project"], world["residents"], world["branch"]
    phone, note_phone = "13912345678", "13700001111"
    issue = make_issue(world["neighbour"], resident_name="金丝雀丁", resident_phone=phone)
    ledger.record_pledge(branch, project, world["property"], 1_000_00, phase=project.phases[0])
    ledger.record_receipt(branch, project, world["property"], 800_00, phase=project.phases[0])
    ledger.record_receipt(branch, project, drive, 500_00, donor_name="张伟国", donor_named=True)
    ledger.record_receipt(branch, project, drive, 300_00, donor_name="金丝雀甲", note=f"电话{note_phone}")
    ledger.record_receipt(branch, project, drive, 200_00, donor_name=f"金丝雀乙 {note_phone}", phase=project.phases[1])
    mistaken = ledger.record_receipt(branch, project, drive, 100_00, donor_name="金丝雀丙", donor_named=True)
    ledger.reverse(branch, mistaken, "登记错误")
    ledger.record_expenditure(
        branch,
        project,
        400_00,
        payee="金丝雀施工队",
        purpose=f"联系{note_phone}",
        phase=project.phases[0],
        issues=[issue],
    )
    db.session.commit()

    funding = ledger.public_funding(project)
    assert (funding.resident_donations, funding.resident_total) == (3, 1_000_00)
    assert funding.named_donors == [("张**", 500_00)]
    first = funding.phases[0]
    assert (first.budget, first.received, first.spent) == (100_000_000, 800_00, 400_00)
    assert first.spent_percent == 50 and funding.phases[1].received == 200_00
    assert [(kind, name) for kind, name, _f in funding.organisations] == [("property", "普瑞物业")]

    response = client.get(f"/money/public/{project.id}")  # no login
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "张**" in html and "普瑞物业" in html and "1,000.00" in html and "<script" not in html
    assert "张伟国" not in html and 'style="' not in html
    auth.login(branch.mobile)
    assert f"/money/public/{project.id}" in page(client, project)
    csv_text = client.get(f"/money/{project.id}/ledger.csv").get_data(as_text=True)
    xlsx = client.get(f"/money/{project.id}/ledger.xlsx")
    cells = " ".join(
        str(c) for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True) for c in row
    )
    for text in (html, csv_text, cells):
        for canary in ("金丝雀甲", "金丝雀乙", "金丝雀丁", phone):
            assert canary not in text
    for canary in ("金丝雀丙", "金丝雀施工队", note_phone):
        assert canary not in html
    assert client.get("/money/public/999999").status_code == 404


def jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 200, 190)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_an_expenditure_keeps_its_scanned_receipt_privately(world, client, auth, uploads):
    project = world["project"]
    ledger.record_receipt(world["branch"], project, world["property"], 1_000_00)
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert 'enctype="multipart/form-data"' in html
    data = {"kind": "expenditure", "amount": "100", "payee": "施工队", "purpose": "修路"}
    # Not an image by content (whatever its name says): refused, nothing recorded, nothing stored.
    fake = (io.BytesIO(b"%PDF-1.4 not a photo"), "invoice.jpg")
    response = post_entry(client, project, html, receipt_scan=fake, **data)
    assert response.status_code == 400 and count() == 1
    assert not uploads.exists() or not any(uploads.iterdir())
    # A real scan: stored under a name the server chose, linked from the ledger.
    response = post_entry(client, project, html, receipt_scan=(io.BytesIO(jpeg()), "../../发票.jpg"), **data)
    assert response.status_code == 302 and count() == 2
    spent = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "expenditure"))
    assert spent.receipt_scan and "发票" not in spent.receipt_scan
    assert [p.name for p in uploads.iterdir()] == [spent.receipt_scan]
    url = f"/money/{project.id}/entries/{spent.id}/receipt"
    assert url in page(client, project)
    scan = client.get(url)
    assert scan.status_code == 200 and scan.mimetype == "image/jpeg" and scan.data[:2] == b"\xff\xd8"
    assert "private" in scan.headers["Cache-Control"]
    # The same form posted again: one entry, no second file.
    again = post_entry(client, project, html, receipt_scan=(io.BytesIO(jpeg()), "scan.jpg"), **data)
    assert again.status_code == 302 and count() == 2 and len(list(uploads.iterdir())) == 1
    auth.logout()
    # Only people who may view the ledger see it; never on the public view.
    assert url not in client.get(f"/money/public/{project.id}").get_data(as_text=True)
    assert client.get(url).status_code == 302
    for who in ("other_branch", "neighbour"):
        auth.login(world[who].mobile)
        assert client.get(url).status_code == 403
        auth.logout()
    auth.login(world["street"].mobile)
    assert client.get(url).status_code == 200
    assert client.get(f"/money/{project.id}/entries/999999/receipt").status_code == 404


def phase_card(html: str, name: str) -> str:
    """The markup of one phase's card on the public funding view (the card headed with the phase's name)."""
    (card,) = [card for card in find_all(html, "section[aria-labelledby=phases] .card") if text_of(card, "h3") == name]
    return str(card)


def bar_widths(html: str) -> list[float]:
    """The widths of the filled rects of the SVG bars (the first rect of each bar is its background)."""
    return [float(rect["width"]) for rect in find_all(html, 'svg.progress rect[fill="#1f7a4d"]')]


def test_public_funding_shows_the_true_share_of_each_budget(world, client):
    """211 % received shows 211 % and 超出预算 (the bar full, not wider); 100 % is 100 %; 99.6 % is floored to 99 %,
    never 'fully received'; a phase without a budget shows no percentage at all."""
    from governance.models import Phase

    project, source, branch = world["project"], world["property"], world["branch"]
    db.session.add_all(
        [
            Phase(project_id=project.id, name="三期", sort=3, budget_fen=1_000_00),
            Phase(project_id=project.id, name="四期", sort=4, budget_fen=0),
        ]
    )
    db.session.commit()
    db.session.refresh(project)
    first, second, third, fourth = project.phases
    first.budget_fen, second.budget_fen = 1_000_00, 1_000_00
    db.session.commit()
    ledger.record_receipt(branch, project, source, 2_110_00, phase=first)  # 211 %
    ledger.record_receipt(branch, project, source, 1_000_00, phase=second)  # exactly 100 %
    ledger.record_receipt(branch, project, source, 996_00, phase=third)  # 99.6 %
    ledger.record_receipt(branch, project, source, 500_00, phase=fourth)  # no budget
    db.session.commit()

    phases = ledger.public_funding(project).phases
    assert [p.funded_percent for p in phases] == [211, 100, 99, None]
    assert [p.over_budget for p in phases] == [True, False, False, False]

    html = client.get(f"/money/public/{project.id}").get_data(as_text=True)
    over, exact, almost, unbudgeted = (phase_card(html, name) for name in ("一期", "二期", "三期", "四期"))
    assert "预算已到账 211%" in over and "超出预算" in over
    assert "预算已到账 100%" not in over  # 211 % is not shown as 100 %
    assert bar_widths(over)[0] == 100  # the bar is full, not wider than its frame
    assert "预算已到账 100%" in exact and "超出预算" not in exact
    assert "预算已到账 99%" in almost and "预算已到账 100%" not in almost and "超出预算" not in almost
    assert "预算已到账" not in unbudgeted and "未设预算" in unbudgeted and "<svg" not in unbudgeted
    assert all(0 <= width <= 100 for width in bar_widths(html))


def test_spending_above_what_was_received_shows_its_true_share(world, client):
    """An admin's overspend override: spent 150 % of what was received is shown as such, the bar full."""
    project = world["project"]
    phase = project.phases[0]
    ledger.record_receipt(world["branch"], project, world["property"], 100_00, phase=phase)
    ledger.record_expenditure(
        world["street"], project, 150_00, payee="施工队", purpose="修路", phase=phase, override_reason="先行垫付"
    )
    db.session.commit()
    funding = ledger.public_funding(project)
    assert funding.spent_percent == 150 and funding.phases[0].spent_percent == 150
    html = client.get(f"/money/public/{project.id}").get_data(as_text=True)
    assert "到账资金已支出 150%" in html and "到账资金已支出 100%" not in html
    assert all(0 <= width <= 100 for width in bar_widths(html))


def test_a_drive_above_its_target_shows_the_true_share(world, client):
    project, drive = world["project"], world["residents"]
    drive.target_fen = 1_000_00
    db.session.commit()
    ledger.record_receipt(world["branch"], project, drive, 1_250_00, donor_name="张伟国")
    db.session.commit()
    (shown,) = ledger.public_funding(project).drives
    assert shown.target_percent == 125
    html = client.get(f"/money/public/{project.id}").get_data(as_text=True)
    assert "已达目标 1,000.00 元的 125%" in html and "元的 100%" not in html
    assert all(0 <= width <= 100 for width in bar_widths(html))


def reverse_form_of(html: str, entry_id: int) -> dict:
    """The fields of the reverse button's own form in the row of one entry, as the browser would send them."""
    row = html[html.index(f'id="entry-{entry_id}"') :]
    row = row[: row.index("</tr>")]
    fields = {}
    for tag in re.findall(r"<input[^>]*>", row):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    assert "idempotency_key" in fields and fields.get("entry_id") == str(entry_id), row
    return fields


def reversed_ids() -> list[int]:
    return sorted(db.session.scalars(select(LedgerEntry.reverses_id).where(LedgerEntry.kind == "reversal")))


def test_each_reverse_button_of_one_page_reverses_its_own_entry_once(world, client, auth):
    project = world["project"]
    a = ledger.record_receipt(world["branch"], project, world["property"], 100_00)
    b = ledger.record_receipt(world["branch"], project, world["property"], 200_00)
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    form_a, form_b = reverse_form_of(html, a.id), reverse_form_of(html, b.id)
    assert form_a["idempotency_key"] != form_b["idempotency_key"]
    first = client.post(f"/money/{project.id}/reverse", data={**form_a, "reason": "错账"}, follow_redirects=True)
    assert first.status_code == 200 and f"第 {a.id} 条已冲正" in first.get_data(as_text=True)
    second = client.post(f"/money/{project.id}/reverse", data={**form_b, "reason": "重复登记"})
    assert second.status_code == 302
    assert reversed_ids() == sorted([a.id, b.id])
    # The same form sent again (a double tap, a retry): still one reversal of each.
    again = client.post(f"/money/{project.id}/reverse", data={**form_b, "reason": "重复登记"})
    assert again.status_code == 302
    assert reversed_ids() == sorted([a.id, b.id]) and count() == 4
    assert ledger.balances(project).total.received == 0


def test_a_key_reused_for_another_entry_is_refused_not_answered_with_the_first(world, client, auth):
    project = world["project"]
    a = ledger.record_receipt(world["branch"], project, world["property"], 100_00)
    b = ledger.record_receipt(world["branch"], project, world["property"], 200_00)
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    form_a = reverse_form_of(html, a.id)
    done = client.post(f"/money/{project.id}/reverse", data={**form_a, "reason": "错账"}, follow_redirects=True)
    assert f"第 {a.id} 条已冲正" in done.get_data(as_text=True)
    reused = client.post(f"/money/{project.id}/reverse", data={**form_a, "entry_id": b.id, "reason": "错账"})
    assert reused.status_code == 409
    body = reused.get_data(as_text=True)
    assert "已用于另一笔" in body and f"第 {a.id} 条已冲正" not in body
    assert reversed_ids() == [a.id]


def test_the_record_form_key_reused_for_different_money_is_refused(world, client, auth):
    project = world["project"]
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert post_entry(client, project, html, amount="100", source_id=world["property"].id).status_code == 302
    again = post_entry(client, project, html, amount="100", source_id=world["property"].id)
    assert again.status_code == 302 and count() == 1
    other = post_entry(client, project, html, amount="250", source_id=world["property"].id)
    assert other.status_code == 409 and "已用于另一笔" in other.get_data(as_text=True)
    assert count() == 1


def test_a_reverse_without_a_reason_says_so_beside_the_field_in_the_open_row(world, client, auth):
    """The reason is checked on the server like every other field: the row's form comes back open, with the
    message beside the reason and nothing recorded; the browser's own `required` is not relied on."""
    project = world["project"]
    receipt = ledger.record_receipt(world["branch"], project, world["property"], 100_00)
    db.session.commit()
    auth.login(world["branch"].mobile)
    html = page(client, project)
    assert "required" not in str(find(html, f"#entry-{receipt.id} td.reverse"))
    fields = reverse_form_of(html, receipt.id)
    response = client.post(f"/money/{project.id}/reverse", data={**fields, "reason": "  "})
    assert response.status_code == 400 and count() == 1
    row = find(response.get_data(as_text=True), f"#entry-{receipt.id} td.reverse")
    assert row.select_one("details").has_attr("open")
    assert text_of(row, ".field.has-error .error") == "请填写冲正原因。"
    # Sent again with a reason, from the form the page came back with: reversed once.
    fields = reverse_form_of(response.get_data(as_text=True), receipt.id)
    assert client.post(f"/money/{project.id}/reverse", data={**fields, "reason": "错账"}).status_code == 302
    assert count() == 2


def test_an_expenditure_names_its_issues_as_people_type_them(world, client, auth):
    """The full reference, the number alone or with its year: the one parser the other forms use."""
    project = world["project"]
    ledger.record_receipt(world["branch"], project, world["property"], 1000_00)
    issues = [make_issue(world["neighbour"]) for _ in range(3)]
    db.session.commit()
    auth.login(world["branch"].mobile)
    year = issues[0].reference.split("-")[1]
    typed = f"{issues[0].reference}，{issues[1].id} {year}-{issues[2].id}"
    data = {"kind": "expenditure", "amount": "150", "payee": "施工队", "purpose": "修路", "issue_refs": typed}
    assert post_entry(client, project, page(client, project), **data).status_code == 302
    spent = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "expenditure"))
    assert sorted(i.id for i in spent.issues) == sorted(i.id for i in issues)
