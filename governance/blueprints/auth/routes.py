"""Views of the auth blueprint."""

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ...access import login_required, public
from ...extensions import db
from ...services import accounts
from ...urls import safe_next
from . import bp
from .forms import ActivateForm, LoginForm, LogoutForm, PasswordForm


def account_message(code: str) -> str:
    """The user-facing sentence for an AccountError code."""
    return {
        "invalid": _("The mobile number or password is not right."),
        "invalid_code": _("The mobile number or activation code is not right, or the code has expired."),
        "throttled": _("Too many failed attempts. Please wait 15 minutes and try again."),
        "too_short": _("The new password needs at least 8 characters."),
        "too_simple": _("The new password is too simple; mix letters and digits."),
        "wrong_current": _("The current password is not right."),
    }[code]


def client_address() -> str:
    """The requesting address (the proxy in front must set X-Forwarded-For via ProxyFix)."""
    return request.remote_addr or "unknown"


def start_session(person) -> None:
    """Log a person in for 30 days on this device."""
    session.permanent = True
    login_user(person)


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
            db.session.commit()  # keep the failure count
            form.password.errors.append(account_message(err.code))
            return render_template("auth/login.html", form=form), (429 if err.code == "throttled" else 200)
        db.session.commit()
        start_session(person)
        return redirect(safe_next(request.args.get("next")) or url_for("main.home"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End this session."""
    if LogoutForm().validate_on_submit():
        logout_user()
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
            db.session.commit()
            code = "invalid_code" if err.code == "invalid" else err.code
            field = form.password if code in ("too_short", "too_simple") else form.code
            field.errors.append(account_message(code))
            return render_template("auth/activate.html", form=form), (429 if code == "throttled" else 200)
        db.session.commit()
        start_session(person)
        flash(_("Your account is active. Welcome!"), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/activate.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change your password; your other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current.data, form.password.data)
        except accounts.AccountError as err:
            field = form.current if err.code == "wrong_current" else form.password
            field.errors.append(account_message(err.code))
            return render_template("auth/password.html", form=form)
        db.session.commit()
        # this device stays logged in under the new auth version (pass the person, not the proxy)
        start_session(current_user._get_current_object())
        flash(_("Password changed. Other devices have been logged out."), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
