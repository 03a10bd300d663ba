"""Forms of the inbox blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField


class ReadForm(FlaskForm):
    """Mark read: one notification when `id` is set, otherwise all of them."""

    id = HiddenField()
    submit = SubmitField(_l("Mark read"))
