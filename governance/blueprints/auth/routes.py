"""Views of the auth blueprint."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import auth_session, web
from ...access import login_required, public, requires
from ...client import client_address
from ...extensions import db
from ...parsing import parse_mobile
from ...services.people import accounts, identity
from ...urls import safe_next
from . import bp
from .forms import ActivateForm, LoginForm, LogoutForm, PasswordForm, ProfileForm

PASSWORD_PROBLEMS = ("too_short", "too_common", "contains_mobile")


def refused(err: accounts.AccountError) -> tuple[int, dict]:
    """The status and headers of a page that shows this refusal: 429 with Retry-After when throttled."""
    if err.status != 429:
        return err.status, {}
    return 429, {"Retry-After": str(err.retry_after or 15 * 60)}


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    """Log in with mobile number and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = web.attempt(
            lambda: auth_session.start(accounts.authenticate(form.mobile.data, form.password.data, client_address()))
        )
        if outcome.refused:
            form.password.errors.append(outcome.error.message)
            activate_link = None
            if outcome.error.code == "not_activated":  # straight on to the activation form, the number filled in
                activate_link = url_for("auth.activate", mobile=parse_mobile(form.mobile.data))
            page = render_template("auth/login.html", form=form, activate_link=activate_link)
            return page, *refused(outcome.error)
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
    """First login with the one-time code from the printed slip (activation)."""
    return use_code(reset=False)


@bp.route("/reset", methods=["GET", "POST"])
@public
def reset():
    """A new password with the password-reset code the community branch printed (the same form)."""
    return use_code(reset=True)


def use_code(reset: bool):
    """The activation form, on either page: mobile number, the code from the slip, a password twice. Either
    page takes either kind of code; they differ in their words only. Using a code logs this device in and ends
    every other session of the person (a reset: whoever knew the old password is out)."""
    form = ActivateForm()
    if reset:
        form.code.label.text = _("Reset code")
    if request.method == "GET":
        # The slip's QR code opens this page with the leader's number filled in (?mobile=…); anything that is
        # not a mobile number is left out. Only the number: the code is typed by hand from the slip.
        form.mobile.data = parse_mobile(request.args.get("mobile"))
    if form.validate_on_submit():

        def use_and_start():
            try:
                used = accounts.activate(form.mobile.data, form.code.data, form.password.data, client_address())
            except accounts.AccountError as err:
                if err.code == "invalid":  # here it was the code that was not right
                    raise accounts.AccountError("invalid_reset_code" if reset else "invalid_code") from err
                raise
            auth_session.end_all(used.person)
            auth_session.start(used.person)
            return used

        return web.perform(
            use_and_start,
            done=lambda used: (
                _("Your new password is set. Anywhere else you were logged in has been logged out.")
                if used.reset
                else _("Your account is active. Welcome!")
            ),
            to=url_for("main.home"),
            refused=lambda err: code_refused(form, err, reset),
            code=302,
        )
    return render_template("auth/activate.html", form=form, reset=reset)


def code_refused(form, err: accounts.AccountError, reset: bool):
    field = form.password if err.code in PASSWORD_PROBLEMS else form.code
    field.errors.append(err.message)
    return render_template("auth/activate.html", form=form, reset=reset), *refused(err)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change your password; your other sessions end."""
    form = PasswordForm()
    if form.validate_on_submit():
        person = current_user._get_current_object()  # the person, not the proxy

        def change_and_restart():
            accounts.change_password(person, form.current.data, form.password.data, client_address())
            # every session ends; this device goes on in a new one under the new auth version
            auth_session.end_all(person)
            auth_session.start(person)

        def password_refused(err):
            field = form.password if err.code in PASSWORD_PROBLEMS else form.current
            field.errors.append(err.message)
            return render_template("auth/password.html", form=form), *refused(err)

        return web.perform(
            change_and_restart,
            done=_("Password changed. Other devices have been logged out."),
            to=url_for("main.home"),
            refused=password_refused,
            code=302,
        )
    return render_template("auth/password.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
@requires("show_identity")
def profile():
    """亮身份: choose whether (and how) residents of the compounds one serves see one's name."""
    person = current_user._get_current_object()
    form = (
        ProfileForm() if request.method == "POST" else ProfileForm(formdata=None, listing=person.public_listing or "")
    )
    if request.method == "POST":
        if not form.validate():
            abort(400)
        return web.perform(
            lambda: identity.set_listing(person, form.listing.data or None),
            done=_("Saved. The public pages of your compounds show it from now on."),
            to=url_for(".profile"),
            refused=lambda err: (render_template("auth/profile.html", form=form, error=err.message), err.status),
        )
    return render_template("auth/profile.html", form=form, example=identity.shown_name(person.name, "surname"))
