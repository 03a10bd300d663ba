"""Issues: the scoped list for each role, the issue page with its timeline, and its actions."""

from flask import Blueprint

bp = Blueprint("issues", __name__)

from . import routes  # noqa: E402,F401
