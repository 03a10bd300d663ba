"""URL helpers shared by the blueprints."""

import unicodedata
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, request, url_for
from werkzeug.routing import IntegerConverter

from .parsing import DB_INT_MAX


class DatabaseIntConverter(IntegerConverter):
    """`<int:id>` that does not match past the database's integer range: a 404, never a 500.

    ASCII digits only: werkzeug's own `\\d+` also matches other scripts' digits, so /money/public/١
    served project 1 under a second address.
    """

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def safe_next(target: str | None) -> str | None:
    """A `next` redirect target only if it stays on this site (no open redirects) and is one clean line.

    A control character (CR, LF, NUL, tab…), an invisible format character or a line separator is
    refused: in a Location header a line break is a crash or a header of the attacker's choosing.
    """
    if not target:
        return None
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


# Set on `g` when public_url had to take the host from the request: the answer must not be shared.
HOST_FROM_REQUEST = "links_from_request_host"


def public_url(endpoint: str, **values) -> str:
    """The absolute address of a page for paper, phones and API clients: PUBLIC_BASE_URL + its path.

    The only builder of absolute links. Production always has PUBLIC_BASE_URL (config.py refuses to
    start without it). Development and tests may leave it unset: the request's own host is used then,
    and the request is marked (HOST_FROM_REQUEST) so that its answer is sent `no-store` and kept out of
    the public page cache — a forged Host header must never reach a page others are served.
    Outside a request (a job) without PUBLIC_BASE_URL, the path alone.
    """
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        if not has_request_context():
            return path
        setattr(g, HOST_FROM_REQUEST, True)
        base = request.host_url
    return base.rstrip("/") + path


def links_from_request_host() -> bool:
    """Whether this request's answer carries a link built from the request's Host header."""
    return has_request_context() and bool(g.get(HOST_FROM_REQUEST))


# An id no table reaches in practice and whose digits appear nowhere else in a URL: url_ids builds with it.
_ID_MARK = 2_147_000_001


def url_ids(endpoint: str, field: str, **values):
    """url_for(endpoint, field=<id>, **values) for many ids at the cost of one url_for: a list page links each
    of its rows (url_for costs ~15 µs a call, a page of 25 rows ~0.4 ms). Returns a function of the id."""
    head, mark, tail = url_for(endpoint, **{field: _ID_MARK}, **values).partition(str(_ID_MARK))
    if not mark:  # the id is not in the URL as such: fall back to url_for for every id
        return lambda value: url_for(endpoint, **{field: value}, **values)
    return lambda value: f"{head}{int(value)}{tail}"
