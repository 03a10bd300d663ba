"""Views of the main blueprint."""

import hmac

from flask import current_app, jsonify, redirect, render_template, request, send_from_directory, session, url_for
from flask_login import current_user

from ...access import login_required, public
from ...extensions import db
from ...services.home import cards_cache_key, home_cards
from ...services.platform import health
from ...services.public import page_cache
from ...urls import safe_next
from . import bp


@bp.route("/")
@login_required
def home():
    """What each of the person's roles lets them do, one card per role.

    The cards come from the page cache when this person read them less than a minute ago and nothing they
    count has changed since: an issue in the areas of their roles, the tree, or a notice, a resident's
    report, a household or a visit (page_cache.TODO_TABLES) — any committed change there drops them at once;
    only what the clock alone makes overdue or due waits for the minute."""
    tags, variant = cards_cache_key(current_user)

    def cards() -> str:
        return render_template("main/_cards.html", cards=home_cards(current_user))

    return render_template("main/home.html", cards=page_cache.fragment(tags, variant, cards))


@bp.route("/lang/<code>", methods=["GET", "POST"])
@public
def set_language(code):
    """Switch between Chinese and English for this browser (the session). Only a POST — the header's form,
    with its CSRF token — also saves the choice on the account. A GET (the link on the public pages, which are
    cached and shared and so can carry no token) changes nothing stored: no other site can change an account."""
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
        if request.method == "POST" and current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(safe_next(request.args.get("next")) or url_for("main.home"))


@bp.route("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so that its scope covers every page: it sends drafts kept
    offline when the connection returns (Background Sync). Plain code, no data; it runs only on our origin."""
    response = send_from_directory(current_app.static_folder, "js/sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/healthz")
@public
def healthz():
    """Machine-readable health (services/platform/health.py): 200 "ok" or 503 "degraded". The status is public (load
    balancers need it); the checks behind it — queue counts, workers, the periodic round — only for a
    request from this machine that no proxy forwarded, or one carrying HEALTHZ_TOKEN as a bearer token."""
    healthy, checks = health.report()
    body = {"status": "ok" if healthy else "degraded"}
    if _may_see_health_details():
        body["checks"] = checks
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, (200 if healthy else 503)


def _may_see_health_details() -> bool:
    token = current_app.config.get("HEALTHZ_TOKEN")
    if token and hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    forwarded = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    return request.remote_addr in ("127.0.0.1", "::1") and not forwarded
