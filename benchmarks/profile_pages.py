"""Where a daily page's time goes: SQL statements, in-process time and a cProfile of each page.

    .venv/bin/python benchmarks/profile_pages.py [--engine sqlite|postgresql] [--db PATH] [--runs 30]
                                                [--top 25] [--pages issue_list,report,...] [--sort tottime]

Loads the full demo world into a fresh database (or, with --db PATH on SQLite, reuses the file when it
exists, so repeated profiles skip the load), logs in as the demo accounts through the real form and, for
each page, prints the statements one request sends, the median time of --runs requests through the Flask
test client beside GET /healthz on the same client, and the top functions of a cProfile over the runs.
This is the "profile first" half of the page benchmarks (bench_full.py measures them under gunicorn);
nothing here is a test.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pages import forget_redis_keys  # noqa: E402
from common import CSRF, build_app, build_demo, client_login, fresh_database, production_env  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from governance.demo.tree import DEMO_LOGINS  # noqa: E402
from governance.extensions import db  # noqa: E402
from governance.models import Building, Compound, Issue, Node, Person, RoleAssignment  # noqa: E402

LOGINS = {entry["key"]: entry for entry in DEMO_LOGINS}
CALLERS: list[str] = []  # --callers: functions whose callers are printed too
PREFIX = f"profile-{uuid.uuid4().hex[:8]}:"  # this run's Redis keys (with --redis), deleted at the end


def login(app, key: str | None):
    """A test client logged in as a demo account (key None: an anonymous visitor)."""
    if key is None:
        return app.test_client()
    return client_login(app, LOGINS[key]["mobile"], LOGINS[key]["password"])


def role_node(key: str, role: str) -> int:
    return db.session.scalar(
        select(RoleAssignment.node_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(Person.mobile == LOGINS[key]["mobile"], RoleAssignment.role == role)
    )


def pages(app) -> dict:
    """name → (login key, method, path, body maker or None)."""
    with app.app_context():
        zone = role_node("zone_leader", "zone_leader")
        community = role_node("branch_member", "branch_member")
        neighbour = role_node("neighbour_leader", "neighbour_leader")
        issue_id = db.session.scalar(
            select(Issue.id).where(Issue.zone_id == zone).order_by(Issue.created_at.desc()).limit(1)
        )
        district = db.session.scalar(select(Node.id).where(Node.level == "district"))
        category = db.session.scalar(select(func.min(Issue.category_id)))
        compound = db.session.scalar(select(Compound.id).where(Compound.name == "普瑞斯堡"))
        # The filing's place, as the form sends it: the 邻's 小区 (the form chooses it) and one of its buildings.
        own = db.session.get(Node, neighbour)
        place = own.compound_id or db.session.scalar(
            select(func.min(Compound.id)).where(Compound.community_id == own.community_id)
        )
        building = db.session.scalar(select(func.min(Building.id)).where(Building.compound_id == place))

    def filing_body(client):
        token = CSRF.search(client.get("/file/").get_data(as_text=True))[1]
        return {
            "csrf_token": token,
            "category": str(category),
            "title": f"剖析上报 {uuid.uuid4().hex[:6]}",
            "description": "楼道灯不亮",
            "neighbour": str(neighbour),
            "compound": str(place),
            "building": str(building),
            "place_detail": "3单元",
            "urgency": "normal",
            "idempotency_key": uuid.uuid4().hex,
            "confirm_different": "y",
        }

    return {
        "home_zone": ("zone_leader", "GET", "/", None),
        "issue_list_group": ("group_leader", "GET", "/issues/", None),
        "issue_list_zone": ("zone_leader", "GET", "/issues/", None),
        "issue_list_district": ("district_admin", "GET", "/issues/", None),
        "issue_page": ("zone_leader", "GET", f"/issues/{issue_id}", None),
        "triage": ("branch_member", "GET", f"/triage/community/{community}", None),
        "report_month": ("district_admin", "GET", f"/reports/{district}?period=month", None),
        "report_year": ("district_admin", "GET", f"/reports/{district}?period=year", None),
        "filing": ("neighbour_leader", "POST", "/file/", filing_body),
        "public": (None, "GET", f"/p/compound/{compound}", None),
    }


def request(client, method: str, path: str, body):
    if method == "GET":
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    else:
        response = client.post(path, data=body(client))
        assert response.status_code in (302, 303), (path, response.status_code, response.get_data(as_text=True)[:500])
    return response


def statements_of(app, client, method, path, body, runs: int = 1) -> list[tuple[str, float]]:
    """The statements one request sends, each with its median time in the database driver (ms) over `runs`
    requests (the same statements each time)."""
    sent: list[tuple[str, float]] = []
    started: list[float] = []

    def before(_conn, _cursor, statement, *_args):
        started.append(time.perf_counter())

    def after(_conn, _cursor, statement, *_args):
        sent.append((statement, (time.perf_counter() - started.pop()) * 1000))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    times: list[list[float]] = []
    statements: list[str] = []
    try:
        for _ in range(runs):
            fields = body(client) if body is not None else None  # the form GET is not the POST's cost
            sent.clear()
            if fields is not None:
                response = client.post(path, data=fields)
                assert response.status_code in (302, 303), response.status_code
            else:
                request(client, method, path, body)
            statements = [statement for statement, _ms in sent]
            times.append([ms for _statement, ms in sent])
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    medians = [statistics.median(run[n] for run in times if n < len(run)) for n in range(len(statements))]
    return list(zip(statements, medians, strict=True))


def median_ms(client, method, path, body, runs: int) -> float:
    times = []
    for _ in range(runs):
        fields = body(client) if body is not None else None
        started = time.perf_counter()
        if fields is not None:
            client.post(path, data=fields)
        else:
            client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def profile(client, method, path, body, runs: int, top: int, sort: str) -> str:
    profiler = cProfile.Profile()
    for _ in range(runs):
        fields = body(client) if body is not None else None
        profiler.enable()
        if fields is not None:
            client.post(path, data=fields)
        else:
            client.get(path)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
    stats.print_stats(top)
    for name in CALLERS:
        stats.print_callers(name)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--db", default=None, help="SQLite file to reuse (built when missing)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--pages", default="")
    parser.add_argument("--callers", default="", help="comma-separated function names: print who calls them")
    parser.add_argument("--statements", action="store_true", help="print every statement of each page")
    parser.add_argument(
        "--redis", action="store_true", help="with Redis, as in production (follow-up jobs are queued, not run)"
    )
    options = parser.parse_args()
    CALLERS.extend(name for name in options.callers.split(",") if name)
    with tempfile.TemporaryDirectory() as workdir:
        if options.db and options.engine == "sqlite":
            url, drop, fresh = f"sqlite:///{options.db}", (lambda: None), not Path(options.db).exists()
        else:
            (url, drop), fresh = fresh_database(options.engine, Path(workdir)), True
        try:
            settings = {}
            if options.redis:
                settings = {"REDIS_URL": production_env("", redis=True)["REDIS_URL"], "REDIS_PREFIX": PREFIX}
            app = build_app(url, Path(workdir), **settings)
            if fresh:
                print(f"demo world loaded in {build_demo(app, 1.0):.1f} s", flush=True)
                with app.app_context():
                    if db.engine.dialect.name == "postgresql":
                        db.session.execute(text("ANALYZE"))  # as autovacuum would soon after a load
                        db.session.commit()
            chosen = pages(app)
            if options.pages:
                chosen = {name: chosen[name] for name in options.pages.split(",")}
            clients = {}
            for name, (who, method, path, body) in chosen.items():
                client = clients.get(who) or clients.setdefault(who, login(app, who))
                for _ in range(3):
                    request(client, method, path, body)  # warm: caches, the first request's imports
                sent = statements_of(app, client, method, path, body, runs=max(1, min(options.runs, 50)))
                healthz = median_ms(client, "GET", "/healthz", None, options.runs)
                ms = median_ms(client, method, path, body, options.runs)
                print(f"\n=== {name}: {method} {path} as {who}")
                ratio = ms / healthz
                print(f"{len(sent)} statements; median {ms:.1f} ms (GET /healthz {healthz:.2f} ms, ×{ratio:.0f})")
                if options.statements:
                    for n, (statement, ms) in enumerate(sent, 1):
                        print(f"  {n}. {ms:.3f} ms  {' '.join(statement.split())[:300]}")
                print(profile(client, method, path, body, options.runs, options.top, options.sort))
        finally:
            with app.app_context():
                db.engine.dispose()
            drop()
            if options.redis:
                forget_redis_keys(PREFIX)


if __name__ == "__main__":
    main()
