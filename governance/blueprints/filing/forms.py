"""The filing form (登记问题): what a 邻长 types on a phone."""

from __future__ import annotations

import math
import re
import uuid

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from ... import policy
from ...extensions import db
from ...forms import Form
from ...models import Node
from ...parsing import parse_id
from ...services.issues import reference
from ...services.issues.lifecycle import MAX_TITLE

MAX_DESCRIPTION = 2000
KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def strip(value):
    """Trim surrounding spaces from text input."""
    return value.strip() if isinstance(value, str) else value


def coordinate(value: str | None, bound: float) -> float | None:
    """A finite latitude or longitude within ±bound, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if math.isfinite(number) and -bound <= number <= bound else None


def new_key() -> str:
    """A fresh idempotency key for one filing."""
    return str(uuid.uuid4())


class FilingForm(Form):
    """Category, title, description, place, urgency, photos and the resident's (private) contact.

    No token field of its own: the app's CSRFProtect checks every POST before the view runs (the filing view is
    not exempt), and the page writes the session's token itself (filing/new.html). The form's own field signed
    a token again on every POST — 3 % of a filing — for a page a filing that succeeds never shows."""

    class Meta:
        csrf = False

    category = SelectField(_l("Kind of problem"), coerce=parse_id, validate_choice=False)
    title = StringField(
        _l("Short title"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Give the problem a short title.")),
            Length(max=MAX_TITLE, message=_l("At most %(max)d characters.")),
        ],
        render_kw={"maxlength": MAX_TITLE, "autocomplete": "off"},
    )
    description = TextAreaField(
        _l("What is wrong"),
        filters=[strip],
        validators=[Length(max=MAX_DESCRIPTION, message=_l("At most %(max)d characters."))],
        render_kw={"rows": 3, "maxlength": MAX_DESCRIPTION},
    )
    neighbour = SelectField(_l("Neighbour unit (邻)"), coerce=parse_id, validate_choice=False)
    neighbour_filter = StringField(
        _l("Find the neighbour unit (邻)"),
        filters=[strip],
        validators=[Optional(), Length(max=40)],
        render_kw={"maxlength": 40},
    )
    compound = SelectField(_l("Compound (小区)"), coerce=parse_id, validate_choice=False)
    building = SelectField(_l("Building (楼栋)"), coerce=parse_id, validate_choice=False)
    place_detail = StringField(
        _l("Where exactly"),
        filters=[strip],
        validators=[Length(max=120, message=_l("At most %(max)d characters."))],
        render_kw={"maxlength": 120},
    )
    latitude = HiddenField()
    longitude = HiddenField()
    urgency = RadioField(
        _l("Urgency"),
        choices=[SelectChoice("normal", _l("Normal")), SelectChoice("urgent", _l("Urgent"))],
        default="normal",
        validate_choice=False,
    )
    photos = MultipleFileField(_l("Photos"))
    resident_name = StringField(
        _l("Resident's name"),
        filters=[strip],
        validators=[Length(max=40, message=_l("At most %(max)d characters."))],
        render_kw={"maxlength": 40, "autocomplete": "off"},
    )
    resident_phone = StringField(
        _l("Resident's phone"),
        filters=[strip],
        validators=[
            Length(max=20, message=_l("At most %(max)d characters.")),
            Regexp(r"^[0-9+\-() ]*$", message=_l("Digits only, please.")),
        ],
        render_kw={"maxlength": 20, "inputmode": "tel", "autocomplete": "off", "type": "tel"},
    )
    idempotency_key = HiddenField()
    confirm_different = BooleanField(_l("This is a different problem — file it anyway"))

    # Set by the view before validation: who is filing.
    person = None

    def validate_category(self, field):
        if field.data not in reference.active_category_ids():
            raise ValidationError(_l("Choose the kind of problem."))

    def validate_urgency(self, field):
        if field.data not in ("normal", "urgent"):
            field.data = "normal"
            raise ValidationError(_l("Choose normal or urgent."))

    def validate_neighbour(self, field):
        node = db.session.get(Node, field.data) if field.data else None
        if node is None or node.level != "neighbour":
            raise ValidationError(_l("Choose the neighbour unit (邻) this problem belongs to."))
        if not policy.allowed(self.person, "file_issue", node):
            policy.log_denial(self.person, "file_issue", node)
            self.forbidden = True
            raise ValidationError(_l("You cannot file problems in that neighbour unit (邻)."))

    def community(self) -> int | None:
        """The 社区 of the chosen 邻 (None: no such 邻), whose 小区 and buildings the place fields must name."""
        node = db.session.get(Node, self.neighbour.data) if self.neighbour.data else None
        return node.community_id if node is not None else None

    def validate_compound(self, field):
        if field.data and not reference.compound_in(field.data, self.community()):
            raise ValidationError(_l("That compound is not in the community of the neighbour unit (邻)."))

    def validate_building(self, field):
        if field.data and reference.building_compound(field.data, self.community()) != self.compound.data:
            raise ValidationError(_l("Choose the building again."))

    def validate(self, extra_validators=None):
        """Without JavaScript every compound's buildings are listed: a chosen building names its compound."""
        if self.building.data:
            compound = reference.building_compound(self.building.data, self.community())
            if compound is not None:
                self.compound.data = compound
        return super().validate(extra_validators)

    def validate_idempotency_key(self, field):
        if not KEY_RE.match(field.data or ""):
            field.data = new_key()
            raise ValidationError(_l("The form was incomplete. Please check it and send it again."))

    forbidden = False

    def location(self) -> tuple[float | None, float | None]:
        """Both coordinates, or neither."""
        lat, lng = coordinate(self.latitude.data, 90), coordinate(self.longitude.data, 180)
        return (lat, lng) if lat is not None and lng is not None else (None, None)
