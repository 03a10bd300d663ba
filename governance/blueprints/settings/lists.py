"""The lists admins keep — problem categories, rejection reasons, response templates, responsible parties
and group robots — served by one set of views: the list with a form to add a row, one row's page to edit
it, and the switch that turns a row off or on again. Each list is described once (ManagedListPages) and
registered under the endpoints and URLs it has always had."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ... import web
from ...access import requires
from ...extensions import db
from ...services import settings as service
from .forms import ConfirmForm, ManagedItemForm


def refused(form, render, place) -> Callable:
    """How a refused change is answered: the page again with what was typed and why, the message beside the
    field `place(form, code)` names (a name taken meanwhile by another admin), else at the top."""

    def answer(err: service.SettingsError):
        beside = place(form, err.code)
        if beside is None:
            flash(err.message, "error")
        else:
            beside.errors = [*beside.errors, err.message]
        return render(form), err.status

    return answer


@dataclass(frozen=True)
class ManagedListPages:
    """How one list admins keep is shown and changed.

    For the endpoint "reject_reasons" and the singular "reject_reason": the list page is /reject-reasons
    (template settings/reject_reasons.html), one row's page /reject-reasons/<reason_id> (endpoint
    reject_reason, template settings/reject_reason.html; only when the list has an `edit_form`), and the
    switch /reject-reasons/<reason_id>/active (endpoint reject_reason_active).
    """

    endpoint: str  # the list page's endpoint, e.g. "reject_reasons"
    singular: str  # one row's endpoint, e.g. "reject_reason"
    id_arg: str  # the row id's name in URLs, e.g. "reason_id"
    action: str  # the policy action every page of the list requires
    rules: service.ManagedList
    new_form: type[ManagedItemForm]
    rows: Callable[[], list]
    added: Callable[[object], str]  # the message once a row is added
    switched_on: Callable[[object], str]
    switched_off: Callable[[object], str]
    edit_form: type[ManagedItemForm] | None = None  # None: rows have no page of their own
    saved: Callable[[object], str] | None = None
    blank: Callable[[], dict] = dict  # what the add form shows at first (besides the next position)
    choices: Callable[[ManagedItemForm], ManagedItemForm] = lambda form: form  # fills the selects
    list_extras: Callable[[], dict] = dict  # more for the list page's template
    item_extras: Callable[[object], dict] = lambda item: {}  # more for a row's page
    values: Callable[[ManagedItemForm], dict] = lambda form: form.values()  # what the service takes
    load: Callable[[int], object] | None = None  # the row of an id, or 404 (403 when not the person's)
    after_add: Callable[[object], str] | None = None  # where an added row leads (default: the list)
    after_switch: Callable[[object], str] | None = None  # where a switched row leads (default: the list)
    refusal_field: Callable[[ManagedItemForm, str], object] = lambda form, code: None  # see refused()

    @property
    def path(self) -> str:
        return "/" + self.endpoint.replace("_", "-")

    def form(self, item=None, posted: bool = False) -> ManagedItemForm:
        """The add form (item None) or a row's form, showing the row (or the blank) or, posted, what was typed."""
        form_class = self.new_form if item is None else self.edit_form
        item_id = item.id if item is not None else None
        if posted:
            return self.choices(form_class(item_id=item_id))
        if item is not None:
            data = form_class.data_of(item)
        else:
            data = self.blank()
            if hasattr(self.rules.model, "sort"):  # a new row goes after the last one unless moved
                data.setdefault("sort", str(self.rules.next_position()))
        return self.choices(form_class(formdata=None, data=data, item_id=item_id))

    def row(self, item_id: int):
        if self.load is not None:
            return self.load(item_id)
        return db.session.get(self.rules.model, item_id) or abort(404)

    def list_url(self, _item=None) -> str:
        return url_for(f"settings.{self.endpoint}")

    def list_page(self, form: ManagedItemForm):
        return render_template(
            f"settings/{self.endpoint}.html", form=form, rows=self.rows(), confirm=ConfirmForm(), **self.list_extras()
        )

    def item_page(self, item, form: ManagedItemForm, **extras):
        """A row's page; `extras`, when given, instead of what `item_extras` shows (e.g. a posted pairing)."""
        return render_template(
            f"settings/{self.singular}.html",
            item=item,
            form=form,
            confirm=ConfirmForm(),
            list_url=self.list_url(),
            active_url=url_for(f"settings.{self.singular}_active", **{self.id_arg: item.id}),
            **(extras or self.item_extras(item)),
        )


def register(bp: Blueprint, pages: ManagedListPages) -> None:
    """The list's views, each open to those the policy allows `pages.action`."""

    def list_view():
        if request.method == "GET":
            return pages.list_page(pages.form())
        form = pages.form(posted=True)
        return web.submit(
            form,
            pages.list_page,
            lambda: pages.rules.add(**pages.values(form)),
            done=pages.added,
            to=pages.after_add or pages.list_url,
            refused=refused(form, pages.list_page, pages.refusal_field),
            code=302,
        )

    def item_view(**ids):
        item = pages.row(ids[pages.id_arg])
        if request.method == "GET":
            return pages.item_page(item, pages.form(item))
        form = pages.form(item, posted=True)

        def page(typed):
            return pages.item_page(item, typed)

        return web.submit(
            form,
            page,
            lambda: pages.rules.update(item, **pages.values(form)),
            done=lambda _result: pages.saved(item),
            to=pages.list_url,
            refused=refused(form, page, pages.refusal_field),
            code=302,
        )

    def active_view(**ids):
        item = pages.row(ids[pages.id_arg])
        back = (pages.after_switch or pages.list_url)(item)
        if not ConfirmForm().validate_on_submit():
            return redirect(back)
        active = request.form.get("active") == "1"
        return web.perform(
            lambda: pages.rules.set_active(item, active),
            done=lambda _result: (pages.switched_on if active else pages.switched_off)(item),
            to=back,
            refused=lambda _err: redirect(back),
            say_refusal=True,
            code=302,
        )

    views = [(pages.path, pages.endpoint, list_view)]
    if pages.edit_form is not None:
        views.append((f"{pages.path}/<int:{pages.id_arg}>", pages.singular, item_view))
    views.append((f"{pages.path}/<int:{pages.id_arg}>/active", f"{pages.singular}_active", active_view))
    for rule, endpoint, view in views:
        view.__name__ = endpoint
        methods = ["POST"] if endpoint.endswith("_active") else ["GET", "POST"]
        bp.add_url_rule(rule, endpoint=endpoint, view_func=requires(pages.action)(view), methods=methods)
