"""Forms of the roster blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, HiddenField, IntegerField, SubmitField
from wtforms.validators import DataRequired, Length

from ...forms import Form

ROSTER_EXTENSIONS = ("csv", "xlsx")
ROSTER_ACCEPT = ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RosterForm(Form):
    """One roster file, CSV or XLSX."""

    file = FileField(
        _l("Roster file (CSV or XLSX)"),
        validators=[
            FileRequired(message=_l("Choose a roster file to upload.")),
            FileAllowed(ROSTER_EXTENSIONS, message=_l("Only CSV (.csv) and Excel (.xlsx) files can be imported.")),
        ],
        render_kw={"accept": ROSTER_ACCEPT},
    )
    allow_new_nodes = BooleanField(
        _l("Create zones, groups and neighbour units (片/组/邻) whose names are close to existing ones")
    )
    submit = SubmitField(_l("Check the file"))


class ConfirmRosterForm(Form):
    """Apply a checked file: which one, and the change set that was shown for it."""

    staged = IntegerField(validators=[DataRequired()])
    fingerprint = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])
    submit = SubmitField(_l("Apply these changes"))
