"""Forms of the surveys blueprint. The service checks every value (services/outreach/surveys.py); these carry
the CSRF token and render the fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, FileField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from ...forms import Form, options
from ...services.outreach.surveys import PURPOSE_MAX, QUESTION_MAX, TITLE_MAX

QUESTION_KINDS = (
    ("single", _l("One choice")),
    ("multiple", _l("Several choices")),
    ("scale", _l("A score from 1 to 5")),
    ("text", _l("A short written answer")),
    ("problem", _l("A problem found (files an issue)")),
)
OUTCOMES = (
    ("answered", _l("Answered")),
    ("declined", _l("Declined")),
    ("absent", _l("Nobody in")),
)


class CampaignForm(Form):
    """A new survey: where, what for, when."""

    node_id = SelectField(_l("Households of"), validate_choice=False)
    title = StringField(_l("Title"), render_kw={"maxlength": TITLE_MAX, "autocomplete": "off"})
    purpose = TextAreaField(
        _l("What it is for (read out at the door)"), render_kw={"maxlength": PURPOSE_MAX, "rows": 4}
    )
    starts_on = DateField(_l("First day"), validators=[Optional()])
    ends_on = DateField(_l("Last day"), validators=[Optional()])


class QuestionForm(Form):
    """A question added at the end of a draft's questionnaire."""

    kind = SelectField(_l("Kind of question"), choices=options(QUESTION_KINDS), validate_choice=False)
    text = StringField(_l("Question"), render_kw={"maxlength": QUESTION_MAX, "autocomplete": "off"})
    options = TextAreaField(_l("Choices, one per line"), render_kw={"rows": 4})


class ActionForm(Form):
    """A button that changes the campaign (a POST with its CSRF token)."""


class HouseholdFileForm(Form):
    """A file of households for one community."""

    community_id = SelectField(_l("Community"), validate_choice=False)
    file = FileField(_l("CSV or Excel file"), render_kw={"accept": ".csv,.xlsx"})
