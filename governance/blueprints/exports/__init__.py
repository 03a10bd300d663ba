"""Exports: the issue list as CSV or Excel, and each person's background exports (我的导出)."""

from flask import Blueprint

bp = Blueprint("exports", __name__)

from . import issues, routes  # noqa: E402,F401
