"""The in-app inbox (站内通知): each person's notifications, and the unread badge in the top bar."""

from flask import Blueprint

bp = Blueprint("inbox", __name__)

from . import routes  # noqa: E402,F401
