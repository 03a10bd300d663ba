"""Public progress (公开进度): pages anyone may read without logging in, the notice-board poster, resident ratings."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import reporting, routes  # noqa: E402,F401
