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
