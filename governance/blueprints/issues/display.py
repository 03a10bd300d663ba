"""How issues read on screen: status and level names, local times, timeline lines, photo addresses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...models import Category, IssueEvent, Photo

# China Standard Time: UTC+8 all year (no daylight saving), so a fixed offset is exact.
CHINA = timezone(timedelta(hours=8), "CST")

STATUS_LABELS = {
    "reported": _l("Reported"),
    "acknowledged": _l("Acknowledged"),
    "in_progress": _l("In progress"),
    "resolved": _l("Resolved"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "rejected": _l("Rejected"),
    "duplicate": _l("Duplicate"),
    "withdrawn": _l("Withdrawn"),
    # Not a lifecycle status: how the public reads an open issue whose party has not accepted it yet
    # (services.public.AWAITING_PARTY).
    "awaiting_party": _l("Waiting for the responsible party to accept"),
}
LEVEL_NAMES = {
    "neighbour": _l("邻 (neighbour)"),
    "group": _l("组 (group)"),
    "zone": _l("片 (zone)"),
    "community": _l("社区 (community)"),
    "street": _l("街镇 (street)"),
    "district": _l("区 (district)"),
}
PRIORITY_LABELS = {
    "high": _l("High priority"),
    "normal": _l("Normal priority"),
    "low": _l("Low priority"),
}
SATISFACTION_LABELS = {
    "satisfied": _l("Satisfied"),
    "basically_satisfied": _l("Basically satisfied"),
    "unsatisfied": _l("Not satisfied"),
}


def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status or "", status or ""))


def level_label(level: str | None) -> str:
    return str(LEVEL_NAMES.get(level or "", level or ""))


def priority_label(priority: str | None) -> str:
    return str(PRIORITY_LABELS.get(priority or "", priority or ""))


def category_name(category: Category | None) -> str:
    """The category in the interface language."""
    if category is None:
        return ""
    return category.name_en if str(get_locale()) == "en" else category.name_zh


def local_time(value: datetime | None, with_time: bool = True) -> str:
    """A UTC time as Beijing time, e.g. 2026-03-05 14:20."""
    if value is None:
        return ""
    local = value.astimezone(CHINA)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def event_line(event: IssueEvent) -> str:
    """What one timeline entry did, in one line (the note is shown separately)."""
    kind = event.kind
    if kind == "filed":
        return _("Filed")
    if kind == "status":
        if event.from_status:
            moved = {"from": status_label(event.from_status), "to": status_label(event.to_status)}
            return _("%(from)s → %(to)s", **moved)
        return status_label(event.to_status)
    if kind == "escalated":
        levels = {"from": level_label(event.from_level), "to": level_label(event.to_level)}
        if event.actor_id is None:
            return _("Escalated automatically (deadline passed): %(from)s → %(to)s", **levels)
        return _("Escalated: %(from)s → %(to)s", **levels)
    if kind == "overdue":
        return _("Deadline passed at the district level (recorded automatically)")
    if kind == "comment":
        return _("Comment")
    if kind == "internal_note":
        return _("Internal note")
    if kind == "public_update":
        return _("Public update")
    if kind == "callback":
        return _("Callback to the resident")
    if kind == "photo":
        return _("Photo added")
    if kind == "assigned":
        if event.from_level and event.to_level:
            return _("Assigned to a responsible party (taken up to %(level)s)", level=level_label(event.to_level))
        return _("Assigned to a responsible party")
    if kind == "accepted":
        return _("Accepted by the responsible party")
    if kind == "declined":
        return _("Declined by the responsible party: back to the branch")
    if kind == "priority":
        return _("Priority set: %(priority)s", priority=priority_label(event.note))
    if kind == "merged":
        return _("A duplicate was merged into this issue")
    if kind == "sent_down":
        levels = {"from": level_label(event.from_level), "to": level_label(event.to_level)}
        return _("Sent down with an instruction: %(from)s → %(to)s", **levels)
    return kind


def photo_urls(photo: Photo) -> tuple[str, str]:
    """(thumbnail, full photo) addresses; the thumbnail falls back to the photo until its job has run."""
    full = url_for("filing.photo", photo_id=photo.id)
    return (url_for("filing.photo", photo_id=photo.id, thumb=True) if photo.thumb_name else full), full


def helpers() -> dict:
    """What the issue and inbox templates use."""
    return {
        "status_label": status_label,
        "level_label": level_label,
        "category_name": category_name,
        "local_time": local_time,
        "event_line": event_line,
        "photo_urls": photo_urls,
        "SATISFACTION_LABELS": SATISFACTION_LABELS,
        "priority_label": priority_label,
    }
