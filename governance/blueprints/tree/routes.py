"""Views of the tree blueprint."""

from flask import abort, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ... import policy
from ...access import login_required
from ...extensions import db
from ...models import Node, utcnow
from ...services.issues.listing import COUNT_CAP, Filters, count_each, load_issues, matching, page_keys
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
        **(neighbour_view(item) if item.level == "neighbour" else {}),
    )


# What the page of a 邻 counts of its issues: (label, the list's filters) — each count links to that list.
NEIGHBOUR_ISSUE_COUNTS = (
    (_l("Not yet resolved"), {"status": "open"}),
    (_l("Overdue"), {"overdue": True}),
    (_l("Awaiting callback"), {"status": "resolved"}),
    (_l("Closed"), {"status": "closed"}),
)
RECENT_ISSUES = 5


def neighbour_view(neighbour) -> dict:
    """A 邻 has no 邻 below it: its page shows its 小区 with the buildings, and the state of its issues (each
    count as the issue list counts it, linking there) with the latest few."""
    now = utcnow()
    shown = [(label, Filters(node=neighbour, **fields)) for label, fields in NEIGHBOUR_ISSUE_COUNTS]
    statements = [matching(current_user, filters, now) for _, filters in shown]
    counted = iter(count_each([s for s in statements if s is not None], COUNT_CAP))
    counts = [
        (
            label,
            next(counted) if statement is not None else 0,
            url_for("issues.index", **filters.args()),
            filters.overdue,
        )
        for (label, filters), statement in zip(shown, statements, strict=True)
    ]
    keys = page_keys(current_user, Filters(node=neighbour), None, now, RECENT_ISSUES)[:RECENT_ISSUES]
    recent = load_issues([issue_id for issue_id, _ in keys], row_only=True)
    return {"issue_counts": counts, "count_cap": COUNT_CAP, "recent": recent, "compound": neighbour.compound}
