"""The audit log page (操作日志): entries of real service calls, scoped, filtered and paged."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import AuditEntry, RejectReason
from governance.services.issues.lifecycle import transition
from governance.services.platform import audit
from governance.services.triage import operations
from tests.builders import make_issue, make_party, make_person, make_tree, nodes_at
from tests.conftest import export_entries
from tests.pages import nav_links

URL = "/admin/audit/"


# These tests read the English labels; the Chinese ones are checked by test_translations.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(app):
    """Two streets of two communities; a leader in each community's 邻, its branch, street admins, the district.

    Community a0 and a1 are in street A, b0 in street B. Each branch acts on its own community's issues.
    """
    make_tree(streets=2, communities=2, zones=1, groups=1, neighbours=1)
    communities = nodes_at("community")
    neighbours = nodes_at("neighbour")
    streets = nodes_at("street")
    org = make_party("property", "金湾物业", communities[0])
    people = {
        "leader_a0": make_person("neighbour_leader", neighbours[0], name="邻长甲"),
        "leader_a1": make_person("neighbour_leader", neighbours[1], name="邻长乙"),
        "leader_b0": make_person("neighbour_leader", neighbours[2], name="邻长丙"),
        "branch_a0": make_person("branch_member", communities[0], name="支部王芳"),
        "branch_a1": make_person("branch_member", communities[1], name="支部李强"),
        "branch_b0": make_person("branch_member", communities[2], name="支部赵敏"),
        "street_a": make_person("street_admin", streets[0], name="街镇甲管理员"),
        "street_b": make_person("street_admin", streets[1], name="街镇乙管理员"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区管理员"),
        "group_leader": make_person("group_leader", nodes_at("group")[0], name="组长"),
        "zone_leader": make_person("zone_leader", nodes_at("zone")[0], name="片长"),
        "staff": make_person("org_staff", None, organisation=org, name="物业员工"),
    }
    issues = {
        "a0_assigned": make_issue(people["leader_a0"], title="路灯不亮"),
        "a0_rejected": make_issue(people["leader_a0"], title="私人纠纷"),
        "a1": make_issue(people["leader_a1"], title="井盖缺失"),
        "b0": make_issue(people["leader_b0"], title="垃圾堆放"),
    }
    reason = db.session.scalar(select(RejectReason).order_by(RejectReason.sort))
    # Real service calls, each writing its audit row in the same transaction.
    operations.assign(people["branch_a0"], issues["a0_assigned"], org, beijing_today() + timedelta(days=5), "请尽快")
    transition(people["branch_a0"], issues["a0_rejected"], "rejected", "已告知居民", reject_reason=reason)
    transition(people["branch_a1"], issues["a1"], "acknowledged")
    transition(people["branch_b0"], issues["b0"], "acknowledged")
    db.session.commit()
    return {"people": people, "issues": issues, "org": org, "reason": reason}


def page(client, **args) -> str:
    response = client.get(URL, query_string=args)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def shown(html: str, world) -> set[str]:
    """Which of the world's issues appear on the page (by reference)."""
    return {key for key, issue in world["issues"].items() if issue.reference in html}


def test_entries_come_from_service_calls(world):
    actions = db.session.execute(select(AuditEntry.action, AuditEntry.issue_id).order_by(AuditEntry.id)).all()
    issues = world["issues"]
    assert ("assign", issues["a0_assigned"].id) in actions
    assert ("reject", issues["a0_rejected"].id) in actions
    assert ("acknowledge", issues["b0"].id) in actions


def test_district_admin_sees_everything_with_labels_and_links(world, client, auth):
    auth.login(world["people"]["district"].mobile)
    html = page(client)
    assert shown(html, world) == set(world["issues"])
    assert "Assigned" in html and "Rejected" in html and "Acknowledged" in html
    assert "支部王芳" in html and "金湾物业 · " in html
    issue = world["issues"]["a0_rejected"]
    assert f'href="/issues/{issue.id}"' in html
    assert world["reason"].name_en in html  # the rejection's detail names the reason, in the reader's language
    # Times are Beijing time.
    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id))
    beijing = (entry.at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert beijing in html


def test_branch_member_sees_their_community_only(world, client, auth):
    auth.login(world["people"]["branch_a0"].mobile)
    html = page(client)
    assert shown(html, world) == {"a0_assigned", "a0_rejected"}
    assert "支部李强" not in html and "支部赵敏" not in html
    # Filters cannot widen the scope.
    html = page(client, person="支部", action="acknowledge")
    assert shown(html, world) == {"a0_assigned"}  # assigning acknowledged it; a1 and b0 stay out of sight
    auth.logout()
    auth.login(world["people"]["branch_b0"].mobile)
    assert shown(page(client), world) == {"b0"}


def test_street_admin_sees_their_street_only(world, client, auth):
    auth.login(world["people"]["street_a"].mobile)
    assert shown(page(client), world) == {"a0_assigned", "a0_rejected", "a1"}
    auth.logout()
    auth.login(world["people"]["street_b"].mobile)
    assert shown(page(client), world) == {"b0"}


@pytest.mark.parametrize("role", ["leader_a0", "group_leader", "zone_leader", "staff"])
def test_leaders_and_org_staff_are_refused(world, client, auth, role, caplog):
    auth.login(world["people"][role].mobile)
    assert client.get(URL).status_code == 403
    assert client.get(URL, query_string={"person": "支部", "before": "5"}).status_code == 403
    assert "access denied" in caplog.text


def test_anonymous_visitors_are_sent_to_log_in(world, client):
    response = client.get(URL)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_filter_by_person(world, client, auth):
    people = world["people"]
    auth.login(people["district"].mobile)
    assert shown(page(client, person=people["branch_a0"].mobile), world) == {"a0_assigned", "a0_rejected"}
    # A mobile typed with spaces, a +86 prefix or full-width digits.
    mobile = people["branch_b0"].mobile
    assert shown(page(client, person=f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"), world) == {"b0"}
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in people["branch_a1"].mobile)
    assert shown(page(client, person=full_width), world) == {"a1"}
    assert shown(page(client, person="李强"), world) == {"a1"}
    assert shown(page(client, person="支部"), world) == set(world["issues"])
    assert shown(page(client, person="nobody"), world) == set()
    assert shown(page(client, person="%"), world) == set()  # a LIKE wildcard is taken literally
    assert "No entry matches these filters." in page(client, person="nobody")


def test_filter_by_action(world, client, auth):
    auth.login(world["people"]["district"].mobile)
    assert shown(page(client, action="reject"), world) == {"a0_rejected"}
    assert shown(page(client, action="acknowledge"), world) == {"a1", "b0", "a0_assigned"}  # assigning acknowledged it
    assert shown(page(client, action="callback"), world) == set()
    html = page(client)
    for code in audit.ACTIONS:
        assert f'value="{code}"' in html  # every action is offered


def test_filter_by_beijing_day(world, client, auth):
    auth.login(world["people"]["district"].mobile)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.issue_id == world["issues"]["b0"].id))
    # 20:30 UTC on 15 March is 04:30 on 16 March in Beijing.
    entry.at = datetime(2026, 3, 15, 20, 30, tzinfo=UTC)
    db.session.commit()
    assert shown(page(client, date_from="2026-03-16", date_to="2026-03-16"), world) == {"b0"}
    assert shown(page(client, date_from="2026-03-15", date_to="2026-03-15"), world) == set()
    assert shown(page(client, date_to="2026-03-16"), world) == {"b0"}
    assert shown(page(client, date_from="2026-03-17"), world) == set(world["issues"]) - {"b0"}
    assert shown(page(client, date_from="2026年3月16日", date_to="2026/3/16"), world) == {"b0"}
    assert "2026-03-16 04:30" in page(client)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date_from": "abc"}, "Not a date"),
        ({"date_to": "2026-13-45"}, "Not a date"),
        ({"date_from": "2026-02-30"}, "Not a date"),
        ({"date_from": "99999-01-01"}, "Not a date"),
        ({"date_from": "9999-12-31"}, "Choose a date between"),
        ({"date_from": "0001-01-01"}, "Choose a date between"),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "cannot be before the first day"),
        ({"action": "drop_table"}, "Not a valid choice"),
        ({"person": "x" * 200}, "At most 40 characters."),
        ({"person": "支部\x07"}, "Remove the special characters."),
    ],
)
def test_junk_filters_give_a_message_not_an_error(world, client, auth, args, message):
    auth.login(world["people"]["district"].mobile)
    html = page(client, **args)
    assert message in html
    assert "Some filters could not be used" in html
    # What was refused is left out; the list still shows.
    assert shown(html, world) == set(world["issues"])


@pytest.mark.parametrize("before", ["abc", "-5", "0", "99999999999999999999", "1e3", ""])
def test_junk_cursor_is_ignored(world, client, auth, before):
    auth.login(world["people"]["district"].mobile)
    assert shown(page(client, before=before), world) == set(world["issues"])


def test_keyset_pages_of_fifty(world, client, auth):
    actor = world["people"]["branch_a0"]
    issue = world["issues"]["a0_assigned"]
    for i in range(60):
        audit.record(actor, "priority", issue, f"第{i}条")
    db.session.commit()
    auth.login(world["people"]["district"].mobile)
    html = page(client, action="priority")
    assert html.count('class="audit-what"') == 50
    assert "第59条" in html and "第10条" in html and "第9条" not in html
    older = re.search(r'href="(/admin/audit/\?[^"]*before=\d+[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "action=priority" in older
    response = client.get(older)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('class="audit-what"') == 10
    assert "第9条" in html and "第0条" in html and "第10条" not in html
    pager = nav_links(html, "nav.pager")  # back to the newest, and no older page
    assert "‹ Newest" in [text for text, _ in pager] and not any("before=" in href for _, href in pager)


def test_bulk_actions_are_marked(world, client, auth):
    people = world["people"]
    issues = [make_issue(people["leader_a0"], title=f"批量{i}") for i in range(2)]
    operations.bulk(
        people["branch_a0"], operations.BulkRequest("priority", [(i.id, None) for i in issues], priority="high")
    )
    db.session.commit()
    auth.login(people["branch_a0"].mobile)
    html = page(client, action="priority")
    assert html.count(">bulk</span>") == 2
    assert ">bulk</span>" not in page(client, action="reject")


def test_issue_link_only_when_the_viewer_may_see_it(world, client, auth):
    """A street admin sees the issues of their street; an entry whose issue moved out of sight shows no link."""
    issue = world["issues"]["a1"]
    auth.login(world["people"]["street_a"].mobile)
    assert f'href="/issues/{issue.id}"' in page(client)
    # An entry copied into the street's scope for an issue of another street (e.g. written before a move).
    other = world["issues"]["b0"]
    db.session.add(
        AuditEntry(
            actor_id=world["people"]["branch_a1"].id,
            action="escalate",
            issue_id=other.id,
            community_id=nodes_at("community")[1].id,
            street_id=nodes_at("street")[0].id,
            detail="moved",
        )
    )
    db.session.commit()
    html = page(client, action="escalate")
    assert other.reference in html and f'href="/issues/{other.id}"' not in html


def test_settings_index_links_the_log(world, client, auth):
    auth.login(world["people"]["branch_a0"].mobile)
    assert URL in client.get("/admin/settings/").get_data(as_text=True)


# --- exports: who took which table of people's data out -------------------------------------------------------


def test_an_issue_export_is_logged_under_the_area_it_took(world, client, auth):
    """The file at once: one entry by the exporter under the area exported (else their own), with the rows and
    the filters; the branch of that community reads it in the log, another community's does not."""
    people, communities = world["people"], nodes_at("community")
    auth.login(people["branch_a0"].mobile)
    assert client.get("/exports/issues.csv").status_code == 200
    auth.logout()
    auth.login(people["district"].mobile)
    export = client.get(f"/exports/issues.xlsx?node={communities[1].id}&status=acknowledged")
    assert export.status_code == 200
    own, chosen = export_entries()
    assert (own.actor_id, own.community_id, own.street_id) == (
        people["branch_a0"].id,
        communities[0].id,
        communities[0].street_id,
    )
    assert own.detail.startswith("问题清单：") and "（2行）" in own.detail  # a0's two issues
    assert (chosen.actor_id, chosen.community_id, chosen.street_id) == (
        people["district"].id,
        communities[1].id,
        communities[1].street_id,
    )
    assert ".xlsx（1行）" in chosen.detail and f"node={communities[1].id}" in chosen.detail
    assert "status=acknowledged" in chosen.detail
    auth.logout()
    auth.login(people["branch_a0"].mobile)
    html = page(client, action="export")
    assert "Data exported" in html and "问题清单" in html and people["district"].name not in html
    auth.logout()
    auth.login(people["branch_a1"].mobile)
    html = page(client, action="export")
    assert people["district"].name in html and people["branch_a0"].name not in html
    auth.logout()
    auth.login(people["street_b"].mobile)
    assert "问题清单" not in page(client, action="export")


def test_a_background_issue_export_is_logged_when_it_is_asked_for(app, world, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SYNC_LIMIT", 1)
    auth.login(world["people"]["district"].mobile)
    assert client.get("/exports/issues.csv").status_code == 200  # the page that asks to confirm: nothing yet
    assert not export_entries()
    assert auth.post("/exports/issues.csv", form_page="/exports/issues.csv").status_code == 302
    (entry,) = export_entries()
    assert entry.actor_id == world["people"]["district"].id and "（后台导出）" in entry.detail
    assert (entry.community_id, entry.street_id) == (None, None)  # the whole district: its admins read it


def test_triage_and_party_exports_are_logged(world, client, auth):
    people, community = world["people"], nodes_at("community")[0]
    auth.login(people["branch_a0"].mobile)
    assert client.get(f"/triage/community/{community.id}/export.csv?status=open").status_code == 200
    auth.logout()
    auth.login(people["staff"].mobile)
    assert client.get("/triage/org/export.csv").status_code == 200
    queue, party = export_entries()
    assert (queue.actor_id, queue.community_id) == (people["branch_a0"].id, community.id)
    assert queue.detail.startswith("分派队列：") and "status=open" in queue.detail
    assert (party.actor_id, party.community_id, party.street_id) == (people["staff"].id, None, None)
    assert party.detail.startswith("责任单位派单：") and "（1行）" in party.detail  # the one issue assigned to it
