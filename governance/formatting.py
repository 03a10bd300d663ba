"""How the product reads to people: Beijing time, dates, money, and the one label of every code.

One definition of each: the district's clock (China Standard Time, UTC+8 all year — no daylight saving,
so a fixed offset is exact), the label map of each vocabulary (status, level, priority, urgency,
satisfaction, role, report period), which of a bilingual row's names to show, and the one-line wording of a
timeline entry. `register(app)` makes them Jinja globals and filters once for every template; Python code imports
them from here. Nothing else defines a time zone or picks a language.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from flask import g, has_app_context, has_request_context, render_template, request, url_for
from flask_babel import get_locale, get_translations, lazy_pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .urls import url_ids

# --- the district's clock -------------------------------------------------------------------------

BEIJING_OFFSET = timedelta(hours=8)
BEIJING = timezone(BEIJING_OFFSET, "CST")
# The same clock for the databases' own date functions: PostgreSQL's zone name, SQLite's modifier.
BEIJING_ZONE_NAME = "Asia/Shanghai"
BEIJING_SQLITE_MODIFIER = "+8 hours"


def beijing_today(now: datetime | None = None) -> date:
    """Today's date in Beijing (`now`: an aware or naive-UTC moment; the current time by default)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(BEIJING).date()


def start_of_beijing_day(day: date) -> datetime:
    """The first moment of a Beijing calendar day, in UTC."""
    return datetime.combine(day, time.min, BEIJING).astimezone(UTC)


def end_of_beijing_day(day: date) -> datetime:
    """The last second of a Beijing calendar day, in UTC (a deadline "by the end of that day")."""
    return datetime.combine(day, time(23, 59, 59), BEIJING).astimezone(UTC)


def local_time(value: datetime | None, with_time: bool = True, empty: str = "") -> str:
    """A stored UTC time as Beijing time, e.g. 2026-03-05 14:20 (or the date alone); `empty` for none."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


# --- money ------------------------------------------------------------------------------------------


def yuan(fen: int) -> Decimal:
    """An amount in integer fen as yuan, exactly (for tables and spreadsheets)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money values are int fen, not {type(fen).__name__}")
    return Decimal(fen).scaleb(-2)


def format_fen(fen: int) -> str:
    """Integer fen → yuan text with thousands commas and two decimals: 160000000 → "1,600,000.00"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


# --- the interface language -----------------------------------------------------------------------


def translations():
    """The gettext catalogue of the language in force, looked up once per request and language.

    Flask-Babel finds the catalogue afresh on every call (three context lookups and the locale's name),
    which a list page of 25 rows pays a hundred times; this keeps the one found in `g` beside the locale
    object it was found for, so a `force_locale` block (a new locale object) gets its own."""
    if not has_app_context():
        return get_translations()
    # Flask-Babel keeps the request's locale (and a force_locale block's) on g._flask_babel; reading it there
    # skips get_locale's three context lookups. Before the first get_locale of the request it is not there yet.
    locale = getattr(g.get("_flask_babel"), "babel_locale", None) or get_locale()
    cached = g.get("_catalogue")
    if cached is None or cached[0] is not locale:
        cached = g._catalogue = (locale, get_translations())
    return cached[1]


def is_english() -> bool:
    """Whether this request speaks English (outside a request: the default, Chinese)."""
    if not has_request_context():
        return False
    locale = get_locale()
    return locale is not None and locale.language == "en"


def in_language(name_zh: str | None, name_en: str | None) -> str:
    """The English name in the English interface when there is one, else the Chinese name."""
    if name_en and is_english():
        return name_en
    return name_zh or name_en or ""


class BilingualName:
    """Mixin of the reference tables with a Chinese and an English name (categories, rejection reasons):
    `label` is the name to show in the interface language."""

    @property
    def label(self) -> str:
        return in_language(self.name_zh, self.name_en)


# --- one label map per vocabulary -----------------------------------------------------------------

# Why a leader declined a resident's report (models.RESIDENT_DECLINE_REASONS), as the resident reads it.
RESIDENT_DECLINE_LABELS = {
    "duplicate": _l("Already reported: it is being followed up in another report or issue"),
    "already_fixed": _l("Already fixed"),
    "not_public": _l("A private matter between households, not a problem of the compound"),
    "outside_area": _l("Not in this compound (or not something the community handles)"),
    "unclear": _l("Not clear enough to act on: please speak to your neighbour leader"),
}

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
    # (services.public.projection.AWAITING_PARTY).
    "awaiting_party": _l("Waiting for the responsible party to accept"),
}
# The tree's levels, short (badges, columns): 区, 街镇, 社区/村, 片, 组, 邻 in Chinese; English words with the
# Chinese term in brackets, since the people and papers the English reader deals with use those terms.
LEVEL_LABELS = {
    "district": lazy_pgettext("tree level", "District (区)"),
    "street": lazy_pgettext("tree level", "Street (街镇)"),
    "community": lazy_pgettext("tree level", "Community (社区/村)"),
    "zone": lazy_pgettext("tree level", "Zone (片)"),
    "group": lazy_pgettext("tree level", "Group (组)"),
    "neighbour": lazy_pgettext("tree level", "Neighbour (邻)"),
}
# A handling level in words, in the interface language.
LEVEL_NAMES = {
    "neighbour": lazy_pgettext("handling level", "Neighbour (邻)"),
    "group": lazy_pgettext("handling level", "Group (组)"),
    "zone": lazy_pgettext("handling level", "Zone (片)"),
    "community": lazy_pgettext("handling level", "Community (社区)"),
    "street": lazy_pgettext("handling level", "Street (街镇)"),
    "district": lazy_pgettext("handling level", "District (区)"),
}
PRIORITY_LABELS = {
    "high": _l("High priority"),
    "normal": _l("Normal priority"),
    "low": _l("Low priority"),
}
URGENCY_LABELS = {
    "normal": _l("Normal"),
    "urgent": _l("Urgent"),
}
SATISFACTION_LABELS = {
    "satisfied": _l("Satisfied"),
    "basically_satisfied": _l("Basically satisfied"),
    "unsatisfied": _l("Not satisfied"),
}
# A photo's stage: taken when the issue was filed, or with the fix (处理前 / 处理后), on staff and public pages.
STAGE_LABELS = {"before": _l("Before"), "after": _l("After")}
ROLE_LABELS = {
    "neighbour_leader": _l("Neighbour leader (邻长)"),
    "group_leader": _l("Group leader (组长)"),
    "zone_leader": _l("Zone leader (片长)"),
    "branch_member": _l("Community party branch"),
    "street_admin": _l("Street administrator"),
    "district_admin": _l("District administrator"),
    "org_staff": _l("Responsible party staff"),
}
# The kinds of report period (services/reports/node_report.PERIODS), named alike: "by week" rather than "this
# week", since the period shown is the one holding the chosen date and ‹ Earlier / Later › keep the choice.
PERIOD_LABELS = {
    "week": _l("By week"),
    "month": _l("By month"),
    "quarter": _l("By quarter"),
    "year": _l("By year"),
    "custom": _l("By date range"),
}
# Money: the kinds of ledger entry, and of funding source (None: an entry charged to no source).
LEDGER_KIND_LABELS = {
    "pledge": _l("Pledge"),
    "receipt": _l("Receipt"),
    "expenditure": _l("Expenditure"),
    "reversal": _l("Reversal"),
}
FUNDING_KIND_LABELS = {
    "resident_donation": _l("Resident donations"),
    "property": _l("Property company"),
    "developer": _l("Developer"),
    "enterprise": _l("Enterprise sponsor"),
    "government": _l("Government"),
}
NO_FUNDING_SOURCE = _l("Not charged to a source")


def ledger_kind_labels() -> dict[str, str]:
    """Each kind of ledger entry in the interface language, in the order the pages list them."""
    return {kind: str(label) for kind, label in LEDGER_KIND_LABELS.items()}


def funding_kind_labels(with_none: bool = False) -> dict[str | None, str]:
    """Each kind of funding source in the interface language; with_none adds the "no source" entry."""
    labels: dict[str | None, str] = {kind: str(label) for kind, label in FUNDING_KIND_LABELS.items()}
    if with_none:
        labels[None] = str(NO_FUNDING_SOURCE)
    return labels


def _label(labels: dict, code: str | None) -> str:
    """The code's label in the interface language; an unknown code as itself. Each map is put into the
    language once per request (and language), then read as a plain dict: `labels` must be one of this
    module's label maps (they are told apart by identity, which only lasting objects keep)."""
    if not has_app_context():
        return str(labels.get(code or "", code or ""))
    catalogue = translations()
    cache = g.get("_labels")
    if cache is None or cache[0] is not catalogue:
        cache = g._labels = (catalogue, {})
    resolved = cache[1].get(id(labels))
    if resolved is None:
        resolved = cache[1][id(labels)] = {key: str(label) for key, label in labels.items()}
    return resolved.get(code or "", code or "")


def status_label(status: str | None) -> str:
    return _label(STATUS_LABELS, status)


def level_label(level: str | None) -> str:
    return _label(LEVEL_NAMES, level)


def priority_label(priority: str | None) -> str:
    return _label(PRIORITY_LABELS, priority)


def urgency_label(urgency: str | None) -> str:
    return _label(URGENCY_LABELS, urgency)


def satisfaction_label(satisfaction: str | None) -> str:
    return _label(SATISFACTION_LABELS, satisfaction)


def role_label(role: str | None) -> str:
    return _label(ROLE_LABELS, role)


def period_label(period: str | None) -> str:
    return _label(PERIOD_LABELS, period)


def category_name(category) -> str:
    """A category's label (BilingualName), or "" for none: templates call it where an issue may have none."""
    return category.label if category is not None else ""


# --- timeline and photos ----------------------------------------------------------------------------


# Timeline entries whose line is the same whatever the entry holds.
EVENT_LINES = {
    "filed": _l("Filed"),
    "overdue": _l("Deadline passed at the district level (recorded automatically)"),
    "comment": _l("Comment"),
    "internal_note": _l("Internal note"),
    "public_update": _l("Public update"),
    "callback": _l("Callback to the resident"),
    "photo": _l("Photo added"),
    "accepted": _l("Accepted by the responsible party"),
    "declined": _l("Declined by the responsible party: back to the branch"),
    "merged": _l("A duplicate was merged into this issue"),
}


def event_line(event) -> str:
    """What one timeline entry did, in one line (the note is shown separately)."""
    kind = event.kind
    if kind in EVENT_LINES:
        return str(EVENT_LINES[kind])
    moved = event.from_level and event.to_level
    levels = {"from": level_label(event.from_level), "to": level_label(event.to_level)}
    if kind == "status":
        if event.from_status:
            return _(
                "%(from)s → %(to)s", **{"from": status_label(event.from_status), "to": status_label(event.to_status)}
            )
        return status_label(event.to_status)
    if kind == "escalated":
        if event.actor_id is None:
            return _("Escalated automatically (deadline passed): %(from)s → %(to)s", **levels)
        return _("Escalated: %(from)s → %(to)s", **levels)
    if kind == "handover":
        if moved:
            return _("Handed on, the leader's place being vacant: %(from)s → %(to)s", **levels)
        return _("Handed on to the new leader")
    if kind == "assigned":
        if moved:
            return _("Assigned to a responsible party (taken up to %(level)s)", level=level_label(event.to_level))
        return _("Assigned to a responsible party")
    if kind == "priority":
        return _("Priority set: %(priority)s", priority=priority_label(event.note))
    if kind == "sent_down":
        return _("Sent down with an instruction: %(from)s → %(to)s", **levels)
    return kind


def names_list(names) -> str:
    """Names joined as the interface language joins them (张三、李四 / 张三, 李四)."""
    return _(", ").join(names)


def event_facts_line(event) -> str:
    """The system's own part of a timeline entry — the party and date of an assignment, a callback's answer, a
    rejection's reason, the issue a duplicate went to, who took over from a leader who left — in the reader's
    language, from the facts the entry keeps (IssueEvent.facts); "" when it keeps none."""
    facts = event.facts or {}
    if not facts:
        return ""
    kind = event.kind
    if kind == "assigned":
        return _("To %(party)s, to be resolved by %(date)s", party=facts["party"], date=facts["due_on"])
    if kind == "accepted":
        return _("%(party)s accepted the work", party=facts["party"])
    if kind == "declined":
        return _("%(party)s handed it back", party=facts["party"])
    if kind == "merged":
        return _("%(reference)s was merged into this issue", reference=facts["duplicate"])
    if kind == "handover":
        who = {"name": facts["leaving"], "role": role_label(facts["role"])}
        if "callback_to" in facts:
            return _("%(name)s, %(role)s, left: the callback goes to %(owner)s", owner=facts["callback_to"], **who)
        if event.from_level:
            return _(
                "%(name)s, %(role)s, left and the place is vacant: %(names)s handle it now",
                names=names_list(facts["to"]),
                **who,
            )
        return _("%(name)s, %(role)s, left: %(names)s took over", names=names_list(facts["to"]), **who)
    if "satisfaction" in facts:
        return _("Callback: %(answer)s", answer=satisfaction_label(facts["satisfaction"]))
    if "kept" in facts:
        return _("Merged into %(reference)s", reference=facts["kept"])
    if "reason_id" in facts:
        from .extensions import db
        from .models import RejectReason

        reason = db.session.get(RejectReason, facts["reason_id"])
        return _("Reason: %(reason)s", reason=reason.label) if reason is not None else ""
    return ""


def photo_urls(photo) -> tuple[str, str]:
    """(thumbnail, full photo) addresses; the thumbnail falls back to the photo until its job has run."""
    full = url_for("filing.photo", photo_id=photo.id)
    return (url_for("filing.photo", photo_id=photo.id, thumb=True) if photo.thumb_name else full), full


def photo_viewer_attributes() -> Markup:
    """The data-* attributes a list of photos carries for static/js/photo-viewer.js: the viewer's wording in
    the page's language (the script holds no text of its own)."""
    words = {
        "title": _("Photos"),
        "close": _("Close"),
        "prev": _("Previous photo"),
        "next": _("Next photo"),
    }
    return Markup(" ".join(["data-viewer"] + [f'data-{name}="{escape(text)}"' for name, text in words.items()]))


def once_per_language(template: str) -> Markup:
    """A partial that reads nothing but the interface language and the app's own addresses (the outbox's
    words on every logged-in page): rendered once per language in each process, not on every request
    (once_per_key with nothing else to key on)."""
    return once_per_key(template, ())


# Where a form's CSRF token stands in a part rendered once and served to many requests (no page text holds
# a NUL): each request puts its own token back. The page cache keeps its parts the same way.
TOKEN_SLOT = "\x00token\x00"
_KEPT_PARTS: dict[tuple, str] = {}


def remembered(store: dict, key, build, limit: int = 10_000):
    """`build()` once per key in this process: `store` is a bounded dictionary, emptied when it is full."""
    found = store.get(key)
    if found is None:
        found = build()
        if len(store) >= limit:
            store.clear()
        store[key] = found
    return found


def once_per_key(template: str, key: tuple, with_token: bool = False, **context) -> Markup:
    """A part of every page's frame (the top bar, the footer) rendered once per `key` — everything it shows
    besides the language and the app's own addresses — in each process, not on every request.

    `with_token`: the part holds a form; its CSRF token is kept as a slot and this request's own is put back,
    so no one is ever served another's token."""
    from flask_wtf.csrf import generate_csrf

    token = generate_csrf() if with_token else None

    def render() -> str:
        body = render_template(template, **context)
        return body.replace(token, TOKEN_SLOT) if token else body

    body = remembered(_KEPT_PARTS, (template, str(get_locale()), request.script_root, *key), render)
    return Markup(body.replace(TOKEN_SLOT, token) if token else body)


def register(app) -> None:
    """Every template can call these (no per-blueprint context processor repeats them)."""
    app.jinja_env.globals.update(
        status_label=status_label,
        level_label=level_label,
        priority_label=priority_label,
        urgency_label=urgency_label,
        satisfaction_label=satisfaction_label,
        role_label=role_label,
        period_label=period_label,
        category_name=category_name,
        in_language=in_language,
        local_time=local_time,
        event_line=event_line,
        event_facts_line=event_facts_line,
        photo_urls=photo_urls,
        photo_viewer_attributes=photo_viewer_attributes,
        once_per_language=once_per_language,
        STAGE_LABELS=STAGE_LABELS,
        SATISFACTION_LABELS=SATISFACTION_LABELS,
        LEVEL_LABELS=LEVEL_LABELS,
        url_ids=url_ids,
    )
    app.jinja_env.filters.update(local_time=local_time, format_fen=format_fen, yuan=yuan)
    # The templates' _() and ngettext() through the request's catalogue (Flask-Babel installs its own,
    # which looks the catalogue up on every call).
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
