"""Views of the surveys blueprint: the list, writing a campaign and its questionnaire, recording visits door by
door (also from the outbox, offline), and the progress and results of an area with their download."""

from __future__ import annotations

import uuid
from datetime import date

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import policy, web
from ...access import login_required, requires
from ...extensions import db
from ...formatting import LEVEL_LABELS, beijing_today, local_time
from ...forms import offered, options
from ...models import Household, Node, SurveyCampaign, SurveyQuestion
from ...parsing import parse_id
from ...services.issues.places import active_categories
from ...services.outreach import households as household_files
from ...services.outreach import surveys
from ...services.people.tree import node_path, nodes_and_children
from ...services.platform import audit
from ...services.reports import exports
from ...services.reports.rates import SURVEY_DEFINITIONS
from . import bp
from .forms import OUTCOMES, QUESTION_KINDS, ActionForm, CampaignForm, HouseholdFileForm, QuestionForm


@bp.context_processor
def survey_helpers():
    return {
        "local_time": local_time,
        "LEVEL_LABELS": LEVEL_LABELS,
        "QUESTION_KINDS": dict(QUESTION_KINDS),
        "OUTCOMES": OUTCOMES,
        "STATE_LABELS": state_labels(),
        "STATE_NAMES": {"draft": _("Draft"), "open": _("Visits under way"), "closed": _("Finished")},
        "may_open_place": may_open_place,
    }


def state_labels() -> dict[str, str]:
    """A household's state in words."""
    return {
        "answered": _("Answered"),
        "declined": _("Declined"),
        "absent": _("Nobody in"),
        "not_visited": _("Not visited yet"),
    }


@bp.route("/")
@requires("view_surveys")
def index():
    """The surveys of my area (and the button to write one, for those who run them)."""
    return render_template("surveys/index.html", campaigns=surveys.campaigns_for(current_user))


def _owner_nodes() -> list:
    """The places a survey may cover: the node of each role that runs surveys, and its children (not a 邻)."""
    own = [s.node_id for s in policy.scopes(current_user) if s.role in policy.SURVEY_OWNER_ROLES]
    return options(
        (str(n.id), f"{n.name}（{LEVEL_LABELS[n.level]}）") for n in nodes_and_children(own) if n.level != "neighbour"
    )


def _render_new(form, status=200):
    return render_template("surveys/new.html", form=form), status


@bp.route("/new", methods=["GET", "POST"])
@requires("run_survey")
def new():
    """Write a new survey: its area, title, purpose and dates; the questions come next."""
    choices = _owner_nodes()
    form = CampaignForm(formdata=None) if request.method == "GET" else CampaignForm()
    form.node_id.choices = choices
    if request.method == "GET":
        return _render_new(form)
    if not form.validate():
        if form.csrf_token.errors:
            abort(400)
        return _render_new(form, 422)
    node_id = parse_id(form.node_id.data)
    node = db.session.get(Node, node_id) if str(node_id) in offered(form.node_id) else None
    if node is None:
        form.node_id.errors = [_("Choose the area from the list.")]
        return _render_new(form, 422)

    def refused(err):
        target = {"bad_dates": form.ends_on, "purpose_too_long": form.purpose}.get(err.code, form.title)
        target.errors = [err.message]
        return _render_new(form, err.status)

    return web.perform(
        lambda: surveys.create(
            current_user, node, form.title.data, form.purpose.data, form.starts_on.data, form.ends_on.data
        ),
        done=_("Survey written. Add its questions, then open it for visits."),
        to=lambda campaign: url_for(".campaign", campaign_id=campaign.id),
        refused=refused,
    )


def _campaign(campaign_id: int) -> SurveyCampaign:
    campaign = db.session.get(SurveyCampaign, campaign_id) or abort(404)
    policy.authorize(current_user, "view_survey", campaign)
    return campaign


def _place(campaign: SurveyCampaign) -> Node:
    """The area a page shows (?node=, inside the campaign's and the person's); the campaign's own by default."""
    raw = request.args.get("node")
    if raw in (None, ""):
        node = campaign.node
    else:
        node = db.session.get(Node, parse_id(raw)) if parse_id(raw) is not None else None
        if node is None or not surveys.in_area(campaign, node):
            abort(404)
    if not may_open_place(node):
        # A leader inside the area sees their own part of it.
        mine = [r.node for r in current_user.roles if r.node is not None and surveys.in_area(campaign, r.node)]
        if raw in (None, "") and mine:
            return mine[0]
        abort(403)
    return node


def may_open_place(node: Node) -> bool:
    """Whether a survey's page of this place opens for the person (a 邻长 sees their own 邻, not the 片 above)."""
    return policy.allowed(current_user, "view_node", node) or policy.allowed(current_user, "run_survey", node)


def _render_campaign(campaign, node, question_form=None, status=200):
    owner = policy.allowed(current_user, "run_survey", campaign.node)
    top = campaign.node
    path = [n for n in node_path(node) if n.rank >= top.rank] if node.id != top.id else [top]
    return (
        render_template(
            "surveys/campaign.html",
            campaign=campaign,
            node=node,
            path=path,
            owner=owner,
            frozen=surveys.is_frozen(campaign),
            question_form=question_form or QuestionForm(formdata=None),
            action=ActionForm(),
            progress=surveys.progress(campaign, node),
            results=surveys.results(
                campaign, node, with_texts=policy.allowed(current_user, "read_survey_texts", campaign)
            ),
            visitable=surveys.neighbours_to_visit(current_user, campaign) if campaign.status == "open" else [],
            definitions=SURVEY_DEFINITIONS,
        ),
        status,
    )


@bp.route("/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    """A survey: its questionnaire (written here while a draft), progress and results of an area, per place."""
    item = _campaign(campaign_id)
    return _render_campaign(item, _place(item))


def _owner_step(campaign_id: int, run, done, question_form=None):
    """A POST that changes the campaign, by one who runs it: the campaign page again, with why on a refusal."""
    item = _campaign(campaign_id)
    policy.authorize(current_user, "run_survey", item.node)
    form = question_form or ActionForm()
    if not form.validate() and form.csrf_token.errors:
        abort(400)  # a question's own fields are checked by the service

    def refused(err):
        if question_form is not None:
            target = {"bad_kind": question_form.kind}.get(err.code)
            if target is None:
                target = (
                    question_form.options
                    if err.code in ("few_options", "many_options", "option_too_long")
                    else question_form.text
                )
            target.errors = [err.message]
            return _render_campaign(item, item.node, question_form, err.status)
        return _render_campaign(item, item.node, status=err.status)

    return web.perform(
        lambda: run(item),
        done=done,
        # A new version is a campaign of its own: go there; every other step stays on this campaign.
        to=lambda result: url_for(
            ".campaign", campaign_id=result.id if isinstance(result, SurveyCampaign) else item.id
        ),
        refused=refused,
        say_refusal=question_form is None,
    )


@bp.route("/<int:campaign_id>/questions", methods=["POST"])
@login_required
def add_question(campaign_id: int):
    form = QuestionForm()
    return _owner_step(
        campaign_id,
        lambda item: surveys.add_question(current_user, item, form.kind.data, form.text.data, form.options.data),
        _("Question added."),
        question_form=form,
    )


def _question(item: SurveyCampaign, question_id: int) -> SurveyQuestion:
    question = db.session.get(SurveyQuestion, question_id)
    if question is None or question.campaign_id != item.id:
        abort(404)
    return question


@bp.route("/<int:campaign_id>/questions/<int:question_id>/move", methods=["POST"])
@login_required
def move_question(campaign_id: int, question_id: int):
    step = -1 if request.form.get("step") == "up" else 1
    return _owner_step(
        campaign_id,
        lambda item: surveys.move_question(current_user, item, _question(item, question_id), step),
        None,
    )


@bp.route("/<int:campaign_id>/questions/<int:question_id>/remove", methods=["POST"])
@login_required
def remove_question(campaign_id: int, question_id: int):
    return _owner_step(
        campaign_id,
        lambda item: surveys.remove_question(current_user, item, _question(item, question_id)),
        _("Question removed."),
    )


@bp.route("/<int:campaign_id>/open", methods=["POST"])
@login_required
def open_campaign(campaign_id: int):
    return _owner_step(
        campaign_id,
        lambda item: surveys.open_for_visits(current_user, item),
        _("The survey is open: its leaders can record visits."),
    )


@bp.route("/<int:campaign_id>/close", methods=["POST"])
@login_required
def close_campaign(campaign_id: int):
    return _owner_step(campaign_id, lambda item: surveys.close(current_user, item), _("The survey is closed."))


@bp.route("/<int:campaign_id>/version", methods=["POST"])
@login_required
def new_version(campaign_id: int):
    return _owner_step(
        campaign_id,
        lambda item: surveys.new_version(current_user, item),
        _("A new version to change: open it when its questions are right; the earlier one then closes."),
    )


@bp.route("/<int:campaign_id>/public", methods=["POST"])
@login_required
def public_summary(campaign_id: int):
    shown = request.form.get("shown") == "1"
    return _owner_step(
        campaign_id,
        lambda item: surveys.set_public_summary(current_user, item, shown),
        _("The counts are shown on the compound's public page.") if shown else _("The counts are no longer public."),
    )


# --- visits ------------------------------------------------------------------------------------------


@bp.route("/due")
@login_required
def due():
    """The households of a 邻 (?node=) to visit again today: nobody was in, and the day to come back has come."""
    node_id = parse_id(request.args.get("node"))
    neighbour = db.session.get(Node, node_id) if node_id is not None else None
    if neighbour is None or neighbour.level != "neighbour":
        abort(404)
    policy.authorize(current_user, "visit_household", neighbour)
    return render_template(
        "surveys/due.html", neighbour=neighbour, due=surveys.due_visits(neighbour.id, beijing_today())
    )


def _render_visits(item, neighbour, failed=None, error=None, status=200):
    """The 邻's households with their visit forms (again with the refusal beside the household that failed)."""
    return (
        render_template(
            "surveys/visit.html",
            campaign=item,
            neighbour=neighbour,
            households=surveys.households(item, neighbour),
            categories=active_categories(),
            key=lambda: uuid.uuid4().hex,
            action=ActionForm(),
            failed=failed,
            error=error,
        ),
        status,
    )


@bp.route("/<int:campaign_id>/visit/<int:neighbour_id>")
@login_required
def visit_list(campaign_id: int, neighbour_id: int):
    """The households of one 邻, each with its visit form: loaded once, usable door to door without a signal."""
    item = _campaign(campaign_id)
    neighbour = db.session.get(Node, neighbour_id)
    if neighbour is None or neighbour.level != "neighbour" or not surveys.in_area(item, neighbour):
        abort(404)
    policy.authorize(current_user, "visit_household", neighbour)
    return _render_visits(item, neighbour)


def _replies(item: SurveyCampaign) -> dict[int, surveys.Reply]:
    form = request.form
    replies = {}
    for question in item.questions:
        name = f"q{question.id}"
        replies[question.id] = surveys.Reply(
            choice=form.get(name),
            choices=form.getlist(name),
            text=form.get(name),
            category=form.get(f"{name}_category"),
        )
    return replies


@bp.route("/<int:campaign_id>/households/<int:household_id>", methods=["POST"])
@login_required
def record(campaign_id: int, household_id: int):
    """Record a visit to one household (from its form, or later from the outbox: then the answer is JSON)."""
    item = _campaign(campaign_id)
    household = db.session.get(Household, household_id) or abort(404)
    back = url_for(".visit_list", campaign_id=item.id, neighbour_id=household.neighbour_id, _anchor=f"h{household.id}")
    if not ActionForm().validate():
        abort(400)
    try:
        revisit_on = (
            date.fromisoformat(request.form.get("revisit_on") or "") if request.form.get("revisit_on") else None
        )
    except ValueError:
        revisit_on = None  # the default: a visit in REVISIT_DAYS days
    outcome = web.attempt(
        lambda: surveys.record_visit(
            current_user,
            item,
            household,
            request.form.get("outcome", ""),
            _replies(item),
            revisit_on=revisit_on,
            key=(request.form.get("idempotency_key") or "")[:64] or None,
        ),
        conflict=surveys.SurveyError,
    )
    if outcome.refused:
        if web.from_outbox():
            return jsonify(ok=False, reason=outcome.error.message), outcome.error.status
        return _render_visits(item, household.neighbour, household.id, outcome.error.message, outcome.error.status)
    label = surveys.household_label(household)
    if web.from_outbox():
        return jsonify(ok=True, url=back, reference=label, household=household.id)
    flash(_("Visit to %(household)s recorded.", household=label), "success")
    return redirect(back, code=303)


# --- the download --------------------------------------------------------------------------------------


@bp.route("/<int:campaign_id>/households.csv", defaults={"fmt": "csv"})
@bp.route("/<int:campaign_id>/households.xlsx", defaults={"fmt": "xlsx"})
@login_required
def households_file(campaign_id: int, fmt: str):
    """Every household of an area with its state and answers (texts included): for those who run the survey."""
    item = _campaign(campaign_id)
    policy.authorize(current_user, "read_survey_texts", item)
    node = _place(item)
    labels = state_labels()
    questions = list(item.questions)
    columns = [
        exports.Column(_("Household")),
        exports.Column(_("Neighbour unit (邻)")),
        exports.Column(_("State")),
        exports.Column(_("Visited"), "datetime"),
        *(exports.Column(q.text) for q in questions),
    ]

    def cell(question, answer):
        if answer is None:
            return ""
        if question.kind == "single":
            return (question.options or [])[answer.choice] if answer.choice is not None else ""
        if question.kind == "multiple":
            return "、".join((question.options or [])[i] for i in answer.choices or [])
        if question.kind == "scale":
            return answer.scale
        return answer.text or ""

    rows = (
        (
            surveys.household_label(household),
            neighbour.name,
            labels[state],
            visit.visited_at if visit is not None else None,
            *(cell(q, answers.get(q.id)) for q in questions),
        )
        for household, neighbour, state, visit, answers in surveys.household_answers(item, node)
    )
    stem = f"{item.title} - {node.name}"
    return exports.recorded_response(current_user, f"走访户表（{item.title}）", node, stem, columns, rows, fmt)


# --- households -----------------------------------------------------------------------------------------


def _communities() -> list:
    condition = policy.node_scope_condition(current_user, policy.SURVEY_OWNER_ROLES)
    nodes = db.session.scalars(db.select(Node).where(Node.level == "community", condition).order_by(Node.id)).all()
    return options((str(n.id), n.name) for n in nodes)


@bp.route("/households", methods=["GET", "POST"])
@requires("run_survey")
def households():
    """Load a community's households from a CSV or Excel file: all rows good, or nothing imported."""
    choices = _communities()
    form = HouseholdFileForm(formdata=None) if request.method == "GET" else HouseholdFileForm()
    form.community_id.choices = choices
    if request.method == "GET":
        return render_template("surveys/households.html", form=form, result=None)
    if not form.validate() and form.csrf_token.errors:
        abort(400)
    community_id = parse_id(form.community_id.data)
    community = db.session.get(Node, community_id) if str(community_id) in offered(form.community_id) else None
    upload = form.file.data
    if community is None or upload is None or not getattr(upload, "filename", ""):
        target = form.community_id if community is None else form.file
        target.errors = [_("Choose the community from the list.") if community is None else _("Choose a file.")]
        return render_template("surveys/households.html", form=form, result=None), 422
    data = upload.read(household_files.MAX_BYTES + 1)

    def run():
        result = household_files.import_households(community, upload.filename, data)
        if not result.errors:
            audit.record_change(
                current_user,
                "households_imported",
                f"{community.name}：新增{result.added}户，调整{result.moved}户，未变{result.unchanged}户",
                community_id=community.id,
                street_id=community.street_id,
            )
        return result

    outcome = web.attempt(run)
    result = outcome.result
    if result.errors:  # nothing was written: the file is checked whole before any row goes in
        return render_template("surveys/households.html", form=form, result=result), 422
    flash(
        _(
            "%(added)s households added, %(moved)s moved to another neighbour unit, %(unchanged)s already known.",
            added=result.added,
            moved=result.moved,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for(".households"), code=303)
