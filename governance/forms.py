"""The base of every form: Flask-WTF's (CSRF, request data), speaking the request's language.

WTForms' own texts (a field's default label, "Not a valid choice", a Length without a message of ours) come
from its gettext catalogue. Flask-WTF reads that catalogue from disk on every request that builds a form — a
`.mo` file parsed each time, ~0.4 ms (a twentieth of a filing); here each language's is read once per process.
"""

from __future__ import annotations

from functools import cache

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError

from .parsing import parse_id


@cache
def _catalogue(locale_name: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale_name], domain="wtforms")


class FormTranslations:
    """WTForms' texts in the language in force."""

    def gettext(self, string: str) -> str:
        return _catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _catalogue(str(get_locale())).ungettext(singular, plural, n)


TRANSLATIONS = FormTranslations()


class Form(FlaskForm):
    """Every form of the app derives from this one."""

    class Meta:
        def get_translations(self, form):
            return TRANSLATIONS


def options(pairs, *, blank: str | None = None, optgroup: str | None = None) -> list[SelectChoice]:
    """A field's choices from (value, label) pairs, in WTForms' own shape (choices given as tuples, or as a dict
    of groups, are deprecated and go in WTForms 3.4). `blank`: the label of a first choice with the empty value
    ("Choose…", "Any status"); `optgroup`: the <optgroup> they are shown under."""
    first = [SelectChoice("", blank, optgroup=optgroup)] if blank is not None else []
    return first + [SelectChoice(value, label, optgroup=optgroup) for value, label in pairs]


def offered(field) -> set[str]:
    """The values a choice field offers, as text (the form sends text)."""
    return {str(choice.value) for choice in field.choices or ()}


class TickedIds(SelectMultipleField):
    """Ticked ids among the offered choices (checkboxes): anything that is not one of them is refused with
    `refusal`; `required`, when given, is the message for none ticked."""

    def __init__(self, label=None, validators=None, *, refusal, required=None, **kwargs):
        super().__init__(label, validators, coerce=int, validate_choice=False, **kwargs)
        self.refusal, self.required = refusal, required

    def process_formdata(self, valuelist):
        self.data, self.junk = [], False
        for value in valuelist:
            ticked = parse_id(str(value).strip())
            if ticked:
                self.data.append(ticked)
            else:
                self.junk = True

    def pre_validate(self, form):
        ids = {choice.value for choice in self.choices or ()}
        if self.junk or any(value not in ids for value in self.data or []):
            raise ValidationError(self.refusal)
        if self.required is not None and not self.data:
            raise ValidationError(self.required)
