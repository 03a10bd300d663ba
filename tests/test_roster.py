"""Roster import (名册导入): the `flask roster import` command, the upload page and the service behind both."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import event, func, select

from governance.extensions import db
from governance.models import Node, Person, RoleAssignment
from governance.services.people.roster import COLUMNS, import_roster
from tests.builders import make_node, make_person, make_tree, nodes_at
from tests.conftest import csrf_from

DATA = Path(__file__).parent / "data"
UPLOAD_URL = "/admin/roster/"


# --- helpers ---------------------------------------------------------------------------------------------------


def csv_bytes(rows, header=COLUMNS, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, header=COLUMNS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def counts() -> dict[str, int]:
    """Rows per table, read in a fresh transaction (so the CLI's or the request's commit is visible)."""
    db.session.rollback()
    return {
        "people": db.session.scalar(select(func.count()).select_from(Person)),
        "roles": db.session.scalar(select(func.count()).select_from(RoleAssignment)),
        "nodes": db.session.scalar(select(func.count()).select_from(Node)),
    }


def person(mobile: str) -> Person | None:
    db.session.rollback()
    return db.session.scalar(select(Person).where(Person.mobile == mobile))


def roles_of(mobile: str) -> set[tuple[str, str]]:
    """(role, node name) of everyone's roles with this number."""
    db.session.rollback()
    rows = db.session.execute(
        select(RoleAssignment.role, Node.name)
        .join(Person, Person.id == RoleAssignment.person_id)
        .join(Node, Node.id == RoleAssignment.node_id)
        .where(Person.mobile == mobile)
    )
    return {(r.role, r.name) for r in rows}


# Messages are checked in the English source language; one test below checks the Chinese ones.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(app):
    """Two streets with one community each, and one 片/组/邻 in each; returns their names."""
    make_tree(streets=2)
    streets = nodes_at("street")
    communities = nodes_at("community")
    names = {
        "s1": streets[0].name,
        "c1": communities[0].name,
        "z1": nodes_at("zone")[0].name,
        "g1": nodes_at("group")[0].name,
        "n1": nodes_at("neighbour")[0].name,
        "s2": streets[1].name,
        "c2": communities[1].name,
    }
    db.session.rollback()
    return names


def good_rows(w) -> list[tuple]:
    """One row per role, with a new 片/组/邻 path and an existing one."""
    s1, c1 = w["s1"], w["c1"]
    return [
        (s1, c1, "新一片", "新一组", "新一邻", "邻长", "张邻长", "13900000001"),
        (s1, c1, "新一片", "新一组", "", "组长", "李组长", "13900000002"),
        (s1, c1, "新一片", "", "", "片长", "王片长", "13900000003"),
        (s1, c1, "", "", "", "社区党组织", "赵书记", "13900000004"),
        (s1, c1, w["z1"], w["g1"], w["n1"], "邻长", "钱邻长", "139-0000-0005"),
        (s1, "", "", "", "", "街镇管理员", "孙管理", "+86 139 0000 0006"),
        ("", "", "", "", "", "区管理员", "周管理", "13900000007"),
        # One person, two roles (a 组长 who is also a 邻长).
        (s1, c1, "新一片", "新一组", "新二邻", "邻长", "李组长", "13900000002"),
    ]


def run_import(runner, tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return runner.invoke(args=["roster", "import", "--yes", str(path)])


# --- the command line ------------------------------------------------------------------------------------------


def test_cli_imports_a_good_csv(app, runner, world, tmp_path):
    before = counts()
    result = run_import(runner, tmp_path, "roster.csv", csv_bytes(good_rows(world)))
    assert result.exit_code == 0, result.output
    assert "7 created" in result.output and "Roles added: 8" in result.output
    assert "Created 1 zones (片), 1 groups (组) and 2 neighbour units (邻)" in result.output
    after = counts()
    assert after["people"] == before["people"] + 7
    assert after["roles"] == before["roles"] + 8
    assert after["nodes"] == before["nodes"] + 4

    zhang = person("13900000001")
    assert zhang.name == "张邻长" and zhang.password_hash is None and not zhang.is_active
    assert roles_of("13900000002") == {("group_leader", "新一组"), ("neighbour_leader", "新二邻")}
    assert roles_of("13900000005") == {("neighbour_leader", world["n1"])}
    assert roles_of("13900000006") == {("street_admin", world["s1"])}
    assert roles_of("13900000007") == {("district_admin", "望城区")}

    # New nodes carry their ancestor columns exactly as tree.add_node fills them.
    community = db.session.scalar(select(Node).where(Node.name == world["c1"]))
    zone = db.session.scalar(select(Node).where(Node.name == "新一片"))
    group = db.session.scalar(select(Node).where(Node.name == "新一组"))
    neighbour = db.session.scalar(select(Node).where(Node.name == "新一邻"))
    assert (zone.level, zone.parent_id, zone.street_id, zone.community_id, zone.zone_id, zone.group_id) == (
        "zone",
        community.id,
        community.street_id,
        community.id,
        zone.id,
        None,
    )
    assert (group.parent_id, group.zone_id, group.group_id, group.community_id) == (
        zone.id,
        zone.id,
        group.id,
        community.id,
    )
    assert (neighbour.parent_id, neighbour.zone_id, neighbour.group_id, neighbour.street_id) == (
        group.id,
        zone.id,
        group.id,
        community.street_id,
    )


def test_cli_imports_a_good_xlsx_in_any_column_order(app, runner, world, tmp_path):
    """Shuffled, padded headers, an extra column, a title row, empty rows and numbers typed as numbers."""
    header = ["序号", " 手机号 ", "姓名", "角色", "邻", "组", "片", "社区", "街镇 "]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["望城区名册（示例）"])
    sheet.append(header)
    sheet.append([1, 13900000011, "  吴邻长 ", "邻长", world["n1"], world["g1"], world["z1"], world["c1"], world["s1"]])
    sheet.append([None] * 9)
    sheet.append([2, 13900000012.0, "郑片长", "片长", None, None, "新片", world["c1"], world["s1"]])
    sheet.append([3])  # only a 序号: an empty row
    out = io.BytesIO()
    workbook.save(out)

    result = run_import(runner, tmp_path, "名册.XLSX", out.getvalue())
    assert result.exit_code == 0, result.output
    assert person("13900000011").name == "吴邻长"
    assert roles_of("13900000011") == {("neighbour_leader", world["n1"])}
    assert roles_of("13900000012") == {("zone_leader", "新片")}


def test_cli_reports_every_bad_row_and_imports_nothing(app, runner, world, tmp_path):
    s1, c1 = world["s1"], world["c1"]
    rows = [
        (s1, c1, "新片", "", "", "片长", "好人", "13900000021"),  # line 2: good
        ("街道一", c1, "", "", "", "社区党组织", "错街镇", "13900000022"),  # 3: street typo
        (s1, "不存在社区", "", "", "", "社区党组织", "错社区", "13900000023"),  # 4: unknown community
        (s1, c1, "新片", "", "", "片长", "坏号码", "12345"),  # 5: invalid mobile
        (s1, c1, "新片", "", "", "片长", "", "13900000025"),  # 6: no name
        (s1, c1, "新片", "组X", "", "片长", "太深", "13900000026"),  # 7: 组 must be empty for 片长
        (s1, c1, "", "", "", "村长", "怪角色", "13900000027"),  # 8: unknown role
        (s1, c1, "新片", "", "", "片长", "另一个名字", "13900000021"),  # 9: same number, other name
        (s1, c1, "新片", "", "", "片长", "长" * 41, "13900000029"),  # 10: name too long
        (s1, c1, "新片", "新组", "", "邻长", "缺邻", "13900000030"),  # 11: 邻长 without 邻
    ]
    before = counts()
    result = run_import(runner, tmp_path, "roster.csv", csv_bytes(rows))
    assert result.exit_code == 1
    err = result.stderr
    for line, column in [(3, "街镇"), (4, "社区"), (5, "手机号"), (6, "姓名"), (7, "组"), (8, "角色")]:
        assert f"Line {line}, column {column}:" in err, err
    for line, column in [(9, "姓名"), (10, "姓名"), (11, "邻")]:
        assert f"Line {line}, column {column}:" in err, err
    assert "Line 2," not in err
    assert "街道一" in err and "不存在社区" in err and "12345" in err and "line 2" in err
    assert "9 bad row(s): nothing was imported." in err
    assert counts() == before


def test_the_command_speaks_the_default_language_chinese(app, runner, world, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "zh")
    rows = [("街道一", world["c1"], "", "", "", "社区党组织", "错街镇", "13900000031")]
    result = run_import(runner, tmp_path, "roster.csv", csv_bytes(rows))
    assert result.exit_code == 1
    assert "第2行“街镇”列：" in result.stderr and "街道一" in result.stderr
    good = run_import(runner, tmp_path, "roster.csv", csv_bytes(good_rows(world)))
    assert good.exit_code == 0, good.output
    assert "新增7人" in good.output


def test_reimport_changes_nothing_and_a_corrected_name_updates_in_place(app, runner, world, tmp_path):
    data = csv_bytes(good_rows(world))
    assert run_import(runner, tmp_path, "roster.csv", data).exit_code == 0
    first = counts()
    zhang_id = person("13900000001").id

    again = run_import(runner, tmp_path, "roster.csv", data)
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 7 unchanged" in again.output and "Roles added: 0" in again.output
    assert "Created 0 zones (片), 0 groups (组) and 0 neighbour units (邻)" in again.output
    assert counts() == first

    fixed = [r if r[7] != "13900000001" else (*r[:6], "张正确", r[7]) for r in good_rows(world)]
    corrected = run_import(runner, tmp_path, "roster.csv", csv_bytes(fixed))
    assert corrected.exit_code == 0, corrected.output
    assert "0 created, 1 updated, 6 unchanged" in corrected.output
    assert counts() == first
    zhang = person("13900000001")
    assert zhang.id == zhang_id and zhang.name == "张正确"


def test_a_new_role_for_a_known_person_is_added(app, runner, world, tmp_path):
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0], name="老邻长", mobile="13900000041")
    rows = [(world["s1"], world["c1"], world["z1"], world["g1"], "", "组长", "老邻长", leader.mobile)]
    result = run_import(runner, tmp_path, "roster.csv", csv_bytes(rows))
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 1 unchanged" in result.output
    assert roles_of(leader.mobile) == {("neighbour_leader", world["n1"]), ("group_leader", world["g1"])}
    assert person(leader.mobile).password_hash is not None  # an activated account stays activated


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_cli_reads_chinese_excel_encodings(app, runner, world, tmp_path, encoding):
    result = run_import(runner, tmp_path, "roster.csv", csv_bytes(good_rows(world), encoding=encoding))
    assert result.exit_code == 0, result.output
    assert person("13900000001").name == "张邻长"
    assert roles_of("13900000003") == {("zone_leader", "新一片")}


def test_cli_refuses_a_png_renamed_csv(app, runner, world, tmp_path):
    before = counts()
    result = run_import(runner, tmp_path, "roster.csv", (DATA / "not-a-roster.png").read_bytes())
    assert result.exit_code == 1
    assert "This file is an image, not a roster." in result.stderr
    assert "Traceback" not in result.output
    assert counts() == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.csv", b"", "The file is empty."),
        ("roster.csv", b"\r\n  \r\n", "The file is empty."),
        (
            "roster.csv",
            "姓名,手机号\n张三,13900000001\n".encode(),
            "missing the column(s) 街镇、社区、片、组、邻、角色",
        ),
        ("roster.csv", csv_bytes([]), "no people in it"),
        ("roster.csv", "街镇,社区\n".encode("utf-16"), "UTF-16"),
        ("roster.csv", b"\x81\x00\xfa\xff abc", "not a CSV text file in UTF-8 or GBK"),
        ("roster.xlsx", b"PK\x03\x04 this is no zip at all", "damaged"),
        ("roster.xlsx", "街镇,社区\n".encode(), "not an Excel workbook"),
        ("roster.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel file (.xls)"),
        ("roster.txt", csv_bytes([]), "Only CSV (.csv) and Excel (.xlsx)"),
        ("roster.csv", xlsx_bytes([]), "Excel workbook with a .csv name"),
        ("roster.csv", b"%PDF-1.4\n", "PDF"),
        ("roster.csv", csv_bytes([], header=[*COLUMNS, "姓名"]), "column twice"),
    ],
)
def test_bad_files_give_a_clear_message(app, world, name, data, message):
    before = counts()
    result = import_roster(name, data)
    assert result.errors
    assert message in " ".join(e.describe() for e in result.errors)
    db.session.rollback()
    assert counts() == before


def test_a_truncated_xlsx_is_reported_as_damaged(app, world):
    good = xlsx_bytes(good_rows(world))
    assert not import_roster("roster.xlsx", good).errors
    db.session.rollback()
    truncated = import_roster("roster.xlsx", good[: len(good) // 2])
    assert [e.describe() for e in truncated.errors] == ["This Excel workbook is damaged and cannot be read."]


def test_a_mobile_saved_in_scientific_notation_is_explained(app, world):
    rows = [(world["s1"], world["c1"], "", "", "", "社区党组织", "科学", "1.39E+10")]
    result = import_roster("roster.csv", csv_bytes(rows))
    assert "scientific notation" in result.errors[0].describe()


def test_the_import_does_not_query_per_row(app, world):
    """Lookups are preloaded and writes are bulk: the statement count does not grow with the rows."""
    s1, c1 = world["s1"], world["c1"]

    def roster(n):
        return csv_bytes(
            [(s1, c1, f"片{i % 7}", f"组{i % 31}", f"邻{i}", "邻长", f"人{i}", f"139{i:08d}") for i in range(n)]
        )

    def statements(data):
        seen = []

        def count(*_args):
            seen.append(1)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            result = import_roster("roster.csv", data)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert not result.errors
        db.session.rollback()
        return len(seen)

    small, large = statements(roster(20)), statements(roster(600))
    assert large <= small + 6, (small, large)
    assert large < 30


def test_a_bad_file_writes_nothing_at_all(app, world):
    """Every row is checked before the first write: a bad last row means not one INSERT or UPDATE is sent."""
    rows = [*good_rows(world), (world["s1"], "不存在社区", "", "", "", "社区党组织", "末行", "13900000099")]
    sent = []

    def record(conn, cursor, statement, *_args):
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = import_roster("roster.csv", csv_bytes(rows))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [e.line for e in result.errors] == [len(rows) + 1]
    assert set(sent) <= {"SELECT"}, sent


def test_a_concurrent_change_is_reported_not_raised(app, world, monkeypatch):
    """Someone adds the same 片 between our reads and our writes: a clear error, and the caller rolls back."""
    from governance.services.people import roster

    monkeypatch.setattr(roster.Tree, "load_below", lambda self, communities: None)  # "not there yet"
    before = counts()
    rows = [(world["s1"], world["c1"], world["z1"], "", "", "片长", "并发", "13900000098")]
    result = import_roster("roster.csv", csv_bytes(rows))
    assert [e.describe() for e in result.errors] == [
        "The tree or the people changed while this file was being imported, so nothing was imported. "
        "Please upload it again."
    ]
    assert counts() == before


def test_a_request_over_the_upload_limit_gets_a_page_not_a_500(app, client, auth, world, monkeypatch):
    admin = street_admin(world)
    auth.login(admin.mobile)
    token = csrf_from(client.get(UPLOAD_URL).get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    response = client.post(
        UPLOAD_URL,
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 10_000), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


# --- the upload page -------------------------------------------------------------------------------------------


def upload(client, name: str, data: bytes):
    token = csrf_from(client.get(UPLOAD_URL).get_data(as_text=True))
    return client.post(
        UPLOAD_URL,
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def upload_and_apply(client, name: str, data: bytes):
    """Upload a file and, when it passes the check, apply the changes it shows (the two steps of the page)."""
    checked = upload(client, name, data)
    html = checked.get_data(as_text=True)
    if 'action="/admin/roster/confirm"' not in html:
        return checked
    form = html[html.index('action="/admin/roster/confirm"') :]
    return client.post(
        "/admin/roster/confirm",
        data={
            "csrf_token": csrf_from(form),
            "staged": re.search(r'name="staged" value="(\d+)"', form).group(1),
            "fingerprint": re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]{64})"', form).group(1),
        },
    )


def street_admin(world):
    street = db.session.scalar(select(Node).where(Node.name == world["s1"]))
    return make_person("street_admin", street, name="街镇管理员甲")


def test_the_page_shows_the_form_and_the_expected_columns(app, client, auth, world):
    admin = street_admin(world)
    auth.login(admin.mobile)
    page = client.get(UPLOAD_URL)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    assert all(f'<th scope="col">{c}</th>' in html for c in COLUMNS)
    assert 'class="table-scroll"' in html
    template = client.get("/admin/roster/template.csv")
    assert template.status_code == 200
    assert template.data.startswith("\ufeff街镇,社区,片,组,邻,角色,姓名,手机号".encode())


def test_a_street_admin_imports_rows_in_their_street(app, client, auth, world):
    admin = street_admin(world)
    auth.login(admin.mobile)
    s1, c1 = world["s1"], world["c1"]
    rows = [
        (s1, c1, "新片", "新组", "新邻", "邻长", "页面邻长", "13900000051"),
        (s1, c1, "", "", "", "社区党组织", "页面书记", "13900000052"),
    ]
    response = upload_and_apply(client, "roster.csv", csv_bytes(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The roster has been imported." in html
    for label, value in [
        ("People created", 2),
        ("People updated", 0),
        ("Roles added", 2),
        ("Neighbour units (邻) created", 1),
    ]:
        assert f'<th scope="row">{label}</th><td>{value}</td>' in html
    assert roles_of("13900000051") == {("neighbour_leader", "新邻")}
    assert roles_of("13900000052") == {("branch_member", c1)}


def test_a_row_in_another_street_is_refused_and_nothing_is_imported(app, client, auth, world):
    admin = street_admin(world)
    auth.login(admin.mobile)
    rows = [
        (world["s1"], world["c1"], "", "", "", "社区党组织", "本街书记", "13900000061"),
        (world["s2"], world["c2"], "", "", "", "社区党组织", "外街书记", "13900000062"),
        (world["s1"], "", "", "", "", "街镇管理员", "想当管理员", "13900000063"),
    ]
    before = counts()
    response = upload(client, "roster.csv", csv_bytes(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Line 3, column 街镇: This place is outside the area you may import for." in html
    assert "Line 4, column 角色: Only a district administrator may import 街镇管理员 rows." in html
    assert "Nothing was imported." in html
    assert "Line 2" not in html
    assert counts() == before


def test_a_district_admin_may_import_admin_rows(app, client, auth, world):
    district = nodes_at("district")[0]
    admin = make_person("district_admin", district)
    auth.login(admin.mobile)
    rows = [
        (world["s2"], "", "", "", "", "街镇管理员", "新街镇管理员", "13900000071"),
        ("", "", "", "", "", "区管理员", "新区管理员", "13900000072"),
    ]
    response = upload_and_apply(client, "roster.xlsx", xlsx_bytes(rows))
    assert "The roster has been imported." in response.get_data(as_text=True)
    assert roles_of("13900000071") == {("street_admin", world["s2"])}


def test_a_street_admin_cannot_rename_someone_outside_their_street(app, client, auth, world):
    other = make_person("zone_leader", nodes_at("zone")[1], name="外街片长", mobile="13900000081")
    admin = street_admin(world)
    auth.login(admin.mobile)
    rows = [(world["s1"], world["c1"], world["z1"], "", "", "片长", "改了名字", other.mobile)]
    response = upload(client, "roster.csv", csv_bytes(rows))
    html = response.get_data(as_text=True)
    assert "Line 2, column 姓名:" in html and "Nothing was imported." in html
    assert "外街片长" not in html  # the other person's name is not revealed
    assert person(other.mobile).name == "外街片长"
    # With the same name, the role is simply added.
    rows = [(world["s1"], world["c1"], world["z1"], "", "", "片长", "外街片长", other.mobile)]
    assert "The roster has been imported." in upload_and_apply(client, "roster.csv", csv_bytes(rows)).get_data(
        as_text=True
    )
    assert ("zone_leader", world["z1"]) in roles_of(other.mobile)


def test_a_neighbour_leader_is_refused(app, client, auth, world):
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0])
    auth.login(leader.mobile)
    assert client.get(UPLOAD_URL).status_code == 403
    token = csrf_from(client.get("/").get_data(as_text=True))
    response = client.post(
        UPLOAD_URL,
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes([])), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert client.get("/admin/roster/template.csv").status_code == 403


def test_a_file_that_is_too_big_or_not_a_roster_gets_a_message(app, client, auth, world, monkeypatch):
    admin = street_admin(world)
    auth.login(admin.mobile)
    before = counts()

    png = upload(client, "roster.csv", (DATA / "not-a-roster.png").read_bytes())
    assert png.status_code == 200
    assert "This file is an image, not a roster." in png.get_data(as_text=True)

    monkeypatch.setitem(app.config, "ROSTER_MAX_BYTES", 1024)
    big = upload(client, "roster.csv", csv_bytes(good_rows(world) * 20))
    assert big.status_code == 200
    assert "The file is too big" in big.get_data(as_text=True)

    wrong = upload(client, "roster.png", b"\x89PNG")
    assert wrong.status_code == 200
    assert "Only CSV (.csv) and Excel (.xlsx) files can be imported." in wrong.get_data(as_text=True)

    token = csrf_from(client.get(UPLOAD_URL).get_data(as_text=True))
    missing = client.post(UPLOAD_URL, data={"csrf_token": token}, content_type="multipart/form-data")
    assert missing.status_code == 200
    assert "Choose a roster file to upload." in missing.get_data(as_text=True)
    assert counts() == before


def test_a_sample_file_from_tests_data_imports(app, runner):
    district = make_node(None, "district", "望城区")
    street = make_node(district, "street", "示例街道")
    make_node(street, "community", "示例社区")
    db.session.commit()
    result = runner.invoke(args=["roster", "import", "--yes", str(DATA / "roster-sample.csv")])
    assert result.exit_code == 0, result.output
    assert "4 created" in result.output


# --- property: nothing a user can upload makes the import raise ------------------------------------------------

anything = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(lambda t: t.encode("utf-8")),
    st.text(max_size=500).map(lambda t: t.encode("gb18030")),
    st.lists(st.lists(st.text(max_size=12), max_size=10), max_size=8).map(lambda rows: csv_bytes(rows)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=anything, name=st.sampled_from(["roster.csv", "roster.xlsx", "ROSTER.CSV"]))
def test_arbitrary_uploads_never_raise_and_import_nothing(app, client, auth, data, name):
    """Arbitrary bytes or text, uploaded as a roster: a page with errors (never a 500), and nothing imported."""
    if not nodes_at("street"):
        make_tree()
        auth.login(make_person("district_admin", nodes_at("district")[0]).mobile)
    before = counts()
    response = upload(client, name, data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "The roster has been imported." not in html
    assert 'class="error' in html
    assert counts() == before
