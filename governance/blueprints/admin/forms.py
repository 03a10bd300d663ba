"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from wtforms import SubmitField

from ...forms import Form


class ConfirmForm(Form):
    """A button that posts with a CSRF token (disable, enable, remove, issue)."""

    submit = SubmitField(_l("Confirm"))
