"""Settings of the triage lists: rejection reasons, response templates, responsible parties and their communities."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Node, Organisation, RejectReason, ResponseTemplate
from governance.services.triage import operations
from tests.builders import ROLE_LEVEL, category, make_organisation, make_role_holders, make_tree, nodes_at

BASE = "/admin/settings"
ACTORS = [*ROLE_LEVEL, "org_staff"]
TRIAGE_ENDPOINTS = (
    "settings.reject_reasons",
    "settings.reject_reason",
    "settings.reject_reason_active",
    "settings.response_templates",
    "settings.response_template",
    "settings.response_template_active",
    "settings.organisations",
    "settings.organisation",
    "settings.organisation_communities",
    "settings.organisation_active",
)

# These tests read the English messages; the Chinese ones are checked by test_translations.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(app):
    """Two streets of two communities each; one person per role on the first branch of the tree."""
    make_tree(streets=2, communities=2, zones=1, groups=1, neighbours=1)
    return make_role_holders(organisation=make_organisation())


@pytest.fixture
def admin(world, auth):
    auth.login(world["district_admin"].mobile)
    return world["district_admin"]


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def field_value(html: str, name: str) -> str | None:
    """The value an <input name=…> shows."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html
    )
    return match.group(1) if match else None


def textarea_value(html: str, name: str) -> str | None:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', html, re.S)
    return match.group(1) if match else None


def selected(html: str, name: str) -> str | None:
    """The selected option's value of a <select name=…>."""
    block = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    if not block:
        return None
    match = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', block.group(1))
    return (match.group(1) or match.group(2)) if match else None


def a_reason() -> RejectReason:
    return db.session.scalar(select(RejectReason).order_by(RejectReason.id))


# --- who may use what -------------------------------------------------------------------------


def triage_routes(app) -> list[tuple[str, set[str]]]:
    """(url, methods) for every triage-list route, with the ids of real rows filled in."""
    org = make_organisation("developer", "某开发商")
    ids = {
        "reason_id": a_reason().id,
        "template_id": db.session.scalar(select(ResponseTemplate.id).order_by(ResponseTemplate.id)),
        "organisation_id": org.id,
    }
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in TRIAGE_ENDPOINTS:
            url = rule.rule
            for name, value in ids.items():
                url = url.replace(f"<int:{name}>", str(value))
            routes.append((url, set(rule.methods) & {"GET", "POST"}))
    assert {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint in TRIAGE_ENDPOINTS} == set(
        TRIAGE_ENDPOINTS
    )
    return routes


@pytest.mark.parametrize("actor_role", [r for r in ACTORS if r != "district_admin"])
def test_every_route_refuses_everyone_but_district_admins(world, app, client, auth, actor_role, caplog):
    auth.login(world[actor_role].mobile)
    routes = triage_routes(app)
    before = (count(RejectReason), count(ResponseTemplate), count(Organisation))
    for url, methods in routes:
        if "GET" in methods:
            assert client.get(url).status_code == 403, (actor_role, "GET", url)
        data = {"name_zh": "新理由", "name": "新单位", "kind": "property", "title": "t", "body": "b", "active": "0"}
        assert auth.post(url, data).status_code == 403, (actor_role, "POST", url)
    assert (count(RejectReason), count(ResponseTemplate), count(Organisation)) == before
    assert "access denied" in caplog.text


def test_every_page_opens_for_a_district_admin(world, app, admin, client):
    for url, methods in triage_routes(app):
        if "GET" in methods:
            assert client.get(url).status_code == 200, url


def test_settings_index_links_the_lists_for_district_admins_only(world, client, auth):
    auth.login(world["district_admin"].mobile)
    html = client.get(f"{BASE}/").get_data(as_text=True)
    for page in ("reject-reasons", "response-templates", "organisations"):
        assert f"{BASE}/{page}" in html
    assert "/admin/audit/" in html
    auth.logout()
    auth.login(world["branch_member"].mobile)
    html = client.get(f"{BASE}/").get_data(as_text=True)
    for page in ("reject-reasons", "response-templates", "organisations"):
        assert f"{BASE}/{page}" not in html
    assert "/admin/audit/" in html


def test_ids_past_the_integer_range_are_404(admin, client, auth):
    for url in ("reject-reasons", "response-templates", "organisations"):
        assert client.get(f"{BASE}/{url}/99999999999").status_code == 404
        assert client.get(f"{BASE}/{url}/2147483000").status_code == 404
        assert auth.post(f"{BASE}/{url}/2147483000/active", {"active": "0"}).status_code == 404


# --- rejection reasons --------------------------------------------------------------------------


def test_reasons_list_add_rename_reorder(admin, client, auth):
    html = client.get(f"{BASE}/reject-reasons").get_data(as_text=True)
    assert "不属于社区治理范围" in html and "Add a rejection reason" in html
    response = auth.post(f"{BASE}/reject-reasons", {"name_zh": "  重复反映  ", "name_en": "", "sort": "５"})
    assert response.status_code == 302
    reason = db.session.scalar(select(RejectReason).where(RejectReason.name_zh == "重复反映"))
    assert reason.active and reason.sort == 5 and reason.name_en == "重复反映"
    assert operations.active_reject_reasons()[0].id == reason.id  # smallest position first
    response = auth.post(
        f"{BASE}/reject-reasons/{reason.id}", {"name_zh": "已重复反映", "name_en": "Reported before", "sort": "900"}
    )
    assert response.status_code == 302
    db.session.refresh(reason)
    assert (reason.name_zh, reason.name_en, reason.sort) == ("已重复反映", "Reported before", 900)
    assert operations.active_reject_reasons()[-1].id == reason.id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name_zh": "", "name_en": "Kept English", "sort": "10"}, "Enter the reason in Chinese."),
        ({"name_zh": "新理由", "name_en": "Kept English", "sort": "abc"}, "Whole numbers only"),
        ({"name_zh": "新理由", "name_en": "Kept English", "sort": "123456"}, "Between 0 and 9999."),
        ({"name_zh": "不属于社区治理范围", "name_en": "Kept English", "sort": "10"}, "already has this wording"),
        ({"name_zh": "新\x07理由", "name_en": "Kept English", "sort": "10"}, "Remove the special characters."),
        ({"name_zh": "长" * 61, "name_en": "Kept English", "sort": "10"}, "Field cannot be longer than 60"),
    ],
)
def test_bad_reason_input_keeps_what_was_typed(admin, client, auth, data, message):
    before = count(RejectReason)
    response = auth.post(f"{BASE}/reject-reasons", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in html
    assert field_value(html, "name_en") == "Kept English"
    assert count(RejectReason) == before
    # The same on the edit page.
    reason = db.session.scalar(select(RejectReason).order_by(RejectReason.id.desc()))
    response = auth.post(f"{BASE}/reject-reasons/{reason.id}", data)
    assert response.status_code == 200 and message in response.get_data(as_text=True)


def test_deactivated_reason_is_no_longer_offered(admin, client, auth):
    reason = a_reason()
    assert reason in operations.active_reject_reasons()
    assert auth.post(f"{BASE}/reject-reasons/{reason.id}/active", {"active": "0"}).status_code == 302
    db.session.refresh(reason)
    assert not reason.active
    assert reason.id not in {r.id for r in operations.active_reject_reasons()}
    assert "Deactivated" in client.get(f"{BASE}/reject-reasons").get_data(as_text=True)
    assert auth.post(f"{BASE}/reject-reasons/{reason.id}/active", {"active": "1"}).status_code == 302
    assert reason.id in {r.id for r in operations.active_reject_reasons()}


def test_the_last_active_reason_stays(admin, client, auth):
    reasons = list(db.session.scalars(select(RejectReason).order_by(RejectReason.id)))
    for reason in reasons[:-1]:
        auth.post(f"{BASE}/reject-reasons/{reason.id}/active", {"active": "0"})
    response = auth.post(f"{BASE}/reject-reasons/{reasons[-1].id}/active", {"active": "0"}, follow_redirects=True)
    assert "At least one rejection reason must stay active" in response.get_data(as_text=True)
    assert [r.id for r in operations.active_reject_reasons()] == [reasons[-1].id]


# --- response templates -------------------------------------------------------------------------


def test_templates_list_shows_where_each_is_offered(admin, client):
    html = client.get(f"{BASE}/response-templates").get_data(as_text=True)
    assert "已受理" in html and "Any category" in html and "Acknowledged" in html
    road = category("road")
    assert "道路施工" in html and road.name_zh in html


def test_template_add_edit_deactivate(admin, client, auth):
    road = category("road")
    data = {
        "category_id": str(road.id),
        "status": "in_progress",
        "title": "修路",
        "body": "第一行\r\n第二行",
        "sort": "5",
    }
    assert auth.post(f"{BASE}/response-templates", data).status_code == 302
    template = db.session.scalar(select(ResponseTemplate).where(ResponseTemplate.title == "修路"))
    assert (template.category_id, template.status, template.body, template.sort) == (
        road.id,
        "in_progress",
        "第一行\n第二行",
        5,
    )
    page = client.get(f"{BASE}/response-templates/{template.id}").get_data(as_text=True)
    assert selected(page, "category_id") == str(road.id) and selected(page, "status") == "in_progress"
    data = {"category_id": "", "status": "", "title": "通用", "body": "任何问题", "sort": "7"}
    assert auth.post(f"{BASE}/response-templates/{template.id}", data).status_code == 302
    db.session.refresh(template)
    assert (template.category_id, template.status, template.title) == (None, None, "通用")
    assert auth.post(f"{BASE}/response-templates/{template.id}/active", {"active": "0"}).status_code == 302
    db.session.refresh(template)
    assert not template.active


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "body": "正文保留"}, "Enter a short title."),
        ({"title": "标" * 41, "body": "正文保留"}, "At most 40 characters."),
        ({"title": "标题", "body": "长" * 501}, "At most 500 characters."),
        ({"title": "标题", "body": ""}, "Enter the text of the reply."),
        ({"title": "标题", "body": "正文保留", "status": "nonsense"}, "Not a valid choice"),
        ({"title": "标题", "body": "正文保留", "category_id": "abc"}, "Not a valid choice"),
        ({"title": "标题", "body": "正文保留", "category_id": "99999999999"}, "Not a valid choice"),
        ({"title": "标题", "body": "正文保留", "sort": "-1"}, "Whole numbers only"),
    ],
)
def test_bad_template_input_keeps_what_was_typed(admin, client, auth, data, message):
    before = count(ResponseTemplate)
    payload = {"category_id": "", "status": "resolved", "sort": "10", **data}
    response = auth.post(f"{BASE}/response-templates", payload)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert message in html
    if data["body"] and len(data["body"]) <= 500:
        assert textarea_value(html, "body") == data["body"]
    if data["title"] and len(data["title"]) <= 40:
        assert field_value(html, "title") == data["title"]
    assert count(ResponseTemplate) == before


# --- responsible parties ------------------------------------------------------------------------


def test_organisations_list_add_and_edit(world, admin, client, auth):
    street = nodes_at("street")[1]
    response = auth.post(
        f"{BASE}/organisations", {"name": "  二街道办  ", "kind": "street_office", "street_id": street.id}
    )
    assert response.status_code == 302
    office = db.session.scalar(select(Organisation).where(Organisation.name == "二街道办"))
    assert (office.kind, office.street_id, office.active) == ("street_office", street.id, True)
    assert response.headers["Location"].endswith(f"/organisations/{office.id}")
    html = client.get(f"{BASE}/organisations").get_data(as_text=True)
    assert "二街道办" in html and "Street office" in html and street.name in html and "0 communities" in html
    response = auth.post(
        f"{BASE}/organisations/{office.id}", {"name": "第二街道办事处", "kind": "department", "street_id": ""}
    )
    assert response.status_code == 302
    db.session.refresh(office)
    assert (office.name, office.kind, office.street_id) == ("第二街道办事处", "department", None)


@pytest.mark.parametrize("name", ["金湾物业", "金湾物业 ", "ABC物业"])
def test_duplicate_organisation_name_is_a_form_error(world, admin, client, auth, name):
    make_organisation("property", "金湾物业")
    make_organisation("property", "abc物业")
    before = count(Organisation)
    response = auth.post(f"{BASE}/organisations", {"name": name, "kind": "developer", "street_id": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Another organisation already has this name." in html
    assert field_value(html, "name") == name.strip()
    assert selected(html, "kind") == "developer"
    assert count(Organisation) == before
    # Renaming another organisation to a taken name is refused the same way.
    other = make_organisation("department", "区住建局")
    response = auth.post(f"{BASE}/organisations/{other.id}", {"name": name, "kind": "department", "street_id": ""})
    assert response.status_code == 200 and "Another organisation already has this name." in response.get_data(
        as_text=True
    )
    db.session.refresh(other)
    assert other.name == "区住建局"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "property", "street_id": ""}, "Enter the organisation's name."),
        (
            {"name": "某街道办", "kind": "street_office", "street_id": ""},
            "Choose the street (街镇) this office belongs to.",
        ),
        ({"name": "某单位", "kind": "bank", "street_id": ""}, "Not a valid choice"),
        ({"name": "某单位", "kind": "property", "street_id": "abc"}, "Not a valid choice"),
        ({"name": "某单位", "kind": "property", "street_id": "99999999999"}, "Not a valid choice"),
        ({"name": "名" * 121, "kind": "property", "street_id": ""}, "At most 120 characters."),
    ],
)
def test_bad_organisation_input_is_a_message(world, admin, client, auth, data, message):
    before = count(Organisation)
    response = auth.post(f"{BASE}/organisations", data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count(Organisation) == before


def test_a_community_id_is_not_a_street(world, admin, client, auth):
    """Only 街镇 are offered as the street; a community's id is refused."""
    community = nodes_at("community")[0]
    response = auth.post(f"{BASE}/organisations", {"name": "某单位", "kind": "property", "street_id": community.id})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)


def test_pairing_is_saved_and_used_by_triage(world, admin, client, auth):
    org = make_organisation("property", "金湾物业")
    communities = nodes_at("community")
    page = client.get(f"{BASE}/organisations/{org.id}").get_data(as_text=True)
    # One <details> per 街镇, each listing its communities as checkboxes.
    assert page.count('class="card filters pairing-street"') == len(nodes_at("street"))
    assert page.count('type="checkbox" name="communities"') == len(communities)
    chosen = [communities[0].id, communities[3].id]
    response = auth.post(f"{BASE}/organisations/{org.id}/communities", {"communities": chosen})
    assert response.status_code == 302
    db.session.refresh(org)
    assert [c.id for c in org.communities] == chosen
    assert org.id in {o.id for o in operations.eligible_organisations(communities[0])}
    assert org.id not in {o.id for o in operations.eligible_organisations(communities[1])}
    page = client.get(f"{BASE}/organisations/{org.id}").get_data(as_text=True)
    assert f'value="{communities[0].id}" checked' in page and f'value="{communities[1].id}" checked' not in page
    assert "2 communities" in client.get(f"{BASE}/organisations").get_data(as_text=True)
    # Untick one, tick another.
    response = auth.post(f"{BASE}/organisations/{org.id}/communities", {"communities": [communities[1].id]})
    assert response.status_code == 302
    db.session.refresh(org)
    assert [c.id for c in org.communities] == [communities[1].id]
    # Untick everything.
    assert auth.post(f"{BASE}/organisations/{org.id}/communities", {}).status_code == 302
    db.session.refresh(org)
    assert org.communities == []


@pytest.mark.parametrize("junk", ["abc", "99999999999", "-1", "1.5", "street", "zone"])
def test_pairing_refuses_what_is_not_a_community(world, admin, client, auth, junk):
    org = make_organisation("property", "金湾物业")
    community = nodes_at("community")[0]
    org.communities.append(community)
    db.session.commit()
    value = {"street": nodes_at("street")[0].id, "zone": nodes_at("zone")[0].id}.get(junk, junk)
    response = auth.post(
        f"{BASE}/organisations/{org.id}/communities", {"communities": [nodes_at("community")[1].id, value]}
    )
    assert response.status_code == 200
    assert "do not exist" in response.get_data(as_text=True)
    db.session.refresh(org)
    assert [c.id for c in org.communities] == [community.id]


def test_deactivated_organisation_is_not_offered(world, admin, client, auth):
    org = make_organisation("property", "金湾物业")
    community = nodes_at("community")[0]
    org.communities.append(community)
    db.session.commit()
    assert auth.post(f"{BASE}/organisations/{org.id}/active", {"active": "0"}).status_code == 302
    assert org.id not in {o.id for o in operations.eligible_organisations(community)}
    assert "Deactivated" in client.get(f"{BASE}/organisations").get_data(as_text=True)
    assert auth.post(f"{BASE}/organisations/{org.id}/active", {"active": "1"}).status_code == 302
    assert org.id in {o.id for o in operations.eligible_organisations(community)}


def test_organisation_page_fits_a_whole_district(admin, client):
    """~130 communities over 11 街镇: the page stays one <details> per 街镇, all closed until something is ticked."""
    district = db.session.scalar(select(Node).where(Node.level == "district"))
    from tests.builders import make_node

    for s in range(11):
        street = make_node(district, "street", f"镇{s}")
        for c in range(12):
            make_node(street, "community", f"镇{s}社区{c}")
    db.session.commit()
    org = make_organisation("property", "全区物业")
    html = client.get(f"{BASE}/organisations/{org.id}").get_data(as_text=True)
    assert html.count("<details") >= 11 and " open>" not in html.split("Communities served")[1].split("</form>")[0]


def test_pages_render_in_chinese(world, app, admin, client, auth):
    """The default interface language: every page renders (the catalogue may still lack the new strings)."""
    app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    for url, methods in triage_routes(app):
        if "GET" in methods:
            assert client.get(url).status_code == 200, url
    response = auth.post(f"{BASE}/organisations", {"name": "", "kind": "street_office", "street_id": ""})
    assert response.status_code == 200
    assert client.get("/admin/audit/", query_string={"date_from": "abc", "action": "x"}).status_code == 200
