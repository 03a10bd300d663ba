"""Filing throughput and SLA-sweep time over the full-size demo world, each beside a bare baseline.

    .venv/bin/python benchmarks/bench_issues.py [--engines sqlite,postgresql] [--filings 1000] [--overdue 20000]

For each engine it builds a fresh database (SQLite file in a temp dir; PostgreSQL database of its
own on 127.0.0.1, dropped afterwards), loads the full demo world, then measures:

- filing: `file_issue` + one commit per issue (what a request does, minus HTTP) vs. a bare
  single-row INSERT + commit of the same row;
- filing over HTTP: the real form POST through the Flask test client (CSRF, validation, render of
  the redirect) vs. a GET of /healthz on the same client;
- the sweep: `sla.sweep()` escalating N overdue issues (timeline events and the batched fan-out job
  included) vs. a bare indexed SELECT + UPDATE of the same rows (rolled back before the real run).

Figures are printed as a table with ratios against the baselines measured in the same run, and
written as JSON to benchmarks/results/. Nothing here is a test: numbers on a 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import bare_sweep, build_app, build_demo, client_login, fresh_database, timed  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from governance.extensions import db  # noqa: E402
from governance.models import OPEN_STATUSES, Category, Issue, Node, Person, RoleAssignment, utcnow  # noqa: E402


def neighbour_leaders(limit: int) -> list[tuple[Person, Node]]:
    """Leaders and their 邻, to file as."""
    rows = db.session.execute(
        select(Person, Node)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .join(Node, Node.id == RoleAssignment.node_id)
        .where(RoleAssignment.role == "neighbour_leader")
        .order_by(Node.id)
        .limit(limit)
    ).all()
    return [(person, node) for person, node in rows]


def issue_row(category_id: int, title: str, person: Person, node: Node) -> dict:
    """A bare issue row as filing would write it (without its timeline and jobs)."""
    now = utcnow()
    return {
        "category_id": category_id,
        "title": title,
        "description": "",
        "place_detail": "",
        "urgency": "normal",
        "resident_name": "",
        "resident_phone": "",
        "filed_by_id": person.id,
        "neighbour_id": node.id,
        "group_id": node.group_id,
        "zone_id": node.zone_id,
        "community_id": node.community_id,
        "street_id": node.street_id,
        "status": "reported",
        "level": "neighbour",
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def bench_filing(app, count: int) -> dict:
    """Service filing, one commit each, vs a bare single-row insert + commit."""
    from governance.services.issues.lifecycle import IssueInput, file_issue

    with app.app_context():
        leaders = neighbour_leaders(count)
        category_id = db.session.scalar(select(Category.id).limit(1))
        started = time.perf_counter()
        for index, (person, node) in enumerate(leaders):
            data = IssueInput(category_id=category_id, title=f"基准测试 {index}", neighbour_id=node.id)
            file_issue(person, data, idempotency_key=f"bench-{index}")
            db.session.commit()
        service = time.perf_counter() - started
        rows = [issue_row(category_id, f"裸插入 {index}", person, node) for index, (person, node) in enumerate(leaders)]
        started = time.perf_counter()
        for row in rows:
            db.session.execute(insert(Issue), [row])
            db.session.commit()
        bare = time.perf_counter() - started
    return {"filed": len(leaders), "service_per_s": len(leaders) / service, "bare_per_s": len(leaders) / bare}


def bench_http_filing(app, count: int) -> dict | None:
    """The real filing form over the test client vs GET /healthz; None until the form exists."""
    if "filing.new" not in app.view_functions:
        return None
    from governance.demo import DEMO_LOGINS

    login = next(entry for entry in DEMO_LOGINS if entry["key"] == "neighbour_leader")
    client = client_login(app, login["mobile"], login["password"])
    form_html = client.get("/file/").get_data(as_text=True)
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', form_html))
    category = re.search(r'<option value="(\d+)"', form_html)[1]
    # The 邻长's own 邻 is the selected option of the 邻 select.
    neighbour_select = form_html[form_html.index('name="neighbour"') :]
    fields["neighbour"] = re.search(r'<option[^>]*value="(\d+)"', neighbour_select)[1]
    started = time.perf_counter()
    for index in range(count):
        data = {
            **fields,
            "category": category,
            "title": f"表单基准 {index}",
            "urgency": "normal",
            "idempotency_key": uuid.uuid4().hex,
            "confirm_different": "y",
        }
        response = client.post("/file/", data=data)
        if response.status_code not in (302, 303):
            return {"error": f"form answered {response.status_code}"}
    form = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        client.get("/healthz")
    health = time.perf_counter() - started
    return {"posts": count, "form_per_s": count / form, "healthz_per_s": count / health}


def add_open_issues(count: int) -> None:
    """Bulk-insert `count` open issues at the 邻 level (the demo's own open issues are too few to sweep)."""
    leaders = neighbour_leaders(count)
    category_id = db.session.scalar(select(Category.id).limit(1))
    rows = [issue_row(category_id, f"待清扫 {index}", *leaders[index % len(leaders)]) for index in range(count)]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(Issue), rows[start : start + 5000])
    db.session.commit()


def bench_sweep(app, overdue: int) -> dict:
    """The sweep over N overdue issues vs a bare indexed select + update of the same rows."""
    from governance.services.issues import sla

    with app.app_context():
        add_open_issues(overdue)
        ids = list(
            db.session.scalars(
                select(Issue.id)
                .where(Issue.status.in_(OPEN_STATUSES), Issue.level != "district")
                .order_by(Issue.id)
                .limit(overdue)
            )
        )
        past = utcnow() - timedelta(hours=1)
        for start in range(0, len(ids), 5000):
            db.session.execute(
                update(Issue).where(Issue.id.in_(ids[start : start + 5000])).values(next_deadline_at=past)
            )
        db.session.commit()
        bare, _rows = bare_sweep(utcnow())
    with app.app_context():
        seconds, result = timed(sla.sweep)
    return {"overdue": len(ids), "sweep_s": seconds, "bare_s": bare, "escalated": result["escalated"]}


def run_engine(engine: str, filings: int, overdue: int) -> dict:
    """Every measurement on one engine, on a database of its own."""
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = fresh_database(engine, Path(workdir))
        try:
            app = build_app(url, Path(workdir))
            load_seconds = build_demo(app, 1.0)
            with app.app_context():
                issues = db.session.scalar(select(db.func.count()).select_from(Issue))
            figures = {"engine": engine, "demo_load_s": load_seconds, "demo_issues": issues}
            figures["filing"] = bench_filing(app, filings)
            figures["http_filing"] = bench_http_filing(app, min(filings, 300))
            figures["sweep"] = bench_sweep(app, overdue)
            with app.app_context():
                db.engine.dispose()
            return figures
        finally:
            drop()


def report(results: list[dict]) -> str:
    """A plain-text table of the figures and their ratios to the baselines."""
    lines = [f"{'measure':<44}{'engine':<12}{'value':>14}{'baseline':>14}{'ratio':>9}"]
    for r in results:
        f, s = r["filing"], r["sweep"]
        lines.append(f"{'demo world load (s)':<44}{r['engine']:<12}{r['demo_load_s']:>14.2f}{'':>14}{'':>9}")
        lines.append(
            f"{'filing, service + commit (issues/s)':<44}{r['engine']:<12}{f['service_per_s']:>14.1f}"
            f"{f['bare_per_s']:>14.1f}{f['service_per_s'] / f['bare_per_s']:>9.2f}"
        )
        h = r.get("http_filing")
        if h and "form_per_s" in h:
            lines.append(
                f"{'filing, form POST via test client (req/s)':<44}{r['engine']:<12}{h['form_per_s']:>14.1f}"
                f"{h['healthz_per_s']:>14.1f}{h['form_per_s'] / h['healthz_per_s']:>9.2f}"
            )
        lines.append(
            f"{'sweep of ' + str(s['overdue']) + ' overdue issues (s)':<44}{r['engine']:<12}{s['sweep_s']:>14.2f}"
            f"{s['bare_s']:>14.2f}{s['sweep_s'] / s['bare_s']:>9.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the options, run each engine, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--filings", type=int, default=1000)
    parser.add_argument("--overdue", type=int, default=20000)
    args = parser.parse_args()
    results = [run_engine(engine, args.filings, args.overdue) for engine in args.engines.split(",")]
    print(report(results))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"issues-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
