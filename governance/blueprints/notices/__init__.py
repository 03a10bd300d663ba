"""Notices down the tree (上传下达): send a notice to the leaders under a node, read and answer one, and see
who has read and answered it, per place."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, Link, Todo, declare, declare_todos
from ...services.outreach import notices

bp = Blueprint("notices", __name__)

# One link on every leader's and admin's card: the notices sent to them, and (for those who send) those sent in
# their area with the button to send one.
declare(Link("notices.index", _l("Notices"), CARDS, order=45, action="receive_notices", of_role=True))


def _waiting(person, role, now):
    """The notices still waiting for this card's leader (not opened, or not answered when a reply is asked)."""
    return notices.waiting_ids(person.id, role.role, role.node_id), url_for("notices.index", waiting=1)


declare_todos(
    Todo(_l("Notices to read or answer"), 50, notices.NOTICE_ROLES, _waiting, pressing=True),
)

from . import routes  # noqa: E402,F401
