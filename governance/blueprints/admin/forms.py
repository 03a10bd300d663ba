"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField


class ConfirmForm(FlaskForm):
    """A button that posts with a CSRF token (disable, enable, remove, issue)."""

    submit = SubmitField(_l("Confirm"))
