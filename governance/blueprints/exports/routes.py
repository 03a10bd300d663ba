"""Views of the exports blueprint: the issue-list export, and each person's own export jobs.

A small export is the file itself. A large one is a background job (services/reports/exports.py): the
person confirms with a POST, then follows its progress on /exports/<id> and downloads it there.
Only the person who asked sees a job: anyone else, whatever their role, gets 404.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import abort, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ... import web
from ...access import login_required
from ...extensions import db
from ...formatting import local_time
from ...models import Job
from ...services.issues.listing import OutOfScope, count_matching, parse_filters
from ...services.reports import exports
from . import bp
from . import issues as issue_export

STATUS_LABELS = {
    "pending": _l("Waiting"),
    "queued": _l("Waiting"),
    "running": _l("Being prepared"),
    "done": _l("Ready"),
    "failed": _l("Failed"),
}
STATUS_BADGES = {"done": "ok", "failed": "danger"}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel"}
ACTIVE = ("pending", "queued", "running")
LIST_LIMIT = 50


@bp.context_processor
def export_helpers():
    """What the export templates call."""
    return {
        "export_status": lambda job: str(STATUS_LABELS.get(job.status, job.status)),
        "export_badge": lambda job: STATUS_BADGES.get(job.status, ""),
        "FORMAT_LABELS": FORMAT_LABELS,
        "local_time": local_time,
    }


# --- the issue list -----------------------------------------------------------------------------


@bp.route("/issues.csv", defaults={"fmt": "csv"}, methods=["GET", "POST"])
@bp.route("/issues.xlsx", defaults={"fmt": "xlsx"}, methods=["GET", "POST"])
@login_required
def issues(fmt):
    """The issues the list shows with these filters: the file at once, or (when large) a background job.

    GET never starts a job: a large export answers with a page whose button POSTs the same address.
    """
    try:
        filters = parse_filters(request.args, current_user)
    except OutOfScope:
        abort(403)
    now = datetime.now(UTC)
    limit = exports.sync_limit()
    criteria = urlencode(filters.args())
    if count_matching(current_user, filters, now, cap=limit) <= limit:
        rows = issue_export.rows(current_user, filters, now)
        return exports.recorded_response(
            current_user,
            exports.SOURCE_NAMES[issue_export.SOURCE],
            filters.node,
            issue_export.stem(),
            issue_export.columns(),
            rows,
            fmt,
            criteria=criteria,
        )
    if request.method == "GET":
        return render_template(
            "exports/confirm.html",
            fmt=fmt,
            limit=limit,
            args=filters.args(),
            list_url=url_for("issues.index", **filters.args()),
        )
    return web.perform(
        lambda: exports.start(
            issue_export.SOURCE,
            {"args": filters.args()},
            fmt,
            current_user,
            issue_export.stem(),
            locale=str(get_locale() or ""),
            place=filters.node,
            criteria=criteria,
        ),
        done=_("Your export has started. The file stays under My exports for 7 days."),
        to=lambda job: url_for(".job", job_id=job.id),
        refused=lambda err: abort(err.status),
        code=302,
    )


# --- my exports ---------------------------------------------------------------------------------


def own_job(job_id: int) -> Job:
    """The person's own export job; any other job (or none) is 404, so ids reveal nothing."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != exports.EXPORT_JOB or job.requested_by_id != current_user.id:
        abort(404)
    return job


def file_of(job: Job) -> str | None:
    """The finished file of a job, if it is still there."""
    if job.status != "done":
        return None
    path = exports.file_path(exports.payload_of(job))
    return path if path and os.path.isfile(path) else None


@bp.route("/")
@login_required
def index():
    """My exports, newest first."""
    found = list(
        db.session.scalars(
            select(Job)
            .where(Job.kind == exports.EXPORT_JOB, Job.requested_by_id == current_user.id)
            .order_by(Job.id.desc())
            .limit(LIST_LIMIT)
        )
    )
    entries = [(job, exports.payload_of(job)) for job in found]
    active = any(job.status in ACTIVE for job in found)
    return render_template("exports/index.html", entries=entries, active=active)


@bp.route("/<int:job_id>")
@login_required
def job(job_id):
    """One export: its progress (the page refreshes itself while it runs), then the download."""
    job = own_job(job_id)
    payload = exports.payload_of(job)
    return render_template(
        "exports/job.html",
        job=job,
        payload=payload,
        name=exports.download_name(payload),
        active=job.status in ACTIVE,
        available=file_of(job) is not None,
    )


@bp.route("/<int:job_id>/progress")
@login_required
def progress(job_id):
    """The job's state as JSON, for scripts that poll instead of refreshing the page."""
    job = own_job(job_id)
    ready = file_of(job) is not None
    return jsonify(
        status=job.status,
        progress=100 if job.status == "done" else job.progress,
        download_url=url_for(".download", job_id=job.id) if ready else None,
    )


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id):
    """The finished file, under its Chinese name."""
    job = own_job(job_id)
    path = file_of(job) or abort(404)
    payload = exports.payload_of(job)
    response = send_file(path, mimetype=exports.MIMETYPES[payload["fmt"]], conditional=False, etag=False)
    response.headers["Content-Disposition"] = exports.content_disposition(exports.download_name(payload))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:job_id>/retry", methods=["POST"])
@login_required
def retry(job_id):
    """Ask again for a failed or removed export (the scope is applied afresh when it runs)."""
    job = own_job(job_id)
    if job.status in ACTIVE or file_of(job) is not None:
        return redirect(url_for(".job", job_id=job.id))

    def again():
        try:
            return exports.retry(job, current_user)
        except (exports.ExportRefused, ValueError):  # a request that can no longer be made
            abort(404)

    return web.perform(
        again,
        done=None,
        to=lambda fresh: url_for(".job", job_id=fresh.id),
        refused=lambda err: abort(err.status),
        code=302,
    )


@bp.cli.command("cleanup")
def cleanup_command():
    """Delete export files older than 7 days (`flask exports cleanup`)."""
    import click

    click.echo(f"removed {exports.cleanup()} old export file(s)")
