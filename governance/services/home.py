"""What the home page offers each role."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_babel import gettext as _

from .. import policy
from ..models import Person
from .people.tree import node_path


def role_label(role: str) -> str:
    """The role's name in the interface language."""
    labels = {
        "neighbour_leader": _("Neighbour leader (邻长)"),
        "group_leader": _("Group leader (组长)"),
        "zone_leader": _("Zone leader (片长)"),
        "branch_member": _("Community party branch"),
        "street_admin": _("Street administrator"),
        "district_admin": _("District administrator"),
        "org_staff": _("Responsible party staff"),
    }
    return labels[role]


def issue_links(person: Person, node_id: int | None) -> list[tuple[str, str]]:
    """File an issue (once the filing pages exist), the issues of the role's area, and the inbox."""
    links = []
    if node_id is not None and "filing.new" in current_app.view_functions and policy.allowed(person, "file_any"):
        links.append((_("File an issue"), url_for("filing.new")))
    links.append((_("Issues"), url_for("issues.index", node=node_id) if node_id else url_for("issues.index")))
    links.append((_("Inbox"), url_for("inbox.index")))
    return links


def triage_url(node) -> str:
    """A branch goes straight to its community's console; street and district admins choose a community."""
    if node.level == "community":
        return url_for("triage.console", community_id=node.id)
    return url_for("triage.index")


@dataclass
class Card:
    """One role on the home page: where it applies and the links it opens."""

    title: str
    where: str
    links: list[tuple[str, str]] = field(default_factory=list)


def home_cards(person: Person) -> list[Card]:
    """One card per role, with the actions that role may take today."""
    cards = []
    for role in person.roles:
        if role.node is not None:
            where = " / ".join(n.name for n in node_path(role.node))
            links = [(_("My area"), url_for("tree.node", node_id=role.node_id))]
            links += issue_links(person, role.node_id)
            if role.role in policy.TRIAGE_ROLES and policy.allowed(person, "triage_console"):
                links.append((_("Triage console"), triage_url(role.node)))
            if policy.allowed(person, "issue_codes", role.node):
                links.append((_("Activation codes"), url_for("admin.codes", node_id=role.node_id)))
            if role.role in policy.MANAGER_ROLES:
                links.append((_("People"), url_for("admin.people_list")))
            if role.role in policy.ROSTER_ROLES:
                links.append((_("Import a roster"), url_for("roster.upload")))
        else:
            where = role.organisation.name
            links = issue_links(person, None)
            if role.role == "org_staff" and policy.allowed(person, "org_queue"):
                links.insert(0, (_("Assignments"), url_for("triage.org_queue")))
        # Settings (SLA, categories, jobs, group robots): managers whose role's node the policy lets them manage.
        if role.role in policy.MANAGER_ROLES and policy.allowed(person, "manage_channels", role.node):
            links.append((_("Settings"), url_for("settings.index")))
        cards.append(Card(role_label(role.role), where, links))
    return cards
