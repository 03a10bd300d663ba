"""Hostile values in the address bar and in forms: a clear answer (a page, a 404, a refusal), never a 500.

Each case here once crashed a page: a redirect target carrying a line break, ids and page numbers past
the database's integer, digits of other scripts read as numbers. `governance/parsing.py` is the one
reader of ids and page numbers; tests/test_fuzz_routes.py throws such values at every route.
"""

from __future__ import annotations

import pytest

from governance.parsing import DB_INT_MAX, MAX_PAGE, parse_id, parse_page
from governance.services.money import ledger
from governance.urls import safe_next
from tests.builders import make_issue, make_person, make_project, make_source, make_tree, nodes_at
from tests.conftest import csrf_from

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "target",
    ["/\n", "/\r\nSet-Cookie: x=1", "/\x00", "/\t", "/a\x7f", "/\u2028", "/\u0085x"],
)
def test_a_redirect_target_with_a_control_character_is_refused(target):
    assert safe_next(target) is None


def test_a_plain_redirect_target_is_kept():
    assert safe_next("/issues/?status=open") == "/issues/?status=open"
    assert safe_next("/p/小区") == "/p/小区"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", 1),
        (" 42 ", 42),
        (str(DB_INT_MAX), DB_INT_MAX),
        ("１２", 12),  # full-width digits, as a Chinese keyboard types them
        (str(DB_INT_MAX + 1), None),
        (HUGE, None),
        ("0", None),
        ("-1", None),
        ("+1", None),
        ("1_000", None),
        ("١٢٣", None),  # Arabic-Indic digits: int() reads them, people here never type them
        ("१२", None),
        ("1\n", 1),
        ("1\x00", None),
        ("", None),
        (None, None),
        ("1" * 5000, None),
        ("1.0", None),
        (7, 7),
    ],
)
def test_parse_id(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("3", 3),
        (None, 1),
        ("", 1),
        ("0", 1),
        ("-4", 1),
        ("abc", 1),
        (HUGE, MAX_PAGE),
        ("9223372036854775808", MAX_PAGE),
    ],
)
def test_parse_page(raw, expected):
    assert parse_page(raw) == expected


@pytest.mark.parametrize("text", ["١٢٣", "۱۲۳", "१२३", "๑๒๓", "1٢3", "𝟏𝟐𝟑"])
def test_an_amount_in_digits_of_another_script_is_refused_with_a_message(text):
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.parse_amount(text)
    assert refused.value.code == "amount_digits"
    assert "0" in refused.value.message and "9" in refused.value.message


def test_an_amount_in_full_width_digits_is_read():
    assert ledger.parse_amount("１２３") == 12300
    assert ledger.parse_amount("１，６００．５０") == 160050
    assert ledger.parse_amount("￥１２３.４５") == 12345


def test_language_switch_with_a_line_break_in_next(app, client):
    response = client.get("/lang/zh?next=/%0A")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_with_a_line_break_in_next(app, client):
    make_tree()
    person = make_person("branch_member", nodes_at("community")[0])
    token = csrf_from(client.get("/auth/login").get_data(as_text=True))
    response = client.post(
        "/auth/login?next=/%0A", data={"mobile": person.mobile, "password": "password-123", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "\n" not in response.headers["Location"]


@pytest.fixture
def ledger_world(app, client, auth):
    make_tree()
    community = nodes_at("community")[0]
    project = make_project(community)
    make_source(project)
    admin = make_person("district_admin", nodes_at("district")[0])
    auth.login(admin.mobile)
    return project


@pytest.mark.parametrize("source", [HUGE, "2147483648", "-1", "١٢٣", "1\n"])
def test_ledger_filter_with_an_impossible_source(ledger_world, client, source):
    project = ledger_world
    for path in (f"/money/{project.id}", f"/money/{project.id}/ledger.csv", f"/money/{project.id}/ledger.xlsx"):
        assert client.get(path, query_string={"source": source}).status_code == 200, path


@pytest.mark.parametrize("page", ["9223372036854775808", HUGE, "-5", "x"])
def test_paged_lists_with_an_impossible_page(ledger_world, client, page):
    project = ledger_world
    for path in (f"/money/{project.id}", "/admin/people", "/inbox/", "/p/"):
        assert client.get(path, query_string={"page": page}).status_code == 200, path


@pytest.mark.parametrize("entry_id", [HUGE, "2147483648", "١", "0", ""])
def test_reversing_an_impossible_entry_is_not_found(ledger_world, client, entry_id):
    project = ledger_world
    token = csrf_from(client.get(f"/money/{project.id}").get_data(as_text=True))
    response = client.post(
        f"/money/{project.id}/reverse",
        data={"entry_id": entry_id, "reason": "错了", "idempotency_key": "k" * 32, "csrf_token": token},
    )
    assert response.status_code == 404


def test_issue_forms_with_impossible_ids(app, client, auth):
    make_tree()
    admin = make_person("district_admin", nodes_at("district")[0])
    filer = make_person("neighbour_leader", nodes_at("neighbour")[0])
    issue = make_issue(filer)
    auth.login(admin.mobile)
    token = csrf_from(client.get(f"/issues/{issue.id}").get_data(as_text=True))
    for step, field in (("assign", "organisation"), ("reject", "reason")):
        response = client.post(
            f"/issues/{issue.id}/triage/{step}",
            data={field: HUGE, "version": str(issue.version), "csrf_token": token, "note": "x"},
        )
        assert response.status_code < 500, step
    response = client.post(
        f"/issues/{issue.id}/status/rejected", data={"reason": "١", "version": "1", "csrf_token": token}
    )
    assert response.status_code < 500


@pytest.mark.parametrize("ident", ["١", "１", "𝟏", "2147483648", HUGE])
def test_an_id_in_the_path_is_ascii_digits_within_the_database_integer(app, client, ident):
    """<int:…> in a route matches ASCII digits up to the database's integer; anything else is no page at all."""
    make_tree()
    project = make_project(nodes_at("community")[0])
    assert client.get(f"/money/public/{project.id}").status_code == 200
    assert client.get(f"/money/public/{ident}").status_code == 404


@pytest.mark.parametrize(
    "endpoint, field, values",
    [("issues.detail", "issue_id", {}), ("reports.node", "node_id", {"period": "year", "start": "2026-01-01"})],
)
def test_a_url_built_once_for_many_ids_equals_url_for(app, endpoint, field, values):
    """urls.url_ids (a list page's links) gives exactly what url_for gives, for any id the database holds."""
    from flask import url_for

    from governance.urls import url_ids

    with app.test_request_context("/"):
        build = url_ids(endpoint, field, **values)
        for value in (1, 7, 2_147_000_001, DB_INT_MAX):
            assert build(value) == url_for(endpoint, **{field: value}, **values)
