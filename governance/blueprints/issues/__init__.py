"""Issues: the scoped list for each role, the issue page with its timeline, and its actions."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, Link, declare

bp = Blueprint("issues", __name__)

# A card lists the issues of its role's node; a responsible party's card, those assigned to the party.
declare(
    Link(
        "issues.index",
        _l("Issues"),
        CARDS,
        order=30,
        url=lambda role: url_for("issues.index", node=role.node_id) if role.node_id else url_for("issues.index"),
    )
)

from . import routes  # noqa: E402,F401
