"""Forms of the tree edits (调整网格): rename, move, merge, split. Each is posted twice: once to see what it
will change, then again with `confirm` set to do it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ...forms import Form, TickedIds, offered
from ...parsing import parse_id
from ...services.people.structure import MAX_NAME


def _strip(value):
    """Trimmed text (a name pasted with spaces around it is the same name)."""
    return value.strip() if isinstance(value, str) else value


def _name_field(label):
    return StringField(
        label,
        validators=[
            DataRequired(_l("Give the name.")),
            Length(max=MAX_NAME, message=_l("At most %(max)s characters.", max=MAX_NAME)),
        ],
        filters=[_strip],
        render_kw={"maxlength": MAX_NAME, "autocomplete": "off"},
    )


class ConfirmedForm(Form):
    """A tree edit: `confirm` is empty when the form is sent to see what it will change, "1" to do it."""

    confirm = HiddenField()

    @property
    def confirmed(self) -> bool:
        return self.confirm.data == "1"


class RenameForm(ConfirmedForm):
    name = _name_field(_l("New name"))


class IdChoiceField(SelectField):
    """One of the offered node ids (as text); anything else is refused with the field's message."""

    def __init__(self, label, message, **kwargs):
        super().__init__(label, validate_choice=False, **kwargs)
        self.message = message

    def pre_validate(self, form):
        if self.data not in offered(self):
            raise ValidationError(self.message)

    @property
    def id_value(self) -> int | None:
        return parse_id(self.data)


class MoveForm(ConfirmedForm):
    parent_id = IdChoiceField(_l("Move it under"), _l("Choose one of the places offered."))


class MergeForm(ConfirmedForm):
    kept_id = IdChoiceField(_l("Merge it into"), _l("Choose one of the neighbour units (邻) offered."))


class SplitForm(ConfirmedForm):
    name = _name_field(_l("Name of the new group (组)"))
    neighbours = TickedIds(
        _l("Neighbour units (邻) that move to the new group (组)"),
        refusal=_l("Tick only neighbour units (邻) of this group (组)."),
        required=_l("Tick at least one neighbour unit (邻) to move into the new group (组)."),
    )
