"""Admin settings (系统设置): the SLA policy, problem categories, failed jobs, 企业微信 group robots,
and the triage lists: rejection reasons, response templates and responsible parties.

Plain service functions: no request, flush only; the view commits once. The lists admins keep share one
shape (ManagedList: add, update, set_active, with the same refusals); each list says what its rows hold.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..extensions import db
from ..models import (
    HANDLING_LEVELS,
    ORGANISATION_KINDS,
    STATUSES,
    URGENCIES,
    Category,
    Issue,
    Job,
    ManagedItem,
    Node,
    NotificationChannel,
    Organisation,
    Person,
    RejectReason,
    ResponseTemplate,
    SlaPolicy,
    organisation_community,
)
from .errors import ServiceError
from .issues.reference import read_sla_table, sla_rows
from .platform import jobs
from .platform.notify import wecom_text

log = logging.getLogger("governance.settings")

# --- SLA policy ---------------------------------------------------------------------------------

SLA_MIN_HOURS, SLA_MAX_HOURS = 1, 2160  # one hour to 90 days
SLA_CELLS = tuple((level, urgency) for level in HANDLING_LEVELS for urgency in URGENCIES)


class SettingsError(ServiceError):
    """A refused change; `code` selects the message, nothing was changed."""

    MESSAGES = {
        "bad_cell": _l("The time limits could not be saved. Please try again."),
        "out_of_range": _l("The time limits could not be saved. Please try again."),
        "resolve_before_ack": _l("The time limits could not be saved. Please try again."),
        "bad_code": _l("This code cannot be used."),
        "code_taken": _l("This code is already used by another category."),
        "name_taken": _l("Another category already has this name."),
        "last_category": _l("At least one category must stay active, or nobody could file an issue."),
        "bad_node": _l("Robots can be set for a street (街镇) or a community (社区) only."),
        "bad_url": _l("This is not a WeChat Work group-robot address."),
        "duplicate_channel": _l("This robot is already set for this place."),
        "inactive_channel": _l("This robot is switched off; switch it on before testing it."),
        "reason_taken": _l("Another rejection reason already has this wording."),
        "last_reason": _l("At least one rejection reason must stay active, or no issue could be rejected."),
        "bad_category": _l("This category does not exist."),
        "bad_status": _l("This status does not exist."),
        "bad_template": _l("The template could not be saved. Please check the title and the text."),
        "organisation_taken": _l("Another organisation already has this name."),
        "bad_organisation": _l("The organisation could not be saved. Please check its name."),
        "bad_kind": _l("Choose what kind of organisation this is."),
        "bad_street": _l("This street (街镇) does not exist."),
        "street_required": _l("Choose the street (街镇) this office belongs to."),
        "bad_community": _l("Some of the chosen communities do not exist; please choose again."),
    }
    FALLBACK = _l("The change could not be made.")
    # The settings page is shown again with what was typed, as for a form that did not validate.
    DEFAULT_STATUS = 200


def sla_table() -> dict[tuple[str, str], tuple[int, int]]:
    """(level, urgency) → (hours to acknowledge, hours to resolve), as the database holds them now."""
    return read_sla_table(db.session)


def save_sla(values: dict[tuple[str, str], tuple[int, int]], actor: Person | None = None) -> int:
    """Write the whole table (missing rows are created); returns how many cells changed.

    Only deadlines set after this (filing, escalation, reopening) use the new hours.
    """
    for cell, (ack, resolve) in values.items():
        if cell not in SLA_CELLS:
            raise SettingsError("bad_cell")
        if not (SLA_MIN_HOURS <= ack <= SLA_MAX_HOURS and SLA_MIN_HOURS <= resolve <= SLA_MAX_HOURS):
            raise SettingsError("out_of_range")
        if resolve < ack:
            raise SettingsError("resolve_before_ack")
    rows = {(p.level, p.urgency): p for p in db.session.scalars(select(SlaPolicy))}
    changed = 0
    for (level, urgency), (ack, resolve) in values.items():
        row = rows.get((level, urgency))
        if row is None:
            row = SlaPolicy(level=level, urgency=urgency, ack_hours=ack, resolve_hours=resolve)
            db.session.add(row)
            changed += 2
            continue
        changed += (row.ack_hours != ack) + (row.resolve_hours != resolve)
        row.ack_hours, row.resolve_hours = ack, resolve
    db.session.flush()
    if changed:
        log.info("SLA policy changed (%d cells) by person %s", changed, getattr(actor, "id", None))
    return changed


def restore_default_sla(actor: Person | None = None) -> int:
    """Put the default hours back (reference.DEFAULT_SLA) in every cell."""
    defaults = {(r["level"], r["urgency"]): (r["ack_hours"], r["resolve_hours"]) for r in sla_rows()}
    return save_sla(defaults, actor)


# --- the lists admins keep: one shape ------------------------------------------------------------

POSITION_MAX = 9999  # the largest position the forms accept


def _another(model, condition, except_id: int | None) -> bool:
    """Whether a row of `model` other than `except_id` meets `condition` (a name in use, another active row)."""
    query = select(model.id).where(condition)
    if except_id is not None:
        query = query.where(model.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


class ManagedList:
    """The rules of one list admins keep: what a row may hold, and the refusals every list shares.

    Rows are switched off, never deleted, because issues, replies and jobs point at them. add, update
    and set_active flush only; a refused change raises SettingsError and changes nothing.
    """

    model: type[ManagedItem]
    # The refusal when a unique column clashes at the flush: another admin saved the same value meanwhile.
    clash: str | None = None
    # The refusal when the last active row would be switched off (the list would offer nothing).
    last_one: str | None = None

    def columns(self, item: ManagedItem | None, **typed) -> dict:
        """The columns to store for what was typed (item None: a new row); SettingsError when refused."""
        raise NotImplementedError

    def add(self, **typed) -> ManagedItem:
        """A new, active row."""
        item = self.model(**self.columns(None, **typed), active=True)
        self._flush(item)
        return item

    def update(self, item: ManagedItem, **typed) -> None:
        """Change a row; whatever points at it shows the change."""
        for name, value in self.columns(item, **typed).items():
            setattr(item, name, value)
        self._flush(item)

    def set_active(self, item: ManagedItem, active: bool) -> None:
        """Switch a row off (nothing new can use it; what uses it keeps it) or on again."""
        if not active and item.active and self.last_one and not self._others_active(item):
            raise SettingsError(self.last_one)
        item.active = active
        db.session.flush()

    def next_position(self) -> int:
        """A position after the last row, for a new one (lists ordered by a `sort` column)."""
        last = db.session.scalar(select(func.max(self.model.sort)))
        return min((last or 0) + 10, POSITION_MAX)

    def _others_active(self, item: ManagedItem) -> bool:
        return _another(self.model, self.model.active.is_(True), item.id)

    def _flush(self, item: ManagedItem) -> None:
        if self.clash is None:
            db.session.add(item)
            db.session.flush()
            return
        try:
            with db.session.begin_nested():  # two admins saving the same value at once: the second is refused cleanly
                db.session.add(item)
                db.session.flush()
        except IntegrityError as err:
            raise SettingsError(self.clash) from err


class BilingualList(ManagedList):
    """A list of rows with a Chinese name (unique), an English one (the Chinese when left empty) and a position."""

    name_refusal: str  # the refusal when another row has the Chinese name

    def name_taken(self, name_zh: str, except_id: int | None = None) -> bool:
        return _another(self.model, self.model.name_zh == name_zh, except_id)

    def columns(self, item, name_zh: str, name_en: str, sort: int) -> dict:
        if self.name_taken(name_zh, except_id=item.id if item is not None else None):
            raise SettingsError(self.name_refusal)
        return {"name_zh": name_zh, "name_en": name_en or name_zh, "sort": sort}


# --- categories ---------------------------------------------------------------------------------

CATEGORY_CODE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def categories() -> list[Category]:
    """Every category, active or not, in display order."""
    return list(db.session.scalars(select(Category).order_by(Category.sort, Category.id)))


def issue_counts_by_category() -> dict[int, int]:
    """How many issues point at each category (why categories are deactivated, never deleted)."""
    return dict(db.session.execute(select(Issue.category_id, func.count()).group_by(Issue.category_id)).all())


class CategoryList(BilingualList):
    """Problem categories: a leader files an issue under one of the active ones."""

    model = Category
    clash = "code_taken"  # another admin adding the same code at the same moment
    last_one = "last_category"  # without one, nobody could file an issue
    name_refusal = "name_taken"

    def code_taken(self, code: str) -> bool:
        """Whether a category already uses this code (codes are compared in lower case)."""
        return _another(Category, func.lower(Category.code) == code.lower(), None)

    def columns(self, item, name_zh: str, name_en: str, sort: int, code: str | None = None) -> dict:
        if item is not None:  # the code stays: it is what other systems and exports know the category by
            return super().columns(item, name_zh, name_en, sort)
        if not CATEGORY_CODE_RE.fullmatch(code or ""):
            raise SettingsError("bad_code")
        if self.code_taken(code):
            raise SettingsError("code_taken")
        return {"code": code, **super().columns(None, name_zh, name_en, sort)}


CATEGORIES = CategoryList()


# --- background jobs ----------------------------------------------------------------------------

# A retried job gets this many more tries (its earlier attempts stay counted).
RETRY_EXTRA_TRIES = 3


def job_counts() -> dict[str, int]:
    """Jobs per status, every status present (0 when none)."""
    from ..models import JOB_STATUSES

    found = jobs.counts()
    return {status: found.get(status, 0) for status in JOB_STATUSES}


def recent_jobs(statuses: tuple[str, ...], limit: int = 20) -> list[Job]:
    """The most recent jobs in these statuses, newest first."""
    return list(db.session.scalars(select(Job).where(Job.status.in_(statuses)).order_by(Job.id.desc()).limit(limit)))


# Failed and stuck jobs are listed whatever their age, up to this many of each.
ATTENTION_LIMIT = 200


def failed_jobs(limit: int = ATTENTION_LIMIT) -> list[Job]:
    """Every failed job (up to `limit`), oldest first: each waits for someone to retry it."""
    return list(db.session.scalars(select(Job).where(Job.status == "failed").order_by(Job.id).limit(limit)))


def waiting_jobs(recent: int = 20, limit: int = ATTENTION_LIMIT) -> tuple[list[Job], set[int]]:
    """The unfinished jobs to show: every stuck one first (oldest first, up to `limit`), then the
    `recent` most recent others; and the ids of the stuck ones."""
    stuck = list(db.session.scalars(select(Job).where(jobs.stuck()).order_by(Job.id).limit(limit)))
    stuck_ids = {job.id for job in stuck}
    others = [
        job for job in recent_jobs(("pending", "queued", "running"), recent + len(stuck)) if job.id not in stuck_ids
    ]
    return stuck + others[:recent], stuck_ids


def retry_job(job_id: int, extra: int = RETRY_EXTRA_TRIES) -> bool:
    """Give a failed job `extra` more tries; False when it is not failed (any more).

    The row keeps its attempts and last error, so its history stays honest: it goes back to 'pending'
    with max_attempts raised, and is handed over (RQ, or in-process) once the request commits.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.status != "failed":
        return False
    retried = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "failed")  # a second click, or another admin, finds it moved
        .values(status="pending", max_attempts=max(job.attempts, job.max_attempts) + extra, finished_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(job)
    if not retried:
        return False
    jobs.dispatch_after_commit(job_id)
    db.session.flush()
    return True


def error_summary(text: str | None, lines: int = 3) -> str:
    """What went wrong, without the stack: the exception line(s) at the end of a traceback."""
    if not text:
        return ""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    if kept and kept[0].startswith("Traceback"):
        # The frames are indented; the exception and its message follow the last of them.
        last_frame = max((i for i, line in enumerate(kept) if line.startswith(" ")), default=-1)
        kept = kept[last_frame + 1 :] or kept[-1:]
    return "\n".join(kept[:lines])


# --- notification channels (企业微信 group robots) ---------------------------------------------

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
WECOM_KEY_RE = re.compile(r"[A-Za-z0-9-]{8,64}")
# Levels a robot can be set on: notifications go to the robots of an issue's 街镇, 社区, 片, 组 and 邻
# (services/platform/notify.py); the admin pages offer the two that have their own WeChat work groups.
CHANNEL_LEVELS = ("street", "community")
MAX_URL = 500


def webhook_url_ok(url: str, allow_local: bool = False) -> bool:
    """A 企业微信 group-robot address (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…).

    With allow_local (tests only), also http://127.0.0.1:<port>/… so a test can run its own receiver.
    """
    if not url or len(url) > MAX_URL or any(ch.isspace() for ch in url) or not url.isascii():
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if allow_local and parts.scheme == "http" and parts.hostname == "127.0.0.1" and not parts.username:
        return True
    if parts.scheme != "https" or parts.netloc != WECOM_HOST or port is not None or parts.fragment:
        return False
    if parts.path != WECOM_PATH:
        return False
    query = parse_qsl(parts.query, keep_blank_values=True)
    return len(query) == 1 and query[0][0] == "key" and bool(WECOM_KEY_RE.fullmatch(query[0][1]))


def masked_url(url: str) -> str:
    """The address with most of its key hidden: the key lets anyone post to the group."""
    head, sep, key = url.partition("key=")
    if not sep:
        return url if len(url) <= 40 else url[:37] + "…"
    return f"{head}key=…{key[-4:]}" if len(key) > 4 else f"{head}key=…"


def channel_nodes(person: Person) -> list[Node]:
    """The nodes (街镇, 社区) whose robot the person may set, 街镇 first, each followed by its 社区."""
    query = select(Node).where(Node.level.in_(CHANNEL_LEVELS), policy.managed_node_condition(person))
    nodes = list(db.session.scalars(query))
    return sorted(nodes, key=lambda n: (n.street_id or 0, n.level != "street", n.id))


def channels_for(person: Person) -> list[tuple[NotificationChannel, Node]]:
    """The robots of every node the person manages, active first."""
    query = (
        select(NotificationChannel, Node)
        .join(Node, Node.id == NotificationChannel.node_id)
        .where(policy.managed_node_condition(person))
    )
    query = query.order_by(NotificationChannel.active.desc(), Node.street_id, Node.id, NotificationChannel.id)
    return [(channel, node) for channel, node in db.session.execute(query).all()]


def local_robots_allowed() -> bool:
    """Whether a robot may be at http://127.0.0.1:<port>/…: only while testing, where a test runs its receiver."""
    return bool(current_app.testing)


class ChannelList(ManagedList):
    """企业微信 group robots: a new issue and its changes are posted to the robots of its places."""

    model = NotificationChannel

    def columns(self, item, node: Node, url: str) -> dict:
        """A new robot's place and address (rows are only added: a wrong address is switched off, the right
        one added)."""
        if node.level not in CHANNEL_LEVELS:
            raise SettingsError("bad_node")
        if not webhook_url_ok(url, local_robots_allowed()):
            raise SettingsError("bad_url")
        exists = db.session.scalar(
            select(NotificationChannel.id).where(
                NotificationChannel.node_id == node.id,
                NotificationChannel.url == url,
                NotificationChannel.active.is_(True),
            )
        )
        if exists:
            raise SettingsError("duplicate_channel")
        return {"node_id": node.id, "kind": "wecom_webhook", "url": url}

    def set_active(self, item: NotificationChannel, active: bool) -> None:
        """Stop (or resume) sending to a robot; its messages already waiting are dropped when it is off.
        A robot whose address is no longer accepted stays off."""
        if active and not webhook_url_ok(item.url, local_robots_allowed()):
            raise SettingsError("bad_url")
        super().set_active(item, active)


CHANNELS = ChannelList()


def send_test_message(channel: NotificationChannel, node: Node, actor: Person) -> Job:
    """Defer one test message to the robot; it is sent after the commit, like every notification."""
    if not channel.active:
        raise SettingsError("inactive_channel")
    text = f"【测试消息】{node.name}的企业微信群机器人已接通，问题通知将发到本群。（{actor.name} 发送）"
    return jobs.defer("webhook", {"channel_id": channel.id, "body": wecom_text(text, [])}, requested_by_id=actor.id)


# --- rejection reasons (不予受理理由) -------------------------------------------------------------


def reject_reasons() -> list[RejectReason]:
    """Every rejection reason, active or not, in display order."""
    return list(db.session.scalars(select(RejectReason).order_by(RejectReason.sort, RejectReason.id)))


class RejectReasonList(BilingualList):
    """Rejection reasons: a branch that does not accept an issue gives one of the active ones."""

    model = RejectReason
    last_one = "last_reason"  # without one, a branch could not reject anything
    name_refusal = "reason_taken"


REJECT_REASONS = RejectReasonList()


# --- response templates (回复模板) ----------------------------------------------------------------

TEMPLATE_TITLE_MAX, TEMPLATE_BODY_MAX = 40, 500


def response_templates() -> list[ResponseTemplate]:
    """Every response template, active first, grouped by status (any first), then category, then position."""
    query = select(ResponseTemplate).order_by(
        ResponseTemplate.active.desc(),
        ResponseTemplate.status.is_not(None),
        ResponseTemplate.status,
        ResponseTemplate.category_id.is_not(None),
        ResponseTemplate.category_id,
        ResponseTemplate.sort,
        ResponseTemplate.id,
    )
    return list(db.session.scalars(query))


def _template_values(category_id: int | None, status: str | None, title: str, body: str) -> None:
    """Refuse what the table could not hold or what would never be offered."""
    if category_id is not None and db.session.get(Category, category_id) is None:
        raise SettingsError("bad_category")
    if status is not None and status not in STATUSES:
        raise SettingsError("bad_status")
    if not title or len(title) > TEMPLATE_TITLE_MAX or not body or len(body) > TEMPLATE_BODY_MAX:
        raise SettingsError("bad_template")


class ResponseTemplateList(ManagedList):
    """Response templates: offered to staff for issues of their category and status (None: every one)."""

    model = ResponseTemplate

    def columns(self, item, category_id: int | None, status: str | None, title: str, body: str, sort: int) -> dict:
        _template_values(category_id, status, title, body)
        return {"category_id": category_id, "status": status, "title": title, "body": body, "sort": sort}


RESPONSE_TEMPLATES = ResponseTemplateList()


# --- responsible parties (责任单位) ----------------------------------------------------------------

ORGANISATION_NAME_MAX = 120


def organisations() -> list[Organisation]:
    """Every responsible party, active first, by kind and name."""
    query = select(Organisation).order_by(Organisation.active.desc(), Organisation.kind, Organisation.name)
    return list(db.session.scalars(query))


def paired_counts() -> dict[int, int]:
    """How many communities each organisation is paired with."""
    query = select(organisation_community.c.organisation_id, func.count()).group_by(
        organisation_community.c.organisation_id
    )
    return dict(db.session.execute(query).all())


def streets() -> list[Node]:
    """Every 街镇, in tree order."""
    return list(db.session.scalars(select(Node).where(Node.level == "street").order_by(Node.id)))


def communities_by_street() -> list[tuple[Node, list[Node]]]:
    """Every 社区/村 under its 街镇, both in tree order (for the pairing checkboxes)."""
    query = select(Node).where(Node.level == "community").order_by(Node.street_id, Node.id)
    grouped: dict[int | None, list[Node]] = {}
    for community in db.session.scalars(query):
        grouped.setdefault(community.street_id, []).append(community)
    return [(street, grouped.get(street.id, [])) for street in streets() if grouped.get(street.id)]


def _organisation_values(name: str, kind: str, street_id: int | None) -> None:
    """Refuse a name, kind or 街镇 the table could not hold or triage could not use."""
    if not name or len(name) > ORGANISATION_NAME_MAX:
        raise SettingsError("bad_organisation")
    if kind not in ORGANISATION_KINDS:
        raise SettingsError("bad_kind")
    if street_id is not None:
        street = db.session.get(Node, street_id)
        if street is None or street.level != "street":
            raise SettingsError("bad_street")
    elif kind == "street_office":
        raise SettingsError("street_required")  # eligible_organisations finds the office by its street


def set_organisation_communities(organisation: Organisation, community_ids: list[int]) -> tuple[int, int]:
    """Pair the organisation with exactly these communities; returns (added, removed)."""
    wanted = set(community_ids)
    if wanted:
        found = set(db.session.scalars(select(Node.id).where(Node.id.in_(wanted), Node.level == "community")))
        if found != wanted:
            raise SettingsError("bad_community")
    current = {c.id for c in organisation.communities}
    added, removed = wanted - current, current - wanted
    if removed:
        organisation.communities[:] = [c for c in organisation.communities if c.id not in removed]
    if added:
        organisation.communities.extend(db.session.scalars(select(Node).where(Node.id.in_(added))))
    db.session.flush()
    return len(added), len(removed)


class OrganisationList(ManagedList):
    """Responsible parties: a branch assigns an issue to an active one paired with its community, or to its
    街镇 office."""

    model = Organisation
    clash = "organisation_taken"  # the name is unique in the table

    def name_taken(self, name: str, except_id: int | None = None) -> bool:
        """Whether another organisation has this name (ignoring case, so "ABC物业" and "abc物业" clash)."""
        return _another(Organisation, func.lower(Organisation.name) == name.lower(), except_id)

    def columns(self, item, name: str, kind: str, street_id: int | None) -> dict:
        _organisation_values(name, kind, street_id)
        if self.name_taken(name, except_id=item.id if item is not None else None):
            raise SettingsError("organisation_taken")
        return {"name": name, "kind": kind, "street_id": street_id}


ORGANISATIONS = OrganisationList()
