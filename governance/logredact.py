"""Secrets kept out of the logs of the web servers: an Open311 api_key sent in a URL is replaced by [REDACTED].

The API refuses a key in the URL, but the server has logged the request line before the app sees it. Both web
servers log through here: gunicorn (gunicorn.conf.py sets `logger_class` to RedactingGunicornLogger, for the
access log's request line, query string, path and Referer) and the development server of `python run.py`
(QuietRequestHandler, which also answers `Server: governance` instead of Werkzeug's and Python's versions).
Nothing here imports the app, so gunicorn's master can load it before any worker starts.
"""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

# The parameter in any spelling a URL may carry: api_key=, API_KEY=, api%5Fkey= (percent-encoded underscore).
SECRET_PARAMETER = re.compile(r"(?i)(api(?:_|%5f)key=)[^&\s\"']*")
REDACTED = "[REDACTED]"
SERVER_NAME = "governance"  # what the Server header says: no product version, no Python version


def redact(text: str) -> str:
    """The text with every api_key value replaced; anything else unchanged."""
    return SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text) if "=" in text else text


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover - gunicorn is in requirements.txt; only the dev server runs without it
    _GunicornLogger = object


class RedactingGunicornLogger(_GunicornLogger):
    """gunicorn's logger, whose access-log atoms (request line, query string, path, headers) carry no api_key."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler: no versions in `Server`, no api_key in the request log."""

    def version_string(self) -> str:
        return SERVER_NAME

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's signature
        super().log(type, redact(message), *(redact(a) if isinstance(a, str) else a for a in args))
