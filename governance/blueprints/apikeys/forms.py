"""Forms of the API-key page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ...forms import Form


def _strip(value):
    """Trimmed text (a name pasted with spaces around it is the same name)."""
    return value.strip() if isinstance(value, str) else value


class ApiKeyForm(Form):
    """A new key: who uses it, and the node whose issues it may file."""

    name = StringField(
        _l("Who will use the key"),
        validators=[DataRequired(_l("Name the app or organisation that will use the key.")), Length(max=80)],
        filters=[_strip],
        render_kw={"maxlength": 80, "autocomplete": "off"},
    )
    node_id = SelectField(_l("Area the key may file in"), coerce=int, validate_choice=True)
    submit = SubmitField(_l("Issue the key"))


class RevokeForm(Form):
    """The revoke button (a POST with a CSRF token)."""

    submit = SubmitField(_l("Revoke"))
