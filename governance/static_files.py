"""Static files under fingerprinted URLs, cached by browsers for a year.

Every `url_for('static', filename=…)` carries `?v=` and the first 12 hex digits of the file's SHA-256, read
once when the app is built (files change only with a deploy, which restarts the processes). A request whose
`v` is the file's current fingerprint is answered with a year-long immutable Cache-Control, so a phone on a
bad connection fetches the CSS and scripts once per release; any other request to /static (no `v`, an old
one) revalidates as before. The service worker imports its scripts without `v`, so they never go stale.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, request

YEAR = 365 * 24 * 3600


def fingerprints(folder: str) -> dict[str, str]:
    """Relative path (with forward slashes) → the first 12 hex digits of its SHA-256, for every file."""
    found = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:12]
            found[os.path.relpath(path, folder).replace(os.sep, "/")] = digest
    return found


def register(app: Flask) -> None:
    versions = fingerprints(app.static_folder)

    @app.url_defaults
    def add_fingerprint(endpoint, values):
        if endpoint == "static" and "v" not in values:
            version = versions.get(values.get("filename", ""))
            if version:
                values["v"] = version

    @app.after_request
    def cache_fingerprinted(response):
        if request.endpoint == "static" and response.status_code == 200:
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args.get("v") == versions.get(filename):
                response.cache_control.public = True
                response.cache_control.max_age = YEAR
                response.cache_control.immutable = True
        return response
