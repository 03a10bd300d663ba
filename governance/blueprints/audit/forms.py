"""The audit log's filter form (read from the query string, so no CSRF token: it changes nothing)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Length, ValidationError

from ...formatting import PRIORITY_LABELS, SATISFACTION_LABELS
from ...forms import Form, options
from ...services.platform.audit import ACTIONS

# Each action of services.audit.ACTIONS, as the log names it.
ACTION_LABELS = {
    "acknowledge": _l("Acknowledged"),
    "start": _l("Started work"),
    "resolve": _l("Resolved"),
    "close": _l("Closed"),
    "reopen": _l("Reopened"),
    "reject": _l("Rejected"),
    "merge": _l("Merged as a duplicate"),
    "withdraw": _l("Withdrawn"),
    "escalate": _l("Escalated"),
    "send_down": _l("Sent down"),
    "assign": _l("Assigned"),
    "accept": _l("Assignment accepted"),
    "decline": _l("Assignment declined"),
    "priority": _l("Priority set"),
    "callback": _l("Callback recorded"),
    "roster_import": _l("Roster imported"),
    "role_removed": _l("Role ended"),
    "account_disabled": _l("Account disabled"),
    "account_enabled": _l("Account enabled"),
    "activation_code_issued": _l("New activation code issued"),
    "reset_code_issued": _l("Password-reset code issued"),
    "account_activated": _l("Account activated"),
    "password_reset": _l("Password reset with a code"),
    "handover": _l("Work handed on"),
    "node_rename": _l("Place renamed"),
    "node_move": _l("Place moved"),
    "node_merge": _l("Places merged"),
    "node_split": _l("Group split"),
    "notice_sent": _l("Notice sent"),
    "survey_created": _l("Survey written"),
    "survey_edited": _l("Survey questions changed"),
    "survey_opened": _l("Survey opened for visits"),
    "survey_closed": _l("Survey closed"),
    "households_imported": _l("Households loaded"),
    "report_confirmed": _l("Resident report taken up"),
    "report_declined": _l("Resident report declined"),
    "report_source_blocked": _l("Resident reports from a source paused"),
    "report_unblocked": _l("Resident reports from a source accepted again"),
    "export": _l("Data exported"),
}
# Dates outside these years are typing mistakes, and would overflow the day arithmetic near 9999.
FIRST_YEAR, LAST_YEAR = 2000, 2999
DATE_RE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
MOBILE_NOISE_RE = re.compile(r"[\s\-()]")


def action_label(action: str) -> str:
    """An action in words (an unknown code as itself)."""
    return str(ACTION_LABELS.get(action, action))


# Changes to the people and the tree: their detail is the record as written at the time, in Chinese (who,
# what before and after, the paths of the places): shown as it is, marked as Chinese for an English page.
RECORDED_IN_CHINESE = {
    "export",
    "report_confirmed",
    "report_declined",
    "report_source_blocked",
    "report_unblocked",
    "households_imported",
    "survey_edited",
    "roster_import",
    "role_removed",
    "account_disabled",
    "account_enabled",
    "handover",
    "node_rename",
    "node_move",
    "node_merge",
    "node_split",
}
# Details that are codes of a vocabulary: shown by their label in the reader's language.
CODED_DETAILS = {"callback": SATISFACTION_LABELS, "priority": PRIORITY_LABELS}


def detail_text(action: str, detail: str) -> str:
    """An entry's detail as the reader reads it: a coded answer (a callback's satisfaction, a priority) by
    its label; anything else as recorded."""
    labels = CODED_DETAILS.get(action)
    return str(labels[detail]) if labels and detail in labels else detail


def _clean(value):
    """Trimmed, with full-width digits and letters (输入法全角) folded to their ASCII forms."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).strip()


class DayField(StringField):
    """A Beijing calendar day typed as YYYY-MM-DD (also 2026/3/5 or 2026年3月5日); `day` holds it once valid."""

    def __init__(self, label=None, validators=None, **kwargs):
        render_kw = {"type": "date", "autocomplete": "off", "maxlength": 12}
        super().__init__(label, validators, filters=[_clean], render_kw=render_kw, **kwargs)
        self.day: date | None = None

    def pre_validate(self, form):
        self.day = None
        text = self.data or ""
        if not text:
            return
        match = DATE_RE.fullmatch(text)
        try:
            day = date(*(int(part) for part in match.groups())) if match else None
        except ValueError:
            day = None
        if day is None:
            raise ValidationError(_l("Not a date. Use the form 2026-03-05."))
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValidationError(_l("Choose a date between %(first)s and %(last)s.", first=FIRST_YEAR, last=LAST_YEAR))
        self.day = day


class AuditFilterForm(Form):
    """Who (mobile number or part of a name), which action, which Beijing days."""

    class Meta:
        csrf = False

    person = StringField(
        _l("Person"),
        validators=[Length(max=40, message=_l("At most %(max)d characters."))],
        filters=[_clean],
        render_kw={"maxlength": 40, "autocomplete": "off", "placeholder": _l("Mobile number or name")},
    )
    action = SelectField(_l("Action"), validate_choice=True)
    date_from = DayField(_l("From"))
    date_to = DayField(_l("To"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.choices = options(((code, ACTION_LABELS[code]) for code in ACTIONS), blank=_l("Any action"))

    def validate_person(self, field):
        if field.data and not field.data.isprintable():
            raise ValidationError(_l("Remove the special characters."))

    def validate_date_to(self, field):
        if field.day and self.date_from.day and field.day < self.date_from.day:
            raise ValidationError(_l("The last day cannot be before the first day."))

    def person_filter(self) -> tuple[str, str] | None:
        """('mobile', digits) or ('name', fragment) for the person typed, once valid; None when empty."""
        text = self.person.data or ""
        if not text or self.person.errors:
            return None
        digits = MOBILE_NOISE_RE.sub("", text)
        if digits.startswith("+86"):
            digits = digits[3:]
        if digits.isascii() and digits.isdigit():
            return "mobile", digits
        return "name", text
