"""The cache of rendered pages (页面缓存): fast to serve, never stale for more than a minute.

It holds the public pages and the parts of staff pages that are the same for everyone who may see them:
the figures of a report (reports/_figures.html), and the body of an issue list (issues/_list.html) and of a
triage console (triage/_console.html), each shared by everyone with the same roles — and two that are a
person's own, the cards of their home page (main/_cards.html) and the body of an issue page as they see it
(issues/_detail.html). A page is stored under its *tags* — what it shows: `district`, `street:<id>`,
`community:<id>`, `compound:<id>` or `issue:<reference>`, for the staff parts also `tree` (the tree, its 小区
and buildings, its leaders, the names of categories and parties, the reject reasons and ready replies), and
for the home cards `table:<name>` of the tables their to-dos count besides issues (TODO_TABLES), the
person's own rows of them (`person:<id>`) and the rows waiting at their roles' nodes (`todos:<node id>`) —
and a variant (language, path, filters, roles, the person for the home cards and the issue page). Kept
values (kept_value) take tags the same way: a request's login is kept under `tree`, `person:<id>` and the
login tables' own tags.
Two things keep it fresh:

- every entry lives at most TTL (60 s): even a change this module never hears of (a ledger entry made
  by a bulk loader, a category renamed, an issue that became overdue as time passed) shows within a minute;
- a change to an issue (or its events, photos, ratings, or a project's ledger), and for `tree` to a node,
  a role, an account's enabled flag, a category or an organisation, is collected by a session hook at
  flush time and, once the transaction commits, the entries of every tag it touches are deleted and the
  tag's generation is bumped. A page rendered from data read before the commit carries the old
  generations, so it is never served after it even if it is stored late. Changes made with Core
  statements mark their tags themselves (`mark`).

With Redis, each worker also keeps its own copy of the entries it read or stored there (near_cache.py),
served without a Redis command while every change announced on the cache's channel has been read and Redis
has answered the worker lately; invalidation announces the tags it bumps.

The store is Redis when REDIS_URL is set (shared by every worker and host), else a small in-process
dictionary (per worker: another worker's copy still expires within TTL). Redis failing costs the request
that meets it a fresh render (nothing is kept); while the circuit breaker then holds Redis off
(redis_conn.py) the in-process dictionary serves, as without Redis — except for a part asked for
`shared_only` (the staff parts: report figures, issue lists, the triage console), which is then rendered
every time, since a worker's own copy would not hear of another worker's commit. The Redis keys keep their
first name, `pub`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from itertools import chain

from flask import current_app, has_app_context
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from ...extensions import db
from ...formatting import TOKEN_SLOT
from ...models import (
    Building,
    Category,
    Compound,
    EndedRole,
    Household,
    Issue,
    IssueEvent,
    IssueFollower,
    LedgerEntry,
    Node,
    Organisation,
    Person,
    Photo,
    Project,
    RatingToken,
    RejectReason,
    ResidentReport,
    ResponseTemplate,
    RoleAssignment,
    SurveyVisit,
)
from ...redis_conn import get_redis, key
from ..locks import CHANGES_NOTHING, open_savepoint
from . import near_cache

log = logging.getLogger("governance.public_cache")
TTL = 60  # seconds an entry may be served; the promise is "never stale for more than a minute"
GEN_TTL = 3600  # a generation outlives every entry stamped with it
SINCE_TTL = 24 * 3600  # how long we remember since when a page has looked the same (Last-Modified)
MEMORY_MAX = 2000  # entries per worker without Redis
# The tag of what the staff pages show besides issues: the tree and its 小区 and buildings, who leads each
# node (the vacancies), the names of categories and parties, the reasons a branch may reject with and the
# ready replies (response templates) it may post.
TREE = "tree"
TREE_MODELS = (
    Node,
    Compound,
    Building,
    RoleAssignment,
    EndedRole,
    Category,
    Organisation,
    RejectReason,
    ResponseTemplate,
)
SESSION_KEY = "public_cache_tags"
# Tables whose every write marks a tag of their own, `table:<name>`, written through the session by the ORM (the
# flush hook) or by Core statements (the execute hook), both seen here. Readers, each of its own tables:
# a leader's home cards count the to-do tables besides issues (notices waiting for them, residents' reports to
# answer, households to visit again); a request's kept login reads the login tables besides the tree (the
# person, the login row, the unread messages: auth_session.py); a filing reads the SLA hours in force.
# Someone logging in or getting a message leaves everyone's cards kept.
TODO_TABLES = ("notice", "notice_recipient", "resident_report", "household", "survey_campaign", "survey_visit")
LOGIN_TABLES = ("person", "login_session", "notification")
REFERENCE_TABLES = ("sla_policy",)  # what a filing reads besides the tree (services/issues/reference.py)
TABLE_TAGS = frozenset(TODO_TABLES + LOGIN_TABLES + REFERENCE_TABLES)
# Tables whose rows each belong to one person (this column names them): a write to a row marks that person's tag
# (person_tag) instead of the table's, so one leader logging in, getting a message or opening a notice leaves
# everyone else's kept login and home cards alone. A Core statement through the session names its people with
# the NAMED_TAGS execution option; one that does not (a periodic clean-up, a roster import, a notice sent to
# everyone) marks the whole table, whose tag every reader of those rows also carries.
PERSON_COLUMNS = {
    "person": "id",
    "login_session": "person_id",
    "notification": "person_id",
    "notice_recipient": "person_id",
}
NAMED_TAGS = "page_cache_tags"
# A to-do row waits at one node — a household (and its visits) at its 邻, a resident's report at the node it was
# handed to: an ORM write marks todos_tag(that node) instead of the table's, so one 邻长 recording a knock or one
# report arriving leaves the cards of every other node kept (a survey has every 邻长 knocking at once).


def table_tag(name: str) -> str:
    """The tag every write to one of TABLE_TAGS marks."""
    return f"table:{name}"


def person_tag(person_id: int) -> str:
    """The tag a write to one person's row of a table of PERSON_COLUMNS marks."""
    return f"person:{person_id}"


def person_rows(person_id: int, tables) -> tuple[str, ...]:
    """The tags a reader of a person's own rows of these tables carries: the person's tag (PERSON_COLUMNS), and
    each table's (what a write to it that names no rows marks)."""
    return (person_tag(person_id), *(table_tag(name) for name in tables))


def todos_tag(node_id: int) -> str:
    """The tag a write to a to-do row waiting at this node marks: a household of this 邻 or a visit to one, a
    resident's report handed to it (the cards of the node's roles count them)."""
    return f"todos:{node_id}"


def naming_people(person_ids) -> dict:
    """Execution options for a Core write to a table of PERSON_COLUMNS whose rows all belong to these people: it
    marks their tags instead of its table's:
    `db.session.execute(statement, params, execution_options=naming_people(ids))`."""
    return {NAMED_TAGS: frozenset(person_tag(person_id) for person_id in person_ids)}


def now() -> float:
    """The clock of the cache (tests patch it instead of sleeping)."""
    return time.time()


@dataclass
class Entry:
    """One rendered page: its body, its validators, when it was stored and under which generation."""

    body: str
    etag: str
    last_modified: float
    stored_at: float
    gen: str  # the generations of the entry's tags when its data was read (see lookup)

    def dumps(self) -> str:
        # Readable as stored (not \u-escaped), so an operator or a test can search the entries as text.
        return json.dumps([self.body, self.etag, self.last_modified, self.stored_at, self.gen], ensure_ascii=False)

    @classmethod
    def loads(cls, raw) -> Entry:
        return cls(*json.loads(raw))

    def fresh(self, gen: str) -> bool:
        """Younger than TTL and rendered under the current generations of its tags."""
        return self.gen == gen and self.young()

    def young(self) -> bool:
        """Stored less than TTL ago."""
        return 0 <= now() - self.stored_at < TTL


@dataclass
class Kept:
    """A value kept beside the pages (kept_value): what was read, when, and for how long it may serve."""

    value: object
    stored_at: float
    max_age: float

    def young(self) -> bool:
        return 0 <= now() - self.stored_at < self.max_age


def _variant_id(tag: str, variant: str) -> str:
    return tag + "|" + hashlib.sha256(variant.encode()).hexdigest()[:32]


def _tags(tags: str | tuple[str, ...]) -> tuple[str, ...]:
    """One tag or several, as a tuple (the first names the entry's key)."""
    return (tags,) if isinstance(tags, str) else tuple(tags)


def _generation(numbers) -> str:
    """The token of the tags' generations an entry is stamped with ("3", or "3.0" for two tags)."""
    return ".".join(str(int(n or 0)) for n in numbers)


# --- the in-process store (no Redis) --------------------------------------------------------------


class MemoryStore:
    """A bounded dictionary per worker: entries, generations, since-when per variant, and kept values."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pages: OrderedDict[str, Entry] = OrderedDict()
        self.gens: dict[str, int] = {}
        self.since: dict[str, tuple[str, float]] = {}
        self.values: OrderedDict[str, tuple[Kept, str]] = OrderedDict()

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.gens.clear()
            self.since.clear()
            self.values.clear()


MEMORY = MemoryStore()


class Unannounced:
    """The tags of changes this process committed while Redis could not be told — the breaker held it off, or
    the invalidation itself failed — each with when it was first left untold.

    Announced before this process next reads or keeps anything through Redis (lookup, kept_value) or with its
    next invalidation: otherwise, once Redis answered again, this very worker would serve the pages kept in
    Redis from before its own change — the leader who just filed would not find the issue in their list —
    until they aged out. Other workers serve theirs until then, and never past TTL. A tag left untold for
    longer than TTL is let go: every page or value kept from before its change has aged out by then."""

    def __init__(self):
        self.lock = threading.Lock()
        self.since: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.since)

    def add(self, tags) -> None:
        at = now()
        with self.lock:
            for tag in tags:
                self.since.setdefault(tag, at)

    def take(self) -> dict[str, float]:
        """The tags still worth announcing (untold for less than TTL), forgotten here until put back."""
        cutoff = now() - TTL
        with self.lock:
            taken = {tag: at for tag, at in self.since.items() if at > cutoff}
            self.since.clear()
        return taken

    def put_back(self, taken: dict[str, float]) -> None:
        with self.lock:
            for tag, at in taken.items():
                self.since[tag] = min(at, self.since.get(tag, at))

    def clear(self) -> None:
        with self.lock:
            self.since.clear()


UNANNOUNCED = Unannounced()


def _redis_configured() -> bool:
    """Whether this deployment has Redis (when get_redis() answers None then, the breaker holds it off, and
    an in-process copy would not hear of another worker's changes)."""
    return bool(current_app.config.get("REDIS_URL"))


def lookup(tags: str | tuple[str, ...], variant: str, shared_only: bool = False) -> tuple[Entry | None, str | None]:
    """The fresh entry of a page (or None) and its tags' generations, read before any rendering (None when
    Redis failed: the page is then rendered and not kept).

    `shared_only`: a page that must show a change at once to whoever made it (a leader's own list after a
    filing) is kept only where every worker hears of the change — in Redis, or in the one process that has
    no Redis configured — never in a worker's own copy while the breaker holds Redis off."""
    tags = _tags(tags)
    page_id = _variant_id(tags[0], variant)
    client = get_redis()
    if client is None and shared_only and _redis_configured():
        return None, None
    if client is None:
        with MEMORY.lock:
            gen = _generation(MEMORY.gens.get(tag, 0) for tag in tags)
            entry = MEMORY.pages.get(page_id)
        return (entry if entry is not None and entry.fresh(gen) else None), gen
    if UNANNOUNCED and not _announce(client, ()):
        return None, None
    near = _near(client)
    held = near.get(page_id)
    if held is not None:
        return held
    try:
        raw, *raw_gens = client.mget(key("pub", "page", page_id), *(key("pub", "gen", tag) for tag in tags))
    except Exception as exc:  # noqa: BLE001 - Redis down: render without the cache
        log.warning("public cache unavailable (%s)", exc)
        return None, None
    gen = _generation(raw_gens)
    entry = Entry.loads(raw) if raw else None
    if entry is None or not entry.fresh(gen):
        return None, gen
    near.put(page_id, tags, entry, gen)
    return entry, gen


def _near(client) -> near_cache.NearCache:
    """This worker's copy of the pages kept in Redis (near_cache.py)."""
    return near_cache.for_client(
        current_app.extensions,
        client,
        key("pub", "announce"),
        float(current_app.config.get("REDIS_SOCKET_TIMEOUT", 0.5)) / 2,
    )


def store(tags: str | tuple[str, ...], variant: str, body: str, gen: str | None, validators: bool = True) -> Entry:
    """Keep a rendered page for TTL under the generations `lookup` returned; Last-Modified stays put while
    the page renders the same (`validators` False: a part of a page, which sends none — no Redis round trip
    for them)."""
    tags = _tags(tags)
    page_id = _variant_id(tags[0], variant)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    at = now()
    if gen is None:  # the store failed or is held off at lookup: serve the page, keep nothing
        return Entry(body, etag, at, at, "")
    client = get_redis()
    if client is None:
        with MEMORY.lock:
            since = MEMORY.since.get(page_id)
            entry = Entry(body, etag, since[1] if since and since[0] == etag else at, at, gen)
            MEMORY.since[page_id] = (etag, entry.last_modified)
            MEMORY.pages[page_id] = entry
            MEMORY.pages.move_to_end(page_id)
            _trim_memory(at)
        return entry
    entry = Entry(body, etag, at, at, gen)
    try:
        since = client.get(key("pub", "since", page_id)) if validators else None
        if since:
            old_etag, _, old_at = since.decode().partition(" ")
            if old_etag == etag:
                entry.last_modified = float(old_at)
        with client.pipeline() as pipe:
            pipe.set(key("pub", "page", page_id), entry.dumps(), ex=TTL)
            if validators:
                pipe.set(key("pub", "since", page_id), f"{etag} {entry.last_modified}", ex=SINCE_TTL)
            for tag in tags:
                pipe.sadd(key("pub", "tag", tag), page_id)
                pipe.expire(key("pub", "tag", tag), TTL * 2)
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - the page is still served, just not kept
        log.warning("public cache unavailable (%s)", exc)
        return entry
    near = near_cache.existing(current_app.extensions, client)
    if near is not None:
        near.put(page_id, tags, entry, gen)
    return entry


def variant(kind: str, *parts) -> str:
    """The variant of a kept staff part: what kind of part, the reader's language, and whatever else decides
    what it shows (roles, filters, the person) — one shape for every part, the language never left out."""
    return repr((kind, str(get_locale()), *parts))


def fragment(tags: str | tuple[str, ...], variant: str, render, token: str | None = None) -> Markup:
    """A part of a staff page (a report's figures, a list of issues, a triage console, a person's home cards or
    issue page): from the cache when a request rendered it under the current generations of its tags less
    than TTL ago, else `render()` now and kept — only where every worker hears of changes (`shared_only`), so
    whoever just acted never reads the part from before.

    `token`: this request's CSRF token, which a part with a form carries: it is kept as a slot and each
    reader gets their own back, so no one's token is ever served to someone else."""
    entry, gen = lookup(tags, variant, shared_only=True)
    if entry is None:
        body = render()
        entry = store(tags, variant, body.replace(token, TOKEN_SLOT) if token else body, gen, validators=False)
    if TOKEN_SLOT not in entry.body:
        return Markup(entry.body)
    if not token:
        raise ValueError("a kept part with a form's token needs the reader's token")
    return Markup(entry.body.replace(TOKEN_SLOT, token))


def kept_value(tags: tuple[str, ...], name: str, read, max_age: float):
    """What `read(session)` gives, read in a session of its own (its objects belong to no request: a caller
    merges what it hands out into its own session), kept in this worker (never in Redis) and given again while
    no change to its tags has been heard of and for at most `max_age` seconds: with Redis, only in the
    worker's copy that hears every announced change (near_cache.py); without Redis configured, under the tags'
    in-process generations; while the breaker holds a configured Redis off, not kept at all (another worker's
    change would go unheard). `name` must say everything the value depends on besides the tags."""

    def load():
        with Session(db.engine) as apart:
            return read(apart)

    client = get_redis()
    if client is None:
        if _redis_configured():
            return load()
        with MEMORY.lock:
            gen = _generation(MEMORY.gens.get(tag, 0) for tag in tags)
            held = MEMORY.values.get(name)
        if held is not None and held[1] == gen and held[0].young():
            return held[0].value
        value = load()
        with MEMORY.lock:
            MEMORY.values[name] = (Kept(value, now(), max_age), gen)
            MEMORY.values.move_to_end(name)
            while len(MEMORY.values) > MEMORY_MAX:
                MEMORY.values.popitem(last=False)
        return value
    if UNANNOUNCED and not _announce(client, ()):
        return load()
    near = _near(client)
    held = near.get(name)
    if held is not None:
        return held[0].value
    value = load()
    near.put(name, tags, Kept(value, now(), max_age), "")
    return value


def _trim_memory(at: float) -> None:
    """Drop expired entries, then the oldest, so a worker's cache stays small (lock held)."""
    if len(MEMORY.pages) <= MEMORY_MAX:
        return
    for page_id in [p for p, e in MEMORY.pages.items() if at - e.stored_at >= TTL]:
        del MEMORY.pages[page_id]
    while len(MEMORY.pages) > MEMORY_MAX:
        MEMORY.pages.popitem(last=False)
    if len(MEMORY.since) > MEMORY_MAX * 4:
        MEMORY.since.clear()


def invalidate(tags) -> None:
    """Delete the entries of these tags and bump their generations (after a commit)."""
    tags = sorted(set(tags))
    if not tags:
        return
    client = get_redis()
    if client is None:
        if _redis_configured():  # the breaker holds Redis off: tell it when it answers again
            UNANNOUNCED.add(tags)
        with MEMORY.lock:
            for tag in tags:
                MEMORY.gens[tag] = MEMORY.gens.get(tag, 0) + 1
            prefixes = tuple(tag + "|" for tag in tags)
            for page_id in [p for p in MEMORY.pages if p.startswith(prefixes)]:
                del MEMORY.pages[page_id]
        return
    _announce(client, tags)


def _announce(client, tags) -> bool:
    """Invalidate these tags in Redis, and with them every change left untold (Unannounced); False when Redis
    failed, the tags then left untold in their turn."""
    now_at = now()
    taken = {**{tag: now_at for tag in tags}, **UNANNOUNCED.take()}
    if not taken:
        return True
    tags = sorted(taken)
    near = near_cache.existing(current_app.extensions, client)
    if near is not None:  # a process that only writes (a job) keeps no copy and hears nothing
        near.drop(tags)
    try:
        client.register_script(_INVALIDATE)(
            keys=[key("pub", "gen", tag) for tag in tags] + [key("pub", "tag", tag) for tag in tags],
            args=[GEN_TTL, key("pub", "page", ""), key("pub", "announce"), " ".join(tags)],
        )
        # The fence: Redis writes the announcement to every worker's connection in the same turn as the script's
        # answer, but possibly after it; one more command answered means it has been written (near_cache.py:
        # whoever acted sees the change on whichever worker serves their next request).
        client.ping()
    except Exception as exc:  # noqa: BLE001 - told again with the next use of Redis; never kept past TTL
        UNANNOUNCED.put_back(taken)
        log.warning("public cache not invalidated (%s); told again when Redis answers, or expired by %ss", exc, TTL)
        return False
    return True


# Invalidation in one command (every commit that changes an issue runs it), atomic: bump each tag's generation,
# announce the tags to every worker's copy (near_cache.py), then delete the tags' pages and their member sets.
# KEYS: the n generation keys, then the n tag sets; ARGV: the generations' TTL, the page keys' prefix, the
# announce channel and the announcement.
_INVALIDATE = """
local n = #KEYS / 2
for i = 1, n do
    redis.call('INCR', KEYS[i])
    redis.call('EXPIRE', KEYS[i], ARGV[1])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
local doomed = {}
for i = n + 1, 2 * n do
    for _, page in ipairs(redis.call('SMEMBERS', KEYS[i])) do
        doomed[#doomed + 1] = ARGV[2] .. page
    end
    doomed[#doomed + 1] = KEYS[i]
end
for first = 1, #doomed, 500 do
    redis.call('DEL', unpack(doomed, first, math.min(first + 499, #doomed)))
end
return #doomed
"""


def clear() -> None:
    """Forget every in-process entry (tests start from nothing; Redis tests use a namespace of their own)."""
    MEMORY.clear()
    UNANNOUNCED.clear()
    near_cache.forget_all()


def memory_bodies() -> list[str]:
    """The bodies held in-process (for the tests that look inside the cache)."""
    with MEMORY.lock:
        return [e.body for e in MEMORY.pages.values()]


# --- what a change touches ---------------------------------------------------------------------


def issue_tags(street_id, community_id, compound_id, reference) -> set[str]:
    """The pages that show an issue: its 小区, community, 街镇, the district, and its own page."""
    tags = {"district"}
    if street_id:
        tags.add(f"street:{street_id}")
    if community_id:
        tags.add(community_tag(community_id))
    if compound_id:
        tags.add(f"compound:{compound_id}")
    if reference:
        tags.add(issue_tag(reference))
    return tags


def issue_tag(reference: str) -> str:
    """The tag of an issue's own pages (public and staff): every change to it, its events, photos, ratings
    and followers marks it."""
    return f"issue:{reference}"


def community_tag(community_id: int) -> str:
    """The tag every change to an issue of the community marks."""
    return f"community:{community_id}"


def area_tag(node) -> str:
    """The tag under which a node's issues are counted: the district, a 街镇 or a community (a 片, 组 or 邻
    goes with its community, which every change to one of its issues marks)."""
    if node.level in ("street", "community"):
        return _tag_for(f"{node.level}_id", node.id)
    if node.level != "district" and node.community_id:
        return _tag_for("community_id", node.community_id)
    return "district"


def _history_values(obj, attr: str) -> list:
    """The value of an attribute now and before this flush (an issue moved to another 小区 leaves two)."""
    history = inspect(obj).attrs[attr].history
    return [getattr(obj, attr), *history.deleted]


def _changed(session, obj, attr: str) -> bool:
    """Whether this flush writes a new value of the attribute (or the object is new or deleted)."""
    return obj in session.new or obj in session.deleted or inspect(obj).attrs[attr].history.has_changes()


def mark(tags) -> None:
    """Invalidate these tags when the current transaction commits (for changes made without the ORM)."""
    db.session.info.setdefault(SESSION_KEY, set()).update(tags)


def mark_issue(issue: Issue) -> None:
    """Invalidate the pages of an issue when the current transaction commits."""
    mark(issue_tags(issue.street_id, issue.community_id, issue.compound_id, issue.reference))


TAG_COLUMNS = ("street_id", "community_id", "compound_id", "reference")


def _columns_of(session, model, ids, columns: tuple[str, ...]) -> list[tuple]:
    """These columns of these rows: from the session's copies where it holds them loaded (the issue an event is
    added to, the household a visit is recorded for), else one statement for the rest."""
    found, missing = [], []
    for row_id in ids:
        held = session.identity_map.get(model.__mapper__.identity_key_from_primary_key((row_id,)))
        loaded = inspect(held).dict if held is not None else {}
        if all(column in loaded for column in columns):
            found.append(tuple(loaded[column] for column in columns))
        else:
            missing.append(row_id)
    if missing:
        statement = select(*(getattr(model, column) for column in columns)).where(model.id.in_(missing))
        found.extend(tuple(row) for row in session.connection().execute(statement))
    return found


def _tags_of_issues(session, issue_ids) -> set[str]:
    """The tags of the pages that show these issues."""
    return set().union(*(issue_tags(*row) for row in _columns_of(session, Issue, issue_ids, TAG_COLUMNS)))


def _todos_tags_of_households(session, household_ids) -> set[str]:
    """The to-do tags of these households' 邻."""
    held = _columns_of(session, Household, household_ids, ("neighbour_id",))
    return {todos_tag(neighbour_id) for (neighbour_id,) in held if neighbour_id}


def mark_issue_ids(issue_ids) -> None:
    """Invalidate the pages of these issues when the current transaction commits (for issues changed by
    Core statements, which the flush hook does not see)."""
    if issue_ids:
        mark(_tags_of_issues(db.session, issue_ids))


def _after_flush(session, flush_context) -> None:
    """Collect the tags of what this flush changed (the pre-flush state and history are still readable)."""
    tags: set[str] = set()
    issue_ids: set[int] = set()
    project_ids: set[int] = set()
    household_ids: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Issue):
            for attr in TAG_COLUMNS:
                for value in _history_values(obj, attr):
                    if value:
                        tags.add(_tag_for(attr, value))
            tags.add("district")
        elif isinstance(obj, (IssueEvent, Photo, RatingToken, IssueFollower)) and obj.issue_id:
            issue_ids.add(obj.issue_id)
        elif isinstance(obj, LedgerEntry) and obj.project_id:
            project_ids.add(obj.project_id)
        elif isinstance(obj, TREE_MODELS) or (isinstance(obj, Person) and _changed(session, obj, "enabled")):
            tags.add(TREE)
        elif isinstance(obj, Household):
            tags.update(todos_tag(value) for value in _history_values(obj, "neighbour_id") if value)
        elif isinstance(obj, ResidentReport):
            tags.update(todos_tag(value) for value in _history_values(obj, "handler_node_id") if value)
        elif isinstance(obj, SurveyVisit):
            household_ids.update(value for value in _history_values(obj, "household_id") if value)
        elif (column := PERSON_COLUMNS.get(getattr(type(obj), "__tablename__", None))) is not None:
            tags.update(person_tag(value) for value in _history_values(obj, column) if value)
        elif getattr(type(obj), "__tablename__", None) in TABLE_TAGS:
            tags.add(table_tag(type(obj).__tablename__))
    if issue_ids:
        tags |= _tags_of_issues(session, issue_ids)
    if household_ids:
        tags |= _todos_tags_of_households(session, household_ids)
    if project_ids:
        rows = session.connection().execute(
            select(Project.community_id, Project.compound_id).where(Project.id.in_(project_ids))
        )
        for community_id, compound_id in rows:
            tags |= {community_tag(community_id)} | ({f"compound:{compound_id}"} if compound_id else set())
    if tags:
        session.info.setdefault(SESSION_KEY, set()).update(tags)


def _tag_for(attr: str, value) -> str:
    return {"street_id": "street", "community_id": "community", "compound_id": "compound", "reference": "issue"}[
        attr
    ] + f":{value}"


def _do_orm_execute(state) -> None:
    """A Core INSERT, UPDATE or DELETE through the session on one of TABLE_TAGS marks its table's tag, or the
    tags it names (NAMED_TAGS: the people whose rows of a login table it writes)."""
    if (state.is_insert or state.is_update or state.is_delete) and not state.execution_options.get(CHANGES_NOTHING):
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        if name in TABLE_TAGS:
            named = state.execution_options.get(NAMED_TAGS)
            state.session.info.setdefault(SESSION_KEY, set()).update(named if named is not None else {table_tag(name)})


def _after_commit(session) -> None:
    """The change is visible now: drop the pages that showed the old state (at the transaction's commit, not a
    savepoint's release: a page computed in between would show the old rows under the new generation)."""
    if open_savepoint(session) is not None:
        return
    tags = session.info.pop(SESSION_KEY, None)
    if tags and has_app_context():
        invalidate(tags)


def _after_rollback(session) -> None:
    """Nothing changed after all. A savepoint rolled back keeps every tag the transaction gathered: what it
    undid may drop a page needlessly at the commit, while forgetting the rest would keep pages stale."""
    if open_savepoint(session) is None:
        session.info.pop(SESSION_KEY, None)


def register_session_hooks(app) -> None:
    """Changes to issues refresh the cached public pages: listen on the session once per process (every app
    in a process shares the scoped session)."""
    if not event.contains(db.session, "after_flush", _after_flush):
        event.listen(db.session, "after_flush", _after_flush)
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_rollback", _after_rollback)
        event.listen(db.session, "do_orm_execute", _do_orm_execute)
    app.extensions.setdefault("public_cache", MEMORY)


def redis_keys() -> list[str]:
    """Every key of the public cache in this deployment's Redis namespace (for tests and operators)."""
    client = get_redis()
    if client is None:
        return []
    prefix = current_app.config["REDIS_PREFIX"] + "pub"
    return [k.decode() for k in client.scan_iter(match=prefix + "*", count=1000)]
