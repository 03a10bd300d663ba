"""URL helpers shared by the blueprints."""

import unicodedata
from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

from .parsing import DB_INT_MAX


class DatabaseIntConverter(IntegerConverter):
    """`<int:id>` that does not match past the database's integer range: a 404, never a 500."""

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
