"""Forms of the residents' reports blueprint; the service checks every choice and says what is wrong."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from ...formatting import RESIDENT_DECLINE_LABELS, URGENCY_LABELS
from ...forms import Form, options
from ...services.issues.lifecycle import MAX_TITLE


class ConfirmForm(Form):
    """The issue a report becomes, prefilled from the report."""

    category = SelectField(_l("Category"), validate_choice=False)
    title = StringField(_l("Title"), render_kw={"maxlength": MAX_TITLE, "autocomplete": "off"})
    description = TextAreaField(_l("Description"), render_kw={"rows": 5})
    urgency = RadioField(
        _l("Urgency"), choices=options(URGENCY_LABELS.items()), default="normal", validate_choice=False
    )
    idempotency_key = HiddenField()


class DeclineForm(Form):
    """Why the report is not taken up (the resident sees the reason)."""

    reason = RadioField(_l("Reason"), choices=options(RESIDENT_DECLINE_LABELS.items()), validate_choice=False)


class SourceForm(Form):
    """Block or unblock the report's source: the button only."""
