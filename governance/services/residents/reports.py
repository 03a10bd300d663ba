"""Residents' reports to their 邻长 (居民反映): the no-login form of a 小区, its tracking link, and the leaders'
confirm or decline.

- **Sending.** A resident picks a kind of problem, says what and where (building), adds up to
  RESIDENT_REPORT_PHOTOS photos (checked and re-encoded without EXIF like every photo) and, if they want a
  call back, a phone. The report goes to the 邻长 of the building's 邻; where that 邻 has no enabled 邻长, to
  the first node above with a leader (the 组长, the 片长, the branch) — `handler_node` — and into their inbox.
  The resident gets a tracking link and a reference at once. The form's key makes a double tap or a resend
  one report, and the same key gives back the same tracking link (the token is derived from the key with
  the app's secret; only its digest is stored, like the rating links').
- **Abuse.** Refused before anything is kept: a blocked source; more than RESIDENT_REPORTS_PER_DEVICE from
  one device (a long-lived cookie) or RESIDENT_REPORTS_PER_ADDRESS from one address in 24 hours; the same
  words about the same 小区 within RESIDENT_REPORT_REPEAT_HOURS; more photos or bytes than the budget
  (the view). The counts are read under the 小区's row lock, so concurrent sends cannot both slip past them.
  Sources are kept only as keyed digests (HMAC with the app's secret): a database dump names no phone's
  address. The branch (and the admins above) block a report's source and lift the block; both audited.
- **Handling.** A leader whose area holds the 邻 confirms a waiting report into an issue (the form comes
  prefilled from it; the photos move to the issue, private; the phone becomes the issue's resident phone)
  or declines it with one of RESIDENT_DECLINE_REASONS. Once decided it stays decided.
- **Following.** The tracking page shows the status, the reason of a decline, and the issue's public
  progress; once the issue is resolved the resident rates the fix there, under the same one-answer rule as
  the rating links (services/issues/rating.py).

Nothing a resident types is shown on any public page. Functions flush and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ... import policy
from ...extensions import db
from ...formatting import RESIDENT_DECLINE_LABELS
from ...models import (
    RESIDENT_DECLINE_REASONS,
    Building,
    Category,
    Compound,
    Issue,
    Node,
    Notification,
    Person,
    ReportSourceBlock,
    ResidentReport,
    ResidentReportPhoto,
    utcnow,
)
from ...parsing import clean_text
from ..errors import ServiceError
from ..issues import lifecycle, places, rating
from ..locks import insert_once, lock_names, lock_row, locked
from ..people import turnover
from ..people.tree import child_key, per_child, within_condition
from ..platform import audit, notify, photos
from ..reports import rates

TEXT_MIN = 4
TEXT_MAX = 500
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
REFERENCE_PREFIX = "FY"  # 反映
DAY = timedelta(hours=24)


class ReportError(ServiceError):
    """A refused report or step; `field` names the form field it is about (None: the whole form)."""

    MESSAGES = {
        "bad_compound": _l("This compound is not known."),
        "bad_building": _l("Choose your building from the list."),
        "bad_category": _l("Choose what kind of problem it is."),
        "no_text": _l("Say what the problem is and where (at least %(min)s characters)."),
        "long_text": _l("Please keep it under %(max)s characters."),
        "bad_phone": _l("A phone number has only digits (a leading + and spaces or dashes are fine)."),
        "too_many_photos": _l("At most %(max)s photos."),
        "blocked": _l(
            "Reports from this phone or network are paused by the community. Please speak to your neighbour "
            "leader in person."
        ),
        "device_limit": _l(
            "This phone has sent %(max)s reports today. Please wait until tomorrow, or speak to your neighbour "
            "leader in person."
        ),
        "address_limit": _l("Too many reports came from this network today. Please try again later."),
        "repeated": _l(
            "The same words about this compound were sent a short while ago: your neighbour leader has them "
            "already. Keep the tracking link you were given to follow it."
        ),
        "no_neighbour": _l("This compound has no neighbour leader's area to send reports to yet."),
        "forbidden": _l("You may not handle this report."),
        "decided": _l("This report was already answered."),
        "bad_reason": _l("Choose a reason from the list."),
    }
    FIELDS = {
        "bad_building": "building",
        "bad_category": "category",
        "no_text": "text",
        "long_text": "text",
        "bad_phone": "phone",
        "too_many_photos": "photos",
        "bad_reason": "reason",
    }
    STATUS = {
        "bad_compound": 404,
        "forbidden": 403,
        "blocked": 403,
        "decided": 409,
        "device_limit": 429,
        "address_limit": 429,
        "repeated": 429,
        "too_many_photos": 413,
    }

    @property
    def field(self) -> str | None:
        return self.FIELDS.get(self.code)


@dataclass
class Submission:
    """What a resident sent (as typed; the service checks and cleans it)."""

    compound_id: int
    building_id: int | None
    category_id: int | None
    text: str
    phone: str = ""
    form_key: str | None = None


@dataclass
class Source:
    """Where a report came from: the device cookie's value (None without one) and the client address."""

    device: str | None
    address: str


# --- digests ------------------------------------------------------------------------------------------


def _keyed(purpose: str, value: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{purpose}:{value}".encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def source_digests(source: Source) -> dict[str, str | None]:
    """The keyed digests a report keeps of its source, by kind."""
    return {
        "device": _keyed("device", source.device) if source.device else None,
        "address": _keyed("address", source.address or "unknown"),
    }


def text_digest(text: str) -> str:
    """The same words whatever the spacing and letter case (the cooling-off for repeated text)."""
    return hashlib.sha256("".join(text.split()).casefold().encode()).hexdigest()


def tracking_token(form_key: str) -> str:
    """The tracking link's token for a form's key: the same key (a resend) gives the same link back."""
    return _keyed("track", form_key)[:43]


def new_reference() -> str:
    """FY + 7 characters that read well over the phone (unique by the table's constraint)."""
    return REFERENCE_PREFIX + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(7))


# --- sending ------------------------------------------------------------------------------------------


def compound_places(compound_id: int) -> tuple[Compound, list[Building]] | None:
    """A 小区 and its buildings for the form; None when there is no such 小区."""
    compound = db.session.get(Compound, compound_id)
    if compound is None:
        return None
    return compound, sorted(compound.buildings, key=lambda b: (len(b.name), b.name, b.id))


def _checked(submission: Submission) -> tuple[Compound, Building | None, Category, str, str]:
    compound = db.session.get(Compound, submission.compound_id)
    if compound is None:
        raise ReportError("bad_compound")
    building = None
    if submission.building_id is not None:
        building = db.session.get(Building, submission.building_id)
        if building is None or building.compound_id != compound.id:
            raise ReportError("bad_building")
    category = db.session.get(Category, submission.category_id) if submission.category_id else None
    if category is None or not category.active:
        raise ReportError("bad_category")
    text = clean_text(submission.text)
    if len(text) < TEXT_MIN:
        raise ReportError("no_text", min=TEXT_MIN)
    if len(text) > TEXT_MAX:
        raise ReportError("long_text", max=TEXT_MAX)
    phone = (submission.phone or "").strip()
    if phone and not PHONE_RE.match(phone):
        raise ReportError("bad_phone")
    return compound, building, category, text, phone


def handlers(neighbour: Node) -> tuple[int, list[Person]]:
    """The node a report of this 邻 goes to and its leaders: the 邻长, else the first node above with a leader
    (as an escalation would); with nobody anywhere above, the 邻 itself and nobody (its area's leaders and the
    branch still find it in their lists)."""
    leaders = turnover.holders("neighbour_leader", neighbour.id)
    if leaders:
        return neighbour.id, leaders
    above = turnover.first_leaders_above(neighbour, excluding=set())
    if above is not None:
        _level, node_id, people = above
        return node_id, people
    return neighbour.id, []


def find_by_key(form_key: str | None) -> ResidentReport | None:
    if not form_key:
        return None
    return db.session.scalar(select(ResidentReport).where(ResidentReport.form_key == form_key))


def _count_since(column, value: str, since: datetime) -> int:
    return db.session.scalar(
        select(func.count(ResidentReport.id)).where(column == value, ResidentReport.created_at >= since)
    )


def _check_limits(compound: Compound, digests: dict[str, str | None], words: str, now: datetime) -> None:
    """Refuse a source over its limits or words already sent (the caller holds the 小区's row lock)."""
    config = current_app.config
    per_device = int(config["RESIDENT_REPORTS_PER_DEVICE"])
    if digests["device"] and _count_since(ResidentReport.device_digest, digests["device"], now - DAY) >= per_device:
        raise ReportError("device_limit", max=per_device)
    per_address = int(config["RESIDENT_REPORTS_PER_ADDRESS"])
    if _count_since(ResidentReport.address_digest, digests["address"], now - DAY) >= per_address:
        raise ReportError("address_limit")
    since = now - timedelta(hours=int(config["RESIDENT_REPORT_REPEAT_HOURS"]))
    repeated = db.session.scalar(
        select(ResidentReport.id)
        .where(
            ResidentReport.compound_id == compound.id,
            ResidentReport.text_digest == words,
            ResidentReport.created_at >= since,
        )
        .limit(1)
    )
    if repeated is not None:
        raise ReportError("repeated")


def send(
    submission: Submission, source: Source, stored: list[photos.StoredPhoto], now: datetime | None = None
) -> tuple[ResidentReport, str, bool]:
    """Take a resident's report: (report, tracking token, created). The same form key again returns the first
    report and its token (created False); the caller discards `stored` then."""
    now = now or utcnow()
    form_key = (submission.form_key or "").strip()[:64] or secrets.token_hex(16)
    earlier = find_by_key(form_key)
    if earlier is not None:
        return earlier, tracking_token(form_key), False
    compound, building, category, text, phone = _checked(submission)
    if len(stored) > int(current_app.config["RESIDENT_REPORT_PHOTOS"]):
        raise ReportError("too_many_photos", max=current_app.config["RESIDENT_REPORT_PHOTOS"])
    digests = source_digests(source)
    if _blocks(digests):
        raise ReportError("blocked")
    # Before the counts, so that two sends at once are counted one after the other: the source's (its limits
    # count its reports to every 小区), then the 小区's (its repeated words).
    lock_names(*(f"resident-report-source:{digest}" for digest in digests.values() if digest))
    lock_row(Compound, compound.id)
    words = text_digest(text)
    _check_limits(compound, digests, words, now)
    neighbour = places.neighbour_for(compound, building)
    if neighbour is None:
        raise ReportError("no_neighbour")
    handler_node_id, leaders = handlers(neighbour)
    token = tracking_token(form_key)
    report = ResidentReport(
        reference=new_reference(),
        token_digest=rating.digest(token),
        form_key=form_key,
        compound_id=compound.id,
        building_id=building.id if building else None,
        neighbour_id=neighbour.id,
        handler_node_id=handler_node_id,
        category_id=category.id,
        text=text,
        phone=phone,
        status="waiting",
        device_digest=digests["device"],
        address_digest=digests["address"],
        text_digest=words,
        created_at=now,
    )
    winner = insert_once(report, lambda: find_by_key(form_key))  # the same key sent twice at once
    if winner is not None:
        return winner, token, False
    for item in stored:
        db.session.add(
            ResidentReportPhoto(
                report_id=report.id,
                stored_name=item.stored_name,
                width=item.width,
                height=item.height,
                size_bytes=item.size_bytes,
            )
        )
    place = compound.name + (building.name if building else "")
    for leader in leaders:
        db.session.add(
            Notification(
                person_id=leader.id,
                kind="resident_report",
                text=f"[居民反映] {place}：{category.name_zh}",
                facts={"report": report.id, "place": place, "category": category.id},
                created_at=now,
            )
        )
    db.session.flush()
    return report, token, True


# --- following (the resident) -------------------------------------------------------------------------


def find(token: str) -> ResidentReport | None:
    """The report a tracking token stands for, or None."""
    if not token or len(token) > rating.MAX_TOKEN:
        return None
    return db.session.scalar(select(ResidentReport).where(ResidentReport.token_digest == rating.digest(token)))


def may_rate(report: ResidentReport) -> bool:
    """The report's issue is resolved (or closed after it) and this resolution has no answer yet."""
    issue = report.issue
    return (
        issue is not None
        and issue.status in rating.RATABLE_STATUSES
        and issue.resolved_at is not None
        and not rating.rated(issue)
    )


def rate(token: str, answer: str, now: datetime | None = None) -> Issue:
    """The resident's answer to the fix of their report's issue, counted once per resolution (refused as
    `used` when this resolution already has an answer, by a rating link or this page)."""
    report = find(token)
    if report is None or report.issue_id is None:
        raise rating.RatingError("unknown")
    return rating.rate_resolution(report.issue_id, answer, now)


# --- handling (the leaders) ---------------------------------------------------------------------------


@dataclass
class IssueDraft:
    """The issue a leader makes of a report (the form is prefilled from the report)."""

    category_id: int | None
    title: str
    description: str
    urgency: str = "normal"


def prefilled(report: ResidentReport) -> IssueDraft:
    """The confirm form's first values: the report's kind, its first line as the title, its words."""
    first_line = report.text.split("\n", 1)[0].strip()
    title = first_line if len(first_line) <= lifecycle.MAX_TITLE else first_line[: lifecycle.MAX_TITLE - 1] + "…"
    # In the leader's language: they edit it into the issue's description.
    description = _("Resident report %(ref)s: %(text)s", ref=report.reference, text=report.text)
    return IssueDraft(category_id=report.category_id, title=title, description=description)


def _handled(actor: Person, report: ResidentReport, action: str = "handle_resident_report") -> ResidentReport:
    if not policy.allowed(actor, action, report):
        policy.log_denial(actor, action, report)
        raise ReportError("forbidden")
    current = locked(ResidentReport, report.id)  # the report as it is now: one answer, however many taps
    if current.status != "waiting":
        raise ReportError("decided")
    return current


def confirm(actor: Person, report: ResidentReport, draft: IssueDraft, key: str | None = None) -> Issue:
    """Make the report an issue of its 邻 (filed by the leader, the resident's phone kept private on it); its
    photos become the issue's private photos."""
    report = _handled(actor, report)
    data = lifecycle.IssueInput(
        category_id=draft.category_id or 0,
        title=clean_text(draft.title, one_line=True),
        description=clean_text(draft.description),
        neighbour_id=report.neighbour_id,
        compound_id=report.compound_id,
        building_id=report.building_id,
        urgency=draft.urgency,
        resident_phone=report.phone,
    )
    issue, _created = lifecycle.file_issue(actor, data, idempotency_key=key)
    for item in list(report.photos):
        kept = photos.StoredPhoto(item.stored_name, item.width, item.height, item.size_bytes)
        report.photos.remove(item)
        db.session.flush()  # the report's row of the file goes before the issue's row of the same file
        photos.attach(issue, kept, "before", None)
    report.status = "confirmed"
    report.issue_id = issue.id
    report.decided_at = utcnow()
    report.decided_by_id = actor.id
    audit.record(actor, "report_confirmed", issue, f"居民反映 {report.reference}")
    _answered(actor, report)
    db.session.flush()
    return issue


def read_messages(report: ResidentReport, people) -> bool:
    """Mark read the inbox messages that told these people of the report (made with it, naming it in their
    facts); whether there were any. The reader's, when they open it; every leader's, once it is answered."""
    found = False
    for person in people:
        rows = db.session.execute(
            select(Notification.id, Notification.facts).where(
                Notification.person_id == person.id,
                Notification.read_at.is_(None),
                Notification.kind == "resident_report",
                Notification.created_at == report.created_at,
            )
        )
        ids = [row_id for row_id, facts in rows if (facts or {}).get("report") == report.id]
        if ids:
            notify.mark_read(person, ids)
            found = True
    return found


def _answered(actor: Person, report: ResidentReport) -> None:
    """Nothing is left for any leader to do about the report: their messages about it are read."""
    _node_id, leaders = handlers(report.neighbour)
    read_messages(report, {person.id: person for person in [*leaders, actor]}.values())


def _in_chinese(label) -> str:
    """A label as the audit log keeps it: in Chinese, whoever's page asked (RECORDED_IN_CHINESE)."""
    with force_locale("zh"):
        return str(label)


def decline(actor: Person, report: ResidentReport, reason: str) -> ResidentReport:
    """Answer the report without an issue, with one of the fixed reasons the resident sees."""
    if reason not in RESIDENT_DECLINE_REASONS:
        raise ReportError("bad_reason")
    report = _handled(actor, report)
    report.status = "declined"
    report.decline_reason = reason
    report.decided_at = utcnow()
    report.decided_by_id = actor.id
    neighbour = report.neighbour
    audit.record_change(
        actor,
        "report_declined",
        f"居民反映 {report.reference}：{_in_chinese(RESIDENT_DECLINE_LABELS[reason])}",
        community_id=neighbour.community_id,
        street_id=neighbour.street_id,
    )
    _answered(actor, report)
    db.session.flush()
    return report


def _blocks(digests: dict[str, str | None]) -> list[ReportSourceBlock]:
    """The blocks in force on any of these source digests (by kind)."""
    conditions = [(ReportSourceBlock.kind == k) & (ReportSourceBlock.digest == v) for k, v in digests.items() if v]
    return list(db.session.scalars(select(ReportSourceBlock).where(or_(*conditions)).order_by(ReportSourceBlock.id)))


def _report_source(report: ResidentReport) -> dict[str, str | None]:
    return {"device": report.device_digest, "address": report.address_digest}


def blocks_of(report: ResidentReport) -> list[ReportSourceBlock]:
    """The blocks in force on this report's source."""
    return _blocks(_report_source(report))


def set_blocked(actor: Person, report: ResidentReport, blocked: bool) -> int:
    """Stop the report's source (its device and its address) from sending more, or lift that; returns how many
    blocks were added or lifted. A block another report of the same source added meanwhile counts as there."""
    if not policy.allowed(actor, "block_report_source", report):
        policy.log_denial(actor, "block_report_source", report)
        raise ReportError("forbidden")
    lock_row(ResidentReport, report.id)
    found = blocks_of(report)
    changed = 0
    if blocked:
        existing = {(b.kind, b.digest) for b in found}
        for kind, value in _report_source(report).items():
            if value and (kind, value) not in existing:
                row = ReportSourceBlock(kind=kind, digest=value, report_id=report.id, created_by_id=actor.id)
                condition = (ReportSourceBlock.kind == kind) & (ReportSourceBlock.digest == value)
                earlier = insert_once(row, lambda c=condition: db.session.scalar(select(ReportSourceBlock).where(c)))
                changed += earlier is None
    else:
        for item in found:
            db.session.delete(item)
        changed = len(found)
    neighbour = report.neighbour
    audit.record_change(
        actor,
        "report_source_blocked" if blocked else "report_unblocked",
        f"居民反映 {report.reference} 的来源已{'暂停' if blocked else '恢复'}提交",
        community_id=neighbour.community_id,
        street_id=neighbour.street_id,
    )
    db.session.flush()
    return changed


# --- lists and figures --------------------------------------------------------------------------------


def scope_condition(person: Person):
    """SQL over ResidentReport joined to its 邻 (Node): the reports of the areas the person's roles cover."""
    return policy.node_scope_condition(person)


def in_scope(person: Person, status: str | None = None, handler_node_id: int | None = None, limit: int = 200):
    """The reports of the person's areas, newest first (waiting ones first); only `status`, only those handed to
    `handler_node_id` when given."""
    query = (
        select(ResidentReport)
        .join(Node, Node.id == ResidentReport.neighbour_id)
        .where(scope_condition(person))
        .order_by((ResidentReport.status != "waiting"), ResidentReport.created_at.desc(), ResidentReport.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(ResidentReport.status == status)
    if handler_node_id is not None:
        query = query.where(ResidentReport.handler_node_id == handler_node_id)
    return list(db.session.scalars(query))


def status_counts(person: Person) -> dict[str, int]:
    """Reports of the person's areas by status."""
    rows = db.session.execute(
        select(ResidentReport.status, func.count(ResidentReport.id))
        .join(Node, Node.id == ResidentReport.neighbour_id)
        .where(scope_condition(person))
        .group_by(ResidentReport.status)
    )
    return dict(rows.all())


def waiting_ids(handler_node_id: int):
    """SELECT of the waiting reports handed to a node's leaders (their home card's to-do)."""
    return select(ResidentReport.id).where(
        ResidentReport.handler_node_id == handler_node_id, ResidentReport.status == "waiting"
    )


def report_of_issue(issue: Issue) -> ResidentReport | None:
    """The resident's report an issue was made from, if any."""
    return db.session.scalar(select(ResidentReport).where(ResidentReport.issue_id == issue.id))


def figures_by(
    node: Node,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    kids: list[Node] | None = None,
):
    """The reports received at and under `node` (in [start, end) when given), per child (tree.per_child; `kids`
    the node's children if the caller has read them): one statement."""
    where = [Node.id == ResidentReport.neighbour_id, within_condition(node)]
    if start is not None:
        where.append(ResidentReport.created_at >= start)
    if end is not None:
        where.append(ResidentReport.created_at < end)
    found = rates.resident_report_figures(child_key(node), where, now)
    return per_child(node, found, rates.ResidentReportFigures, kids)
