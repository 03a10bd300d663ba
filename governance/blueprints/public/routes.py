"""Views of the public pages: the district, 街镇, community and 小区 progress pages, an issue's public page,
public photos, the notice-board poster, and the resident's one-time rating link.

Issue data comes only from services/public/projection.py (the rule of what is public). Pages are served from
services/public/page_cache.py with ETag/Last-Modified; what varies a page (language, filters) is part of its
cache key, and nothing else from the request is rendered. Absolute links (the poster's QR target) come
from urls.public_url: PUBLIC_BASE_URL, never the Host header of whoever asked first.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ... import policy, web
from ...access import login_required, public
from ...extensions import db
from ...formatting import (
    BEIJING,
    event_facts_line,
    event_line,
    format_fen,
    funding_kind_labels,
    in_language,
    level_label,
    local_time,
    status_label,
)
from ...models import STATUSES, Category, Issue, Node, utcnow
from ...parsing import parse_page
from ...qr import qr_svg
from ...services.issues import rating
from ...services.issues.listing import issue_by_reference
from ...services.money import ledger
from ...services.outreach import surveys
from ...services.people import identity
from ...services.platform import photos
from ...services.public import page_cache
from ...services.public import projection as public_data
from ...services.reports import node_report, rates
from ...urls import links_from_request_host, public_url
from . import bp, front
from .reporting import rating_page

REFERENCE_RE = re.compile(r"^[A-Z0-9-]{1,24}$")
CODE_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
LEVEL_TITLES = {
    "district": _l("District"),
    "street": _l("Street / town"),
    "community": _l("Community / village"),
    "compound": _l("Compound"),
}


@bp.context_processor
def helpers() -> dict:
    """What the public templates use."""
    return {
        "status_label": status_label,
        "level_label": level_label,
        "local_time": local_time,
        "rate_text": rate_text,
        "category_label": category_label,
        "public_event_line": public_event_line,
        "public_event_facts": public_event_facts,
        "LEVEL_TITLES": LEVEL_TITLES,
        "fen": format_fen,
    }


def scope_figures(level: str, target, condition) -> rates.Figures:
    """All-time figures of a public scope: the rollups for a node of the tree, the raw rows for a 小区."""
    if level in ("district", "street", "community"):
        return node_report.node_figures(target, node_report.all_time()).get(None) or node_report.empty()
    return rates.figures(condition)


def rate_text(value: float | None) -> str:
    """A rate as a percentage with one decimal, or 'no data yet' (never 0 % for nothing to divide)."""
    return _("no data yet") if value is None else f"{value * 100:.1f}%"


def category_label(item) -> str:
    """A public issue's category in the interface language."""
    return in_language(item.category_zh, item.category_en)


class _TimelineLine:
    """A public event shaped like an IssueEvent, so the issue page's wording (and translations) is reused.

    actor_id is never None here: the public page does not say who (or whether the system) acted.
    """

    def __init__(self, event):
        self.__dict__.update(vars(event))
        self.actor_id = 0
        self.note = event.text
        self.facts = {"reason_id": event.reason_id} if event.reason_id else {}  # the only public fact


def public_event_line(event) -> str:
    """What one public timeline entry did, in one line."""
    return event_line(_TimelineLine(event))


def public_event_facts(event) -> str:
    """What the public may read besides the line: a rejection's reason from the managed list ("" otherwise)."""
    return event_facts_line(_TimelineLine(event)) if event.reason_id else ""


# --- caching -------------------------------------------------------------------------------------


def cached(tag: str, variant: str, render, mimetype: str = "text/html"):
    """Serve a page from the public cache (rendering it on a miss) with validators; 304 when they match."""
    if links_from_request_host():
        # A link built from the Host header: served to this visitor only.
        return make_response(render(), {"Content-Type": f"{mimetype}; charset=utf-8"})
    variant = f"{get_locale()}|{variant}"
    entry, gen = page_cache.lookup(tag, variant)
    if entry is None:
        entry = page_cache.store(tag, variant, render(), gen)
    g.private_page = False
    response = make_response(entry.body, {"Content-Type": f"{mimetype}; charset=utf-8"})
    response.set_etag(entry.etag)
    response.last_modified = datetime.fromtimestamp(entry.last_modified, UTC)
    response.headers["Cache-Control"] = f"public, max-age={page_cache.TTL}"
    response.vary.add("Cookie")  # the language a visitor chose lives in the session cookie
    front.offer(tag, variant)
    return response.make_conditional(request)


def read_filters() -> dict:
    """The list filters in their canonical form (anything else in the query string is ignored)."""
    status = request.args.get("status") or None
    if status not in (*STATUSES, "open"):
        status = None
    category = request.args.get("category") or None
    if category is not None and not CODE_RE.match(category):
        category = None
    return {"status": status, "category": category, "page": parse_page(request.args.get("page"))}


def link_args(filters: dict, **changes) -> dict:
    """Query arguments for a link to the list with some filters changed (page 1 is left out)."""
    merged = {**filters, **changes}
    return {k: v for k, v in merged.items() if v and not (k == "page" and v == 1)}


# --- the progress pages ---------------------------------------------------------------------------


@bp.route("/")
@public
def district():
    """The whole district: figures, its 街镇, its issues."""
    return scope_view("district", None)


@bp.route("/street/<int:node_id>")
@public
def street(node_id: int):
    """A 街镇: figures, its communities, its issues."""
    return scope_view("street", node_id)


@bp.route("/community/<int:node_id>")
@public
def community(node_id: int):
    """A community: figures, its 小区, its issues, the funding of its projects."""
    return scope_view("community", node_id)


@bp.route("/compound/<int:compound_id>")
@public
def compound(compound_id: int):
    """A 小区: figures, its issues, the funding of its projects."""
    return scope_view("compound", compound_id)


ENDPOINTS = {"district": ".district", "street": ".street", "community": ".community", "compound": ".compound"}


def place_url(level: str, target_id: int, **args) -> str:
    """The public page of a place."""
    if level == "district":
        return url_for(".district", **args)
    key = "compound_id" if level == "compound" else "node_id"
    return url_for(ENDPOINTS[level], **{key: target_id}, **args)


def scope_view(level: str, target_id: int | None):
    """One progress page (cached): figures, places below with theirs, the filtered issue list, funding."""
    filters = read_filters()
    here = place_url(level, target_id, **link_args(filters))
    tag = "district" if level == "district" else f"{level}:{target_id}"

    def render() -> str:
        target = public_data.scope_target(level, target_id)
        if target is None:
            abort(404)
        condition = public_data.scope_condition(level, target_id)
        categories = list(db.session.scalars(select(Category).order_by(Category.sort, Category.id)))
        category = next((c for c in categories if c.code == filters["category"]), None)
        unknown_category = filters["category"] is not None and category is None
        places = public_data.children(level, target)
        if level in ("district", "street") and places:  # from the rollups: a 街镇 has ~100,000 issues at full size
            by_child = node_report.node_figures(target, node_report.all_time(), places[0].level)
            places = [(place, by_child.get(place.id) or node_report.empty()) for place in places]
            figures = node_report.sum_of(by_child.values())
        else:
            places = [(place, rates.figures(public_data.scope_condition(place.level, place.id))) for place in places]
            figures = scope_figures(level, target, condition)
        page = public_data.issue_page(
            condition if not unknown_category else Issue.id.is_(None),
            filters["status"],
            category.id if category else None,
            filters["page"],
            level=level,
            by_status=None if unknown_category else figures.by_status,
        )
        fundings = [(p.id, ledger.public_funding(p)) for p in public_data.projects_of(level, target_id or 0)]
        return render_template(
            "public/scope.html",
            level=level,
            target=target,
            target_id=target_id,
            up=public_data.ancestors(level, target),
            figures=figures,
            places=places,
            page=page,
            filters=filters,
            categories=categories,
            statuses=STATUSES,
            fundings=fundings,
            surveys=surveys.public_summaries(target_id) if level == "compound" else [],
            leaders=identity.compound_leaders(target_id) if level == "compound" else [],
            kind_labels=funding_kind_labels(),
            here=here,
            place_url=place_url,
            link_args=link_args,
        )

    return cached(tag, here, render)


# --- feeds ------------------------------------------------------------------------------------------

ATOM = "application/atom+xml"


def atom_time(at: datetime) -> str:
    """An RFC 3339 time in UTC, as Atom wants it."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_response(tag: str, build):
    """An Atom feed of public events, cached and dropped with the page it follows: build() gives its title, the
    page's address, the entries and when it last changed, and runs (with its queries) only on a cache miss."""
    here = url_for(request.endpoint, **request.view_args)

    def render() -> str:
        title, page_url, entries, updated = build()
        return render_template(
            "public/feed.xml",
            title=title,
            page_url=page_url,
            feed_url=public_url(request.endpoint, **request.view_args),
            entries=entries,
            updated=atom_time(updated or utcnow()),
            atom_time=atom_time,
            in_language=in_language,
            issue_url=lambda reference: public_url(".issue", reference=reference),
        )

    return cached(tag, here, render, mimetype=ATOM)


def scope_feed(level: str, target_id: int):
    """The newest public events of the issues of a 小区 or a community."""

    def build():
        target = public_data.scope_target(level, target_id)
        if target is None:
            abort(404)
        entries = public_data.public_events_in(public_data.scope_condition(level, target_id))
        page = public_url(ENDPOINTS[level], **{"compound_id" if level == "compound" else "node_id": target_id})
        title = f"{target.name} · {_('Public progress')}"
        return title, page, entries, entries[0].event.at if entries else None

    return feed_response(f"{level}:{target_id}", build)


@bp.route("/compound/<int:compound_id>/feed.atom")
@public
def compound_feed(compound_id: int):
    """A 小区's public events as an Atom feed."""
    return scope_feed("compound", compound_id)


@bp.route("/community/<int:node_id>/feed.atom")
@public
def community_feed(node_id: int):
    """A community's public events as an Atom feed."""
    return scope_feed("community", node_id)


@bp.route("/issue/<reference>/feed.atom")
@public
def issue_feed(reference: str):
    """One issue's public timeline as an Atom feed, newest first."""
    reference = reference.strip().upper()
    if not REFERENCE_RE.match(reference):
        abort(404)

    def build():
        item = public_data.public_issue(reference)
        if item is None:
            abort(404)
        entries = [
            public_data.FeedEntry(e, item.reference, item.category_zh, item.category_en) for e in reversed(item.events)
        ]
        title = f"{item.reference} · {in_language(item.category_zh, item.category_en)}"
        page = public_url(".issue", reference=reference)
        return title, page, entries, entries[0].event.at if entries else item.updated_at

    return feed_response(f"issue:{reference}", build)


@bp.route("/search")
@public
def search():
    """Find a page by an issue's reference (or only its number, as a notice prints it) or a 小区's name: one
    issue opens its page; otherwise the 小区 whose names hold the text (not cached: the text is anything)."""
    typed = " ".join((request.args.get("q") or "").split())[:40]
    if not typed:
        return redirect(url_for(".district"))
    issue = issue_by_reference(typed)
    if issue is not None:
        return redirect(url_for(".issue", reference=issue.reference))
    return render_template("public/search.html", typed=typed, compounds=public_data.compounds_named(typed))


@bp.route("/issue/<reference>")
@public
def issue(reference: str):
    """An issue's public page: where, status, dates, its public timeline and public photos (cached)."""
    reference = reference.strip().upper()
    if not REFERENCE_RE.match(reference):
        abort(404)
    here = url_for(".issue", reference=reference)

    def render() -> str:
        item = public_data.public_issue(reference)
        if item is None:
            abort(404)
        community = db.session.get(Node, item.community_id)
        return render_template("public/issue.html", item=item, here=here, community_name=community.name)

    return cached(f"issue:{reference}", here, render)


@bp.route("/photo/<int:photo_id>", defaults={"thumb": False})
@bp.route("/photo/<int:photo_id>/thumb", defaults={"thumb": True})
@public
def photo(photo_id: int, thumb: bool):
    """A photo staff marked public (or its thumbnail); every other photo is 404, as if it did not exist."""
    item = public_data.public_photo(photo_id)
    if item is None:
        abort(404)
    name = item.thumb_name if thumb and item.thumb_name else item.stored_name
    response = photos.send_stored_image(name)
    # Public, but revalidated within a minute: a photo staff un-publish disappears from caches soon.
    response.headers["Cache-Control"] = f"public, max-age={page_cache.TTL}"
    g.private_page = False
    return response


@bp.route("/compound/<int:compound_id>/poster")
@public
def poster(compound_id: int):
    """The printable A4 notice-board poster of a 小区: its figures (as its public page shows them), the date, a
    large QR code of its public page saying what it is for, and a print button (static/js/print.js)."""
    target_url = public_url(".compound", compound_id=compound_id)
    report_url = public_url(".report", compound_id=compound_id)
    here = url_for(".poster", compound_id=compound_id)

    def render() -> str:
        target = public_data.scope_target("compound", compound_id)
        if target is None:
            abort(404)
        return render_template(
            "public/poster.html",
            target=target,
            # The compound page's own figures (scope_figures), so the sheet and the page never differ.
            figures=scope_figures("compound", target, public_data.scope_condition("compound", compound_id)),
            statuses=STATUSES,
            target_url=target_url,
            qr=qr_svg(target_url, _("QR code: %(url)s", url=target_url)),
            printed=datetime.now(BEIJING).strftime("%Y-%m-%d"),
            leaders=identity.compound_leaders(compound_id),
            report_url=report_url,
            report_qr=qr_svg(report_url, _("QR code: %(url)s", url=report_url)),
        )

    return cached(f"compound:{compound_id}", here, render)


# --- resident rating ------------------------------------------------------------------------------


@bp.route("/rating-link/<int:issue_id>", methods=["POST"])
@login_required
def rating_link(issue_id: int):
    """Make a one-time rating link for a resolved issue and show it with its QR code (the 邻长 hands it over)."""
    issue = db.session.get(Issue, issue_id)
    if issue is None or not policy.allowed(current_user, "view_issue", issue):
        abort(404)
    outcome = web.attempt(lambda: rating.create_link(current_user, issue))
    if outcome.refused:
        if outcome.error.code == "forbidden":
            abort(403)
        flash(outcome.error.message, "error")
        return redirect(url_for("issues.detail", issue_id=issue.id))
    url = public_url(".rate", token=outcome.result)
    expires = local_time(datetime.now(UTC) + timedelta(days=rating.LINK_DAYS), with_time=False)
    return render_template(
        "public/rating_link.html",
        issue=issue,
        url=url,
        qr=qr_svg(url, _("QR code of the rating link")),
        expires=expires,
    )


def gone(err: rating.RatingError):
    """The page for a link that cannot be used: 404 when unknown, 410 when used, expired or no longer ratable."""
    return render_template("public/gone.html", message=err.message), err.status


@bp.route("/rate/<token>", methods=["GET", "POST"])
@public
def rate(token: str):
    """The resident's one-time rating: the issue's public summary and three equal answers, none chosen; a
    chosen answer is shown back to confirm (or choose again) before it counts, once."""
    link = rating.find(token)
    try:
        rating.check(link)
    except rating.RatingError as err:
        return gone(err)
    item = public_data.public_issue(link.issue.reference, with_timeline=False)
    return rating_page(item, lambda chosen: rating.rate(token, chosen), url_for(".rate", token=token))
