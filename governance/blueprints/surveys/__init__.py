"""Door-to-door surveys (走访问卷): the branch writes a questionnaire for the households of an area, the 三长
record their visits door by door (also offline), and everyone sees the progress and results of their area."""

from flask import Blueprint, url_for
from flask_babel import lazy_gettext as _l

from ...formatting import beijing_today
from ...navigation import CARDS, Link, Todo, declare, declare_todos
from ...services.outreach import surveys

bp = Blueprint("surveys", __name__)

declare(Link("surveys.index", _l("Door-to-door surveys"), CARDS, order=47, action="view_surveys", of_role=True))


def _due(person, role, now):
    """The households of the 邻长's 邻 where nobody was in and the day to knock again has come."""
    statement = surveys.due_ids(role.node_id, beijing_today(now))
    return statement, url_for("surveys.due", node=role.node_id)


declare_todos(Todo(_l("Households to visit again"), 60, ("neighbour_leader",), _due))

from . import routes  # noqa: E402,F401
