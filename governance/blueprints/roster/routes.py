"""Views of the roster blueprint."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...access import requires
from ...extensions import db
from ...formatting import role_label
from ...services.people import roster
from ...services.people.roster import COLUMNS, ROLE_FILE_NAME
from ...services.reports import exports
from . import bp
from .forms import ConfirmRosterForm, RosterForm

# Items of each list of the change set shown on the page (the counts are always whole).
PREVIEW_ITEMS = 200

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


def render_page(form, result=None, preview=None, confirm_form=None, change_lists=()):
    return render_template(
        "roster/upload.html",
        change_lists=change_lists,
        form=form,
        result=result,
        preview=preview,
        confirm_form=confirm_form,
        columns=COLUMNS,
        example=EXAMPLE_ROWS,
        role_columns=[(ROLE_FILE_NAME[role], role, cols) for role, cols in ROLE_COLUMNS],
        max_mb=f"{current_app.config['ROSTER_MAX_BYTES'] / (1024 * 1024):g}",
        shown=PREVIEW_ITEMS,
    )


def change_lists(changes) -> list[tuple[str, list[str]]]:
    """The longer lists of a change set as lines in the interface language, the non-empty ones only."""
    lists = [
        (
            _("Zones, groups and neighbour units (片/组/邻) to create"),
            [place for _level, place in changes.nodes_created],
        ),
        (_("People to add"), [f"{name} {mobile}" for name, mobile in changes.people_added]),
        (_("Names to correct"), [f"{mobile} · {old} → {new}" for mobile, old, new in changes.people_renamed]),
        (
            _("Roles to add"),
            [f"{name} {mobile} · {role_label(role)} · {place}" for name, mobile, role, place in changes.roles_added],
        ),
    ]
    return [(title, items) for title, items in lists if items]


def render_preview(result, staged):
    """What a good file would change, with the button that applies it."""
    confirm_form = ConfirmRosterForm(formdata=None, staged=staged.id, fingerprint=staged.fingerprint)
    return render_page(
        RosterForm(formdata=None), preview=result, confirm_form=confirm_form, change_lists=change_lists(result.changes)
    )


def stage_preview(filename: str, data: bytes, allow_new_nodes: bool):
    """Check a file without writing it; a good one waits for confirmation, a bad one shows its errors."""
    result = roster.import_roster(filename, data, actor=current_user, apply=False, allow_new_nodes=allow_new_nodes)
    db.session.rollback()  # the check wrote nothing; start the next transaction clean
    if result.errors:
        form = RosterForm(formdata=None)
        form.file.errors = [e.describe() for e in result.file_errors]
        return render_page(form, result)
    staged = roster.stage(current_user, filename, data, allow_new_nodes, result.changes)
    db.session.commit()
    return render_preview(result, staged)


@bp.route("/", methods=["GET", "POST"])
@requires("import_roster")
def upload():
    """Upload a roster file (CSV or XLSX): check every row and show what it would change; nothing is
    written until the change set is confirmed."""
    form = RosterForm()
    if not form.validate_on_submit():
        return render_page(form)
    upload = form.file.data
    limit = current_app.config["ROSTER_MAX_BYTES"]
    data = upload.read(limit + 1)  # one byte more than allowed is enough to say it is too big
    return stage_preview(upload.filename or "", data, bool(form.allow_new_nodes.data))


@bp.route("/confirm", methods=["POST"])
@requires("import_roster")
def confirm():
    """Apply a checked file, if the tree and the people are still as they were when it was checked."""
    form = ConfirmRosterForm()
    staged = roster.staged_file(current_user, form.staged.data) if form.validate_on_submit() else None
    if staged is None:
        flash(_("This check has expired or was already applied: upload the file again."), "error")
        return redirect(url_for("roster.upload"))
    filename, data, allow_new_nodes = staged.filename, staged.data, staged.allow_new_nodes
    result, applied = roster.confirm(current_user, staged, form.fingerprint.data)
    if applied:
        db.session.commit()
        flash(_("The roster has been imported."), "success")
        return render_page(RosterForm(formdata=None), result)
    db.session.rollback()
    flash(_("The tree or the people changed since this file was checked. Here is what it would change now."), "error")
    return stage_preview(filename, data, allow_new_nodes)


@bp.route("/template.csv")
@requires("import_roster")
def template():
    """An empty roster with the header and the example rows, as CSV that Excel opens (UTF-8 with BOM)."""
    return exports.table_response("roster-template", [exports.Column(title) for title in COLUMNS], EXAMPLE_ROWS, "csv")
