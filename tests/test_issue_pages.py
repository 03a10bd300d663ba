"""The issue pages: each role's scoped list, the issue page and its actions, and the inbox.

Everything goes through the real forms and routes (CSRF, the hidden version, one commit per
request); the expectations on scope are spelled out per role rather than derived from the policy.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import STATUSES, Issue, IssueEvent, Notification, Photo, utcnow
from governance.services.issues import listing, sla
from governance.services.issues.lifecycle import escalate, transition
from governance.services.platform import jobs
from governance.services.public import page_cache
from tests.builders import category, force_status, make_issue, make_person, make_tree, nodes_at
from tests.conftest import csrf_from
from tests.pages import badge_count, find, issue_cards, visible
from tests.test_filing import jpeg

REF_RE = re.compile(r"WC-\d{4}-\d{6}")


@pytest.fixture
def world(app):
    """One community: 2 片 × 2 组 × 2 邻, a leader on most nodes, and the people above."""
    make_tree(streets=1, communities=1, zones=2, groups=2, neighbours=2)
    n, g, z = nodes_at("neighbour"), nodes_at("group"), nodes_at("zone")
    return {
        "n0": make_person("neighbour_leader", n[0], name="邻长甲"),
        "n1": make_person("neighbour_leader", n[1], name="邻长乙"),
        "n2": make_person("neighbour_leader", n[2], name="邻长丙"),
        "n4": make_person("neighbour_leader", n[4], name="邻长丁"),
        "g0": make_person("group_leader", g[0], name="组长甲"),
        "g1": make_person("group_leader", g[1], name="组长乙"),
        "z0": make_person("zone_leader", z[0], name="片长甲"),
        "z1": make_person("zone_leader", z[1], name="片长乙"),
        "branch": make_person("branch_member", nodes_at("community")[0], name="支部"),
        "street": make_person("street_admin", nodes_at("street")[0], name="街道"),
        "district": make_person("district_admin", nodes_at("district")[0], name="区"),
    }


def issue_in(world, who: str, title: str = "路面破损", **fields) -> Issue:
    return make_issue(world[who], title=title, **fields)


def html_of(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def refs(html: str) -> set[str]:
    return set(REF_RE.findall(html))


def listed(client, query: str = "") -> set[str]:
    """The references on the list page (the cards only, not the search box)."""
    return {card["reference"] for card in issue_cards(html_of(client, "/issues/" + query))}


def act(client, issue: Issue, path: str, prefix: str, fields: dict | None = None, version: int | None = None):
    """Post one action form as the page renders it: prefixed fields, the page's version, its CSRF token."""
    page = client.get(f"/issues/{issue.id}")
    token = csrf_from(page.get_data(as_text=True)) if page.status_code == 200 else csrf_from(client.get("/").text)
    data = {f"{prefix}-{k}": v for k, v in (fields or {}).items()}
    data[f"{prefix}-version"] = str(version if version is not None else current_version(issue))
    data["csrf_token"] = token
    return client.post(f"/issues/{issue.id}/{path}", data=data)


def first_reason_id() -> int:
    """The first rejection reason of the managed list (seeded by default)."""
    from governance.models import RejectReason

    return db.session.scalars(select(RejectReason.id).order_by(RejectReason.sort)).first()


def current_version(issue: Issue) -> int:
    db.session.expire_all()
    return db.session.get(Issue, issue.id).version


def fresh(issue: Issue) -> Issue:
    db.session.expire_all()
    return db.session.get(Issue, issue.id)


def events(issue: Issue) -> list[IssueEvent]:
    return list(db.session.scalars(select(IssueEvent).where(IssueEvent.issue_id == issue.id).order_by(IssueEvent.id)))


# --- scope --------------------------------------------------------------------------------------


def test_neighbour_leader_sees_only_their_neighbour(world, client, auth):
    own = issue_in(world, "n0")
    sibling = issue_in(world, "n1")  # same 组, other 邻
    far = issue_in(world, "n4")  # other 片
    auth.login(world["n0"].mobile)
    assert listed(client) == {own.reference}
    assert html_of(client, f"/issues/{own.id}")
    for other in (sibling, far):
        page = html_of(client, f"/issues/{other.id}", 403)
        assert other.reference not in page and other.title not in page or other.title == own.title
    # Filter tampering: another 邻, the 邻长's own 组 (above them), a made-up id, an absurd one.
    neighbours, groups = nodes_at("neighbour"), nodes_at("group")
    for node_id in (neighbours[1].id, groups[0].id, nodes_at("zone")[1].id, 999999, 10**12):
        assert client.get(f"/issues/?node={node_id}").status_code == 403, node_id
    assert listed(client, f"?node={neighbours[0].id}") == {own.reference}


def test_group_leader_sees_their_group(world, client, auth):
    mine = {issue_in(world, "n0").reference, issue_in(world, "n1").reference}
    other_group = issue_in(world, "n2")
    auth.login(world["g0"].mobile)
    assert listed(client) == mine
    assert client.get(f"/issues/{other_group.id}").status_code == 403
    assert client.get(f"/issues/?node={nodes_at('neighbour')[2].id}").status_code == 403
    assert client.get(f"/issues/?node={nodes_at('zone')[0].id}").status_code == 403
    one = nodes_at("neighbour")[1]
    assert listed(client, f"?node={one.id}") == {r for r in mine if fresh_ref(r).neighbour_id == one.id}


def fresh_ref(reference: str) -> Issue:
    return db.session.scalar(select(Issue).where(Issue.reference == reference))


def test_zone_leader_area_filter_offers_their_groups_and_neighbours(world, client, auth):
    auth.login(world["z0"].mobile)
    html = html_of(client, f"/issues/?node={nodes_at('zone')[0].id}")
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', html.split('id="f-node"')[1]))
    inside = {n.id for n in nodes_at("group")[:2] + nodes_at("neighbour")[:4]} | {nodes_at("zone")[0].id}
    assert set(map(int, options)) == inside
    assert client.get(f"/issues/?node={nodes_at('group')[2].id}").status_code == 403


def test_org_staff_and_the_district_see_what_they_should(world, client, auth):
    from tests.builders import make_organisation

    org = make_organisation("property", "普瑞物业")
    staff = make_person("org_staff", None, organisation=org)
    assigned, other = issue_in(world, "n0"), issue_in(world, "n4")
    assigned.assignee_org_id = org.id
    db.session.commit()
    auth.login(staff.mobile)
    assert listed(client) == {assigned.reference}
    assert client.get(f"/issues/{other.id}").status_code == 403
    assert client.get(f"/issues/?node={nodes_at('neighbour')[0].id}").status_code == 403
    auth.logout()
    auth.login(world["district"].mobile)
    assert listed(client) == {assigned.reference, other.reference}


def test_a_person_with_two_roles_sees_both_areas_once(world, client, auth):
    from tests.builders import grant

    leader = world["g0"]
    grant(leader, "neighbour_leader", nodes_at("neighbour")[0])  # inside their own 组
    grant(leader, "neighbour_leader", nodes_at("neighbour")[4])  # in another 片
    expected = {issue_in(world, "n0").reference, issue_in(world, "n1").reference, issue_in(world, "n4").reference}
    issue_in(world, "n2")
    auth.login(leader.mobile)
    html = html_of(client, "/issues/")
    assert listed(client) == expected
    assert html.count('<li class="issue-card') == 3


# --- filters, pagination, overdue ---------------------------------------------------------------


def test_filters(world, client, auth):
    road = issue_in(world, "n0", "路面坑洼")
    light = issue_in(world, "n0", "3栋路灯不亮", category="lighting")
    done = force_status(issue_in(world, "n1", "监控坏了", category="cctv"), "resolved")
    percent = issue_in(world, "n1", "100%_破损")
    escalate(world["n0"], light, "需要组长协调")
    late = issue_in(world, "n1", "排水堵塞", category="drainage")
    late.ack_due_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    auth.login(world["g0"].mobile)
    everything = {road.reference, light.reference, done.reference, percent.reference, late.reference}
    assert listed(client) == everything
    assert listed(client, "?status=open") == everything - {done.reference}
    assert listed(client, "?status=resolved") == {done.reference}
    assert listed(client, f"?category={category('lighting').id}") == {light.reference}
    assert listed(client, "?level=group") == {light.reference}
    assert listed(client, "?overdue=1") == {late.reference}
    assert listed(client, "?overdue=1&status=resolved") == set()
    assert listed(client, "?q=路灯") == {light.reference}
    assert listed(client, "?q=%25") == {percent.reference}  # a literal %, not a wildcard
    assert listed(client, "?q=_") == {percent.reference}
    assert listed(client, f"?q={road.reference.lower()}") == {road.reference}
    assert listed(client, f"?q={road.reference[-6:]}") == {road.reference}
    assert listed(client, "?q=路灯&category=999") == set()
    # Unknown values are ignored rather than refused.
    assert listed(client, "?status=nonsense&level=moon&category=x&overdue=yes") == everything


@pytest.mark.parametrize("window", [1, 4, 3000])
def test_search_pages_are_exact_whatever_the_window(world, client, auth, monkeypatch, window):
    """Common words come from the newest-issues window, rare ones from the fallback: same answers either way."""
    monkeypatch.setattr(listing, "TEXT_WINDOW", window)
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    base = utcnow() - timedelta(days=10)
    made = []
    for i in range(14):
        title = "路灯不亮" if i % 2 else f"路面破损{i}"
        issue = issue_in(world, "n0" if i % 3 else "n1", title)
        issue.created_at = base + timedelta(hours=i // 2)  # pairs share a time
        made.append(issue)
    force_status(made[1], "closed")
    force_status(made[0], "resolved")  # the only "路面破损0": oldest, in its own arm
    newest_first = sorted(made, key=lambda i: (i.created_at, i.id), reverse=True)
    auth.login(world["g0"].mobile)
    for term in ("路灯", "路面破损0", "路"):
        expected = [i.reference for i in newest_first if term in i.title]
        seen, url = [], f"/issues/?q={term}"
        while url:
            html = html_of(client, url)
            seen += [card["reference"] for card in issue_cards(html)]
            older = re.search(r'href="([^"]+)" rel="next"', html)
            url = older.group(1).replace("&amp;", "&") if older else None
        assert seen == expected, (term, window)


def test_overdue_issues_are_marked(world, client, auth):
    late = issue_in(world, "n0", "超时的问题")
    fine = issue_in(world, "n0", "按时的问题")
    late.resolve_due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    auth.login(world["g0"].mobile)
    html = html_of(client, "/issues/")
    cards = {card["reference"]: card for card in issue_cards(html)}
    assert "is-overdue" in cards[late.reference]["classes"] and "overdue" in cards[late.reference]["marks"]
    assert "is-overdue" not in cards[fine.reference]["classes"]
    page = html_of(client, f"/issues/{late.id}")
    assert "badge overdue" in page and "is-overdue" in page


def test_keyset_pages_cover_everything_once_newest_first(world, client, auth):
    base = utcnow() - timedelta(days=30)
    made = []
    for i in range(57):
        issue = issue_in(world, "n0" if i % 2 else "n1", f"问题{i}")
        # Every third pair shares a creation time: the id breaks the tie.
        issue.created_at = base + timedelta(hours=i - i % 3)
        made.append(issue)
    force_status(made[5], "closed")
    db.session.commit()
    expected = [i.reference for i in sorted(made, key=lambda i: (i.created_at, i.id), reverse=True)]
    auth.login(world["g0"].mobile)
    seen, url, pages = [], "/issues/", []
    while url:
        html = html_of(client, url)
        pages.append(html)
        seen += [card["reference"] for card in issue_cards(html)]
        older = re.search(r'href="([^"]+)" rel="next"', html)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert seen == expected
    assert [len(issue_cards(p)) for p in pages] == [25, 25, 7]
    assert "57" in pages[0]  # the count
    # Back from the last page with "newer": the middle page again, in the same order.
    newer = re.search(r'href="([^"]+)" rel="prev"', pages[2]).group(1).replace("&amp;", "&")
    middle = issue_cards(html_of(client, newer))
    assert [card["reference"] for card in middle] == expected[25:50]
    # Filters stay on while paging.
    html = html_of(client, "/issues/?status=open")
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1)
    assert "status=open" in older


def test_count_is_capped_and_only_run_when_needed(world, client, auth, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for _ in range(5):
        issue_in(world, "n0")
    auth.login(world["g0"].mobile)

    def count_line(url):
        html = html_of(client, url)
        line = find(html, "p.count-line:not(.export-links)")  # not the export links' line
        return visible(line) if line is not None else None

    first = count_line("/issues/")
    assert "3" in first and "5" not in first  # "more than 3"
    assert count_line("/issues/?q=nothing-like-this") is None  # no card, no count line
    # A page that holds everything is its own count: no count query runs.
    calls = []
    monkeypatch.setattr(listing, "capped_count", lambda *a: calls.append(a) or (0, False))
    monkeypatch.setattr(listing, "PAGE_SIZE", 25)
    page_cache.clear()  # the page size changed under the cache's feet (no commit tells it)
    assert "5" in count_line("/issues/")
    assert calls == []


def test_list_query_uses_one_arm_per_status_and_stays_small(world, app):
    """The page query reads at most page size + 1 rows per (area, status) arm, whatever the scope's size."""
    for _ in range(3):
        issue_in(world, "n0")
    person = world["district"]
    filters = listing.Filters()
    keys = listing.page_keys(person, filters, None, utcnow(), size=2)
    assert len(keys) == 3  # size + 1: "is there an older page?"
    assert listing.anchors(world["g0"], filters)[0].compare(Issue.group_id == nodes_at("group")[0].id)


# --- the issue page -----------------------------------------------------------------------------


def test_detail_shows_everything_to_those_who_may_see(world, client, auth):
    issue = make_issue(
        world["n0"],
        title="5栋电梯停运",
        category="lift",
        description="老人出行困难",
        resident_name="李阿姨",
        resident_phone="13912345678",
        place_detail="5栋2单元",
    )
    escalate(world["n0"], issue, "需要组长协调")
    transition(world["g0"], issue, "acknowledged")
    from governance.services.issues.lifecycle import add_comment

    add_comment(world["g0"], issue, "internal_note", "物业电话打不通")
    db.session.commit()
    auth.login(world["z0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    for text in ("5栋电梯停运", "老人出行困难", "李阿姨", "13912345678", "5栋2单元", "需要组长协调", "物业电话打不通"):
        assert text in html, text
    assert "badge internal" in html
    assert "邻长甲" in html and "组长甲" in html


def test_automatic_escalation_reads_as_done_by_the_system(world, client, auth):
    issue = issue_in(world, "n0")
    issue.next_deadline_at = issue.ack_due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    sla.sweep()
    auth.login(world["g0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    assert "by-system" in html
    assert "Escalated automatically" in html or "自动" in html


def test_photos_link_to_the_photo_endpoints(world, client, auth):
    issue = issue_in(world, "n0")
    photo = Photo(issue_id=issue.id, stored_name="abc.jpg", width=10, height=10, size_bytes=100, thumb_name="t.jpg")
    db.session.add(photo)
    db.session.commit()
    auth.login(world["n0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    assert f"/photos/{photo.id}" in html and "<img" in html


def test_a_stranger_gets_403_and_a_missing_issue_404(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["z1"].mobile)
    issue.resident_phone = "13912345678"
    db.session.commit()
    page = html_of(client, f"/issues/{issue.id}", 403)
    assert "13912345678" not in page and issue.reference not in page
    assert client.get("/issues/987654").status_code == 404
    assert client.get(f"/issues/{2**40}").status_code == 404


# --- actions ------------------------------------------------------------------------------------


def test_the_whole_lifecycle_through_the_forms(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["g0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    assert f'action="/issues/{issue.id}/status/acknowledged#' in html
    assert "status/resolved" not in html  # not possible from 'reported'
    assert "status/rejected" not in html  # triage is the branch's
    assert act(client, issue, "status/acknowledged", "acknowledged").status_code == 303
    assert fresh(issue).status == "acknowledged"
    assert act(client, issue, "status/in_progress", "in_progress").status_code == 303
    # Resolving needs a note: refused, nothing changed, the page says why.
    response = act(client, issue, "status/resolved", "resolved", {"note": "  "})
    assert response.status_code == 422
    assert fresh(issue).status == "in_progress"
    assert 'role="alert"' in response.text
    assert act(client, issue, "status/resolved", "resolved", {"note": "已修复路面"}).status_code == 303
    assert fresh(issue).status == "resolved"
    auth.logout()
    # The filing 邻长 calls the resident back: not satisfied reopens (with a note).
    auth.login(world["n0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    assert f"/issues/{issue.id}/callback" in html
    response = act(client, issue, "callback", "callback", {"satisfaction": "unsatisfied", "note": ""})
    assert response.status_code == 422 and fresh(issue).status == "resolved"
    assert (
        act(client, issue, "callback", "callback", {"satisfaction": "unsatisfied", "note": "还是坏的"}).status_code
        == 303
    )
    assert fresh(issue).status == "reopened"
    auth.logout()
    auth.login(world["g0"].mobile)
    assert act(client, issue, "status/in_progress", "in_progress").status_code == 303
    assert act(client, issue, "status/resolved", "resolved", {"note": "重新铺设"}).status_code == 303
    auth.logout()
    auth.login(world["n0"].mobile)
    response = act(client, issue, "callback", "callback", {"satisfaction": "satisfied", "note": "很好"})
    assert response.status_code == 303
    issue = fresh(issue)
    assert issue.status == "closed" and issue.satisfaction == "satisfied"
    html = html_of(client, f"/issues/{issue.id}")
    assert "status/" not in html and "/escalate" not in html  # nothing left to do on a closed issue


def test_escalation_through_the_form_notifies_the_level_above(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["n0"].mobile)
    response = act(client, issue, "escalate", "escalate", {"reason": ""})
    assert response.status_code == 422 and fresh(issue).level == "neighbour"
    assert act(client, issue, "escalate", "escalate", {"reason": "需要组长协调"}).status_code == 303
    assert fresh(issue).level == "group"
    # The 邻长 no longer holds the level: the button is gone and a forged post is refused.
    assert f"/issues/{issue.id}/escalate" not in html_of(client, f"/issues/{issue.id}")
    response = act(client, issue, "escalate", "escalate", {"reason": "再上报"})
    assert response.status_code == 403 and fresh(issue).level == "group"
    auth.logout()
    auth.login(world["g0"].mobile)
    # The badge: the filing's message (its job waited; the escalation's run took it along) and the escalation's.
    assert badge_count(html_of(client, "/"), "a.inbox-link") == 2
    inbox = html_of(client, "/inbox/")
    assert issue.reference in inbox and "unread" in inbox
    assert act(client, issue, "escalate", "escalate", {"reason": "组里解决不了"}).status_code == 303
    assert fresh(issue).level == "zone"
    auth.logout()
    auth.login(world["z0"].mobile)
    assert issue.reference in html_of(client, "/inbox/")
    assert issue.reference in html_of(client, "/issues/?level=zone")


SEES = {"n0", "g0", "z0", "branch"}  # who sees an issue filed in the first 邻


@pytest.mark.parametrize(
    ("path", "prefix", "fields", "status", "allowed_roles"),
    [
        ("status/acknowledged", "acknowledged", {}, "reported", {"g0", "z0", "branch"}),
        ("status/in_progress", "in_progress", {}, "acknowledged", {"g0", "z0", "branch"}),
        ("status/resolved", "resolved", {"note": "已修复"}, "in_progress", {"g0", "z0", "branch"}),
        ("status/rejected", "rejected", {"reason": "REASON", "note": "不属于社区事务"}, "reported", {"branch"}),
        ("status/duplicate", "duplicate", {"duplicate_of": "ORIGINAL"}, "reported", {"branch"}),
        ("status/withdrawn", "withdrawn", {"note": "居民自行解决"}, "reported", {"n0", "branch"}),
        ("status/closed", "closed", {}, "resolved", {"branch"}),
        ("callback", "callback", {"satisfaction": "satisfied"}, "resolved", {"n0"}),
        ("escalate", "escalate", {"reason": "需要上级协调"}, "reported", {"n0", "g0", "z0", "branch"}),
        ("comment", "comment", {"kind": "comment", "note": "情况说明"}, "reported", SEES),
    ],
)
def test_every_action_by_the_right_role_only(world, client, auth, path, prefix, fields, status, allowed_roles):
    for role in ("n0", "n1", "g0", "g1", "z0", "z1", "branch"):
        issue = force_status(issue_in(world, "n0"), status)
        original = issue_in(world, "n0", "原问题")
        placeholders = {"ORIGINAL": original.reference, "REASON": str(first_reason_id())}
        data = {k: placeholders.get(v, v) for k, v in fields.items()}
        before = (fresh(issue).status, fresh(issue).level, fresh(issue).version, len(events(issue)))
        auth.login(world[role].mobile)
        if role in SEES:
            html = html_of(client, f"/issues/{issue.id}")
            shown = f'action="/issues/{issue.id}/{path}' in html
            assert shown == (role in allowed_roles), (role, "button shown" if shown else "button missing")
        response = act(client, issue, path, prefix, data)
        auth.logout()
        if role in allowed_roles:
            assert response.status_code == 303, role
            assert len(events(issue)) > before[3], role
        else:
            assert response.status_code == 403, role
            after = fresh(issue)
            assert (after.status, after.level, after.version, len(events(issue))) == before, role


def test_triage_reject_duplicate_close_and_reopen(world, client, auth):
    original = issue_in(world, "n0", "原问题")
    copy = issue_in(world, "n1", "重复的问题")
    rejected = issue_in(world, "n0", "不受理的问题")
    auth.login(world["branch"].mobile)
    html = html_of(client, f"/issues/{copy.id}")
    assert "status/duplicate" in html and "status/rejected" in html
    response = act(client, copy, "status/duplicate", "duplicate", {"duplicate_of": "WC-1999-999999"})
    assert response.status_code == 422 and fresh(copy).status == "reported"
    response = act(client, copy, "status/duplicate", "duplicate", {"duplicate_of": original.reference.lower()})
    assert response.status_code == 303
    assert fresh(copy).status == "duplicate" and fresh(copy).duplicate_of_id == original.id
    assert original.reference in html_of(client, f"/issues/{copy.id}")
    assert act(client, rejected, "status/rejected", "rejected", {"note": "属于私人纠纷"}).status_code == 422
    assert act(client, rejected, "status/rejected", "rejected", {"reason": "x"}).status_code == 422
    assert act(client, rejected, "status/rejected", "rejected", {"reason": "99999999999"}).status_code == 422
    reason = {"reason": str(first_reason_id()), "note": "属于私人纠纷"}
    assert act(client, rejected, "status/rejected", "rejected", reason).status_code == 303
    assert fresh(rejected).status == "rejected" and fresh(rejected).reject_reason_id == first_reason_id()
    assert "属于私人纠纷" in events(rejected)[-1].note
    force_status(original, "resolved")
    assert act(client, original, "status/reopened", "reopened", {"note": "居民反映未修好"}).status_code == 303
    force_status(fresh(original), "resolved")
    assert act(client, original, "status/closed", "closed", {"note": ""}).status_code == 303
    assert fresh(original).status == "closed"


def test_a_duplicate_of_an_issue_out_of_sight_is_refused(world, client, auth):
    from tests.builders import make_node

    street = nodes_at("street")[0]
    elsewhere = make_node(make_node(make_node(make_node(street, "community"), "zone"), "group"), "neighbour")
    hidden = make_issue(make_person("neighbour_leader", elsewhere), title="别的社区的问题")
    issue = issue_in(world, "n0")
    auth.login(world["branch"].mobile)
    # Out of sight and unknown read the same, by reference or by number alone.
    for reference in (hidden.reference, str(hidden.id), "WC-2026-999999", "999999"):
        response = act(client, issue, "status/duplicate", "duplicate", {"duplicate_of": reference})
        assert response.status_code == 422
        assert "别的社区的问题" not in response.get_data(as_text=True)
    assert fresh(issue).status == "reported"


@pytest.mark.parametrize(
    "typed",
    ["{id}", "{id:06d}", " {id} ", "{fullwidth}", "wc-{year}-{id}", "{year}-{id:06d}", "WC {year} - {id:06d}"],
)
def test_the_kept_issue_may_be_given_by_its_number_alone(world, client, auth, typed):
    original = issue_in(world, "n0", "原问题")
    copy = issue_in(world, "n1", "重复的问题")
    fullwidth = str(original.id).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    given = typed.format(id=original.id, year=original.created_at.year, fullwidth=fullwidth).replace("WC {", "WC ")
    auth.login(world["branch"].mobile)
    response = act(client, copy, "status/duplicate", "duplicate", {"duplicate_of": given})
    assert response.status_code == 303, given
    assert fresh(copy).status == "duplicate" and fresh(copy).duplicate_of_id == original.id


def test_a_number_with_another_year_is_not_the_issue(world, client, auth):
    original = issue_in(world, "n0", "原问题")
    copy = issue_in(world, "n1", "重复的问题")
    auth.login(world["branch"].mobile)
    other_year = original.created_at.year - 1
    response = act(client, copy, "status/duplicate", "duplicate", {"duplicate_of": f"{other_year}-{original.id}"})
    assert response.status_code == 422 and fresh(copy).status == "reported"


def test_the_merge_form_offers_likely_originals_and_a_tick_merges(world, client, auth):
    road, lights = category("road"), category("lighting")
    older = issue_in(world, "n0", "三栋门口路面坑洼", category_id=road.id)
    same_place = issue_in(world, "n0", "路面又塌了", category_id=road.id)
    next_door = issue_in(world, "n1", "隔壁邻的路面", category_id=road.id)  # no 小区: only the same 邻 counts
    other_kind = issue_in(world, "n0", "路灯不亮", category_id=lights.id)
    closed = force_status(issue_in(world, "n0", "早已修好的路面", category_id=road.id), "closed")
    copy = issue_in(world, "n0", "门口路面坏了", category_id=road.id)
    auth.login(world["branch"].mobile)
    html = html_of(client, f"/issues/{copy.id}")
    offered = [tag.get("value") for tag in find(html, "#act-duplicate").select("input[type=radio]")]
    assert offered == [same_place.reference, older.reference]  # same kind and place, open, newest first
    assert copy.reference not in offered and other_kind.reference not in offered
    assert next_door.reference not in offered
    assert closed.reference not in offered
    response = act(client, copy, "status/duplicate", "duplicate", {"candidate": older.reference, "duplicate_of": ""})
    assert response.status_code == 303
    assert fresh(copy).duplicate_of_id == older.id


def test_what_is_typed_wins_over_a_ticked_suggestion(world, client, auth):
    ticked, typed = issue_in(world, "n0", "甲"), issue_in(world, "n0", "乙")
    copy = issue_in(world, "n0", "丙")
    auth.login(world["branch"].mobile)
    fields = {"candidate": ticked.reference, "duplicate_of": str(typed.id)}
    assert act(client, copy, "status/duplicate", "duplicate", fields).status_code == 303
    assert fresh(copy).duplicate_of_id == typed.id


def test_comments_notes_and_public_updates(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["n0"].mobile)
    html = html_of(client, f"/issues/{issue.id}")
    assert 'value="public_update"' not in html  # a 邻长 may not post public updates
    assert act(client, issue, "comment", "comment", {"kind": "comment", "note": "居民又来电"}).status_code == 303
    assert act(client, issue, "comment", "comment", {"kind": "internal_note", "note": "内部"}).status_code == 303
    response = act(client, issue, "comment", "comment", {"kind": "public_update", "note": "公开"})
    assert response.status_code == 403
    assert act(client, issue, "comment", "comment", {"kind": "", "note": "x"}).status_code == 422
    assert act(client, issue, "comment", "comment", {"kind": "comment", "note": ""}).status_code == 422
    auth.logout()
    auth.login(world["g0"].mobile)
    assert 'value="public_update"' in html_of(client, f"/issues/{issue.id}")
    assert (
        act(client, issue, "comment", "comment", {"kind": "public_update", "note": "已联系施工队"}).status_code == 303
    )
    kinds = [(e.kind, e.public) for e in events(issue)]
    assert kinds == [
        ("filed", True),
        ("comment", False),
        ("internal_note", False),
        ("public_update", True),
    ]


def test_a_stale_page_gets_a_conflict_and_keeps_the_note(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["g0"].mobile)
    seen = current_version(issue)
    # Someone else escalates it while the 组长 is typing.
    escalate(world["n0"], fresh(issue), "邻长上报")
    db.session.commit()
    before = (fresh(issue).level, fresh(issue).version, len(events(issue)))
    response = act(client, issue, "escalate", "escalate", {"reason": "我写的理由很长"}, version=seen)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "我写的理由很长" in html  # what was typed is still there
    assert 'role="alert"' in html
    after = fresh(issue)
    assert (after.level, after.version, len(events(issue))) == before
    # The page shows the latest version, and a retry from it works.
    assert f'name="escalate-version" type="hidden" value="{after.version}"' in html
    assert act(client, issue, "escalate", "escalate", {"reason": "我写的理由很长"}).status_code == 303
    assert fresh(issue).level == "zone"


def test_a_conflict_where_the_step_is_gone_still_gives_the_text_back(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["branch"].mobile)
    seen = current_version(issue)
    transition(world["g0"], fresh(issue), "acknowledged")
    transition(world["g0"], fresh(issue), "in_progress")
    db.session.commit()
    fields = {"reason": str(first_reason_id()), "note": "不属于社区事务范围"}
    response = act(client, issue, "status/rejected", "rejected", fields, version=seen)
    assert response.status_code == 409
    assert "不属于社区事务范围" in response.get_data(as_text=True)
    assert fresh(issue).status == "in_progress"


def test_a_note_is_kept_after_an_error(world, client, auth):
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    long_note = "修" * 2001
    response = act(client, issue, "status/resolved", "resolved", {"note": long_note})
    assert response.status_code == 422
    assert long_note in response.get_data(as_text=True)
    assert fresh(issue).status == "in_progress"
    assert '<details class="action" id="act-resolved" open>' in response.get_data(as_text=True)


def test_unknown_status_and_missing_csrf(world, client, auth):
    issue = issue_in(world, "n0")
    auth.login(world["district"].mobile)
    assert act(client, issue, "status/teleported", "teleported").status_code == 404
    response = client.post(f"/issues/{issue.id}/status/acknowledged", data={"acknowledged-version": "1"})
    assert response.status_code == 400 and fresh(issue).status == "reported"


# --- the inbox ----------------------------------------------------------------------------------


def test_inbox_lists_marks_and_clears(world, client, auth):
    first = issue_in(world, "n0", "第一件")
    second = issue_in(world, "n1", "第二件")
    auth.login(world["n0"].mobile)
    act(client, first, "escalate", "escalate", {"reason": "上报一"})
    auth.logout()
    auth.login(world["n1"].mobile)
    act(client, second, "escalate", "escalate", {"reason": "上报二"})
    auth.logout()
    leader = world["g0"]
    auth.login(leader.mobile)
    mine = list(
        db.session.scalars(
            select(Notification).where(Notification.person_id == leader.id).order_by(Notification.id.desc())
        )
    )
    assert len(mine) >= 2 and all(n.read_at is None for n in mine)
    html = html_of(client, "/inbox/")
    assert html.index(second.reference) < html.index(first.reference)  # newest first
    assert f'href="/issues/{first.id}"' in html
    assert html.count("note unread") == len(mine)
    # Someone else's notification cannot be touched.
    other = Notification(person_id=world["z0"].id, issue_id=first.id, kind="escalated", text="x")
    db.session.add(other)
    db.session.commit()
    token = csrf_from(html)
    assert client.post("/inbox/read", data={"csrf_token": token, "id": str(other.id)}).status_code == 303
    assert client.post("/inbox/read", data={"csrf_token": token, "id": str(mine[0].id)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Notification, other.id).read_at is None
    assert db.session.get(Notification, mine[0].id).read_at is not None
    assert html_of(client, "/inbox/").count("note unread") == len(mine) - 1
    # Opening an issue reads its notifications.
    html_of(client, f"/issues/{first.id}")
    db.session.expire_all()
    unread_first = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.person_id == leader.id, Notification.issue_id == first.id, Notification.read_at.is_(None))
    )
    assert unread_first == 0
    assert client.post("/inbox/read", data={"csrf_token": token}).status_code == 303
    assert "note unread" not in html_of(client, "/inbox/")
    assert "inbox-link" in html_of(client, "/") and 'class="count"' not in html_of(client, "/")
    assert client.post("/inbox/read", data={"csrf_token": token, "id": "99999999999999"}).status_code == 303


def test_home_cards_link_to_issues_and_inbox(world, client, auth):
    auth.login(world["z0"].mobile)
    html = html_of(client, "/")
    assert f"/issues/?node={nodes_at('zone')[0].id}" in html
    assert 'href="/inbox/"' in html
    assert 'href="/file/"' in html


# --- fuzz ---------------------------------------------------------------------------------------

anything = st.text(max_size=60) | st.sampled_from(
    ["", "0", "-1", "1", "2147483648", "9" * 30, "1e5", "WC-2026-000001", "%", "_", "' OR 1=1 --", "open"]
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def fuzz_world(app):
    """One small world per hypothesis run (the database is emptied only after the test)."""
    if app.config.get("_issue_fuzz"):
        return app.config["_issue_fuzz"]
    make_tree(zones=1, groups=1, neighbours=2)
    leader = make_person("branch_member", nodes_at("community")[0])
    filer = make_person("neighbour_leader", nodes_at("neighbour")[0])
    for i in range(3):
        make_issue(filer, title=f"问题{i}")
    app.config["_issue_fuzz"] = (leader.mobile, filer.id)
    return app.config["_issue_fuzz"]


@pytest.fixture
def fuzz_cleanup(app):
    yield
    app.config.pop("_issue_fuzz", None)


@FUZZ
@given(
    status=anything,
    category_=anything,
    level=anything,
    overdue=anything,
    node=anything,
    q=anything,
    before=anything,
    after=anything,
)
def test_list_parameters_never_500(
    app, client, auth, fuzz_cleanup, status, category_, level, overdue, node, q, before, after
):
    mobile, _ = fuzz_world(app)
    if client.get("/").status_code == 302:
        auth.login(mobile)
    query = {"status": status, "category": category_, "level": level, "overdue": overdue, "node": node, "q": q}
    query.update({"before": before, "after": after})
    response = client.get("/issues/", query_string=query)
    assert response.status_code in (200, 400, 403)
    # The exports parse the same filters.
    for fmt in ("csv", "xlsx"):
        assert client.get(f"/exports/issues.{fmt}", query_string=query).status_code in (200, 400, 403)


@FUZZ
@given(
    path=st.sampled_from(
        [f"status/{s}" for s in STATUSES] + ["escalate", "callback", "comment", "status/x", "status/%00"]
    ),
    version=anything,
    note=anything,
    extra=anything,
)
def test_action_forms_never_500(app, client, auth, fuzz_cleanup, path, version, note, extra):
    mobile, _ = fuzz_world(app)
    if client.get("/").status_code == 302:
        auth.login(mobile)
    issue_id = db.session.scalar(select(Issue.id).order_by(Issue.id))
    prefix = path.split("/")[-1]
    token = csrf_from(client.get("/").get_data(as_text=True))
    data = {
        "csrf_token": token,
        f"{prefix}-version": version,
        f"{prefix}-note": note,
        f"{prefix}-reason": note,
        f"{prefix}-duplicate_of": extra,
        f"{prefix}-satisfaction": extra,
        f"{prefix}-kind": extra,
    }
    response = client.post(f"/issues/{issue_id}/{path}", data=data)
    assert response.status_code in (303, 400, 403, 404, 409, 422)


# --- after photos on resolve, and which photos are public ----------------------------------


def test_resolve_with_after_photos(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    response = act(client, issue, "status/resolved", "resolved", {"note": "已修复"})
    assert response.status_code == 303  # no photo is fine
    assert fresh(issue).status == "resolved"


def test_after_photos_are_attached_to_the_resolve_event(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    token_page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(token_page),
        "resolved-version": str(fresh(issue).version),
        "resolved-note": "已更换灯具",
        "resolved-photos": [(io.BytesIO(jpeg()), "after-1.jpg"), (io.BytesIO(jpeg(color=(0, 90, 0))), "after-2.jpg")],
    }
    response = client.post(f"/issues/{issue.id}/status/resolved", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    jobs.dispatch()
    stored = list(db.session.scalars(select(Photo).where(Photo.issue_id == issue.id)))
    resolve_event = [e for e in events(issue) if e.to_status == "resolved"][0]
    assert [p.stage for p in stored] == ["after", "after"]
    assert {p.event_id for p in stored} == {resolve_event.id}
    assert not any(p.public for p in stored)


def test_a_bad_after_photo_changes_nothing_and_keeps_the_note(world, client, auth, app, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path)
    issue = force_status(issue_in(world, "n0"), "in_progress")
    auth.login(world["g0"].mobile)
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    try:
        data = {
            "csrf_token": csrf_from(client.get(f"/issues/{issue.id}").get_data(as_text=True)),
            "resolved-version": str(fresh(issue).version),
            "resolved-note": "已更换灯具",
            "resolved-photos": [(io.BytesIO(b"<html><script>alert(1)</script>"), "photo.jpg")],
        }
        response = client.post(f"/issues/{issue.id}/status/resolved", data=data, content_type="multipart/form-data")
    finally:
        app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "not a picture we can read" in html
    assert fresh(issue).status == "in_progress"
    assert list(tmp_path.iterdir()) == []  # nothing left behind on disk


def add_photo(issue, tmp_path, app):
    from werkzeug.datastructures import FileStorage

    from governance.services.platform import photos

    app.config["UPLOAD_DIR"] = str(tmp_path)
    stored = photos.save_upload(FileStorage(io.BytesIO(jpeg()), filename="x.jpg"))
    photo = photos.attach(issue, stored, "before", None)
    db.session.commit()
    return photo


def test_branch_marks_a_photo_public_and_back(world, client, auth, app, tmp_path):
    issue = issue_in(world, "n0")
    photo = add_photo(issue, tmp_path, app)
    auth.login(world["branch"].mobile)
    token = csrf_from(client.get(f"/issues/{issue.id}").get_data(as_text=True))
    url = f"/issues/{issue.id}/photos/{photo.id}/public"
    assert client.post(url, data={"csrf_token": token, "public": "1"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is True
    assert any(e.kind == "photo" and not e.public for e in events(issue))
    assert client.post(url, data={"csrf_token": token, "public": "0"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is False


def test_leaders_below_the_branch_cannot_publish_photos(world, client, auth, app, tmp_path):
    issue = issue_in(world, "n0")
    photo = add_photo(issue, tmp_path, app)
    for who in ("n0", "g0", "z0"):
        auth.login(world[who].mobile)
        page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
        assert "/public" not in page
        response = client.post(
            f"/issues/{issue.id}/photos/{photo.id}/public", data={"csrf_token": csrf_from(page), "public": "1"}
        )
        assert response.status_code == 403, who
        auth.logout()
    db.session.expire_all()
    assert db.session.get(Photo, photo.id).public is False


@pytest.mark.parametrize("reason", ["", "x", "99999999999", "inactive"], ids=["none", "junk", "unknown", "inactive"])
def test_a_reject_without_a_reason_is_refused_beside_the_field_and_keeps_what_was_typed(world, client, auth, reason):
    """The reject form leaned on the browser (a `required` select), unlike every other form. The server now checks
    the reason like the others' fields: a POST without one (or with one the list does not offer) answers with the
    message beside the reason, the form open with the note as typed, and rejects nothing."""
    from governance.models import RejectReason

    issue = issue_in(world, "n0", "要不予受理的问题")
    if reason == "inactive":
        retired = db.session.get(RejectReason, first_reason_id())
        retired.active = False
        db.session.commit()
        reason = str(retired.id)
    auth.login(world["branch"].mobile)
    before = (fresh(issue).status, fresh(issue).version, len(events(issue)))
    page = html_of(client, f"/issues/{issue.id}")
    assert find(page, "#act-rejected select[required]") is None, "the form must not lean on the browser"
    response = act(client, issue, "status/rejected", "rejected", {"reason": reason, "note": "属于私人纠纷，已告知居民"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    after = fresh(issue)
    assert (after.status, after.version, len(events(issue))) == before and after.reject_reason_id is None
    form = find(html, "details#act-rejected[open] form")
    assert form is not None, "the refused form is shown open"
    select_box = form.select_one("select[name=rejected-reason]")
    assert select_box.get("aria-invalid") == "true"
    message = form.select_one(f"#{select_box.get('aria-describedby')}")
    assert message is not None and visible(message) == "请从列表中选择理由。"
    assert message.find_previous_sibling("select") is select_box  # beside the field, not at the foot of the form
    assert visible(form.select_one("textarea[name=rejected-note]")) == "属于私人纠纷，已告知居民"
    # Whoever may not reject is refused as before (403), whatever they send: the form is checked only for those
    # it is offered to.
    auth.logout()
    auth.login(world["g0"].mobile)
    assert act(client, issue, "status/rejected", "rejected", {"reason": reason}).status_code == 403
    assert fresh(issue).status == before[0]
