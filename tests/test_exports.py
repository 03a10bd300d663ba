"""Exports: the table writer (CSV and XLSX), the issue-list export (direct and as a background job),
its scope, its progress, its failures, and who may see whose files.

Scope expectations are spelled out per person (a 片长 sees their 片's issues), not derived from the policy.
"""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select, text

from governance.extensions import db
from governance.models import Job, RoleAssignment
from governance.services.issues import listing
from governance.services.platform import jobs
from governance.services.reports import exports
from governance.services.reports.exports import Column, write_table
from tests.builders import force_status, make_issue, make_person, make_tree, nodes_at
from tests.conftest import export_entries

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- the writer (no database) -------------------------------------------------------------------

COLUMNS = [
    Column("编号", "text"),
    Column("数量", "int"),
    Column("办结率", "rate"),
    Column("平均用时", "hours"),
    Column("日期", "date"),
    Column("登记时间", "datetime"),
    Column("金额", "money"),
]
ROWS = [
    ['=HYPERLINK("http://x")', 3, 0.125, 4.5, date(2026, 3, 5), datetime(2026, 3, 4, 17, 30, tzinfo=UTC), 12345],
    ["+1", 0, 1.0, 0.0, None, None, -50],
    ["-2", None, None, None, None, None, None],
    ["@SUM(A1)", 7, 0.0, 1.25, date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC), 0],
    ["\tTAB", 1, 0.5, 2.0, None, None, 1],
    ["普通文字 a-b =c", 2, None, None, None, None, None],
]


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "no UTF-8 byte-order mark: Excel would garble the Chinese"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_a_bom_chinese_headers_and_quoted_formulas():
    rows = csv_rows(write_table(COLUMNS, ROWS, "csv"))
    assert rows[0] == ["编号", "数量", "办结率", "平均用时", "日期", "登记时间", "金额"]
    assert [r[0] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTAB",
        "普通文字 a-b =c",
    ]
    assert rows[1][1:] == ["3", "12.5%", "4.5", "2026-03-05", "2026-03-05 01:30", "123.45"]  # Beijing time
    assert rows[2][6] == "-0.50"
    assert rows[3][1:] == ["", "", "", "", "", ""]  # None is an empty cell


def test_xlsx_opens_with_numbers_as_numbers_and_rates_as_percentages():
    book = openpyxl.load_workbook(io.BytesIO(write_table(COLUMNS, ROWS, "xlsx")))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == ["编号", "数量", "办结率", "平均用时", "日期", "登记时间", "金额"]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    first = sheet[2]
    assert first[0].value == '\'=HYPERLINK("http://x")' and first[0].data_type == "s"  # text, never a formula
    assert first[1].value == 3 and first[1].data_type == "n"
    assert first[2].value == pytest.approx(0.125) and "%" in first[2].number_format
    assert first[3].value == pytest.approx(4.5) and first[3].data_type == "n"
    assert first[4].value == datetime(2026, 3, 5) and first[4].is_date
    assert first[5].value == datetime(2026, 3, 5, 1, 30) and first[5].is_date  # naive Beijing wall-clock time
    assert float(first[6].value) == pytest.approx(123.45) and first[6].data_type == "n"
    assert [c.value for c in sheet[4]][1:] == [None] * 6
    assert [sheet.cell(row=r, column=1).value for r in range(3, 8)] == [
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tTAB",
        "普通文字 a-b =c",
    ]
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    widths = {key: dim.width for key, dim in sheet.column_dimensions.items()}
    assert all(6 <= w <= 60 for w in widths.values()) and widths["F"] >= 16


def test_xlsx_title_row_sits_above_the_frozen_filtered_headers_and_is_guarded_too():
    data = write_table(
        COLUMNS, ROWS[:1], "xlsx", sheet_title="按类别", heading="=HYPERLINK(1) · 2026-12-01 – 2026-12-31"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet.title == "按类别"
    assert sheet["A1"].value == "'=HYPERLINK(1) · 2026-12-01 – 2026-12-31" and sheet["A1"].data_type == "s"
    assert [c.value for c in sheet[2]][:2] == ["编号", "数量"]
    assert sheet.freeze_panes == "A3" and sheet.auto_filter.ref == "A2:G2"


def test_xlsx_drops_characters_a_workbook_cannot_hold():
    book = openpyxl.load_workbook(io.BytesIO(write_table([Column("标题")], [["坏\x00字\x1f符"]], "xlsx")))
    assert book.active["A2"].value == "坏字符"


def test_unknown_kinds_formats_and_money_types_are_refused():
    with pytest.raises(ValueError):
        Column("x", "percent")
    with pytest.raises(ValueError):
        write_table([Column("x")], [["a"]], "pdf")
    with pytest.raises(TypeError):
        write_table([Column("x", "money")], [[1.5]], "csv")  # money is int fen
    with pytest.raises(ValueError):
        write_table([Column("x"), Column("y")], [["only one"]], "csv")


def test_content_disposition_carries_the_chinese_name_and_an_ascii_fallback():
    header = exports.content_disposition("问题列表-2026-03-05.xlsx")
    assert header.startswith("attachment; ")
    assert 'filename="export-2026-03-05.xlsx"' in header
    assert "filename*=UTF-8''%E9%97%AE%E9%A2%98%E5%88%97%E8%A1%A8-2026-03-05.xlsx" in header
    assert (
        exports.content_disposition("ledger.csv") == "attachment; filename=\"ledger.csv\"; filename*=UTF-8''ledger.csv"
    )
    assert exports.clean_stem('a/b\\c"\r\nd') == "a-b-c-d"


def test_table_response(app):
    with app.test_request_context():
        response = exports.table_response("满意率", [Column("满意率", "rate")], [[0.5]], "csv")
    assert response.mimetype == "text/csv"
    assert "filename*=UTF-8''%E6%BB%A1%E6%84%8F%E7%8E%87.csv" in response.headers["Content-Disposition"]
    assert csv_rows(response.get_data()) == [["满意率"], ["50.0%"]]


# --- the issue-list export ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def export_dir(tmp_path, monkeypatch, request):
    """Export files go to a folder of the test's own."""
    folder = tmp_path / "exports"
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        monkeypatch.setitem(app.config, "EXPORT_DIR", str(folder))
    return folder


@pytest.fixture
def world(app):
    """One community with two 片 (one 组 and one 邻 each): five issues in 片 0, three in 片 1."""
    make_tree(streets=1, communities=1, zones=2, groups=1, neighbours=1)
    n, z = nodes_at("neighbour"), nodes_at("zone")
    people = {
        "n0": make_person("neighbour_leader", n[0], name="邻长甲"),
        "n1": make_person("neighbour_leader", n[1], name="邻长乙"),
        "z0": make_person("zone_leader", z[0], name="片长甲"),
        "z1": make_person("zone_leader", z[1], name="片长乙"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区"),
    }
    zone0 = [
        make_issue(people["n0"], title=f"片零问题{i}", resident_name="王大妈", resident_phone="13912345678")
        for i in range(5)
    ]
    zone1 = [make_issue(people["n1"], title=f"片一问题{i}") for i in range(3)]
    force_status(zone0[0], "resolved")
    return {**people, "zone0": [i.reference for i in zone0], "zone1": [i.reference for i in zone1]}


def login(auth, person):
    response = auth.login(person.mobile)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def refs_of_csv(data: bytes) -> list[str]:
    return [row[0] for row in csv_rows(data)[1:]]


def refs_of_xlsx(data: bytes) -> list[str]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]


def job_rows() -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(select(Job).where(Job.kind == "export").order_by(Job.id)))


def test_the_list_offers_exports_with_its_filters(client, auth, world):
    login(auth, world["z0"])
    html = client.get("/issues/?status=open").get_data(as_text=True)
    assert "/exports/issues.csv?status=open" in html and "/exports/issues.xlsx?status=open" in html
    assert "/exports/" in html


def test_a_small_export_downloads_at_once_within_the_zone(client, auth, world):
    login(auth, world["z0"])
    response = client.get("/exports/issues.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_data()
    assert sorted(refs_of_csv(data)) == sorted(world["zone0"])  # the 片's own issues, none of 片 1
    body = data.decode("utf-8-sig")
    assert "王大妈" not in body and "13912345678" not in body  # never the resident's name or phone
    header = csv_rows(data)[0]
    assert len(header) == 15 and header[:2] == ["编号", "标题"] and "状态" in header and "类别" in header
    assert header[-1] == "描述"
    first = csv_rows(data)[1]
    assert first[1].startswith("片零问题")  # the title, as the triage console's CSV has it
    assert first[3].count(" / ") >= 1  # 社区 / 片 / place
    assert not job_rows()  # no background job for a small export

    xlsx = client.get("/exports/issues.xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype == XLSX
    assert sorted(refs_of_xlsx(xlsx.get_data())) == sorted(world["zone0"])


def test_the_export_holds_exactly_what_the_filters_show(client, auth, world):
    login(auth, world["district"])
    resolved = client.get("/exports/issues.csv?status=resolved")
    assert refs_of_csv(resolved.get_data()) == [world["zone0"][0]]
    zone1 = nodes_at("zone")[1]
    by_area = client.get(f"/exports/issues.csv?node={zone1.id}")
    assert sorted(refs_of_csv(by_area.get_data())) == sorted(world["zone1"])
    everything = client.get("/exports/issues.csv")
    assert sorted(refs_of_csv(everything.get_data())) == sorted(world["zone0"] + world["zone1"])
    # Newest first, as the list shows them.
    assert refs_of_csv(everything.get_data())[0] == world["zone1"][-1]


def test_a_zone_leader_cannot_export_another_zone(client, auth, world):
    login(auth, world["z0"])
    other = nodes_at("zone")[1]
    assert client.get(f"/exports/issues.csv?node={other.id}").status_code == 403
    assert client.get(f"/exports/issues.xlsx?node={other.id}").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for url in ("/exports/", "/exports/issues.csv", "/exports/1", "/exports/1/download", "/exports/1/progress"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"], url


def start_large_export(client, auth, person, fmt="csv", query=""):
    """Log in, see the confirmation a large export asks for, and confirm it; returns the job page response."""
    login(auth, person)
    url = f"/exports/issues.{fmt}{query}"
    page = client.get(url)
    assert page.status_code == 200
    assert "csrf_token" in page.get_data(as_text=True)
    assert not job_rows(), "a GET must never start a job"
    return auth.post(url, form_page=url)


def test_a_large_export_runs_as_a_job_and_reports_its_progress(app, client, auth, world, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SYNC_LIMIT", 3)
    monkeypatch.setitem(app.config, "EXPORT_PROGRESS_EVERY", 2)
    seen = []
    real = exports.set_progress

    def watched(job_id, percent):
        real(job_id, percent)
        # What another request would read: a connection of its own, outside the job's session.
        with db.engine.connect() as other:
            seen.append(other.execute(text("SELECT progress, status FROM job WHERE id = :id"), {"id": job_id}).one())

    monkeypatch.setattr(exports, "set_progress", watched)
    response = start_large_export(client, auth, world["z0"])
    [job] = job_rows()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/exports/{job.id}")
    assert job.status == "done" and job.progress == 100 and job.requested_by_id == world["z0"].id
    assert job.max_attempts == 1
    # 5 rows, progress committed every 2: 40 %, then 80 %, each visible to another connection mid-run.
    assert [tuple(row) for row in seen] == [(40, "running"), (80, "running")]

    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert f"/exports/{job.id}/download" in html and 'http-equiv="refresh"' not in html
    assert client.get(f"/exports/{job.id}/progress").get_json() == {
        "status": "done",
        "progress": 100,
        "download_url": f"/exports/{job.id}/download",
    }
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    data = download.get_data()
    assert sorted(refs_of_csv(data)) == sorted(world["zone0"])  # the 片 only, applied again in the job
    assert "13912345678" not in data.decode("utf-8-sig")
    listing_html = client.get("/exports/").get_data(as_text=True)
    assert f"/exports/{job.id}" in listing_html


def test_a_job_page_refreshes_while_the_export_runs(app, client, auth, world):
    login(auth, world["z0"])
    job = exports.start("issues", {"args": {}}, "xlsx", world["z0"], "问题列表")
    db.session.commit()
    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert 'http-equiv="refresh" content="2"' in html and "<progress" in html
    assert client.get(f"/exports/{job.id}/progress").get_json()["download_url"] is None
    assert client.get(f"/exports/{job.id}/download").status_code == 404
    assert jobs.execute(job.id) == "done"
    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert "refresh" not in html and f"/exports/{job.id}/download" in html
    download = client.get(f"/exports/{job.id}/download")
    assert download.mimetype == XLSX
    assert sorted(refs_of_xlsx(download.get_data())) == sorted(world["zone0"])


def test_the_job_applies_the_scope_the_requester_has_when_it_runs(app, client, auth, world, export_dir):
    zone0 = nodes_at("zone")[0]
    job = exports.start("issues", {"args": {"node": str(zone0.id)}}, "csv", world["z0"], "问题列表")
    db.session.commit()
    # The 片长 is moved to the other 片 before the job runs: the old 片 is no longer theirs.
    role = db.session.scalar(select(RoleAssignment).where(RoleAssignment.person_id == world["z0"].id))
    role.node_id = nodes_at("zone")[1].id
    db.session.commit()
    with pytest.raises(listing.OutOfScope):
        jobs.execute(job.id)
    [row] = job_rows()
    assert row.status == "failed" and "OutOfScope" in row.last_error
    assert not os.path.exists(export_dir) or not os.listdir(export_dir)

    # Without an area the job exports the 片 the person holds now.
    again = exports.start("issues", {"args": {}}, "csv", world["z0"], "问题列表")
    db.session.commit()
    assert jobs.execute(again.id) == "done"
    with open(exports.file_path(exports.payload_of(again)), "rb") as fh:
        assert sorted(refs_of_csv(fh.read())) == sorted(world["zone1"])


def test_a_failed_export_says_so_and_can_be_tried_again(app, client, auth, world, monkeypatch, export_dir):
    monkeypatch.setitem(app.config, "EXPORT_SYNC_LIMIT", 3)
    real = exports.write_table_to

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(exports, "write_table_to", broken)
    zone0 = nodes_at("zone")[0]
    response = start_large_export(client, auth, world["z0"], fmt="xlsx", query=f"?node={zone0.id}")
    [job] = job_rows()
    assert job.status == "failed" and "disk full" in job.last_error and job.attempts == 1
    assert not os.listdir(export_dir)  # no half-written file left behind
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'role="alert"' in html and "refresh" not in html
    assert f"/exports/{job.id}/retry" in html
    assert client.get(f"/exports/{job.id}/download").status_code == 404
    assert client.get(f"/exports/{job.id}/progress").get_json()["status"] == "failed"

    monkeypatch.setattr(exports, "write_table_to", real)
    retried = auth.post(f"/exports/{job.id}/retry", form_page=f"/exports/{job.id}")
    assert retried.status_code == 302
    first, second = job_rows()
    assert first.status == "failed" and second.status == "done"
    assert retried.headers["Location"].endswith(f"/exports/{second.id}")
    download = client.get(f"/exports/{second.id}/download")
    assert download.mimetype == XLSX and sorted(refs_of_xlsx(download.get_data())) == sorted(world["zone0"])
    # Asking again is in the audit log too, for the same area and filters.
    asked, again = export_entries()
    assert asked.actor_id == again.actor_id == world["z0"].id and asked.detail == again.detail
    assert (again.community_id, again.street_id) == (zone0.community_id, zone0.street_id)
    assert again.detail.startswith("问题清单：") and "（后台导出）" in again.detail
    assert f"node={zone0.id}" in again.detail


def test_nobody_else_sees_or_downloads_my_export(app, client, auth, world):
    job = exports.start("issues", {"args": {}}, "csv", world["z0"], "问题列表")
    db.session.commit()
    jobs.execute(job.id)
    for other in ("z1", "district"):  # another 片长, and even the district admin
        login(auth, world[other])
        for url in (f"/exports/{job.id}", f"/exports/{job.id}/download", f"/exports/{job.id}/progress"):
            assert client.get(url).status_code == 404, (other, url)
        assert auth.post(f"/exports/{job.id}/retry").status_code == 404
        assert f"/exports/{job.id}" not in client.get("/exports/").get_data(as_text=True)
        auth.logout()
    # A job that is not an export is not an export page, even for the one who caused it.
    other_job = jobs.defer("notify", {}, requested_by_id=world["z0"].id)
    db.session.commit()
    login(auth, world["z0"])
    assert client.get(f"/exports/{other_job.id}").status_code == 404
    assert client.get(f"/exports/{job.id}/download").status_code == 200


def test_old_files_are_cleaned_up_and_the_page_offers_a_new_one(app, client, auth, world, export_dir):
    job = exports.start("issues", {"args": {}}, "csv", world["z0"], "问题列表")
    db.session.commit()
    jobs.execute(job.id)
    path = exports.file_path(exports.payload_of(job))
    fresh = export_dir / "fresh.csv"
    fresh.write_bytes(b"x")
    week_ago = time.time() - timedelta(days=8).total_seconds()
    os.utime(path, (week_ago, week_ago))
    assert exports.cleanup() == 1
    assert not os.path.exists(path) and fresh.exists()
    login(auth, world["z0"])
    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert f"/exports/{job.id}/retry" in html
    assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_the_periodic_round_cleans_up_old_exports(app, export_dir):
    from governance.worker import periodic_once

    export_dir.mkdir(parents=True, exist_ok=True)
    old = export_dir / "old.csv"
    old.write_bytes(b"x")
    week_ago = time.time() - timedelta(days=8).total_seconds()
    os.utime(old, (week_ago, week_ago))
    result = periodic_once(app)
    assert result["exports_removed"] == 1 and not old.exists()


def test_cleanup_command(app, runner, export_dir):
    export_dir.mkdir(parents=True, exist_ok=True)
    old = export_dir / "old.xlsx"
    old.write_bytes(b"x")
    week_ago = time.time() - timedelta(days=8).total_seconds()
    os.utime(old, (week_ago, week_ago))
    result = runner.invoke(args=["exports", "cleanup"])
    assert result.exit_code == 0 and "removed 1" in result.output
    assert not old.exists()
