"""Every CSV and XLSX the app hands out quotes a cell a spreadsheet would run as a formula, including one that
starts with a tab or a carriage return before the = (Excel and LibreOffice skip them and still run it): the
money ledger's exports, the triage console's and the parties' CSV and the issue list's CSV and XLSX (with each
issue's title and description) go through the one table writer."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from governance.extensions import db
from governance.models import LedgerEntry, utcnow
from tests.builders import force_status, make_issue, make_organisation, make_person, make_project, make_tree, nodes_at
from tests.conftest import Auth

HIDDEN_FORMULAS = ("\t=HYPERLINK(1)", "\r=HYPERLINK(2)")


def login(app, person):
    client = app.test_client()
    assert Auth(client).login(person.mobile).status_code in (302, 303)
    return client


def csv_cells(response) -> list[str]:
    assert response.status_code == 200
    return [cell for row in csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))) for cell in row]


@pytest.fixture
def world(app):
    make_tree(streets=1, communities=1, zones=1, groups=1, neighbours=1)
    community = nodes_at("community")[0]
    party = make_organisation("property", "金湾物业")
    party.communities.append(community)
    db.session.commit()
    return {
        "community": community,
        "party": party,
        "branch": make_person("branch_member", community),
        "neighbour": make_person("neighbour_leader", nodes_at("neighbour")[0]),
        "staff": make_person("org_staff", None, organisation=party),
    }


def test_the_ledger_exports_quote_formulas_behind_a_tab_or_carriage_return(world, app):
    from openpyxl import load_workbook

    project = make_project(world["community"])
    for text in HIDDEN_FORMULAS:  # straight into the table: the recording form trims what it is given
        db.session.add(
            LedgerEntry(project_id=project.id, kind="expenditure", amount_fen=1_00, payee=text, purpose=text)
        )
    db.session.commit()
    client = login(app, world["branch"])
    cells = csv_cells(client.get(f"/money/{project.id}/ledger.csv"))
    xlsx = client.get(f"/money/{project.id}/ledger.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    xlsx_cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    for text in HIDDEN_FORMULAS:
        assert "'" + text in cells and text not in cells
    # Reading the workbook back turns its carriage return into a line feed (XML's line ends): the quote is first.
    formulas = [c for c in xlsx_cells if "HYPERLINK" in c]
    assert len(formulas) == 4 and all(c.startswith("'") for c in formulas)


@pytest.mark.parametrize("text", HIDDEN_FORMULAS)
def test_the_triage_csvs_quote_formulas_behind_a_tab_or_carriage_return(world, app, text):
    from governance.services.triage import operations

    issue = make_issue(world["neighbour"])
    force_status(issue, issue.status, level="community")
    issue.title = text  # straight into the table: the filing form trims what it is given
    operations.assign(world["branch"], issue, world["party"], utcnow().date() + timedelta(days=3))
    db.session.commit()
    console = csv_cells(login(app, world["branch"]).get(f"/triage/community/{world['community'].id}/export.csv"))
    queue = csv_cells(login(app, world["staff"]).get("/triage/org/export.csv"))
    for cells in (console, queue):
        assert "'" + text in cells and text not in cells


FORMULA_STARTS = ("=HYPERLINK(3)", "+1+cmd", "-2+cmd", "@SUM(A1)", *HIDDEN_FORMULAS)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_issue_list_exports_quote_formulas_in_titles_and_descriptions(world, app, fmt):
    """The issue list's exports carry each issue's title and description, typed by leaders: a title or a
    description starting with = + - @ (or a tab or carriage return before it) is written as text."""
    from openpyxl import load_workbook

    for text in FORMULA_STARTS:
        issue = make_issue(world["neighbour"])
        issue.title = issue.description = text  # straight into the table: the filing form trims what it is given
    db.session.commit()
    response = login(app, world["branch"]).get(f"/exports/issues.{fmt}")
    if fmt == "csv":
        cells = csv_cells(response)
    else:
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.data)).active
        assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
        # Reading the workbook back turns a carriage return into a line feed (XML's line ends).
        cells = [str(c).replace("\n", "\r") for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    for text in FORMULA_STARTS:
        assert cells.count("'" + text) == 2, (fmt, text)  # the title and the description
        assert text not in cells, (fmt, text)
