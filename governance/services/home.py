"""What the home page offers each role: a card per role, with the work waiting for it (to-do counts) and the
links the features declare for it (governance/navigation.py), as the policy allows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import policy
from ..formatting import role_label
from ..models import Person, utcnow
from ..navigation import Shown, card_links, card_todos
from .issues.listing import area_tags, count_each
from .people.tree import node_path
from .public import page_cache

# A to-do is counted up to this many; more shows as "999+" (counting the district's thousands exactly would
# cost the home page a scan for a figure nobody reads past three digits).
TODO_CAP = 999


@dataclass
class Waiting:
    """One to-do count on a card: what waits, how many, and the page that lists exactly those."""

    label: str
    count: int
    href: str
    pressing: bool

    @property
    def shown(self) -> str:
        return f"{TODO_CAP}+" if self.count > TODO_CAP else str(self.count)


@dataclass
class Card:
    """One role on the home page: where it applies, what waits for it and the links it opens."""

    title: str
    where: str
    links: list[Shown] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)


def home_cards(person: Person) -> list[Card]:
    """One card per role, with its to-do counts (all counted in one statement) and the actions it may take."""
    now = utcnow()
    cards, counted = [], []
    for role in person.roles:
        where = " / ".join(n.name for n in node_path(role.node)) if role.node is not None else role.organisation.name
        card = Card(role_label(role.role), where, card_links(person, role))
        for todo, statement, href in card_todos(person, role, now):
            card.waiting.append(Waiting(str(todo.label), 0, href, todo.pressing))
            counted.append(statement)
        cards.append(card)
    counts = iter(count_each(counted, TODO_CAP))
    for card in cards:
        for waiting in card.waiting:
            waiting.count = next(counts)
    return cards


def cards_cache_key(person: Person) -> tuple[tuple[str, ...], str]:
    """The page cache's tags and variant of a person's cards: what they count — the issues of the areas of
    their roles, the tree (places, leaders, names), the tables of the other to-dos (notices, residents' reports,
    households and visits: page_cache.TODO_TABLES), the person's own rows of them (a notice waits for a person:
    its recipient rows are tagged by their person, page_cache.PERSON_COLUMNS) and the to-do rows waiting at
    their roles' nodes (households, visits, residents' reports: page_cache.todos_tag) — and who they are."""
    own = page_cache.person_rows(person.id, sorted(page_cache.TODO_TABLES))
    waiting = sorted({page_cache.todos_tag(role.node_id) for role in person.roles if role.node_id})
    tags = (*sorted(area_tags(person)), page_cache.TREE, *own, *waiting)
    return tags, page_cache.variant("home", person.id, policy.scope_signature(person))
