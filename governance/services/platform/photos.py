"""Issue photos (问题照片): checked by content, re-encoded, stripped of metadata, thumbnailed later.

An upload is trusted for nothing: neither its file name nor the content type the phone sent. Pillow
must recognise the bytes as a raster image of an allowed format, within the byte and pixel limits;
the pixel limits are read from the header, before anything is decoded, so that a few KB of PNG
declaring 7000×7000 costs nothing. A JPEG is decoded at a reduced scale (draft mode); any other
format is decoded at full size, so it may hold at most PHOTO_MAX_DECODED_PIXELS (12 MP: a phone
photo sent raw). Decoding is bounded per process too: at most PHOTO_DECODE_SLOTS uploads decode at
once, and an upload that waits PHOTO_DECODE_WAIT seconds for a slot is answered "busy, try again"
(PhotoError "busy"), so one person's photos cannot take every thread's memory and time. The picture
is then turned upright (EXIF orientation), converted to RGB and written afresh as a
JPEG with no EXIF, GPS or ICC data, under a random name the server picks. Thumbnails are made by a
background job deferred in the same transaction as the photo row. Nothing here commits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from io import BytesIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from ... import policy
from ...extensions import db
from ...models import Issue, IssueEvent, Person, Photo
from ..errors import ServiceError
from . import jobs

log = logging.getLogger("governance.photos")
# Raster formats phones and browsers send; SVG, PDF and anything else Pillow cannot decode are refused.
ALLOWED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"}
JPEG_QUALITY = 85
THUMB_QUALITY = 80
STAGES = ("before", "after")


class PhotoError(ServiceError):
    """An upload that cannot be stored; `code` selects the message shown to the user. `n` and `name` say which
    photo (the n-th, and its file name)."""

    MESSAGES = {
        "empty": _l("Photo %(n)s (%(name)s) is empty."),
        "too_large": _l("Photo %(n)s (%(name)s) is larger than %(limit_mb)s MB. Please choose a smaller one."),
        "too_many_pixels": _l(
            "Photo %(n)s (%(name)s) has too many pixels (more than %(megapixels)s million). Please choose a smaller one."  # noqa: E501
        ),
        "busy": _l("The server is busy with other photos right now. Nothing was saved: please send again in a minute."),
    }
    FALLBACK = _l("Photo %(n)s (%(name)s) is not a picture we can read. Please choose a JPEG, PNG or WebP photo.")
    # Every decoding slot taken: try again shortly (503); anything else about the photo itself (413).
    STATUS = {"busy": 503}
    DEFAULT_STATUS = 413

    @property
    def message(self) -> str:
        if self.code == "busy":
            return super().message
        # The others name the photo, also when the service could not say which it was.
        return str(self.MESSAGES.get(self.code, self.FALLBACK)) % {"n": "", "name": "", **self.params}


@dataclass
class StoredPhoto:
    """A re-encoded photo on disk, not yet attached to an issue."""

    stored_name: str
    width: int
    height: int
    size_bytes: int


def upload_dir() -> str:
    """Where photos live (created on first use)."""
    path = current_app.config["UPLOAD_DIR"]
    os.makedirs(path, exist_ok=True)
    return path


def path_of(name: str) -> str:
    """The file of a stored name (names are ours: hex + suffix, never a path from the client)."""
    if not name or os.path.basename(name) != name:
        raise ValueError("bad stored name")
    return os.path.join(upload_dir(), name)


def send_stored_image(name: str):
    """A private response with a stored JPEG (the caller has checked who may see it); 404 when it is gone."""
    from flask import abort, send_file

    path = path_of(name)
    if not os.path.exists(path):
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=None)
    # Never kept by the browser: a photo of a private issue must not outlive the session in a shared phone's cache
    # (after logout the same address answers with the login page). Callers serving public photos override it.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = "inline"
    return response


def thumb_name_for(stored_name: str) -> str:
    """The thumbnail's name beside its photo."""
    return stored_name.rsplit(".", 1)[0] + "-t.jpg"


def _read_limited(file_storage, limit: int) -> bytes:
    """The upload's bytes, refusing to read more than `limit`."""
    stream = file_storage.stream
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PhotoError("too_large", limit_mb=limit // (1024 * 1024))
    return data


def _open_checked(data: bytes, max_pixels: int, max_decoded: int, max_side: int) -> Image.Image:
    """Decode the bytes as an allowed raster image within the pixel limits, or raise PhotoError.

    Both limits are checked on the header's declared size before a single pixel is decoded: the declared
    size against `max_pixels`, and the size that would be decoded (a JPEG's after draft mode) against
    `max_decoded`.
    """
    if not data:
        raise PhotoError("empty")
    try:
        image = Image.open(BytesIO(data))  # reads the header only: nothing is decoded yet
        if image.format not in ALLOWED_FORMATS:
            raise PhotoError("not_an_image")
        width, height = image.size
        if width < 1 or height < 1:
            raise PhotoError("not_an_image")
        # A few KB of PNG can claim hundreds of megapixels (a decompression bomb): refuse before decoding.
        if width * height > max_pixels:
            raise PhotoError("too_many_pixels", megapixels=max_pixels // 1_000_000)
        if image.format in ("JPEG", "MPO"):
            # Decode at the smallest scale (1/2, 1/4, 1/8) that still leaves the long side at max_side or more.
            scale = next((s for s in (8, 4, 2) if max(width, height) // s >= max_side), 1)
            image.draft("RGB", (max(width // scale, 1), max(height // scale, 1)))
        if image.width * image.height > max_decoded:  # what would be decoded at full size
            raise PhotoError("too_many_pixels", megapixels=max_decoded // 1_000_000)
        image.load()
    except PhotoError:
        raise
    except Image.DecompressionBombError as err:  # past twice Pillow's own limit, open() itself refuses
        raise PhotoError("too_many_pixels", megapixels=max_pixels // 1_000_000) from err
    except UnidentifiedImageError as err:
        raise PhotoError("not_an_image") from err
    except Exception as err:  # noqa: BLE001 - any other decoder failure also means "not a photo we can use"
        raise PhotoError("not_an_image") from err
    return image


def _clean_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """Upright, RGB, at most `max_side` px, and a fresh image object that carries no metadata at all.

    The picture is scaled down first, so every later copy (alpha flattened, RGB, the clean image) holds
    at most max_side² pixels whatever size was decoded.
    """
    image = ImageOps.exif_transpose(image)  # EXIF orientation first: the tag itself is dropped below
    if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, CMYK, 16-bit: a palette would scale coarsely
        alpha = image.mode == "PA" or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    return clean


def _write_jpeg(image: Image.Image, name: str, quality: int) -> int:
    """Write atomically (a reader never sees half a file); returns the size in bytes."""
    target = path_of(name)
    partial = target + ".part"
    image.save(partial, "JPEG", quality=quality, optimize=True, progressive=True)
    os.replace(partial, target)
    return os.path.getsize(target)


# Per process: the decoding slots, made on first use for the configured number (threads share them).
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_guard = threading.Lock()


@contextlib.contextmanager
def decoding_slot():
    """Hold one of the process's PHOTO_DECODE_SLOTS while photos are decoded; PhotoError("busy") after
    PHOTO_DECODE_WAIT seconds without one (nothing was stored: the sender tries again later)."""
    config = current_app.config
    size = max(int(config["PHOTO_DECODE_SLOTS"]), 1)
    with _slots_guard:
        slots = _slots.setdefault(size, threading.BoundedSemaphore(size))
    if not slots.acquire(timeout=float(config["PHOTO_DECODE_WAIT"])):
        log.warning("photo upload refused: every decoding slot is busy")
        raise PhotoError("busy", retry_after=RETRY_AFTER)
    try:
        yield
    finally:
        slots.release()


RETRY_AFTER = 30  # seconds a busy answer asks the sender to wait


def _store(file_storage) -> StoredPhoto:
    """Check one uploaded file by its content and store it re-encoded (the caller holds a decoding slot)."""
    config = current_app.config
    data = _read_limited(file_storage, config["PHOTO_MAX_BYTES"])
    image = _open_checked(
        data, config["PHOTO_MAX_PIXELS"], config["PHOTO_MAX_DECODED_PIXELS"], config["PHOTO_MAX_SIDE"]
    )
    try:
        clean = _clean_rgb(image, config["PHOTO_MAX_SIDE"])
    except Exception as err:  # noqa: BLE001 - a truncated or odd file can fail late in decoding
        raise PhotoError("not_an_image") from err
    finally:
        image.close()
    del image, data
    name = uuid.uuid4().hex + ".jpg"
    size = _write_jpeg(clean, name, JPEG_QUALITY)
    return StoredPhoto(stored_name=name, width=clean.width, height=clean.height, size_bytes=size)


def save_upload(file_storage) -> StoredPhoto:
    """Check one uploaded file by its content and store it re-encoded; raises PhotoError."""
    with decoding_slot():
        return _store(file_storage)


def discard(stored: StoredPhoto) -> None:
    """Delete a stored file that will not be attached after all (the request failed or was a retry)."""
    with contextlib.suppress(OSError):
        os.remove(path_of(stored.stored_name))


def attach(
    issue: Issue, stored: StoredPhoto, stage: str, uploader: Person | None, event: IssueEvent | None = None
) -> Photo:
    """Record a stored photo on an issue (private by default) and defer its thumbnail; flushes."""
    if stage not in STAGES:
        raise ValueError(f"unknown photo stage {stage!r}")
    photo = Photo(
        issue=issue,
        event_id=event.id if event is not None else None,
        stage=stage,
        stored_name=stored.stored_name,
        width=stored.width,
        height=stored.height,
        size_bytes=stored.size_bytes,
        public=False,
        uploaded_by_id=uploader.id if uploader is not None else None,
    )
    db.session.add(photo)
    db.session.flush()
    jobs.defer("thumbnail", {"photo_id": photo.id}, dedupe_key=f"thumbnail:photo:{photo.id}")
    return photo


@jobs.handler("thumbnail")
def make_thumbnail(payload: dict) -> None:
    """A small JPEG for lists and timelines; running it twice changes nothing."""
    photo = db.session.get(Photo, int(payload["photo_id"]))
    if photo is None:
        log.warning("thumbnail: photo %s is gone", payload.get("photo_id"))
        return
    name = thumb_name_for(photo.stored_name)
    if photo.thumb_name == name and os.path.exists(path_of(name)):
        return
    side = current_app.config["PHOTO_THUMB_SIDE"]
    with Image.open(path_of(photo.stored_name)) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at a reduced scale: fast even for big photos
        thumb = image.convert("RGB")
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    _write_jpeg(thumb, name, THUMB_QUALITY)
    photo.thumb_name = name


def save_uploads(files) -> list[StoredPhoto]:
    """Check and store every photo, or none of them (PhotoError carries the photo's number and name)."""
    stored: list[StoredPhoto] = []
    if not files:
        return stored
    try:
        # One slot for the whole batch: a second filing waits (or is told to try again) instead of
        # interleaving with this one and holding its thread as long.
        with decoding_slot():
            for n, upload in enumerate(files, start=1):
                try:
                    stored.append(_store(upload))
                except PhotoError as err:
                    err.params.update(n=n, name=(upload.filename or "")[:60])
                    raise
    except Exception:
        for item in stored:
            discard(item)
        raise
    return stored


def set_public(actor: Person, photo: Photo, public: bool) -> None:
    """Staff show a photo on the public page (or take it off); the timeline keeps an internal note of it."""
    from ..issues.lifecycle import LifecycleError, add_event

    if not policy.allowed(actor, "triage_issue", photo.issue):
        policy.log_denial(actor, "photo_public", photo)
        raise LifecycleError("forbidden")
    if photo.public == public:
        return
    photo.public = public
    note = f"照片 {photo.id} 已设为公开" if public else f"照片 {photo.id} 已取消公开"
    add_event(photo.issue, actor, "photo", note, public=False)
    db.session.flush()
