"""Views of the roster blueprint."""

from flask import current_app, flash, render_template
from flask_babel import gettext as _
from flask_login import current_user

from ...access import requires
from ...extensions import db
from ...services.people.roster import COLUMNS, ROLE_FILE_NAME, import_roster
from ...services.reports import exports
from . import bp
from .forms import RosterForm

# The example on the page and in the downloadable template (made-up names and numbers).
EXAMPLE_ROWS = (
    ("示例街道", "示例社区", "第一片", "第一组", "第一邻", "邻长", "张小明", "13800000001"),
    ("示例街道", "示例社区", "第一片", "第一组", "", "组长", "李小红", "13800000002"),
    ("示例街道", "示例社区", "第一片", "", "", "片长", "王大力", "13800000003"),
    ("示例街道", "示例社区", "", "", "", "社区党组织", "赵文华", "13800000004"),
)
# Which columns each role fills in, in the file's own words.
ROLE_COLUMNS = (
    ("neighbour_leader", "街镇、社区、片、组、邻"),
    ("group_leader", "街镇、社区、片、组"),
    ("zone_leader", "街镇、社区、片"),
    ("branch_member", "街镇、社区"),
    ("street_admin", "街镇"),
    ("district_admin", "—"),
)


def render_page(form, result=None):
    return render_template(
        "roster/upload.html",
        form=form,
        result=result,
        columns=COLUMNS,
        example=EXAMPLE_ROWS,
        role_columns=[(ROLE_FILE_NAME[role], role, cols) for role, cols in ROLE_COLUMNS],
        max_mb=f"{current_app.config['ROSTER_MAX_BYTES'] / (1024 * 1024):g}",
    )


@bp.route("/", methods=["GET", "POST"])
@requires("import_roster")
def upload():
    """Upload a roster file (CSV or XLSX): check every row, and import it only if all are good."""
    form = RosterForm()
    if not form.validate_on_submit():
        return render_page(form)
    upload = form.file.data
    limit = current_app.config["ROSTER_MAX_BYTES"]
    data = upload.read(limit + 1)  # one byte more than allowed is enough to say it is too big
    result = import_roster(upload.filename or "", data, actor=current_user)
    if result.errors:
        db.session.rollback()
        form.file.errors = [e.describe() for e in result.file_errors]
        return render_page(form, result)
    db.session.commit()
    flash(_("The roster has been imported."), "success")
    return render_page(RosterForm(formdata=None), result)


@bp.route("/template.csv")
@requires("import_roster")
def template():
    """An empty roster with the header and the example rows, as CSV that Excel opens (UTF-8 with BOM)."""
    return exports.table_response("roster-template", [exports.Column(title) for title in COLUMNS], EXAMPLE_ROWS, "csv")
