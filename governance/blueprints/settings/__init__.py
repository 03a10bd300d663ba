"""Admin settings (系统设置): SLA policy, categories, background jobs and 企业微信 group robots."""

from flask import Blueprint

bp = Blueprint("settings", __name__)

from . import routes  # noqa: E402,F401
