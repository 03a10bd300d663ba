"""Access: every route is denied by default and opened deliberately; every role is held to its scope.

The expectations here are computed independently of governance/policy.py, by walking parent links,
so a mistake in the policy module cannot make its own test pass.
"""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask

from governance import create_app, policy
from governance.access import access_of
from governance.extensions import db
from governance.models import ActivationCode, AuditEntry, Node, Person, RoleAssignment
from tests.builders import category, make_organisation, make_person, make_role_holders, make_tree, nodes_at
from tests.conftest import clean_database, csrf_from
from tests.pages import find_all, inner_html

PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.activate",
    "auth.reset",
    "main.set_language",
    "main.healthz",
    "main.service_worker",  # static code at /sw.js (its scope must be the whole app); it carries no data
    "money.public_view",
    "public.district",
    "public.street",
    "public.community",
    "public.compound",
    "public.issue",
    "public.search",
    "public.compound_feed",
    "public.community_feed",
    "public.issue_feed",
    "public.photo",
    "public.poster",
    "public.rate",
    # A resident's report to their 邻长 (no login) and its tracking page (a secret link, like a rating link's).
    "public.report",
    "public.track",
    "public.track_rate",
    # Open311 GeoReport v2: public reads; a POST is authenticated by its api_key, not a login.
    "open311.discovery",
    "open311.services",
    "open311.service_definition",
    "open311.requests",
    "open311.one_request",
    "open311.token",
    "open311.unknown",
}


def fill(rule, values: dict[str, str] | None = None) -> str:
    """A concrete URL for a rule: the given value for each named argument, 1 for the others."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda arg: (values or {}).get(arg.group(1), "1"), rule.rule)


def test_every_endpoint_has_a_deliberate_access_rule(app):
    """Walk the URL map: each endpoint carries a marker, and only the known ones are public."""
    unmarked, public = [], set()
    for rule in app.url_map.iter_rules():
        marker = access_of(rule.endpoint)
        if marker is None:
            unmarked.append(rule.endpoint)
        elif marker[0] == "public":
            public.add(rule.endpoint)
    assert unmarked == []
    assert public == PUBLIC_ENDPOINTS


def test_anonymous_is_sent_to_login_everywhere_but_public(app, client):
    """Every non-public route answers an anonymous visitor with the login page, never with data."""
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        for rule in app.url_map.iter_rules():
            if rule.endpoint in PUBLIC_ENDPOINTS:
                continue
            url = fill(rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                response = client.open(url, method=method)
                if method == "GET":
                    assert response.status_code == 302, (url, method)
                    assert "/auth/login" in response.headers["Location"]
                else:
                    assert response.status_code == 401, (url, method)
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


def test_a_route_nobody_opened_is_denied_and_logged(caplog):
    """A view without an access decorator is refused with 403, even though it exists."""
    app: Flask = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40})

    @app.route("/forgotten")
    def forgotten():
        return "secret"

    with caplog.at_level(logging.WARNING, logger="governance.access"):
        response = app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)
    assert "access denied" in caplog.text and "forgotten" in caplog.text


# --- the role × route × object matrix ---------------------------------------------------------

RANK = {
    "neighbour_leader": 1,
    "group_leader": 2,
    "zone_leader": 3,
    "branch_member": 4,
    "street_admin": 5,
    "district_admin": 6,
}
MANAGERS = {"branch_member", "street_admin", "district_admin"}
ACTORS = [*RANK, "org_staff"]


def ancestors_or_self(node: Node) -> set[int]:
    """Ids of a node and all its ancestors, by following parent links."""
    ids, current = set(), node
    while current is not None:
        ids.add(current.id)
        current = db.session.get(Node, current.parent_id) if current.parent_id else None
    return ids


def inside(actor_role: RoleAssignment, node: Node) -> bool:
    return actor_role.node_id in ancestors_or_self(node)


def expect_view_node(actor: Person, node: Node) -> bool:
    return any(r.node_id and inside(r, node) for r in actor.roles)


def expect_manage_role(actor: Person, target: RoleAssignment) -> bool:
    if target.role == "org_staff":
        return any(r.role == "district_admin" for r in actor.roles)
    return any(
        r.role in MANAGERS
        and (RANK[r.role] > RANK[target.role] or r.role == "district_admin")
        and inside(r, target.node)
        for r in actor.roles
    )


def expect_manage_person(actor: Person, other: Person) -> bool:
    return other.id != actor.id and all(expect_manage_role(actor, r) for r in other.roles)


def expect_issue_person_code(actor: Person, other: Person) -> bool:
    """A new one-time code (activation or password reset) for one person: exactly who may manage them."""
    return expect_manage_person(actor, other)


def expect_view_person(actor: Person, other: Person) -> bool:
    return (
        other.id == actor.id
        or any(r.node is not None and expect_view_node(actor, r.node) for r in other.roles)
        or any(expect_manage_role(actor, r) for r in other.roles)
    )


def expect_codes(actor: Person, node: Node) -> bool:
    return any(r.role in MANAGERS and inside(r, node) for r in actor.roles)


def build_world() -> dict[str, Person]:
    """Two of everything, so every scope has a sibling outside it; one person per role on the first branch."""
    make_tree(streets=2, communities=2, zones=2, groups=1, neighbours=2)
    people = make_role_holders(tuple(RANK), organisation=make_organisation("property", "测试物业"))
    # Leaders elsewhere in the tree: the objects that must stay out of reach.
    for level, role in (("neighbour", "neighbour_leader"), ("group", "group_leader"), ("zone", "zone_leader")):
        for node in nodes_at(level)[1:]:
            make_person(role, node)
    for node in nodes_at("community")[1:]:
        make_person("branch_member", node)
    make_person("street_admin", nodes_at("street")[1])
    return people


@pytest.fixture
def world(app):
    """The world of its own, for a test that changes it (emptied with the database afterwards)."""
    return build_world()


@pytest.fixture(scope="class")
def _shared_world(_session_app):
    """One world per engine for a class of tests that only read it: built once, emptied after the class."""
    with _session_app.app_context():
        ids = {role: person.id for role, person in build_world().items()}
        db.session.remove()
    yield ids
    with _session_app.app_context():
        db.session.rollback()
        clean_database()
        db.session.remove()


def everyone() -> list[Person]:
    return list(db.session.scalars(db.select(Person).order_by(Person.id)))


class TestReading:
    """The checks that only read: they share one world per engine instead of building one each."""

    @pytest.fixture
    def world(self, _session_app, _shared_world):
        with _session_app.app_context():
            yield {role: db.session.get(Person, person_id) for role, person_id in _shared_world.items()}
            db.session.rollback()
            db.session.remove()

    @pytest.fixture
    def client(self, _session_app, world):
        """A test client on the shared world (the `auth` fixture logs in through it)."""
        return _session_app.test_client()

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_tree_pages_follow_scope(self, world, client, auth, actor_role, caplog):
        actor = world[actor_role]
        auth.login(actor.mobile)
        denied = 0
        for node in db.session.scalars(db.select(Node)):
            status = client.get(f"/tree/{node.id}").status_code
            assert status == (200 if expect_view_node(actor, node) else 403), (actor_role, node)
            denied += status == 403
        assert denied > 0 or actor_role == "district_admin"
        assert client.get("/tree/999999").status_code == 404
        assert caplog.text.count("access denied") >= denied

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_reports_follow_scope(self, world, client, auth, actor_role):
        """Every role against every node's report and one of its exports: open exactly where the tree is."""
        actor = world[actor_role]
        auth.login(actor.mobile)
        for node in db.session.scalars(db.select(Node)):
            expected = 200 if expect_view_node(actor, node) else 403
            assert client.get(f"/reports/{node.id}").status_code == expected, (actor_role, node)
            assert client.get(f"/reports/{node.id}/children.csv").status_code == expected, (actor_role, node)
        assert client.get("/reports/999999").status_code == 404
        own = client.get("/reports/")
        assert own.status_code == (302 if policy.scopes(actor) else 403), actor_role

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_vacancy_lists_follow_scope(self, world, client, auth, actor_role):
        """A community's vacancy list (空缺): its branch and the admins above it; nobody below the branch."""
        actor = world[actor_role]
        auth.login(actor.mobile)
        for community in nodes_at("community"):
            expected = any(r.role in MANAGERS and inside(r, community) for r in actor.roles)
            status = client.get(f"/triage/community/{community.id}/vacancies").status_code
            assert status == (200 if expected else 403), (actor_role, community)

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_person_pages_follow_scope(self, world, client, auth, actor_role):
        actor = world[actor_role]
        auth.login(actor.mobile)
        for other in everyone():
            page = client.get(f"/admin/people/{other.id}")
            assert page.status_code == (200 if expect_view_person(actor, other) else 403), (actor_role, other)
            if page.status_code == 403:
                assert other.mobile not in page.get_data(as_text=True)

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_activation_code_sheets_follow_scope(self, world, client, auth, actor_role):
        actor = world[actor_role]
        auth.login(actor.mobile)
        for node in db.session.scalars(db.select(Node)):
            status = client.get(f"/admin/codes/{node.id}").status_code
            assert status == (200 if expect_codes(actor, node) else 403), (actor_role, node)

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_reset_code_lists_follow_scope(self, world, client, auth, actor_role):
        """A 片's code page offers a reset code for exactly the active leaders there whom the actor manages."""
        actor = world[actor_role]
        auth.login(actor.mobile)
        for zone in nodes_at("zone"):
            page = client.get(f"/admin/codes/{zone.id}")
            if page.status_code == 403:
                continue
            html = inner_html(page.get_data(as_text=True), ".reset-list")
            below = {n.id for n in db.session.scalars(db.select(Node)) if zone.id in ancestors_or_self(n)}
            for other in everyone():
                here = any(r.node_id in below for r in other.roles)
                expected = here and expect_issue_person_code(actor, other)
                assert (f'action="/admin/people/{other.id}/code"' in html) == expected, (actor_role, other)

    @pytest.mark.parametrize("actor_role", ACTORS)
    def test_people_search_stays_in_scope(self, world, client, auth, actor_role):
        actor = world[actor_role]
        auth.login(actor.mobile)
        response = client.get("/admin/people?q=1")
        if actor_role not in MANAGERS:
            assert response.status_code == 403
            return
        html = response.get_data(as_text=True)
        for other in everyone():
            in_scope = any(r.node is not None and expect_view_node(actor, r.node) for r in other.roles)
            if actor_role == "district_admin":
                in_scope = True
            if not in_scope:
                assert other.mobile not in html, (actor_role, other)

    def test_denials_do_not_leak_existence(self, world, client, auth):
        """A 邻长 asking for another 邻 gets the same 403 page whatever the node is."""
        auth.login(world["neighbour_leader"].mobile)
        other = nodes_at("neighbour")[-1]
        page = client.get(f"/tree/{other.id}").get_data(as_text=True)
        assert other.name not in page


@pytest.mark.parametrize("actor_role", ACTORS)
def test_account_actions_follow_scope(world, client, auth, actor_role):
    """Disable, issue a code (a password reset) and remove a role: allowed exactly where the actor manages the
    person; a refused code writes no code and no audit entry."""
    actor = world[actor_role]
    auth.login(actor.mobile)
    # The session's CSRF token, read once: it stays valid for every form the actor posts after it.
    token = csrf_from(client.get("/").get_data(as_text=True))

    def post(url: str, data: dict | None = None):
        return client.post(url, data={**(data or {}), "csrf_token": token})

    def codes_and_entries() -> tuple[int, int]:
        count = db.select(db.func.count())
        return (
            db.session.scalar(count.select_from(ActivationCode)),
            db.session.scalar(count.select_from(AuditEntry).where(AuditEntry.action.like("%code_issued"))),
        )

    for other in everyone():
        expected = expect_manage_person(actor, other)
        response = post(f"/admin/people/{other.id}/enabled", {"enable": "1"})
        assert response.status_code == (302 if expected else 403), (actor_role, other)
        # a new code (here a password-reset code: everyone is active): printed and audited, or refused untouched
        before = codes_and_entries()
        response = post(f"/admin/people/{other.id}/code")
        expected = expect_issue_person_code(actor, other)
        assert response.status_code == (200 if expected else 403), (actor_role, other)
        after = codes_and_entries()
        assert after == ((before[0] + 1, before[1] + 1) if expected else before), (actor_role, other)
    for role in list(db.session.scalars(db.select(RoleAssignment))):
        if role.person_id == actor.id:
            continue
        expected = expect_manage_role(actor, role)
        response = post(f"/admin/roles/{role.id}/remove")
        assert response.status_code == (302 if expected else 403), (actor_role, role.role)


NOTICE_SENDERS = {"group_leader", "zone_leader", "branch_member", "street_admin", "district_admin"}
NOTICE_RECEIVERS = {"zone_leader", "group_leader", "neighbour_leader"}


def expect_send_notice(actor: Person, node: Node) -> bool:
    return any(r.role in NOTICE_SENDERS and inside(r, node) for r in actor.roles)


@pytest.mark.parametrize("actor_role", ACTORS)
def test_notice_pages_follow_scope(world, client, auth, actor_role):
    """Notices sent by the district admin to every node of the tree: the actor opens one when it reached them or
    they may send to its place, sees its results and downloads its list only when they may send there, and
    finds on the form exactly the places they may send to (a place off the form is refused, nothing sent)."""
    from governance.models import Notice, NoticeRecipient
    from governance.services.outreach import notices

    sender = world["district_admin"]
    sent = {}
    for node in db.session.scalars(db.select(Node).order_by(Node.id)):
        sent[node.id], _ = notices.send(sender, node, notices.Draft(f"通知{node.id}", "内容", reply_kind="confirm"))
        notices.fan_out({"notice_id": sent[node.id].id})
    db.session.commit()
    actor = world[actor_role]
    auth.login(actor.mobile)
    received = set(
        db.session.scalars(db.select(NoticeRecipient.notice_id).where(NoticeRecipient.person_id == actor.id))
    )
    for node_id, notice in sent.items():
        node = db.session.get(Node, node_id)
        may_send = expect_send_notice(actor, node)
        reached = any(r.role in NOTICE_RECEIVERS and node.id in ancestors_or_self(r.node) for r in actor.roles)
        assert (notice.id in received) == reached, (actor_role, node.name)
        detail = client.get(f"/notices/{notice.id}").status_code
        assert detail == (200 if reached or may_send else 403), (actor_role, node.name)
        for path in (f"/notices/{notice.id}/results", f"/notices/{notice.id}/results.csv"):
            assert client.get(path).status_code == (200 if may_send else 403), (actor_role, node.name, path)
    form = client.get("/notices/new")
    if not any(r.role in NOTICE_SENDERS for r in actor.roles):
        assert form.status_code == 403
        return
    offered = {int(option["value"]) for option in find_all(form.get_data(as_text=True), "select#node_id option")}
    assert offered and all(expect_send_notice(actor, db.session.get(Node, node_id)) for node_id in offered)
    before = db.session.scalar(db.select(db.func.count()).select_from(Notice))
    token = csrf_from(form.get_data(as_text=True))
    for node_id in sent:
        if node_id in offered:
            continue
        data = {"node_id": node_id, "roles": ["zone_leader"], "title": "t", "body": "b", "urgency": "normal",
                "reply_kind": "none", "remind_after_hours": "0", "csrf_token": token}  # fmt: skip
        assert client.post("/notices/new", data=data).status_code == 422, (actor_role, node_id)
    assert db.session.scalar(db.select(db.func.count()).select_from(Notice)) == before


def compound_with_household(neighbour: Node):
    """A 小区 of its own for a 邻: one building, one household of that 邻 (so the building's 邻 is known)."""
    from governance.models import Building, Compound, Household

    compound = Compound(community_id=neighbour.community_id, name=f"小区{neighbour.id}")
    db.session.add(compound)
    db.session.flush()
    building = Building(compound_id=compound.id, name="1栋")
    db.session.add(building)
    db.session.flush()
    db.session.add(Household(building_id=building.id, unit="1", room="101", neighbour_id=neighbour.id))
    return compound, building


SURVEY_OWNERS = {"branch_member", "street_admin", "district_admin"}


@pytest.mark.parametrize("actor_role", ACTORS)
def test_survey_pages_follow_scope(world, client, auth, actor_role):
    """A survey on every node but the 邻: the actor sees it when they run it or their area overlaps it, opens
    the visit page of a 邻 and records there when their scope covers that 邻, and downloads the answers (their
    words) only when they run it."""
    from governance.models import Household
    from governance.services.outreach import surveys

    admin = world["district_admin"]
    campaigns = []
    # The first branch's node and the last sibling at each level: inside and outside every actor's scope.
    places = {
        n.id: n
        for level in ("district", "street", "community", "zone", "group")
        for n in (nodes_at(level)[0], nodes_at(level)[-1])
    }
    for node in places.values():
        campaign = surveys.create(admin, node, f"走访{node.id}")
        surveys.add_question(admin, campaign, "single", "态度", "支持\n不支持")
        surveys.open_for_visits(admin, campaign)
        campaigns.append(campaign)
    every = nodes_at("neighbour")
    neighbours = [every[0], every[1], every[-1]]  # two of the first 组's 邻 (one an actor's own), one far away
    for neighbour in neighbours:
        compound_with_household(neighbour)
    db.session.commit()
    actor = world[actor_role]
    auth.login(actor.mobile)
    token = csrf_from(client.get("/").get_data(as_text=True))
    mine = [r for r in actor.roles if r.node is not None]
    for n, campaign in enumerate(campaigns):
        top = campaign.node
        runs = any(r.role in SURVEY_OWNERS and inside(r, top) for r in mine)
        overlaps = any(inside(r, top) or top.id in ancestors_or_self(r.node) for r in mine)
        assert client.get(f"/surveys/{campaign.id}").status_code == (200 if runs or overlaps else 403), (
            actor_role,
            top.name,
        )
        download = client.get(f"/surveys/{campaign.id}/households.csv").status_code
        assert download == (200 if runs else 403), (actor_role, top.name)
        for neighbour in neighbours:
            if top.id not in ancestors_or_self(neighbour):
                continue
            may_visit = any(inside(r, neighbour) for r in mine)
            if not (runs or overlaps):
                continue  # the campaign itself is refused (above)
            page = client.get(f"/surveys/{campaign.id}/visit/{neighbour.id}").status_code
            assert page == (200 if may_visit else 403), (actor_role, top.name, neighbour.name)
            household = db.session.scalar(db.select(Household).where(Household.neighbour_id == neighbour.id))
            data = {"outcome": "declined", "idempotency_key": f"{n}-{neighbour.id}", "csrf_token": token}
            posted = client.post(f"/surveys/{campaign.id}/households/{household.id}", data=data).status_code
            assert posted == (303 if may_visit else 403), (actor_role, top.name, neighbour.name)


@pytest.mark.parametrize("actor_role", ACTORS)
def test_resident_reports_follow_scope(world, client, auth, actor_role):
    """A resident's report in three 邻 (two of the first 组, one far away): the actor lists it, opens it (words,
    photo, phone) and answers it when their scope covers its 邻; only a manager over it pauses its source."""
    from governance.models import ReportSourceBlock, ResidentReportPhoto
    from governance.services.residents import reports

    every = nodes_at("neighbour")
    sent = {}
    for n, neighbour in enumerate([every[0], every[1], every[-1]]):
        compound, building = compound_with_household(neighbour)
        submission = reports.Submission(compound.id, building.id, category("road").id, f"路面破损第{n}处")
        report, _token, _created = reports.send(submission, reports.Source(f"device{n}", f"10.0.0.{n}"), [])
        db.session.add(
            ResidentReportPhoto(report_id=report.id, stored_name=f"r{n}.jpg", width=1, height=1, size_bytes=1)
        )
        sent[neighbour.id] = report
    db.session.commit()
    actor = world[actor_role]
    auth.login(actor.mobile)
    token = csrf_from(client.get("/").get_data(as_text=True))
    mine = [r for r in actor.roles if r.node is not None]
    listed = client.get("/resident-reports/")
    for neighbour_id, report in sent.items():
        neighbour = db.session.get(Node, neighbour_id)
        handles = any(inside(r, neighbour) for r in mine)
        manages = any(r.role in MANAGERS and inside(r, neighbour) for r in mine)
        if listed.status_code == 200:
            assert (report.reference in listed.get_data(as_text=True)) == handles, (actor_role, neighbour.name)
        else:
            assert not handles and listed.status_code == 403, actor_role
        assert client.get(f"/resident-reports/{report.id}").status_code == (200 if handles else 403)
        photo = report.photos[0].id
        assert client.get(f"/resident-reports/photo/{photo}").status_code in ((200, 404) if handles else (403,))
        data = {"csrf_token": token}
        client.post(f"/resident-reports/{report.id}/block", data=data)
        blocked = db.session.scalar(
            db.select(db.func.count(ReportSourceBlock.id)).where(ReportSourceBlock.report_id == report.id)
        )
        assert blocked == (2 if manages else 0), (actor_role, neighbour.name)
        answered = client.post(f"/resident-reports/{report.id}/decline", data={**data, "reason": "unclear"})
        assert answered.status_code == (303 if handles else 403), (actor_role, neighbour.name)


def test_every_post_needs_a_csrf_token(world, client, auth):
    """A logged-in district admin posting anywhere without the form's token gets 400 and nothing changes."""
    compound_with_household(nodes_at("neighbour")[0])  # 小区 1: its residents' form checks its own token
    db.session.commit()
    auth.login(world["district_admin"].mobile)
    before = [(p.id, p.enabled, len(p.roles)) for p in everyone()]
    for rule in client.application.url_map.iter_rules():
        if "POST" in rule.methods:
            assert client.post(fill(rule), data={"enable": "0"}).status_code == 400, rule.rule
    assert [(p.id, p.enabled, len(p.roles)) for p in everyone()] == before
