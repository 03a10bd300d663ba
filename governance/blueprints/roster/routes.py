"""Views of the roster blueprint."""

from flask import render_template

from ...access import requires
from . import bp


@bp.route("/", methods=["GET", "POST"])
@requires("import_roster")
def upload():
    """Upload a roster file (CSV or XLSX)."""
    return render_template("roster/upload.html")
