"""Views of the main blueprint."""

from flask import current_app, jsonify, redirect, render_template, request, send_from_directory, session, url_for
from flask_login import current_user
from sqlalchemy import text

from ...access import login_required, public
from ...extensions import db
from ...services.home import home_cards
from ...urls import safe_next
from . import bp


@bp.route("/")
@login_required
def home():
    """What each of the person's roles lets them do, one card per role."""
    return render_template("main/home.html", cards=home_cards(current_user))


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
    """Machine-readable health: the database answers (and Redis, when configured)."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    from ...redis_conn import get_redis

    client = get_redis()
    if client is None:
        checks["redis"] = "not configured"
    else:
        try:
            client.ping()
            checks["redis"] = "ok"
            from ...services.jobs import rq_queue

            queue = rq_queue()
            checks["queue"] = {"name": queue.name, "waiting": queue.count, "failed": queue.failed_job_registry.count}
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    try:
        from ...services.jobs import counts

        queue = counts()
        checks["jobs"] = {
            "pending": queue.get("pending", 0),
            "queued": queue.get("queued", 0),
            "running": queue.get("running", 0),
            "failed": queue.get("failed", 0),
        }
    except Exception as exc:  # noqa: BLE001
        checks["jobs"] = f"error: {type(exc).__name__}"
    try:
        from ...services.rollups import last_check

        check = last_check()
        checks["rollups"] = (
            {"checked_at": check["checked_at"], "differences": check["difference_count"]} if check else "never checked"
        )
    except Exception as exc:  # noqa: BLE001
        checks["rollups"] = f"error: {type(exc).__name__}"
    healthy = all(v in ("ok", "not configured") for k, v in checks.items() if k not in ("jobs", "queue", "rollups"))
    return jsonify(status="ok" if healthy else "degraded", checks=checks), (200 if healthy else 503)
