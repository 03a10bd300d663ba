"""Door-to-door surveys (走访问卷): the branch writes a questionnaire for the households of an area, the 三长
record their visits door by door (also offline), and everyone sees the progress and results of their area."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, Link, declare

bp = Blueprint("surveys", __name__)

declare(Link("surveys.index", _l("Door-to-door surveys"), CARDS, order=47, action="view_surveys", of_role=True))

from . import routes  # noqa: E402,F401
