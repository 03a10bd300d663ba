"""After photos on resolve, and staff deciding which photos are public."""

from __future__ import annotations

import io

from sqlalchemy import select

from governance.extensions import db
from governance.models import Photo
from governance.services import jobs
from tests.builders import force_status
from tests.conftest import csrf_from
from tests.test_filing import jpeg
from tests.test_issue_pages import act, events, fresh, issue_in, world  # noqa: F401 - `world` is a fixture


def test_resolve_with_after_photos(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    response = act(client, issue, "status/resolved", "resolved", {"note": "已修复"})
    assert response.status_code == 303  # no photo is fine
    assert fresh(issue).status == "resolved"


def test_after_photos_are_attached_to_the_resolve_event(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    token_page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(token_page),
        "resolved-version": str(fresh(issue).version),
        "resolved-note": "已更换灯具",
        "resolved-photos": [(io.BytesIO(jpeg()), "after-1.jpg"), (io.BytesIO(jpeg(color=(0, 90, 0))), "after-2.jpg")],
    }
    response = client.post(f"/issues/{issue.id}/status/resolved", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    jobs.dispatch()
    stored = list(db.session.scalars(select(Photo).where(Photo.issue_id == issue.id)))
    resolve_event = [e for e in events(issue) if e.to_status == "resolved"][0]
    assert [p.stage for p in stored] == ["after", "after"]
    assert {p.event_id for p in stored} == {resolve_event.id}
    assert not any(p.public for p in stored)


def test_a_bad_after_photo_changes_nothing_and_keeps_the_note(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    try:
            data = {
            "csrf_token": csrf_from(client.get(f"/issues/{issue.id}").get_data(as_text=True)),
            "resolved-version": str(fresh(issue).version),
            "resolved-note": "已更换灯具",
            "resolved-photos": [(io.BytesIO(b"<html><script>alert(1)</script>"), "photo.jpg")],
        }
        response = client.post(f"/issues/{issue.id}/status/resolved", data=data, content_type="multipart/form-data")
    finally:
        app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "not a picture we can read" in html
    assert fresh(issue).status == "in_progress"
    assert list(tmp_path.iterdir()) == []  # nothing left behind on disk


def add_photo(issue, tmp_path, app):
    from werkzeug.datastructures import FileStorage

    from governance.services import photos

    app.config["UPLOAD_DIR"] = str(tmp_path)
    stored = photos.save_upload(FileStorage(io.BytesIO(jpeg()), filename="x.jpg"))
    photo = photos.attach(issue, stored, "before", None)
    db.session.commit()
    return photo


def test_branch_marks_a_photo_public_and_back(world, client, auth, app, tmp_path):
    issue = issue_in(world, "n0")
    photo = add_photo(issue, tmp_path, app)
    auth.login(world["branch"].mobile)
    token = csrf_from(client.get(f"/issues/{issue.id}").get_data(as_text=True))
    url = f"/issues/{issue.id}/photos/{photo.id}/public"
    assert client.post(url, data={"csrf_token": token, "public": "1"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is True
    assert any(e.kind == "photo" and not e.public for e in events(issue))
    assert client.post(url, data={"csrf_token": token, "public": "0"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is False


def test_leaders_below_the_branch_cannot_publish_photos(world, client, auth, app, tmp_path):
    issue = issue_in(world, "n0")
    photo = add_photo(issue, tmp_path, app)
    for who in ("n0", "g0", "z0"):
        auth.login(world[who].mobile)
            page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
        assert "/public" not in page
        response = client.post(
            f"/issues/{issue.id}/photos/{photo.id}/public", data={"csrf_token": csrf_from(page), "public": "1"}
        )
        assert response.status_code == 403, who
        auth.logout()
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is False
