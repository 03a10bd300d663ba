"""Open311 GeoReport v2 (/open311/v2/): public service requests in XML and JSON, filing with an API key."""

from flask import Blueprint

bp = Blueprint("open311", __name__)

from . import routes  # noqa: E402,F401
