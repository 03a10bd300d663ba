"""Read a page as a person sees it: the issue cards, the messages, a table's rows, a bar's links and counts.

In the spirit of FixMyStreet's test helpers (extract_problem_list): a test asks for what is on the page, by
the page's own CSS classes, instead of cutting the HTML at a marker string. Text is whitespace-collapsed, as a
browser shows it. Every function takes the page's HTML (or a part already found with `find`/`find_all`).
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag


def parse(html: str | Tag) -> Tag:
    """The page as a tree (a Tag is returned as it is, so the helpers also read part of a page)."""
    return html if isinstance(html, Tag) else BeautifulSoup(html, "html.parser")


def visible(tag: Tag | None) -> str:
    """A tag's text with its whitespace collapsed ("" for no tag)."""
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def find(html: str | Tag, selector: str) -> Tag | None:
    """The first element matching a CSS selector, or None."""
    return parse(html).select_one(selector)


def find_all(html: str | Tag, selector: str) -> list[Tag]:
    """Every element matching a CSS selector, in page order."""
    return parse(html).select(selector)


def text_of(html: str | Tag, selector: str) -> str:
    """The visible text of the first element matching `selector` ("" when there is none)."""
    return visible(find(html, selector))


def texts_of(html: str | Tag, selector: str) -> list[str]:
    """The visible text of every element matching `selector`."""
    return [visible(tag) for tag in find_all(html, selector)]


def inner_html(html: str | Tag, selector: str) -> str:
    """The markup inside the first element matching `selector` ("" when there is none): for tests of markup."""
    tag = find(html, selector)
    return tag.decode_contents() if tag is not None else ""


def issue_cards(html: str | Tag, selector: str = "ul.issue-cards") -> list[dict]:
    """The issue cards of a list (staff or public), in order.

    Each: reference, title, status (the status badge's text), badges (every badge's text), marks (the kinds
    of badge shown, e.g. "overdue", "urgent"), classes (the card's own, e.g. "is-overdue"), text, href.
    """
    cards = []
    for card in find_all(html, f"{selector} > li"):
        link = card.find("a")
        badges = find_all(card, ".badge")
        cards.append(
            {
                "reference": text_of(card, ".ref"),
                "title": text_of(card, ".issue-title"),
                "status": text_of(card, ".badge.status"),
                "badges": [visible(badge) for badge in badges],
                "marks": {kind for badge in badges for kind in badge.get("class", []) if kind != "badge"},
                "classes": set(card.get("class", [])),
                "text": visible(card),
                "href": link.get("href") if link else None,
            }
        )
    return cards


def issue_card(html: str | Tag, reference: str) -> dict:
    """The card of one issue in a list (fails when the issue is not listed)."""
    cards = [card for card in issue_cards(html) if card["reference"] == reference]
    assert cards, f"{reference} is not listed"
    return cards[0]


def flash_messages(html: str | Tag) -> list[str]:
    """The flashed messages at the top of the page."""
    return texts_of(html, ".flash")


def form_errors(html: str | Tag) -> list[str]:
    """The error messages under the form's fields."""
    return texts_of(html, ".field .error")


def table_rows(html: str | Tag, selector: str = "table") -> list[list[str]]:
    """The rows of the first table (or tbody) matching `selector`, each as its cells' texts (headers included)."""
    table = find(html, selector)
    if table is None:
        return []
    return [[visible(cell) for cell in row.find_all(["th", "td"])] for row in table.find_all("tr")]


def nav_links(html: str | Tag, selector: str = "nav") -> list[tuple[str, str]]:
    """(text, href) of each link in the first element matching `selector` (by default the top bar)."""
    nav = find(html, selector)
    return [(visible(link), link.get("href")) for link in nav.find_all("a")] if nav is not None else []


def badge_count(html: str | Tag, selector: str) -> int | None:
    """The number in the count badge of the first element matching `selector` (None when it shows none)."""
    count = find(html, f"{selector} .count")
    return int(visible(count)) if count is not None else None


def home_todos(html: str | Tag) -> dict[str, list[dict]]:
    """The to-do counts of each role card on the home page: card title → [{label, count, href, pressing}]
    in order (a count shown as "999+" reads as 1000)."""
    cards = {}
    for card in find_all(html, "section.role-card"):
        cards[text_of(card, "h2")] = [
            {
                "label": text_of(todo, ".todo-label"),
                "count": int(text_of(todo, ".todo-count").replace("+", "")) + text_of(todo, ".todo-count").count("+"),
                "href": todo.get("href"),
                "pressing": "pressing" in todo.get("class", []),
            }
            for todo in find_all(card, "a.todo")
        ]
    return cards
