"""The triage console's first page over the full-size demo world, beside GET /healthz on the same client.

    .venv/bin/python benchmarks/bench_triage.py [--engines sqlite,postgresql] [--runs 20]

For each engine it builds a fresh database (helpers of bench_issues.py), loads the full demo world,
logs in through the real form as the demo branch member (普瑞斯堡's community, 金湾社区) and as a
branch member of the community with the most issues (made for the run), then times GET
/triage/community/<id> (the default view: open issues that reached the community, tabs with counts,
the first 50 rows and the response-times panel) through the Flask test client: the first request
after login and the median of N more, beside the median of N GET /healthz. Prints ms and ratios and
writes JSON to benchmarks/results/. Nothing here is a test: numbers on a 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import build_app, build_demo, client_login, fresh_database, timed  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from governance.extensions import db  # noqa: E402
from governance.models import Issue, Node, Person, RoleAssignment, utcnow  # noqa: E402

BIG_MOBILE, BIG_PASSWORD = "13999990001", "bench-password-1"


login = client_login


def largest_community() -> tuple[Node, int]:
    """The community with the most issues, and how many."""
    community_id, count = db.session.execute(
        select(Issue.community_id, func.count()).group_by(Issue.community_id).order_by(func.count().desc()).limit(1)
    ).one()
    return db.session.get(Node, community_id), count


def add_branch_member(community: Node) -> None:
    """A branch member of the community, with a password the benchmark knows."""
    person = Person(
        name="基准支部",
        mobile=BIG_MOBILE,
        password_hash=generate_password_hash(BIG_PASSWORD),
        activated_at=utcnow(),
    )
    db.session.add(person)
    db.session.flush()
    db.session.add(RoleAssignment(person_id=person.id, role="branch_member", node_id=community.id))
    db.session.commit()


def measure(client, url: str, runs: int) -> dict:
    """First request and the median of `runs` more, in ms (each must answer 200)."""
    first, response = timed(client.get, url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        seconds, response = timed(client.get, url)
        assert response.status_code == 200, (url, response.status_code)
        times.append(seconds * 1000)
    return {"first_ms": first * 1000, "median_ms": statistics.median(times), "max_ms": max(times)}


def chooser_plan() -> list[str]:
    """The query plan of the district admin's community list counts (open issues per community)."""
    from governance.services.triage.queries import community_counts

    ids = list(db.session.scalars(select(Node.id).where(Node.level == "community")))
    statements = []

    def listener(conn, cursor, statement, params, context, many):
        """Keep each statement sent, to explain the first one."""
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        community_counts(ids, utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    statement, params = statements[0]
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    return [" ".join(str(v) for v in row) for row in rows]


def run_engine(engine: str, runs: int) -> dict:
    """Load the demo world into a fresh database of the engine and time the consoles."""
    from governance.demo import DEMO_LOGINS

    demo = next(entry for entry in DEMO_LOGINS if entry["key"] == "branch_member")
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = fresh_database(engine, Path(workdir))
        try:
            app = build_app(url, Path(workdir))
            load_seconds = build_demo(app, 1.0)
            with app.app_context():
                big, big_issues = largest_community()
                add_branch_member(big)
                demo_role = db.session.scalar(
                    select(RoleAssignment)
                    .join(Person, Person.id == RoleAssignment.person_id)
                    .where(Person.mobile == demo["mobile"], RoleAssignment.role == "branch_member")
                )
                demo_community = demo_role.node_id
                demo_issues = db.session.scalar(
                    select(func.count()).select_from(Issue).where(Issue.community_id == demo_community)
                )
                big_id, big_name = big.id, big.name
                demo_name = db.session.get(Node, demo_community).name
            figures = {"engine": engine, "demo_load_s": load_seconds, "runs": runs}
            client = login(app, demo["mobile"], demo["password"])
            figures["healthz"] = measure(client, "/healthz", runs)
            figures["demo_console"] = {
                "community": demo_name,
                "issues": demo_issues,
                **measure(client, f"/triage/community/{demo_community}", runs),
            }
            client = login(app, BIG_MOBILE, BIG_PASSWORD)
            figures["big_console"] = {
                "community": big_name,
                "issues": big_issues,
                **measure(client, f"/triage/community/{big_id}", runs),
            }
            figures["big_console_all"] = measure(client, f"/triage/community/{big_id}?reach=all&status=all", runs)
            admin = next(entry for entry in DEMO_LOGINS if entry["key"] == "district_admin")
            client = login(app, admin["mobile"], admin["password"])
            figures["chooser"] = measure(client, "/triage/", runs)
            with app.app_context():
                figures["chooser_plan"] = chooser_plan()
            with app.app_context():
                db.engine.dispose()
            return figures
        finally:
            drop()


def report(results: list[dict]) -> str:
    """A plain-text table: ms of each page and its ratio to /healthz measured in the same run."""
    lines = [f"{'measure':<58}{'engine':<12}{'first ms':>10}{'median ms':>11}{'× healthz':>11}"]
    for r in results:
        health = r["healthz"]["median_ms"]
        rows = [
            ("GET /healthz", r["healthz"]),
            (f"console, {r['demo_console']['community']} ({r['demo_console']['issues']} issues)", r["demo_console"]),
            (f"console, {r['big_console']['community']} ({r['big_console']['issues']} issues)", r["big_console"]),
            ("  the same, every level and status", r["big_console_all"]),
            ("district admin's community list with counts (/triage/)", r["chooser"]),
        ]
        for label, m in rows:
            lines.append(
                f"{label:<58}{r['engine']:<12}{m['first_ms']:>10.1f}{m['median_ms']:>11.1f}"
                f"{m['median_ms'] / health:>11.1f}"
            )
    for r in results:
        lines.append(f"\nplan of the community list's open counts ({r['engine']}):")
        lines += [f"  {line}" for line in r["chooser_plan"]]
    return "\n".join(lines)


def main() -> None:
    """Parse the options, run each engine, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    results = [run_engine(engine, args.runs) for engine in args.engines.split(",")]
    print(report(results))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"triage-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
