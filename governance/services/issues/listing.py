"""The issue list (问题列表): scoped, filtered, keyset-paginated, and fast at a million issues.

The scope indexes on Issue are (scope column, status, created_at). A plain
`WHERE zone_id = ? ORDER BY created_at DESC` cannot read them in order, because status sits in
between: it would fetch every issue of the scope and sort them (a street holds ~90,000, the
district 1,000,000). So the newest page is read as one small, index-ordered "arm" per
(scope node, status) — `WHERE zone_id = ? AND status = ? ORDER BY created_at DESC LIMIT n+1` —
and the arms (at most 9 per scope node) are merged. Each arm stops after n+1 rows, whatever the
size of the scope. The district-wide list uses the (status, created_at) index the same way.

Free-text search (LIKE '%…%') cannot be answered from these indexes. It reads the same arms over
the newest few thousand issues first (common words are found there at once), and falls back to one
plain query over the whole scope for rare words: the one remaining scan, for street- and
district-wide searches (see _search). An exact reference goes straight to the unique index.

The total is counted on the first page only, and only up to COUNT_CAP ("more than 1,000"): an exact
count of a street's or the district's issues would touch every one of them on every page view. When
the first page holds everything, its length is the count and no count query runs at all; a free-text
search with more than a page of matches says "more than 25" rather than scan the scope a second time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.orm import joinedload, load_only

from ... import policy
from ...extensions import db
from ...models import HANDLING_LEVELS, LEVELS, OPEN_STATUSES, STATUSES, Building, Compound, Issue, Node, Person
from ...parsing import parse_id
from ..people.tree import node_path, within_condition
from ..public import page_cache

PAGE_SIZE = 25
COUNT_CAP = 1000
# Ids and numbers from the address bar must fit the database's integer (PostgreSQL refuses larger).
MAX_QUERY = 80
# The area list offers this many nodes at most; deeper levels appear once a node is chosen.
MAX_AREA_OPTIONS = 60
# Free-text search first looks at this many of the newest issues per (area, status) arm.
TEXT_WINDOW = 3000
REFERENCE_RE = re.compile(r"^WC-\d{4}-\d{1,10}$", re.IGNORECASE)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The Issue column holding each tree level's id (the district has none: it holds everything).
SCOPE_COLUMN = {
    "street": Issue.street_id,
    "community": Issue.community_id,
    "zone": Issue.zone_id,
    "group": Issue.group_id,
    "neighbour": Issue.neighbour_id,
}


@dataclass
class Filters:
    """What the person asked the list for (every value already checked)."""

    status: str = ""  # "", "open", or one of STATUSES
    category_id: int | None = None
    level: str = ""
    overdue: bool = False
    node: Node | None = None
    q: str = ""

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (for pager links)."""
        values = {
            "status": self.status,
            "category": str(self.category_id or ""),
            "level": self.level,
            "overdue": "1" if self.overdue else "",
            "node": str(self.node.id) if self.node is not None else "",
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v}

    @property
    def narrowed(self) -> bool:
        """Any filter other than the area is set."""
        return bool(self.status or self.category_id or self.level or self.overdue or self.q)


class OutOfScope(Exception):
    """The address asks for an area the person may not see."""


def parse_filters(args, person: Person) -> Filters:
    """Read the filters from the query string; unknown values are ignored, a foreign area refused."""
    status = (args.get("status") or "").strip()
    level = (args.get("level") or "").strip()
    filters = Filters(
        status=status if status == "open" or status in STATUSES else "",
        category_id=parse_id(args.get("category")),
        level=level if level in HANDLING_LEVELS else "",
        overdue=(args.get("overdue") or "") == "1",
        q=" ".join((args.get("q") or "").split())[:MAX_QUERY],
    )
    raw_node = (args.get("node") or "").strip()
    if raw_node:
        node_id = parse_id(raw_node)
        node = db.session.get(Node, node_id) if node_id else None
        # Unknown and foreign nodes get the same answer, so ids reveal nothing.
        if node is None or not policy.allowed(person, "view_node", node):
            policy.log_denial(person, "list_issues", f"node={raw_node[:20]}")
            raise OutOfScope()
        filters.node = node
    return filters


@dataclass
class Cursor:
    """A position in the newest-first order: list what lies before (older) or after (newer) it."""

    created_at: datetime
    issue_id: int
    direction: str  # "older" or "newer"

    @staticmethod
    def encode(issue: Issue) -> str:
        delta = issue.created_at - EPOCH
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}_{issue.id}"

    @classmethod
    def parse(cls, args) -> Cursor | None:
        for name, direction in (("before", "older"), ("after", "newer")):
            raw = (args.get(name) or "").strip()
            if not raw:
                continue
            micros, _, ident = raw.partition("_")
            issue_id = parse_id(ident)
            try:
                at = EPOCH + timedelta(microseconds=int(micros))
            except (ValueError, OverflowError):
                return None
            if issue_id is None or not datetime(2000, 1, 1, tzinfo=UTC) <= at <= datetime(2200, 1, 1, tzinfo=UTC):
                return None
            return cls(at, issue_id, direction)
        return None

    def conditions(self) -> list:
        """Keyset conditions; the first is a plain range on created_at, so an index can bound it."""
        if self.direction == "older":
            return [
                Issue.created_at <= self.created_at,
                or_(Issue.created_at < self.created_at, Issue.id < self.issue_id),
            ]
        return [
            Issue.created_at >= self.created_at,
            or_(Issue.created_at > self.created_at, Issue.id > self.issue_id),
        ]


@dataclass
class Page:
    """One page of the list, newest first."""

    issues: list[Issue]
    has_older: bool
    has_newer: bool
    count: int | None  # None: not counted (pages after the first)
    count_capped: bool
    now: datetime
    older_cursor: str | None = None
    newer_cursor: str | None = None
    overdue_ids: set[int] = field(default_factory=set)


def statuses_for(filters: Filters) -> list[str]:
    """The statuses the list may show: one arm each."""
    if filters.status == "open":
        wanted = list(OPEN_STATUSES)
    elif filters.status:
        wanted = [filters.status]
    else:
        wanted = list(STATUSES)
    if filters.overdue:  # only an open issue can be overdue
        wanted = [s for s in wanted if s in OPEN_STATUSES]
    return wanted


def overdue_condition(now: datetime):
    """Open and a deadline at the current level has passed (the SQL twin of Issue.overdue)."""
    return or_(Issue.ack_due_at <= now, Issue.resolve_due_at <= now)


def text_condition(q: str):
    """Title or reference contains the words, wildcards taken literally."""
    if REFERENCE_RE.match(q):
        return Issue.reference == q.upper()
    return or_(Issue.title.icontains(q, autoescape=True), Issue.reference.icontains(q, autoescape=True))


def residual_conditions(filters: Filters, now: datetime) -> list:
    """Filters that do not lead an index: checked on each row the index hands over."""
    conditions = []
    if filters.category_id:
        conditions.append(Issue.category_id == filters.category_id)
    if filters.level:
        conditions.append(Issue.level == filters.level)
    if filters.overdue:
        conditions.append(overdue_condition(now))
    if filters.q:
        conditions.append(text_condition(filters.q))
    return conditions


def anchors(person: Person, filters: Filters) -> list:
    """Equality conditions that lead an index, one per area the list covers ([None]: the whole district).

    The person's own areas when no area is chosen, with areas inside another of theirs dropped
    (a 组长 who is also a 邻长 in that 组 needs the 组 only), plus the organisations they work for.
    """
    if filters.node is not None:
        column = SCOPE_COLUMN.get(filters.node.level)
        return [column == filters.node.id] if column is not None else [None]
    scopes = policy.scopes(person)
    if any(s.level == "district" for s in scopes):
        return [None]
    nodes = {r.node_id: r.node for r in person.roles if r.node_id is not None}
    result, seen = [], set()
    for scope in scopes:
        key = (scope.level, scope.node_id)
        inner = any(
            (other.level, other.node_id) != key and policy.covers(other, nodes[scope.node_id]) for other in scopes
        )
        if not inner and key not in seen:
            seen.add(key)
            result.append(SCOPE_COLUMN[scope.level] == scope.node_id)
    for org_id in sorted({r.organisation_id for r in person.roles if r.role == "org_staff"}):
        result.append(Issue.assignee_org_id == org_id)
    return result


def _where(person: Person, filters: Filters, now: datetime) -> list:
    """Scope (the policy's own condition: the authority on what the person may see) and residual filters."""
    scope = policy.issue_scope_condition(person)
    return ([] if scope is None else [scope]) + residual_conditions(filters, now)


def _order(direction: str):
    if direction == "newer":
        return (Issue.created_at.asc(), Issue.id.asc())
    return (Issue.created_at.desc(), Issue.id.desc())


def _arms(person: Person, filters: Filters, statuses: list[str], where: list, direction: str, limit: int) -> list:
    """One index-ordered query per (area, status), each stopping after `limit` rows."""
    return _arms_over(anchors(person, filters), statuses, where, direction, limit)


def _arms_over(areas: list, statuses: list[str], where: list, direction: str, limit: int) -> list:
    """The arms of `_arms` for any list of area conditions (None: the whole district) — one SELECT of (id,
    created_at) per area and status, in the list's order, each stopping after `limit` rows — so the staff list
    and the public pages (`newest_keys`) build them the same way."""
    statements = []
    for anchor in areas:
        for status in statuses:
            arm = select(Issue.id, Issue.created_at).where(Issue.status == status, *where)
            if anchor is not None:
                arm = arm.where(anchor)
            statements.append(arm.order_by(*_order(direction)).limit(limit))
    return statements


def _union(statements: list) -> list:
    """Run the arms as one statement; each is wrapped so that its ORDER BY … LIMIT stays its own (SQLite)."""
    if not statements:
        return []
    if len(statements) == 1:
        return db.session.execute(statements[0]).all()
    subqueries = [statement.subquery() for statement in statements]
    return db.session.execute(union_all(*[select(*sq.c) for sq in subqueries])).all()


def _merge(rows: list, direction: str, limit: int) -> list[tuple[int, datetime]]:
    """Merge the arms in list order; a person's areas may overlap through an organisation, so drop repeats."""
    unique = {row[0]: row[1] for row in rows}
    keys = sorted(unique.items(), key=lambda item: (item[1], item[0]), reverse=direction != "newer")
    return keys[:limit]


def newest_keys(anchor, statuses: list[str], where: list, limit: int) -> list[tuple[int, datetime]]:
    """Up to `limit` (id, created_at) pairs, newest first, of the issues in `statuses` that meet `anchor` (an
    equality that leads a scope index, as SCOPE_COLUMN's; None: the whole district) and `where`: one index-ordered
    arm per status, merged, as the staff list reads its pages. The public pages' lists use it: a plain ORDER BY
    created_at over a 街镇 or the district would read and sort every issue there on every recomputation."""
    return _merge(_union(_arms_over([anchor], statuses, where, "older", limit)), "older", limit)


def _plain(where: list, filters: Filters, person: Person, statuses: list[str], direction: str, limit: int) -> list:
    """One query over the whole scope: the database chooses the plan (an index for a small area, a scan otherwise)."""
    statement = select(Issue.id, Issue.created_at).where(*where).order_by(*_order(direction)).limit(limit)
    if filters.node is not None:
        anchor = anchors(person, filters)[0]
        if anchor is not None:
            statement = statement.where(anchor)
    if len(statuses) < len(STATUSES):
        statement = statement.where(Issue.status.in_(statuses))
    return [tuple(row) for row in db.session.execute(statement)]


def _search(person, filters, statuses, where, cursor, direction, limit) -> list[tuple[int, datetime]]:
    """Free-text search: the newest TEXT_WINDOW issues of each arm first, the whole scope only if that is not enough.

    Words that many issues contain (路灯, a building) are found among the newest few thousand
    issues in milliseconds. The window's far edge is the TEXT_WINDOW-th newest issue of the busiest
    arm; everything newer than it is examined, so when it yields a full page that page is exact.
    Rare words fall back to one plain query, which the database answers with a scan.
    """
    cursor_conditions = cursor.conditions() if cursor else []
    edges = []
    for anchor in anchors(person, filters):
        for status in statuses:
            edge = select(Issue.created_at).where(Issue.status == status, *cursor_conditions)
            if anchor is not None:
                edge = edge.where(anchor)
            order = Issue.created_at.asc() if direction == "newer" else Issue.created_at.desc()
            edges.append(edge.order_by(order).offset(TEXT_WINDOW - 1).limit(1))
    found = [row[0] for row in _union(edges)]
    bound = []
    if found:  # some arm is longer than the window: look at the newest part only
        bound = [Issue.created_at <= min(found)] if direction == "newer" else [Issue.created_at >= max(found)]
    keys = _merge(_union(_arms(person, filters, statuses, where + bound, direction, limit)), direction, limit)
    if len(keys) >= limit or not found:
        return keys
    return _plain(where, filters, person, statuses, direction, limit)


def page_keys(
    person: Person, filters: Filters, cursor: Cursor | None, now: datetime, size: int = PAGE_SIZE
) -> list[tuple[int, datetime]]:
    """Up to size+1 (id, created_at) pairs in the cursor's direction (newest first unless 'newer')."""
    direction = cursor.direction if cursor else "older"
    where = _where(person, filters, now) + (cursor.conditions() if cursor else [])
    statuses = statuses_for(filters)
    if not statuses:
        return []
    if filters.q and REFERENCE_RE.match(filters.q):
        return _plain(where, filters, person, statuses, direction, size + 1)  # the unique index on reference
    if filters.q:
        return _search(person, filters, statuses, where, cursor, direction, size + 1)
    return _merge(_union(_arms(person, filters, statuses, where, direction, size + 1)), direction, size + 1)


def matching(person: Person, filters: Filters, now: datetime):
    """SELECT Issue.id of every issue the list shows (scope, area and filters); None when nothing can match."""
    statement = select(Issue.id).where(*_where(person, filters, now))
    if filters.node is not None:
        anchor = anchors(person, filters)[0]
        if anchor is not None:
            statement = statement.where(anchor)
    statuses = statuses_for(filters)
    if not statuses:
        return None
    if len(statuses) < len(STATUSES):
        statement = statement.where(Issue.status.in_(statuses))
    return statement


def count_matching(person: Person, filters: Filters, now: datetime, cap: int | None = None) -> int:
    """How many issues the list holds, counted up to `cap` + 1 when a cap is given (cheaper)."""
    statement = matching(person, filters, now)
    if statement is None:
        return 0
    if cap is not None:
        statement = statement.limit(cap + 1)
    return db.session.scalar(select(func.count()).select_from(statement.subquery()))


def count_each(statements: list, cap: int) -> list[int]:
    """How many rows each SELECT gives, each counted up to cap + 1, all in one statement (a page showing
    several counts — the home page's to-dos, a 邻's issues by state — pays one round trip for them)."""
    if not statements:
        return []
    columns = [select(func.count()).select_from(s.limit(cap + 1).subquery()).scalar_subquery() for s in statements]
    return list(db.session.execute(select(*columns)).one())


def capped_count(person: Person, filters: Filters, now: datetime) -> tuple[int, bool]:
    """How many issues match, counted up to COUNT_CAP; (count, True) means 'more than COUNT_CAP'."""
    found = count_matching(person, filters, now, COUNT_CAP)
    return min(found, COUNT_CAP), found > COUNT_CAP


# What a row of the issue list shows (templates/issues/index.html), with what its cursor and overdue badge read.
ROW_COLUMNS = (
    Issue.reference,
    Issue.status,
    Issue.level,
    Issue.urgency,
    Issue.title,
    Issue.place_detail,
    Issue.created_at,
    Issue.ack_due_at,
    Issue.resolve_due_at,
    Issue.category_id,
    Issue.compound_id,
    Issue.building_id,
    Issue.neighbour_id,
)


def load_issues(ids: list[int], *, row_only: bool = False) -> list[Issue]:
    """The issues with these ids, in this order, with what a list row shows loaded in one query. `row_only`:
    only the row's columns and the names of its places (the list page; exports read every column)."""
    if not ids:
        return []
    if row_only:
        options = [  # the category's name comes from the page's map of categories
            load_only(*ROW_COLUMNS),
            joinedload(Issue.compound).load_only(Compound.name),
            joinedload(Issue.building).load_only(Building.name),
            joinedload(Issue.neighbour).load_only(Node.name),
        ]
    else:
        options = [
            joinedload(Issue.category),
            joinedload(Issue.compound),
            joinedload(Issue.building),
            joinedload(Issue.neighbour),
            joinedload(Issue.assignee_org),
        ]
    statement = select(Issue).where(Issue.id.in_(ids)).options(*options)
    loaded = {issue.id: issue for issue in db.session.scalars(statement).unique()}
    return [loaded[i] for i in ids if i in loaded]


def iter_matching(person: Person, filters: Filters, now: datetime, chunk: int = 500) -> Iterator[list[Issue]]:
    """Every issue the list shows, newest first, one list page of `chunk` issues at a time (for exports).

    The same keyset pages the list reads (the same arms, search and scope), so an export holds
    exactly what paging through the list would show.
    """
    cursor = None
    while True:
        keys = page_keys(person, filters, cursor, now, chunk)
        batch = keys[:chunk]
        if batch:
            yield load_issues([issue_id for issue_id, _ in batch])
        if len(keys) <= chunk:
            return
        last_id, last_created = batch[-1]
        cursor = Cursor(last_created, last_id, "older")


# A reference as people type it: the full WC-2026-000123, or only its number (the issue's id: 123, 000123,
# １２３), optionally with the year (2026-123), in any case and with spaces anywhere.
LOOSE_REFERENCE_RE = re.compile(r"^(?:WC-?)?(?:(?P<year>\d{4})-)?(?P<number>\d{1,10})$")


def issue_by_reference(reference: str | None) -> Issue | None:
    """The issue a typed reference names (the full one, or only its number, optionally with the year); None
    when it names none. Who may see it is the caller's question."""
    typed = unicodedata.normalize("NFKC", "".join((reference or "").split())).upper()[:40]
    if not typed:
        return None
    found = db.session.scalar(select(Issue).where(Issue.reference == typed)) if REFERENCE_RE.match(typed) else None
    if found is None:  # WC-2026-123 (not zero-padded), 2026-123, 123: the number is the issue's id
        loose = LOOSE_REFERENCE_RE.match(typed)
        issue_id = parse_id(loose["number"]) if loose else None
        found = db.session.get(Issue, issue_id) if issue_id else None
        if found is not None and loose["year"] and not found.reference.startswith(f"WC-{loose['year']}-"):
            found = None
    return found


def find_reference(person: Person, reference: str | None) -> Issue | None:
    """The issue with this reference (or only its number), if the person may see it; None otherwise, so that
    an unknown reference and a hidden issue look the same."""
    found = issue_by_reference(reference)
    if found is None or not policy.allowed(person, "view_issue", found):
        return None
    return found


def fetch_page(person: Person, filters: Filters, cursor: Cursor | None, size: int | None = None) -> Page:
    """The page the person asked for, with the rows it shows loaded in one query."""
    size = size or PAGE_SIZE
    now = datetime.now(UTC)
    keys = page_keys(person, filters, cursor, now, size)
    more = len(keys) > size
    keys = keys[:size]
    if cursor is not None and cursor.direction == "newer":
        keys.reverse()
        has_newer, has_older = more, True
    else:
        has_newer, has_older = cursor is not None, more
    issues = load_issues([issue_id for issue_id, _ in keys], row_only=True)
    if cursor is not None:
        count, capped = None, False  # the total is shown on the first page only
    elif not has_older:
        count, capped = len(issues), False  # everything is on this page: nothing more to count
    elif filters.q and not REFERENCE_RE.match(filters.q):
        count, capped = len(issues), True  # counting a rare word's matches would scan the scope again
    else:
        count, capped = capped_count(person, filters, now)
    page = Page(issues, has_older, has_newer, count, capped, now)
    if issues:
        page.older_cursor = Cursor.encode(issues[-1]) if has_older else None
        page.newer_cursor = Cursor.encode(issues[0]) if has_newer else None
    page.overdue_ids = {issue.id for issue in issues if issue.overdue(now)}
    return page


def area_tags(person: Person, node: Node | None = None) -> set[str]:
    """The page cache's tags of the areas whose issues a person's pages show: the chosen node's area, else
    the areas of their roles (the district for an organisation's staff, whose issues lie anywhere — every
    issue change marks the district)."""
    if node is not None:
        return {page_cache.area_tag(node)}
    scopes = policy.scopes(person)
    orgs = any(r.role == "org_staff" for r in person.roles)
    if orgs or not scopes or any(s.level == "district" for s in scopes):
        return {"district"}
    return {page_cache.area_tag(r.node) for r in person.roles if r.node is not None}


def cache_key(person: Person, filters: Filters, cursor_arg: str) -> tuple[tuple[str, ...], str]:
    """The page cache's tags and variant of a list page (services/public/page_cache.py).

    What the page shows is decided by the person's roles (policy.scope_signature), the filters, the
    page's position and the language — never by who they are — so two branch members of one community
    share an entry. It is kept under the area tag of every area it covers (a change to an issue there
    marks that tag) and the tree's (names, roles)."""
    variant = page_cache.variant("issues", policy.scope_signature(person), sorted(filters.args().items()), cursor_arg)
    return (*sorted(area_tags(person, filters.node)), page_cache.TREE), variant


# --- the area filter ----------------------------------------------------------------------------


def _own_nodes(person: Person) -> list[Node]:
    """The person's nodes, without those inside another of theirs."""
    nodes = {r.node_id: r.node for r in person.roles if r.node is not None}
    scopes = {s.node_id: s for s in policy.scopes(person)}
    return [
        node
        for node_id, node in nodes.items()
        if not any(other_id != node_id and policy.covers(scopes[other_id], node) for other_id in scopes)
    ]


def _tree_key(node: Node) -> tuple:
    """Sorts a subtree depth-first: a node's own level column holds its own id."""
    own = node.id if node.level == "neighbour" else 0
    return (node.street_id or 0, node.community_id or 0, node.zone_id or 0, node.group_id or 0, own)


def _counts_up_to(node: Node, levels: list[str], cap: int) -> dict[str, int]:
    """How many nodes of each level lie under the node, each counted only up to cap + 1 (one statement
    of small index range scans, where an exact count of the district would read all ~20,000 nodes)."""
    counts = [
        select(func.count())
        .select_from(select(Node.id).where(Node.level == level, within_condition(node)).limit(cap + 1).subquery())
        .scalar_subquery()
        for level in levels
    ]
    return dict(zip(levels, db.session.execute(select(*counts)).one(), strict=True))


def _below(node: Node) -> list[Node]:
    """The levels under a node, as deep as fits in MAX_AREA_OPTIONS (at least the children)."""
    rank = LEVELS.index(node.level)
    if node.level == "neighbour":
        return []
    counts = _counts_up_to(node, list(LEVELS[rank + 1 :]), MAX_AREA_OPTIONS)
    levels, total = [], 0
    for level in LEVELS[rank + 1 :]:
        total += counts.get(level, 0)
        if levels and total > MAX_AREA_OPTIONS:
            break
        levels.append(level)
    statement = select(Node).where(Node.level.in_(levels), within_condition(node))
    return sorted(db.session.scalars(statement), key=_tree_key)


def area_options(person: Person, selected: Node | None) -> list[tuple[Node, int]]:
    """(node, depth) pairs for the area filter: the person's areas, the way down to the chosen one, what lies below."""
    own = _own_nodes(person)
    if not own:
        return []
    base = selected or (own[0] if len(own) == 1 else None)
    if base is None:
        return [(node, 0) for node in own]
    root = next((n for n in own if policy.covers(policy.Scope("", n.level, n.id), base)), base)
    chain = ([root] if root.level == "district" else []) + node_path(base)
    chain = chain[next((i for i, n in enumerate(chain) if n.id == root.id), 0) :]
    options = [(n, 0) for n in own if n.id != root.id]
    options += [(n, depth) for depth, n in enumerate(chain)]
    start = LEVELS.index(base.level)
    options += [(n, len(chain) + LEVELS.index(n.level) - start - 1) for n in _below(base)]
    return options
