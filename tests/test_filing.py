"""Filing an issue through the form: CSRF, kept input, idempotency, duplicates, scope, photos by content."""

from __future__ import annotations

import json
import logging
import os
import re
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import func, select

from governance.blueprints.filing.forms import new_key
from governance.extensions import db
from governance.models import Building, Compound, Issue, Job, Photo
from governance.services.issues import places
from governance.services.issues.lifecycle import FilingError, IssueInput, file_issue
from governance.services.platform import jobs, photos
from tests.builders import category, make_compound, make_issue, make_node, make_person, make_tree, nodes_at
from tests.conftest import Auth, csrf_from, elsewhere, hidden_value


def jpeg(size=(640, 480), color=(180, 60, 40), **save) -> bytes:
    """A small real JPEG."""
    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", **save)
    return buffer.getvalue()


def gps_jpeg() -> bytes:
    """A JPEG as a phone writes it: camera make, orientation 'rotate 90°' and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (28.0, 22.0, 30.5), 3: "E", 4: (112.0, 53.0, 10.0)}
    return jpeg(size=(400, 200), exif=exif)


@pytest.fixture
def world(app, uploads):
    """One community: a 片 with two 组 of two 邻, the 普瑞斯堡 compound (1栋…3栋) they live in, and leaders."""
    make_tree(zones=1, groups=2, neighbours=2)
    community = nodes_at("community")[0]
    compound = make_compound(community, buildings=("1栋", "2栋", "3栋"))
    for node in nodes_at("zone") + nodes_at("group") + nodes_at("neighbour"):
        node.compound_id = compound.id
    db.session.commit()
    neighbours = nodes_at("neighbour")
    return {
        "compound": compound,
        "buildings": list(compound.buildings),
        "neighbours": neighbours,
        "leader": make_person("neighbour_leader", neighbours[0], name="邻长甲"),
        "other_leader": make_person("neighbour_leader", neighbours[1], name="邻长乙"),
        "group_leader": make_person("group_leader", nodes_at("group")[0], name="组长"),
        "zone_leader": make_person("zone_leader", nodes_at("zone")[0], name="片长"),
    }


def open_form(client) -> tuple[str, str, str]:
    """The form page, its CSRF token and its idempotency key."""
    response = client.get("/file/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return html, csrf_from(html), hidden_value(html, "idempotency_key")


def neighbour_options(html: str) -> list[str]:
    """The 邻 listed in the form (their options carry their community and compound)."""
    return re.findall(r'<option value="(\d+)"[^>]*data-c="\d+" data-x=', html)


def filing_data(world, **fields) -> dict:
    """A complete, valid filing; override any field."""
    data = {
        "category": str(category("road").id),
        "title": "3栋门口路面塌陷",
        "description": "雨后积水，老人差点摔倒",
        "neighbour": str(world["neighbours"][0].id),
        "compound": str(world["compound"].id),
        "building": str(world["buildings"][2].id),
        "place_detail": "3栋1单元门口",
        "urgency": "urgent",
        "resident_name": "张阿姨",
        "resident_phone": "13812345678",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def post_filing(client, data: dict, *, token: str, key: str | None, files=None, headers=None):
    payload = dict(data, csrf_token=token)
    if key is not None:
        payload["idempotency_key"] = key
    if files:
        payload["photos"] = [(BytesIO(content), name, ctype) for name, content, ctype in files]
    return client.post("/file/", data=payload, content_type="multipart/form-data", headers=headers or {})


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def log_in(auth, person, lang="en"):
    """Log in; messages are checked in English (the source strings), unaffected by the catalogue."""
    assert auth.login(person.mobile).status_code == 302
    auth.client.get(f"/lang/{lang}")


# --- the form ---------------------------------------------------------------------------------


def test_neighbour_leader_files_through_the_form(world, client, auth, uploads):
    log_in(auth, world["leader"])
    html, token, key = open_form(client)
    own = world["neighbours"][0]
    # The 邻长's own 邻 is the only choice, chosen already, and so is the 邻's 小区.
    assert re.search(rf'<option value="{own.id}" selected', html)
    assert neighbour_options(html) == [str(own.id)]
    assert re.search(rf'<option value="{world["compound"].id}" selected', html)
    assert "Road surface" in html
    assert 'capture="environment"' in html and 'accept="image/*"' in html and "multiple" in html

    response = post_filing(
        client, filing_data(world), token=token, key=key, files=[("IMG_0001.JPG", jpeg(), "image/jpeg")]
    )
    assert response.status_code == 302
    issue = db.session.scalar(select(Issue))
    assert issue.reference == f"WC-{issue.created_at.year}-{issue.id:06d}"
    assert (issue.title, issue.urgency, issue.neighbour_id) == ("3栋门口路面塌陷", "urgent", own.id)
    assert (issue.compound_id, issue.building_id) == (world["compound"].id, world["buildings"][2].id)
    assert (issue.resident_name, issue.resident_phone, issue.idempotency_key) == ("张阿姨", "13812345678", key)
    assert issue.filed_by_id == world["leader"].id and issue.status == "reported"
    (photo,) = issue.photos
    assert photo.public is False and photo.stage == "before" and photo.event_id == issue.events[0].id
    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", photo.stored_name)
    assert (uploads / photo.stored_name).exists()
    # The reference is flashed on the page the filer lands on.
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert issue.reference in page


def test_the_form_needs_its_csrf_token(world, client, auth):
    """The app-wide check refuses a filing without the session's token, or with one that is not it (the form has
    no token field of its own); the token the page wrote files."""
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    response = client.post("/file/", data=dict(filing_data(world), idempotency_key=key))
    assert response.status_code == 400
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for wrong in ("", "x", forged):
        response = client.post("/file/", data=dict(filing_data(world), idempotency_key=key, csrf_token=wrong))
        assert response.status_code == 400, wrong
    assert count(Issue) == 0
    response = client.post("/file/", data=dict(filing_data(world), idempotency_key=key, csrf_token=token))
    assert response.status_code in (302, 303) and count(Issue) == 1


def test_errors_keep_everything_typed(world, client, auth):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    data = filing_data(world, title="   ", description="井盖<松动>", place_detail="东门", resident_name="李伯")
    response = post_filing(client, data, token=token, key=key, files=[("a.jpg", jpeg(), "image/jpeg")])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Give the problem a short title." in html
    assert "井盖&lt;松动&gt;" in html and 'value="东门"' in html and 'value="李伯"' in html
    assert re.search(r'value="urgent"[^>]*checked|checked[^>]*value="urgent"', html)
    assert re.search(rf'<option value="{world["buildings"][2].id}" selected', html)
    assert hidden_value(html, "idempotency_key") == key  # the same filing: a retry stays idempotent
    assert "reselect" in html  # the photos must be chosen again, and the page says so
    assert count(Issue) == 0 and count(Photo) == 0


def test_title_too_long_and_bad_phone_are_explained(world, client, auth):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    data = filing_data(world, title="长" * 81, resident_phone="call me")
    html = post_filing(client, data, token=token, key=key).get_data(as_text=True)
    assert 'id="title-error"' in html and 'id="resident_phone-error"' in html
    assert count(Issue) == 0


def test_category_names_follow_the_interface_language(world, client, auth):
    log_in(auth, world["leader"], lang="zh")
    html = client.get("/file/").get_data(as_text=True)
    assert "道路破损" in html and "Road surface" not in html
    client.get("/lang/en")
    html = client.get("/file/").get_data(as_text=True)
    assert "Road surface" in html and "道路破损" not in html


# Any text, including right-to-left marks, SQL and very long strings (NUL is refused before the form).
anything = st.text(max_size=200) | st.sampled_from(["", " ", "1" * 5000, "-1", "99999999999999999999", "nan", "1e999"])
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            name: anything
            for name in (
                "category",
                "title",
                "description",
                "neighbour",
                "neighbour_filter",
                "compound",
                "building",
                "place_detail",
                "latitude",
                "longitude",
                "urgency",
                "resident_name",
                "resident_phone",
                "idempotency_key",
                "confirm_different",
                "action",
            )
        },
    ),
    photo=st.none() | st.binary(max_size=2000),
)
def test_fuzzed_filing_never_500(app, uploads, client, auth, fields, photo):
    mobile = fuzz_filer(app)
    if client.get("/").status_code == 302:
        auth.login(mobile)
    token = csrf_from(client.get("/file/").get_data(as_text=True))
    files = [("x.jpg", photo, "image/jpeg")] if photo is not None else None
    response = post_filing(client, fields, token=token, key=None, files=files)
    assert response.status_code in (200, 302, 400, 403, 413)
    response = client.get("/file/duplicates", query_string={k: v for k, v in fields.items() if k != "action"})
    assert response.status_code in (200, 400)


def fuzz_filer(app) -> str:
    """One 组长 for the whole hypothesis run (the database is emptied only after the test)."""
    from governance.models import Person

    mobile = app.config.get("_fuzz_filer")
    if mobile and db.session.scalar(select(Person).where(Person.mobile == mobile)):
        return mobile
    make_tree(groups=1, neighbours=2)
    make_compound(nodes_at("community")[0])
    app.config["_fuzz_filer"] = make_person("group_leader", nodes_at("group")[0]).mobile
    return app.config["_fuzz_filer"]


# --- weak networks ----------------------------------------------------------------------------


def test_same_key_twice_files_once_with_one_set_of_photos(world, client, auth, uploads):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    files = [("1.jpg", jpeg(), "image/jpeg"), ("2.jpg", jpeg(color=(0, 90, 0)), "image/jpeg")]
    first = post_filing(client, filing_data(world), token=token, key=key, files=files)
    again = post_filing(client, filing_data(world), token=token, key=key, files=files)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert count(Issue) == 1 and count(Photo) == 2
    stored = {p.stored_name for p in db.session.scalars(select(Photo))}
    thumbs = {p.thumb_name for p in db.session.scalars(select(Photo))}
    assert {f.name for f in uploads.iterdir()} == stored | thumbs  # the retry left no stray file
    assert "already filed as " + db.session.scalar(select(Issue)).reference in client.get("/").get_data(as_text=True)


def test_fetch_submission_answers_json(world, client, auth):
    """The offline-draft script sends with fetch and follows the URL it is given."""
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    headers = {"X-Requested-With": "fetch"}
    first = post_filing(client, filing_data(world), token=token, key=key, headers=headers)
    again = post_filing(client, filing_data(world), token=token, key=key, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json["reference"] == again.json["reference"] and first.json["url"]
    assert (first.json["created"], again.json["created"]) == (True, False)
    assert count(Issue) == 1


# --- the outbox: drafts kept on the phone, sent later from any page or the service worker ------------

OUTBOX = {"X-Requested-With": "outbox"}


def test_outbox_token_needs_a_login_and_answers_json(world, client, auth):
    """A draft sent from another page or the service worker asks for a fresh CSRF token and who is logged in."""
    response = client.get("/file/token")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    log_in(auth, world["leader"])
    response = client.get("/file/token")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert set(response.json) == {"csrf_token", "person"} and response.json["person"] == world["leader"].id
    assert response.headers["Cache-Control"] == "no-store"
    _html, _token, key = open_form(client)
    sent = post_filing(client, filing_data(world), token=response.json["csrf_token"], key=key, headers=OUTBOX)
    assert sent.status_code == 201 and count(Issue) == 1


def test_outbox_refusals_answer_json_with_the_reason(world, client, auth, app, monkeypatch):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    response = post_filing(client, filing_data(world, title=" ", category="999"), token=token, key=key, headers=OUTBOX)
    assert response.status_code == 422 and response.mimetype == "application/json"
    answer = response.json
    assert answer["ok"] is False and answer["duplicates"] == []
    assert answer["errors"] == {
        "category": ["Choose the kind of problem."],
        "title": ["Give the problem a short title."],
    }
    assert (
        answer["reason"] == "Kind of problem: Choose the kind of problem. Short title: Give the problem a short title."
    )

    earlier = make_issue(world["group_leader"], world["neighbours"][0], compound_id=world["compound"].id)
    response = post_filing(client, filing_data(world), token=token, key=key, headers=OUTBOX)
    assert response.status_code == 409
    assert response.json["duplicates"] == [earlier.reference] and response.json["errors"] == {}
    assert response.json["reason"] == "Similar problems are already open here. Is yours one of them?"

    tampered = filing_data(world, neighbour=str(world["neighbours"][1].id), confirm_different="y")
    response = post_filing(client, tampered, token=token, key=key, headers=OUTBOX)
    assert response.status_code == 403 and response.json["errors"] == {
        "neighbour": ["You cannot file problems in that neighbour unit (邻)."]
    }

    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 20_000)
    files = [("a.jpg", b"x" * 30_000, "image/jpeg")]
    response = post_filing(client, filing_data(world), token=token, key=key, files=files, headers=OUTBOX)
    assert response.status_code == 413 and "too large" in response.json["reason"]
    assert count(Issue) == 1  # only the earlier one


def test_outbox_resend_of_a_filed_draft_is_a_no_op(world, client, auth, uploads):
    """The page and the service worker may both send a draft: the second answer names the same issue."""
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    data = filing_data(world, confirm_different="y")
    files = [("1.jpg", jpeg(), "image/jpeg")]
    first = post_filing(client, data, token=token, key=key, files=files, headers=OUTBOX)
    again = post_filing(client, data, token=token, key=key, files=files, headers=OUTBOX)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["reference"] == again.json["reference"] and again.json["created"] is False
    assert count(Issue) == 1 and count(Photo) == 1
    kept = {name for photo in db.session.scalars(select(Photo)) for name in (photo.stored_name, photo.thumb_name)}
    assert {f.name for f in uploads.iterdir()} == kept


def test_a_resent_draft_with_photos_is_answered_before_its_photos_are_decoded(
    world, client, auth, uploads, monkeypatch
):
    """A phone on a bad connection sends a draft again when the answer was lost: its photos are not decoded and
    stored a second time (the key is looked up first; without photos the INSERT's unique key finds it)."""
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    data = filing_data(world, confirm_different="y")
    files = [("1.jpg", jpeg(), "image/jpeg"), ("2.jpg", jpeg(color=(0, 90, 0)), "image/jpeg")]
    assert post_filing(client, data, token=token, key=key, files=files, headers=OUTBOX).status_code == 201
    saved = []
    monkeypatch.setattr(photos, "save_uploads", lambda files: saved.append(files) or [])
    again = post_filing(client, data, token=token, key=key, files=files, headers=OUTBOX)
    assert again.status_code == 200 and again.json["created"] is False
    assert saved == []


def test_outbox_send_while_logged_out_is_refused_without_filing(world, client):
    """No session, so no valid CSRF token either: 400 (or 401), which outbox.js shows as 请登录后发送."""
    response = post_filing(client, filing_data(world), token="x", key="0123456789abcdef", headers=OUTBOX)
    assert response.status_code == 400 and count(Issue) == 0
    client.application.config["WTF_CSRF_ENABLED"] = False
    try:
        response = post_filing(client, filing_data(world), token="x", key="0123456789abcdef", headers=OUTBOX)
    finally:
        client.application.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 401 and count(Issue) == 0


def test_service_worker_is_served_from_the_root(client):
    """Its scope is the whole app; it imports the outbox script and is never served stale."""
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "importScripts('static/js/outbox.js', 'static/js/outbox-send.js')" in response.get_data(as_text=True)
    assert client.get("/static/js/outbox.js").status_code == 200


def test_outbox_script_and_its_texts_are_on_every_logged_in_page(world, client, auth):
    html = client.get("/auth/login").get_data(as_text=True)  # drafts of a logged-out leader wait for the login
    assert "js/outbox.js" in html and 'id="outbox"' in html and 'data-person=""' in html
    log_in(auth, world["leader"], lang="zh")
    html = client.get("/").get_data(as_text=True)
    assert "js/outbox.js" in html and f'data-person="{world["leader"].id}"' in html
    assert 'data-n="{n} 条待发送"' in html and 'data-login="请登录后发送。"' in html


def test_duplicates_are_shown_before_saving_and_filing_anyway_works(world, client, auth):
    earlier = make_issue(
        world["group_leader"],
        world["neighbours"][0],
        title="3栋路面坑洼",
        compound_id=world["compound"].id,
        building_id=world["buildings"][2].id,
    )
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    response = post_filing(client, filing_data(world), token=token, key=key)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert earlier.reference in html and "3栋路面坑洼" in html and 'name="confirm_different"' in html
    assert count(Issue) == 1

    response = post_filing(client, filing_data(world, confirm_different="y"), token=token, key=key)
    assert response.status_code == 302
    assert count(Issue) == 2


def test_duplicates_fragment_for_the_script(world, client, auth):
    compound, buildings, neighbours = world["compound"], world["buildings"], world["neighbours"]
    same = make_issue(world["leader"], title="路面塌陷", compound_id=compound.id, building_id=buildings[0].id)
    whole = make_issue(world["leader"], title="小区主干道破损", compound_id=compound.id)
    other_building = make_issue(world["leader"], title="2栋路面", compound_id=compound.id, building_id=buildings[1].id)
    other_kind = make_issue(world["leader"], title="路灯不亮", category="lighting", compound_id=compound.id)
    closed = make_issue(world["leader"], title="旧问题", compound_id=compound.id, building_id=buildings[0].id)
    closed.status = "closed"
    hidden = make_issue(world["other_leader"], title="别的邻", compound_id=compound.id, building_id=buildings[0].id)
    db.session.commit()
    log_in(auth, world["leader"])
    query = {"category": category("road").id, "compound": compound.id, "building": buildings[0].id}
    html = client.get("/file/duplicates", query_string=query).get_data(as_text=True)
    assert same.reference in html and whole.reference in html
    for issue in (other_building, other_kind, closed, hidden):  # other place, kind, closed, or out of scope
        assert issue.reference not in html
    query = {"category": category("road").id, "neighbour": neighbours[0].id}
    assert client.get("/file/duplicates", query_string=query).get_data(as_text=True).strip() == ""


# --- scope ------------------------------------------------------------------------------------


def test_neighbour_leader_cannot_file_into_another_neighbour(world, client, auth, caplog):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    tampered = filing_data(world, neighbour=str(world["neighbours"][1].id))
    with caplog.at_level(logging.WARNING, logger="governance.access"):
        response = post_filing(client, tampered, token=token, key=key)
    assert response.status_code == 403
    assert count(Issue) == 0
    assert "access denied" in caplog.text and "file_issue" in caplog.text
    # A 邻 of another community entirely, or something that is not a 邻, is refused too.
    for node in (nodes_at("group")[0], nodes_at("community")[0]):
        response = post_filing(client, filing_data(world, neighbour=str(node.id)), token=token, key=key)
        assert response.status_code == 200 and count(Issue) == 0


def test_group_leader_chooses_among_the_group_neighbours(world, client, auth):
    log_in(auth, world["group_leader"])
    html, token, key = open_form(client)
    first, second, third, _fourth = world["neighbours"]
    assert neighbour_options(html) == [str(first.id), str(second.id)]
    assert not re.search(r'<option value="\d+" selected data-c="\d+" data-x', html)  # two 邻: the 组长 picks
    response = post_filing(client, filing_data(world, neighbour=str(second.id)), token=token, key=key)
    assert response.status_code == 302
    assert db.session.scalar(select(Issue)).neighbour_id == second.id
    _html, token, key = open_form(client)
    response = post_filing(client, filing_data(world, neighbour=str(third.id)), token=token, key=key)
    assert response.status_code == 403


def test_zone_leader_sees_neighbours_grouped_by_group(world, client, auth):
    log_in(auth, world["zone_leader"])
    html, _token, _key = open_form(client)
    assert html.count("<optgroup") == 2
    assert neighbour_options(html) == [str(n.id) for n in world["neighbours"]]


def test_many_neighbours_are_searched_not_listed(world, client, auth, monkeypatch):
    monkeypatch.setattr(places, "MAX_CHOICES", 3)
    log_in(auth, world["zone_leader"])
    html, token, key = open_form(client)
    assert 'name="neighbour_filter"' in html and 'value="find"' in html
    assert neighbour_options(html) == []
    wanted = world["neighbours"][3]
    data = filing_data(world, neighbour="", neighbour_filter=nodes_at("group")[1].name, action="find")
    html = post_filing(client, data, token=token, key=key).get_data(as_text=True)
    assert neighbour_options(html) == [str(n.id) for n in world["neighbours"][2:]]
    assert "3栋门口路面塌陷" in html and hidden_value(html, "idempotency_key") == key
    response = post_filing(client, filing_data(world, neighbour=str(wanted.id)), token=token, key=key)
    assert response.status_code == 302
    assert db.session.scalar(select(Issue)).neighbour_id == wanted.id


def test_photos_are_served_only_to_people_who_may_see_the_issue(world, client, auth, app):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    post_filing(client, filing_data(world), token=token, key=key, files=[("p.jpg", jpeg(), "image/jpeg")])
    photo = db.session.scalar(select(Photo))
    urls = [f"/file/photos/{photo.id}", f"/file/photos/{photo.id}/thumb"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "private" in response.headers["Cache-Control"]
    auth.logout()
    log_in(auth, world["other_leader"])  # the 邻长 next door
    for url in urls:
        assert client.get(url).status_code == 403
    auth.logout()
    log_in(auth, world["group_leader"])  # the 组长 above
    for url in urls:
        assert client.get(url).status_code == 200
    assert client.get(f"/file/photos/{photo.id + 1000}").status_code == 404
    assert client.get("/file/photos/99999999999999999999").status_code == 404


# --- uploads ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "ctype"),
    [
        ("photo.jpg", b"<!doctype html><html><script>alert(1)</script></html>", "image/jpeg"),
        (
            "photo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
            "image/svg+xml",
        ),
        ("notes.png", b"just some text, not a picture", "image/png"),
    ],
)
def test_files_that_are_not_pictures_are_refused(world, client, auth, uploads, name, content, ctype):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    response = post_filing(client, filing_data(world), token=token, key=key, files=[(name, content, ctype)])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert name in html
    assert "is not a picture we can read" in html
    assert count(Issue) == 0 and count(Photo) == 0
    assert not uploads.exists() or not any(uploads.iterdir())


def test_oversized_photo_gets_a_clear_message(world, client, auth, app, uploads, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 50_000)
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    big = jpeg(size=(1600, 1200), quality=100, subsampling=0)
    noise = Image.effect_noise((1200, 1200), 100).convert("RGB")
    buffer = BytesIO()
    noise.save(buffer, "JPEG", quality=100)
    big = buffer.getvalue()
    assert len(big) > 50_000
    files = [("small.jpg", jpeg(), "image/jpeg"), ("big.jpg", big, "image/jpeg")]
    response = post_filing(client, filing_data(world), token=token, key=key, files=files)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "big.jpg" in html and 'id="filing"' in html and 'value="3栋门口路面塌陷"' in html
    assert count(Issue) == 0
    assert not any(uploads.iterdir())  # the small photo stored before the big one was removed again


def test_request_over_the_total_limit_shows_the_form_with_a_message(world, client, auth, app, monkeypatch):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 20_000)
    response = post_filing(client, filing_data(world), token=token, key=key, files=[("a.jpg", b"x" * 30_000, "x/y")])
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert 'id="filing"' in html and "flash-error" in html
    assert count(Issue) == 0


def test_too_many_photos_are_refused(world, client, auth):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    files = [(f"{n}.jpg", jpeg(size=(32, 32)), "image/jpeg") for n in range(7)]
    response = post_filing(client, filing_data(world), token=token, key=key, files=files)
    assert response.status_code == 200 and count(Issue) == 0


def test_decompression_bomb_is_refused(app, uploads, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_PIXELS", 1000 * 1000)
    buffer = BytesIO()
    Image.new("1", (4000, 4000)).save(buffer, "PNG")  # a few KB that would decode to 16 million pixels
    assert len(buffer.getvalue()) < 10_000

    class Upload:
        stream = BytesIO(buffer.getvalue())

    with pytest.raises(photos.PhotoError) as err:
        photos.save_upload(Upload())
    assert err.value.code == "too_many_pixels"


def test_exif_and_gps_are_stripped_and_orientation_applied(world, client, auth, uploads):
    upload = gps_jpeg()
    sent = Image.open(BytesIO(upload))
    assert sent.getexif().get_ifd(0x8825)[1] == "N" and sent.getexif()[0x010F] == "PhoneCam"
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    post_filing(client, filing_data(world), token=token, key=key, files=[("gps.jpg", upload, "image/jpeg")])
    photo = db.session.scalar(select(Photo))
    for name in (photo.stored_name, photo.thumb_name):
        with Image.open(uploads / name) as stored:
            assert stored.format == "JPEG"
            assert len(stored.getexif()) == 0 and not stored.getexif().get_ifd(0x8825)
            assert "exif" not in stored.info and "icc_profile" not in stored.info
            raw = (uploads / name).read_bytes()
            assert b"Exif" not in raw and b"PhoneCam" not in raw
    # Orientation 6 (turn 90°) was applied: the 400×200 picture is stored upright as 200×400.
    assert (photo.width, photo.height) == (200, 400)


def test_photos_are_reencoded_pngs_with_transparency_included(app, uploads):
    buffer = BytesIO()
    Image.new("RGBA", (4096, 1024), (0, 0, 255, 0)).save(buffer, "PNG")

    class Upload:
        stream = BytesIO(buffer.getvalue())

    stored = photos.save_upload(Upload())
    assert (stored.width, stored.height) == (app.config["PHOTO_MAX_SIDE"], app.config["PHOTO_MAX_SIDE"] // 4)
    with Image.open(uploads / stored.stored_name) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=3)  # transparent → white


def test_thumbnail_job_runs_and_makes_the_thumbnail(world, client, auth, uploads):
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    files = [("big.jpg", jpeg(size=(1600, 900)), "image/jpeg")]
    post_filing(client, filing_data(world), token=token, key=key, files=files)
    photo = db.session.scalar(select(Photo))
    job = db.session.scalar(select(Job).where(Job.kind == "thumbnail"))
    assert job.status == "done" and json.loads(job.payload) == {"photo_id": photo.id}
    assert job.dedupe_key == f"thumbnail:photo:{photo.id}"
    assert photo.thumb_name == photo.stored_name.replace(".jpg", "-t.jpg")
    with Image.open(uploads / photo.thumb_name) as thumb:
        assert thumb.size == (320, 180)
    # Running it again changes nothing; a thumbnail for a photo that is gone is not an error.
    before = os.path.getmtime(uploads / photo.thumb_name)
    photos.make_thumbnail({"photo_id": photo.id})
    photos.make_thumbnail({"photo_id": photo.id + 1000})
    assert os.path.getmtime(uploads / photo.thumb_name) == before
    thumb = client.get(f"/file/photos/{photo.id}/thumb")
    full = client.get(f"/file/photos/{photo.id}")
    assert len(thumb.data) < len(full.data)


def test_thumbnail_is_deferred_in_the_same_transaction(world, uploads):
    issue = make_issue(world["leader"], commit=False)
    stored = photos.save_upload(type("Upload", (), {"stream": BytesIO(jpeg())})())
    photos.attach(issue, stored, "before", world["leader"])
    assert count(Job, Job.kind == "thumbnail") == 1
    db.session.rollback()  # the filing failed: neither the photo row nor its job exists
    assert count(Job, Job.kind == "thumbnail") == 0 and count(Photo) == 0
    photos.discard(stored)
    assert not (uploads / stored.stored_name).exists()
    assert "thumbnail" in jobs.HANDLERS


# --- the places a filing names, kept in the worker ------------------------------------------------------------


def filing_phone(app, person):
    """A phone logged in as `person` (messages in English), with the form's CSRF token."""
    phone = app.test_client()
    assert Auth(phone).login(person.mobile).status_code == 302
    phone.get("/lang/en")
    return phone, csrf_from(phone.get("/file/").get_data(as_text=True))


def test_the_place_a_filing_names_follows_the_tree_at_once(served, world):
    """The form and the service check the 小区 and building against the 社区's places the worker keeps: a 小区
    moved to another 社区 on another worker is refused at the next filing, and a building added there is taken."""
    phone, token = filing_phone(served, world["leader"])
    assert post_filing(phone, filing_data(world), token=token, key=new_key()).status_code == 302  # kept now
    compound = world["compound"]
    with elsewhere(served):
        other = make_node(nodes_at("street")[0], "community", "另一个社区")
        db.session.get(Compound, compound.id).community_id = other.id
        db.session.commit()
    issues = count(Issue)
    refused = post_filing(phone, filing_data(world, title="又塌了"), token=token, key=new_key())
    assert refused.status_code == 200
    page = refused.get_data(as_text=True)
    assert "That compound is not in the community" in page
    assert count(Issue) == issues
    with elsewhere(served):
        db.session.get(Compound, compound.id).community_id = world["neighbours"][0].community_id
        db.session.add(Building(compound_id=compound.id, name="4栋"))
        db.session.commit()
    added = db.session.scalar(select(Building.id).where(Building.name == "4栋"))
    filed = post_filing(phone, filing_data(world, title="4栋门口", building=str(added)), token=token, key=new_key())
    assert filed.status_code == 302
    assert db.session.scalar(select(Issue.building_id).where(Issue.title == "4栋门口")) == added


def test_a_place_added_behind_the_orms_back_is_taken_at_once(served, world):
    """A 小区 and building written by hand into the database (no hook hears of them): the kept places do not list
    them, and the rows themselves are read before the filing is refused."""
    phone, token = filing_phone(served, world["leader"])
    assert post_filing(phone, filing_data(world), token=token, key=new_key()).status_code == 302  # kept now
    community_id = world["neighbours"][0].community_id
    with db.engine.begin() as conn:
        compound_id = conn.execute(
            Compound.__table__.insert().values(community_id=community_id, name="新小区").returning(Compound.id)
        ).scalar_one()
        building_id = conn.execute(
            Building.__table__.insert().values(compound_id=compound_id, name="1栋").returning(Building.id)
        ).scalar_one()
    data = filing_data(world, title="新小区门口", compound=str(compound_id), building=str(building_id))
    assert post_filing(phone, data, token=token, key=new_key()).status_code == 302
    filed = db.session.execute(select(Issue.compound_id, Issue.building_id).where(Issue.title == "新小区门口"))
    assert filed.one() == (compound_id, building_id)
    # A building of another 小区 is refused, kept or not.
    data = filing_data(world, title="错楼栋", building=str(building_id))
    refused = post_filing(phone, data, token=token, key=new_key())
    assert refused.status_code == 200 and count(Issue, Issue.title == "错楼栋") == 0


def test_the_service_refuses_a_place_outside_the_neighbours_community(world):
    """The same checks for every caller of file_issue (the API, residents' reports): 小区 of another 社区, a
    building without its 小区, or of another 小区."""
    other = make_node(nodes_at("street")[0], "community", "另一个社区")
    elsewhere_compound = make_compound(other, name="别的小区", buildings=("1栋",))
    db.session.commit()
    leader, neighbour = world["leader"], world["neighbours"][0]
    ours, theirs = world["buildings"][0], elsewhere_compound.buildings[0]
    for compound_id, building_id in (
        (elsewhere_compound.id, None),
        (None, ours.id),
        (world["compound"].id, theirs.id),
        (elsewhere_compound.id, theirs.id),
        (2**31 - 1, None),
    ):
        data = IssueInput(
            category_id=category("road").id,
            title="路面",
            neighbour_id=neighbour.id,
            compound_id=compound_id,
            building_id=building_id,
        )
        with pytest.raises(FilingError) as refused:
            file_issue(leader, data)
        assert refused.value.code == "bad_place", (compound_id, building_id)
        db.session.rollback()
    data = IssueInput(
        category_id=category("road").id,
        title="路面",
        neighbour_id=neighbour.id,
        compound_id=world["compound"].id,
        building_id=ours.id,
    )
    issue, created = file_issue(leader, data)
    assert created and (issue.compound_id, issue.building_id) == (world["compound"].id, ours.id)
