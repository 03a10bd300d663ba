"""Forms of the settings blueprint."""

from __future__ import annotations

import unicodedata

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from ...services import settings as service


class ConfirmForm(FlaskForm):
    """A button that posts with a CSRF token (restore, deactivate, retry, test)."""

    submit = SubmitField(_l("Confirm"))


def _clean(value):
    """Trimmed, with full-width digits and letters (输入法全角) folded to their ASCII forms."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).strip()


class WholeNumberField(StringField):
    """A whole number typed as text: what was typed is kept and shown back when it is wrong.

    `number` holds the value once validation has passed (None before, or when invalid).
    """

    def __init__(self, label=None, validators=None, *, minimum: int, maximum: int, range_message, **kwargs):
        render_kw = {"inputmode": "numeric", "autocomplete": "off", "maxlength": len(str(maximum)) + 1}
        render_kw.update(kwargs.pop("render_kw", {}) or {})
        super().__init__(label, validators, filters=[_clean], render_kw=render_kw, **kwargs)
        self.minimum, self.maximum, self.range_message = minimum, maximum, range_message
        self.number: int | None = None

    def pre_validate(self, form):
        self.number = None
        text = self.data or ""
        if not text:
            raise ValidationError(_l("Enter a number."))
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise ValidationError(_l("Whole numbers only, such as 24."))
        value = int(text)
        if not self.minimum <= value <= self.maximum:
            raise ValidationError(self.range_message)
        self.number = value


def hours_field() -> WholeNumberField:
    return WholeNumberField(
        minimum=service.SLA_MIN_HOURS,
        maximum=service.SLA_MAX_HOURS,
        range_message=_l(
            "Between %(low)s and %(high)s hours (90 days).", low=service.SLA_MIN_HOURS, high=service.SLA_MAX_HOURS
        ),
    )


def sla_field_names(level: str, urgency: str) -> tuple[str, str]:
    """The form fields of one cell: hours to acknowledge, hours to resolve."""
    return f"ack_{level}_{urgency}", f"resolve_{level}_{urgency}"


class SlaForm(FlaskForm):
    """The whole SLA table in one form: two hour fields per handling level and urgency."""

    submit = SubmitField(_l("Save the time limits"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for level, urgency in service.SLA_CELLS:
            ack, resolve = (self[name] for name in sla_field_names(level, urgency))
            if ack.number is not None and resolve.number is not None and resolve.number < ack.number:
                resolve.errors = [*resolve.errors, _l("Cannot be shorter than the time to acknowledge.")]
                valid = False
        return valid

    def values(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(level, urgency) → (ack hours, resolve hours), once the form is valid."""
        result = {}
        for level, urgency in service.SLA_CELLS:
            ack, resolve = (self[name] for name in sla_field_names(level, urgency))
            result[(level, urgency)] = (ack.number, resolve.number)
        return result

    @classmethod
    def initial(cls, table: dict[tuple[str, str], tuple[int, int]]) -> dict[str, str]:
        """Form data showing the current table."""
        data = {}
        for cell in service.SLA_CELLS:
            ack, resolve = table.get(cell, ("", ""))
            ack_name, resolve_name = sla_field_names(*cell)
            data[ack_name], data[resolve_name] = str(ack), str(resolve)
        return data

    def cell(self, level: str, urgency: str):
        """The two fields of one cell, for the template."""
        return tuple(self[name] for name in sla_field_names(level, urgency))


for _level, _urgency in service.SLA_CELLS:
    _ack_name, _resolve_name = sla_field_names(_level, _urgency)
    setattr(SlaForm, _ack_name, hours_field())
    setattr(SlaForm, _resolve_name, hours_field())


def printable(form, field):
    """No control characters (they are never part of a name and upset exports)."""
    if field.data and not field.data.isprintable():
        raise ValidationError(_l("Remove the special characters."))


class CategoryNamesForm(FlaskForm):
    """Names and position of a category (rename and reorder)."""

    name_zh = StringField(
        _l("Chinese name"),
        validators=[DataRequired(_l("Enter the Chinese name.")), Length(max=40), printable],
        filters=[_clean],
        render_kw={"maxlength": 40, "autocomplete": "off"},
    )
    name_en = StringField(
        _l("English name"),
        validators=[Length(max=60), printable],
        filters=[_clean],
        render_kw={"maxlength": 60, "autocomplete": "off"},
    )
    sort = WholeNumberField(
        _l("Position"),
        minimum=0,
        maximum=9999,
        range_message=_l("Between 0 and 9999."),
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, category_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id = category_id

    def validate_name_zh(self, field):
        if field.data and service.name_taken(field.data, except_id=self.category_id):
            raise ValidationError(_l("Another category already has this name."))


def _lower(value):
    return value.lower() if isinstance(value, str) else value


class CategoryForm(CategoryNamesForm):
    """A new category: its code, then its names and position."""

    code = StringField(
        _l("Category code"),
        validators=[DataRequired(_l("Enter a code.")), Length(max=32)],
        filters=[_clean, _lower],
        render_kw={"maxlength": 32, "autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Add the category"))

    def validate_code(self, field):
        if not service.CATEGORY_CODE_RE.fullmatch(field.data or ""):
            raise ValidationError(
                _l("Use lower-case letters a–z, digits, - and _, starting with a letter (for example: lift_noise).")
            )
        if service.code_taken(field.data):
            raise ValidationError(_l("This code is already used by another category."))


class ChannelForm(FlaskForm):
    """A 企业微信 group robot for one 街镇 or 社区."""

    node_id = SelectField(_l("Place"), coerce=int, validate_choice=True)
    url = StringField(
        _l("Webhook address of the group robot"),
        validators=[DataRequired(_l("Paste the robot's webhook address."))],
        filters=[_clean],
        render_kw={
            "maxlength": service.MAX_URL,
            "autocomplete": "off",
            "autocapitalize": "none",
            "spellcheck": "false",
            "inputmode": "url",
            "placeholder": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        },
    )
    submit = SubmitField(_l("Add the robot"))

    def validate_url(self, field):
        if not service.webhook_url_ok(field.data or "", allow_local=bool(current_app.testing)):
            raise ValidationError(
                _l(
                    "Paste the whole address the robot shows in WeChat Work, starting with "
                    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="
                )
            )
