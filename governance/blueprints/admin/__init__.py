"""People management: accounts, roles and activation codes."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import NODE_CARD, Link, declare

bp = Blueprint("admin", __name__)

declare(
    # On any card whose node the person may print codes for (a 邻长's card too, when the person also sits on
    # the branch above).
    Link(
        "admin.codes",
        _l("Activation codes"),
        (NODE_CARD,),
        order=60,
        action="issue_codes",
        target=lambda role: role.node,
        url=lambda role: url_for("admin.codes", node_id=role.node_id),
    ),
    Link("admin.people_list", _l("People"), (NODE_CARD,), order=70, action="manage_people", of_role=True),
)

from . import routes  # noqa: E402,F401
