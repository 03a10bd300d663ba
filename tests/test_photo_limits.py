"""What one photo, and several at once, may cost: refused from the header before decoding, JPEGs decoded at a
reduced scale, bounded memory and time for the largest photo accepted, and "busy, try again" beyond the
process's decoding slots (nothing lost: the outbox sends the draft again)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from governance.models import Issue
from governance.services.platform import photos
from tests import test_filing
from tests.test_filing import filing_data, log_in, open_form, post_filing

world = test_filing.world  # the same fixture: a community with its leaders

ROOT = Path(__file__).resolve().parent.parent


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG declaring width×height RGBA: every row is zeros, so it compresses to almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + width * 4)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


class Upload:
    """What save_upload reads of a werkzeug FileStorage."""

    def __init__(self, content: bytes):
        self.stream = BytesIO(content)
        self.filename = "photo"


def test_a_small_png_declaring_49_megapixels_is_refused_before_decoding(app, uploads):
    bomb = declared_png(7000, 7000)
    assert len(bomb) < 250_000
    started = time.process_time()
    with pytest.raises(photos.PhotoError) as err:
        photos.save_upload(Upload(bomb))
    assert err.value.code == "too_many_pixels" and err.value.params["megapixels"] == 16
    assert time.process_time() - started < 0.5  # the header only: no pixel was decoded
    assert not list(uploads.glob("*.jpg")) if uploads.exists() else True


MEASURE = r"""
import io, json, resource, sys, tempfile, time
from governance import create_app
from governance.services.platform import photos
from tests.test_photo_limits import Upload, declared_png
app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40,
                             "UPLOAD_DIR": tempfile.mkdtemp()})
out = {}
with app.app_context():
    for name, (w, h) in {"bomb": (7000, 7000), "largest": (4000, 4000)}.items():
        content = declared_png(w, h)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu = time.process_time()
        try:
            stored = photos.save_upload(Upload(content))
            result = [stored.width, stored.height]
        except photos.PhotoError as err:
            result = err.code
        out[name] = {"result": result, "cpu": time.process_time() - cpu,
                     "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}
print(json.dumps(out))
"""


def test_decoding_cost_is_bounded_in_memory_and_time():
    """In a fresh process (the peak resident size cannot be reset): the 7000×7000 PNG costs nothing, and the
    largest PNG accepted (16 MP RGBA, decoded at full size) stays well under the old ~800 MB and 2.5 s."""
    answer = subprocess.run(
        [sys.executable, "-c", MEASURE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    figures = json.loads(answer.stdout.strip().splitlines()[-1])
    bomb, largest = figures["bomb"], figures["largest"]
    assert bomb["result"] == "too_many_pixels"
    assert bomb["peak_mb"] < 20 and bomb["cpu"] < 0.5, bomb
    assert largest["result"] == [2048, 2048]
    assert largest["peak_mb"] < 300 and largest["cpu"] < 2, largest


def jpeg_of(size) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(app, uploads):
    """24 MP from a phone camera, and a tall one: decoded at 1/2 and 1/4 scale, stored at PHOTO_MAX_SIDE."""
    stored = photos.save_upload(Upload(jpeg_of((6000, 4000))))
    assert (stored.width, stored.height) == (2048, 1365)
    stored = photos.save_upload(Upload(jpeg_of((1500, 9000))))
    assert (stored.width, stored.height) == (341, 2048)


def test_a_jpeg_that_draft_mode_cannot_shrink_enough_is_refused(app, uploads):
    """4090×4090: half scale would leave the long side under PHOTO_MAX_SIDE, so 16.7 MP would be decoded."""
    with pytest.raises(photos.PhotoError) as err:
        photos.save_upload(Upload(jpeg_of((4090, 4090))))
    assert err.value.code == "too_many_pixels"


def issues_filed() -> int:
    from governance.extensions import db

    return db.session.scalar(select(func.count()).select_from(Issue))


def test_busy_decoding_slots_answer_try_again_and_lose_nothing(world, client, auth, app, uploads, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_DECODE_WAIT", 0.2)
    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    files = [("p.jpg", jpeg_of((64, 48)), "image/jpeg")]
    data = filing_data(world, title="busy-test title")
    with photos.decoding_slot():  # another upload holds the process's only slot
        outbox = post_filing(client, data, token=token, key=key, files=files, headers={"X-Requested-With": "outbox"})
        form = post_filing(client, data, token=token, key=key, files=files)
    # The outbox gets no JSON refusal (which would park the draft as refused): a 503 it retries later.
    assert outbox.status_code == 503 and outbox.mimetype == "text/plain"
    assert int(outbox.headers["Retry-After"]) > 0 and "busy" in outbox.get_data(as_text=True)
    assert form.status_code == 503 and "busy" in form.get_data(as_text=True)
    assert "busy-test title" in form.get_data(as_text=True)  # what was typed is kept
    assert issues_filed() == 0 and not list(uploads.glob("*.jpg"))
    again = post_filing(client, data, token=token, key=key, files=files, headers={"X-Requested-With": "outbox"})
    assert again.status_code == 201 and again.get_json()["ok"] and issues_filed() == 1


def test_private_photos_are_not_kept_by_the_browser_after_logout(world, client, auth, uploads):
    """A private photo is sent `no-store` (it once was `private, max-age=86400`, so a shared phone kept it
    after logout); the same address then answers the login page."""
    from governance.extensions import db
    from governance.models import Photo

    log_in(auth, world["leader"])
    _html, token, key = open_form(client)
    post_filing(client, filing_data(world), token=token, key=key, files=[("p.jpg", jpeg_of((64, 48)), "image/jpeg")])
    photo = db.session.scalar(select(Photo))
    urls = [f"/file/photos/{photo.id}", f"/file/photos/{photo.id}/thumb"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        cache = response.headers["Cache-Control"]
        assert "no-store" in cache and "max-age" not in cache and "public" not in cache, cache
    auth.logout()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
