"""URL helpers shared by the blueprints."""

from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

# The largest id an INTEGER column holds on PostgreSQL (and what SQLite's planner should be given).
DB_INT_MAX = 2**31 - 1


class DatabaseIntConverter(IntegerConverter):
    """`<int:id>` that does not match past the database's integer range: a 404, never a 500."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def safe_next(target: str | None) -> str | None:
    """A `next` redirect target only if it stays on this site (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
