"""A budget of SQL statements for each page people open every day, on both engines.

Each page's request (login check included) is counted twice: over a world with more issues than a list
page shows, and again after twice as many (for the issue page: after ten more timeline entries). The
count must not grow with the rows — a later change cannot quietly add a query per row — and must stay
within the page's budget, which is today's count: raise it only with a reason in the commit.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from governance.extensions import db
from governance.models import Compound
from governance.services.issues.lifecycle import add_comment, transition
from governance.services.platform import jobs
from governance.services.public import page_cache
from tests.builders import category, force_status, make_compound, make_issue, make_role_holders, make_tree, nodes_at
from tests.conftest import Statements, csrf_from, hidden_value, settle_near_copy

# page → the most statements its request may send (today's count: see the module's description).
BUDGETS = {
    "home": 3,
    "issue_list": 8,
    "issue_page": 7,
    "triage": 13,
    # 12, and one grouped count of the residents' reports (一日内答复率) per area below.
    "report_month": 13,
    "report_year": 13,
    "filing": 17,
}


@pytest.fixture
def world(app):
    make_tree(zones=2, groups=2, neighbours=2)
    community = nodes_at("community")[0]
    make_compound(community, "普瑞斯堡", ("1栋", "2栋"))
    people = make_role_holders()
    category("road")
    category("light")
    return people


def add_issues(people, n: int) -> list:
    """n issues in the first 组, at every level up to the community, some with a few timeline entries."""
    group = people["group_leader"].roles[0].node  # every issue in everyone's scope
    neighbours = [node for node in nodes_at("neighbour") if node.group_id == group.id]
    issues = []
    for i in range(n):
        issue = make_issue(people["zone_leader"], neighbours[i % len(neighbours)], title=f"问题{i}")
        if i % 3 == 1:
            transition(people["zone_leader"], issue, "acknowledged")
            add_comment(people["zone_leader"], issue, "comment", "已联系物业")
        elif i % 3 == 2:
            force_status(issue, "acknowledged", "community")
        issues.append(issue)
    db.session.commit()
    jobs.dispatch()  # their follow-up jobs run now, not in the next request measured
    return issues


def statements(client, path: str) -> Statements:
    """The statements of one request that computes the page and reads the login (nothing kept in-process)."""
    page_cache.clear()
    with Statements() as sent:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return sent


def log_in(auth, person) -> None:
    assert auth.login(person.mobile).status_code == 302


def assert_flat(name: str, small: Statements, large: Statements) -> None:
    """The same number of statements over twice the rows, within the page's budget."""
    assert large.count == small.count, f"{name}: {small.count} → {large.count} statements\n{large}"
    assert large.count <= BUDGETS[name], f"{name}: {large.count} statements, budget {BUDGETS[name]}\n{large}"


@pytest.mark.parametrize(
    "page, role",
    [
        *(("issue_list", role) for role in ("group_leader", "zone_leader", "district_admin")),
        *(("home", role) for role in ("neighbour_leader", "zone_leader", "branch_member", "district_admin")),
    ],
)
def test_lists_and_home(world, client, auth, page, role):
    path = {"issue_list": "/issues/", "home": "/"}[page]
    add_issues(world, 30)
    log_in(auth, world[role])
    small = statements(client, path)
    add_issues(world, 30)
    assert_flat(page, small, statements(client, path))


def test_issue_page(world, client, auth):
    (issue,) = add_issues(world, 1)
    leader = world["zone_leader"]
    transition(leader, issue, "acknowledged")
    db.session.commit()
    log_in(auth, leader)
    small = statements(client, f"/issues/{issue.id}")
    for n in range(10):
        add_comment(leader, issue, "comment" if n % 2 else "internal_note", f"第{n}次跟进")
    db.session.commit()
    assert_flat("issue_page", small, statements(client, f"/issues/{issue.id}"))


def test_triage_console(world, client, auth):
    add_issues(world, 30)
    log_in(auth, world["branch_member"])
    path = f"/triage/community/{nodes_at('community')[0].id}"
    small = statements(client, path)
    add_issues(world, 30)
    assert_flat("triage", small, statements(client, path))


@pytest.mark.parametrize("period", ["month", "year"])
def test_report_page(world, client, auth, period):
    add_issues(world, 30)
    log_in(auth, world["district_admin"])
    path = f"/reports/{nodes_at('district')[0].id}?period={period}"
    small = statements(client, path)
    add_issues(world, 30)
    assert_flat(f"report_{period}", small, statements(client, path))


def filer_of(world, auth):
    """Logs the 邻长 in; returns a function that files one problem through the form and the statements its
    POST sent."""
    leader = world["neighbour_leader"]
    log_in(auth, leader)
    neighbour = next(r.node for r in leader.roles if r.node is not None)
    # The place as the form sends it: a 小区 of the 邻's 社区 and one of its buildings.
    compound = db.session.scalar(select(Compound).where(Compound.community_id == neighbour.community_id))
    client = auth.client

    def file_one(title: str) -> Statements:
        html = client.get("/file/").get_data(as_text=True)
        key = hidden_value(html, "idempotency_key")
        data = {
            "csrf_token": csrf_from(html),
            "idempotency_key": key,
            "category": str(category("road").id),
            "title": title,
            "description": "雨后积水",
            "neighbour": str(neighbour.id),
            "compound": str(compound.id),
            "building": str(compound.buildings[0].id),
            "place_detail": "3栋门口",
            "urgency": "normal",
            "confirm_different": "y",
        }
        with Statements() as sent:
            response = client.post("/file/", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return sent

    return file_one


def test_filing(world, client, auth):
    """Filing's statements do not depend on how many issues exist already (after a worker's first filing,
    which reads the categories and the SLA hours it keeps)."""
    file_one = filer_of(world, auth)
    file_one("第零个")
    small = file_one("第一个")
    add_issues(world, 30)
    assert_flat("filing", small, file_one("第二个"))


def test_every_statement_of_a_filing_is_one_psycopg_converts_once(world, redis_app, client, auth):
    """psycopg turns a statement's text into PostgreSQL's form once and keeps it — but for a statement over 4 KB
    or with more than 50 parameters, which it works out again on every run (its _queries.py): 4 % of a filing's
    CPU, when its one statement was 5 KB with 71 parameters. Its constants are now written into its text
    (locks.constant); a column added to the issue, the rollup or the job must keep it within both."""
    from psycopg import _queries

    file_one = filer_of(world, auth)
    file_one("第一个")
    sent = []

    def seen(_conn, _cursor, statement, parameters, *_args):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        file_one("第二个")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert sent
    for statement, parameters in sent:
        size, count = len(statement.encode()), len(parameters or ())
        assert size <= _queries.MAX_CACHED_STATEMENT_LENGTH, (size, statement[:200])
        assert count <= _queries.MAX_CACHED_STATEMENT_PARAMS, (count, statement[:200])


def test_filing_with_redis_is_one_transaction(world, redis_app, client, auth):
    """As in production (Redis: the follow-up job is queued, not run): one commit and, on SQLite, 8 statements —
    the login, the 邻's lock, the issue, its reference, rollup, event, follower and job; on PostgreSQL 2, the
    login and one statement with the sequence's id that locks the 邻 (sharing it with other filings) and writes
    the issue, event, follower, rollup and job. The categories, the SLA
    hours and the 社区's 小区 and buildings (the filing names one of each) are kept in the worker, and the key is
    looked up only by the INSERT. The job's row is written as queued, so its hand-over after the commit writes
    nothing (it was a second transaction), and the issue goes in by INSERT … ON CONFLICT DO NOTHING, with no
    savepoint around it (on PostgreSQL with its reference, never rewritten by an UPDATE)."""
    file_one = filer_of(world, auth)
    file_one("第一个")
    settle_near_copy(redis_app)  # the worker keeps values once its announcement channel has answered
    file_one("第一个半")
    commits = []

    def committed(connection):
        commits.append(connection)

    event.listen(db.engine, "commit", committed)
    try:
        sent = file_one("第二个")
    finally:
        event.remove(db.engine, "commit", committed)
    assert sent.count <= (2 if db.engine.dialect.name == "postgresql" else 8), str(sent)
    assert len(commits) == 1 and not any(s.startswith("UPDATE job") for s in sent.statements), str(sent)
    if db.engine.dialect.name == "postgresql":  # the id comes first from the sequence: the row is written once
        assert not any(s.startswith("UPDATE issue") for s in sent.statements), str(sent)
