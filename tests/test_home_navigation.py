"""The home page's role cards and the top bar's links, for every role and for people holding two.

The expected values were recorded from the pages as they were before the cards and the top bar were built
from what each feature declares (governance/navigation.py): the declarations must show exactly the same
links, in the same order, to the same people.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from governance.extensions import db
from governance.models import Notification, Person
from tests.builders import PASSWORD, first_nodes, grant, make_organisation, make_person, make_role_holders, make_tree
from tests.conftest import Auth
from tests.pages import find


class _Page(HTMLParser):
    """The role cards (title, where, links) and the top bar's links of one rendered page."""

    def __init__(self):
        super().__init__()
        self.cards: list[dict] = []
        self.nav: list[tuple[str, str]] = []
        self._in_nav = False
        self._card: dict | None = None
        self._text: list[str] | None = None
        self._field: str | None = None
        self._href: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "nav" and "topnav" in classes:
            self._in_nav = True
        elif tag == "section" and "role-card" in classes:
            self._card = {"title": "", "where": "", "links": []}
        elif self._card is not None and tag == "h2":
            self._field, self._text = "title", []
        elif self._card is not None and tag == "p" and "muted" in classes and not self._card["where"]:
            self._field, self._text = "where", []
        elif tag == "a" and "todo" in classes:
            pass  # the to-do counts are read by tests/test_home_todos.py
        elif tag == "a" and (self._in_nav or self._card is not None):
            self._field, self._text, self._href = "link", [], attrs.get("href")
        elif tag == "span" and self._text is not None and "sr-only" in classes:
            self._text.append(" ")

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._text is not None and tag in ("h2", "p", "a"):
            text = " ".join("".join(self._text).split())
            if self._field == "link":
                (self._card["links"] if self._card is not None else self.nav).append((text, self._href))
            else:
                self._card[self._field] = text
            self._field = self._text = self._href = None
        elif tag == "nav":
            self._in_nav = False
        elif tag == "section" and self._card is not None:
            self.cards.append(self._card)
            self._card = None


def page_links(html: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """(the role cards, the top bar's links) of a page."""
    parser = _Page()
    parser.feed(html)
    return parser.cards, parser.nav


@pytest.fixture
def people(app):
    """One person per role of the test builders, people holding two roles, and one holding none."""
    make_tree()
    nodes = first_nodes()
    neighbour, community, street = nodes["neighbour"], nodes["community"], nodes["street"]
    organisation = make_organisation(name="物业公司甲")
    people = make_role_holders(name=None, organisation=organisation, staff_name=None)
    people["nobody"] = make_person()
    # A 邻长 who also sits on the branch above: the 邻长's card shows what the person may do there.
    people["neighbour_leader+branch_member"] = make_person("neighbour_leader", neighbour)
    grant(people["neighbour_leader+branch_member"], "branch_member", community)
    # A street admin who also works for a responsible party: a node card and an organisation card.
    people["street_admin+org_staff"] = make_person("street_admin", street)
    grant(people["street_admin+org_staff"], "org_staff", organisation=organisation)
    ids = {level: node.id for level, node in nodes.items()}
    return {name: person.mobile for name, person in people.items()}, ids


# (person, language) -> ([(card title, where, [(link text, href), …]), …], [(top bar link text, href), …]);
# {level} in an href is the id of that level's node.
EXPECTED = {
    ("neighbour_leader", "zh"): (
        [
            (
                "邻长",
                "街道1 / 街道1社区1 / 街道1社区1第1片 / 街道1社区1第1片第1组 / 街道1社区1第1片第1组第1邻",
                [
                    ("我的辖区", "/tree/{neighbour}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={neighbour}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("亮身份", "/auth/profile"),
                ],
            ),
        ],
        [("消息", "/inbox/"), ("报表", "/reports/"), ("密码", "/auth/password")],
    ),
    ("group_leader", "zh"): (
        [
            (
                "组长",
                "街道1 / 街道1社区1 / 街道1社区1第1片 / 街道1社区1第1片第1组",
                [
                    ("我的辖区", "/tree/{group}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={group}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("亮身份", "/auth/profile"),
                ],
            ),
        ],
        [("消息", "/inbox/"), ("报表", "/reports/"), ("密码", "/auth/password")],
    ),
    ("zone_leader", "zh"): (
        [
            (
                "片长",
                "街道1 / 街道1社区1 / 街道1社区1第1片",
                [
                    ("我的辖区", "/tree/{zone}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={zone}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("亮身份", "/auth/profile"),
                ],
            ),
        ],
        [("消息", "/inbox/"), ("报表", "/reports/"), ("密码", "/auth/password")],
    ),
    ("branch_member", "zh"): (
        [
            (
                "社区党组织",
                "街道1 / 街道1社区1",
                [
                    ("我的辖区", "/tree/{community}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={community}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("分拨台", "/triage/community/{community}"),
                    ("激活码", "/admin/codes/{community}"),
                    ("人员", "/admin/people"),
                    ("设置", "/admin/settings/"),
                ],
            ),
        ],
        [
            ("消息", "/inbox/"),
            ("分拨", "/triage/"),
            ("报表", "/reports/"),
            ("资金", "/money/"),
            ("密码", "/auth/password"),
        ],
    ),
    ("street_admin", "zh"): (
        [
            (
                "街镇管理员",
                "街道1",
                [
                    ("我的辖区", "/tree/{street}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={street}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("分拨台", "/triage/"),
                    ("激活码", "/admin/codes/{street}"),
                    ("人员", "/admin/people"),
                    ("导入名册", "/admin/roster/"),
                    ("设置", "/admin/settings/"),
                ],
            ),
        ],
        [
            ("消息", "/inbox/"),
            ("分拨", "/triage/"),
            ("报表", "/reports/"),
            ("资金", "/money/"),
            ("密码", "/auth/password"),
        ],
    ),
    ("district_admin", "zh"): (
        [
            (
                "区管理员",
                "",
                [
                    ("我的辖区", "/tree/{district}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={district}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("分拨台", "/triage/"),
                    ("激活码", "/admin/codes/{district}"),
                    ("人员", "/admin/people"),
                    ("导入名册", "/admin/roster/"),
                    ("设置", "/admin/settings/"),
                ],
            ),
        ],
        [
            ("消息", "/inbox/"),
            ("分拨", "/triage/"),
            ("报表", "/reports/"),
            ("资金", "/money/"),
            ("密码", "/auth/password"),
        ],
    ),
    ("org_staff", "zh"): (
        [
            (
                "责任单位人员",
                "物业公司甲",
                [
                    ("派单任务", "/triage/org/"),
                    ("问题列表", "/issues/"),
                    ("消息", "/inbox/"),
                ],
            ),
        ],
        [("消息", "/inbox/"), ("派单任务", "/triage/org/"), ("密码", "/auth/password")],
    ),
    ("nobody", "zh"): (
        [],
        [("消息", "/inbox/"), ("密码", "/auth/password")],
    ),
    ("neighbour_leader+branch_member", "zh"): (
        [
            (
                "邻长",
                "街道1 / 街道1社区1 / 街道1社区1第1片 / 街道1社区1第1片第1组 / 街道1社区1第1片第1组第1邻",
                [
                    ("我的辖区", "/tree/{neighbour}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={neighbour}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("激活码", "/admin/codes/{neighbour}"),
                    ("亮身份", "/auth/profile"),
                ],
            ),
            (
                "社区党组织",
                "街道1 / 街道1社区1",
                [
                    ("我的辖区", "/tree/{community}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={community}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("分拨台", "/triage/community/{community}"),
                    ("激活码", "/admin/codes/{community}"),
                    ("人员", "/admin/people"),
                    ("设置", "/admin/settings/"),
                ],
            ),
        ],
        [
            ("消息", "/inbox/"),
            ("分拨", "/triage/"),
            ("报表", "/reports/"),
            ("资金", "/money/"),
            ("密码", "/auth/password"),
        ],
    ),
    ("neighbour_leader+branch_member", "en"): (
        [
            (
                "Neighbour leader (邻长)",
                "街道1 / 街道1社区1 / 街道1社区1第1片 / 街道1社区1第1片第1组 / 街道1社区1第1片第1组第1邻",
                [
                    ("My area", "/tree/{neighbour}"),
                    ("File an issue", "/file/"),
                    ("Issues", "/issues/?node={neighbour}"),
                    ("Inbox", "/inbox/"),
                    ("Residents' reports", "/resident-reports/"),
                    ("Notices", "/notices/"),
                    ("Door-to-door surveys", "/surveys/"),
                    ("Activation codes", "/admin/codes/{neighbour}"),
                    ("Show residents who I am", "/auth/profile"),
                ],
            ),
            (
                "Community party branch",
                "街道1 / 街道1社区1",
                [
                    ("My area", "/tree/{community}"),
                    ("File an issue", "/file/"),
                    ("Issues", "/issues/?node={community}"),
                    ("Inbox", "/inbox/"),
                    ("Residents' reports", "/resident-reports/"),
                    ("Notices", "/notices/"),
                    ("Door-to-door surveys", "/surveys/"),
                    ("Triage console", "/triage/community/{community}"),
                    ("Activation codes", "/admin/codes/{community}"),
                    ("People", "/admin/people"),
                    ("Settings", "/admin/settings/"),
                ],
            ),
        ],
        [
            ("Inbox", "/inbox/"),
            ("Triage", "/triage/"),
            ("Reports", "/reports/"),
            ("Funds", "/money/"),
            ("Password", "/auth/password"),
        ],
    ),
    ("street_admin+org_staff", "zh"): (
        [
            (
                "街镇管理员",
                "街道1",
                [
                    ("我的辖区", "/tree/{street}"),
                    ("登记问题", "/file/"),
                    ("问题列表", "/issues/?node={street}"),
                    ("消息", "/inbox/"),
                    ("居民反映", "/resident-reports/"),
                    ("通知", "/notices/"),
                    ("走访问卷", "/surveys/"),
                    ("分拨台", "/triage/"),
                    ("激活码", "/admin/codes/{street}"),
                    ("人员", "/admin/people"),
                    ("导入名册", "/admin/roster/"),
                    ("设置", "/admin/settings/"),
                ],
            ),
            (
                "责任单位人员",
                "物业公司甲",
                [
                    ("派单任务", "/triage/org/"),
                    ("问题列表", "/issues/"),
                    ("消息", "/inbox/"),
                ],
            ),
        ],
        [
            ("消息", "/inbox/"),
            ("分拨", "/triage/"),
            ("派单任务", "/triage/org/"),
            ("报表", "/reports/"),
            ("资金", "/money/"),
            ("密码", "/auth/password"),
        ],
    ),
    ("street_admin+org_staff", "en"): (
        [
            (
                "Street administrator",
                "街道1",
                [
                    ("My area", "/tree/{street}"),
                    ("File an issue", "/file/"),
                    ("Issues", "/issues/?node={street}"),
                    ("Inbox", "/inbox/"),
                    ("Residents' reports", "/resident-reports/"),
                    ("Notices", "/notices/"),
                    ("Door-to-door surveys", "/surveys/"),
                    ("Triage console", "/triage/"),
                    ("Activation codes", "/admin/codes/{street}"),
                    ("People", "/admin/people"),
                    ("Import a roster", "/admin/roster/"),
                    ("Settings", "/admin/settings/"),
                ],
            ),
            (
                "Responsible party staff",
                "物业公司甲",
                [
                    ("Assignments", "/triage/org/"),
                    ("Issues", "/issues/"),
                    ("Inbox", "/inbox/"),
                ],
            ),
        ],
        [
            ("Inbox", "/inbox/"),
            ("Triage", "/triage/"),
            ("Assignments", "/triage/org/"),
            ("Reports", "/reports/"),
            ("Funds", "/money/"),
            ("Password", "/auth/password"),
        ],
    ),
}


def _fill(value, ids):
    """The expected values with the node ids of this database in the hrefs."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return type(value)(_fill(v, ids) for v in value)


def home_page(client, mobile: str, lang: str | None = None):
    """Log in through the form and read the home page (in `lang` if given)."""
    response = Auth(client).login(mobile, PASSWORD)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    if lang:
        with client.session_transaction() as session:
            session["lang"] = lang
    page = client.get("/")
    assert page.status_code == 200
    return page_links(page.get_data(as_text=True))


@pytest.mark.parametrize("who, lang", sorted(EXPECTED))
def test_home_cards_and_top_bar_for_each_role(app, people, who, lang):
    mobiles, ids = people
    cards, nav = home_page(app.test_client(), mobiles[who], None if lang == "zh" else lang)
    expected_cards, expected_nav = _fill(EXPECTED[who, lang], ids)
    assert [(c["title"], c["where"], c["links"]) for c in cards] == expected_cards
    assert nav == expected_nav


def test_the_top_bar_counts_unread_messages_beside_the_inbox(app, people):
    mobiles, _ids = people
    person = db.session.scalar(db.select(Person).where(Person.mobile == mobiles["neighbour_leader"]))
    db.session.add_all(Notification(person_id=person.id, kind="escalated", text=f"消息{n}") for n in range(3))
    db.session.commit()
    client = app.test_client()
    assert Auth(client).login(person.mobile, PASSWORD).status_code in (302, 303)
    html = client.get("/").get_data(as_text=True)
    assert (
        '<a href="/inbox/" class="inbox-link">消息 <span class="count">3</span><span class="sr-only">条未读</span></a>'
        in html
    )
    assert '<a href="/reports/">报表</a>' in html


def test_filing_is_the_main_action_on_a_leaders_card(app, people):
    """A leader opens the app to file: 登记问题 is the card's one primary (red) button; the others are not."""
    mobiles, _ids = people
    client = app.test_client()
    Auth(client).login(mobiles["neighbour_leader"], PASSWORD)
    card = find(client.get("/").get_data(as_text=True), ".role-card")
    primary = card.select(".actions a.button.primary")
    assert [a.get_text(strip=True) for a in primary] == ["登记问题"]
    assert primary[0]["href"] == "/file/"
    assert len(card.select(".actions a.button")) > 1


def test_a_role_granted_or_ended_changes_the_top_bar_on_the_next_page(app, people):
    """The top bar is built once per set of roles (navigation._top_bar): a new role is a new set."""
    from governance.models import RoleAssignment

    mobiles, _ids = people
    person = db.session.scalar(db.select(Person).where(Person.mobile == mobiles["neighbour_leader"]))
    client = app.test_client()
    assert Auth(client).login(person.mobile, PASSWORD).status_code in (302, 303)
    _cards, before = page_links(client.get("/").get_data(as_text=True))
    assert ("分拨", "/triage/") not in before
    role = grant(person, "district_admin", first_nodes()["district"])
    _cards, widened = page_links(client.get("/").get_data(as_text=True))
    assert ("分拨", "/triage/") in widened
    db.session.delete(db.session.get(RoleAssignment, role.id))
    db.session.commit()
    _cards, after = page_links(client.get("/").get_data(as_text=True))
    assert after == before


def frame_tokens(html: str) -> tuple[str, str]:
    """The CSRF tokens of the top bar's log-out form and the footer's language switch."""
    logout = find(html, "form[data-logout] input[name=csrf_token]")["value"]
    language = find(html, "footer form input[name=csrf_token]")["value"]
    return logout, language


def test_everyone_with_the_same_roles_gets_their_own_form_tokens_in_the_frame(app, people):
    """The top bar and footer are rendered once per set of links and counts (formatting.once_per_key), the
    form token kept as a slot: each reader's page carries their own, and their forms work with it."""
    from governance.formatting import TOKEN_SLOT

    mobiles, _ids = people
    second = make_person("neighbour_leader", first_nodes()["neighbour"])
    pages = {}
    for mobile in (mobiles["neighbour_leader"], second.mobile):
        client = app.test_client()
        assert Auth(client).login(mobile, PASSWORD).status_code in (302, 303)
        pages[mobile] = client, client.get("/issues/").get_data(as_text=True)
    (first_client, first_page), (second_client, second_page) = pages.values()
    first_tokens, second_tokens = frame_tokens(first_page), frame_tokens(second_page)
    assert first_tokens[0] == first_tokens[1] and second_tokens[0] == second_tokens[1]
    assert first_tokens[0] != second_tokens[0]
    assert page_links(first_page)[1] == page_links(second_page)[1]  # the same links, built once
    assert TOKEN_SLOT not in first_page + second_page
    # The footer comes back to the page it is on; each reader's language switch and log-out work.
    switch = find(second_page, "footer form")["action"]
    assert switch.endswith("next=/issues/")
    response = second_client.post(switch, data={"csrf_token": second_tokens[1]})
    assert response.status_code in (302, 303) and response.headers["Location"].endswith("/issues/")
    assert first_client.post("/auth/logout", data={"csrf_token": first_tokens[0]}).status_code in (302, 303)
    assert first_client.get("/issues/").status_code in (302, 303)  # logged out
    assert second_client.get("/issues/").status_code == 200


def test_the_unread_count_in_the_kept_top_bar_follows_each_message(app, people):
    mobiles, _ids = people
    person = db.session.scalar(db.select(Person).where(Person.mobile == mobiles["zone_leader"]))
    client = app.test_client()
    assert Auth(client).login(person.mobile, PASSWORD).status_code in (302, 303)
    for expected in (None, "1", "2"):
        html = client.get("/").get_data(as_text=True)
        badge = find(html, "a.inbox-link .count")
        assert (badge.get_text() if badge else None) == expected
        db.session.add(Notification(person_id=person.id, kind="escalated", text="消息"))
        db.session.commit()
