"""Views of the auth blueprint."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import auth_session
from ...access import login_required, public
from ...client import client_address
from ...extensions import db
from ...services.people import accounts
from ...urls import safe_next
from . import bp
from .forms import ActivateForm, LoginForm, LogoutForm, PasswordForm

PASSWORD_PROBLEMS = ("too_short", "too_common", "contains_mobile")


def account_message(err: accounts.AccountError) -> str:
    """The user-facing sentence for an AccountError."""
    if err.code == "slowed":
        return _(
            "Too many failed attempts for this number. Please wait %(seconds)s seconds and try again.",
            seconds=err.retry_after,
        )
    return {
        "invalid": _("The mobile number or password is not right."),
        "invalid_code": _("The mobile number or activation code is not right, or the code has expired."),
        "throttled": _("Too many failed attempts. Please wait 15 minutes and try again."),
        "too_short": _("The new password needs at least 8 characters."),
        "too_common": _(
            "This password is too easy to guess: it is a commonly used password, or a repeated or sequential "
            "run of characters such as aaaaaaaa or 12345678. Any other 8 or more characters will do; "
            "a few unrelated words are easy to remember."
        ),
        "contains_mobile": _("The new password must not contain your mobile number."),
        "wrong_current": _("The current password is not right."),
    }[err.code]


def refused(err: accounts.AccountError) -> tuple[int, dict]:
    """The status and headers of a page that shows this refusal: 429 with Retry-After when throttled."""
    if err.code not in ("throttled", "slowed"):
        return 200, {}
    return 429, {"Retry-After": str(err.retry_after or 15 * 60)}


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with mobile number and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            person = accounts.authenticate(form.mobile.data, form.password.data, client_address())
        except accounts.AccountError as err:
            form.password.errors.append(account_message(err))
            return render_template("auth/login.html", form=form), *refused(err)
        auth_session.start(person)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End this session."""
    if LogoutForm().validate_on_submit():
        auth_session.end()
        db.session.commit()
        flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@public
def activate():
    """First login with the one-time code from the printed list."""
    form = ActivateForm()
    if form.validate_on_submit():
        try:
            person = accounts.activate(form.mobile.data, form.code.data, form.password.data, client_address())
        except accounts.AccountError as err:
            if err.code == "invalid":
                err = accounts.AccountError("invalid_code")
            field = form.password if err.code in PASSWORD_PROBLEMS else form.code
            field.errors.append(account_message(err))
            return render_template("auth/activate.html", form=form), *refused(err)
        auth_session.start(person)
        db.session.commit()
        flash(_("Your account is active. Welcome!"), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/activate.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change your password; your other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        person = current_user._get_current_object()  # the person, not the proxy
        try:
            accounts.change_password(person, form.current.data, form.password.data, client_address())
        except accounts.AccountError as err:
            field = form.password if err.code in PASSWORD_PROBLEMS else form.current
            field.errors.append(account_message(err))
            return render_template("auth/password.html", form=form), *refused(err)
        # every session ends; this device goes on in a new one under the new auth version
        auth_session.end_all(person)
        auth_session.start(person)
        db.session.commit()
        flash(_("Password changed. Other devices have been logged out."), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
