"""Photos on a 360 px phone: a tap opens the full picture fitted to the screen, with its 处理前/处理后 label;
a swipe moves to the next photo; the phone's back button closes the viewer and stays on the page."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from governance.extensions import db
from governance.services.platform import photos
from tests.builders import first_nodes, make_compound, make_issue, make_role_holders, make_tree

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_public_cache", "uploads")]


def picture(color, size=(1600, 1200)) -> FileStorage:
    """A photo as a phone takes it: far larger than its thumbnail."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    buffer.seek(0)
    return FileStorage(buffer, filename="photo.jpg", content_type="image/jpeg")


def issue_with_photos():
    make_tree()
    nodes = first_nodes()
    people = make_role_holders()
    compound = make_compound(nodes["community"], "普瑞斯堡", buildings=("3栋",))
    nodes["neighbour"].compound_id = compound.id
    db.session.commit()
    issue = make_issue(people["neighbour_leader"], title="楼道灯不亮")
    before = photos.attach(issue, photos.save_upload(picture((200, 60, 40))), "before", people["neighbour_leader"])
    after = photos.attach(issue, photos.save_upload(picture((40, 160, 60))), "after", people["group_leader"])
    for photo in (before, after):
        photos.set_public(people["branch_member"], photo, True)
    db.session.commit()
    return issue, people


def viewer_state(phone) -> dict:
    return phone.page.evaluate(
        """() => {
          const box = document.querySelector('.viewer');
          const img = box && box.querySelector('.viewer-image');
          if (!box || box.hidden) return {open: false};
          const r = img.getBoundingClientRect();
          return {open: true, natural: img.naturalWidth, left: r.left, right: r.right, top: r.top,
                  bottom: r.bottom, caption: box.querySelector('.viewer-caption').textContent};
        }"""
    )


def open_first_photo(phone) -> dict:
    phone.page.locator("ul.photos a").first.tap()
    phone.page.wait_for_function(
        "() => { const i = document.querySelector('.viewer-image'); return i && i.complete && i.naturalWidth > 0; }"
    )
    return viewer_state(phone)


def swipe_left(phone) -> None:
    box = phone.page.locator(".viewer-image").bounding_box()
    y = box["y"] + box["height"] / 2
    phone.page.mouse.move(box["x"] + box["width"] * 0.8, y)
    phone.page.mouse.down()
    phone.page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=5)
    phone.page.mouse.up()


def test_a_resident_opens_the_full_photos_and_swipes_between_them(phone):
    issue, _ = issue_with_photos()
    phone.goto(f"/p/issue/{issue.reference}")
    labels = phone.page.locator("ul.photos .badge").all_inner_texts()
    assert labels == ["处理前", "处理后"]
    phone.check("public-issue")

    state = open_first_photo(phone)
    assert state["open"] and state["natural"] > 320, state  # the full picture, not the thumbnail
    assert state["left"] >= 0 and state["right"] <= 360 and state["top"] >= 0 and state["bottom"] <= 740, state
    assert state["caption"] == "处理前 · 1 / 2"
    phone.check("public-viewer")

    swipe_left(phone)
    phone.page.wait_for_function("() => document.querySelector('.viewer-caption').textContent.includes('2 / 2')")
    assert viewer_state(phone)["caption"] == "处理后 · 2 / 2"
    phone.check("public-viewer-after")

    phone.page.go_back()  # the phone's back button closes the viewer, the page stays
    phone.page.wait_for_function("() => document.querySelector('.viewer').hidden")
    assert phone.path == f"/p/issue/{issue.reference}"


def test_a_leader_opens_the_full_photo_and_closes_it(phone):
    issue, people = issue_with_photos()
    phone.log_in(people["group_leader"].mobile)
    phone.goto(f"/issues/{issue.id}")
    assert phone.page.locator("ul.photos .badge", has_text="处理后").count() == 1

    state = open_first_photo(phone)
    assert state["natural"] > 320 and state["right"] <= 360 and state["caption"] == "处理前 · 1 / 2", state
    phone.check("staff-viewer")
    phone.page.locator(".viewer-next").tap()
    assert viewer_state(phone)["caption"] == "处理后 · 2 / 2"
    phone.page.locator(".viewer-close").tap()
    assert not viewer_state(phone)["open"]
    assert phone.path == f"/issues/{issue.id}"
