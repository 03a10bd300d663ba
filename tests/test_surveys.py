"""Door-to-door surveys (走访问卷): writing a campaign and its questionnaire, freezing and versions, recording
visits (also twice from the outbox), problems found becoming issues, the progress and answers of any area
against a plain recomputation, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from governance import policy
from governance.extensions import db
from governance.formatting import beijing_today
from governance.models import (
    AuditEntry,
    Household,
    Issue,
    Node,
    Person,
    RoleAssignment,
    SurveyAnswer,
    SurveyCampaign,
    SurveyVisit,
)
from governance.services.outreach import surveys

from .builders import category, make_compound, make_person, make_tree, nodes_at
from .conftest import export_entries
from .pages import find, find_all, flash_messages, form_errors, table_rows, text_of

pytestmark = pytest.mark.usefixtures("english")
ROOMS = 3


def build_survey_world() -> dict:
    """One community: a 片 with two 组 of two 邻, each 邻 a unit of its own building with ROOMS households;
    a leader on every node, the branch; a second community (with its branch) outside."""
    make_tree(streets=1, communities=2, zones=1, groups=2, neighbours=2)
    community, other = nodes_at("community")
    neighbours = [n for n in nodes_at("neighbour") if n.community_id == community.id]
    compound = make_compound(community, buildings=tuple(f"{i + 1}栋" for i in range(len(neighbours))))
    for index, neighbour in enumerate(neighbours):
        for room in range(ROOMS):
            db.session.add(
                Household(
                    building_id=compound.buildings[index].id,
                    unit="1",
                    room=f"{room + 1}01",
                    neighbour_id=neighbour.id,
                )
            )
    people = {"branch": make_person("branch_member", community, name="支部"),
              "other_branch": make_person("branch_member", other, name="外社区")}  # fmt: skip
    for level, role in (("zone", "zone_leader"), ("group", "group_leader"), ("neighbour", "neighbour_leader")):
        for node in nodes_at(level):
            people[(role, node.id)] = make_person(role, node)
    db.session.commit()
    return {"community": community, "other": other, "neighbours": neighbours, "people": people}


def holder(world, role: str, node: Node) -> Person:
    return world["people"][(role, node.id)]


def open_campaign(world, kinds=("single", "multiple", "scale", "text", "problem")) -> SurveyCampaign:
    branch = world["people"]["branch"]
    campaign = surveys.create(branch, world["community"], "品质提升问卷", "入户了解意见")
    texts = {"single": ("态度", "支持\n不支持\n无所谓"), "multiple": ("优先", "道路\n路灯\n监控"),
             "scale": ("满意度", ""), "text": ("建议", ""), "problem": ("发现的问题", "")}  # fmt: skip
    for kind in kinds:
        surveys.add_question(branch, campaign, kind, *texts[kind])
    surveys.open_for_visits(branch, campaign)
    db.session.commit()
    return campaign


def households_of(neighbour: Node) -> list[Household]:
    return list(
        db.session.scalars(select(Household).where(Household.neighbour_id == neighbour.id).order_by(Household.id))
    )


def question(campaign, kind):
    return next(q for q in campaign.questions if q.kind == kind)


# --- the campaign -------------------------------------------------------------------------------------


def test_the_branch_writes_a_questionnaire_and_opens_it(app, client, auth):
    world = build_survey_world()
    auth.login(world["people"]["branch"].mobile)
    form = client.get("/surveys/new").get_data(as_text=True)
    offered = {option["value"] for option in find_all(form, "select#node_id option")}
    assert str(world["community"].id) in offered and str(world["other"].id) not in offered
    fields = {"node_id": world["community"].id, "title": "品质提升问卷", "purpose": "", "starts_on": "2026-12-01"}
    made = auth.post("/surveys/new", {**fields, "ends_on": "2026-11-01"}, form_page="/surveys/new")
    assert made.status_code == 422 and form_errors(made.get_data(as_text=True)) == [
        "The last day cannot come before the first."
    ]
    made = auth.post("/surveys/new", {**fields, "purpose": "了解意见", "ends_on": ""}, form_page="/surveys/new")
    assert made.status_code == 303
    campaign = db.session.scalar(select(SurveyCampaign))
    page = f"/surveys/{campaign.id}"
    refused = auth.post(f"{page}/open", form_page=page, follow_redirects=True)
    assert "Add at least one question before opening the survey." in flash_messages(refused.get_data(as_text=True))
    few = auth.post(f"{page}/questions", {"kind": "single", "text": "态度", "options": "支持"}, form_page=page)
    assert few.status_code == 422 and form_errors(few.get_data(as_text=True)) == [
        "Give at least two choices, one per line."
    ]
    for kind, text, options in (("single", "态度", "支持\n不支持"), ("scale", "满意度", ""), ("problem", "问题", "")):
        added = auth.post(f"{page}/questions", {"kind": kind, "text": text, "options": options}, form_page=page)
        assert added.status_code == 303 and added.location.endswith(page)  # back to the survey, not elsewhere
    db.session.expire_all()
    problem = question(db.session.get(SurveyCampaign, campaign.id), "problem")
    assert auth.post(f"{page}/questions/{problem.id}/move", {"step": "up"}, form_page=page).status_code == 303
    db.session.expire_all()
    assert [q.text for q in db.session.get(SurveyCampaign, campaign.id).questions] == ["态度", "问题", "满意度"]
    assert auth.post(f"{page}/open", form_page=page).status_code == 303
    db.session.expire_all()
    assert db.session.get(SurveyCampaign, campaign.id).status == "open"
    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("survey_%"))))
    assert actions == {"survey_created", "survey_edited", "survey_opened"}
    edits = db.session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "survey_edited")).all()
    assert len(edits) == 4 and any("“问题”移至第2题" in detail for detail in edits)


def test_a_questionnaire_freezes_at_the_first_visit_and_changes_in_a_new_version(app):
    world = build_survey_world()
    branch = world["people"]["branch"]
    campaign = surveys.create(branch, world["community"], "问卷")
    surveys.add_question(branch, campaign, "single", "态度", "支持\n不支持")
    surveys.add_question(branch, campaign, "text", "建议")
    surveys.open_for_visits(branch, campaign)
    with pytest.raises(surveys.SurveyError) as refused:
        surveys.add_question(branch, campaign, "text", "再加一题")  # open: no longer a draft
    assert refused.value.code == "frozen"
    neighbour = world["neighbours"][0]
    surveys.record_visit(
        holder(world, "neighbour_leader", neighbour), campaign, households_of(neighbour)[0], "declined"
    )
    db.session.commit()
    assert surveys.is_frozen(campaign)
    second = surveys.new_version(branch, campaign)
    assert (second.version, second.previous_id, second.status) == (2, campaign.id, "draft")
    assert [q.text for q in second.questions] == ["态度", "建议"]
    surveys.add_question(branch, second, "scale", "满意度")
    surveys.open_for_visits(branch, second)
    db.session.commit()
    assert (campaign.status, second.status) == ("closed", "open")
    with pytest.raises(surveys.SurveyError) as refused:
        surveys.record_visit(
            holder(world, "neighbour_leader", neighbour), campaign, households_of(neighbour)[1], "declined"
        )
    assert refused.value.code == "not_open"


# --- visits ------------------------------------------------------------------------------------------


def visit_form(campaign, **answers) -> dict:
    data = {"outcome": "answered", "idempotency_key": "k" * 32}
    for kind, value in answers.items():
        data[f"q{question(campaign, kind).id}"] = value
    return data


def test_a_leader_records_a_visit_and_the_problem_found_becomes_an_issue_once(app, client, auth):
    world = build_survey_world()
    campaign = open_campaign(world)
    neighbour = world["neighbours"][0]
    leader = holder(world, "neighbour_leader", neighbour)
    household = households_of(neighbour)[0]
    auth.login(leader.mobile)
    page = f"/surveys/{campaign.id}/visit/{neighbour.id}"
    listed = client.get(page)
    assert listed.status_code == 200 and len(find_all(listed.get_data(as_text=True), "li.household")) == ROOMS
    data = visit_form(
        campaign, single="1", multiple=["0", "2"], scale="4", text="希望尽快开工", problem="3楼楼道灯不亮"
    )
    data[f"q{question(campaign, 'problem').id}_category"] = str(category("lighting").id)
    done = auth.post(f"/surveys/{campaign.id}/households/{household.id}", data, form_page=page)
    assert done.status_code == 303
    again = auth.post(f"/surveys/{campaign.id}/households/{household.id}", data, form_page=page,
                      headers={"X-Requested-With": "outbox"})  # fmt: skip
    assert again.status_code == 200 and again.get_json()["ok"] and again.get_json()["household"] == household.id
    assert db.session.scalar(select(func.count()).select_from(SurveyVisit)) == 1  # the same key: one visit
    issue = db.session.scalar(select(Issue))
    assert (issue.title, issue.neighbour_id, issue.filed_by_id) == ("3楼楼道灯不亮", neighbour.id, leader.id)
    assert (
        issue.building_id == household.building_id and db.session.scalar(select(func.count()).select_from(Issue)) == 1
    )
    answers = {a.question_id: a for a in db.session.scalars(select(SurveyAnswer))}
    assert answers[question(campaign, "single").id].choice == 1
    assert answers[question(campaign, "multiple").id].choices == [0, 2]
    assert answers[question(campaign, "scale").id].scale == 4
    assert answers[question(campaign, "problem").id].issue_id == issue.id
    state = text_of(client.get(page).get_data(as_text=True), f"#h{household.id} .household-state")
    assert state.startswith("Answered")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"outcome": "maybe"}, "Choose what the visit came to."),
        ({"single": "7"}, "Choose an answer from the list."),
        ({"scale": "9"}, "Choose a value from 1 to 5."),
        ({"text": "长" * 501}, "An answer has at most 500 characters."),
        ({"problem": "漏水", "category": "x"}, "Choose the kind of problem found."),
        ({"outcome": "absent", "revisit_on": "2000-01-01"}, "The next visit cannot be before today."),
    ],
)
def test_a_bad_visit_is_refused_with_why_and_nothing_is_kept(app, client, auth, fields, message):
    fields = dict(fields)  # the parameters are shared by both engines' runs
    world = build_survey_world()
    campaign = open_campaign(world)
    neighbour = world["neighbours"][0]
    auth.login(holder(world, "neighbour_leader", neighbour).mobile)
    household = households_of(neighbour)[0]
    data = {"outcome": fields.pop("outcome", "answered"), "idempotency_key": "k" * 32}
    if "revisit_on" in fields:
        data["revisit_on"] = fields.pop("revisit_on")
    if "category" in fields:
        data[f"q{question(campaign, 'problem').id}_category"] = fields.pop("category")
    for kind, value in fields.items():
        data[f"q{question(campaign, kind).id}"] = value
    page = f"/surveys/{campaign.id}/visit/{neighbour.id}"
    answer = auth.post(f"/surveys/{campaign.id}/households/{household.id}", data, form_page=page)
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    outbox = auth.post(f"/surveys/{campaign.id}/households/{household.id}", data, form_page=page,
                       headers={"X-Requested-With": "outbox"})  # fmt: skip
    assert outbox.status_code == 422 and outbox.get_json() == {"ok": False, "reason": message}
    assert db.session.scalar(select(func.count()).select_from(SurveyVisit)) == 0
    assert db.session.scalar(select(func.count()).select_from(Issue)) == 0


def test_an_absent_household_is_due_again_and_counts_once_answered(app):
    world = build_survey_world()
    campaign = open_campaign(world, kinds=("single",))
    neighbour = world["neighbours"][0]
    leader = holder(world, "neighbour_leader", neighbour)
    household = households_of(neighbour)[0]
    visit, _ = surveys.record_visit(leader, campaign, household, "absent")
    assert visit.revisit_on == beijing_today() + timedelta(days=surveys.REVISIT_DAYS)
    assert surveys.progress(campaign, neighbour).total.absent == 1
    surveys.record_visit(
        leader, campaign, household, "answered", {question(campaign, "single").id: surveys.Reply(choice="0")}
    )
    surveys.record_visit(leader, campaign, household, "absent")  # a later knock finds nobody: still answered
    db.session.commit()
    figures = surveys.progress(campaign, neighbour).total
    assert (figures.households, figures.answered, figures.absent, figures.not_visited) == (ROOMS, 1, 0, ROOMS - 1)
    assert surveys.results(campaign, neighbour, True)[0].counts == [1, 0, 0]


# --- the figures against a plain recomputation --------------------------------------------------------


class PlainSurvey:
    """Each household's state and answers from its visits in order, and its chain of places found by walking
    parents: a second implementation without SQL grouping or ancestor columns."""

    def __init__(self, campaign: SurveyCampaign):
        parents = dict(db.session.execute(select(Node.id, Node.parent_id)).all())
        self.rows = []
        visits = db.session.scalars(
            select(SurveyVisit).where(SurveyVisit.campaign_id == campaign.id).order_by(SurveyVisit.id)
        ).all()
        for household in db.session.scalars(select(Household)):
            chain, node_id = set(), household.neighbour_id
            while node_id is not None:
                chain.add(node_id)
                node_id = parents[node_id]
            mine = [v for v in visits if v.household_id == household.id]
            answered = [v for v in mine if v.outcome == "answered"]
            state = "answered" if answered else (mine[-1].outcome if mine else "not_visited")
            self.rows.append((chain, state, answered[-1] if answered else None))

    def at(self, node: Node) -> dict:
        states = [state for chain, state, _ in self.rows if node.id in chain]
        return {s: states.count(s) for s in ("answered", "declined", "absent", "not_visited")} | {
            "households": len(states)
        }

    def choices(self, node: Node, question_id: int, size: int) -> list[int]:
        counts = [0] * size
        for chain, _state, visit in self.rows:
            if visit is None or node.id not in chain:
                continue
            for answer in visit.answers:
                if answer.question_id == question_id and answer.choice is not None:
                    counts[answer.choice] += 1
        return counts


def check_progress(campaign: SurveyCampaign, node: Node, plain: PlainSurvey) -> None:
    result = surveys.progress(campaign, node)
    for place, figures in [(node, result.total), *result.children]:
        expected = plain.at(place)
        got = {"answered": figures.answered, "declined": figures.declined, "absent": figures.absent,
               "not_visited": figures.not_visited, "households": figures.households}  # fmt: skip
        assert got == expected, place.name
        for value in (figures.visit_rate, figures.answer_rate):
            assert value is None or 0 <= value <= 1
    assert result.own.households + sum(f.households for _, f in result.children) == result.total.households
    single = question(campaign, "single")
    assert surveys.results(campaign, node, True)[0].counts == plain.choices(node, single.id, len(single.options))
    for child, figures in result.children:
        if figures.households:
            check_progress(campaign, child, plain)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 11), st.sampled_from(["answered", "declined", "absent"]), st.integers(0, 2)),
        max_size=25,
    )
)
def test_progress_and_answers_equal_a_plain_recomputation(app, steps):
    if db.session.scalar(select(func.count()).select_from(SurveyCampaign)) == 0:
        world = build_survey_world()
        open_campaign(world, kinds=("single",))
    campaign = db.session.scalar(select(SurveyCampaign))
    db.session.execute(SurveyAnswer.__table__.delete())
    db.session.execute(SurveyVisit.__table__.delete())
    households = list(db.session.scalars(select(Household).order_by(Household.id)))
    branch = db.session.scalar(
        select(Person)
        .join(RoleAssignment)
        .where(RoleAssignment.role == "branch_member", RoleAssignment.node_id == campaign.node_id)
    )  # the campaign's own branch (the other community has one too)
    single = question(campaign, "single")
    for index, outcome, choice in steps:
        replies = {single.id: surveys.Reply(choice=str(choice))}
        surveys.record_visit(branch, campaign, households[index % len(households)], outcome, replies)
    db.session.commit()
    check_progress(campaign, campaign.node, PlainSurvey(campaign))


# --- who may do what ----------------------------------------------------------------------------------


def test_who_may_see_visit_and_run_a_survey(app, client, auth):
    world = build_survey_world()
    campaign = open_campaign(world)
    mine, theirs = world["neighbours"][0], world["neighbours"][-1]
    outside = next(n for n in nodes_at("neighbour") if n.community_id == world["other"].id)
    household = households_of(mine)[0]
    cases = [
        # person, campaign page, visit page of `mine`, record at `mine`, download, open a new version
        (world["people"]["branch"], 200, 200, 303, 200, 303),
        (holder(world, "zone_leader", db.session.get(Node, mine.zone_id)), 200, 200, 303, 403, 403),
        (holder(world, "group_leader", db.session.get(Node, mine.group_id)), 200, 200, 303, 403, 403),
        (holder(world, "neighbour_leader", mine), 200, 200, 303, 403, 403),
        (holder(world, "neighbour_leader", theirs), 200, 403, 403, 403, 403),
        (holder(world, "neighbour_leader", outside), 403, 403, 403, 403, 403),
        (world["people"]["other_branch"], 403, 403, 403, 403, 403),
    ]
    for n, (person, view, visit_page, record, download, version) in enumerate(cases):
        auth.login(person.mobile)
        assert client.get(f"/surveys/{campaign.id}").status_code == view, person.name
        assert client.get(f"/surveys/{campaign.id}/visit/{mine.id}").status_code == visit_page, person.name
        data = {"outcome": "declined", "idempotency_key": f"{n:032d}"}
        assert auth.post(f"/surveys/{campaign.id}/households/{household.id}", data).status_code == record, person.name
        assert client.get(f"/surveys/{campaign.id}/households.csv").status_code == download, person.name
        assert auth.post(f"/surveys/{campaign.id}/version").status_code in ((version,) if version == 303 else (403,))
        auth.logout()


def test_each_leader_finds_the_campaigns_of_their_area_however_many_there_are_elsewhere(app):
    """The campaigns list of a leader holds every campaign the policy lets them see, newest first — the same as
    a plain filter of all campaigns by the policy — even when the district has run hundreds elsewhere since."""
    from sqlalchemy import insert

    from governance.models import SurveyCampaign

    world = build_survey_world()
    mine = open_campaign(world)  # the community's, before all the others
    district = nodes_at("district")[0]
    other_branch = world["people"]["other_branch"]
    db.session.execute(
        insert(SurveyCampaign),
        [{"node_id": world["other"].id, "title": f"外社区问卷{n}", "status": "draft"} for n in range(600)],
    )
    wide = surveys.create(make_person("district_admin", district), district, "全区问卷")
    db.session.commit()
    everything = db.session.scalars(select(SurveyCampaign).order_by(SurveyCampaign.id.desc())).all()
    leaders = [world["people"]["branch"], other_branch]
    leaders += [person for key, person in world["people"].items() if isinstance(key, tuple)]
    for person in leaders:
        plain = [c for c in everything if policy.allowed(person, "view_survey", c)]
        assert surveys.campaigns_for(person, limit=10_000) == plain, person.name
        assert surveys.campaigns_for(person) == plain[:50]
    for person in (world["people"]["branch"], holder(world, "neighbour_leader", world["neighbours"][0])):
        assert surveys.campaigns_for(person) == [wide, mine]


def test_answers_in_words_are_for_those_who_run_the_survey(app, client, auth):
    world = build_survey_world()
    campaign = open_campaign(world)
    neighbour = world["neighbours"][0]
    leader = holder(world, "neighbour_leader", neighbour)
    surveys.record_visit(leader, campaign, households_of(neighbour)[0], "answered",
                         {question(campaign, "text").id: surveys.Reply(text="三楼邻居装修扰民")})  # fmt: skip
    db.session.commit()
    auth.login(leader.mobile)
    page = client.get(f"/surveys/{campaign.id}").get_data(as_text=True)
    assert "三楼邻居装修扰民" not in page and text_of(page, '[data-figure="answered"] b') == "1"
    auth.logout()
    auth.login(world["people"]["branch"].mobile)
    assert "三楼邻居装修扰民" in client.get(f"/surveys/{campaign.id}").get_data(as_text=True)
    csv = client.get(f"/surveys/{campaign.id}/households.csv").get_data(as_text=True)
    assert "三楼邻居装修扰民" in csv and csv.count("\n") == 1 + ROOMS * len(world["neighbours"])
    (entry,) = export_entries()  # households' answers went out: in the audit log
    assert entry.actor_id == world["people"]["branch"].id and entry.community_id == campaign.node.community_id
    assert entry.detail.startswith(f"走访户表（{campaign.title}）：")
    assert f"（{ROOMS * len(world['neighbours'])}行）" in entry.detail


def test_the_progress_table_drills_down_to_the_neighbour_units(app, client, auth):
    world = build_survey_world()
    campaign = open_campaign(world, kinds=("single",))
    for neighbour in world["neighbours"][:2]:
        leader = holder(world, "neighbour_leader", neighbour)
        for household in households_of(neighbour):
            surveys.record_visit(leader, campaign, household, "declined")
    db.session.commit()
    auth.login(world["people"]["branch"].mobile)
    page = client.get(f"/surveys/{campaign.id}").get_data(as_text=True)
    zone = nodes_at("zone")[0]
    assert table_rows(page, "table.survey-progress")[1][:3] == [zone.name, str(ROOMS * 4), "0"]
    group = db.session.get(Node, world["neighbours"][0].group_id)
    drilled = client.get(f"/surveys/{campaign.id}?node={group.id}").get_data(as_text=True)
    rows = table_rows(drilled, "table.survey-progress")[1:]
    assert [row[0] for row in rows] == [n.name for n in world["neighbours"][:2]]
    assert all(row[-1] == "100.0%" for row in rows)
    assert find(drilled, "tr.behind") is None


# --- loading households ---------------------------------------------------------------------------------


def household_file(rows: list[tuple], fmt: str = "csv") -> tuple[BytesIO, str]:
    header = ("小区", "楼栋", "单元", "房号", "邻")
    if fmt == "csv":
        text = "\n".join(",".join(row) for row in [header, *rows])
        return BytesIO(text.encode("utf-8-sig")), "households.csv"
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(list(row))
    out = BytesIO()
    book.save(out)
    out.seek(0)
    return out, "households.xlsx"


def send_file(auth, community, upload, name, follow: bool = True):
    return auth.post(
        "/surveys/households",
        {"community_id": community.id, "file": (upload, name)},
        form_page="/surveys/households",
        content_type="multipart/form-data",
        follow_redirects=follow,
    )


def test_households_load_whole_or_not_at_all(app, client, auth):
    world = build_survey_world()
    community, neighbours = world["community"], world["neighbours"]
    before = db.session.scalar(select(func.count()).select_from(Household))
    auth.login(world["people"]["branch"].mobile)
    page = client.get("/surveys/households").get_data(as_text=True)
    assert {o["value"] for o in find_all(page, "select#community_id option")} == {str(community.id)}
    good = [("普瑞斯堡", "1栋", "2", "101", neighbours[0].name), ("普瑞斯堡", "2栋", "2", "102", neighbours[1].name)]
    bad = [
        ("普瑞斯堡", "9栋", "1", "101", neighbours[0].name),
        ("别的小区", "1栋", "1", "101", neighbours[0].name),
        ("普瑞斯堡", "1栋", "", "101", neighbours[0].name),
        ("普瑞斯堡", "1栋", "2", "101", neighbours[0].name),  # the same as the first good row
        ("普瑞斯堡", "1栋", "3", "101", "第9邻"),
    ]
    upload, name = household_file(good + bad)
    refused = send_file(auth, community, upload, name, follow=False)
    assert refused.status_code == 422
    listed = [li.get_text(" ", strip=True) for li in find_all(refused.get_data(as_text=True), "ul.import-errors li")]
    assert [item.split(":")[0] for item in listed] == [f"Line {n}" for n in (4, 5, 6, 7, 8)]
    assert "The same household as line 2." in listed[3]
    assert db.session.scalar(select(func.count()).select_from(Household)) == before  # nothing loaded
    upload, name = household_file(good, fmt="xlsx")
    loaded = send_file(auth, community, upload, name)
    assert "2 households added, 0 moved to another neighbour unit, 0 already known." in flash_messages(
        loaded.get_data(as_text=True)
    )
    moved = [good[0], (*good[1][:4], neighbours[2].name)]
    upload, name = household_file(moved)
    again = send_file(auth, community, upload, name)
    assert "0 households added, 1 moved to another neighbour unit, 1 already known." in flash_messages(
        again.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count()).select_from(Household)) == before + 2
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "households_imported")) is not None
    auth.logout()
    auth.login(holder(world, "neighbour_leader", neighbours[0]).mobile)
    assert client.get("/surveys/households").status_code == 403


def test_a_published_survey_shows_counts_and_never_words_on_the_compound_page(app, client, auth, fresh_public_cache):
    world = build_survey_world()
    campaign = open_campaign(world, kinds=("text", "problem"))
    neighbour = world["neighbours"][0]
    leader = holder(world, "neighbour_leader", neighbour)
    secret = "三楼张阿姨独居，电话13912345678"
    text, problem = question(campaign, "text"), question(campaign, "problem")
    replies = {
        text.id: surveys.Reply(text=secret),
        problem.id: surveys.Reply(text="楼道灯坏了", category=str(category("lighting").id)),
    }
    surveys.record_visit(leader, campaign, households_of(neighbour)[0], "answered", replies)
    surveys.record_visit(leader, campaign, households_of(neighbour)[1], "declined")
    db.session.commit()
    compound = db.session.get(Household, households_of(neighbour)[0].id).building.compound
    page = client.get(f"/p/compound/{compound.id}").get_data(as_text=True)
    assert "品质提升问卷" not in page  # not published yet
    surveys.set_public_summary(world["people"]["branch"], campaign, True)
    db.session.commit()
    from governance.services.public import page_cache

    page_cache.clear()
    page = client.get(f"/p/compound/{compound.id}").get_data(as_text=True)
    summary = text_of(page, ".public-surveys")
    assert "品质提升问卷" in summary
    assert f"2 of {ROOMS * len(world['neighbours'])} households visited; 1 answered" in summary
    assert "1 problem found at the doors; resolved: 0." in summary
    assert secret not in page and "张阿姨" not in page and "楼道灯坏了" not in summary


def test_households_load_from_the_command_line(app, runner, tmp_path):
    world = build_survey_world()
    community, neighbours = world["community"], world["neighbours"]
    before = db.session.scalar(select(func.count()).select_from(Household))
    upload, name = household_file(
        [("普瑞斯堡", "1栋", "2", "101", neighbours[0].name), ("普瑞斯堡", "9栋", "1", "1", "x")]
    )
    path = tmp_path / name
    path.write_bytes(upload.getvalue())
    refused = runner.invoke(args=["households", "import", community.name, str(path)])
    assert refused.exit_code == 1 and "line 3:" in refused.output and "Nothing was loaded." in refused.output
    upload, name = household_file([("普瑞斯堡", "1栋", "2", "101", neighbours[0].name)])
    path.write_bytes(upload.getvalue())
    done = runner.invoke(args=["households", "import", str(community.id), str(path)])
    assert done.exit_code == 0, done.output
    assert "1 added, 0 moved, 0 already known." in done.output
    assert db.session.scalar(select(func.count()).select_from(Household)) == before + 1


def test_every_link_of_a_survey_page_opens_for_each_leader(app, client, auth):
    """A 邻长 lands on their own 邻's part of the survey; no link on it (the places above included) is refused."""
    world = build_survey_world()
    campaign = open_campaign(world, kinds=("single",))
    neighbour = world["neighbours"][0]
    for person in (
        holder(world, "neighbour_leader", neighbour),
        holder(world, "group_leader", db.session.get(Node, neighbour.group_id)),
    ):
        auth.login(person.mobile)
        page = client.get(f"/surveys/{campaign.id}").get_data(as_text=True)
        links = {a["href"] for a in find_all(page, "main a[href^='/surveys/']")}
        assert links
        for href in links:
            assert client.get(href).status_code == 200, (person.name, href)
        auth.logout()
