"""Triage (分拨): the community branch's console and the responsible parties' queue."""

from flask import Blueprint

bp = Blueprint("triage", __name__)

from . import routes  # noqa: E402,F401
