"""Roster imports show what they will change before they change it: near-miss names, dry runs, the preview
page and its confirmation, and leader roles a roster gives to someone else."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import EndedRole, Issue, Node, Notification, Person, RoleAssignment, StagedRoster
from governance.services.people.roster import close_match, import_roster, name_key
from tests.builders import first_nodes, make_issue, make_person, make_tree
from tests.conftest import csrf_from
from tests.test_roster import UPLOAD_URL, csv_bytes, roles_of, upload

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def place(app):
    """One branch of the tree, by name, and its street admin."""
    make_tree(neighbours=2)
    first = first_nodes()
    names = {level: first[level].name for level in ("street", "community", "zone", "group", "neighbour")}
    names["admin"] = make_person("street_admin", first["street"], name="街镇管理员").mobile
    db.session.rollback()
    return names


def row(p, neighbour, role="邻长", name="新邻长", mobile="13900000101"):
    return (p["street"], p["community"], p["zone"], p["group"], neighbour, role, name, mobile)


def database_rows() -> dict[str, list]:
    """Every row of every table, in a fresh transaction: what "nothing was written" is checked against."""
    db.session.rollback()
    return {
        table.name: sorted(map(repr, db.session.execute(table.select()).all())) for table in db.metadata.sorted_tables
    }


# --- names close to an existing node ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "existing"),
    [
        ("第１邻", "第1邻"),
        ("第一邻", "第1邻"),
        ("第 1 邻", "第1邻"),
        ("1号邻", "第1邻"),
        ("第1临", "第1邻"),
        ("3栋 2单元", "3栋2单元"),
    ],
)
def test_near_names_match_their_node(typed, existing):
    assert close_match(typed, {existing: "node"}) == "node"


@pytest.mark.parametrize(("typed", "existing"), [("第2邻", "第1邻"), ("第12邻", "第1邻"), ("3栋1单元", "3栋2单元")])
def test_names_that_differ_in_a_number_are_different_places(typed, existing):
    assert close_match(typed, {existing: "node"}) is None


def test_name_keys_fold_the_ways_people_write_numbers():
    assert {name_key(n) for n in ("第１邻", "第一邻", "1 邻", "01号邻", "第 一 邻")} == {"1邻"}
    assert name_key("第二十三组") == "23组"


def test_a_full_width_digit_is_a_row_error_naming_the_likely_node_not_a_phantom_neighbour(app, runner, place, tmp_path):
    """The reported case: a roster row whose 邻 has a full-width digit used to create a second 邻."""
    typo = place["neighbour"].replace("1邻", "１邻")
    assert typo != place["neighbour"]
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes([row(place, typo)]))
    before = database_rows()

    result = runner.invoke(args=["roster", "import", "--yes", str(path)])

    assert result.exit_code == 1
    assert "Line 2, column 邻:" in result.stderr and f"“{place['neighbour']}”" in result.stderr
    assert database_rows() == before
    # Said on purpose, it is a new 邻.
    allowed = runner.invoke(args=["roster", "import", "--yes", "--allow-new-nodes", str(path)])
    assert allowed.exit_code == 0, allowed.output
    assert db.session.scalar(select(Node).where(Node.name == typo)) is not None


def test_a_misspelt_street_or_community_suggests_the_right_one(app, place):
    bad = (
        place["street"] + " ",
        place["community"].replace("1", "１"),
        "",
        "",
        "",
        "社区党组织",
        "书记",
        "13900000102",
    )
    result = import_roster("roster.csv", csv_bytes([bad]), apply=False)
    [error] = result.errors
    assert f"Did you mean “{place['community']}”?" in error.describe()


def test_two_rows_naming_one_new_place_two_ways_are_caught(app, place):
    rows = [
        row(place, "新建第一邻", mobile="13900000103"),
        row(place, "新建第1邻", name="另一人", mobile="13900000104"),
    ]
    result = import_roster("roster.csv", csv_bytes(rows), apply=False)
    assert [e.line for e in result.errors] == [3]


# --- dry run and the change set --------------------------------------------------------------------------------


def test_dry_run_prints_the_change_set_and_writes_nothing(app, runner, place, tmp_path):
    old = make_person("neighbour_leader", first_nodes()["neighbour"], name="老邻长", mobile="13900000110")
    make_issue(old, title="楼道堵塞")
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes([row(place, place["neighbour"]), row(place, "新邻", name="新人", mobile="13900000111")]))
    before = database_rows()

    result = runner.invoke(args=["roster", "import", "--dry-run", str(path)])

    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "Zones, groups and neighbour units (片/组/邻) to create: 1" in out
        and "People to add: 2" in out
        and "Roles to add: 2" in out
    )
    assert "Roles to end (someone else named): 1" in out and "老邻长 13900000110 邻长" in out and "→ 新邻长" in out
    assert "People left with no role: 1" in out
    assert "Dry run: nothing was written." in out
    assert database_rows() == before


def test_the_command_asks_before_applying(app, runner, place, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes([row(place, place["neighbour"])]))
    before = database_rows()
    refused = runner.invoke(args=["roster", "import", str(path)], input="n\n")
    assert refused.exit_code == 1 and "Apply these changes?" in refused.output
    assert database_rows() == before
    accepted = runner.invoke(args=["roster", "import", str(path)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert roles_of("13900000101") == {("neighbour_leader", place["neighbour"])}


def test_a_replaced_leaders_work_is_handed_to_the_new_one(app, runner, place, tmp_path):
    old = make_person("neighbour_leader", first_nodes()["neighbour"], name="老邻长", mobile="13900000120")
    issue_id = make_issue(old, title="路灯坏了").id
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes([row(place, place["neighbour"], name="新邻长", mobile="13900000121")]))

    result = runner.invoke(args=["roster", "import", "--yes", str(path)])

    assert result.exit_code == 0, result.output
    assert "ended: 1" in result.output
    db.session.rollback()
    assert roles_of("13900000120") == set()
    new = db.session.scalar(select(Person).where(Person.mobile == "13900000121"))
    [ended] = db.session.scalars(select(EndedRole)).all()
    assert (ended.person_id, ended.reason) == (old.id, "replaced")
    assert db.session.get(Issue, issue_id).level == "neighbour"  # the new 邻长 holds it now
    assert len(db.session.scalars(select(Notification).where(Notification.person_id == new.id)).all()) == 1


# --- the upload page: check, preview, confirm ------------------------------------------------------------------


def confirm_data(html: str) -> dict:
    return {
        "csrf_token": csrf_from(html[html.index('action="/admin/roster/confirm"') - 200 :]),
        "staged": re.search(r'name="staged" value="(\d+)"', html).group(1),
        "fingerprint": re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]{64})"', html).group(1),
    }


def test_the_page_shows_the_changes_and_applies_them_only_when_confirmed(app, client, auth, place):
    make_person("neighbour_leader", first_nodes()["neighbour"], name="老邻长", mobile="13900000130")
    auth.login(place["admin"])
    before = database_rows()
    checked = upload(client, "roster.csv", csv_bytes([row(place, place["neighbour"])]))
    html = checked.get_data(as_text=True)
    assert checked.status_code == 200
    assert "What this file will change" in html and "Nothing has been written yet" in html
    assert "老邻长" in html and "新邻长" in html
    after_check = database_rows()
    assert {k: v for k, v in after_check.items() if k != "staged_roster"} == {
        k: v for k, v in before.items() if k != "staged_roster"
    }

    applied = client.post("/admin/roster/confirm", data=confirm_data(html))
    page = applied.get_data(as_text=True)
    assert applied.status_code == 200 and "The roster has been imported." in page
    assert roles_of("13900000101") == {("neighbour_leader", place["neighbour"])}
    assert roles_of("13900000130") == set()
    assert db.session.scalars(select(StagedRoster)).all() == []
    # The same confirmation again finds nothing to apply.
    again = client.post("/admin/roster/confirm", data=confirm_data(html), follow_redirects=True)
    assert "This check has expired or was already applied" in again.get_data(as_text=True)


def test_a_change_after_the_check_shows_the_new_changes_instead_of_applying(app, client, auth, place):
    auth.login(place["admin"])
    html = upload(client, "roster.csv", csv_bytes([row(place, place["neighbour"])])).get_data(as_text=True)
    # Meanwhile someone else appoints a 邻长 there.
    make_person(
        "neighbour_leader", db.session.scalar(select(Node).where(Node.name == place["neighbour"])), name="插队者"
    )

    response = client.post("/admin/roster/confirm", data=confirm_data(html))
    page = response.get_data(as_text=True)
    assert "changed since this file was checked" in page and "插队者" in page and "Apply these changes" in page
    assert roles_of("13900000101") == set()


def test_nobody_can_apply_another_persons_check(app, client, auth, place):
    auth.login(place["admin"])
    html = upload(client, "roster.csv", csv_bytes([row(place, place["neighbour"])])).get_data(as_text=True)
    data = confirm_data(html)
    auth.logout()
    other = make_person("street_admin", first_nodes()["street"], name="另一管理员")
    auth.login(other.mobile)
    data["csrf_token"] = csrf_from(client.get(UPLOAD_URL).get_data(as_text=True))
    response = client.post("/admin/roster/confirm", data=data, follow_redirects=True)
    assert "This check has expired or was already applied" in response.get_data(as_text=True)
    assert roles_of("13900000101") == set()


def test_a_near_miss_on_the_page_is_a_line_error(app, client, auth, place):
    auth.login(place["admin"])
    typo = place["neighbour"].replace("1邻", "１邻")
    html = upload(client, "roster.csv", csv_bytes([row(place, typo)])).get_data(as_text=True)
    assert "Line 2, column 邻:" in html and "Nothing was imported." in html
    assert db.session.scalar(select(RoleAssignment).where(RoleAssignment.role == "neighbour_leader")) is None
