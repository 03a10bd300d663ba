"""Activation slips with their address and QR code, help for leaders who cannot log in, and new codes.

A leader holds a printed slip: the address of the activation page, a QR code that opens it with the
leader's number filled in, and the code, typed by hand. A leader who cannot log in is told why (not
activated yet, too many tries: until when) and what to do; the community branch, or an admin above it,
issues a new one-time code (a password-reset code once the account is active), printed the same way.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import Person
from governance.services.people import accounts
from tests.builders import make_person, make_tree, nodes_at
from tests.conftest import csrf_from

pytestmark = pytest.mark.usefixtures("english")

SITE = "https://wangcheng.example.cn"


def zone_with_waiting_leaders():
    """A 片 with a not-activated 组长 and two not-activated 邻长, an active 邻长, and the community's branch."""
    make_tree(zones=1, groups=1, neighbours=2)
    zone = nodes_at("zone")[0]
    branch = make_person("branch_member", nodes_at("community")[0], name="支部王芳")
    waiting = [make_person("group_leader", nodes_at("group")[0], activated=False)]
    waiting += [make_person("neighbour_leader", n, activated=False) for n in nodes_at("neighbour")]
    active = make_person("neighbour_leader", nodes_at("neighbour")[0], name="已激活邻长")
    return zone, branch, waiting, active


def print_sheet(client, auth, branch, zone) -> str:
    auth.login(branch.mobile)
    response = auth.post(f"/admin/codes/{zone.id}", form_page=f"/admin/codes/{zone.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def qr_path(html_or_svg: str) -> list[str]:
    """The drawing (the path data) of every QR code in a page."""
    return re.findall(r'<path[^>]* d="([^"]+)"', html_or_svg)


# --- the printed slip -------------------------------------------------------------------------------


def test_each_slip_prints_the_activation_address_and_a_qr_code_of_it(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    sheet = print_sheet(client, auth, branch, zone)
    for person in waiting:
        assert f"http://localhost/auth/activate?mobile={person.mobile}" in sheet, person.mobile  # to type
    from governance.qr import qr_svg

    drawn = qr_path(sheet)
    for person in waiting:
        link = f"http://localhost/auth/activate?mobile={person.mobile}"
        assert qr_path(qr_svg(link, "x"))[0] in drawn, person.mobile  # and as the QR code that opens it
    assert len(drawn) == len(waiting)


def test_the_code_is_on_the_slip_but_not_in_its_link(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    sheet = print_sheet(client, auth, branch, zone)
    codes = re.findall(r'class="code">([0-9A-Z]{4}) ([0-9A-Z]{4})<', sheet)
    assert len(codes) == len(waiting)
    for first, second in codes:
        assert first + second not in sheet.replace(f"{first} {second}", "")  # nowhere but where it is printed
    assert "code=" not in sheet


def test_slips_use_public_base_url(app, client, auth):
    zone, branch, waiting, _ = zone_with_waiting_leaders()
    app.config["PUBLIC_BASE_URL"] = SITE
    try:
        sheet = print_sheet(client, auth, branch, zone)
    finally:
        app.config["PUBLIC_BASE_URL"] = None
    assert f"{SITE}/auth/activate?mobile={waiting[0].mobile}" in sheet
    assert "localhost" not in sheet


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("13912345678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),  # full-width digits, as a Chinese keyboard types them
    ],
)
def test_the_activation_page_fills_in_the_number_from_the_link(app, client, given, shown):
    response = client.get("/auth/activate", query_string={"mobile": given})
    assert response.status_code == 200
    assert re.search(rf'id="mobile"[^>]*value="{shown}"', response.get_data(as_text=True))


@pytest.mark.parametrize(
    "given",
    ["", "12345", "1391234567８9", "١٣٩١٢٣٤٥٦٧٨", '13912345678"><script>', "9" * 5000, "13912345678x"],
)
def test_a_bad_number_in_the_link_is_left_out(app, client, given):
    response = client.get("/auth/activate", query_string={"mobile": given})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r'id="mobile"[^>]*value="[^"]', html)  # the field is empty
    assert '"><script>' not in html


def test_a_prefilled_number_is_only_a_suggestion(app, client):
    """What the leader types wins over the link: the form posts what is in the field."""
    make_tree()
    person = make_person("neighbour_leader", nodes_at("neighbour")[0], activated=False)
    page = client.get("/auth/activate", query_string={"mobile": "13700000000"}).get_data(as_text=True)
    assert 'value="13700000000"' in page
    (item,) = accounts.issue_codes(None, [person])
    db.session.commit()
    response = client.post(
        "/auth/activate?mobile=13700000000",
        data={
            "mobile": person.mobile,
            "code": item.code,
            "password": "hunan-2024-ok",
            "confirm": "hunan-2024-ok",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Person.password_hash).where(Person.id == person.id))
