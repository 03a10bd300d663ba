"""Forms of the triage console: the bulk action bar and the party's bulk accept.

The selected issues come as repeated `item` values ("id:version"); the forms carry the action's
parameters only. The triage service decides what is allowed, so its refusals are the messages shown.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice

from ...forms import Form
from ...parsing import DB_INT_MAX, parse_id, parse_number
from ...services.issues.lifecycle import MAX_NOTE

# The console's bulk actions, in the order of the select ('accept' belongs to the party's queue).
ACTION_CHOICES = [
    SelectChoice("", _l("Choose an action…")),
    SelectChoice("acknowledge", _l("Acknowledge")),
    SelectChoice("assign", _l("Assign to a responsible party (派单)")),
    SelectChoice("priority", _l("Set priority")),
    SelectChoice("reject", _l("Reject with a reason")),
    SelectChoice("merge", _l("Merge as duplicates of one issue")),
    SelectChoice("send_down", _l("Send down to a lower level")),
    SelectChoice("escalate", _l("Escalate to the street (街镇)")),
]


def parse_items(values: list[str]) -> tuple[list[tuple[int, int | None]], list[str]]:
    """The selected "id:version" values as (id, version) pairs, and the values that were not readable."""
    items, junk, seen = [], [], set()
    for raw in values:
        issue_id, _, version = str(raw).partition(":")
        number = parse_id(issue_id)
        expected = parse_number(version, 0, DB_INT_MAX) if version else None
        if number is None or (version and expected is None):
            junk.append(str(raw)[:24])
            continue
        if number in seen:
            continue  # a row ticked twice counts once
        seen.add(number)
        items.append((number, expected))
    return items, junk


class BulkForm(Form):
    """One action over the selected issues, with the fields each action needs."""

    action = SelectField(_l("Action"), choices=ACTION_CHOICES, validate_choice=False)
    organisation = SelectField(_l("Responsible party"), choices=[], validate_choice=False)
    due_on = StringField(_l("To be resolved by"), render_kw={"type": "date"})
    priority = SelectField(_l("Priority"), choices=[], validate_choice=False)
    reason = SelectField(_l("Reason"), choices=[], validate_choice=False)
    kept = StringField(
        _l("Reference or number of the issue to keep"), render_kw={"maxlength": 24, "placeholder": "WC-2026-000123"}
    )
    level = SelectField(_l("Send down to"), choices=[], validate_choice=False)
    note = TextAreaField(_l("Note, instruction or reason"), render_kw={"rows": 2, "maxlength": MAX_NOTE})
    submit = SubmitField(_l("Apply to the selected issues"))

    def due_date(self) -> date | None:
        """The chosen day, or None when missing or not a date (the service then refuses it)."""
        try:
            return date.fromisoformat((self.due_on.data or "").strip())
        except ValueError:
            return None


class AcceptForm(Form):
    """The party accepts (接单) the selected assignments."""

    submit = SubmitField(_l("Accept the selected (接单)"))
