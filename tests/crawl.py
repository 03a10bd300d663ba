"""Walk the site as a person does: log in, start at home and follow the links on each page.

Shared by the language crawl (tests/test_language_crawl.py) and the phone pass
(tests/browser/test_phone_pass.py): one definition of which links are followed and how many addresses of
one view are enough.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

# Not followed: downloads, actions and the language switch itself.
SKIP = re.compile(
    r"^/(static|lang|auth/logout|sw\.js|healthz|open311|exports/|money/\d+/(export|receipt))|\.(csv|xlsx)\b|/photos?/"
)


def links(html: str) -> list[str]:
    """The same-site addresses a page links to, minus those in SKIP, in page order."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for anchor in soup.find_all("a", href=True):
        parts = urlsplit(anchor["href"])
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not SKIP.search(path):
            found.append(path)
    return found


def view_of(path: str) -> str:
    """The view an address opens: its path with ids replaced (one budget per view)."""
    return re.sub(r"/[^/]*\d[^/]*", "/N", urlsplit(path).path)


def walk(client, start: tuple[str, ...] = ("/",), per_view: int = 3, limit: int = 120) -> Iterator[tuple[str, str]]:
    """(address, html) of each page reached from the start pages, breadth first, at most `per_view` addresses
    of one view (a list's pages and filters add nothing new after a few) and `limit` pages in all."""
    seen, counted = set(), defaultdict(int)
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or counted[view_of(path)] >= per_view:
            continue
        seen.add(path)
        counted[view_of(path)] += 1
        response = client.get(path, follow_redirects=True)  # /reports/ opens the person's own area, …
        if response.status_code != 200 or "text/html" not in response.headers.get("Content-Type", ""):
            continue
        html = response.get_data(as_text=True)
        yield path, html
        queue.extend(link for link in links(html) if link not in seen)
