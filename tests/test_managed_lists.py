"""The lists admins keep (categories, rejection reasons, response templates, responsible parties, group
robots) share one shape: the same URLs and endpoints as ever, the same refusals from one service shape."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import Category, NotificationChannel, Organisation, RejectReason, ResponseTemplate
from governance.services import settings as service
from tests.builders import make_organisation, make_person, make_tree, nodes_at

BASE = "/admin/settings"
pytestmark = pytest.mark.usefixtures("english")

# endpoint → (rule, methods): what url_for calls across the app and the tests rely on.
ROUTES = {
    "settings.categories": ("/categories", {"GET", "POST"}),
    "settings.category": ("/categories/<int:category_id>", {"GET", "POST"}),
    "settings.category_active": ("/categories/<int:category_id>/active", {"POST"}),
    "settings.reject_reasons": ("/reject-reasons", {"GET", "POST"}),
    "settings.reject_reason": ("/reject-reasons/<int:reason_id>", {"GET", "POST"}),
    "settings.reject_reason_active": ("/reject-reasons/<int:reason_id>/active", {"POST"}),
    "settings.response_templates": ("/response-templates", {"GET", "POST"}),
    "settings.response_template": ("/response-templates/<int:template_id>", {"GET", "POST"}),
    "settings.response_template_active": ("/response-templates/<int:template_id>/active", {"POST"}),
    "settings.organisations": ("/organisations", {"GET", "POST"}),
    "settings.organisation": ("/organisations/<int:organisation_id>", {"GET", "POST"}),
    "settings.organisation_active": ("/organisations/<int:organisation_id>/active", {"POST"}),
    "settings.organisation_communities": ("/organisations/<int:organisation_id>/communities", {"POST"}),
    "settings.channels": ("/channels", {"GET", "POST"}),
    "settings.channel_active": ("/channels/<int:channel_id>/active", {"POST"}),
    "settings.channel_test": ("/channels/<int:channel_id>/test", {"POST"}),
}


def test_every_list_keeps_its_endpoints_and_urls(app):
    found = {
        rule.endpoint: (rule.rule.removeprefix(BASE), set(rule.methods) & {"GET", "POST"})
        for rule in app.url_map.iter_rules()
        if rule.endpoint in ROUTES
    }
    assert found == ROUTES


@pytest.fixture
def admin(app, auth):
    make_tree(streets=1, communities=2)
    person = make_person("district_admin", nodes_at("district")[0])
    auth.login(person.mobile)
    return person


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def shown_position(html: str) -> str | None:
    match = re.search(r'<input[^>]*name="sort"[^>]*value="([^"]*)"', html) or re.search(
        r'<input[^>]*value="([^"]*)"[^>]*name="sort"', html
    )
    return match.group(1) if match else None


@pytest.mark.parametrize(
    ("model", "page"),
    [(Category, "categories"), (RejectReason, "reject-reasons"), (ResponseTemplate, "response-templates")],
)
def test_a_new_row_is_offered_the_position_after_the_last(admin, client, model, page):
    last = db.session.scalar(select(func.max(model.sort)))
    assert shown_position(client.get(f"{BASE}/{page}").get_data(as_text=True)) == str(last + 10)


@pytest.mark.parametrize(
    ("rules", "model", "code"),
    [(service.CATEGORIES, Category, "last_category"), (service.REJECT_REASONS, RejectReason, "last_reason")],
)
def test_the_last_active_row_of_a_list_that_needs_one_stays_on(app, rules, model, code):
    rows = list(db.session.scalars(select(model).order_by(model.id)))
    for row in rows[:-1]:
        rules.set_active(row, False)
    with pytest.raises(service.SettingsError) as refused:
        rules.set_active(rows[-1], False)
    assert refused.value.code == code
    assert rows[-1].active is True
    rules.set_active(rows[0], True)  # with another one on, it may go off
    rules.set_active(rows[-1], False)
    assert rows[-1].active is False


@pytest.mark.parametrize(
    ("rules", "model"), [(service.RESPONSE_TEMPLATES, ResponseTemplate), (service.ORGANISATIONS, Organisation)]
)
def test_lists_without_a_minimum_may_switch_every_row_off(app, rules, model):
    make_organisation("property", "金湾物业")
    rows = list(db.session.scalars(select(model)))
    assert rows
    for row in rows:
        rules.set_active(row, False)
    db.session.commit()
    assert count(model, model.active.is_(True)) == 0


def test_a_taken_name_is_refused_on_add_and_on_update(app):
    first, second = db.session.scalars(select(RejectReason).order_by(RejectReason.id).limit(2))
    with pytest.raises(service.SettingsError) as refused:
        service.REJECT_REASONS.add(name_zh=first.name_zh, name_en="", sort=1)
    assert refused.value.code == "reason_taken"
    with pytest.raises(service.SettingsError) as refused:
        service.REJECT_REASONS.update(second, name_zh=first.name_zh, name_en="", sort=1)
    assert refused.value.code == "reason_taken"
    service.REJECT_REASONS.update(first, name_zh=first.name_zh, name_en="", sort=1)  # its own name it keeps
    assert first.name_en == first.name_zh  # an empty English name falls back to the Chinese


def test_a_clash_at_the_flush_is_a_refusal(app, monkeypatch):
    """Another admin saved the same name between our check and our write: the unique index answers, and it
    is the same refusal, with the session still usable."""
    make_organisation("property", "金湾物业")
    db.session.commit()
    monkeypatch.setattr(service.ORGANISATIONS, "name_taken", lambda name, except_id=None: False)  # the race
    with pytest.raises(service.SettingsError) as refused:
        service.ORGANISATIONS.add(name="金湾物业", kind="property", street_id=None)
    assert refused.value.code == "organisation_taken"
    db.session.rollback()
    assert count(Organisation) == 1


def test_a_robot_whose_address_is_no_longer_accepted_stays_off(admin, auth):
    channel = NotificationChannel(node_id=nodes_at("community")[0].id, url="http://evil.example/x", active=False)
    db.session.add(channel)
    db.session.commit()
    response = auth.post(f"{BASE}/channels/{channel.id}/active", {"active": "1"}, follow_redirects=True)
    assert "This is not a WeChat Work group-robot address." in response.get_data(as_text=True)
    assert count(NotificationChannel, NotificationChannel.active.is_(True)) == 0
