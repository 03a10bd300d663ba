"""A 邻长's 我的辖区: the page of a 邻 shows its 小区 and buildings, and its issues by state (each count the
issue list's own, linking there) with the latest few — not only the 邻长's own name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governance.extensions import db
from governance.models import utcnow
from tests.builders import first_nodes, force_status, make_compound, make_issue, make_person, make_tree, nodes_at
from tests.pages import find_all, text_of, texts_of
from tests.test_home_todos import listed_count

pytestmark = pytest.mark.usefixtures("english")


def test_a_neighbour_page_shows_its_compound_and_its_issues_by_state(app, client, auth):
    make_tree(neighbours=2)
    nodes = first_nodes()
    neighbour = nodes["neighbour"]
    compound = make_compound(nodes["community"], "普瑞斯堡", buildings=("1栋", "2栋", "3栋"))
    neighbour.compound_id = compound.id
    db.session.commit()
    leader = make_person("neighbour_leader", neighbour, name="张桂兰")
    states = ["reported", "in_progress", "resolved", "resolved", "closed", "reported"]
    issues = [make_issue(leader, title=f"问题{n}") for n in range(len(states))]
    for issue, status in zip(issues, states, strict=True):
        force_status(issue, status)
    issues[0].ack_due_at = issues[0].next_deadline_at = utcnow() - timedelta(hours=2)  # overdue
    db.session.commit()
    make_issue(make_person("neighbour_leader", nodes_at("neighbour")[1]), title="别的邻")  # not counted here

    auth.login(leader.mobile)
    html = client.get(f"/tree/{neighbour.id}").get_data(as_text=True)
    counts = {
        text_of(a, ".todo-label"): (int(text_of(a, ".todo-count")), a.get("href"))
        for a in find_all(html, ".neighbour-issues a.todo")
    }
    assert {label: n for label, (n, _) in counts.items()} == {
        "Not yet resolved": 3,
        "Overdue": 1,
        "Awaiting callback": 2,
        "Closed": 1,
    }
    for n, href in counts.values():
        assert listed_count(client, href) == n
    assert len(texts_of(html, ".neighbour-issues .issue-card")) == 5  # the latest five
    assert "别的邻" not in html
    assert "普瑞斯堡" in html and "1栋、2栋、3栋" in html
