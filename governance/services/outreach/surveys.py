"""Door-to-door surveys (走访问卷): a community branch (or an admin above it) runs a campaign over the households
at and under a node; the 三长 carry its questionnaire to every door and record each visit on the phone; a
problem found at a door becomes an issue linked to the visit (docs/DESIGN.md §16).

- A campaign is a draft while its questionnaire is written (questions added, moved, removed), then open for
  visits, then closed. Its questionnaire is frozen once the first visit exists: a later change is a new version
  (a copy, `previous_id`), and opening the new version closes the old one.
- A household's state in a campaign: answered if any of its visits was answered (the latest answered visit
  holds its answers), otherwise the outcome of its latest visit (declined, or absent: to be visited again),
  otherwise not visited. The counts and rates are defined with the other rates (services/reports/rates.py,
  SurveyFigures).
- Recording a visit carries the form's key (like filing): a visit recorded offline and sent twice is one visit,
  and the issue a problem answer files is filed once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from ... import policy
from ...extensions import db
from ...formatting import beijing_today
from ...models import (
    SURVEY_OUTCOMES,
    SURVEY_QUESTION_KINDS,
    Building,
    Category,
    Household,
    Issue,
    Node,
    Person,
    SurveyAnswer,
    SurveyCampaign,
    SurveyQuestion,
    SurveyVisit,
    utcnow,
)
from ...parsing import clean_text
from ..errors import ServiceError
from ..issues import lifecycle
from ..locks import insert_once, lock_row
from ..people.tree import PerChild, child_key, per_child, within_condition
from ..platform import audit
from ..reports.rates import RESOLVED, SurveyFigures

TITLE_MAX = 80
PURPOSE_MAX = 2000
QUESTION_MAX = 200
OPTION_MAX = 40
OPTIONS_MAX = 12
TEXT_MAX = 500
SCALE = range(1, 6)
# An absent household is due for another visit this many days later unless the leader says when.
REVISIT_DAYS = 2


class SurveyError(ServiceError):
    """A campaign step or a visit that cannot be done as asked; nothing was changed."""

    MESSAGES = {
        "forbidden": _l("You may not do this for this survey."),
        "no_title": _l("Give the survey a title."),
        "title_too_long": _l("A title has at most %(max)s characters."),
        "purpose_too_long": _l("The purpose has at most %(max)s characters."),
        "bad_dates": _l("The last day cannot come before the first."),
        "frozen": _l("Households have already answered this questionnaire: make a new version to change it."),
        "not_draft": _l("Only a draft can be opened."),
        "no_questions": _l("Add at least one question before opening the survey."),
        "bad_kind": _l("Choose the kind of question from the list."),
        "no_question": _l("Write the question."),
        "question_too_long": _l("A question has at most %(max)s characters."),
        "few_options": _l("Give at least two choices, one per line."),
        "many_options": _l("Give at most %(max)s choices."),
        "option_too_long": _l("A choice has at most %(max)s characters."),
        "not_open": _l("This survey is not open for visits."),
        "outside": _l("This household is not in the survey's area."),
        "bad_outcome": _l("Choose what the visit came to."),
        "bad_choice": _l("Choose an answer from the list."),
        "text_too_long": _l("An answer has at most %(max)s characters."),
        "bad_scale": _l("Choose a value from 1 to 5."),
        "bad_category": _l("Choose the kind of problem found."),
        "bad_revisit": _l("The next visit cannot be before today."),
    }
    STATUS = {**ServiceError.STATUS, "frozen": 409, "not_open": 409}


# --- who and where -----------------------------------------------------------------------------------


def households_condition(node: Node):
    """SQL on Household: the households of the 邻 at and under `node`."""
    return Household.neighbour_id.in_(select(Node.id).where(within_condition(node)))


def in_area(campaign: SurveyCampaign, node: Node) -> bool:
    """Whether `node` is the campaign's node or below it."""
    return policy.node_inside(node, campaign.node)


def campaigns_for(person: Person, limit: int = 50) -> list[SurveyCampaign]:
    """The campaigns the person runs or works in (their area overlaps the campaign's), newest first: those of a
    place at or under one of their nodes, or above it (found in SQL, however many the district has run), each
    then checked by the policy."""
    nodes = [role.node for role in person.roles if role.node is not None]
    if not nodes:
        return []
    above = {getattr(node, f"{level}_id") for node in nodes for level in ("street", "community", "zone", "group")}
    overlaps = or_(
        Node.level == "district",  # a district-wide campaign lies over every leader's area
        Node.id.in_((above | {node.id for node in nodes}) - {None}),
        *(within_condition(node) for node in nodes),
    )
    found = db.session.scalars(
        select(SurveyCampaign)
        .join(Node, Node.id == SurveyCampaign.node_id)
        .where(overlaps)
        .order_by(SurveyCampaign.id.desc())
        .limit(limit)
    )
    return [c for c in found if policy.allowed(person, "view_survey", c)]


# --- the campaign and its questionnaire ---------------------------------------------------------------


def _check_owner(person: Person, node: Node) -> None:
    if not policy.allowed(person, "run_survey", node):
        policy.log_denial(person, "run_survey", node)
        raise SurveyError("forbidden")


def create(
    person: Person,
    node: Node,
    title: str,
    purpose: str = "",
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> SurveyCampaign:
    """A draft campaign for the households at and under `node`."""
    _check_owner(person, node)
    title, purpose = clean_text(title, one_line=True), clean_text(purpose)
    if not title:
        raise SurveyError("no_title")
    if len(title) > TITLE_MAX:
        raise SurveyError("title_too_long", max=TITLE_MAX)
    if len(purpose) > PURPOSE_MAX:
        raise SurveyError("purpose_too_long", max=PURPOSE_MAX)
    if starts_on and ends_on and ends_on < starts_on:
        raise SurveyError("bad_dates")
    campaign = SurveyCampaign(
        node_id=node.id,
        title=title,
        purpose=purpose,
        starts_on=starts_on,
        ends_on=ends_on,
        status="draft",
        version=1,
        public_summary=False,
        created_by_id=person.id,
        created_at=utcnow(),
    )
    db.session.add(campaign)
    db.session.flush()
    _audit(person, campaign, "survey_created")
    return campaign


def _audit(person: Person, campaign: SurveyCampaign, action: str, what: str = "") -> None:
    node = campaign.node or db.session.get(Node, campaign.node_id)
    audit.record_change(
        person,
        action,
        f"{campaign.title}（#{campaign.id}，v{campaign.version}）{what}",
        community_id=node.community_id,
        street_id=node.street_id,
    )


def is_frozen(campaign: SurveyCampaign) -> bool:
    """Whether any visit exists: the questionnaire households answered cannot change any more."""
    return db.session.scalar(select(SurveyVisit.id).where(SurveyVisit.campaign_id == campaign.id).limit(1)) is not None


def _editable(person: Person, campaign: SurveyCampaign) -> None:
    _check_owner(person, campaign.node)
    lock_row(SurveyCampaign, campaign.id)  # a visit recorded meanwhile waits for this edit, or this sees it
    if campaign.status != "draft" or is_frozen(campaign):
        raise SurveyError("frozen")


def parse_options(text: str | None) -> list[str]:
    """The choices of a question, one per line (empty lines dropped)."""
    return [line.strip() for line in (text or "").replace("\r\n", "\n").split("\n") if line.strip()]


def add_question(person: Person, campaign: SurveyCampaign, kind: str, text: str, options: str = "") -> SurveyQuestion:
    """A question at the end of the questionnaire (a draft's only)."""
    _editable(person, campaign)
    if kind not in SURVEY_QUESTION_KINDS:
        raise SurveyError("bad_kind")
    text = clean_text(text, one_line=True)
    if not text:
        raise SurveyError("no_question")
    if len(text) > QUESTION_MAX:
        raise SurveyError("question_too_long", max=QUESTION_MAX)
    choices = None
    if kind in ("single", "multiple"):
        choices = parse_options(options)
        if len(choices) < 2:
            raise SurveyError("few_options")
        if len(choices) > OPTIONS_MAX:
            raise SurveyError("many_options", max=OPTIONS_MAX)
        if any(len(choice) > OPTION_MAX for choice in choices):
            raise SurveyError("option_too_long", max=OPTION_MAX)
    position = max((q.position for q in campaign.questions), default=0) + 1
    question = SurveyQuestion(campaign=campaign, position=position, kind=kind, text=text, options=choices)
    db.session.add(question)
    db.session.flush()
    _audit(person, campaign, "survey_edited", f"：添加第{position}题“{text}”")
    return question


def move_question(person: Person, campaign: SurveyCampaign, question: SurveyQuestion, step: int) -> None:
    """Move a question one place up (step -1) or down (+1); at either end nothing changes."""
    _editable(person, campaign)
    ordered = list(campaign.questions)
    index = ordered.index(question)
    other = index + (1 if step > 0 else -1)
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, item in enumerate(ordered, start=1):
            item.position = position
        _audit(person, campaign, "survey_edited", f"：“{question.text}”移至第{other + 1}题")
    db.session.flush()


def remove_question(person: Person, campaign: SurveyCampaign, question: SurveyQuestion) -> None:
    """Take a question out of a draft's questionnaire."""
    _editable(person, campaign)
    campaign.questions.remove(question)
    for position, item in enumerate(campaign.questions, start=1):
        item.position = position
    db.session.flush()
    _audit(person, campaign, "survey_edited", f"：删除“{question.text}”")


def open_for_visits(person: Person, campaign: SurveyCampaign) -> None:
    """Open a draft for visits; the version it replaces (if open) closes."""
    _check_owner(person, campaign.node)
    if campaign.status != "draft":
        raise SurveyError("not_draft")
    if not campaign.questions:
        raise SurveyError("no_questions")
    campaign.status = "open"
    if campaign.previous_id is not None:
        previous = db.session.get(SurveyCampaign, campaign.previous_id)
        if previous.status == "open":
            previous.status = "closed"
    db.session.flush()
    _audit(person, campaign, "survey_opened")


def close(person: Person, campaign: SurveyCampaign) -> None:
    """No more visits."""
    _check_owner(person, campaign.node)
    if campaign.status == "open":
        campaign.status = "closed"
        db.session.flush()
        _audit(person, campaign, "survey_closed")


def new_version(person: Person, campaign: SurveyCampaign) -> SurveyCampaign:
    """A draft copy of the campaign and its questionnaire, to change what households answered."""
    _check_owner(person, campaign.node)
    copy = SurveyCampaign(
        node_id=campaign.node_id,
        title=campaign.title,
        purpose=campaign.purpose,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        status="draft",
        version=campaign.version + 1,
        previous_id=campaign.id,
        public_summary=False,
        created_by_id=person.id,
        created_at=utcnow(),
    )
    for question in campaign.questions:
        copy.questions.append(
            SurveyQuestion(position=question.position, kind=question.kind, text=question.text, options=question.options)
        )
    db.session.add(copy)
    db.session.flush()
    _audit(person, copy, "survey_created")
    return copy


def set_public_summary(person: Person, campaign: SurveyCampaign, shown: bool) -> None:
    """Publish (or withdraw) the campaign's counts on the public pages of its 小区: never any answer's text."""
    _check_owner(person, campaign.node)
    campaign.public_summary = bool(shown)
    db.session.flush()


# --- visits ------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """What a visitor typed for one question: the chosen index(es), a text, a value, or a problem's kind and
    words (all raw: record_visit checks them)."""

    choice: str | None = None
    choices: list[str] = field(default_factory=list)
    text: str | None = None
    category: str | None = None


def find_visit(person: Person, key: str | None) -> SurveyVisit | None:
    """The visit this person already recorded with this form key."""
    if not key:
        return None
    return db.session.scalar(
        select(SurveyVisit).where(SurveyVisit.visited_by_id == person.id, SurveyVisit.idempotency_key == key)
    )


def _index(raw, count: int) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit() or int(text) >= count:
        raise SurveyError("bad_choice")
    return int(text)


def record_visit(
    person: Person,
    campaign: SurveyCampaign,
    household: Household,
    outcome: str,
    replies: dict[int, Reply] | None = None,
    *,
    revisit_on: date | None = None,
    key: str | None = None,
) -> tuple[SurveyVisit, bool]:
    """Record one visit (the same key again returns the first visit, created=False); an answered visit keeps
    its answers, and each problem found is filed as an issue of the household's 邻."""
    existing = find_visit(person, key)
    if existing is not None:
        return existing, False
    if not policy.allowed(person, "visit_household", household.neighbour):
        policy.log_denial(person, "visit_household", household.neighbour)
        raise SurveyError("forbidden")
    lock_row(SurveyCampaign, campaign.id)  # the questionnaire cannot change under this visit (see _editable)
    db.session.refresh(campaign)
    if campaign.status != "open":
        raise SurveyError("not_open")
    if not in_area(campaign, household.neighbour):
        raise SurveyError("outside")
    if outcome not in SURVEY_OUTCOMES:
        raise SurveyError("bad_outcome")
    today = beijing_today()
    if outcome == "absent":
        revisit_on = revisit_on or today + timedelta(days=REVISIT_DAYS)
        if revisit_on < today:
            raise SurveyError("bad_revisit")
    else:
        revisit_on = None
    answers = _answers(campaign, replies or {}) if outcome == "answered" else []
    visit = SurveyVisit(
        campaign_id=campaign.id,
        household_id=household.id,
        visited_by_id=person.id,
        outcome=outcome,
        visited_at=utcnow(),
        revisit_on=revisit_on,
        idempotency_key=key or None,
    )
    earlier = insert_once(visit, lambda: find_visit(person, key))  # a resend racing the first
    if earlier is not None:
        return earlier, False
    for answer, problem in answers:
        answer.visit_id = visit.id
        if problem is not None:
            answer.issue_id = _file_problem(person, campaign, household, problem, key, answer.question_id)
        db.session.add(answer)
    db.session.flush()
    return visit, True


def _answers(campaign: SurveyCampaign, replies: dict[int, Reply]) -> list[tuple[SurveyAnswer, tuple | None]]:
    """The answers of an answered visit, checked against the questionnaire; unanswered questions are left out.
    A problem answer comes with (category, words) to file."""
    found = []
    for question in campaign.questions:
        reply = replies.get(question.id)
        if reply is None:
            continue
        answer = SurveyAnswer(question_id=question.id)
        problem = None
        if question.kind == "single":
            if reply.choice in (None, ""):
                continue
            answer.choice = _index(reply.choice, len(question.options or []))
        elif question.kind == "multiple":
            picked = sorted({_index(raw, len(question.options or [])) for raw in reply.choices})
            if not picked:
                continue
            answer.choices = picked
        elif question.kind == "scale":
            if reply.choice in (None, ""):
                continue
            value = str(reply.choice).strip()
            if not value.isdigit() or int(value) not in SCALE:
                raise SurveyError("bad_scale")
            answer.scale = int(value)
        else:  # text, problem
            text = clean_text(reply.text, one_line=True)
            if not text:
                continue
            if len(text) > TEXT_MAX:
                raise SurveyError("text_too_long", max=TEXT_MAX)
            answer.text = text
            if question.kind == "problem":
                category = (
                    db.session.get(Category, int(reply.category)) if str(reply.category or "").isdigit() else None
                )
                if category is None or not category.active:
                    raise SurveyError("bad_category")
                problem = (category, text)
        found.append((answer, problem))
    return found


def household_label(household: Household) -> str:
    """The household's address as an issue stores it (Chinese, like the rest of what the system writes)."""
    return f"{household.building.name}{household.unit}单元{household.room}"


def _file_problem(person, campaign, household, problem, key, question_id) -> int:
    """File the problem found at a door as an issue of the household's 邻 (the normal lifecycle from there)."""
    category, text = problem
    building = household.building
    issue, _created = lifecycle.file_issue(
        person,
        lifecycle.IssueInput(
            category_id=category.id,
            title=text[:80],
            description=text,
            neighbour_id=household.neighbour_id,
            compound_id=building.compound_id,
            building_id=building.id,
            place_detail=household_label(household),
        ),
        idempotency_key=f"survey:{key}:{question_id}" if key else None,
    )
    return issue.id


# --- figures -----------------------------------------------------------------------------------------


def _states(*conditions):
    """Per campaign and household visited (the visits matching `conditions`): its latest visit id and whether
    any visit was answered."""
    answered = func.max(case((SurveyVisit.outcome == "answered", 1), else_=0))
    return (
        select(
            SurveyVisit.campaign_id.label("campaign_id"),
            SurveyVisit.household_id.label("household_id"),
            func.max(SurveyVisit.id).label("last_id"),
            answered.label("answered"),
        )
        .where(*conditions)
        .group_by(SurveyVisit.campaign_id, SurveyVisit.household_id)
        .subquery()
    )


def figures_by(campaign: SurveyCampaign, node: Node, key) -> dict:
    """SurveyFigures per value of `key` (an expression over Node, the household's 邻) for the households at and
    under `node`: one query."""
    return figures_where(campaign, key, within_condition(node))


def figures_where(campaign: SurveyCampaign, key, *conditions) -> dict:
    """SurveyFigures per value of `key` over the households matching the conditions (on Household and Node, its
    邻): one query."""
    states = _states(SurveyVisit.campaign_id == campaign.id)
    last = aliased(SurveyVisit)
    not_answered = func.coalesce(states.c.answered, 0) == 0
    rows = db.session.execute(
        select(
            key,
            func.count(Household.id),
            func.sum(func.coalesce(states.c.answered, 0)),
            func.sum(case((and_(not_answered, last.outcome == "declined"), 1), else_=0)),
            func.sum(case((and_(not_answered, last.outcome == "absent"), 1), else_=0)),
        )
        .select_from(Household)
        .join(Node, Node.id == Household.neighbour_id)
        .outerjoin(states, states.c.household_id == Household.id)
        .outerjoin(last, last.id == states.c.last_id)
        .where(*conditions)
        .group_by(key)
    )
    return {
        k: SurveyFigures(households=int(n), answered=int(a or 0), declined=int(d or 0), absent=int(b or 0))
        for k, n, a, d, b in rows
    }


def progress(campaign: SurveyCampaign, node: Node) -> PerChild:
    """Households known, answered, declined, absent and not yet visited at and under `node`, per child."""
    return per_child(node, figures_by(campaign, node, child_key(node)), SurveyFigures)


def _answered_visits(campaign: SurveyCampaign, node: Node | None = None, *conditions):
    """SELECT of the visit holding each answered household's answers (its latest answered visit), for the
    households at and under `node` (and matching the conditions on Household)."""
    if node is not None:
        conditions = (*conditions, households_condition(node))
    return (
        select(func.max(SurveyVisit.id))
        .join(Household, Household.id == SurveyVisit.household_id)
        .where(SurveyVisit.campaign_id == campaign.id, SurveyVisit.outcome == "answered", *conditions)
        .group_by(SurveyVisit.household_id)
    )


@dataclass
class QuestionResult:
    """The answers to one question in an area: counts per choice (or value), how many answered it, the texts
    (newest first, for those who may read them), the problems found and how many of their issues are resolved."""

    question: SurveyQuestion
    answered: int = 0
    counts: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    problems: int = 0
    problems_resolved: int = 0

    def share(self, count: int) -> float | None:
        """A choice's share of the households that answered this question (0–1; None when none did)."""
        return count / self.answered if self.answered else None

    @property
    def average(self) -> float | None:
        """A scale question's mean value (1–5), or None."""
        total = sum(value * n for value, n in zip(SCALE, self.counts, strict=False))
        return total / self.answered if self.answered and self.question.kind == "scale" else None


TEXTS_SHOWN = 200


def results(campaign: SurveyCampaign, node: Node, with_texts: bool) -> list[QuestionResult]:
    """Answers per question for the households at and under `node` (their answered visits): two queries."""
    by_question = {q.id: QuestionResult(q) for q in campaign.questions}
    for q in campaign.questions:
        by_question[q.id].counts = [0] * (len(q.options or []) if q.kind in ("single", "multiple") else 5)
    rows = db.session.execute(
        select(
            SurveyAnswer.question_id,
            SurveyAnswer.choice,
            SurveyAnswer.choices,
            SurveyAnswer.scale,
            SurveyAnswer.text,
            Issue.status,
        )
        .outerjoin(Issue, Issue.id == SurveyAnswer.issue_id)
        .where(SurveyAnswer.visit_id.in_(_answered_visits(campaign, node)))
        .order_by(SurveyAnswer.id.desc())
    )
    for question_id, choice, choices, scale, text, issue_status in rows:
        result = by_question.get(question_id)
        if result is None:
            continue
        result.answered += 1
        kind = result.question.kind
        if kind == "single" and choice is not None and choice < len(result.counts):
            result.counts[choice] += 1
        elif kind == "multiple":
            for index in choices or []:
                if index < len(result.counts):
                    result.counts[index] += 1
        elif kind == "scale" and scale in SCALE:
            result.counts[scale - 1] += 1
        elif kind in ("text", "problem") and with_texts and len(result.texts) < TEXTS_SHOWN:
            result.texts.append(text)
        if kind == "problem" and issue_status is not None:
            result.problems += 1
            result.problems_resolved += issue_status in RESOLVED
    return [by_question[q.id] for q in campaign.questions]


def households(campaign: SurveyCampaign, neighbour: Node) -> list[tuple[Household, SurveyVisit | None, bool]]:
    """The households of one 邻 with their latest visit and whether they answered, in address order."""
    states = _states(SurveyVisit.campaign_id == campaign.id)
    last = aliased(SurveyVisit)
    rows = db.session.execute(
        select(Household, last, states.c.answered)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(states, states.c.household_id == Household.id)
        .outerjoin(last, last.id == states.c.last_id)
        .where(Household.neighbour_id == neighbour.id)
        .order_by(Building.id, Household.unit, Household.room)
    )
    return [(household, visit, bool(answered)) for household, visit, answered in rows]


def neighbours_to_visit(person: Person, campaign: SurveyCampaign) -> list[tuple[Node, SurveyFigures]]:
    """The 邻 of the campaign's area the person may visit, with their figures (a 邻长: their own)."""
    condition = policy.node_scope_condition(person)
    rows = figures_by(campaign, campaign.node, Node.id)
    nodes = db.session.scalars(
        select(Node)
        .where(Node.level == "neighbour", within_condition(campaign.node), condition, Node.id.in_(list(rows)))
        .order_by(Node.id)
    ).all()
    return [(node, rows[node.id]) for node in nodes]


def household_answers(campaign: SurveyCampaign, node: Node):
    """Every household at and under `node` with its state and the answers of its answered visit (for the
    export): (household, 邻, state, visit, {question id: answer}) in address order."""
    states = _states(SurveyVisit.campaign_id == campaign.id)
    last = aliased(SurveyVisit)
    rows = db.session.execute(
        select(Household, Node, states.c.answered, last)
        .join(Node, Node.id == Household.neighbour_id)
        .join(Building, Building.id == Household.building_id)
        .outerjoin(states, states.c.household_id == Household.id)
        .outerjoin(last, last.id == states.c.last_id)
        .where(within_condition(node))
        .order_by(Building.id, Household.unit, Household.room)
    ).all()
    answers: dict[int, dict[int, SurveyAnswer]] = defaultdict(dict)
    for answer, household_id in db.session.execute(
        select(SurveyAnswer, SurveyVisit.household_id)
        .join(SurveyVisit, SurveyVisit.id == SurveyAnswer.visit_id)
        .where(SurveyAnswer.visit_id.in_(_answered_visits(campaign, node)))
    ):
        answers[household_id][answer.question_id] = answer
    for household, neighbour, answered, visit in rows:
        state = "answered" if answered else (visit.outcome if visit is not None else "not_visited")
        yield household, neighbour, state, visit, answers.get(household.id, {})


def outcome_counts(campaign: SurveyCampaign) -> Counter:
    """Visits per outcome (every visit, not households): what the leaders did."""
    return Counter(
        dict(
            db.session.execute(
                select(SurveyVisit.outcome, func.count())
                .where(SurveyVisit.campaign_id == campaign.id)
                .group_by(SurveyVisit.outcome)
            ).all()
        )
    )


@dataclass
class PublicSummary:
    """What a published campaign shows on a 小区's public page: counts only, never what anyone said."""

    campaign: SurveyCampaign
    figures: SurveyFigures
    problems: int
    problems_resolved: int


def public_summaries(compound_id: int) -> list[PublicSummary]:
    """The published campaigns that visited this 小区, with the figures of its households alone."""
    in_compound = Household.building_id.in_(select(Building.id).where(Building.compound_id == compound_id))
    summaries = []
    for campaign in db.session.scalars(
        select(SurveyCampaign)
        .where(SurveyCampaign.public_summary.is_(True), SurveyCampaign.status != "draft")
        .order_by(SurveyCampaign.id.desc())
    ):
        figures = figures_where(campaign, literal(0), in_compound, within_condition(campaign.node)).get(0)
        if figures is None or not figures.households:
            continue
        answered = _answered_visits(campaign, None, in_compound)
        found, resolved = db.session.execute(
            select(func.count(Issue.id), func.count(case((Issue.status.in_(RESOLVED), 1))))
            .select_from(SurveyAnswer)
            .join(Issue, Issue.id == SurveyAnswer.issue_id)
            .where(SurveyAnswer.visit_id.in_(answered))
        ).one()
        summaries.append(PublicSummary(campaign, figures, found, resolved))
    return summaries


def _due(today: date):
    """SELECT (visit, household, campaign) of every household due another knock today: its latest visit in an
    open campaign found nobody in, it has never answered there, and the day to come back has come."""
    states = _states(SurveyVisit.campaign_id.in_(select(SurveyCampaign.id).where(SurveyCampaign.status == "open")))
    last = aliased(SurveyVisit)
    return (
        select(last.id)
        .select_from(states)
        .join(last, last.id == states.c.last_id)
        .join(Household, Household.id == states.c.household_id)
        .where(states.c.answered == 0, last.outcome == "absent", last.revisit_on <= today)
    )


def due_ids(neighbour_id: int, today: date):
    """SELECT of the latest visits of the households of a 邻 due another knock (a 邻长's home card counts them)."""
    return _due(today).where(Household.neighbour_id == neighbour_id)


def due_visits(neighbour_id: int, today: date) -> list[tuple[SurveyVisit, Household, SurveyCampaign]]:
    """The households of a 邻 due another knock, with the campaign and the visit that found nobody in."""
    rows = db.session.execute(
        select(SurveyVisit, Household, SurveyCampaign)
        .join(Household, Household.id == SurveyVisit.household_id)
        .join(SurveyCampaign, SurveyCampaign.id == SurveyVisit.campaign_id)
        .where(SurveyVisit.id.in_(due_ids(neighbour_id, today)))
        .order_by(SurveyVisit.revisit_on, Household.id)
    )
    return [tuple(row) for row in rows]
