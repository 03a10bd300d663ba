"""Views of the inbox blueprint, and the unread count every page's top bar shows."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ... import web
from ...access import login_required
from ...extensions import db
from ...parsing import parse_id, parse_page
from ...services.platform import notify
from . import bp
from .forms import ReadForm

PAGE_SIZE = 30


def unread_badge() -> str:
    """The top bar's unread count ('' when none, '99+' beyond the cap); once per request, and usually counted by
    the statement that loaded the person."""
    if "inbox_unread" in g:
        return g.inbox_unread
    text = ""
    if current_user and current_user.is_authenticated:
        try:
            count = notify.unread_count(current_user)
            text = f"{notify.UNREAD_CAP}+" if count > notify.UNREAD_CAP else (str(count) if count else "")
        except SQLAlchemyError:  # an error page must still render when the database is the problem
            db.session.rollback()
    g.inbox_unread = text
    return text


@bp.app_context_processor
def inbox_badge():
    """Every template may call inbox_unread(); it queries only when the top bar asks for it."""
    return {"inbox_unread": unread_badge}


@bp.route("/")
@login_required
def index():
    """The person's notifications, newest first; unread ones marked."""
    page = parse_page(request.args.get("page"))
    items = notify.inbox(current_user, page, PAGE_SIZE)
    return render_template(
        "inbox/index.html",
        items=items,
        page=page,
        has_older=len(items) == PAGE_SIZE,
        form=ReadForm(),
        inbox_line=notify.inbox_line,
    )


@bp.route("/read", methods=["POST"])
@login_required
def read():
    """Mark one notification (field `id`) or all of them read."""
    form = ReadForm()
    page = parse_page(request.form.get("page"))
    back = url_for(".index", page=page if page > 1 else None)
    if not form.validate_on_submit():
        return redirect(back, code=303)
    raw = (form.id.data or "").strip()
    one = parse_id(raw) if raw else None

    def mark():
        if raw:
            if one is not None:  # someone else's id simply matches nothing
                notify.mark_read(current_user, [one])
        else:
            notify.mark_read(current_user)

    return web.perform(
        mark,
        done=None if raw else _("All notifications marked read."),
        to=back,
        refused=lambda err: redirect(back, code=303),
        say_refusal=True,
    )
