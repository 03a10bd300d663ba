"""Forms of the settings blueprint."""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from ...forms import Form, TickedIds, options
from ...parsing import parse_id, parse_number
from ...services import settings as service


class ConfirmForm(Form):
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
        value = parse_number(text, 0, 10**9 - 1)
        if value is None:
            raise ValidationError(_l("Whole numbers only, such as 24."))
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


class SlaForm(Form):
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


def unused(rules: service.ManagedList, message):
    """A validator: no other row of the list has this name (the row being edited may keep its own)."""

    def check(form, field):
        if field.data and rules.name_taken(field.data, except_id=form.item_id):
            raise ValidationError(message)

    return check


def text_field(label, required, longest: int, *more_validators, length_message=None) -> StringField:
    """A one-line text: trimmed and folded (full-width forms), printable, at most `longest` characters;
    `required` is the message when it is left empty (None: it may be)."""
    validators = [DataRequired(required)] if required else []
    validators += [Length(max=longest, message=length_message), printable, *more_validators]
    return StringField(
        label, validators=validators, filters=[_clean], render_kw={"maxlength": longest, "autocomplete": "off"}
    )


def position_field() -> WholeNumberField:
    """Where the row stands in its list, smallest first."""
    return WholeNumberField(
        _l("Position"), minimum=0, maximum=service.POSITION_MAX, range_message=_l("Between 0 and 9999.")
    )


def names_and_position(chinese: tuple, english: tuple, unique) -> tuple[StringField, StringField, WholeNumberField]:
    """The fields of a bilingual list: the Chinese name ((label, message when empty, longest), kept `unique`
    among the rows), the English one ((label, longest), may be empty) and the position."""
    (zh_label, zh_required, zh_longest), (en_label, en_longest) = chinese, english
    return (
        text_field(zh_label, zh_required, zh_longest, unique),
        text_field(en_label, None, en_longest),
        position_field(),
    )


class ManagedItemForm(Form):
    """The form of one row of a list admins keep: adding one (item_id None) or editing the row `item_id`."""

    submit = SubmitField(_l("Save"))

    def __init__(self, *args, item_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_id = item_id

    @classmethod
    def data_of(cls, item) -> dict[str, str]:
        """What the form shows for a row being edited."""
        raise NotImplementedError

    def values(self) -> dict:
        """What was typed, as the list's service takes it, once the form is valid."""
        raise NotImplementedError


class BilingualNamesForm(ManagedItemForm):
    """A Chinese name, an English one and a position (each list labels and limits them its own way)."""

    @classmethod
    def data_of(cls, item) -> dict[str, str]:
        return {"name_zh": item.name_zh, "name_en": item.name_en, "sort": str(item.sort)}

    def values(self) -> dict:
        return {"name_zh": self.name_zh.data, "name_en": self.name_en.data, "sort": self.sort.number}


class CategoryNamesForm(BilingualNamesForm):
    """Names and position of a category (rename and reorder)."""

    name_zh, name_en, sort = names_and_position(
        (_l("Chinese name"), _l("Enter the Chinese name."), 40),
        (_l("English name"), 60),
        unused(service.CATEGORIES, _l("Another category already has this name.")),
    )


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
        if service.CATEGORIES.code_taken(field.data):
            raise ValidationError(_l("This code is already used by another category."))

    def values(self) -> dict:
        return {**super().values(), "code": self.code.data}


class ChannelForm(ManagedItemForm):
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
        if not service.webhook_url_ok(field.data or "", allow_local=service.local_robots_allowed()):
            raise ValidationError(
                _l(
                    "Paste the whole address the robot shows in WeChat Work, starting with "
                    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="
                )
            )

    def values(self) -> dict:
        """The address; the view adds the place, once it has checked the person manages it."""
        return {"url": self.url.data}


# --- triage lists: rejection reasons, response templates, responsible parties -------------------


class RejectReasonForm(BilingualNamesForm):
    """A rejection reason (不予受理理由): its names and position."""

    name_zh, name_en, sort = names_and_position(
        (_l("Chinese wording"), _l("Enter the reason in Chinese."), 60),
        (_l("English wording"), 80),
        unused(service.REJECT_REASONS, _l("Another rejection reason already has this wording.")),
    )


def _text_block(value):
    """Trimmed and NFKC-folded like a one-line field, but keeping its line breaks (as \\n)."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).replace("\r\n", "\n").replace("\r", "\n").strip()


def printable_lines(form, field):
    """No control characters apart from line breaks."""
    if field.data and not field.data.replace("\n", "").isprintable():
        raise ValidationError(_l("Remove the special characters."))


ANY = ""  # the select value meaning "every category" / "every status"


AT_MOST = _l("At most %(max)d characters.")


class ResponseTemplateForm(ManagedItemForm):
    """A response template (回复模板): where it is offered, its title and its text."""

    category_id = SelectField(_l("Category"), validate_choice=True)
    status = SelectField(_l("Status"), validate_choice=True)
    title = text_field(_l("Title"), _l("Enter a short title."), service.TEMPLATE_TITLE_MAX, length_message=AT_MOST)
    body = TextAreaField(
        _l("Text"),
        validators=[
            DataRequired(_l("Enter the text of the reply.")),
            Length(max=service.TEMPLATE_BODY_MAX, message=AT_MOST),
            printable_lines,
        ],
        filters=[_text_block],
        render_kw={"maxlength": service.TEMPLATE_BODY_MAX, "rows": 5},
    )
    sort = position_field()

    def set_choices(self, category_labels: dict[int, str], status_labels: dict[str, str]) -> ResponseTemplateForm:
        """Offer every category and status, with "any" first."""
        self.category_id.choices = options(((str(k), v) for k, v in category_labels.items()), blank=_l("Any category"))
        self.status.choices = options(status_labels.items(), blank=_l("Any status"))
        return self

    @classmethod
    def data_of(cls, item) -> dict[str, str]:
        return {
            "category_id": str(item.category_id) if item.category_id else ANY,
            "status": item.status or ANY,
            "title": item.title,
            "body": item.body,
            "sort": str(item.sort),
        }

    def values(self) -> dict:
        """None for the category or status means any."""
        return {
            "category_id": parse_id(self.category_id.data),
            "status": self.status.data or None,
            "title": self.title.data,
            "body": self.body.data,
            "sort": self.sort.number,
        }


class OrganisationForm(ManagedItemForm):
    """A responsible party (责任单位): name, kind and 街镇."""

    name = text_field(
        _l("Organisation name"),
        _l("Enter the organisation's name."),
        service.ORGANISATION_NAME_MAX,
        unused(service.ORGANISATIONS, _l("Another organisation already has this name.")),
        length_message=AT_MOST,
    )
    kind = SelectField(_l("Kind"), validate_choice=True)
    street_id = SelectField(_l("Street (街镇)"), validate_choice=True)

    def set_choices(self, kind_labels: dict[str, str], streets) -> OrganisationForm:
        """The kinds, and every 街镇 (or none)."""
        self.kind.choices = options(kind_labels.items())
        self.street_id.choices = options(((str(s.id), s.name) for s in streets), blank=_l("None (not tied to a 街镇)"))
        return self

    def validate_street_id(self, field):
        if self.kind.data == "street_office" and not field.data:
            raise ValidationError(_l("Choose the street (街镇) this office belongs to."))

    @classmethod
    def data_of(cls, item) -> dict[str, str]:
        return {"name": item.name, "kind": item.kind, "street_id": str(item.street_id) if item.street_id else ANY}

    def values(self) -> dict:
        """The street None when the organisation is not tied to one."""
        return {"name": self.name.data, "kind": self.kind.data, "street_id": parse_id(self.street_id.data)}


class PairingForm(Form):
    """The communities an organisation serves (checkboxes, grouped by 街镇 in the template)."""

    communities = TickedIds(
        _l("Communities served"), refusal=_l("Some of the chosen communities do not exist; please choose again.")
    )
    submit = SubmitField(_l("Save the communities"))
