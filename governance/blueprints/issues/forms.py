"""Forms of the issue page: one small form per action, each carrying the version it was rendered from.

The forms mostly carry what was typed; the lifecycle service decides what is allowed and what is
missing (a required note, an illegal move), so its messages are the ones the person sees. A choice
from a list the page offers (the reject form's reason) is checked by the form too, so that its
message stands beside that field; the service checks it again.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, MultipleFileField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from ...forms import Form, offered, options
from ...parsing import DB_INT_MAX, parse_number
from ...services.issues.lifecycle import MAX_NOTE
from ...services.triage import operations


class VersionedForm(Form):
    """A form that says which version of the issue the person was looking at."""

    version = HiddenField()

    def expected_version(self) -> int:
        """The version the page showed; anything unreadable counts as stale (-1 never matches)."""
        version = parse_number(self.version.data, 0, DB_INT_MAX)
        return -1 if version is None else version


def note_field(label):
    return TextAreaField(label, render_kw={"rows": 3, "maxlength": MAX_NOTE})


class TransitionForm(VersionedForm):
    """Acknowledge, start, resolve, close, reopen, mark duplicate, withdraw (one per target status)."""

    note = note_field(_l("Note"))
    duplicate_of = StringField(
        _l("Reference or number of the original issue"), render_kw={"maxlength": 24, "placeholder": "WC-2026-000123"}
    )
    # Only the merge form shows it: one of the likely originals offered, ticked instead of typing its reference.
    candidate = StringField()
    # Only the resolve form shows it: "after" photos of the fix.
    photos = MultipleFileField(_l("Photos after the fix (optional, up to 6)"), render_kw={"accept": "image/*"})
    submit = SubmitField(_l("Confirm"))


REASON_REQUIRED = _l("Choose a reason from the list.")


def offered_choice(form, field):
    """The value must be one of the field's offered choices (not the empty "Choose…")."""
    if not field.data or field.data not in offered(field) - {""}:
        raise ValidationError(REASON_REQUIRED)


class RejectForm(TransitionForm):
    """Reject (不予受理): a reason from the managed list (choices set per request, checked here) and a note."""

    reason = SelectField(_l("Reason"), choices=[], validate_choice=False, validators=[offered_choice])


class PhotoPublicForm(Form):
    """Show a photo on the public page, or take it off (staff decide: no faces, no plates)."""

    public = HiddenField()
    submit = SubmitField(_l("Confirm"))


class EscalateForm(VersionedForm):
    """Move the handling level up one step, with a reason."""

    reason = note_field(_l("Why it needs the level above"))
    submit = SubmitField(_l("Escalate"))


SATISFACTION_CHOICES = [
    SelectChoice("satisfied", _l("Satisfied")),
    SelectChoice("basically_satisfied", _l("Basically satisfied")),
    SelectChoice("unsatisfied", _l("Not satisfied (reopens the issue)")),
]


class CallbackForm(VersionedForm):
    """The callback (回访): what the resident says about the fix."""

    satisfaction = RadioField(_l("The resident is"), choices=SATISFACTION_CHOICES, validate_choice=False)
    note = note_field(_l("What the resident said"))
    submit = SubmitField(_l("Record the callback"))


COMMENT_CHOICES = [
    SelectChoice("comment", _l("Comment (seen by everyone working on this issue)")),
    SelectChoice("internal_note", _l("Internal note (never public)")),
    SelectChoice("public_update", _l("Public update (shown on the public progress page)")),
]


class CommentForm(Form):
    """A comment, an internal note or a public update. Append-only, so no version check."""

    kind = RadioField(_l("Kind"), choices=COMMENT_CHOICES, default="comment", validate_choice=False)
    note = note_field(_l("Text"))
    submit = SubmitField(_l("Add"))


class AssignForm(VersionedForm):
    """Assign (派单) to a responsible party with a deadline; the choices are the community's parties."""

    organisation = SelectField(_l("Responsible party"), choices=[], validate_choice=False)
    due_on = StringField(_l("To be resolved by"), render_kw={"type": "date"})
    note = note_field(_l("Instruction for the party (optional)"))
    submit = SubmitField(_l("Assign"))

    def due_date(self):
        """The chosen day, or None when it is missing or not a date (the service then refuses it)."""
        from datetime import date

        try:
            return date.fromisoformat((self.due_on.data or "").strip())
        except ValueError:
            return None


class DeclineForm(VersionedForm):
    """The responsible party declines an assignment, with a reason (it returns to the branch)."""

    note = note_field(_l("Why your organisation cannot take it (required)"))
    submit = SubmitField(_l("Decline"))


class PriorityForm(VersionedForm):
    """Set the priority the triage queue sorts by."""

    priority = SelectField(_l("Priority"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Set priority"))


class SendDownForm(VersionedForm):
    """Send the issue back down to a lower level, with an instruction."""

    level = SelectField(_l("Send down to"), choices=[], validate_choice=False)
    note = note_field(_l("Instruction (required)"))
    submit = SubmitField(_l("Send down"))


class FollowForm(Form):
    """Follow an issue (be told about its progress), or stop following it."""

    on = HiddenField()
    submit = SubmitField(_l("Confirm"))


def reject_reason_choices() -> list[SelectChoice]:
    """A reject form's reasons — the issue page's and the triage console's bulk bar: "Choose…", then the managed
    list's active reasons."""
    return options(((str(r.id), r.label) for r in operations.active_reject_reasons()), blank=_("Choose…"))
