"""Views of the tree blueprint."""

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from ... import policy
from ...access import login_required
from ...extensions import db
from ...models import Node
from ...services.people import tree
from . import bp


@bp.route("/")
@login_required
def mine():
    """Go to the person's own area; with several, list them."""
    nodes = [r.node for r in current_user.roles if r.node is not None]
    if len(nodes) == 1:
        return redirect(url_for("tree.node", node_id=nodes[0].id))
    return render_template("tree/mine.html", nodes=nodes, path=tree.node_path)


@bp.route("/<int:node_id>")
@login_required
def node(node_id):
    """One node: its path, its leaders and its children with theirs."""
    item = db.session.get(Node, node_id) or abort(404)
    policy.authorize(current_user, "view_node", item)
    kids = tree.children(item)
    leaders = tree.leaders_of([item, *kids])
    return render_template(
        "tree/node.html",
        node=item,
        path=tree.node_path(item),
        children=kids,
        leaders=leaders,
        counts=tree.descendant_counts(item),
    )
