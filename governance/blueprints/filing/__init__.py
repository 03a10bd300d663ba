"""Filing an issue from a phone (登记问题): the form, possible duplicates, and the issue's photos."""

from flask import Blueprint

bp = Blueprint("filing", __name__)

from . import routes  # noqa: E402,F401
