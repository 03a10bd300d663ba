"""Every route, every parameter it reads, hostile values: the answer is never a 5xx (nor a crash).

Walks the URL map as tests/test_access.py does (its `fill` and `build_world`), on both engines, as
the district admin (the widest scope: every view gets past its access check and reads its input)
and anonymously. Which query and form parameters a view reads is not listed by hand: a first
request records every name the view looks up (request.args, request.form, request.values and the
forms built from them), then each hostile value is sent in every one of those names at once, with
a valid CSRF token on POSTs. Path arguments get real ids (so the view runs), then hostile values.
Each route gets the values that once crashed pages and two others in turn, one request per value
(every parameter at once), not the cross product: about 4,000 requests per engine.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

from governance.extensions import db
from governance.models import (
    ApiKey,
    Category,
    Job,
    LedgerEntry,
    NotificationChannel,
    Organisation,
    Photo,
    RejectReason,
    ResponseTemplate,
    RoleAssignment,
)
from tests.builders import make_compound, make_issue, make_project, make_source, nodes_at
from tests.conftest import csrf_from
from tests.test_access import PUBLIC_ENDPOINTS, build_world, fill

# Sent to every route: the values that once crashed pages.
CORE = [
    "99999999999999999999",
    "2147483648",  # one past PostgreSQL's INTEGER
    "9223372036854775808",  # one past SQLite's
    "١٢٣",  # Arabic-Indic digits: int() reads them as 123
    "/\r\nSet-Cookie: x=1",
    "9" * 5000,  # past Python's 4,300-digit int() limit
]
# Two of these per route, in turn, so that each reaches every kind of view without the cross product.
EXTRA = ["-1", "0", "１２", "a\x00b", "长" * 3000, ""]


def hostile_for(index: int) -> list[str]:
    """The values the index-th route gets: every core value and two others."""
    return CORE + [EXTRA[(2 * index) % len(EXTRA)], EXTRA[(2 * index + 1) % len(EXTRA)]]


# POSTs that would end the session the rest of the run needs.
SKIP_SIGNED_IN = {("auth.logout", "POST")}
# /healthz answers 503 when the database, Redis or the periodic round is not well: that is its job.
DELIBERATE_5XX = {"main.healthz": {503}}
# Names every form carries that the run sets itself.
OWN_FIELDS = {"csrf_token", "_probe"}


class RecordingDict(ImmutableMultiDict):
    """Query strings and forms that note every name a view looks up."""

    read: set[str] = set()

    def __getitem__(self, key):
        RecordingDict.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        RecordingDict.read.add(key)
        return super().__contains__(key)

    def get(self, key, *args, **kwargs):
        RecordingDict.read.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        RecordingDict.read.add(key)
        return super().getlist(key, *args, **kwargs)


def fuzz_world() -> dict[str, str]:
    """The access test's world plus an issue, a project with a ledger entry and a 小区: real path values."""
    people = build_world()
    community = nodes_at("community")[0]
    issue = make_issue(people["neighbour_leader"])
    project = make_project(community)
    source = make_source(project)
    entry = LedgerEntry(project_id=project.id, kind="receipt", amount_fen=100, source_id=source.id)
    db.session.add(entry)
    compound = make_compound(community)
    db.session.commit()
    admin = people["district_admin"]
    other = people["zone_leader"]

    def first(model) -> str:
        return str(db.session.scalar(db.select(model.id).order_by(model.id)) or 1)

    values = {
        "issue_id": str(issue.id),
        "project_id": str(project.id),
        "entry_id": str(entry.id),
        "node_id": str(community.id),
        "community_id": str(community.id),
        "compound_id": str(compound.id),
        "person_id": str(other.id),
        "role_id": str(db.session.scalar(db.select(RoleAssignment.id).where(RoleAssignment.person_id == other.id))),
        "category_id": first(Category),
        "reason_id": first(RejectReason),
        "template_id": first(ResponseTemplate),
        "organisation_id": first(Organisation),
        "channel_id": first(NotificationChannel),
        "job_id": first(Job),
        "key_id": first(ApiKey),
        "photo_id": first(Photo),
        "reference": issue.reference,
        "request_id": issue.reference,
        "to_status": "acknowledged",
        "step": "assign",
        "code": "zh",
        "fmt": "json",
        "table": "children",
        "token": "x" * 20,
        "rest": "x",
        "filename": "css/app.css",
    }
    values["_admin"] = admin.mobile  # who signs in for the second walk
    return values


class Run:
    """One walk over the URL map with one client; every crash and 5xx is kept, to be listed at the end."""

    def __init__(self, client, real: dict[str, str]):
        self.client, self.real, self.failures = client, real, []

    def send(self, method: str, url: str, fields: dict[str, str], token: str, endpoint: str) -> None:
        RecordingDict.read = set()
        try:
            if method == "GET":
                status = self.client.get(url, query_string=fields).status_code
            else:
                status = self.client.post(url, data={**fields, "csrf_token": token}).status_code
        except Exception as crash:  # noqa: BLE001 - TESTING propagates exceptions: a 500 arrives as a raise
            db.session.rollback()
            status = repr(crash)[:120]
        if not isinstance(status, int) or (status >= 500 and status not in DELIBERATE_5XX.get(endpoint, ())):
            shown = {k: v[:30] for k, v in fields.items() if k != "_probe"}
            self.failures.append(f"{method} {url[:80]} {shown} -> {status}")


def path_variants(rule, real: dict[str, str], values: list[str]):
    """The URL with real values, then with each hostile value in one argument at a time."""
    yield fill(rule, real)
    for name in rule.arguments - set(rule.defaults or {}):
        converter = rule._converters[name]  # noqa: SLF001 - werkzeug keeps a rule's converters here
        hostile = ["2147483648", "١"] if isinstance(converter, IntegerConverter) else values  # one converter
        for value in hostile:
            yield fill(rule, {**real, name: quote(value, safe="")})


def fuzz_every_route(run: Run, signed_in: bool) -> None:
    client, real = run.client, run.real
    token = csrf_from(client.get("/" if signed_in else "/auth/login").get_data(as_text=True))
    for index, rule in enumerate(client.application.url_map.iter_rules()):
        if rule.endpoint == "static":
            continue
        if not signed_in and rule.endpoint not in PUBLIC_ENDPOINTS:
            # Refused before the view runs (tests/test_access.py); one hostile request each suffices.
            for method in sorted(rule.methods & {"GET", "POST"}):
                run.send(method, fill(rule, real), {"page": CORE[0]}, token, rule.endpoint)
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            if signed_in and (rule.endpoint, method) in SKIP_SIGNED_IN:
                continue
            values = hostile_for(index)
            urls = list(path_variants(rule, real, values))
            run.send(method, urls[0], {"_probe": "1"}, token, rule.endpoint)
            names = RecordingDict.read - OWN_FIELDS
            for value in values:
                run.send(method, urls[0], {**dict.fromkeys(names, value), "_probe": "1"}, token, rule.endpoint)
                names |= RecordingDict.read - OWN_FIELDS  # a view may read more once it gets further
            for url in urls[1:]:
                run.send(method, url, {}, token, rule.endpoint)


@pytest.fixture
def recording(monkeypatch, app):
    monkeypatch.setattr(app.request_class, "parameter_storage_class", RecordingDict)


def test_no_route_answers_5xx_to_hostile_input(app, client, auth, recording):
    run = Run(client, fuzz_world())
    fuzz_every_route(run, signed_in=False)
    auth.login(run.real["_admin"])
    assert client.get("/").status_code == 200
    fuzz_every_route(run, signed_in=True)
    assert client.get("/").status_code == 200  # still signed in: no route ended the session midway
    assert not run.failures, "\n".join(["5xx or crash:", *run.failures])
