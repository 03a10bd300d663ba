"""Tree edits over HTTP, as the branch and the admins do them: rename, move, merge, split; what is refused and
to whom; the audit entries. (tests/test_tree_edits_property.py holds every copy of the tree to a parent_id
walk after random sequences of edits.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import (
    ApiKey,
    AuditEntry,
    Compound,
    EndedRole,
    Issue,
    Node,
    NotificationChannel,
    Person,
    RoleAssignment,
)
from governance.services.issues.lifecycle import transition
from governance.services.people import structure
from governance.services.reports import rollups
from tests.builders import make_issue, make_person, make_tree, nodes_at
from tests.conftest import csrf_from

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(app):
    """Two 街镇 × two communities × one 片 × two 组 × two 邻, and one person per role on the first branch."""
    make_tree(streets=2, communities=2, zones=1, groups=2, neighbours=2)
    first = {level: nodes_at(level)[0] for level in ("district", "street", "community", "zone", "group", "neighbour")}
    people = {
        "district_admin": make_person("district_admin", first["district"]),
        "street_admin": make_person("street_admin", first["street"]),
        "branch_member": make_person("branch_member", first["community"]),
        "zone_leader": make_person("zone_leader", first["zone"]),
        "group_leader": make_person("group_leader", first["group"]),
        "neighbour_leader": make_person("neighbour_leader", first["neighbour"]),
    }
    return people


def form_post(client, url: str, data: dict, confirm: bool = False):
    """Open the edit page, then send its form (with confirm=1 when asked)."""
    page = client.get(url)
    assert page.status_code == 200, url
    payload = {**data, "csrf_token": csrf_from(page.get_data(as_text=True))}
    if confirm:
        payload["confirm"] = "1"
    return client.post(url, data=payload)


def audit_of(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def in_step() -> None:
    assert rollups.check()["differences"] == []
    db.session.commit()


# --- rename -----------------------------------------------------------------------------------------


def test_the_branch_renames_a_neighbour_after_seeing_the_change(world, client, auth):
    branch = world["branch_member"]
    neighbour = nodes_at("neighbour")[0]
    auth.login(branch.mobile)
    node_page = client.get(f"/tree/{neighbour.id}").get_data(as_text=True)
    assert f"/tree/{neighbour.id}/rename" in node_page and f"/tree/{neighbour.id}/merge" in node_page
    url = f"/tree/{neighbour.id}/rename"
    preview = form_post(client, url, {"name": "  幸福邻  "})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "What will change" in html and "幸福邻" in html and 'name="confirm"' in html
    assert db.session.get(Node, neighbour.id).name != "幸福邻"  # nothing changed before the confirmation
    done = form_post(client, url, {"name": "  幸福邻  "}, confirm=True)
    assert done.status_code == 303
    assert db.session.get(Node, neighbour.id).name == "幸福邻"
    (entry,) = audit_of("node_rename")
    assert entry.actor_id == branch.id and entry.community_id == neighbour.community_id
    assert "幸福邻" in entry.detail and "第1邻" in entry.detail


def test_a_rename_is_refused_with_a_clear_message(world, client, auth):
    auth.login(world["branch_member"].mobile)
    first, second = nodes_at("neighbour")[:2]
    url = f"/tree/{first.id}/rename"
    clash = form_post(client, url, {"name": second.name}, confirm=True)
    assert clash.status_code == 422 and "is already the name of another" in clash.get_data(as_text=True)
    too_long = form_post(client, url, {"name": "长" * 41})
    assert too_long.status_code == 200 and "At most 40 characters" in too_long.get_data(as_text=True)
    empty = form_post(client, url, {"name": "   "})
    assert "Give the name." in empty.get_data(as_text=True)
    control = form_post(client, url, {"name": "a\tb"}, confirm=True)
    assert control.status_code == 422
    assert db.session.get(Node, first.id).name == first.name and audit_of("node_rename") == []


def test_communities_and_streets_are_renamed_only_from_above(world, client, auth):
    community, street = nodes_at("community")[0], nodes_at("street")[0]
    auth.login(world["branch_member"].mobile)
    assert client.get(f"/tree/{community.id}/rename").status_code == 403
    auth.logout()
    auth.login(world["street_admin"].mobile)
    assert client.get(f"/tree/{street.id}/rename").status_code == 403
    assert form_post(client, f"/tree/{community.id}/rename", {"name": "金湾社区"}, confirm=True).status_code == 303
    auth.logout()
    auth.login(world["district_admin"].mobile)
    assert form_post(client, f"/tree/{street.id}/rename", {"name": "白沙洲街道"}, confirm=True).status_code == 303
    assert (
        db.session.get(Node, community.id).name == "金湾社区" and db.session.get(Node, street.id).name == "白沙洲街道"
    )
    assert len(audit_of("node_rename")) == 2


# --- move -------------------------------------------------------------------------------------------


def test_the_branch_moves_a_neighbour_to_another_group_with_its_issues(world, client, auth):
    branch = world["branch_member"]
    neighbour = nodes_at("neighbour")[0]
    target = nodes_at("group")[1]
    issue = make_issue(world["neighbour_leader"], neighbour)
    version = issue.version
    auth.login(branch.mobile)
    url = f"/tree/{neighbour.id}/move"
    page = client.get(url).get_data(as_text=True)
    assert f'value="{target.id}"' in page
    assert f'value="{nodes_at("group")[2].id}"' not in page  # another community: not the branch's to move into
    preview = form_post(client, url, {"parent_id": str(target.id)})
    assert "1 neighbour units (邻) and 1 issues move with it." in preview.get_data(as_text=True)
    assert form_post(client, url, {"parent_id": str(target.id)}, confirm=True).status_code == 303
    moved = db.session.get(Issue, issue.id)
    assert (moved.group_id, moved.zone_id) == (target.id, target.zone_id) and moved.version == version + 1
    assert db.session.get(Node, neighbour.id).group_id == target.id
    (entry,) = audit_of("node_move")
    assert target.name in entry.detail and entry.community_id == neighbour.community_id
    log = client.get("/admin/audit/").get_data(as_text=True)  # the branch reads it in its 操作日志
    assert entry.detail in log
    in_step()


def test_a_street_admin_moves_a_group_to_another_community_and_the_reports_follow(world, client, auth):
    group = nodes_at("group")[0]
    other_zone = nodes_at("zone")[1]  # the second community of the same 街镇
    old_community = group.community_id
    issues = [make_issue(world["neighbour_leader"]) for _ in range(3)]
    transition(world["district_admin"], issues[0], "acknowledged")  # an issue-bound audit entry
    rollups.rebuild()
    db.session.commit()
    auth.login(world["branch_member"].mobile)
    refused = form_post(client, f"/tree/{group.id}/move", {"parent_id": str(other_zone.id)}, confirm=True)
    assert refused.status_code == 200 and "Choose one of the places offered." in refused.get_data(as_text=True)
    auth.logout()
    auth.login(world["street_admin"].mobile)
    url = f"/tree/{group.id}/move?community={other_zone.community_id}"
    preview = form_post(client, url, {"parent_id": str(other_zone.id)})
    assert "They leave the community" in preview.get_data(as_text=True)
    assert form_post(client, url, {"parent_id": str(other_zone.id)}, confirm=True).status_code == 303
    for issue in issues:
        moved = db.session.get(Issue, issue.id)
        assert (moved.community_id, moved.zone_id) == (other_zone.community_id, other_zone.id)
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.issue_id.in_([i.id for i in issues])))
    assert {e.community_id for e in entries} == {other_zone.community_id}
    (entry,) = audit_of("node_move")
    assert entry.community_id is None and entry.street_id == group.street_id
    by_community = dict(
        db.session.execute(
            select(rollups.IssueRollup.community_id, func.sum(rollups.IssueRollup.reported)).group_by(
                rollups.IssueRollup.community_id
            )
        ).all()
    )
    assert by_community.get(other_zone.community_id) == 2 and not by_community.get(old_community)
    in_step()
    # Across 街镇: the district admin only.
    far_zone = nodes_at("zone")[2]
    far = f"/tree/{group.id}/move?community={far_zone.community_id}"
    assert far_zone.id not in [int(v) for v in _offered(client, far)]
    auth.logout()
    auth.login(world["district_admin"].mobile)
    assert form_post(client, far, {"parent_id": str(far_zone.id)}, confirm=True).status_code == 303
    assert db.session.get(Issue, issues[0].id).street_id == far_zone.street_id
    in_step()


def _offered(client, url: str) -> list[str]:
    import re

    html = client.get(url).get_data(as_text=True)
    select_html = html.split('name="parent_id"', 1)[1].split("</select>", 1)[0] if 'name="parent_id"' in html else ""
    return re.findall(r'value="(\d+)"', select_html)


def test_moves_that_cannot_be_done_are_refused(world):
    admin = world["district_admin"]
    neighbours, groups, zones = nodes_at("neighbour"), nodes_at("group"), nodes_at("zone")
    cases = [
        (neighbours[0], zones[0], "bad_parent"),  # a 邻 goes under a 组
        (groups[0], groups[1], "bad_parent"),  # a 组 under a 片
        (zones[0], nodes_at("community")[1], "not_movable"),
        (neighbours[0], groups[0], "same_parent"),
    ]
    for node, parent, code in cases:
        with pytest.raises(structure.StructureError) as refused:
            structure.move(admin, node, parent)
        assert refused.value.code == code
    # A name already used under the new parent.
    clash = structure.add_node(groups[1], "neighbour", neighbours[0].name)
    db.session.commit()
    with pytest.raises(structure.StructureError) as refused:
        structure.move(admin, neighbours[0], groups[1])
    assert refused.value.code == "name_taken" and clash.id
    db.session.rollback()
    # Another district.
    other = structure.add_node(None, "district", "别区")
    street = structure.add_node(other, "street", "别街")
    community = structure.add_node(street, "community", "别社区")
    zone = structure.add_node(community, "zone", "别片")
    with pytest.raises(structure.StructureError) as refused:
        structure.move(admin, groups[0], zone)
    assert refused.value.code == "other_district"


def test_a_compound_is_never_split_between_communities_and_moves_whole(world, client, auth):
    community = nodes_at("community")[0]
    zone, (first_group, second_group) = nodes_at("zone")[0], nodes_at("group")[:2]
    split_compound = Compound(community_id=community.id, name="普瑞斯堡")
    whole_compound = Compound(community_id=community.id, name="金湾花园")
    db.session.add_all([split_compound, whole_compound])
    db.session.flush()
    zone.compound_id = split_compound.id
    for node in db.session.scalars(select(Node).where(Node.group_id == first_group.id)):
        node.compound_id = split_compound.id
    for node in db.session.scalars(select(Node).where(Node.group_id == second_group.id)):
        node.compound_id = whole_compound.id
    db.session.commit()
    issue = make_issue(world["neighbour_leader"], compound_id=split_compound.id)
    auth.login(world["street_admin"].mobile)
    other_zone = nodes_at("zone")[1]
    url = f"/tree/{first_group.id}/move?community={other_zone.community_id}"
    refused = form_post(client, url, {"parent_id": str(other_zone.id)})
    assert refused.status_code == 422 and "普瑞斯堡 would be split" in refused.get_data(as_text=True)
    assert db.session.get(Issue, issue.id).community_id == community.id
    url = f"/tree/{second_group.id}/move?community={other_zone.community_id}"
    preview = form_post(client, url, {"parent_id": str(other_zone.id)})
    assert "金湾花园 moves to the new community" in preview.get_data(as_text=True)
    assert form_post(client, url, {"parent_id": str(other_zone.id)}, confirm=True).status_code == 303
    assert db.session.get(Compound, whole_compound.id).community_id == other_zone.community_id
    assert db.session.get(Compound, split_compound.id).community_id == community.id


# --- merge and split --------------------------------------------------------------------------------


def test_the_branch_merges_a_neighbour_and_everything_pointing_at_it_moves(world, client, auth):
    merged, kept = nodes_at("neighbour")[0], nodes_at("neighbour")[2]  # kept: in the other 组
    merged_id, merged_name = merged.id, merged.name
    leader = world["neighbour_leader"]
    issue = make_issue(leader, merged)
    db.session.add_all(
        [
            ApiKey(name="测试", prefix="abc123", key_digest="d" * 64, node_id=merged.id),
            NotificationChannel(node_id=merged.id, url="https://example.invalid/hook"),
        ]
    )
    db.session.commit()
    auth.login(world["branch_member"].mobile)
    url = f"/tree/{merged.id}/merge"
    preview = form_post(client, url, {"kept_id": str(kept.id)})
    html = preview.get_data(as_text=True)
    assert "1 issues of" in html and leader.name in html and "is then deleted" in html
    done = form_post(client, url, {"kept_id": str(kept.id)}, confirm=True)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/tree/{kept.id}")
    assert db.session.get(Node, merged_id) is None
    moved = db.session.get(Issue, issue.id)
    assert (moved.neighbour_id, moved.group_id) == (kept.id, kept.group_id)
    assert db.session.scalar(select(ApiKey.node_id)) == kept.id
    assert db.session.scalar(select(NotificationChannel.node_id)) == kept.id
    assert (
        db.session.scalar(select(func.count()).select_from(RoleAssignment).where(RoleAssignment.person_id == leader.id))
        == 0
    )
    (ended,) = db.session.scalars(select(EndedRole))
    assert (ended.person_id, ended.node_id, ended.reason) == (leader.id, kept.id, "merged")
    (entry,) = audit_of("node_merge")
    assert merged_name in entry.detail and kept.name in entry.detail and entry.community_id == kept.community_id
    in_step()


def test_a_merge_stays_inside_one_community(world):
    first, other = nodes_at("neighbour")[0], nodes_at("neighbour")[4]
    with pytest.raises(structure.StructureError) as refused:
        structure.merge(world["district_admin"], first, other)
    assert refused.value.code == "merge_other_community"


def test_the_branch_splits_a_group_into_a_new_vacant_group(world, client, auth):
    group = nodes_at("group")[0]
    first, second = (n for n in nodes_at("neighbour") if n.parent_id == group.id)
    issue = make_issue(world["district_admin"], second)
    auth.login(world["branch_member"].mobile)
    url = f"/tree/{group.id}/split"
    nothing = form_post(client, url, {"name": "新组"})
    assert "Tick at least one neighbour unit (邻)" in nothing.get_data(as_text=True)
    foreign = next(n for n in nodes_at("neighbour") if n.parent_id != group.id)
    for ticked in ([str(second.id), str(foreign.id)], [str(second.id), "abc"]):
        refused = form_post(client, url, {"name": "新组", "neighbours": ticked})
        assert "Tick only neighbour units (邻) of this group (组)." in refused.get_data(as_text=True)
    preview = form_post(client, url, {"name": "新组", "neighbours": [str(second.id)]})
    assert "1 neighbour units (邻) move into it" in preview.get_data(as_text=True)
    done = form_post(client, url, {"name": "新组", "neighbours": [str(second.id)]}, confirm=True)
    assert done.status_code == 303
    created = db.session.scalar(select(Node).where(Node.name == "新组"))
    assert created.parent_id == group.parent_id and created.group_id == created.id
    assert db.session.get(Node, second.id).parent_id == created.id
    assert db.session.get(Node, first.id).parent_id == group.id
    assert db.session.get(Issue, issue.id).group_id == created.id
    assert (
        db.session.scalar(select(func.count()).select_from(RoleAssignment).where(RoleAssignment.node_id == created.id))
        == 0
    )
    (entry,) = audit_of("node_split")
    assert "新组" in entry.detail and second.name in entry.detail
    assert audit_of("node_move") == []  # one entry per edit


# --- who may -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["zone_leader", "group_leader", "neighbour_leader"])
def test_leaders_below_the_branch_cannot_edit_their_own_nodes(world, client, auth, role):
    auth.login(world[role].mobile)
    for node in (nodes_at("zone")[0], nodes_at("group")[0], nodes_at("neighbour")[0]):
        assert "/rename" not in client.get(f"/tree/{node.id}").get_data(as_text=True)
        for action in ("rename", "move", "merge", "split"):
            assert client.get(f"/tree/{node.id}/{action}").status_code == 403, (role, node.level, action)
        token = csrf_from(client.get("/").get_data(as_text=True))
        response = client.post(f"/tree/{node.id}/rename", data={"name": "x", "confirm": "1", "csrf_token": token})
        assert response.status_code == 403
    assert audit_of("node_rename") == []


def test_another_community_s_branch_cannot_edit(world, client, auth):
    other_branch = make_person("branch_member", nodes_at("community")[1])
    auth.login(other_branch.mobile)
    assert client.get(f"/tree/{nodes_at('neighbour')[0].id}/merge").status_code == 403
    assert client.get(f"/tree/{nodes_at('neighbour')[2 * 2].id}/merge").status_code == 200


def test_names_keep_their_full_width_brackets_and_lose_full_width_spaces(world):
    """Names are written with full-width brackets and digits: trimmed, never otherwise rewritten."""
    zone = nodes_at("zone")[0]
    structure.rename(world["district_admin"], zone, "\u3000第１片（普瑞斯堡东区） ")
    db.session.commit()
    assert db.session.get(Node, zone.id).name == "第１片（普瑞斯堡东区）"


HOSTILE = ["99999999999999999999", "2147483648", "١٢٣", "-1", "", "长" * 3000, "/\r\nSet-Cookie: x=1"]


def test_hostile_input_gets_a_message_never_a_500(world, client, auth):
    auth.login(world["district_admin"].mobile)
    group, neighbour = nodes_at("group")[0], nodes_at("neighbour")[0]
    token = csrf_from(client.get(f"/tree/{group.id}/split").get_data(as_text=True))
    for value in HOSTILE:
        for confirm in ("", "1", value):
            sent = {"csrf_token": token, "confirm": confirm}
            for url, fields in (
                (f"/tree/{neighbour.id}/rename", {"name": value}),
                (f"/tree/{neighbour.id}/move?community={value}", {"parent_id": value}),
                (f"/tree/{neighbour.id}/merge", {"kept_id": value}),
                (f"/tree/{group.id}/split", {"name": value, "neighbours": [value, str(neighbour.id)]}),
            ):
                response = client.post(url, data={**sent, **fields})
                assert response.status_code in (200, 303, 422), (url, value, response.status_code)
    assert client.get(f"/tree/{group.id}/merge").status_code == 404  # a 组 is not merged
    assert client.get(f"/tree/{nodes_at('zone')[0].id}/move").status_code == 404
    in_step()


def test_reports_of_past_periods_follow_the_current_tree(world):
    """Issues filed last year in a 组 moved since count in its new community for last year too (the history
    rule of services/people/structure.py), from the rollups (street, district) and the raw rows (片) alike."""
    from datetime import UTC, date, datetime

    from governance.services.reports import node_report

    group, other_zone = nodes_at("group")[0], nodes_at("zone")[1]
    old_community, new_community = group.community_id, other_zone.community_id
    for _ in range(2):
        issue = make_issue(world["neighbour_leader"])
        issue.created_at = datetime(2025, 3, 10, 4, tzinfo=UTC)  # filed last year (test set-up)
    db.session.commit()
    rollups.rebuild()
    db.session.commit()
    structure.move(world["district_admin"], group, other_zone)
    db.session.commit()
    last_year = node_report.Period.named("year", date(2025, 6, 1))
    street = db.session.get(Node, group.street_id)
    by_child = {row.key: row.figures.total for row in node_report.build_report(street, last_year).children}
    assert by_child[new_community] == 2 and by_child[old_community] == 0
    zone_report = node_report.build_report(db.session.get(Node, other_zone.id), last_year)
    assert {row.key: row.figures.total for row in zone_report.children}[group.id] == 2
    in_step()


@pytest.mark.parametrize("moving", ["neighbour", "group"])
def test_an_issue_filed_while_its_neighbour_moves_lands_in_the_new_place(app, world, moving):
    """A filing that starts while a move of its 邻 is not yet committed waits for it and takes the new place
    (it must not copy the old 组/片 onto an issue the move's UPDATE never saw)."""
    import threading
    import time

    neighbour = nodes_at("neighbour")[0]
    # The 邻 itself to another 组, or its 组 to another community's 片.
    node, target = (
        (neighbour, nodes_at("group")[1]) if moving == "neighbour" else (nodes_at("group")[0], nodes_at("zone")[1])
    )
    column = f"{target.level}_id"
    leader_id, neighbour_id, target_id = world["neighbour_leader"].id, neighbour.id, target.id
    structure.move(world["district_admin"], node, target)  # not committed yet: it holds its locks
    started, result = threading.Event(), {}

    def file_meanwhile():
        with app.app_context():
            try:
                started.set()
                filer = db.session.get(Person, leader_id)
                result["place"] = getattr(make_issue(filer, db.session.get(Node, neighbour_id)), column)
            except Exception as exc:  # noqa: BLE001 - reported below
                result["error"] = exc

    thread = threading.Thread(target=file_meanwhile)
    thread.start()
    started.wait(10)
    time.sleep(0.5)  # the filing is now waiting for the move
    db.session.commit()
    thread.join(30)
    assert "error" not in result, result
    assert result["place"] == target_id
    in_step()


# --- every role against every node, computed by walking parent links ---------------------------------

EDIT_PAGES = {"rename": None, "move": ("neighbour", "group"), "merge": ("neighbour",), "split": ("group",)}


def expected_status(actor: Person, node: Node, page: str) -> int:
    """What the tree-edit page answers, from the roles and parent links alone (not from governance/policy.py)."""
    from tests.test_access import MANAGERS, inside

    roles = actor.roles
    if page == "rename" and node.level == "community":
        allowed = any(r.role in ("street_admin", "district_admin") and inside(r, node) for r in roles)
    elif page == "rename" and node.level == "street":
        allowed = any(r.role == "district_admin" for r in roles)
    else:
        allowed = node.level in ("zone", "group", "neighbour") and any(
            r.role in MANAGERS and r.node_id and inside(r, node) for r in roles
        )
    if not allowed:
        return 403
    levels = EDIT_PAGES[page]
    return 200 if levels is None or node.level in levels else 404


# The pages worth asking for each level: every edit of a level that has it, and one it has not (404 or 403).
PAGES_OF = {
    "district": ("rename",),
    "street": ("rename",),
    "community": ("rename", "move"),
    "zone": ("rename", "move", "split"),
    "group": ("rename", "move", "split", "merge"),
    "neighbour": ("rename", "move", "merge", "split"),
}


def test_tree_edit_pages_follow_scope_for_every_role(app, client, auth):
    """The access test's world (two of everything, so every scope has a sibling outside it): the street admin,
    the branch and a 片长 against every node and its edit pages."""
    from tests.test_access import build_world

    people = build_world()
    first_street, second_street = nodes_at("street")
    # The first 街镇 whole (its second community is outside the branch), and one branch of the second.
    nodes = [n for n in db.session.scalars(select(Node).order_by(Node.id)) if n.street_id != second_street.id]
    for level in ("street", "community", "zone", "group", "neighbour"):
        nodes.append(next(n for n in nodes_at(level) if n.street_id == second_street.id))
    assert first_street in nodes
    for actor_role in ("street_admin", "branch_member", "zone_leader"):
        actor = people[actor_role]
        auth.login(actor.mobile)
        for node in nodes:
            for page in PAGES_OF[node.level]:
                status = client.get(f"/tree/{node.id}/{page}").status_code
                assert status == expected_status(actor, node, page), (actor_role, node.level, node.name, page)
        auth.logout()
