"""Views of the admin blueprint: people, roles and activation codes."""

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ... import policy, web
from ...access import login_required, requires
from ...extensions import db
from ...models import Node, Person, RoleAssignment
from ...parsing import parse_page
from ...qr import qr_svg
from ...services.errors import ServiceError
from ...services.people import accounts, directory
from ...services.people.tree import children, node_path
from ...urls import public_url
from . import bp
from .forms import ConfirmForm

PAGE_SIZE = 30


@dataclass
class Slip:
    """One person's printed slip: the code, and the address that opens the page to use it with the person's
    number filled in, as text and as a QR code (the code itself stays on paper: it is typed by hand)."""

    item: accounts.IssuedCode
    link: str
    qr: Markup


def slips(issued: list[accounts.IssuedCode]) -> list[Slip]:
    """The slips of a printed sheet; absolute addresses only from urls.public_url (PUBLIC_BASE_URL)."""
    made = []
    for item in issued:
        link = public_url("auth.reset" if item.reset else "auth.activate", mobile=item.person.mobile)
        made.append(Slip(item, link, qr_svg(link, _("QR code: %(url)s", url=link))))
    return made


def print_sheet(node: Node | None, issued: list[accounts.IssuedCode]):
    """The printable sheet of slips, one per person (node: the part of the tree it is for, or None)."""
    return render_template("admin/codes_print.html", node=node, slips=slips(issued), path=node_path)


def refused(err: ServiceError, back: str):
    """A refused change to an account: said, and back to the page it was asked from."""
    flash(err.message, "error")
    return redirect(back)


def handed_on(handover) -> str:
    """What turnover moved, for the manager who ended the role: nothing to say when nothing moved."""
    if handover is None or not (handover.moved_issues or handover.moved_callbacks):
        return ""
    return _(
        "%(issues)s open issue(s) and %(callbacks)s owed callback(s) were handed on; whoever received them was told.",
        issues=handover.moved_issues,
        callbacks=handover.moved_callbacks,
    )


@bp.route("/people")
@requires("manage_people")
def people_list():
    """Search the people inside one's scope by name or mobile number."""
    q = (request.args.get("q") or "").strip()[:40]
    page = parse_page(request.args.get("page"))
    found, total = directory.search(current_user, q, page, PAGE_SIZE)
    return render_template("admin/people.html", q=q, people=found, total=total, page=page, page_size=PAGE_SIZE)


@bp.route("/people/<int:person_id>")
@login_required
def person(person_id):
    """One person: their roles, their account state, and what the viewer may do to them."""
    other = db.session.get(Person, person_id) or abort(404)
    policy.authorize(current_user, "view_person", other)
    return render_template("admin/person.html", other=other, form=ConfirmForm(), path=node_path)


@bp.route("/people/<int:person_id>/enabled", methods=["POST"])
@login_required
def set_enabled(person_id):
    """Disable or re-enable an account."""
    other = db.session.get(Person, person_id) or abort(404)
    policy.authorize(current_user, "manage_person", other)
    back = url_for("admin.person", person_id=other.id)
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    enable = request.form.get("enable") == "1"
    return web.perform(
        lambda: accounts.set_enabled(current_user, other, enable),
        done=lambda handover: (
            _("Account enabled.")
            if enable
            else " ".join(filter(None, (_("Account disabled; its sessions have ended."), handed_on(handover))))
        ),
        to=back,
        refused=lambda err: refused(err, back),
        code=302,
    )


@bp.route("/roles/<int:role_id>/remove", methods=["POST"])
@login_required
def remove_role(role_id):
    """Take one role away from a person."""
    role = db.session.get(RoleAssignment, role_id) or abort(404)
    policy.authorize(current_user, "manage_role", role)
    back = url_for("admin.person", person_id=role.person_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    return web.perform(
        lambda: accounts.remove_role(current_user, role),
        done=lambda handover: " ".join(filter(None, (_("Role removed."), handed_on(handover)))),
        to=back,
        refused=lambda err: refused(err, back),
        code=302,
    )


@bp.route("/people/<int:person_id>/code", methods=["POST"])
@login_required
def person_code(person_id):
    """Issue one person a new code and print their slip: a new activation code (a lost slip), or a
    password-reset code once the account is active (a forgotten password, a locked-out phone). Asked from the
    person's page or the 片's code page; the refusal goes back to the person's page."""
    other = db.session.get(Person, person_id) or abort(404)
    policy.authorize(current_user, "issue_person_code", other)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.person", person_id=other.id))
    outcome = web.attempt(lambda: accounts.issue_code(current_user, other))
    if outcome.refused:
        return refused(outcome.error, url_for("admin.person", person_id=other.id))
    return print_sheet(None, [outcome.result])


SHEET_LEVELS = ("zone", "group", "neighbour")


@bp.route("/codes/<int:node_id>", methods=["GET", "POST"])
@login_required
def codes(node_id):
    """Print activation codes for everyone under a 片 (or smaller) who has not activated yet."""
    node = db.session.get(Node, node_id) or abort(404)
    policy.authorize(current_user, "issue_codes", node)
    if node.level not in SHEET_LEVELS:
        # A sheet is one 片 at most: above that, choose the part to print (and keep requests small).
        return render_template("admin/codes_choose.html", node=node, children=children(node), path=node_path(node))
    people = [p for p in accounts.people_under(node) if p.enabled]
    waiting = [p for p in people if p.password_hash is None and policy.allowed(current_user, "manage_person", p)]
    form = ConfirmForm()
    if form.validate_on_submit():
        outcome = web.attempt(lambda: accounts.issue_sheet(current_user, waiting))
        if outcome.refused:
            return refused(outcome.error, url_for("admin.codes", node_id=node.id))
        return print_sheet(node, outcome.result)
    # The active leaders here, each with a button for a password-reset code of their own (admin.person_code).
    active = [p for p in people if p.password_hash and policy.allowed(current_user, "issue_person_code", p)]
    return render_template(
        "admin/codes.html", node=node, waiting=waiting, active=active, form=form, path=node_path(node)
    )
