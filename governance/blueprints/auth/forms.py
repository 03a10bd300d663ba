"""Forms of the auth blueprint."""

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, RadioField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from ...forms import Form, options

PASSWORD_LENGTH = _l("The new password needs at least 8 characters.")
MOBILE_FIELD = {"render_kw": {"inputmode": "tel", "autocomplete": "username", "maxlength": 20}}


class LoginForm(Form):
    """Mobile number and password."""

    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)], **MOBILE_FIELD)
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField(_l("Log in"))


class ActivateForm(Form):
    """First login: the code from the printed list and a new password."""

    mobile = StringField(_l("Mobile number"), validators=[DataRequired(), Length(max=20)], **MOBILE_FIELD)
    code = StringField(
        _l("Activation code"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters", "maxlength": 20},
    )
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=8, max=200, message=PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Activate my account"))


class PasswordForm(Form):
    """Change password: the current one and the new one twice."""

    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=8, max=200, message=PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


class LogoutForm(Form):
    """An empty form: logging out is a POST with a CSRF token."""

    submit = SubmitField(_l("Log out"))


class ProfileForm(Form):
    """亮身份: whether residents of the compounds one serves see one's name (never the phone)."""

    listing = RadioField(
        _l("On the public pages of the compounds I serve"),
        choices=options(
            [("surname", _l("My surname and role (e.g. 张·邻长)")), ("full", _l("My full name and role"))],
            blank=_l("Do not name me"),
        ),
        default="",
        validate_choice=False,
    )
