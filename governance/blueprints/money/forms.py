"""Forms of the money blueprint: one for an entry (pledge, receipt, expenditure), one for a reversal."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ...forms import Form
from ...parsing import parse_id


def _clean(value):
    """Trimmed, with full-width digits (输入法全角) folded to ASCII."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).strip()


class EntryForm(Form):
    """Record a pledge, a receipt or an expenditure. Amounts are text, parsed exactly by the service."""

    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("pledge", _l("Pledge")),
            SelectChoice("receipt", _l("Receipt")),
            SelectChoice("expenditure", _l("Expenditure")),
        ],
    )
    amount = StringField(
        _l("Amount (yuan)"),
        filters=[_clean],
        render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "1,600.00"},
    )
    source_id = SelectField(_l("Source"), coerce=parse_id, validate_choice=False)
    phase_id = SelectField(_l("Phase"), coerce=parse_id, validate_choice=False)
    occurred_on = DateField(_l("Date"), validators=[Optional()])
    donor_name = StringField(_l("Donor (resident donations)"), filters=[_clean], validators=[Length(max=40)])
    donor_named = BooleanField(_l("The donor agrees to be shown by initial"))
    payee = StringField(_l("Paid to"), filters=[_clean], validators=[Length(max=120)])
    purpose = StringField(_l("Purpose or note"), filters=[_clean], validators=[Length(max=300)])
    issue_refs = StringField(
        _l("Issues paid for"),
        filters=[_clean],
        validators=[Length(max=500)],
        render_kw={"placeholder": "WC-2026-000123"},
    )
    override_reason = TextAreaField(
        _l("Override reason (administrators)"), filters=[_clean], validators=[Length(max=300)]
    )
    # Checked by content by the photo service, never by its name or declared type.
    receipt_scan = FileField(_l("Scanned receipt or invoice (optional)"), render_kw={"accept": "image/*"})
    idempotency_key = HiddenField()


class ReverseForm(Form):
    """Reverse one entry, with a reason."""

    entry_id = HiddenField()
    reason = StringField(_l("Reason"), filters=[_clean], validators=[Length(max=300)])
    override_reason = StringField(
        _l("Override reason (administrators)"), filters=[_clean], validators=[Length(max=300)]
    )
    idempotency_key = HiddenField()


class IssuePhaseForm(Form):
    """Link an issue of the project's community to one of its phases (no phase: unlink it)."""

    issue_ref = StringField(
        _l("Issue"),
        filters=[_clean],
        validators=[DataRequired(), Length(max=40)],
        render_kw={"placeholder": "WC-2026-000123", "autocomplete": "off"},
    )
    phase_id = SelectField(_l("Phase"), coerce=parse_id, validate_choice=False)
