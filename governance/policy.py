"""The one place that decides who may see and do what (权限策略).

Every scope is a node of the tree. A role on a node covers that node and everything below it.
Views ask `authorize(person, action, target)`; they never look at roles themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import abort, has_request_context, request

from .models import HANDLING_LEVELS, LEVELS, ROLE_LEVEL, Node, Person, RoleAssignment

log = logging.getLogger("governance.access")

# Higher manages lower: a role may manage roles of a strictly lower rank inside its scope.
ROLE_RANK = {
    "neighbour_leader": 1,
    "group_leader": 2,
    "zone_leader": 3,
    "branch_member": 4,
    "street_admin": 5,
    "district_admin": 6,
    "org_staff": 0,
}
# Roles that run people: activation codes, disabling accounts, removing roles.
MANAGER_ROLES = ("branch_member", "street_admin", "district_admin")
# Roles that may load rosters (名册导入).
ROSTER_ROLES = ("street_admin", "district_admin")


@dataclass(frozen=True)
class Scope:
    """A node-bound role reduced to what coverage checks need."""

    role: str
    level: str
    node_id: int


def scopes(person: Person) -> list[Scope]:
    """The node scopes a person holds, one per node-bound role."""
    return [Scope(r.role, ROLE_LEVEL[r.role], r.node_id) for r in person.roles if r.node_id is not None]


def scope_signature(person: Person) -> tuple:
    """Everything the rules read of a person to decide what they may see and do: each role with its node or
    organisation. Two people with the same signature see the same pages (the page cache shares their entries)."""
    return tuple(sorted((r.role, r.node_id or 0, r.organisation_id or 0) for r in person.roles))


def covers(scope: Scope, node: Node) -> bool:
    """Whether a scope's node is `node` itself or one of its ancestors."""
    if scope.level == "district":
        return True
    if scope.level == "neighbour":
        return node.id == scope.node_id
    if LEVELS.index(node.level) < LEVELS.index(scope.level):
        return False
    return getattr(node, f"{scope.level}_id") == scope.node_id


def node_inside(node: Node, top: Node) -> bool:
    """Whether `node` is `top` or lies below it (by the ancestor columns every node carries)."""
    if top.level == "district":
        return True
    if LEVELS.index(node.level) < LEVELS.index(top.level):
        return False
    return node.id == top.id if top.level == "neighbour" else getattr(node, f"{top.level}_id") == top.id


def can_see_node(person: Person, node: Node) -> bool:
    """A node is visible to anyone whose scope covers it."""
    return any(covers(s, node) for s in scopes(person))


def can_manage_role(person: Person, role: RoleAssignment) -> bool:
    """Manage (remove, issue a code for) a role: a higher manager role covering its node."""
    if role.role == "org_staff":
        return any(s.role == "district_admin" for s in scopes(person))
    rank = ROLE_RANK[role.role]
    return any(
        s.role in MANAGER_ROLES and (ROLE_RANK[s.role] > rank or s.role == "district_admin") and covers(s, role.node)
        for s in scopes(person)
    )


def can_manage_person(person: Person, other: Person) -> bool:
    """Disable, re-enable or reset someone else: only someone who manages every role they hold."""
    if other.id == person.id:
        return False
    if not other.roles:
        return any(s.role == "district_admin" for s in scopes(person))
    return all(can_manage_role(person, r) for r in other.roles)


def can_see_person(person: Person, other: Person) -> bool:
    """See someone's name and number: yourself, or anyone holding a role inside your scope."""
    if other.id == person.id:
        return True
    return any((r.node is not None and can_see_node(person, r.node)) or can_manage_role(person, r) for r in other.roles)


def can_issue_person_code(person: Person, other: Person) -> bool:
    """Issue one person a new one-time code (a new activation code, or a password-reset code once the account
    is active): whoever manages every role they hold — the community branch for the leaders of its community,
    a street or district admin for everyone below them; never yourself (you change your own password)."""
    return can_manage_person(person, other)


def can_issue_codes(person: Person, node: Node) -> bool:
    """Print activation codes for a node's leaders: managers whose scope covers the node."""
    return any(s.role in MANAGER_ROLES and covers(s, node) for s in scopes(person))


def can_import_roster(person: Person, node: Node | None = None) -> bool:
    """Load rosters: street and district admins, for rows inside their scope."""
    return any(s.role in ROSTER_ROLES and (node is None or covers(s, node)) for s in scopes(person))


def can_import_admin_rows(person: Person, node: Node | None = None) -> bool:
    """Roster rows that make 街镇 or 区 administrators: district admins only."""
    return any(s.role == "district_admin" for s in scopes(person))


def is_manager(person: Person) -> bool:
    """Holds any role that runs people."""
    return any(s.role in MANAGER_ROLES for s in scopes(person))


RULES = {
    "view_node": can_see_node,
    "view_person": can_see_person,
    "manage_person": can_manage_person,
    "manage_role": can_manage_role,
    "issue_codes": can_issue_codes,
    "issue_person_code": can_issue_person_code,
    "import_roster": can_import_roster,
    "import_admin_rows": can_import_admin_rows,
    "manage_people": lambda p, _=None: is_manager(p),
}


def allowed(person: Person, action: str, target=None) -> bool:
    """The policy's answer, without side effects."""
    # Anonymous visitors hold no role. (Not `is_authenticated`: Flask-Login ties that to is_active,
    # and a service may act for a leader who has not activated the account yet.)
    if person is None or getattr(person, "is_anonymous", True):
        return False
    rule = RULES[action]
    return rule(person, target) if target is not None else rule(person)


class _InOneRole:
    """A person seen through one of their roles only: what that role, by itself, may do."""

    is_anonymous = False

    def __init__(self, person: Person, role: RoleAssignment):
        self.id = person.id
        self.roles = [role]


def allowed_in_role(person: Person, role: RoleAssignment, action: str, target=None) -> bool:
    """The policy's answer for one role the person holds, as if it were their only one (the home page shows
    a card per role, with what that role offers; a branch member who is also a 邻长 triages from the branch's
    card, not the 邻长's)."""
    if person is None or getattr(person, "is_anonymous", True) or role.person_id != person.id:
        return False
    return allowed(_InOneRole(person, role), action, target)


def log_denial(person, action: str, target=None) -> None:
    """Denials are logged with who, what and where, for the audit trail."""
    who = getattr(person, "id", None)
    where = request.path if has_request_context() else "-"
    log.warning("access denied: person=%s action=%s target=%r path=%s", who, action, target, where)


def authorize(person: Person, action: str, target=None) -> None:
    """Abort with 403 (and log it) unless the policy allows the action."""
    if not allowed(person, action, target):
        log_denial(person, action, target)
        abort(403)


# --- issues -------------------------------------------------------------------------------------

# The handling level each node-bound role works at (邻长 at 邻 … district admin at 区).
# An issue's handling levels, bottom up; a role works at the level of the node it sits on.
HANDLING_ORDER = HANDLING_LEVELS
ISSUE_SCOPE_COLUMN = {
    "neighbour": "neighbour_id",
    "group": "group_id",
    "zone": "zone_id",
    "community": "community_id",
    "street": "street_id",
}


def _handling_rank(role: str) -> int:
    """0 for a 邻长 … 5 for a district admin (the handling level the role works at)."""
    return HANDLING_ORDER.index(ROLE_LEVEL[role])


def covers_issue(scope: Scope, issue) -> bool:
    """Whether a node scope contains the issue's 邻."""
    if scope.level == "district":
        return True
    return getattr(issue, ISSUE_SCOPE_COLUMN[scope.level]) == scope.node_id


def issue_roles(person: Person, issue) -> list[Scope]:
    """The person's node scopes that contain the issue."""
    return [s for s in scopes(person) if covers_issue(s, issue)]


def staff_of(person: Person, organisation_id: int | None) -> bool:
    """Works for the organisation (责任单位) the issue is assigned to."""
    return organisation_id is not None and any(
        r.role == "org_staff" and r.organisation_id == organisation_id for r in person.roles
    )


def can_see_issue(person: Person, issue) -> bool:
    """Leaders and staff whose scope contains the issue, and staff of the assigned organisation."""
    return bool(issue_roles(person, issue)) or staff_of(person, issue.assignee_org_id)


def can_file_in(person: Person, node) -> bool:
    """File an issue in a 邻: any node-bound role whose scope contains that 邻."""
    return node is not None and node.level == "neighbour" and can_see_node(person, node)


def handling_rank(person: Person, issue) -> int:
    """The highest handling level (as an index of HANDLING_ORDER) the person holds over the issue; -1 for none."""
    return max((_handling_rank(s.role) for s in issue_roles(person, issue)), default=-1)


def can_escalate_issue(person: Person, issue) -> bool:
    """Escalate: holders of the issue's current level or above, as long as there is a level above them."""
    level = HANDLING_ORDER.index(issue.level)
    top = len(HANDLING_ORDER) - 1
    return any(level <= _handling_rank(s.role) < top for s in issue_roles(person, issue))


def works_on(person: Person, issue) -> bool:
    """Staff of the organisation the issue is assigned to, once it has accepted (接单)."""
    return issue.assignment_state == "accepted" and staff_of(person, issue.assignee_org_id)


def can_handle_issue(person: Person, issue) -> bool:
    """Acknowledge, start, resolve: 组长 and above whose level has been reached, or the assigned staff once accepted."""
    level = HANDLING_ORDER.index(issue.level)
    return works_on(person, issue) or any(_handling_rank(s.role) >= max(level, 1) for s in issue_roles(person, issue))


def can_triage_issue(person: Person, issue) -> bool:
    """Reject, mark duplicate, close by hand, mark photos public: the community branch and above."""
    return any(_handling_rank(s.role) >= HANDLING_ORDER.index("community") for s in issue_roles(person, issue))


def can_record_callback(person: Person, issue) -> bool:
    """Record the resident callback (回访): the filing leader, the leader it was handed on to when the filer's
    role ended, or the 邻长 of the issue's 邻."""
    return person.id in (issue.filed_by_id, issue.callback_owner_id) or any(
        s.role == "neighbour_leader" and s.node_id == issue.neighbour_id for s in scopes(person)
    )


def can_withdraw_issue(person: Person, issue) -> bool:
    """Withdraw: the filer, or the branch and above."""
    return issue.filed_by_id == person.id or can_triage_issue(person, issue)


RULES.update(
    {
        "view_issue": can_see_issue,
        "comment_issue": can_see_issue,
        "file_issue": can_file_in,
        "escalate_issue": can_escalate_issue,
        "handle_issue": can_handle_issue,
        "triage_issue": can_triage_issue,
        "callback_issue": can_record_callback,
        "withdraw_issue": can_withdraw_issue,
        "file_any": lambda p, _=None: bool(scopes(p)),
    }
)


# --- fields of an issue --------------------------------------------------------------------------
#
# Everyone who may view an issue sees its place (小区, 楼栋, detail and coordinates), description, photos,
# comments, public updates and status changes: the assigned responsible party needs them to find and do the
# work. Two kinds of content are narrower. The resident's contact (name, phone) goes to the leaders and staff
# whose node scope contains the issue, and to the assigned party's staff once they have accepted it (接单) —
# not while the assignment waits, since they may decline it. The branch's internal notes and the callbacks
# (回访: the resident's own words to the 邻长) stay inside the governance structure: an external party's
# staff never see them (the status change a callback causes, with its neutral public note, they do see).
PRIVATE_EVENT_KINDS = ("internal_note", "callback")


def can_view_internal_notes(person: Person, issue) -> bool:
    """Read (and add) internal notes and read callback notes: node-scoped roles containing the issue only."""
    return bool(issue_roles(person, issue))


def can_view_resident_contact(person: Person, issue) -> bool:
    """The resident's name and phone: node-scoped roles containing the issue, and the party once it accepted."""
    return bool(issue_roles(person, issue)) or works_on(person, issue)


def can_view_event(person: Person, event, issue=None) -> bool:
    """Whether one timeline entry is shown to the person (who may already view its issue)."""
    return event.kind not in PRIVATE_EVENT_KINDS or can_view_internal_notes(person, issue or event.issue)


RULES.update(
    {
        "view_internal_notes": can_view_internal_notes,
        "add_internal_note": can_view_internal_notes,
        "view_resident_contact": can_view_resident_contact,
    }
)


# --- triage -------------------------------------------------------------------------------------

# Who runs a community's triage console (分拨台): its party branch and the admins above it.
TRIAGE_ROLES = ("branch_member", "street_admin", "district_admin")


def can_triage_community(person: Person, community: Node | None = None) -> bool:
    """Open a community's triage console; without a community: whether the person triages anywhere."""
    if community is None:
        return any(s.role in TRIAGE_ROLES for s in scopes(person))
    return community.level == "community" and any(
        s.role in TRIAGE_ROLES and covers(s, community) for s in scopes(person)
    )


def can_respond_assignment(person: Person, issue) -> bool:
    """Accept (接单) or decline an assignment: staff of the organisation while it waits for their answer."""
    return issue.assignment_state == "pending" and staff_of(person, issue.assignee_org_id)


def is_org_staff(person: Person, _=None) -> bool:
    """Works for at least one responsible party, so has an assignment queue."""
    return any(r.role == "org_staff" for r in person.roles)


def can_view_audit(person: Person, _=None) -> bool:
    """Read the audit log (操作日志) of their scope: branch members and street/district admins."""
    return is_manager(person)


RULES.update(
    {
        # Assign (派单), set priority, merge, send down: the same people who triage the issue.
        "assign_issue": can_triage_issue,
        "prioritise_issue": can_triage_issue,
        "send_down_issue": can_triage_issue,
        "respond_assignment": can_respond_assignment,
        "triage_console": can_triage_community,
        # A community's vacancies (空缺) with the work waiting there: the people who triage it, since they hand
        # that work on (without a community: whether the person sees any community's vacancies).
        "view_vacancies": can_triage_community,
        "org_queue": is_org_staff,
        "view_audit": can_view_audit,
        "follow_issue": can_see_issue,
    }
)


def staff_organisations(person: Person) -> list[int]:
    """The organisations the person works for."""
    return [r.organisation_id for r in person.roles if r.role == "org_staff"]


def key_covers(api_key, node: Node) -> bool:
    """An Open311 API key files only inside the node it is bound to."""
    scope = Scope("api_key", api_key.node.level, api_key.node_id)
    return covers(scope, node)


def audit_scope_condition(person: Person):
    """SQL condition on AuditEntry: the entries of issues inside the person's manager scopes."""
    from sqlalchemy import false, or_

    from .models import AuditEntry

    conditions = []
    for scope in scopes(person):
        if scope.role not in MANAGER_ROLES:
            continue
        if scope.level == "district":
            return None
        column = AuditEntry.street_id if scope.level == "street" else AuditEntry.community_id
        conditions.append(column == scope.node_id)
    return or_(*conditions) if conditions else false()


def issue_scope_condition(person: Person):
    """SQL condition on Issue selecting what the person may see (None: everything)."""
    from sqlalchemy import false, or_

    from .models import Issue

    conditions = []
    for scope in scopes(person):
        if scope.level == "district":
            return None
        conditions.append(getattr(Issue, ISSUE_SCOPE_COLUMN[scope.level]) == scope.node_id)
    orgs = [r.organisation_id for r in person.roles if r.role == "org_staff"]
    if orgs:
        conditions.append(Issue.assignee_org_id.in_(orgs))
    return or_(*conditions) if conditions else false()


# --- settings -----------------------------------------------------------------------------------


def _is_district_admin(person: Person) -> bool:
    return any(s.role == "district_admin" for s in scopes(person))


def _is_district_admin_rule(person: Person, _=None) -> bool:
    """District administrators only."""
    return _is_district_admin(person)


def can_edit_sla(person: Person, _=None) -> bool:
    """Edit the SLA policy (办理时限) for the whole district: district administrators."""
    return _is_district_admin(person)


def can_manage_categories(person: Person, _=None) -> bool:
    """Add, rename, reorder and deactivate problem categories: district administrators."""
    return _is_district_admin(person)


def can_view_jobs(person: Person, _=None) -> bool:
    """See the background jobs and retry failed ones: district administrators."""
    return _is_district_admin(person)


def can_manage_channels(person: Person, node: Node | None = None) -> bool:
    """The 企业微信 group robots of a node: managers (branch, street, district) whose scope covers it.

    Without a node: whether the person manages the robots of any node at all.
    """
    return any(s.role in MANAGER_ROLES and (node is None or covers(s, node)) for s in scopes(person))


def can_open_settings(person: Person, _=None) -> bool:
    """The settings index: anyone who may use at least one settings page."""
    return can_edit_sla(person) or can_manage_categories(person) or can_view_jobs(person) or can_manage_channels(person)


RULES.update(
    {
        "edit_sla": can_edit_sla,
        "manage_categories": can_manage_categories,
        "view_jobs": can_view_jobs,
        "manage_channels": can_manage_channels,
        "open_settings": can_open_settings,
        # Triage lists: rejection reasons, response templates, organisations and their communities.
        "manage_reject_reasons": _is_district_admin_rule,
        "manage_templates": _is_district_admin_rule,
        "manage_organisations": _is_district_admin_rule,
    }
)


def node_scope_condition(person: Person, roles=None):
    """SQL condition on Node: every node the person's scopes cover (only scopes of `roles` if given).

    The SQL twin of `covers`, for lists: true() for a district scope, false() for no scope at all.
    """
    from sqlalchemy import false, or_, true

    conditions = []
    for scope in scopes(person):
        if roles is not None and scope.role not in roles:
            continue
        if scope.level == "district":
            return true()
        column = Node.id if scope.level == "neighbour" else getattr(Node, f"{scope.level}_id")
        conditions.append(column == scope.node_id)
    return or_(*conditions) if conditions else false()


def managed_node_condition(person: Person):
    """SQL condition on Node selecting the nodes whose robots (and people) the person manages."""
    return node_scope_condition(person, MANAGER_ROLES)


# --- money --------------------------------------------------------------------------------------

# Who runs a project's money: the community branch and the street/district admins above it.
MONEY_ROLES = ("branch_member", "street_admin", "district_admin")
# Who may allow spending beyond the available balance (with a reason): admins above the community.
OVERRIDE_ROLES = ("street_admin", "district_admin")


def can_run_money(person: Person, project=None) -> bool:
    """See a project's ledger and record pledges, receipts, expenditures and reversals.

    Without a project: whether the person runs the money of any community at all.
    """
    if project is None:
        return any(s.role in MONEY_ROLES for s in scopes(person))
    node = project.community
    return any(s.role in MONEY_ROLES and covers(s, node) for s in scopes(person))


def can_override_overspend(person: Person, project=None) -> bool:
    """Record an expenditure beyond the project's available balance (with a reason): admins above it."""
    if project is None:
        return any(s.role in OVERRIDE_ROLES for s in scopes(person))
    node = project.community
    return any(s.role in OVERRIDE_ROLES and covers(s, node) for s in scopes(person))


RULES.update(
    {
        "view_ledger": can_run_money,
        "record_money": can_run_money,
        "override_overspend": can_override_overspend,
        # Which project phase covers an issue of the project's community: whoever runs its money.
        "link_issue_phase": can_run_money,
    }
)


def project_scope_condition(person: Person):
    """SQL condition on Project: the projects whose money the person runs."""
    from sqlalchemy import select

    from .models import Project

    return Project.community_id.in_(select(Node.id).where(node_scope_condition(person, MONEY_ROLES)))


# --- Open311 API keys ---------------------------------------------------------------------------

API_KEY_ROLES = ("street_admin", "district_admin")


def can_manage_api_keys(person: Person, node: Node | None = None) -> bool:
    """Issue and revoke Open311 API keys bound to a node: district admins, street admins inside their 街镇.

    Without a node: whether the person manages the keys of any node at all.
    """
    return any(s.role in API_KEY_ROLES and (node is None or covers(s, node)) for s in scopes(person))


RULES["manage_api_keys"] = can_manage_api_keys


# --- reports ------------------------------------------------------------------------------------


def can_view_reports(person: Person, _=None) -> bool:
    """Anyone who serves a node of the tree has reports: of that node and everything below it."""
    return bool(scopes(person))


RULES["view_reports"] = can_view_reports
# A node's report and its exports: exactly the nodes the person may see.
RULES["view_report"] = can_see_node


# --- editing the tree ---------------------------------------------------------------------------

# The levels whose nodes a community's branch edits (rename, move, merge, split): inside one community.
EDITABLE_LEVELS = ("zone", "group", "neighbour")
# Who may move a node from one community to another: an admin whose scope covers both.
ACROSS_COMMUNITY_ROLES = ("street_admin", "district_admin")


def can_edit_tree(person: Person, node: Node | None = None) -> bool:
    """Rename, move (inside the community), merge and split 片/组/邻: the community's party branch and the
    street or district admins covering it. 片长, 组长 and 邻长 run their nodes; they do not redraw them."""
    if node is None:
        return any(s.role in MANAGER_ROLES for s in scopes(person))
    return node.level in EDITABLE_LEVELS and any(s.role in MANAGER_ROLES and covers(s, node) for s in scopes(person))


def can_rename_node(person: Person, node: Node) -> bool:
    """Rename a node: 片/组/邻 as `edit_tree`; a community by a street or district admin above it; a 街镇
    by a district admin. Nobody renames the node their own role sits on from above it."""
    if node.level in EDITABLE_LEVELS:
        return can_edit_tree(person, node)
    if node.level == "community":
        return any(s.role in ACROSS_COMMUNITY_ROLES and covers(s, node) for s in scopes(person))
    if node.level == "street":
        return any(s.role == "district_admin" for s in scopes(person))
    return False


def can_move_across_communities(person: Person, places) -> bool:
    """Move a node between two places in different communities (`places` = (from, to), any nodes): a street
    admin covering both, or a district admin."""
    first, second = places
    return any(s.role in ACROSS_COMMUNITY_ROLES and covers(s, first) and covers(s, second) for s in scopes(person))


def can_move_node(person: Person, move) -> bool:
    """Move `node` under `new_parent` (`move` = (node, new_parent)): edit both ends; across communities, the
    admin rule above as well."""
    node, new_parent = move
    if not (can_edit_tree(person, node) and can_edit_tree(person, new_parent)):
        return False
    return node.community_id == new_parent.community_id or can_move_across_communities(person, (node, new_parent))


RULES.update(
    {
        "edit_tree": can_edit_tree,
        "rename_node": can_rename_node,
        "move_across_communities": can_move_across_communities,
        "move_node": can_move_node,
    }
)


# --- notices down the tree (上传下达) ----------------------------------------------------------------

# Who sends notices to the leaders under their node: 组长 and 片长 to theirs, the branch and the admins above.
NOTICE_SENDER_ROLES = ("group_leader", "zone_leader", "branch_member", "street_admin", "district_admin")


def can_send_notice(person: Person, node: Node | None = None) -> bool:
    """Send a notice to the leaders at and under `node`: a sending role whose scope covers it. Without a node:
    whether the person sends notices anywhere."""
    return any(s.role in NOTICE_SENDER_ROLES and (node is None or covers(s, node)) for s in scopes(person))


def can_view_notice_results(person: Person, notice) -> bool:
    """See who read and answered a notice (with their phones, to call): whoever may send to its place."""
    return can_send_notice(person, notice.node)


def can_read_notice(person: Person, target) -> bool:
    """Open a notice (`target` = (notice, the person's recipient row or None)): its recipients, and whoever
    may see its results."""
    notice, recipient = target
    return (recipient is not None and recipient.person_id == person.id) or can_view_notice_results(person, notice)


RULES.update(
    {
        "send_notice": can_send_notice,
        "view_notice_results": can_view_notice_results,
        "read_notice": can_read_notice,
        "receive_notices": lambda p, _=None: bool(scopes(p)),
    }
)


# --- door-to-door surveys (走访问卷) -----------------------------------------------------------------

# Who runs a survey campaign (writes the questionnaire, opens and closes it, reads every answer's text,
# publishes its counts): the community branch and the admins above it.
SURVEY_OWNER_ROLES = ("branch_member", "street_admin", "district_admin")


def can_run_survey(person: Person, node: Node | None = None) -> bool:
    """Run campaigns over the households at and under `node`; without a node: anywhere at all."""
    return any(s.role in SURVEY_OWNER_ROLES and (node is None or covers(s, node)) for s in scopes(person))


def can_view_survey(person: Person, campaign) -> bool:
    """See a campaign and its progress: whoever runs it, and every leader whose area lies inside its area or
    contains it (they visit its households, or oversee those who do)."""
    if can_run_survey(person, campaign.node):
        return True
    return any(r.node is not None and (node_inside(r.node, campaign.node) or can_see_node(person, campaign.node))
               for r in person.roles)  # fmt: skip


def can_visit_household(person: Person, neighbour: Node) -> bool:
    """Record a visit to a household of this 邻: anyone whose scope covers it (its 邻长, 组长, 片长, the branch)."""
    return can_see_node(person, neighbour)


RULES.update(
    {
        "run_survey": can_run_survey,
        "view_survey": can_view_survey,
        "visit_household": can_visit_household,
        # The answers' own words (free text, problems described) are for those who run the campaign.
        "read_survey_texts": lambda p, campaign: can_run_survey(p, campaign.node),
        "view_surveys": lambda p, _=None: bool(scopes(p)),
    }
)


# --- 亮身份 ----------------------------------------------------------------------------------------


def can_show_identity(person: Person, _=None) -> bool:
    """Choose to be named on the public pages of the compounds one serves: 片长, 组长 and 邻长."""
    return any(s.role in ("zone_leader", "group_leader", "neighbour_leader") for s in scopes(person))


RULES["show_identity"] = can_show_identity


# --- residents' reports (居民反映) --------------------------------------------------------------------

# Who stops a source of resident reports (and lets it send again): the community branch and the admins above.
REPORT_BLOCK_ROLES = MANAGER_ROLES


def can_handle_resident_report(person: Person, report) -> bool:
    """See a resident's report (their words, photos and phone) and confirm or decline it: every leader and
    manager whose area holds the report's 邻."""
    return can_see_node(person, report.neighbour)


def can_block_report_source(person: Person, report) -> bool:
    """Pause (or resume) the source of a report: the branch and the admins over its 邻."""
    return any(s.role in REPORT_BLOCK_ROLES and covers(s, report.neighbour) for s in scopes(person))


RULES.update(
    {
        "handle_resident_report": can_handle_resident_report,
        "block_report_source": can_block_report_source,
        "view_resident_reports": lambda p, _=None: bool(scopes(p)),
    }
)
