"""Hypothesis throws arbitrary input at every form: the answer is a page, never a 500."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import make_person, make_tree, nodes_at
from tests.conftest import csrf_from

# Any text, including NUL, emoji, right-to-left marks and very long strings.
anything = st.text(max_size=300) | st.sampled_from(["", " ", "\x00", "1" * 5000, "13800000000", "' OR 1=1 --"])
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def post_form(client, url, fields):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**fields, "csrf_token": token})


@FUZZ
@given(mobile=anything, password=anything)
def test_login_form_never_500(app, client, mobile, password):
    response = post_form(client, "/auth/login", {"mobile": mobile, "password": password})
    assert response.status_code in (200, 302, 400, 429)


@FUZZ
@given(mobile=anything, code=anything, password=anything, confirm=anything)
def test_activation_form_never_500(app, client, mobile, code, password, confirm):
    response = post_form(
        client, "/auth/activate", {"mobile": mobile, "code": code, "password": password, "confirm": confirm}
    )
    assert response.status_code in (200, 302, 400, 429)


@FUZZ
@given(current=anything, password=anything, confirm=anything, q=anything, page=anything)
def test_logged_in_forms_never_500(app, client, auth, current, password, confirm, q, page):
    make_once(app)
    if client.get("/").status_code == 302:
        auth.login(app.config["_fuzz_mobile"])
    response = post_form(client, "/auth/password", {"current": current, "password": password, "confirm": confirm})
    # 429 is the throttle on wrong current passwords: a page that says when to try again.
    assert response.status_code in (200, 302, 400, 429)
    response = client.get("/admin/people", query_string={"q": q, "page": page})
    assert response.status_code in (200, 400)


def make_once(app):
    """One branch member for the whole hypothesis run (the database is emptied only after the test)."""
    from governance.extensions import db
    from governance.models import Person

    mobile = app.config.get("_fuzz_mobile")
    if mobile and db.session.scalar(db.select(Person).where(Person.mobile == mobile)):
        return
    make_tree()
    app.config["_fuzz_mobile"] = make_person("branch_member", nodes_at("community")[0]).mobile


@FUZZ
@given(
    node=anything,
    roles=st.lists(anything, max_size=4),
    title=anything,
    body=anything,
    urgency=anything,
    reply_kind=anything,
    label=anything,
    remind=anything,
    reply=anything,
    show=anything,
)
def test_notice_forms_never_500(
    app, client, auth, node, roles, title, body, urgency, reply_kind, label, remind, reply, show
):
    """Sending a notice, answering it and reading its results, with anything in every field."""
    make_once(app)
    if client.get("/").status_code == 302:
        auth.login(app.config["_fuzz_mobile"])
    community = nodes_at("community")[0]
    fields = {"node_id": node, "roles": roles, "title": title, "body": body, "urgency": urgency,
              "reply_kind": reply_kind, "reply_label": label, "remind_after_hours": remind,
              "idempotency_key": reply}  # fmt: skip
    assert post_form(client, "/notices/new", fields).status_code in (303, 400, 422)
    sent = post_form(client, "/notices/new", {**fields, "node_id": community.id, "idempotency_key": ""})
    assert sent.status_code in (303, 400, 422)
    from governance.extensions import db
    from governance.models import Notice

    notice = db.session.scalar(db.select(Notice).order_by(Notice.id.desc()))
    if notice is not None:
        answer = post_form(client, f"/notices/{notice.id}", {"reply": reply})
        assert answer.status_code in (405,)  # the page itself takes no POST
        assert post_form(client, f"/notices/{notice.id}/reply", {"reply": reply}).status_code in (400, 403)
        results = client.get(f"/notices/{notice.id}/results", query_string={"node": node, "show": show})
        assert results.status_code in (200, 404)


@FUZZ
@given(node=anything, title=anything, purpose=anything, day=anything, kind=anything, text=anything, outcome=anything,
       answer=anything, revisit=anything)  # fmt: skip
def test_survey_forms_never_500(app, client, auth, node, title, purpose, day, kind, text, outcome, answer, revisit):
    """Writing a survey and its questions, recording a visit and reading its progress, with anything anywhere."""
    from governance.extensions import db
    from governance.models import Building, Compound, Household, SurveyCampaign
    from governance.services.outreach import surveys

    make_once(app)
    if client.get("/").status_code == 302:
        auth.login(app.config["_fuzz_mobile"])
    fields = {"node_id": node, "title": title, "purpose": purpose, "starts_on": day, "ends_on": day}
    assert post_form(client, "/surveys/new", fields).status_code in (303, 400, 422)
    campaign = db.session.scalar(db.select(SurveyCampaign).where(SurveyCampaign.status == "open"))
    if campaign is None:
        from governance.models import Person

        branch = db.session.scalar(db.select(Person).where(Person.mobile == app.config["_fuzz_mobile"]))
        community = nodes_at("community")[0]
        campaign = surveys.create(branch, community, "问卷")
        for question_kind in ("single", "multiple", "scale", "text", "problem"):
            surveys.add_question(branch, campaign, question_kind, "题目", "甲\n乙")
        surveys.open_for_visits(branch, campaign)
        compound = Compound(community_id=community.id, name="小区")
        db.session.add(compound)
        db.session.flush()
        building = Building(compound_id=compound.id, name="1栋")
        db.session.add(building)
        db.session.flush()
        db.session.add(
            Household(building_id=building.id, unit="1", room="101", neighbour_id=nodes_at("neighbour")[0].id)
        )
        db.session.commit()
    page = f"/surveys/{campaign.id}"
    added = post_form(client, f"{page}/questions", {"kind": kind, "text": text, "options": answer})
    assert added.status_code in (303, 400, 409, 422)  # 400: a NUL, never real input (access.reject_nul)
    household = db.session.scalar(db.select(Household))
    visit = {"outcome": outcome, "revisit_on": revisit, "idempotency_key": text[:64]}
    visit.update({f"q{q.id}": answer for q in campaign.questions})
    visit.update({f"q{q.id}_category": revisit for q in campaign.questions})
    recorded = post_form(client, f"{page}/households/{household.id}", visit)
    assert recorded.status_code in (303, 400, 409, 422)
    assert client.get(page, query_string={"node": node}).status_code in (200, 400, 403, 404)


@FUZZ
@given(kind=anything, building=anything, text=anything, phone=anything, key=anything, title=anything, reason=anything,
       rating=anything, token=anything)  # fmt: skip
def test_resident_report_forms_never_500(app, client, auth, kind, building, text, phone, key, title, reason, rating,
                                         token):  # fmt: skip
    """A resident's report, its tracking page and rating, and the leader's confirm and decline, with anything."""
    from governance.extensions import db
    from governance.models import Compound, ResidentReport

    make_once(app)
    app.config["RESIDENT_REPORTS_PER_DEVICE"] = 10_000  # the limits are tested on their own
    app.config["RESIDENT_REPORTS_PER_ADDRESS"] = 10_000
    try:
        compound = db.session.scalar(db.select(Compound))
        if compound is None:
            compound = Compound(community_id=nodes_at("community")[0].id, name="小区")
            db.session.add(compound)
            db.session.flush()
            nodes_at("neighbour")[0].compound_id = compound.id  # the 邻 its residents' reports go to
            db.session.commit()
        resident = app.test_client()
        fields = {"category": kind, "building": building, "text": text, "phone": phone, "form_key": key}
        sent = post_form(resident, f"/p/compound/{compound.id}/report", fields)
        assert sent.status_code in (303, 400, 413, 422, 429)
        assert resident.get(f"/p/track/{token}").status_code in (200, 308, 400, 404)  # 400: a NUL
        csrf = csrf_from(resident.get(f"/p/compound/{compound.id}/report").get_data(as_text=True))
        rated = resident.post(f"/p/track/{token}/rate", data={"rating": rating, "csrf_token": csrf})
        assert rated.status_code in (303, 400, 404, 405)  # 405: an empty token leaves another route
        report = db.session.scalar(db.select(ResidentReport).order_by(ResidentReport.id.desc()))
        if report is None:
            return
        if client.get("/").status_code == 302:
            auth.login(app.config["_fuzz_mobile"])
        page = f"/resident-reports/{report.id}"
        confirm = {"category": kind, "title": title, "description": text, "urgency": reason, "idempotency_key": key}
        assert post_form(client, f"{page}/confirm", confirm).status_code in (303, 400, 409, 422)
        assert post_form(client, f"{page}/decline", {"reason": reason}).status_code in (303, 400, 409, 422)
        assert client.get("/resident-reports/", query_string={"status": reason, "handler": token}).status_code == 200
    finally:
        app.config["RESIDENT_REPORTS_PER_DEVICE"] = 5
        app.config["RESIDENT_REPORTS_PER_ADDRESS"] = 40
