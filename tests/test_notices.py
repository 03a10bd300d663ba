"""Notices down the tree (上传下达): who receives them, read receipts and replies, reminders, the per-place
rates against a plain recomputation, and who may send, read and see results."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from governance.extensions import db
from governance.models import (
    NOTICE_ROLES,
    AuditEntry,
    Job,
    Node,
    Notice,
    NoticeRecipient,
    Notification,
    NotificationChannel,
    Person,
    RoleAssignment,
    utcnow,
)
from governance.policy import ROLE_RANK
from governance.services.outreach import notices
from governance.worker import periodic_once

from .builders import make_person, make_tree, nodes_at
from .conftest import Statements, export_entries
from .pages import find, flash_messages, form_errors, home_todos, table_rows, text_of

pytestmark = pytest.mark.usefixtures("english")


def build_leaders():
    """Two streets × one community × two zones × two groups × two 邻, a leader on every 片/组/邻, a branch
    member and a street admin on the first community and street, the district admin; one 片长 who is also a
    邻长 in their own 片, one disabled 邻长 and one un-activated 组长."""
    make_tree(streets=2, communities=1, zones=2, groups=2, neighbours=2)
    people = {}
    for level, role in (("zone", "zone_leader"), ("group", "group_leader"), ("neighbour", "neighbour_leader")):
        for node in nodes_at(level):
            people[(role, node.id)] = make_person(
                role, node, activated=not (role == "group_leader" and node.id == nodes_at("group")[1].id)
            )
    zone = nodes_at("zone")[0]
    double = people[("zone_leader", zone.id)]
    last_neighbour_in_zone = [n for n in nodes_at("neighbour") if n.zone_id == zone.id][-1]
    db.session.add(RoleAssignment(person=double, role="neighbour_leader", node_id=last_neighbour_in_zone.id))
    people[("neighbour_leader", nodes_at("neighbour")[1].id)].enabled = False
    branch = make_person("branch_member", nodes_at("community")[0], name="支部")
    street = make_person("street_admin", nodes_at("street")[0], name="街镇")
    district = make_person("district_admin", nodes_at("district")[0], name="区管")
    db.session.commit()
    return {"branch": branch, "street": street, "district": district, "double": double}


def expected_recipients(node: Node, roles, sender: Person) -> dict[int, tuple[str, int]]:
    """A plain second computation: person id → (role, node id) of everyone the notice should reach, walking
    each role's node up its parents (not the ancestor columns the fan-out uses)."""
    parents = {n.id: n.parent_id for n in db.session.scalars(select(Node))}

    def under(node_id):
        while node_id is not None:
            if node_id == node.id:
                return True
            node_id = parents[node_id]
        return False

    found: dict[int, tuple[str, int]] = {}
    for assignment in db.session.scalars(select(RoleAssignment)):
        person = db.session.get(Person, assignment.person_id)
        if assignment.role not in roles or not person.enabled or person.id == sender.id:
            continue
        if not under(assignment.node_id):
            continue
        held = found.get(person.id)
        if held is None or ROLE_RANK[assignment.role] > ROLE_RANK[held[0]]:
            found[person.id] = (assignment.role, assignment.node_id)
    return found


def send(sender, node, **fields) -> Notice:
    draft = notices.Draft(
        title=fields.pop("title", "防汛通知"), body=fields.pop("body", "请各位立即排查本邻险情。"), **fields
    )
    notice, _ = notices.send(sender, node, draft)
    db.session.commit()
    return notice


def run_jobs(kind: str) -> None:
    """Run the waiting jobs of a kind as a worker would (in-process: no Redis in these tests)."""
    from governance.services.platform import jobs

    for job_id in db.session.scalars(select(Job.id).where(Job.kind == kind, Job.status != "done")).all():
        jobs.execute(job_id)
    db.session.expire_all()


def recipients_of(notice) -> dict[int, tuple[str, int]]:
    rows = db.session.execute(
        select(NoticeRecipient.person_id, NoticeRecipient.role, NoticeRecipient.node_id).where(
            NoticeRecipient.notice_id == notice.id
        )
    )
    return {person_id: (role, node_id) for person_id, role, node_id in rows}


@pytest.mark.parametrize("where", ["district", "street", "community", "zone", "group"])
def test_a_notice_reaches_exactly_the_leaders_under_its_place(app, where):
    people = build_leaders()
    node = nodes_at(where)[0]
    sender = {"district": people["district"], "street": people["street"], "community": people["branch"]}.get(where)
    if sender is None:
        role = {"zone": "zone_leader", "group": "group_leader"}[where]
        sender = db.session.scalar(
            select(Person).join(RoleAssignment).where(RoleAssignment.role == role, RoleAssignment.node_id == node.id)
        )
    notice = send(sender, node)
    run_jobs("notice_fanout")
    wanted = expected_recipients(node, NOTICE_ROLES, sender)
    assert wanted  # the world has someone there
    assert recipients_of(notice) == wanted
    assert db.session.get(Notice, notice.id).recipient_count == len(wanted)
    # One inbox message each, pointing at the notice.
    inbox = db.session.scalars(select(Notification.person_id).where(Notification.notice_id == notice.id)).all()
    assert sorted(inbox) == sorted(wanted)


def test_only_the_chosen_roles_and_a_retry_adds_nobody(app):
    people = build_leaders()
    node = nodes_at("district")[0]
    notice = send(people["district"], node, roles=("zone_leader", "group_leader"))
    run_jobs("notice_fanout")
    wanted = expected_recipients(node, ("zone_leader", "group_leader"), people["district"])
    assert recipients_of(notice) == wanted
    assert {role for role, _ in wanted.values()} == {"zone_leader", "group_leader"}
    before = db.session.scalar(select(func.count()).select_from(Notification))
    notices.fan_out({"notice_id": notice.id})  # a retried job
    db.session.commit()
    assert recipients_of(notice) == wanted
    assert db.session.scalar(select(func.count()).select_from(Notification)) == before


def test_the_fan_out_is_a_few_statements_whatever_the_number_of_people(app):
    people = build_leaders()
    notice = send(people["district"], nodes_at("district")[0])
    with Statements() as sent:
        notices.fan_out({"notice_id": notice.id})
        db.session.flush()
    inserts = [s for s in sent.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == len(NOTICE_ROLES) + 1, str(sent)  # one per role, one for the inbox
    assert sent.count <= 10, str(sent)


def test_sending_is_audited_and_posts_to_the_group_robots_of_the_area(app, monkeypatch):
    people = build_leaders()
    inside = NotificationChannel(node_id=nodes_at("zone")[0].id, url="https://example.invalid/hook")
    outside = NotificationChannel(node_id=nodes_at("zone")[-1].id, url="https://example.invalid/hook2")
    db.session.add_all([inside, outside])
    db.session.commit()
    notice = send(people["branch"], nodes_at("community")[0], title="停水通知")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "notice_sent"))
    assert entry.actor_id == people["branch"].id and "停水通知" in entry.detail
    from governance.services.platform import jobs

    sent_to = []
    monkeypatch.setitem(jobs.HANDLERS, "webhook", sent_to.append)
    run_jobs("notice_fanout")
    run_jobs("webhook")
    assert [p["channel_id"] for p in sent_to] == [inside.id]
    assert "停水通知" in sent_to[0]["body"]["text"]["content"] and len(sent_to) == 1
    assert notice.id


def test_a_recipient_reads_and_answers_from_the_inbox(app, client, auth):
    people = build_leaders()
    group = nodes_at("group")[0]
    leader = db.session.scalar(
        select(Person)
        .join(RoleAssignment)
        .where(RoleAssignment.role == "group_leader", RoleAssignment.node_id == group.id)
    )
    notice = send(people["branch"], nodes_at("community")[0], reply_kind="confirm", reply_label="本组已排查，无险情")
    run_jobs("notice_fanout")
    auth.login(leader.mobile)
    inbox = client.get("/inbox/").get_data(as_text=True)
    assert "[Notice] 防汛通知" in inbox and f"/notices/{notice.id}" in inbox
    home = client.get("/").get_data(as_text=True)
    assert any(
        t["label"].startswith("Notices to read or answer") and t["count"] == 1
        for todos in home_todos(home).values()
        for t in todos
    )
    page = client.get(f"/notices/{notice.id}")
    assert page.status_code == 200 and "请各位立即排查本邻险情。" in page.get_data(as_text=True)
    mine = db.session.scalar(select(NoticeRecipient).where(NoticeRecipient.person_id == leader.id))
    first_read = mine.read_at
    assert first_read is not None and mine.replied_at is None
    assert db.session.scalar(
        select(Notification.read_at).where(Notification.person_id == leader.id, Notification.notice_id == notice.id)
    )
    client.get(f"/notices/{notice.id}")
    db.session.expire_all()
    assert db.session.get(NoticeRecipient, mine.id).read_at == first_read  # the first opening is kept
    done = auth.post(f"/notices/{notice.id}/reply", form_page=f"/notices/{notice.id}", follow_redirects=True)
    assert "Your reply was sent." in flash_messages(done.get_data(as_text=True))
    mine = db.session.get(NoticeRecipient, mine.id)
    assert mine.reply == "本组已排查，无险情" and mine.replied_at is not None
    home = client.get("/").get_data(as_text=True)
    counts = [t["count"] for todos in home_todos(home).values() for t in todos if t["label"].startswith("Notices to")]
    assert counts == [0]


def test_a_written_reply_is_checked_and_kept_as_typed(app, client, auth):
    people = build_leaders()
    neighbour = nodes_at("neighbour")[0]
    leader = db.session.scalar(select(Person).join(RoleAssignment).where(RoleAssignment.node_id == neighbour.id))
    notice = send(people["branch"], nodes_at("community")[0], reply_kind="text")
    run_jobs("notice_fanout")
    auth.login(leader.mobile)
    empty = auth.post(f"/notices/{notice.id}/reply", {"reply": "  "}, form_page=f"/notices/{notice.id}")
    assert empty.status_code == 422 and form_errors(empty.get_data(as_text=True)) == ["Write your reply."]
    long = auth.post(f"/notices/{notice.id}/reply", {"reply": "险" * 201}, form_page=f"/notices/{notice.id}")
    assert long.status_code == 422 and "at most 200" in form_errors(long.get_data(as_text=True))[0]
    assert 'value="' + "险" * 201 in long.get_data(as_text=True)  # what was typed is kept
    ok = auth.post(f"/notices/{notice.id}/reply", {"reply": "３栋漏水，已报物业"}, form_page=f"/notices/{notice.id}")
    assert ok.status_code == 303
    assert (
        db.session.scalar(select(NoticeRecipient.reply).where(NoticeRecipient.person_id == leader.id))
        == "３栋漏水，已报物业"
    )


def test_reminders_go_once_to_those_still_waiting_in_one_statement(app):
    people = build_leaders()
    node = nodes_at("community")[0]
    notice = send(people["branch"], node, reply_kind="confirm", remind_after_hours=2)
    other = send(people["branch"], node, title="第二份", remind_after_hours=6)
    run_jobs("notice_fanout")
    rows = db.session.scalars(
        select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id).order_by(NoticeRecipient.id)
    ).all()
    read_only, answered = rows[0], rows[1]
    read_only.read_at = utcnow()
    answered.read_at = answered.replied_at = utcnow()
    answered.reply = "收到"
    db.session.commit()
    sent_at = db.session.get(Notice, notice.id).fanned_out_at
    assert notices.remind_due(sent_at + timedelta(hours=1, minutes=59)) == 0
    assert notices.remind_due(sent_at + timedelta(hours=6, minutes=1)) == 2
    db.session.commit()
    payloads = [json.loads(p) for p in db.session.scalars(select(Job.payload).where(Job.kind == "notice_reminder"))]
    with Statements() as sent:
        notices.remind(payloads)
    assert sum(s.lstrip().upper().startswith("INSERT") for s in sent.statements) == 1
    db.session.commit()
    reminded = set(
        db.session.scalars(
            select(Notification.person_id).where(
                Notification.kind == "notice_reminder", Notification.notice_id == notice.id
            )
        )
    )
    waiting = {r.person_id for r in rows} - {answered.person_id}  # read but not answered still waits
    assert reminded == waiting
    assert notices.remind_due(sent_at + timedelta(days=3)) == 0  # once
    notices.remind(payloads)  # a retried batch adds nothing
    db.session.commit()
    assert (
        db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "notice_reminder"))
        == len(waiting) + other.recipient_count
    )


def test_the_periodic_round_sends_due_reminders(app):
    people = build_leaders()
    notice = send(people["branch"], nodes_at("community")[0], remind_after_hours=2)
    run_jobs("notice_fanout")
    db.session.get(Notice, notice.id).fanned_out_at = utcnow() - timedelta(hours=3)
    db.session.commit()
    assert periodic_once(app)["notice_reminders"] == 1
    db.session.expire_all()
    count = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == "notice_reminder")
    )
    assert count == db.session.get(Notice, notice.id).recipient_count


# --- the figures against a plain recomputation ----------------------------------------------------------


class PlainFigures:
    """Recipients, read and replied at and under any node, from each recipient's chain of places found by
    walking parents (a second implementation: no ancestor columns, no SQL grouping)."""

    def __init__(self, notice: Notice):
        parents = dict(db.session.execute(select(Node.id, Node.parent_id)).all())
        self.rows = []
        for row in db.session.scalars(select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id)):
            chain, node_id = set(), row.node_id
            while node_id is not None:
                chain.add(node_id)
                node_id = parents[node_id]
            self.rows.append((chain, row.read_at is not None, row.replied_at is not None))

    def at(self, node: Node) -> tuple[int, int, int]:
        inside = [(read, replied) for chain, read, replied in self.rows if node.id in chain]
        return len(inside), sum(read for read, _ in inside), sum(replied for _, replied in inside)


def plain_figures(notice: Notice, node: Node) -> dict:
    recipients, read, replied = PlainFigures(notice).at(node)
    return {"recipients": recipients, "read": read, "replied": replied}


def check_breakdown(notice: Notice, node: Node, deep: bool = True, plain: PlainFigures | None = None) -> None:
    """The figures at `node` and each child's against PlainFigures, with the invariants; `deep` walks every
    child with recipients the same way."""
    plain = plain or PlainFigures(notice)
    result = notices.breakdown(notice, node)
    assert (result.total.recipients, result.total.read, result.total.replied) == plain.at(node)
    for child, figures in result.children:
        assert (figures.recipients, figures.read, figures.replied) == plain.at(child)
    summed = result.own.recipients + sum(f.recipients for _, f in result.children)
    assert summed == result.total.recipients  # a node is its own leaders plus its children
    for figures in [result.total, result.own, *(f for _, f in result.children)]:
        for value in (figures.read_rate, figures.reply_rate):
            assert value is None or 0 <= value <= 1
        assert (figures.read_rate is None) == (figures.recipients == 0)
        if figures.recipients:
            assert figures.read_rate == figures.read / figures.recipients
            assert figures.replied <= figures.recipients
    for child, figures in result.children:
        if deep and figures.recipients:
            check_breakdown(notice, child, plain=plain)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.lists(st.sampled_from(["unread", "read", "replied"]), min_size=30, max_size=30))
def test_per_place_rates_equal_a_plain_recomputation(app, states):
    if not db.session.scalar(select(func.count()).select_from(Notice)):
        people = build_leaders()
        send(people["district"], nodes_at("district")[0], reply_kind="confirm")
        run_jobs("notice_fanout")
    notice = db.session.scalar(select(Notice))
    rows = db.session.scalars(
        select(NoticeRecipient).where(NoticeRecipient.notice_id == notice.id).order_by(NoticeRecipient.id)
    ).all()
    now = utcnow()
    for row, state in zip(rows, states, strict=False):
        row.read_at = now if state != "unread" else None
        row.replied_at = now if state == "replied" else None
    db.session.commit()
    check_breakdown(notice, notice.node)


def test_a_notice_without_recipients_has_no_rate_rather_than_zero(app):
    people = build_leaders()
    empty_zone = nodes_at("zone")[-1]
    for assignment in db.session.scalars(select(RoleAssignment).join(Node).where(Node.zone_id == empty_zone.id)):
        db.session.delete(assignment)
    db.session.commit()
    notice = send(people["district"], empty_zone)
    run_jobs("notice_fanout")
    result = notices.breakdown(db.session.get(Notice, notice.id), empty_zone)
    assert result.total.recipients == 0 and result.total.read_rate is None and result.total.reply_rate is None


# --- pages -----------------------------------------------------------------------------------------


def test_the_sender_sends_from_the_form_and_drills_down_to_who_to_call(app, client, auth):
    people = build_leaders()
    auth.login(people["street"].mobile)
    street = nodes_at("street")[0]
    form = client.get(f"/notices/new?node={street.id}").get_data(as_text=True)
    assert f'<option selected value="{street.id}"' in form or f'value="{street.id}" selected' in form
    done = auth.post(
        "/notices/new",
        {
            "node_id": street.id,
            "roles": list(NOTICE_ROLES),
            "title": "防汛紧急通知",
            "body": "今晚暴雨，各邻排查。",
            "urgency": "urgent",
            "reply_kind": "confirm",
            "reply_label": "我已到岗",
            "remind_after_hours": "2",
        },
        form_page="/notices/new",
        follow_redirects=True,
    )
    assert "Notice sent to the leaders of" in flash_messages(done.get_data(as_text=True))[0]
    notice = db.session.scalar(select(Notice))
    assert (notice.urgency, notice.reply_label, notice.remind_after_hours) == ("urgent", "我已到岗", 2)
    # One 组长 reads and confirms.
    leader = db.session.scalar(
        select(Person)
        .join(RoleAssignment)
        .where(RoleAssignment.role == "group_leader", RoleAssignment.node_id == nodes_at("group")[0].id)
    )
    notices.reply(leader, notice)
    db.session.commit()
    page = client.get(f"/notices/{notice.id}/results").get_data(as_text=True)
    rows = table_rows(page, "table.notice-breakdown")
    community = nodes_at("community")[0]
    plain = plain_figures(notice, community)
    assert rows[1][:3] == [community.name, str(plain["recipients"]), "1"]
    assert text_of(page, '[data-figure="read_rate"] b') == f"{100 / plain['recipients']:.1f}%"
    assert leader.mobile not in page  # the list shows who has not read it
    zone = nodes_at("zone")[0]
    drilled = client.get(f"/notices/{notice.id}/results?node={zone.id}&show=all").get_data(as_text=True)
    assert leader.mobile in drilled
    csv = client.get(f"/notices/{notice.id}/results.csv?node={zone.id}&show=unread")
    assert csv.status_code == 200 and leader.mobile not in csv.get_data(as_text=True)
    assert csv.get_data(as_text=True).count("\n") == plain_figures(notice, zone)["recipients"]  # heading + unread
    assert client.get(f"/notices/{notice.id}/results.xlsx").status_code == 200
    # Both files are in the audit log: names and mobiles went out (the 片 chosen, then the whole area).
    csv_entry, xlsx_entry = export_entries()
    assert csv_entry.detail.startswith(f"通知回执名单（{notice.title}）：") and ".csv（" in csv_entry.detail
    area = db.session.get(Node, notice.node_id)
    assert (csv_entry.community_id, xlsx_entry.community_id) == (zone.community_id, area.community_id)
    assert (csv_entry.street_id, xlsx_entry.street_id) == (zone.street_id, area.street_id)
    assert csv_entry.actor_id == xlsx_entry.actor_id == notice.sent_by_id
    # A place outside the notice's area is not found there.
    assert client.get(f"/notices/{notice.id}/results?node={nodes_at('zone')[-1].id}").status_code == 404


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"title": ""}, "title", "Give the notice a title."),
        ({"title": "通" * 81}, "title", "A title has at most 80 characters."),
        ({"body": ""}, "body", "Write what the notice says."),
        ({"roles": []}, "roles", "Choose who receives it."),
        ({"roles": ["district_admin"]}, "roles", "Choose who receives it from the list."),
        ({"urgency": "panic"}, "urgency", "Choose how urgent it is from the list."),
        ({"reply_kind": "essay"}, "reply_kind", "Choose what reply it asks for from the list."),
        ({"remind_after_hours": "7"}, "remind_after_hours", "Choose when to remind from the list."),
        ({"remind_after_hours": "x"}, "remind_after_hours", "Choose when to remind from the list."),
        ({"node_id": "999999"}, "node_id", "Choose where it goes from the list."),
    ],
)
def test_a_bad_notice_is_refused_beside_its_field_and_keeps_what_was_typed(app, client, auth, fields, field, message):
    people = build_leaders()
    auth.login(people["branch"].mobile)
    data = {
        "node_id": nodes_at("community")[0].id,
        "roles": ["zone_leader"],
        "title": "停电通知",
        "body": "明日停电",
        "urgency": "normal",
        "reply_kind": "none",
        "remind_after_hours": "0",
        **fields,
    }
    answer = auth.post("/notices/new", data, form_page="/notices/new")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert form_errors(page) == [message]
    assert "明日停电" in page or fields.get("body") == ""
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 0


def test_who_may_send_read_and_see_results(app, client, auth):
    people = build_leaders()
    community, other_street = nodes_at("community")[0], nodes_at("street")[1]
    notice = send(people["branch"], community, reply_kind="confirm")
    run_jobs("notice_fanout")
    neighbour_leader = db.session.scalar(
        select(Person)
        .join(RoleAssignment)
        .where(RoleAssignment.role == "neighbour_leader", RoleAssignment.node_id == nodes_at("neighbour")[0].id)
    )
    outsider = db.session.scalar(
        select(Person)
        .join(RoleAssignment)
        .where(RoleAssignment.role == "zone_leader", RoleAssignment.node_id == nodes_at("zone")[-1].id)
    )
    zone_leader = people["double"]
    cases = [
        # (person, /new, detail, reply, results)
        (people["district"], 200, 200, 403, 200),
        (people["street"], 200, 200, 403, 200),
        (people["branch"], 200, 200, 403, 200),
        (zone_leader, 200, 200, 303, 403),  # a recipient; the 片长 may not see the whole community's results
        (neighbour_leader, 403, 200, 303, 403),
        (outsider, 200, 403, 403, 403),  # in another street: not sent to them
    ]
    for person, new, detail, reply, results in cases:
        auth.login(person.mobile)
        assert client.get("/notices/new").status_code == new, person.name
        assert client.get(f"/notices/{notice.id}").status_code == detail, person.name
        answer = auth.post(f"/notices/{notice.id}/reply", {}, form_page="/")
        assert answer.status_code == reply, person.name
        assert client.get(f"/notices/{notice.id}/results").status_code == results, person.name
        assert client.get(f"/notices/{notice.id}/results.csv").status_code == results, person.name
        auth.logout()
    # Sending to a place outside one's scope: that place is not on the list.
    auth.login(people["branch"].mobile)
    page = client.get("/notices/new").get_data(as_text=True)
    assert f'value="{other_street.id}"' not in page
    refused = auth.post(
        "/notices/new",
        {
            "node_id": other_street.id,
            "roles": ["zone_leader"],
            "title": "t",
            "body": "b",
            "urgency": "normal",
            "reply_kind": "none",
            "remind_after_hours": "0",
        },
        form_page="/notices/new",
    )
    assert refused.status_code == 422
    # The service refuses it too, whatever the form did.
    with pytest.raises(notices.NoticeError):
        notices.send(people["branch"], other_street, notices.Draft(title="t", body="b"))


def notice_form(node, **fields) -> dict:
    return {"node_id": node.id, "roles": list(NOTICE_ROLES), "title": "停电通知", "body": "明日停电",
            "urgency": "normal", "reply_kind": "none", "remind_after_hours": "0", **fields}  # fmt: skip


def test_a_double_tap_sends_the_notice_once(app, client, auth, monkeypatch):
    people = build_leaders()
    auth.login(people["branch"].mobile)
    form = client.get("/notices/new").get_data(as_text=True)
    key = find(form, "input[name=idempotency_key]")["value"]
    assert len(key) == 32
    first = auth.post(
        "/notices/new", notice_form(nodes_at("community")[0], idempotency_key=key), form_page="/notices/new"
    )
    again = auth.post(
        "/notices/new", notice_form(nodes_at("community")[0], idempotency_key=key), form_page="/notices/new",
        follow_redirects=True,
    )  # fmt: skip
    assert first.status_code == 303 and again.status_code == 200
    assert "This notice was already sent." in flash_messages(again.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1
    assert db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == "notice_fanout")) == 1
    # Two sends at once with the same key: the one that looked first and found nothing loses the race at the
    # unique key and answers with the other's notice.
    notice = db.session.scalar(select(Notice))
    looked = []

    def misses_once(person, wanted):
        looked.append(wanted)
        return None if len(looked) == 1 else original(person, wanted)

    original = notices.find_sent
    monkeypatch.setattr(notices, "find_sent", misses_once)
    again, created = notices.send(people["branch"], nodes_at("community")[0], notices.Draft("x", "y"), key=key)
    assert (again.id, created) == (notice.id, False) and len(looked) == 2
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1


def test_a_photo_goes_with_the_notice_to_its_readers_only(app, client, auth, uploads):
    from tests.test_filing import gps_jpeg

    people = build_leaders()
    auth.login(people["branch"].mobile)
    community = nodes_at("community")[0]
    upload = {"photo": (BytesIO(gps_jpeg()), "map.jpg")}
    sent = auth.post("/notices/new", {**notice_form(community), **upload}, form_page="/notices/new",
                     content_type="multipart/form-data")  # fmt: skip
    assert sent.status_code == 303
    notice = db.session.scalar(select(Notice))
    assert notice.photo_name
    run_jobs("notice_fanout")
    reader = db.session.scalar(select(Person).join(NoticeRecipient, NoticeRecipient.person_id == Person.id))
    outsider = db.session.scalar(
        select(Person).join(RoleAssignment).where(RoleAssignment.node_id == nodes_at("zone")[-1].id)
    )
    auth.logout()
    auth.login(reader.mobile)
    page = client.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert f"/notices/{notice.id}/photo" in page
    image = client.get(f"/notices/{notice.id}/photo")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert b"PhoneCam" not in image.data  # re-encoded: the camera's EXIF (and its GPS) is gone
    auth.logout()
    auth.login(outsider.mobile)
    assert client.get(f"/notices/{notice.id}/photo").status_code == 403


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_sent(app, client, auth, uploads):
    people = build_leaders()
    auth.login(people["branch"].mobile)
    upload = {"photo": (BytesIO(b"%PDF-1.4 not a photo"), "leaflet.pdf")}
    answer = auth.post("/notices/new", {**notice_form(nodes_at("community")[0]), **upload}, form_page="/notices/new",
                       content_type="multipart/form-data")  # fmt: skip
    assert answer.status_code >= 400
    page = answer.get_data(as_text=True)
    assert len(form_errors(page)) == 1 and "明日停电" in page
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 0
