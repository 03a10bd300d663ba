"""Login, logout, account activation and password change."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import TOP_BAR, Link, declare

bp = Blueprint("auth", __name__)

declare(Link("auth.password", _l("Password"), (TOP_BAR,), order=90))

from . import routes  # noqa: E402,F401
