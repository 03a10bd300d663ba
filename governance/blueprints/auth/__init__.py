"""Login, logout, account activation and password change."""

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from ...navigation import CARDS, TOP_BAR, Link, declare

bp = Blueprint("auth", __name__)

declare(
    Link("auth.password", _l("Password"), (TOP_BAR,), order=90),
    # 亮身份: a 片长, 组长 or 邻长 chooses whether residents see who serves them.
    Link("auth.profile", _l("Show residents who I am"), CARDS, order=90, action="show_identity", of_role=True),
)

from . import routes  # noqa: E402,F401
