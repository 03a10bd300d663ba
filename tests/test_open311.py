"""Open311 GeoReport v2: every endpoint in XML and JSON against the specification, the filters
and the spec's defaults, filing with API keys, rate limits, junk input, the canary test and the equality
of the API with the public projection."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update

from governance.extensions import db
from governance.formatting import BEIJING, beijing_today
from governance.models import ApiKey, Category, Household, Issue, IssueEvent, Photo, utcnow
from governance.services.issues.lifecycle import add_comment, escalate, record_callback, transition
from governance.services.public import open311, projection
from governance.services.triage import operations
from tests.builders import make_compound, make_issue, make_party, make_person, make_tree, nodes_at
from tests.canaries import CANARIES as BASE_CANARIES
from tests.canaries import PUBLIC_UPDATE

API = "/open311/v2"
FORMATS = ("xml", "json")
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
# w3 ISO 8601 with an explicit offset (the spec: "Timezone information must be included").
W3 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "address",
    "address_id",
    "zipcode",
    "media_url",
}
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]


# --- helpers ------------------------------------------------------------------------------------------


def parse(response, fmt: str):
    """The body as Python data: XML elements become dicts (lists for the repeated children), JSON as is."""
    if fmt == "json":
        assert response.content_type == "application/json; charset=utf-8"
        return json.loads(response.get_data(as_text=True))
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.data.startswith(DECLARATION)
    return ET.fromstring(response.data)


def xml_items(root: ET.Element, root_tag: str, item_tag: str) -> list[dict[str, str]]:
    """<root><item><field>text</field>…</item>…</root> as dicts of text ('' for empty elements)."""
    assert root.tag == root_tag
    assert all(child.tag == item_tag for child in root)
    return [{field.tag: field.text or "" for field in item} for item in root]


def requests_of(client, url: str, fmt: str = "json", status: int = 200) -> list[dict]:
    """The <request> elements (or JSON objects) of a service_requests answer."""
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True))
    body = parse(response, fmt)
    return xml_items(body, "service_requests", "request") if fmt == "xml" else body


def assert_error(response, status: int, fmt: str = "json") -> str:
    """The spec's error body: <errors><error><code/><description/></error></errors> or [{code, description}]."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = parse(response, fmt)
    if fmt == "xml":
        (error,) = xml_items(body, "errors", "error")
        assert set(error) == {"code", "description"}
        assert error["code"] == str(status) and error["description"]
        return error["description"]
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status and isinstance(body[0]["description"], str) and body[0]["description"]
    return body[0]["description"]


def refs(items) -> list[str]:
    return [item["service_request_id"] for item in items]


@pytest.fixture
def world(app):
    """A 街镇 with two communities; 普瑞斯堡 3栋 in the first; leaders and a branch member there; a property company."""
    make_tree(streets=1, communities=2, zones=1, groups=1, neighbours=2)
    community = nodes_at("community")[0]
    compound = make_compound(community, buildings=("3栋",))
    property_co = make_party("property", "金科物业", community)
    neighbours = nodes_at("neighbour")
    return {
        "district": nodes_at("district")[0],
        "street": nodes_at("street")[0],
        "community": community,
        "other_community": nodes_at("community")[1],
        "compound": compound,
        "building": compound.buildings[0],
        "neighbour_node": neighbours[0],
        "other_neighbour_node": neighbours[-1],
        "neighbour": make_person("neighbour_leader", neighbours[0]),
        "group": make_person("group_leader", nodes_at("group")[0]),
        "branch": make_person("branch_member", community),
        "property": property_co,
    }


def file(world, **fields):
    """An issue in 普瑞斯堡 3栋, filed by the 邻长 through the real service."""
    fields.setdefault("compound_id", world["compound"].id)
    fields.setdefault("building_id", world["building"].id)
    return make_issue(world["neighbour"], **fields)


def make_key(node, name: str = "测试客户端", revoked: bool = False) -> tuple[ApiKey, str]:
    api_key, value = open311.issue_key(None, node, name)
    if revoked:
        api_key.revoked_at = utcnow()
    db.session.commit()
    return api_key, value


def post(client, fmt: str = "json", **data):
    return client.post(f"{API}/requests.{fmt}", data=data)


# --- discovery and services ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(world, client, fmt):
    """discovery.{fmt}: changeset, contact, key_service and one GeoReport v2 endpoint with both formats."""
    response = client.get(f"{API}/discovery.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "xml":
        assert body.tag == "discovery"
        assert [child.tag for child in body] == ["changeset", "contact", "key_service", "endpoints"]
        (endpoint,) = body.find("endpoints")
        assert endpoint.tag == "endpoint"
        assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint.findtext("url").endswith("/open311/v2")
        assert endpoint.findtext("type") == "production"
        assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
        assert all(f.tag == "format" for f in endpoint.find("formats"))
    else:
        assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
        (endpoint,) = body["endpoints"]
        assert set(endpoint) == {"specification", "url", "changeset", "type", "formats"}
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["formats"] == ["text/xml", "application/json"]


def test_discovery_changeset_follows_the_service_list(world, client):
    before = client.get(f"{API}/discovery.json").get_json()["changeset"]
    db.session.execute(update(Category).where(Category.code == "road").values(name_zh="道路坑洼"))
    db.session.commit()
    assert client.get(f"{API}/discovery.json").get_json()["changeset"] != before


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_one_per_active_category(world, client, fmt):
    """services.{fmt}: <services><service> with the spec's fields; metadata true, type realtime."""
    db.session.execute(update(Category).where(Category.code == "cctv").values(active=False))
    db.session.commit()
    response = client.get(f"{API}/services.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    active = list(
        db.session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.sort, Category.id))
    )
    if fmt == "xml":
        assert body.tag == "services"
        assert [[f.tag for f in service] for service in body] == [SERVICE_FIELDS] * len(active)
        services = xml_items(body, "services", "service")
        assert {s["metadata"] for s in services} == {"true"}
    else:
        services = body
        assert [list(s) for s in services] == [SERVICE_FIELDS] * len(active)
        assert {s["metadata"] for s in services} == {True}
    assert [s["service_code"] for s in services] == [c.code for c in active]
    assert "cctv" not in {s["service_code"] for s in services}
    road = next(s for s in services if s["service_code"] == "road")
    assert road["service_name"] == "道路破损" and road["type"] == "realtime"


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(world, client, fmt):
    """services/{code}.{fmt}: <service_definition> with the urgency singlevaluelist; unknown code → 404."""
    response = client.get(f"{API}/services/road.{fmt}")
    assert response.status_code == 200
    body = parse(response, fmt)
    if fmt == "xml":
        assert body.tag == "service_definition"
        assert body.findtext("service_code") == "road"
        (attribute,) = body.find("attributes")
        assert attribute.tag == "attribute"
        assert [f.tag for f in attribute] == [
            "variable", "code", "datatype", "required", "datatype_description", "order", "description", "values",
        ]  # fmt: skip
        assert attribute.findtext("variable") == "true" and attribute.findtext("required") == "false"
        assert attribute.findtext("datatype") == "singlevaluelist" and attribute.findtext("order") == "1"
        values = [(v.findtext("key"), v.findtext("name")) for v in attribute.find("values")]
        assert all(v.tag == "value" for v in attribute.find("values"))
    else:
        assert set(body) == {"service_code", "attributes"}
        (attribute,) = body["attributes"]
        assert attribute["variable"] is True and attribute["required"] is False and attribute["order"] == 1
        assert attribute["code"] == "urgency" and attribute["datatype"] == "singlevaluelist"
        values = [(v["key"], v["name"]) for v in attribute["values"]]
    assert values == [("normal", "一般"), ("urgent", "紧急")]
    assert_error(client.get(f"{API}/services/nosuch.{fmt}"), 404, fmt)


# --- GET requests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_fields_types_and_times(world, client, fmt):
    """requests.{fmt}: <service_requests><request> with the spec's field names, open/closed, times with +08:00."""
    open_issue = file(world)
    closed = file(world, category="lighting")
    transition(world["neighbour"], closed, "withdrawn", "居民已自行处理")
    db.session.commit()
    items = requests_of(client, f"{API}/requests.{fmt}", fmt)
    assert refs(items) == [closed.reference, open_issue.reference]  # newest first
    by_ref = {item["service_request_id"]: item for item in items}
    assert set(by_ref[open_issue.reference]) == REQUEST_FIELDS | {"expected_datetime"}
    assert set(by_ref[closed.reference]) == REQUEST_FIELDS  # no deadline once closed: "may not be returned"
    assert by_ref[open_issue.reference]["status"] == "open" and by_ref[closed.reference]["status"] == "closed"
    for item in items:
        assert "lat" not in item and "long" not in item  # exact coordinates are not public
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            if name in item:
                assert W3.match(item[name]), item[name]
    first = by_ref[open_issue.reference]
    assert first["service_code"] == "road" and first["service_name"] == "道路破损"
    assert first["address"] == "普瑞斯堡 3栋"
    empty = "" if fmt == "xml" else None
    assert first["description"] == empty and first["address_id"] == empty and first["zipcode"] == empty


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_request_and_unknown_ids(world, client, fmt):
    """requests/{id}.{fmt}: one <request>; lower-case references work; unknown → 404 in the spec's format."""
    issue = file(world)
    (item,) = requests_of(client, f"{API}/requests/{issue.reference}.{fmt}", fmt)
    assert item["service_request_id"] == issue.reference
    (item,) = requests_of(client, f"{API}/requests/{issue.reference.lower()}.{fmt}", fmt)
    assert item["service_request_id"] == issue.reference
    assert_error(client.get(f"{API}/requests/WC-2026-999999.{fmt}"), 404, fmt)
    assert_error(client.get(f"{API}/tokens/nosuchtoken.{fmt}"), 404, fmt)


def test_filter_by_service_request_id_overrides_the_others(world, client):
    """A comma list of ids answers those issues, whatever the other arguments say (unknown ids are left out)."""
    a, b, c = file(world), file(world), file(world)
    db.session.execute(update(Issue).where(Issue.id == a.id).values(created_at=utcnow() - timedelta(days=400)))
    db.session.commit()
    url = f"{API}/requests.json?service_request_id={a.reference},{c.reference.lower()},WC-2026-999999&status=closed"
    assert set(refs(requests_of(client, url + "&service_code=lighting&start_date=2020-01-01"))) == {
        a.reference,
        c.reference,
    }
    assert b.reference not in refs(requests_of(client, url))


def test_filter_by_service_code_and_status(world, client):
    road, lighting, closed = file(world), file(world, category="lighting"), file(world, category="lighting")
    transition(world["neighbour"], closed, "withdrawn", "已撤回")
    db.session.commit()
    assert refs(requests_of(client, f"{API}/requests.json?service_code=road")) == [road.reference]
    assert set(refs(requests_of(client, f"{API}/requests.json?service_code=road,lighting"))) == {
        road.reference, lighting.reference, closed.reference,
    }  # fmt: skip
    assert refs(requests_of(client, f"{API}/requests.json?status=closed")) == [closed.reference]
    assert refs(requests_of(client, f"{API}/requests.json?status=open&service_code=lighting")) == [lighting.reference]
    assert len(requests_of(client, f"{API}/requests.json?status=open,closed")) == 3
    assert len(requests_of(client, f"{API}/requests.json?status=&service_code=")) == 3  # empty = not given
    assert "nosuch" in assert_error(client.get(f"{API}/requests.json?service_code=road,nosuch"), 400)
    assert_error(client.get(f"{API}/requests.xml?status=pending"), 400, "xml")


def test_dates_the_90_day_default_and_bad_dates(world, client):
    """No dates: the last 90 days. One date: 90 days from (or to) it. Both: at most 90 days apart. Else 400."""
    recent, old = file(world), file(world)
    old_time = utcnow() - timedelta(days=120)
    db.session.execute(update(Issue).where(Issue.id == old.id).values(created_at=old_time))
    db.session.commit()
    assert refs(requests_of(client, f"{API}/requests.json")) == [recent.reference]
    day = (old_time - timedelta(days=1)).strftime("%Y-%m-%d")
    assert refs(requests_of(client, f"{API}/requests.json?start_date={day}")) == [old.reference]
    end = (old_time + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert refs(requests_of(client, f"{API}/requests.json?end_date={end}")) == [old.reference]
    start = (old_time - timedelta(hours=1)).astimezone(BEIJING).isoformat(timespec="seconds")
    query = {"start_date": start, "end_date": end}
    assert refs(
        requests_of(
            client, f"{API}/requests.json?" + "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in query.items())
        )
    ) == [old.reference]
    for bad in (
        "start_date=yesterday",
        "start_date=2026-01-01T10:00:00",  # a time without its zone
        "start_date=2026-02-30",
        "end_date=2026-13-01T00:00:00Z",
        "start_date=2026-03-01&end_date=2026-01-01",  # after the end
        "start_date=2025-01-01&end_date=2026-01-01",  # more than 90 days
        "end_date=0001-01-01",
        "start_date=9999-12-31T00:00:00Z",
    ):
        assert_error(client.get(f"{API}/requests.json?{bad}"), 400)


def test_at_most_1000_requests_newest_first(world, client, app):
    """More than 1,000 issues in the window: the newest 1,000 (bulk-inserted with Core: the service is slow)."""
    template = file(world)
    now = utcnow()
    columns = {
        c: getattr(template, c)
        for c in ("category_id", "neighbour_id", "group_id", "zone_id", "community_id", "street_id", "compound_id")
    }
    rows = [
        {
            **columns,
            "reference": f"WC-2025-{900000 + n:06d}",
            "title": "批量",
            "status": "reported",
            "level": "neighbour",
            "urgency": "normal",
            "priority": "normal",
            "created_at": now - timedelta(minutes=n + 1),
            "updated_at": now - timedelta(minutes=n + 1),
            "version": 1,
        }
        for n in range(1005)
    ]
    db.session.execute(insert(Issue), rows)
    db.session.commit()
    for fmt in FORMATS:
        items = requests_of(client, f"{API}/requests.{fmt}", fmt)
        assert len(items) == 1000
        assert items[0]["service_request_id"] == template.reference
        assert refs(items)[1:4] == ["WC-2025-900000", "WC-2025-900001", "WC-2025-900002"]
        times = [item["requested_datetime"] for item in items]
        assert times == sorted(times, reverse=True)


def test_the_default_query_reads_the_status_created_index(world, app):
    """At 1M issues the default query must not scan the table: it is answered from (status, created_at).

    SQLite's planner picks the index on any table; PostgreSQL chooses by statistics (a seq scan on this tiny
    table), so there the test checks that the index *can* answer the query once scans are priced out.
    """
    from sqlalchemy import text

    postgresql = db.engine.dialect.name == "postgresql"

    with app.test_request_context(f"{API}/requests.json"):
        query = open311.parse_query({})
        statement = (
            select(Issue.id)
            .where(
                Issue.status.in_(open311.internal_statuses(set())),
                Issue.created_at >= query.start,
                Issue.created_at <= query.end,
            )
            .order_by(Issue.created_at.desc(), Issue.id.desc())
            .limit(1000)
        )
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if postgresql:
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))
            db.session.rollback()
        else:
            plan = " ".join(row[3] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    if postgresql:
        # An index range on created_at answers it (which index PostgreSQL prefers depends on its statistics).
        assert "Seq Scan on issue" not in plan and "Index Cond" in plan and "created_at >=" in plan, plan
    else:
        assert "COVERING INDEX ix_issue_status_created" in plan, plan
        assert "SCAN issue" not in plan


# --- formats, methods, jurisdiction, cookies ------------------------------------------------------------


def test_unknown_format_path_and_method(world, client):
    assert "yaml" in assert_error(client.get(f"{API}/requests.yaml"), 400)
    assert_error(client.get(f"{API}/services.html"), 400)
    assert_error(client.get(f"{API}/nothing/here.xml"), 404, "xml")
    assert_error(client.get(f"{API}/nothing"), 404)
    assert_error(client.post(f"{API}/nothing/here.xml"), 400, "xml")
    response = client.put(f"{API}/requests.json")
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert_error(client.post(f"{API}/services.xml"), 405, "xml")


def test_jurisdiction_id(world, client, app):
    """Ours (or none) is served; any other is 404 "jurisdiction_id not found"."""
    ours = app.config["OPEN311_JURISDICTION_ID"]
    assert client.get(f"{API}/services.json?jurisdiction_id={ours}").status_code == 200
    assert client.get(f"{API}/services.json?jurisdiction_id=").status_code == 200
    assert "jurisdiction_id" in assert_error(client.get(f"{API}/services.xml?jurisdiction_id=sfgov.org"), 404, "xml")


def test_no_cookie_no_csrf_and_cacheable_reads(world, client, auth):
    """The API neither sets nor refreshes a session cookie, even for a logged-in browser; reads are cacheable."""
    file(world)
    auth.login(world["branch"].mobile)
    for url in (f"{API}/requests.json", f"{API}/services.xml", f"{API}/requests.yaml", f"{API}/nothing"):
        response = client.get(url)
        assert "Set-Cookie" not in response.headers, url
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(f"{API}/requests.json").headers["Cache-Control"] == "public, max-age=60"
    assert client.get(f"{API}/requests.yaml").headers["Cache-Control"] == "no-store"
    response = post(client, service_code="road")  # no CSRF token: refused for the missing key, not the token
    assert_error(response, 403)
    assert "Set-Cookie" not in response.headers


# --- POST requests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_unknown_or_revoked_key_is_403(world, client, fmt):
    neighbour = world["neighbour_node"]
    _key, revoked = make_key(world["district"], revoked=True)
    for key in (None, "", "not-a-key", revoked):
        data = {"service_code": "road", "address_id": str(neighbour.id)}
        if key is not None:
            data["api_key"] = key
        assert_error(post(client, fmt, **data), 403, fmt)
    assert db.session.scalar(select(Issue.id)) is None


def test_post_outside_the_keys_area_is_403(world, client):
    _key, value = make_key(world["community"])
    foreign = world["other_neighbour_node"]
    assert foreign.community_id != world["community"].id
    assert "outside" in assert_error(post(client, api_key=value, service_code="road", address_id=str(foreign.id)), 403)


def test_post_refuses_bad_fields_with_400(world, client):
    _key, value = make_key(world["community"])
    neighbour = str(world["neighbour_node"].id)
    good = {"api_key": value, "service_code": "road", "address_id": neighbour}
    assert "service_code" in assert_error(post(client, **{**good, "service_code": "nosuch"}), 400)
    assert_error(post(client, **{**good, "service_code": ""}), 400)
    db.session.execute(update(Category).where(Category.code == "cctv").values(active=False))
    db.session.commit()
    assert_error(post(client, **{**good, "service_code": "cctv"}), 400)
    assert "address_id" in assert_error(post(client, api_key=value, service_code="road"), 400)  # no place
    assert "address_string" in assert_error(post(client, api_key=value, service_code="road", address_string="3栋"), 400)
    assert_error(post(client, **{**good, "address_id": str(world["community"].id)}), 400)  # not a 邻
    assert_error(post(client, **{**good, "address_id": "abc"}), 400)
    assert_error(post(client, **{**good, "address_id": "99999999"}), 400)
    assert_error(post(client, **{**good, "lat": "28.3"}), 400)  # lat without long
    assert_error(post(client, **{**good, "lat": "nan", "long": "112.8"}), 400)
    assert_error(post(client, **{**good, "lat": "95", "long": "112.8"}), 400)
    assert_error(post(client, **{**good, "attribute[urgency]": "very"}), 400)
    assert_error(post(client, **{**good, "description": "长" * 4001}), 400)
    assert_error(post(client, "xml", **{**good, "jurisdiction_id": "elsewhere.gov"}), 404, "xml")
    assert db.session.scalar(select(Issue.id)) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_files_the_issue_for_the_key(world, client, fmt):
    """Filed in the named 邻, for the key; the personal fields are stored privately; the token finds it."""
    api_key, value = make_key(world["community"])
    response = post(
        client,
        fmt,
        api_key=value,
        service_code="lighting",
        address_id=str(world["neighbour_node"].id),
        description="3栋门口路灯不亮\n已经一周",
        first_name="小明",
        last_name="王",
        phone="13512345678",
        email="wang@example.com",
        lat="28.35",
        long="112.82",
        address_string="普瑞斯堡3栋门口",
        **{"attribute[urgency]": "urgent"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = parse(response, fmt)
    (receipt,) = xml_items(body, "service_requests", "request") if fmt == "xml" else body
    assert set(receipt) == {"service_request_id", "token", "service_notice", "account_id"}
    issue = db.session.scalar(select(Issue).where(Issue.reference == receipt["service_request_id"]))
    assert issue.neighbour_id == world["neighbour_node"].id and issue.community_id == world["community"].id
    assert issue.api_key_id == api_key.id and issue.filed_by_id is None
    assert issue.open311_token == receipt["token"]
    assert issue.category.code == "lighting" and issue.urgency == "urgent" and issue.status == "reported"
    assert issue.title == "3栋门口路灯不亮 已经一周"
    assert issue.resident_name == "王小明" and issue.resident_phone == "13512345678"
    assert "wang@example.com" in issue.description and issue.place_detail == "普瑞斯堡3栋门口"
    assert (issue.latitude, issue.longitude) == (28.35, 112.82)
    db.session.refresh(api_key)
    assert api_key.last_used_at is not None
    # tokens/{token} answers the id and the token, in both formats.
    for answer_fmt in FORMATS:
        (found,) = requests_of(client, f"{API}/tokens/{receipt['token']}.{answer_fmt}", answer_fmt)
        assert found == {"service_request_id": issue.reference, "token": issue.open311_token}
    # …and the new request is public, without any of its private fields.
    text = client.get(f"{API}/requests/{issue.reference}.{fmt}").get_data(as_text=True)
    for private in ("王小明", "小明", "13512345678", "wang@example.com", "路灯不亮", "门口", "28.35", "112.82"):
        assert private not in text


def place_world(world):
    """普瑞斯堡 placed on the map with 3栋 at its centre and households of 3栋 in the first 邻; a compound of the
    other community 200 m away."""
    compound, building = world["compound"], world["building"]
    compound.latitude, compound.longitude = 28.3521, 112.8193
    building.latitude, building.longitude = 28.3521, 112.8193
    db.session.add(Household(building_id=building.id, unit="1", room="101", neighbour_id=world["neighbour_node"].id))
    other = make_compound(world["other_community"], "枫桥花园", buildings=("1栋",))
    other.latitude, other.longitude = 28.3539, 112.8193  # 200 m north
    other.buildings[0].latitude, other.buildings[0].longitude = 28.3539, 112.8193
    for node in nodes_at("neighbour"):
        if node.community_id == world["other_community"].id:
            node.compound_id = other.id
    db.session.commit()
    return other


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_by_coordinates_files_at_the_nearest_building_of_the_keys_area(world, client, fmt):
    other = place_world(world)
    _key, value = make_key(world["community"])
    # 40 m from 3栋 (and 160 m from 枫桥花园, which lies outside this key's community anyway).
    response = post(client, fmt, api_key=value, service_code="road", lat="28.35246", long="112.8193")
    assert response.status_code == 200, response.get_data(as_text=True)
    issue = db.session.scalar(select(Issue))
    assert (issue.compound_id, issue.building_id) == (world["compound"].id, world["building"].id)
    assert issue.neighbour_id == world["neighbour_node"].id  # the 邻 its households belong to
    assert (issue.latitude, issue.longitude) == (28.35246, 112.8193)
    # A district key reaches both compounds: the nearer one wins.
    _district_key, district_value = make_key(world["district"])
    near_other = post(client, fmt, api_key=district_value, service_code="road", lat="28.3536", long="112.8193")
    assert near_other.status_code == 200
    assert db.session.scalar(select(Issue).order_by(Issue.id.desc())).compound_id == other.id
    # Nothing of the area within 300 m: the spec's error, nothing filed.
    far = post(client, fmt, api_key=value, service_code="road", lat="28.3600", long="112.8193")
    assert "within 300 m" in assert_error(far, 400, fmt)
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_by_address_string_files_in_the_named_compound_and_building(world, client, fmt):
    place_world(world)
    _key, value = make_key(world["street"])
    response = post(client, fmt, api_key=value, service_code="drainage", address_string="望城区 普瑞斯堡 3栋2单元门口")
    assert response.status_code == 200, response.get_data(as_text=True)
    issue = db.session.scalar(select(Issue))
    assert (issue.compound_id, issue.building_id, issue.neighbour_id) == (
        world["compound"].id,
        world["building"].id,
        world["neighbour_node"].id,
    )
    assert issue.place_detail == "望城区 普瑞斯堡 3栋2单元门口"
    unknown = post(client, fmt, api_key=value, service_code="drainage", address_string="别处小区5栋")
    assert "address_string" in assert_error(unknown, 400, fmt)
    # A compound outside the key's area is not found by its name either.
    _key, community_value = make_key(world["community"])
    outside = post(client, fmt, api_key=community_value, service_code="drainage", address_string="枫桥花园1栋")
    assert "address_string" in assert_error(outside, 400, fmt)
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 1


def test_a_key_bound_to_a_neighbour_needs_no_address_id(world, client):
    _key, value = make_key(world["neighbour_node"])
    response = post(client, api_key=value, service_code="road", lat="28.1", long="112.9")
    assert response.status_code == 200
    issue = db.session.scalar(select(Issue))
    assert issue.neighbour_id == world["neighbour_node"].id and issue.title == "道路破损"
    other = world["other_neighbour_node"]
    assert_error(post(client, api_key=value, service_code="road", address_id=str(other.id)), 403)


def test_a_revoked_key_stops_working_at_once(world, client):
    api_key, value = make_key(world["district"])
    assert (
        post(client, api_key=value, service_code="road", address_id=str(world["neighbour_node"].id)).status_code == 200
    )
    api_key.revoked_at = utcnow()
    db.session.commit()
    assert_error(post(client, api_key=value, service_code="road", address_id=str(world["neighbour_node"].id)), 403)


# --- rate limits --------------------------------------------------------------------------------------------


def test_key_rate_limit_in_the_database(world, client, app):
    """Without Redis a key's filings in the window are counted: over the limit → 429 with Retry-After."""
    app.config["OPEN311_RATE_LIMIT"] = "2/minute"
    try:
        _key, value = make_key(world["district"])
        _other, other_value = make_key(world["district"], "另一个客户端")
        data = {"service_code": "road", "address_id": str(world["neighbour_node"].id)}
        assert [post(client, api_key=value, **data).status_code for _ in range(2)] == [200, 200]
        response = post(client, "xml", api_key=value, **data)
        assert_error(response, 429, "xml")
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert post(client, api_key=other_value, **data).status_code == 200  # per key
    finally:
        app.config["OPEN311_RATE_LIMIT"] = "60/minute"


def test_key_and_address_rate_limits_in_redis(redis_app, world, client):
    """With Redis every POST of a key counts (refused ones too), and every request of an address."""
    redis_app.config.update(OPEN311_RATE_LIMIT="2/minute", OPEN311_IP_RATE_LIMIT="6/minute")
    try:
        _key, value = make_key(world["district"])
        data = {"service_code": "road", "address_id": str(world["neighbour_node"].id)}
        assert post(client, api_key=value, **{**data, "service_code": "nosuch"}).status_code == 400
        assert post(client, api_key=value, **data).status_code == 200
        response = post(client, api_key=value, **data)
        assert_error(response, 429)
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        statuses = [client.get(f"{API}/services.json").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # 3 POSTs + 3 GETs = the address's 6
        assert client.get(f"{API}/services.json", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
    finally:
        redis_app.config.update(OPEN311_RATE_LIMIT="60/minute", OPEN311_IP_RATE_LIMIT="600/minute")


# --- junk input ------------------------------------------------------------------------------------------------

anything = st.text(max_size=200) | st.sampled_from(
    ["", " ", "\x00", "1" * 5000, ",,,", "open,closed,", "2026-01-01", "9999-12-31T23:59:59Z", "' OR 1=1 --", "%00"]
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(ids=anything, code=anything, status=anything, start=anything, end=anything, jurisdiction=anything, fmt=anything)
def test_junk_query_arguments_never_500(app, client, ids, code, status, start, end, jurisdiction, fmt):
    args = {"service_code": code, "status": status, "start_date": start, "end_date": end}
    args["jurisdiction_id"] = jurisdiction if jurisdiction.startswith("x") else ""
    for url in (
        f"{API}/requests.json",
        f"{API}/requests.xml",
        f"{API}/requests/{quote(ids[:50] or 'x', safe='')}.json",
    ):
        response = client.get(url, query_string={**args, "service_request_id": ids if ids.startswith("W") else ""})
        assert response.status_code in (200, 400, 404), (url, response.status_code)
    response = client.get(f"{API}/requests.{quote(fmt, safe='') or 'x'}")
    assert response.status_code in (200, 400, 404)


@pytest.fixture
def fuzz_key(app):
    """One tree and one key for the whole hypothesis run (the database is emptied only after the test)."""
    make_tree()
    _key, value = make_key(nodes_at("district")[0])
    app.config["OPEN311_RATE_LIMIT"] = "100000/minute"
    yield value, str(nodes_at("neighbour")[0].id)
    app.config["OPEN311_RATE_LIMIT"] = "60/minute"


@FUZZ
@given(key=anything, code=anything, address=anything, lat=anything, lon=anything, text=anything, urgency=anything)
def test_junk_posts_never_500(app, client, fuzz_key, key, code, address, lat, lon, text, urgency):
    value, neighbour = fuzz_key
    data = {
        "api_key": key if key.startswith("a") else value,
        "service_code": code if code.strip() else "road",
        "address_id": address if not address.isdigit() else neighbour,
        "lat": lat,
        "long": lon,
        "description": text,
        "first_name": text,
        "phone": text,
        "attribute[urgency]": urgency,
    }
    response = client.post(f"{API}/requests.xml", data=data)
    assert response.status_code in (200, 400, 403), response.get_data(as_text=True)


# --- canaries and equality with the public projection ----------------------------------------------------------

CANARIES = {
    **BASE_CANARIES,
    "assign_note": "金丝雀派单说明",
    "decline": "金丝雀退单",
    "api_name": "金丝雀接口居民",
    "api_phone": "13766667777",
    "api_email": "canary@example.org",
    "api_description": "金丝雀接口描述",
}


def canary_world(world, client) -> list[Issue]:
    """Issues that went through every step that writes private text, through the real services."""
    leader = make_person(
        "neighbour_leader", world["neighbour_node"], name=CANARIES["leader_name"], mobile=CANARIES["leader_mobile"]
    )
    group = make_person("group_leader", nodes_at("group")[0], name=CANARIES["group_name"])
    staff = make_person("org_staff", organisation=world["property"], name="金丝雀物业员工")
    common = {
        "title": CANARIES["title"],
        "description": CANARIES["description"],
        "place_detail": CANARIES["place_detail"],
        "resident_name": CANARIES["resident_name"],
        "resident_phone": CANARIES["resident_phone"],
        "compound_id": world["compound"].id,
        "building_id": world["building"].id,
        "latitude": 28.123456,
        "longitude": 112.654321,
    }
    first = make_issue(leader, **common)
    add_comment(leader, first, "comment", CANARIES["comment"])
    add_comment(world["branch"], first, "internal_note", CANARIES["internal"])
    escalate(group, first, CANARIES["escalation"])
    operations.assign(
        world["branch"], first, world["property"], beijing_today() + timedelta(days=5), CANARIES["assign_note"]
    )
    operations.decline(staff, first, CANARIES["decline"])
    operations.assign(world["branch"], first, world["property"], beijing_today() + timedelta(days=5))
    operations.accept(staff, first)
    add_comment(world["branch"], first, "public_update", PUBLIC_UPDATE)
    if first.status != "in_progress":  # accepting may already have started the work
        transition(staff, first, "in_progress")
    transition(staff, first, "resolved", CANARIES["resolve"])
    record_callback(leader, first, "unsatisfied", CANARIES["callback"])
    second = make_issue(leader, **common, category="lighting")
    for status in ("acknowledged", "in_progress"):
        transition(group, second, status)
    transition(group, second, "resolved", CANARIES["resolve"])
    record_callback(leader, second, "satisfied", CANARIES["callback"])
    db.session.add_all(
        [
            Photo(issue_id=first.id, stored_name="canary-private.jpg", width=1, height=1, size_bytes=1, public=False),
            Photo(issue_id=first.id, stored_name="canary-public.jpg", width=1, height=1, size_bytes=1, public=True),
        ]
    )
    db.session.commit()
    _key, value = make_key(world["community"], "金丝雀客户端")
    response = post(
        client,
        api_key=value,
        service_code="road",
        address_id=str(world["neighbour_node"].id),
        description=CANARIES["api_description"],
        first_name=CANARIES["api_name"],
        phone=CANARIES["api_phone"],
        email=CANARIES["api_email"],
    )
    assert response.status_code == 200
    return list(db.session.scalars(select(Issue).order_by(Issue.id)))


def every_answer(client, issues: list[Issue]) -> dict[str, str]:
    """Every API answer about these issues: lists, filters, single requests and tokens, in both formats."""
    answers = {}
    for fmt in FORMATS:
        urls = [
            f"{API}/requests.{fmt}",
            f"{API}/requests.{fmt}?status=closed",
            f"{API}/requests.{fmt}?status=open&service_code=road,lighting",
            f"{API}/requests.{fmt}?service_request_id=" + ",".join(i.reference for i in issues),
            f"{API}/services.{fmt}",
            f"{API}/services/road.{fmt}",
            f"{API}/discovery.{fmt}",
        ]
        urls += [f"{API}/requests/{i.reference}.{fmt}" for i in issues]
        urls += [f"{API}/tokens/{i.open311_token}.{fmt}" for i in issues if i.open311_token]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            answers[url] = response.get_data(as_text=True)
    return answers


def test_no_canary_in_any_api_answer(world, client):
    issues = canary_world(world, client)
    answers = every_answer(client, issues)
    for url, text in answers.items():
        for name, canary in CANARIES.items():
            assert canary not in text, (name, url)
        for coordinate in ("28.123456", "112.654321"):
            assert coordinate not in text, url
    # What is public does show: the public update, the responsible party, the coarse place, the public photo only.
    listing = answers[f"{API}/requests.json"]
    assert PUBLIC_UPDATE in listing and "金科物业" in listing and "普瑞斯堡 3栋" in listing
    photos = dict(db.session.execute(select(Photo.stored_name, Photo.id)).all())
    assert f"/p/photo/{photos['canary-public.jpg']}" in listing
    assert f'/p/photo/{photos["canary-private.jpg"]}"' not in listing


def test_api_fields_equal_the_public_projection(world, client):
    """For each issue, the API says exactly what services.public.projection says (and the pages show)."""
    issues = canary_world(world, client)
    items = {item["service_request_id"]: item for item in requests_of(client, f"{API}/requests.json")}
    assert set(items) == {i.reference for i in issues}
    for issue in issues:
        projected = projection.public_issue(issue.reference)
        (single,) = requests_of(client, f"{API}/requests/{issue.reference}.json")
        for item in (items[issue.reference], single):
            assert item["status"] == projected.open311_status
            assert item["service_code"] == projected.category_code
            assert item["service_name"] == projected.category_zh
            assert item["agency_responsible"] == (projected.assignee or None)
            assert item["address"] == (projected.place or None)
            assert item["status_notes"] == (projection.status_notes(projected, projected.latest_update) or None)
            assert item["requested_datetime"] == open311.w3_time(projected.created_at)
            assert item["updated_datetime"] == open311.w3_time(projected.updated_at)
            assert item.get("expected_datetime") == open311.w3_time(projected.expected_at)
            photo = projected.photo_ids[0] if projected.photo_ids else None
            assert item["media_url"] == (None if photo is None else f"http://localhost/p/photo/{photo}")
    first = items[issues[0].reference]
    assert first["status"] == "open" and first["status_notes"] == PUBLIC_UPDATE  # reopened after the callback
    assert items[issues[1].reference]["status"] == "closed"
    # The XML list carries the same values.
    xml_items_by_ref = {i["service_request_id"]: i for i in requests_of(client, f"{API}/requests.xml", "xml")}
    for reference, item in items.items():
        assert {k: v or "" for k, v in item.items()} == xml_items_by_ref[reference]


def test_ensure_demo_key_is_idempotent(world, client):
    first = open311.ensure_demo_key()
    db.session.commit()
    assert open311.ensure_demo_key().id == first.id
    db.session.commit()
    assert db.session.scalar(select(ApiKey.key_digest)) == open311.digest(open311.DEMO_KEY)
    assert first.node_id == world["district"].id and first.name == "演示客户端"
    response = post(client, api_key=open311.DEMO_KEY, service_code="road", address_id=str(world["neighbour_node"].id))
    assert response.status_code == 200
    assert (
        db.session.scalar(select(IssueEvent.kind).where(IssueEvent.issue_id == db.session.scalar(select(Issue.id))))
        == "filed"
    )
