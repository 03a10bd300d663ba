"""Forms of the roster blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SubmitField

ROSTER_EXTENSIONS = ("csv", "xlsx")
ROSTER_ACCEPT = ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RosterForm(FlaskForm):
    """One roster file, CSV or XLSX."""

    file = FileField(
        _l("Roster file (CSV or XLSX)"),
        validators=[
            FileRequired(message=_l("Choose a roster file to upload.")),
            FileAllowed(ROSTER_EXTENSIONS, message=_l("Only CSV (.csv) and Excel (.xlsx) files can be imported.")),
        ],
        render_kw={"accept": ROSTER_ACCEPT},
    )
    submit = SubmitField(_l("Check and import"))
