"""Public progress (公开进度): pages anyone may read without logging in, the notice-board poster, resident ratings."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import front, reporting, routes  # noqa: E402,F401

bp.record_once(lambda state: front.install(state.app))
