"""Forms of the inbox blueprint."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SubmitField

from ...forms import Form


class ReadForm(Form):
    """Mark read: one notification when `id` is set, otherwise all of them."""

    id = HiddenField()
    submit = SubmitField(_l("Mark read"))
