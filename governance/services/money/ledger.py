"""Money (资金): amounts in fen, the append-only ledger of a renovation project, balances and checks.

Every amount is an integer number of fen (分); text is parsed exactly (never through a float) and
shown as yuan with two decimals. The ledger only grows: pledges (承诺), receipts (到账), expenditures
(支出) and reversals (冲正). A reversal carries the amount, phase and source of the entry it reverses
and counts against that entry's kind; an entry is reversed at most once and a reversal never is.
Nothing keeps running totals: every figure is summed from the entries, and `check_ledger` verifies
the invariants that keep them reconciled. Functions flush and never commit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ... import policy
from ...extensions import db
from ...formatting import beijing_today, format_fen
from ...models import FundingSource, Issue, LedgerEntry, Person, Phase, Project
from ...parsing import ascii_digits
from ..errors import ServiceError
from ..locks import lock_row

# A bigger sum is a typing mistake, not a renovation (and stays far inside BIGINT).
MAX_FEN = 10**14  # 1,000,000,000,000.00 yuan
# What one project's pledges, receipts and expenditures may add up to (100 entries of MAX_FEN). Reversals are
# never refused for it and reverse each entry at most once, so every sum the ledger takes (per project, phase,
# source, kind) stays within 2 × MAX_PROJECT_FEN, far inside the 2^63 fen of SQLite's integer SUM, which
# raises "integer overflow" beyond it (PostgreSQL's SUM of BIGINT is NUMERIC and would not).
MAX_PROJECT_FEN = 100 * MAX_FEN
MAX_TEXT = 300


def today() -> date:
    """Today in Beijing: the date an entry is booked on unless the recorder gives one."""
    return beijing_today()


class LedgerError(ServiceError):
    """A refused entry; `code` selects the message (MESSAGES), nothing was recorded."""

    MESSAGES = {
        "amount_empty": _l("Enter an amount."),
        "amount_negative": _l("Amounts are positive; to correct an entry, reverse it."),
        "amount_zero": _l("The amount must be more than zero."),
        "amount_scientific": _l("Write the amount in full, e.g. 1000.00, not in scientific notation."),
        "amount_decimals": _l("At most two decimals (fen)."),
        "amount_format": _l(
            "Not an amount: use digits, optionally with thousands commas and two decimals, e.g. 1,600,000.00."
        ),
        "amount_too_large": _l("The amount is too large."),
        "project_full": _l(
            "This project's entries would add up to more than %(limit)s yuan, more than one project's ledger holds; "
            "nothing was recorded."
        ),
        "amount_digits": _l("Write the amount with the digits 0-9 (full-width ０-９ are fine too)."),
        "forbidden": _l("You may not record money for this project."),
        "wrong_project": _l("That phase, source or entry belongs to another project."),
        "source_required": _l("Choose the source of the money."),
        "payee_required": _l("Say who was paid."),
        "purpose_required": _l("Say what the money paid for."),
        "reason_required": _l("Say why the entry is reversed."),
        "issue_outside": _l("A linked issue is not in this project's community."),
        "overspend": _l(
            "Only %(available)s yuan is available; spending more needs an administrator's override with a reason."
        ),
        "reverse_reversal": _l("A reversal cannot itself be reversed; record a new entry instead."),
        "already_reversed": _l("This entry has already been reversed."),
        "too_long": _l("The text is too long."),
        "key_reused": _l(
            "This form was already used for another entry (entry %(id)s); nothing was recorded. "
            "Check the ledger, then submit again."
        ),
    }
    # The form is shown again to be corrected (400); a key already used for other money is a conflict (409).
    STATUS = {"key_reused": 409}
    DEFAULT_STATUS = 400


# --- amounts ------------------------------------------------------------------------------------

_SCIENTIFIC = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+")
# Plain digits, or digits grouped by commas in threes; then at most some decimals (counted below).
_AMOUNT = re.compile(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?")
# What a Chinese input method types for a comma and a decimal point; its digits are in parsing.py.
_FULL_WIDTH_PUNCTUATION = str.maketrans("，．", ",.")


def parse_amount(text: str | None) -> int:
    """Yuan as typed → integer fen, exactly; LedgerError with a clear code otherwise.

    Accepted: "1600000", "1,600,000.00", "0.1" (10 fen), "12.3", "  5 " (trimmed), "¥5" / "￥5".
    Refused: "" (amount_empty), "-5" (amount_negative: reversals are their own kind), "0"
    (amount_zero), "1e3" (amount_scientific: a form field that takes 1e3 invites 1e30),
    "12.345" (amount_decimals: fen are the smallest unit, nothing is rounded), "abc", "1,00",
    ".5", "5." (amount_format), more than MAX_FEN (amount_too_large). Full-width digits, commas
    and points ("１，６００．５０") read as their ASCII twins; digits of other scripts ("١٢٣",
    which Python's Decimal would read as 123) are refused (amount_digits).
    """
    text = ascii_digits((text or "").strip().lstrip("¥￥").strip()).translate(_FULL_WIDTH_PUNCTUATION)
    if not text:
        raise LedgerError("amount_empty")
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        raise LedgerError("amount_digits")
    if text.startswith("-"):
        raise LedgerError("amount_negative")
    if _SCIENTIFIC.fullmatch(text):
        raise LedgerError("amount_scientific")
    match = _AMOUNT.fullmatch(text)
    if not match:
        raise LedgerError("amount_format")
    whole, decimals = match.group(1).replace(",", ""), match.group(2) or ""
    if len(decimals) > 2:
        raise LedgerError("amount_decimals")
    try:
        yuan = Decimal(f"{whole}.{decimals or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise LedgerError("amount_format") from None
    fen = yuan.scaleb(2)
    if fen != fen.to_integral_value():  # pragma: no cover - two decimals at most
        raise LedgerError("amount_decimals")
    fen = int(fen)
    if fen == 0:
        raise LedgerError("amount_zero")
    if fen > MAX_FEN:
        raise LedgerError("amount_too_large")
    return fen


def donor_initial(name: str | None, named: bool) -> str | None:
    """A resident donor as the public may see them: 张伟国 → 张** when they agreed to be named; None for
    anonymous donors (the public side shows them only as counts)."""
    name = (name or "").strip()
    if not named or not name:
        return None
    return name[0] + "**"


# --- recording ----------------------------------------------------------------------------------


def _text(value: str, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise LedgerError("too_long")
    return value


def _check_amount(amount_fen) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise TypeError("amounts are integer fen")
    if amount_fen <= 0:
        raise LedgerError("amount_negative" if amount_fen < 0 else "amount_zero")
    if amount_fen > MAX_FEN:
        raise LedgerError("amount_too_large")
    return amount_fen


def find_existing(actor: Person | None, idempotency_key: str | None, **expected) -> LedgerEntry | None:
    """The entry this recorder already made with this key (a retried or doubled form).

    `expected` names the columns the retried submission must share with that entry (kind, project_id,
    amount_fen, reverses_id…): a key reused for other money — another entry's reverse button, a form
    sent again with a different amount — is refused (`key_reused`), never answered with the first entry.
    """
    if actor is None or not idempotency_key:
        return None
    existing = db.session.scalar(
        select(LedgerEntry).where(LedgerEntry.created_by_id == actor.id, LedgerEntry.idempotency_key == idempotency_key)
    )
    if existing is not None and any(getattr(existing, column) != value for column, value in expected.items()):
        raise LedgerError("key_reused", id=existing.id)
    return existing


def _check_project_total(project: Project, amount_fen: int) -> None:
    """Refuse an entry that would take the project's gross total past MAX_PROJECT_FEN (the caller holds the
    project's row lock, so two entries cannot both pass)."""
    recorded = db.session.scalar(
        select(db.func.coalesce(db.func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.project_id == project.id, LedgerEntry.kind != "reversal"
        )
    )
    if int(recorded) + amount_fen > MAX_PROJECT_FEN:
        raise LedgerError("project_full", limit=format_fen(MAX_PROJECT_FEN))


def _authorize(actor: Person | None, project: Project) -> None:
    if not policy.allowed(actor, "record_money", project):
        raise LedgerError("forbidden")


def _same_project(project: Project, *things) -> None:
    for thing in things:
        if thing is not None and thing.project_id != project.id:
            raise LedgerError("wrong_project")


def _add(actor: Person | None, idempotency_key: str | None, **columns) -> LedgerEntry:
    columns["occurred_on"] = columns.get("occurred_on") or today()
    entry = LedgerEntry(
        created_by_id=actor.id if actor is not None else None, idempotency_key=idempotency_key or None, **columns
    )
    try:
        # A savepoint: a concurrent retry with the same key loses the race without spoiling the request.
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
    except IntegrityError:
        same = ("kind", "project_id", "amount_fen", "reverses_id")
        existing = find_existing(actor, idempotency_key, **{c: columns.get(c) for c in same})
        if existing is None:
            raise
        return existing
    return entry


def _record_income(
    kind: str,
    actor: Person | None,
    project: Project,
    source: FundingSource | None,
    amount_fen: int,
    *,
    phase: Phase | None = None,
    donor_name: str = "",
    donor_named: bool = False,
    occurred_on: date | None = None,
    note: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    existing = find_existing(
        actor,
        idempotency_key,
        kind=kind,
        project_id=project.id,
        amount_fen=amount_fen,
        source_id=source.id if source else None,
    )
    if existing is not None:
        return existing
    _authorize(actor, project)
    amount_fen = _check_amount(amount_fen)
    if source is None:
        raise LedgerError("source_required")
    _same_project(project, source, phase)
    donor_name = _text(donor_name, 40) if source.kind == "resident_donation" else ""
    lock_row(Project, project.id)
    _check_project_total(project, amount_fen)
    return _add(
        actor,
        idempotency_key,
        project_id=project.id,
        phase_id=phase.id if phase else None,
        kind=kind,
        amount_fen=amount_fen,
        source_id=source.id,
        donor_name=donor_name,
        donor_named=bool(donor_named and donor_name),
        purpose=_text(note),
        occurred_on=occurred_on,
    )


def record_pledge(actor, project, source, amount_fen, **options) -> LedgerEntry:
    """A source promises money (承诺). Same key again: the entry already recorded."""
    return _record_income("pledge", actor, project, source, amount_fen, **options)


def record_receipt(actor, project, source, amount_fen, **options) -> LedgerEntry:
    """Money arrives (到账), possibly one instalment of a pledge. Same key again: the entry already recorded."""
    return _record_income("receipt", actor, project, source, amount_fen, **options)


def _check_overspend(actor, project: Project, amount_fen: int, override_reason: str) -> str:
    """'' when the balance covers the amount; the override reason when an allowed admin gave one."""
    available = balances(project).total.balance
    if amount_fen <= available:
        return ""
    if override_reason and policy.allowed(actor, "override_overspend", project):
        return override_reason
    raise LedgerError("overspend", available=format_fen(max(available, 0)))


def record_expenditure(
    actor: Person | None,
    project: Project,
    amount_fen: int,
    *,
    payee: str,
    purpose: str,
    phase: Phase | None = None,
    source: FundingSource | None = None,
    issues: list[Issue] | tuple = (),
    override_reason: str = "",
    occurred_on: date | None = None,
    idempotency_key: str | None = None,
    receipt_scan: str | None = None,
) -> LedgerEntry:
    """Spending (支出): payee, purpose, optionally the phase, the source it was paid from, the issues and
    the stored name of its scanned receipt or invoice (see services.platform.photos).

    More than the project's available balance (received − spent) is refused unless someone the policy
    allows to `override_overspend` gives a reason; the reason is kept on the entry.
    """
    existing = find_existing(actor, idempotency_key, kind="expenditure", project_id=project.id, amount_fen=amount_fen)
    if existing is not None:
        return existing
    _authorize(actor, project)
    amount_fen = _check_amount(amount_fen)
    payee, purpose, override_reason = _text(payee, 120), _text(purpose), _text(override_reason)
    if not payee:
        raise LedgerError("payee_required")
    if not purpose:
        raise LedgerError("purpose_required")
    _same_project(project, phase, source)
    if any(issue.community_id != project.community_id for issue in issues):
        raise LedgerError("issue_outside")
    lock_row(Project, project.id)
    _check_project_total(project, amount_fen)
    override = _check_overspend(actor, project, amount_fen, override_reason)
    entry = _add(
        actor,
        idempotency_key,
        project_id=project.id,
        phase_id=phase.id if phase else None,
        kind="expenditure",
        amount_fen=amount_fen,
        source_id=source.id if source else None,
        payee=payee,
        purpose=purpose,
        override_reason=override,
        occurred_on=occurred_on,
        receipt_scan=receipt_scan or None,
    )
    if issues and not entry.issues:
        entry.issues = list({issue.id: issue for issue in issues}.values())
        db.session.flush()
    return entry


def reverse(
    actor: Person | None,
    entry: LedgerEntry,
    reason: str,
    *,
    override_reason: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Correct a mistake (冲正): a new entry with the same amount, phase and source, counted against the
    reversed entry's kind. A reversal is never reversed, and an entry is reversed at most once (the
    database's unique key on reverses_id backs this). Reversing a receipt must not leave the balance
    negative, unless overridden like an overspend."""
    existing = find_existing(actor, idempotency_key, kind="reversal", reverses_id=entry.id)
    if existing is not None:
        return existing
    project = entry.project
    _authorize(actor, project)
    reason, override_reason = _text(reason), _text(override_reason)
    if not reason:
        raise LedgerError("reason_required")
    if entry.kind == "reversal":
        raise LedgerError("reverse_reversal")
    lock_row(Project, project.id)
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)) is not None:
        raise LedgerError("already_reversed")
    override = ""
    if entry.kind == "receipt":
        override = _check_overspend(actor, project, entry.amount_fen, override_reason)
    try:
        return _add(
            actor,
            idempotency_key,
            project_id=project.id,
            phase_id=entry.phase_id,
            kind="reversal",
            amount_fen=entry.amount_fen,
            source_id=entry.source_id,
            reverses_id=entry.id,
            reason=reason,
            override_reason=override,
        )
    except IntegrityError:
        # Someone else reversed it between our check and our insert.
        raise LedgerError("already_reversed") from None


# --- balances -----------------------------------------------------------------------------------


@dataclass
class Figures:
    """Money figures of one grouping, in fen."""

    pledged: int = 0
    received: int = 0
    spent: int = 0
    outstanding: int = 0

    @property
    def balance(self) -> int:
        """Received − spent."""
        return self.received - self.spent

    def add(self, kind: str, amount: int) -> None:
        if kind == "pledge":
            self.pledged += amount
        elif kind == "receipt":
            self.received += amount
        else:
            self.spent += amount

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.pledged, self.received, self.spent, self.outstanding, self.balance)


@dataclass
class Balances:
    """A project's figures: in total, per phase (None: unphased), per source kind and per source
    (None: spending not charged to a source)."""

    total: Figures = field(default_factory=Figures)
    phases: dict[int | None, Figures] = field(default_factory=lambda: defaultdict(Figures))
    kinds: dict[str | None, Figures] = field(default_factory=lambda: defaultdict(Figures))
    sources: dict[int | None, Figures] = field(default_factory=lambda: defaultdict(Figures))


def _signed_rows(project_id: int) -> list[tuple[str, int, int | None, int | None, str | None]]:
    """(effective kind, signed amount, phase id, source id, source kind) summed by the database.

    A reversal counts, negatively, as the kind of the entry it reverses.
    """
    reversed_entry = aliased(LedgerEntry)
    rows = db.session.execute(
        select(
            LedgerEntry.kind,
            reversed_entry.kind,
            LedgerEntry.phase_id,
            LedgerEntry.source_id,
            FundingSource.kind,
            db.func.sum(LedgerEntry.amount_fen),
        )
        .outerjoin(reversed_entry, LedgerEntry.reverses_id == reversed_entry.id)
        .outerjoin(FundingSource, LedgerEntry.source_id == FundingSource.id)
        .where(LedgerEntry.project_id == project_id)
        .group_by(
            LedgerEntry.kind, reversed_entry.kind, LedgerEntry.phase_id, LedgerEntry.source_id, FundingSource.kind
        )
    ).all()
    out = []
    for kind, reversed_kind, phase_id, source_id, source_kind, amount in rows:
        amount = int(amount)
        if kind == "reversal":
            kind, amount = reversed_kind, -amount
        out.append((kind, amount, phase_id, source_id, source_kind))
    return out


def _fold(rows) -> Balances:
    """Balances from (effective kind, signed amount, phase id, source id, source kind) rows."""
    result = Balances()
    # Outstanding pledges: per source, pledged − received, never below zero; summed upwards.
    by_phase_source: dict[tuple, Figures] = defaultdict(Figures)
    for kind, amount, phase_id, source_id, source_kind in rows:
        for figures in (
            result.total,
            result.phases[phase_id],
            result.kinds[source_kind],
            result.sources[source_id],
            by_phase_source[(phase_id, source_id, source_kind)],
        ):
            figures.add(kind, amount)
    for figures in result.sources.values():
        figures.outstanding = max(0, figures.pledged - figures.received)
    kind_of = {source_id: source_kind for (_p, source_id, source_kind) in by_phase_source}
    for source_id, figures in result.sources.items():
        result.kinds[kind_of[source_id]].outstanding += figures.outstanding
        result.total.outstanding += figures.outstanding
    for (phase_id, _source_id, _kind), figures in by_phase_source.items():
        result.phases[phase_id].outstanding += max(0, figures.pledged - figures.received)
    result.phases, result.kinds, result.sources = dict(result.phases), dict(result.kinds), dict(result.sources)
    return result


def balances(project: Project) -> Balances:
    """Pledged, received, outstanding, spent and balance of a project, summed from its entries."""
    return _fold(_signed_rows(project.id))


# --- reconciliation -----------------------------------------------------------------------------


def check_ledger(project: Project | None = None) -> list[str]:
    """Every mismatch found, as text (empty: the ledger reconciles). Checked, per project:

    - every reversal points at an existing entry of the same project that is not a reversal, with the
      same amount, phase and source (and the database keeps it to one reversal per entry);
    - the figures the database sums equal the figures folded entry by entry, to the fen;
    - the total equals the sum over phases (unphased included), over source kinds and over sources;
    - replayed in order, the balance never drops below zero except at an entry carrying an override.
    """
    projects = [project] if project is not None else db.session.scalars(select(Project).order_by(Project.id)).all()
    problems: list[str] = []
    for proj in projects:
        entries = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.project_id == proj.id).order_by(LedgerEntry.id)
        ).all()
        by_id = {e.id: e for e in entries}
        label = f"project {proj.id} ({proj.name})"
        rows, balance = [], 0
        for e in entries:
            kind, amount = e.kind, e.amount_fen
            if e.kind == "reversal":
                original = by_id.get(e.reverses_id)
                if original is None:
                    problems.append(f"{label}: reversal {e.id} points at {e.reverses_id}, not an entry of this project")
                    continue
                if original.kind == "reversal":
                    problems.append(f"{label}: reversal {e.id} reverses reversal {original.id}")
                    continue
                if (original.amount_fen, original.phase_id, original.source_id) != (
                    e.amount_fen,
                    e.phase_id,
                    e.source_id,
                ):
                    problems.append(f"{label}: reversal {e.id} does not match entry {original.id}")
                kind, amount = original.kind, -e.amount_fen
            source_kind = e.source.kind if e.source is not None else None
            rows.append((kind, amount, e.phase_id, e.source_id, source_kind))
            if kind == "receipt":
                balance += amount
            elif kind == "expenditure":
                balance -= amount
            lowers = (kind == "receipt" and amount < 0) or (kind == "expenditure" and amount > 0)
            if lowers and balance < 0 and not e.override_reason:
                problems.append(
                    f"{label}: entry {e.id} leaves the balance at {format_fen(balance)} without an override"
                )
        folded, summed = _fold(rows), balances(proj)
        if folded.total.as_tuple() != summed.total.as_tuple():
            problems.append(f"{label}: database totals {summed.total.as_tuple()} ≠ entries {folded.total.as_tuple()}")
        for name, groups in (("phase", summed.phases), ("kind", summed.kinds), ("source", summed.sources)):
            for key, figures in groups.items():
                other = getattr(folded, name + "s").get(key, Figures())
                if figures.as_tuple() != other.as_tuple():
                    problems.append(
                        f"{label}: {name} {key}: database {figures.as_tuple()} ≠ entries {other.as_tuple()}"
                    )
            parts = [sum(getattr(f, a) for f in groups.values()) for a in ("pledged", "received", "spent")]
            if parts != [summed.total.pledged, summed.total.received, summed.total.spent]:
                problems.append(f"{label}: the {name}s add up to {parts}, the total is {summed.total.as_tuple()[:3]}")
    return problems


# --- the public funding view (docs/DESIGN.md §5) ------------------------------------------------


def percent(part: int, whole: int) -> int | None:
    """Whole percent of `part` in `whole`, from the integer fen, rounded down: 99.6 % is 99 %, never "all of
    it" before it is. Not capped: 2,110 received against a budget of 1,000 is 211 %. None when there is no
    whole (a phase without a budget, nothing received yet): no percentage, rather than a made-up 0 %."""
    if whole <= 0:
        return None
    return part * 100 // whole


def bar_width(pct: int | None) -> int:
    """How much of a progress bar to fill: the percentage kept within 0–100 (the figure beside it stays true)."""
    return 0 if pct is None else max(0, min(100, pct))


@dataclass
class PublicPhase:
    name: str
    budget: int
    received: int
    spent: int

    @property
    def funded_percent(self) -> int | None:
        """Received against the budget target (None without a budget)."""
        return percent(self.received, self.budget)

    @property
    def over_budget(self) -> bool:
        """More received than the budget (超出预算)."""
        return self.budget > 0 and self.received > self.budget

    @property
    def funded_bar(self) -> int:
        return bar_width(self.funded_percent)

    @property
    def spent_percent(self) -> int | None:
        """Spent against what was received (None when nothing was received)."""
        return percent(self.spent, self.received)

    @property
    def overspent(self) -> bool:
        """More spent than received (an admin's override)."""
        return self.spent > self.received


@dataclass
class PublicDrive:
    """A resident donation drive: its target and what it raised, from how many donations."""

    name: str
    starts_on: date | None
    ends_on: date | None
    target: int | None
    received: int
    donations: int

    @property
    def target_percent(self) -> int | None:
        return percent(self.received, self.target or 0)

    @property
    def over_target(self) -> bool:
        return bool(self.target) and self.received > self.target

    @property
    def target_bar(self) -> int:
        return bar_width(self.target_percent)


@dataclass
class PublicFunding:
    """What anyone may see of a project's money: figures, organisations by name, residents as counts and
    totals, and individual residents only by initial, only when they agreed. Nothing else of the ledger
    (no donor names, notes, payees or people) is in here."""

    project_name: str
    total: Figures
    phases: list[PublicPhase]
    kinds: dict[str, Figures]
    organisations: list[tuple[str, str, Figures]]  # (source kind, name, figures)
    drives: list[PublicDrive]
    resident_donations: int
    resident_total: int
    named_donors: list[tuple[str, int]]  # (张**, amount in fen)

    @property
    def spent_percent(self) -> int | None:
        """Spent against what was received (None when nothing was received)."""
        return percent(self.total.spent, self.total.received)

    @property
    def spent_bar(self) -> int:
        return bar_width(self.spent_percent)

    @property
    def overspent(self) -> bool:
        """More spent than received (an admin's override)."""
        return self.total.spent > self.total.received


def public_funding(project: Project) -> PublicFunding:
    """The privacy-safe figures of a project for the public funding view."""
    figures = balances(project)
    phases = [
        PublicPhase(
            p.name,
            p.budget_fen,
            figures.phases.get(p.id, Figures()).received,
            figures.phases.get(p.id, Figures()).spent,
        )
        for p in project.phases
    ]
    organisations = [
        (s.kind, s.name, figures.sources[s.id])
        for s in project.sources
        if s.kind != "resident_donation" and s.id in figures.sources
    ]
    # Resident donations that still stand: receipts of the drives that were not reversed.
    reversed_ids = select(LedgerEntry.reverses_id).where(
        LedgerEntry.project_id == project.id, LedgerEntry.reverses_id.is_not(None)
    )
    donations = db.session.execute(
        select(LedgerEntry.source_id, LedgerEntry.amount_fen, LedgerEntry.donor_name, LedgerEntry.donor_named)
        .join(FundingSource, LedgerEntry.source_id == FundingSource.id)
        .where(
            LedgerEntry.project_id == project.id,
            LedgerEntry.kind == "receipt",
            FundingSource.kind == "resident_donation",
            LedgerEntry.id.not_in(reversed_ids),
        )
        .order_by(LedgerEntry.id)
    ).all()
    per_drive: dict[int, int] = defaultdict(int)
    named: list[tuple[str, int]] = []
    for source_id, amount, donor_name, donor_named in donations:
        per_drive[source_id] += 1
        label = donor_initial(donor_name, bool(donor_named))
        if label:
            named.append((label, amount))
    drives = [
        PublicDrive(
            s.name,
            s.starts_on,
            s.ends_on,
            s.target_fen,
            figures.sources.get(s.id, Figures()).received,
            per_drive.get(s.id, 0),
        )
        for s in project.sources
        if s.kind == "resident_donation"
    ]
    return PublicFunding(
        project_name=project.name,
        total=figures.total,
        phases=phases,
        kinds={k: f for k, f in figures.kinds.items() if k is not None},
        organisations=organisations,
        drives=drives,
        resident_donations=len(donations),
        resident_total=figures.kinds.get("resident_donation", Figures()).received,
        named_donors=named,
    )
