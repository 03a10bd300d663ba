"""Who is asking: the client's address, aware of the proxies we were told to trust.

Behind the TLS proxy the README recommends, `REMOTE_ADDR` is the proxy's address for every client. With
TRUSTED_PROXIES = n (> 0), werkzeug's ProxyFix takes the client's address (and scheme) from the last n
entries of X-Forwarded-For / X-Forwarded-Proto; with 0 (the default) those headers are ignored, since
anyone can send them. Login throttling and the Open311 per-address limit both read `client_address()`.
"""

from __future__ import annotations

from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedProxies:
    """WSGI middleware: ProxyFix for the configured number of proxies, read from the app's config on every
    request (so a test or a config change needs no new app)."""

    def __init__(self, app):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self._fixed: dict[int, ProxyFix] = {}

    def __call__(self, environ, start_response):
        trusted = int(self.app.config.get("TRUSTED_PROXIES") or 0)
        if trusted <= 0:
            return self.wsgi_app(environ, start_response)
        if trusted not in self._fixed:
            self._fixed[trusted] = ProxyFix(self.wsgi_app, x_for=trusted, x_proto=trusted)
        return self._fixed[trusted](environ, start_response)


def client_address() -> str:
    """The requesting client's address (the proxy-aware `remote_addr`)."""
    return request.remote_addr or "unknown"
