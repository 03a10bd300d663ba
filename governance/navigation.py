"""What each feature offers on the home page's role cards and in the top bar (导航).

Each blueprint package declares its links when it is imported (`declare(Link(…))` in its `__init__.py`):
the endpoint, the label, where the link appears and in what order, and the policy action that decides who
sees it. The home page (services/home.py) and the top bar (base.html) loop over the declarations and ask
governance/policy.py; nothing here or there looks at roles.

A card belongs to one role the person holds: a role on a node of the tree (NODE_CARD) or a responsible
party's staff (ORGANISATION_CARD). On a card the policy is asked about the person, or, with `of_role`, about
that role alone (what the role itself may do: a 邻长 who also sits on the branch triages from the branch's
card); `target` gives the policy's target from the card's role (its node).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import request, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from . import policy
from .formatting import once_per_key, remembered
from .models import Person, RoleAssignment

NODE_CARD = "node card"
ORGANISATION_CARD = "organisation card"
CARDS = (NODE_CARD, ORGANISATION_CARD)
TOP_BAR = "top bar"


@dataclass(frozen=True)
class Link:
    """One link a feature offers: where it appears, in what order, and who sees it."""

    endpoint: str
    label: object  # a lazy_gettext string: rendered in the request's language
    places: tuple[str, ...]
    order: int
    action: str | None = None  # the policy action that decides; None: everyone the place is shown to
    of_role: bool = False  # on a card: ask about the card's role alone rather than the whole person
    target: Callable[[RoleAssignment], object] | None = None  # on a card: the policy's target for the role
    url: Callable[[RoleAssignment], str] | None = None  # on a card: the href for the role (default: endpoint)
    css_class: str | None = None  # its look: in the top bar; on a card "primary" marks the role's main action
    badge: Callable[[], str] | None = None  # in the top bar: a count shown beside the label ('' for none)
    badge_label: object = None  # what the count counts, for screen readers


@dataclass(frozen=True)
class Shown:
    """A declared link resolved for one person (and card): its text and href."""

    label: str
    href: str
    css_class: str | None = None
    badge: str = ""
    badge_label: str = ""


LINKS: list[Link] = []


@dataclass(frozen=True)
class Todo:
    """Waiting work a feature counts on a role's home card (待受理, 超时, 待回访 …), linking to the page that lists
    exactly those issues: `query` gives, for the person, the card's role and now, the SELECT of the ids the
    linked page shows (counted by the home page) and the link — or None where the role has no such work or
    may not open that page."""

    label: object  # a lazy_gettext string
    order: int
    roles: tuple[str, ...]  # the card roles it is counted for
    query: Callable[[Person, RoleAssignment, datetime], tuple[object, str] | None]
    pressing: bool = False  # shown as urgent when anything is waiting (overdue work)


TODOS: list[Todo] = []


def declare(*links: Link) -> None:
    """Add a feature's links (each blueprint package, when imported)."""
    for link in links:
        unknown = set(link.places) - {*CARDS, TOP_BAR}
        if unknown:
            raise ValueError(f"{link.endpoint}: unknown places {sorted(unknown)}")
        LINKS.append(link)


def declare_todos(*todos: Todo) -> None:
    """Add a feature's to-do counts (each blueprint package, when imported)."""
    TODOS.extend(todos)
    TODOS.sort(key=lambda todo: todo.order)


def card_todos(person: Person, role: RoleAssignment, now: datetime) -> list[tuple[Todo, object, str]]:
    """(to-do, SELECT of the ids it counts, link) for the card of one of the person's roles, in order."""
    found = []
    for todo in TODOS:
        if role.role in todo.roles:
            query = todo.query(person, role, now)
            if query is not None:
                found.append((todo, *query))
    return found


def _in(place: str) -> list[Link]:
    return sorted((link for link in LINKS if place in link.places), key=lambda link: link.order)


def card_place(role: RoleAssignment) -> str:
    """Which kind of card a role has: one on a node of the tree, or a responsible party's."""
    return NODE_CARD if role.node_id is not None else ORGANISATION_CARD


def card_links(person: Person, role: RoleAssignment) -> list[Shown]:
    """The links on the card of one of the person's roles, in order."""
    shown = []
    for link in _in(card_place(role)):
        if link.action is not None:
            target = link.target(role) if link.target else None
            if link.of_role:
                if not policy.allowed_in_role(person, role, link.action, target):
                    continue
            elif not policy.allowed(person, link.action, target):
                continue
        shown.append(Shown(str(link.label), link.url(role) if link.url else url_for(link.endpoint), link.css_class))
    return shown


def top_bar(person: Person | None = None) -> Markup:
    """The top bar of a staff page (_top_bar.html): the links the person sees with their counts, and the log-out
    form; for someone not logged in, the brand alone. Rendered once per set of links and counts in each
    process (formatting.once_per_key)."""
    person = person if person is not None else current_user._get_current_object()
    if not person.is_authenticated:
        return once_per_key("_top_bar.html", ("anonymous",), links=None)
    links = top_bar_links(person)
    key = (policy.scope_signature(person), tuple(link.badge for link in links))
    return once_per_key("_top_bar.html", key, with_token=True, links=links)


def footer() -> Markup:
    """The footer of a staff page (_footer.html): the language switch, which comes back to this address."""
    return once_per_key("_footer.html", (request.full_path,), with_token=True)


def top_bar_links(person: Person) -> list[Shown]:
    """The links of the top bar the person sees, in order (their counts read now)."""
    return [
        Shown(label, href, link.css_class, link.badge() if link.badge else "", badge_label)
        for link, label, href, badge_label in _links_for_roles(person)
    ]


# The top bar's links per (roles, language, mount point): the policy decides them from the person's roles alone
# (policy.scope_signature: everything the rules read of a person), so everyone with the same roles sees the same
# links; a role given or ended changes the signature itself. Built once per process instead of on every page.
_TOP_BAR_LINKS: dict[tuple, list[tuple[Link, str, str, str]]] = {}


def _links_for_roles(person: Person) -> list[tuple[Link, str, str, str]]:
    """(link, label, href, what its count counts) of the top bar for the person's roles, in order."""
    return remembered(
        _TOP_BAR_LINKS,
        (policy.scope_signature(person), str(get_locale()), request.script_root),
        lambda: [
            (link, str(link.label), url_for(link.endpoint), str(link.badge_label) if link.badge_label else "")
            for link in _in(TOP_BAR)
            if link.action is None or policy.allowed(person, link.action)
        ],
    )
