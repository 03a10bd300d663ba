"""Browsing the district tree within one's scope."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("tree", __name__)

# Every card of a role on the tree opens that role's node.
declare(
    Link(
        "tree.node",
        _l("My area"),
        (NODE_CARD,),
        order=10,
        url=lambda role: url_for("tree.node", node_id=role.node_id),
    )
)

from . import edits, routes  # noqa: E402,F401
