"""The audit log (操作日志): who did what to which issue, filtered by person, action and date."""

from flask import Blueprint

bp = Blueprint("audit", __name__)

from . import routes  # noqa: E402,F401
