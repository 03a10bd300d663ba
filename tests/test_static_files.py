"""Static files: fingerprinted links, cached for a year under the current fingerprint only."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "governance" / "static"
LINK = re.compile(r'href="(/static/css/app\.css\?v=([0-9a-f]+))"')


def test_pages_link_static_files_by_their_content_and_browsers_keep_them(client):
    page = client.get("/auth/login").get_data(as_text=True)
    url, version = LINK.search(page).groups()
    assert version == hashlib.sha256((STATIC / "css/app.css").read_bytes()).hexdigest()[:12]
    response = client.get(url)
    assert response.status_code == 200
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.immutable and response.cache_control.public


def test_a_link_without_the_current_fingerprint_is_revalidated(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200
        assert not response.cache_control.immutable and response.cache_control.max_age is None, url
