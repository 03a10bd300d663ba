"""The public pages' front door: a kept public page answered before Flask, to a visitor who sends no cookie.

A resident who scans a notice-board poster sends no cookie and asks for a page that is already kept
(services/public/page_cache.py); Flask's request machinery — the request context, the session, the login,
the access hooks, the headers — costs more than reading that page from the worker's copy. This WSGI layer,
outermost in the app, remembers each exact request (path and query string) whose answer Flask built from a
kept page for a visitor without a cookie, with the page's tags and variant and the answer's headers; the next
such request is answered with the page as `page_cache.lookup` finds it now — the same lookup, and so the same
freshness rules, as the view's — with the headers Flask sent and the page's own validators.

Everything else goes to Flask: any other method, a request with a cookie (the visitor's language and login
live in the session cookie) or with a conditional or range header (Flask answers 304 and ranges), a request
not seen before, and a page no longer kept (changed, expired, or Redis unreachable) — Flask then renders it
and it is remembered again. A view offers a page (`offer`) only where the answer depends on nothing but the
path, the query string and the kept page: `routes.cached` does, except for a page with links built from the
Host header (never kept).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, request
from werkzeug.http import http_date, quote_etag

from ...services.public import page_cache

log = logging.getLogger("governance.public_front")
OFFER = "governance.public_front.offer"  # the environ key a view leaves its kept page's (tags, variant) under
MAX_REQUESTS = 4096  # requests remembered per worker (any query string is a request of its own)
# Headers of a request Flask answers differently: it has a session, or it asks for a part or a revalidation.
PASS_TO_FLASK = (
    "HTTP_COOKIE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
)
# Headers that belong to the page (written from the entry) or to the moment (Date), not to the request.
PER_ANSWER = frozenset(("content-length", "etag", "last-modified", "date"))


@dataclass(frozen=True)
class Remembered:
    """What Flask answered a request with: the kept page it came from, and its headers besides the page's own."""

    tags: tuple[str, ...]
    variant: str
    headers: tuple[tuple[str, str], ...]


def offer(tags: str | tuple[str, ...], variant: str) -> None:
    """Called by a view answering from a kept page: this request's answer may be given again from that page
    (to a visitor without a cookie; a request with one is never answered here)."""
    if request.method == "GET" and not any(name in request.environ for name in PASS_TO_FLASK):
        request.environ[OFFER] = ((tags,) if isinstance(tags, str) else tuple(tags), variant)


class PublicFront:
    """WSGI middleware answering remembered public requests from the page cache (see the module)."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.lock = threading.Lock()
        self.requests: OrderedDict[str, Remembered] = OrderedDict()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or any(name in environ for name in PASS_TO_FLASK):
            return self.wsgi_app(environ, start_response)
        path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"
        remembered = self.requests.get(path)
        if remembered is not None:
            answer = self._answer(remembered)
            if answer is not None:
                headers, body = answer
                start_response("200 OK", headers)
                return [body]
        return self._through_flask(path, environ, start_response)

    def _answer(self, remembered: Remembered):
        """(headers, body) of the kept page as it is now, or None (not kept: Flask renders it)."""
        try:
            with self.app.app_context():
                entry, _gen = page_cache.lookup(remembered.tags, remembered.variant)
        except Exception:  # noqa: BLE001 - whatever failed here, Flask answers (and reports it there)
            log.exception("the public front could not read the page cache")
            return None
        if entry is None:
            return None
        body, validators = _wire(entry)
        return [*remembered.headers, *validators, ("Date", http_date())], body

    def _through_flask(self, path: str, environ, start_response):
        """Let Flask answer; remember the request when its view offered a kept page and Flask sent it whole."""
        sent: list = []

        def capture(status, headers, exc_info=None):
            sent.append((status, headers))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.wsgi_app(environ, capture)
        offered = environ.get(OFFER)
        if offered is not None and sent:
            status, headers = sent[-1]
            if status.startswith("200 ") and not any(name.lower() == "set-cookie" for name, _ in headers):
                kept = tuple((name, value) for name, value in headers if name.lower() not in PER_ANSWER)
                self._remember(path, Remembered(offered[0], offered[1], kept))
        return result

    def _remember(self, path: str, remembered: Remembered) -> None:
        with self.lock:
            self.requests[path] = remembered
            self.requests.move_to_end(path)
            while len(self.requests) > MAX_REQUESTS:
                self.requests.popitem(last=False)

    def forget(self) -> None:
        """Forget every remembered request (tests: the app outlives its database)."""
        with self.lock:
            self.requests.clear()


def _wire(entry: page_cache.Entry) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The entry's body as sent and its validators, as Flask's response writes them (made once per entry)."""
    wire = getattr(entry, "_wire", None)
    if wire is None:
        body = entry.body.encode()
        wire = entry._wire = (
            body,
            (
                ("Content-Length", str(len(body))),
                ("ETag", quote_etag(entry.etag)),
                ("Last-Modified", http_date(entry.last_modified)),
            ),
        )
    return wire


def install(app: Flask) -> None:
    """Put the front door before the app's WSGI stack (once per app)."""
    if "public_front" not in app.extensions:
        front = app.extensions["public_front"] = PublicFront(app, app.wsgi_app)
        app.wsgi_app = front
