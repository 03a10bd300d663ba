"""Roster import (名册导入) through an upload page."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("roster", __name__)

declare(Link("roster.upload", _l("Import a roster"), (NODE_CARD,), order=80, action="import_roster", of_role=True))

from . import routes  # noqa: E402,F401
