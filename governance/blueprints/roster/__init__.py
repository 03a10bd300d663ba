"""Roster import (名册导入) through an upload page."""

from flask import Blueprint

bp = Blueprint("roster", __name__)

from . import routes  # noqa: E402,F401
