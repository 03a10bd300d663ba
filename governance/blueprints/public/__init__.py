"""Public progress (公开进度): pages anyone may read without logging in, the notice-board poster, resident ratings."""

from flask import Blueprint

bp = Blueprint("public", __name__)


@bp.record_once
def _hook_cache(state):
    """Changes to issues refresh the cached public pages (the hook lives with the cache)."""
    from ...services.public import page_cache

    page_cache.register_hooks(state.app)


from . import routes  # noqa: E402,F401
