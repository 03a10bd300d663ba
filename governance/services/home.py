"""What the home page offers each role: a card per role, with the links the features declare for it
(governance/navigation.py), as the policy allows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..formatting import role_label
from ..models import Person
from ..navigation import card_links
from .people.tree import node_path


@dataclass
class Card:
    """One role on the home page: where it applies and the links it opens."""

    title: str
    where: str
    links: list[tuple[str, str]] = field(default_factory=list)


def home_cards(person: Person) -> list[Card]:
    """One card per role, with the actions that role may take today."""
    cards = []
    for role in person.roles:
        where = " / ".join(n.name for n in node_path(role.node)) if role.node is not None else role.organisation.name
        cards.append(Card(role_label(role.role), where, card_links(person, role)))
    return cards
