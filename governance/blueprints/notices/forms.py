"""Forms of the notices blueprint. The service checks every choice (services/outreach/notices.py): a value
that is not on the list comes back as a message beside its field, never as WTForms' English."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FileField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField

from ...formatting import ROLE_LABELS, URGENCY_LABELS
from ...forms import Form, options
from ...models import NOTICE_ROLES
from ...services.outreach.notices import BODY_MAX, REMIND_CHOICES, REPLY_LABEL_MAX, REPLY_MAX, TITLE_MAX

REPLY_CHOICES = (
    ("none", _l("No reply needed")),
    ("confirm", _l("One tap to confirm")),
    ("text", _l("A short written answer")),
)


def remind_label(hours: int):
    return _l("No reminder") if not hours else _l("After %(hours)s hours", hours=hours)


class NoticeForm(Form):
    """A new notice: where it goes, to whom, what it says, and what it asks back."""

    node_id = SelectField(_l("Send to the leaders of"), validate_choice=False)
    roles = SelectMultipleField(
        _l("Who receives it"),
        choices=options((role, ROLE_LABELS[role]) for role in NOTICE_ROLES),
        validate_choice=False,
    )
    title = StringField(_l("Title"), render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"})
    body = TextAreaField(_l("What it says"), render_kw={"maxlength": BODY_MAX, "rows": 6})
    urgency = RadioField(
        _l("Urgency"), choices=options(URGENCY_LABELS.items()), default="normal", validate_choice=False
    )
    reply_kind = RadioField(_l("Reply"), choices=options(REPLY_CHOICES), default="none", validate_choice=False)
    reply_label = StringField(
        _l("Words of the one-tap reply"),
        render_kw={"maxlength": REPLY_LABEL_MAX, "autocomplete": "off", "placeholder": _l("I am at my post")},
    )
    photo = FileField(_l("Photo (optional)"), render_kw={"accept": "image/*"})
    # Made with the blank form and sent back with it: the same key twice sends the notice once.
    idempotency_key = HiddenField()
    remind_after_hours = SelectField(
        _l("Remind those who have not read or answered it"),
        choices=options((str(hours), remind_label(hours)) for hours in REMIND_CHOICES),
        default="24",
        validate_choice=False,
    )


class ReplyForm(Form):
    """A reply: the one-tap button, or a short text."""

    reply = StringField(_l("Your reply"), render_kw={"maxlength": REPLY_MAX, "autocomplete": "off"})
