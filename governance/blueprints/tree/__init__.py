"""Browsing the district tree within one's scope."""

from flask import Blueprint

bp = Blueprint("tree", __name__)

from . import routes  # noqa: E402,F401
