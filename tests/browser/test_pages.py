"""The other everyday pages on a 360 px phone: the tree, people, printed codes and error pages."""

from __future__ import annotations

import pytest

from governance.extensions import db
from governance.models import Person, RoleAssignment
from tests.builders import grant, make_node, make_person, make_tree, nodes_at

pytestmark = pytest.mark.browser

NAMES = ["张桂兰", "刘德华", "陈晓明", "周国强", "欧阳建华", "黄丽", "易小平", "罗美玲"]


def log_in(phone, mobile: str) -> None:
    """Log in through the form and land on the home page."""
    phone.log_in(mobile)
    assert phone.path == "/"


def community_with_people():
    """A community named like the real ones, with a 片长, 组长 and 邻长 on every node (some not activated)."""
    district = make_tree(streets=0)
    street = make_node(district, "street", "白沙洲街道")
    community = make_node(street, "community", "普瑞斯堡社区")
    people = iter(NAMES * 4)
    for z in range(2):
        zone = make_node(community, "zone", f"第{z + 1}片（普瑞斯堡小区东区）")
        make_person("zone_leader", zone, name=next(people))
        for g in range(2):
            group = make_node(zone, "group", f"第{z + 1}片第{g + 1}组")
            make_person("group_leader", group, name=next(people))
            for n in range(3):
                neighbour = make_node(group, "neighbour", f"{g + 1}栋{n + 1}单元")
                make_person("neighbour_leader", neighbour, name=next(people), activated=(n != 2))
    db.session.commit()
    return community


def test_group_leader_tree_page(phone):
    community_with_people()
    group = nodes_at("group")[0]
    leader = make_person("group_leader", group, name="欧阳志远")
    grant(leader, "neighbour_leader", nodes_at("neighbour")[0])  # a 组长 is often also a 邻长

    log_in(phone, leader.mobile)
    phone.check("home")

    phone.tap(phone.page.locator(".role-card .actions a").first)
    assert phone.path == f"/tree/{group.id}"
    assert phone.page.locator(".children li").count() == 3
    phone.check("group")

    phone.tap(phone.page.locator(".children li a").first)
    assert phone.path == f"/tree/{nodes_at('neighbour')[0].id}"
    phone.check("neighbour")


def test_branch_member_people_and_codes(phone):
    community = community_with_people()
    member = make_person("branch_member", community, name="党支部书记杨红")
    role = db.session.scalar(db.select(RoleAssignment).where(RoleAssignment.node_id == nodes_at("neighbour")[1].id))
    db.session.get(Person, role.person_id).enabled = False  # one disabled account on the list
    db.session.commit()

    log_in(phone, member.mobile)
    phone.check("home")

    phone.tap(phone.page.locator(".role-card a[href$='/admin/people']"))
    assert phone.path == "/admin/people"
    assert phone.page.locator(".list li").count() == 19  # 2 片长, 4 组长, 12 邻长 and the member
    phone.check("people")

    phone.page.fill("#q", "欧阳")
    phone.tap(phone.page.locator("form.search button"))
    assert phone.page.locator(".list li").count() >= 1
    phone.check("people-search")

    phone.tap(phone.page.locator(".list li a").first)
    assert phone.path.startswith("/admin/people/")
    assert phone.page.locator(".card").count() == 2
    phone.check("person")

    phone.goto("/")
    phone.tap(phone.page.locator(f".role-card a[href$='/admin/codes/{community.id}']"))
    assert phone.page.locator(".list li").count() == 2, "a community prints its codes one 片 at a time"
    phone.check("codes-choose")
    phone.tap(phone.page.locator(".list li a").first)
    assert phone.path == f"/admin/codes/{nodes_at('zone')[0].id}"
    phone.check("codes")
    phone.tap(phone.page.locator("main form.issue-codes button[type=submit]"))
    assert phone.page.locator(".slip").count() == 2  # one not-activated 邻长 in each 组 of the 片
    phone.check("codes-print")
    phone.check_print("codes-print-paper")


def test_forbidden_and_missing_pages(phone):
    make_tree(zones=1, groups=1, neighbours=2)
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0], name="王秀英")
    log_in(phone, leader.mobile)

    response = phone.goto(f"/tree/{nodes_at('neighbour')[1].id}")
    assert response.status == 403
    assert phone.page.locator(".error-page").is_visible()
    phone.check("403")

    response = phone.goto("/admin/people")
    assert response.status == 403

    response = phone.goto("/no/such/page")
    assert response.status == 404
    assert phone.page.locator(".error-page a.button").is_visible()
    phone.check("404")
