"""Views of the tree edits (调整网格): rename, move, merge and split a node from its page.

Each page is a form; sending it shows what the edit will change (how many 邻 and issues move, where to) and
asks to confirm; the confirmed form runs the service (services/people/structure.py) through web.perform:
one commit, or the refusal shown beside the form. Who may do what is the policy's ("rename_node",
"edit_tree", "move_node"); the views only ask.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import policy, web
from ...access import login_required
from ...extensions import db
from ...formatting import LEVEL_LABELS
from ...forms import options
from ...models import Node, RoleAssignment
from ...parsing import parse_id
from ...services.people import structure, tree
from ...services.people.structure import StructureError
from . import bp
from .forms import MergeForm, MoveForm, RenameForm, SplitForm


def _node(node_id: int) -> Node:
    return db.session.get(Node, node_id) or abort(404)


def _label(node: Node) -> str:
    """A node in a list of choices: its path below the community (the community is chosen separately)."""
    names = [n.name for n in structure.node_path(node) if n.level in ("zone", "group", "neighbour")]
    return " / ".join(names)


def _heading(node: Node, kind: str) -> str:
    if kind == "rename":
        return _("Rename %(name)s", name=node.name)
    if kind == "move":
        return _("Move %(name)s", name=node.name)
    if kind == "merge":
        return _("Merge %(name)s into another neighbour unit (邻)", name=node.name)
    return _("Split %(name)s", name=node.name)


def _page(node: Node, kind: str, form, *, preview=None, status: int = 200, **extra):
    return (
        render_template(
            "tree/edit.html",
            node=node,
            kind=kind,
            heading=_heading(node, kind),
            form=form,
            preview=preview,
            path=structure.node_path(node),
            place=structure.path_text(node),
            **extra,
        ),
        status,
    )


def _refused_on(form, field_name: str, render):
    """A refusal from the service: its message beside the field it is about, the page with its status."""

    def refused(err: StructureError):
        getattr(form, field_name).errors = [err.message]
        form.confirm.data = ""
        return render(form, err.status)

    return refused


def _preview_or_do(form, render, field_name: str, check, run, done, to):
    """The POST of an edit form: not valid → the form again; not confirmed → what it will change (or why
    not); confirmed → the edit, committed once (web.submit)."""
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        form.confirm.data = ""
        return render(form, 200)
    if not form.confirmed:
        try:
            preview = check()
        except StructureError as err:
            db.session.rollback()
            return _refused_on(form, field_name, render)(err)
        form.confirm.data = "1"
        return render(form, 200, preview)
    return web.perform(run, done=done, to=to, refused=_refused_on(form, field_name, render))


# --- rename -----------------------------------------------------------------------------------------


@bp.route("/<int:node_id>/rename", methods=["GET", "POST"])
@login_required
def rename(node_id: int):
    """Give a node a new name (片/组/邻 by the branch and the admins above; a community or 街镇 by an admin
    above it)."""
    item = _node(node_id)
    policy.authorize(current_user, "rename_node", item)

    def render(form, status=200, preview=None):
        return _page(item, "rename", form, preview=preview, status=status)

    if request.method == "GET":
        return render(RenameForm(formdata=None, data={"name": item.name}))
    form = RenameForm()
    return _preview_or_do(
        form,
        render,
        "name",
        check=lambda: {"old": item.name, "new": structure.check_rename(current_user, item, form.name.data)},
        run=lambda: structure.rename(current_user, item, form.name.data),
        done=lambda node: _("Renamed: it is now called %(name)s.", name=node.name),
        to=lambda node: url_for("tree.node", node_id=node.id),
    )


# --- move -------------------------------------------------------------------------------------------


def _move_community(node: Node, communities: list[Node]) -> Node | None:
    """The community whose places the move form offers: the one asked for, if offered, else the first."""
    wanted = parse_id(request.values.get("community"))
    return next((c for c in communities if c.id == wanted), communities[0] if communities else None)


@bp.route("/<int:node_id>/move", methods=["GET", "POST"])
@login_required
def move(node_id: int):
    """Move a 邻 to another 组, or a 组 to another 片 (across communities for the admins above both)."""
    item = _node(node_id)
    policy.authorize(current_user, "edit_tree", item)
    if item.level not in structure.MOVE_PARENT:
        abort(404)
    communities = structure.move_communities(current_user, item)
    community = _move_community(item, communities)
    parents = structure.move_parents(current_user, item, community) if community is not None else []
    choices = options((str(p.id), _label(p)) for p in parents)

    def render(form, status=200, preview=None):
        chosen = db.session.get(Node, form.parent_id.id_value) if form.parent_id.id_value else None
        return _page(
            item,
            "move",
            form,
            preview=preview,
            status=status,
            communities=communities,
            community=community,
            parent_level=LEVEL_LABELS[structure.MOVE_PARENT[item.level]],
            chosen=chosen,
            chosen_place=structure.path_text(chosen) if chosen is not None else "",
        )

    form = MoveForm() if request.method == "POST" else MoveForm(formdata=None)
    form.parent_id.choices = choices
    if request.method == "GET":
        return render(form)

    def new_parent() -> Node | None:
        return db.session.get(Node, form.parent_id.id_value)

    return _preview_or_do(
        form,
        render,
        "parent_id",
        check=lambda: structure.check_move(current_user, item, new_parent()),
        run=lambda: structure.move(current_user, item, new_parent()),
        done=lambda impact: _(
            "Moved: %(neighbours)s neighbour units (邻) and %(issues)s issues are now under %(parent)s.",
            neighbours=impact.neighbours,
            issues=impact.issues,
            parent=new_parent().name,
        ),
        to=url_for("tree.node", node_id=item.id),
    )


# --- merge ------------------------------------------------------------------------------------------


@bp.route("/<int:node_id>/merge", methods=["GET", "POST"])
@login_required
def merge(node_id: int):
    """Merge a 邻 into another 邻 of its community: its issues go there, its 邻长's role ends, it is deleted."""
    item = _node(node_id)
    policy.authorize(current_user, "edit_tree", item)
    if item.level != "neighbour":
        abort(404)
    choices = options((str(n.id), _label(n)) for n in structure.merge_targets(current_user, item))
    leaders = [
        r.person.name for r in db.session.scalars(db.select(RoleAssignment).where(RoleAssignment.node_id == item.id))
    ]

    def render(form, status=200, preview=None):
        kept = db.session.get(Node, form.kept_id.id_value) if form.kept_id.id_value else None
        return _page(
            item,
            "merge",
            form,
            preview=preview,
            status=status,
            kept=kept,
            kept_place=structure.path_text(kept) if kept is not None else "",
            leaders=leaders,
        )

    form = MergeForm() if request.method == "POST" else MergeForm(formdata=None)
    form.kept_id.choices = choices
    if request.method == "GET":
        return render(form)
    kept_id = form.kept_id.id_value

    return _preview_or_do(
        form,
        render,
        "kept_id",
        check=lambda: structure.check_merge(current_user, item, db.session.get(Node, kept_id)),
        run=lambda: structure.merge(current_user, item, db.session.get(Node, kept_id)),
        done=lambda impact: _(
            "Merged: %(issues)s issues moved to %(kept)s.",
            issues=impact.issues,
            kept=db.session.get(Node, kept_id).name,
        ),
        to=url_for("tree.node", node_id=kept_id or item.id),
    )


# --- split ------------------------------------------------------------------------------------------


@bp.route("/<int:node_id>/split", methods=["GET", "POST"])
@login_required
def split(node_id: int):
    """Split a 组: a new 组 under the same 片, with the ticked 邻 moved into it."""
    item = _node(node_id)
    policy.authorize(current_user, "edit_tree", item)
    if item.level != "group":
        abort(404)
    kids = tree.children(item)
    form = SplitForm() if request.method == "POST" else SplitForm(formdata=None)
    form.neighbours.choices = options((n.id, n.name) for n in kids)

    def chosen() -> list[Node]:
        wanted = set(form.neighbours.data or [])
        return [n for n in kids if n.id in wanted]

    def render(form, status=200, preview=None):
        return _page(item, "split", form, preview=preview, status=status, kids=kids, chosen=chosen())

    if request.method == "GET":
        return render(form)
    return _preview_or_do(
        form,
        render,
        "name",
        check=lambda: structure.check_split(current_user, item, form.name.data, chosen())[1],
        run=lambda: structure.split(current_user, item, form.name.data, chosen()),
        done=lambda created: _(
            "Split: the new group (组) %(name)s now holds the neighbour units (邻) you ticked.", name=created.name
        ),
        to=lambda created: url_for("tree.node", node_id=created.id),
    )
