"""Views of the tree blueprint."""

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from ... import policy
from ...access import login_required
from ...extensions import db
from ...models import Node
from ...services.people import tree, vacancies
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
    within = vacancies.counts_within(kids)
    return render_template(
        "tree/node.html",
        node=item,
        path=tree.node_path(item),
        children=kids,
        leaders=leaders,
        counts=tree.descendant_counts(item),
        # Vacancies (空缺): the node's own and its children's (since when), how many lie in each child's area,
        # and below the node (their sum: every node below lies in exactly one child's area).
        vacant_since=vacancies.vacant_since([item, *kids]),
        vacant_within=within,
        vacant_below=sum(within.values(), vacancies.VacancyCounts()),
    )
