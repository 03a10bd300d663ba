"""The API-key page: district admins, and street admins inside their 街镇, issue and revoke Open311
keys; the key is shown once and only its digest is stored; everyone else is refused."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.models import ApiKey
from governance.services.public import open311
from tests.builders import ROLE_LEVEL, make_organisation, make_person, make_tree, nodes_at
from tests.conftest import csrf_from

PAGE = "/admin/api-keys/"


@pytest.fixture
def world(app):
    """Two 街镇 with one community each; an admin at each level of interest."""
    make_tree(streets=2, communities=1, zones=1, groups=1, neighbours=1)
    streets = nodes_at("street")
    return {
        "district": nodes_at("district")[0],
        "streets": streets,
        "communities": nodes_at("community"),
        "neighbours": nodes_at("neighbour"),
        "district_admin": make_person("district_admin", nodes_at("district")[0]),
        "street_admin": make_person("street_admin", streets[0]),
    }


def issue(client, node, name="市民热线App"):
    """Post the issue form; returns the response."""
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    return client.post(PAGE, data={"name": name, "node_id": str(node.id), "csrf_token": token})


def shown_key(html: str) -> str:
    match = re.search(r'<code class="api-key">([^<]+)</code>', html)
    assert match, "the new key is not on the page"
    return match.group(1)


def test_district_admin_issues_a_key_shown_once_and_stored_as_a_digest(world, client, auth):
    auth.login(world["district_admin"].mobile)
    response = issue(client, world["communities"][0])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    value = shown_key(html)
    assert len(value) >= 40
    assert response.headers["Cache-Control"] == "no-store"
    api_key = db.session.scalar(select(ApiKey))
    assert api_key.key_digest == hashlib.sha256(value.encode()).hexdigest()
    assert api_key.prefix == value[:8] and api_key.node_id == world["communities"][0].id
    assert api_key.created_by_id == world["district_admin"].id and api_key.name == "市民热线App"
    # The value is in no column, and never shown again.
    row = db.session.execute(select(ApiKey.__table__)).one()
    assert all(value not in str(column) for column in row)
    again = client.get(PAGE).get_data(as_text=True)
    assert value not in again and f"{api_key.prefix}…" in again and "市民热线App" in again
    assert "Set-Cookie" not in response.headers or value not in response.headers["Set-Cookie"]
    # The key works for the API.
    data = {"api_key": value, "service_code": "road", "address_id": str(world["neighbours"][0].id)}
    assert client.post("/open311/v2/requests.json", data=data).status_code == 200


def test_revoke_works_and_the_key_stops_at_once(world, client, auth):
    auth.login(world["district_admin"].mobile)
    value = shown_key(issue(client, world["district"]).get_data(as_text=True))
    api_key = db.session.scalar(select(ApiKey))
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    response = client.post(f"{PAGE}{api_key.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(api_key)
    assert api_key.revoked_at is not None and not api_key.active
    data = {"api_key": value, "service_code": "road", "address_id": str(world["neighbours"][0].id)}
    assert client.post("/open311/v2/requests.json", data=data).status_code == 403
    page = client.get(PAGE).get_data(as_text=True)
    assert "已于" in page or "Revoked" in page
    # Revoking twice changes nothing; a revoke without a CSRF token is refused.
    assert client.post(f"{PAGE}{api_key.id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{PAGE}{api_key.id}/revoke").status_code == 400
    assert client.post(f"{PAGE}999999/revoke", data={"csrf_token": token}).status_code == 404


def test_street_admin_works_inside_their_street_only(world, client, auth):
    own_street, other_street = world["streets"]
    inside, _key = open311.issue_key(None, own_street, "本街道")
    outside, _key = open311.issue_key(None, other_street, "别的街道")
    db.session.commit()
    auth.login(world["street_admin"].mobile)
    page = client.get(PAGE).get_data(as_text=True)
    assert "本街道" in page and "别的街道" not in page
    assert f'value="{world["communities"][0].id}"' in page
    assert f'value="{world["communities"][1].id}"' not in page and f'value="{world["district"].id}"' not in page
    # Issuing for a node outside the street is refused (not a choice), and nothing is stored.
    response = issue(client, world["communities"][1], "越权")
    assert response.status_code == 200 and '<code class="api-key">' not in response.get_data(as_text=True)
    assert db.session.scalar(select(ApiKey).where(ApiKey.name == "越权")) is None
    assert issue(client, world["communities"][0], "本社区").status_code == 200
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    assert client.post(f"{PAGE}{outside.id}/revoke", data={"csrf_token": token}).status_code == 403
    db.session.refresh(outside)
    assert outside.active
    assert client.post(f"{PAGE}{inside.id}/revoke", data={"csrf_token": token}).status_code == 302


@pytest.mark.parametrize("role", ["neighbour_leader", "group_leader", "zone_leader", "branch_member", "org_staff"])
def test_everyone_else_is_refused(world, client, auth, role):
    if role == "org_staff":
        person = make_person(role, organisation=make_organisation())
    else:  # on the first node of its level: the community the key below is for, or a node inside it
        person = make_person(role, nodes_at(ROLE_LEVEL[role])[0])
    api_key, _value = open311.issue_key(None, world["communities"][0], "某客户端")
    db.session.commit()
    auth.login(person.mobile)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client.get("/").get_data(as_text=True))
    data = {"name": "x", "node_id": str(world["communities"][0].id), "csrf_token": token}
    assert client.post(PAGE, data=data).status_code == 403
    assert client.post(f"{PAGE}{api_key.id}/revoke", data={"csrf_token": token}).status_code == 403
    assert db.session.scalar(select(ApiKey.revoked_at)) is None
    assert db.session.scalar(select(ApiKey.id).where(ApiKey.name == "x")) is None


def test_anonymous_is_sent_to_login(world, client):
    assert client.get(PAGE).status_code == 302
    assert client.post(PAGE, data={"name": "x"}).status_code in (400, 401)


def test_bad_form_input(world, client, auth):
    auth.login(world["district_admin"].mobile)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    for data in (
        {"name": "", "node_id": str(world["district"].id)},
        {"name": "长" * 81, "node_id": "1"},
        {"name": "x", "node_id": "abc"},
    ):
        response = client.post(PAGE, data={**data, "csrf_token": token})
        assert response.status_code == 200
        assert '<code class="api-key">' not in response.get_data(as_text=True)
    assert client.post(PAGE, data={"name": "x", "node_id": str(world["district"].id)}).status_code == 400
    assert db.session.scalar(select(ApiKey.id)) is None


def test_the_policy_rule(world):
    from governance import policy

    district_admin, street_admin = world["district_admin"], world["street_admin"]
    assert policy.allowed(district_admin, "manage_api_keys") and policy.allowed(street_admin, "manage_api_keys")
    assert policy.allowed(district_admin, "manage_api_keys", world["district"])
    assert policy.allowed(street_admin, "manage_api_keys", world["streets"][0])
    assert policy.allowed(street_admin, "manage_api_keys", world["neighbours"][0])
    assert not policy.allowed(street_admin, "manage_api_keys", world["district"])
    assert not policy.allowed(street_admin, "manage_api_keys", world["streets"][1])
    assert not policy.allowed(street_admin, "manage_api_keys", world["neighbours"][-1])
    with pytest.raises(open311.ApiKeyError):
        open311.issue_key(street_admin, world["streets"][1], "越权")
