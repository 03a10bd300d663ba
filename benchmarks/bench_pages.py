"""The daily pages under gunicorn, each beside a Flask hello world served the same way in the same run.

    .venv/bin/python benchmarks/bench_pages.py [--engines sqlite,postgresql] [--issues 0] [--seconds 5]
                                               [--threads 8] [--pages issue_list_zone,report_month,...]

For each engine: a fresh database with the full demo world (plus `--issues` issues of history over three
years through the app's loader, with the rollups rebuilt), and on PostgreSQL an ANALYZE, then gunicorn with
2 sync workers on 127.0.0.1 (with Redis, as in production: follow-up jobs are queued, not run in the
request) and `--threads` client threads for `--seconds` per page. A hello world is
measured before and after the pages; each page's ratio is its requests/s over the mean of the two. The
pages are the targets of the speed work (README, Performance):

- a leader's issue list, first page, no filter: 组长, 片长, district admin
- the issue page as the 片长 handling it (the newest issue at their 片)
- the triage console of the community with the most issues, as a branch member there
- the home page (片长)
- the district report page, this month and this year (district admin), whose figures are kept in the page
  cache for up to a minute; and, one request at a time, as the first reader after a change sees it (each
  request after a bump of the tree's cache generation, so the figures are computed) — the issue lists, the
  issue page, the triage console and the home page too
- the home page and the 片长's issue list again while other leaders log in and get messages (a thread commits
  OTHERS_PER_SECOND of those a second, announced to the workers through Redis, as the district does all day)
- filing through the form as the 邻长 (a fresh idempotency key per POST; every POST must make one issue)
  and again as 16 邻长s of 16 社区 in turn (one 邻长's filings wait for each other at their 邻's lock)
- the public 小区 page of 普瑞斯堡 (cached, a visitor without a cookie); and, one request at a time, that page as
  the first visitor after a change to one of its issues sees it, and the district's page after a change anywhere

Prints a table (req/s, p50, p99, ratio, the machine's CPU per request, target, pass/fail) and writes JSON to
benchmarks/results/pages-*.json. Numbers on a 2-core machine shared with other work are noisy; the ratios come
from the same run. The CPU column is every process's (server, database, Redis, this load generator): with
the cores saturated a page's rate is the cores over it, and it moves less from run to run than the rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_triage import BIG_MOBILE, BIG_PASSWORD, add_branch_member, largest_community  # noqa: E402
from common import (  # noqa: E402
    HELLO,
    build_app,
    build_demo,
    free_port,
    fresh_database,
    http_login,
    load,
    load_filings,
    production_env,
    serve,
    stop,
)
from sqlalchemy import func, select, text  # noqa: E402

from governance.demo.tree import DEMO_LOGINS, DEMO_PASSWORD  # noqa: E402
from governance.extensions import db  # noqa: E402
from governance.models import Compound, Issue, LoginSession, Node, Person, RoleAssignment, utcnow  # noqa: E402

LOGINS = {entry["key"]: entry for entry in DEMO_LOGINS}
# Filing as one 邻长 measures their 社区's rollup row (and on SQLite the one writer), held by each filing until it
# commits, so two workers filing for the same 邻 and category wait for each other (the 邻's own lock is shared
# between filings); the district's filings come from 15,659 邻长s at once. The second filing row sends the POSTs of
# this many 邻长s in turn, each in another 社区.
SPREAD_FILERS = 16
# name → (what, target ratio to hello world, p99 target in ms or None)
TARGETS = {
    "issue_list_group": ("组长's issue list /issues/", 0.25, None),
    "issue_list_zone": ("片长's issue list /issues/", 0.25, None),
    "issue_list_district": ("district admin's issue list /issues/", 0.25, None),
    "issue_page": ("issue page as the handling 片长", 0.2, None),
    "triage": ("triage console, largest community", 0.15, None),
    "home": ("home page (片长)", 0.3, None),
    "report_month": ("district report, this month", 0.05, 300),
    "report_year": ("district report, this year", 0.05, 300),
    "filing": ("filing POST /file/ (issues made/s)", 0.1, None),
    "filing_many": (f"  the same, {SPREAD_FILERS} 邻长s of {SPREAD_FILERS} 社区", 0.1, None),
    "public": ("public 小区 page (cached)", 0.6, 50),
}

# The rows printed under a page's own: (key suffix, what).
AFTER_A_CHANGE = (
    ("_after_change", "  the same, first reader after a change"),
    ("_district_after_change", "  the district's page, after a change"),
)
# Pages read again while other people work, as the district does all day: a thread commits, OTHERS_PER_SECOND
# times a second, another leader's login or inbox message (each a commit through the app, announced to the
# workers through Redis). Someone else's activity must leave the reader's kept parts kept, so the rate should
# stay the quiet one's, less the writer's own CPU (it shares the cores). Same targets as the quiet rows.
WHILE_OTHERS_WORK = ("home", "issue_list_zone")
OTHERS_PER_SECOND = 20
BUSY = "_while_others_work"


def add_history(app, n: int) -> dict:
    """n issues of history over three years through the app's loader, rollups rebuilt, ANALYZE on PostgreSQL."""
    from governance.demo import history

    started = time.perf_counter()
    with app.app_context():
        history.load(n, years=3, now=utcnow(), rebuild=False)
        db.session.commit()
    with app.app_context():
        history.rebuild_rollups()
        db.session.commit()
    analyze(app)
    return {"issues": n, "seconds": round(time.perf_counter() - started, 1)}


def analyze(app) -> None:
    """PostgreSQL: table statistics, as autovacuum gathers within a minute of a load (without them the
    planner guesses 25 rows per status and sorts where it would walk an index)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def spread_filers(n: int) -> list[str]:
    """The mobiles of n 邻长s, each of a 邻 of a 小区 in another 社区, given the demo password (the demo world
    gives one to its named accounts only)."""
    from werkzeug.security import generate_password_hash

    neighbours = select(RoleAssignment.person_id, Node.community_id).join(Node, Node.id == RoleAssignment.node_id)
    neighbours = neighbours.where(RoleAssignment.role == "neighbour_leader", Node.compound_id.is_not(None))
    neighbours = neighbours.order_by(Node.community_id, Node.id)
    chosen: dict[int, int] = {}
    for person_id, community_id in db.session.execute(neighbours):
        chosen.setdefault(community_id, person_id)
        if len(chosen) == n:
            break
    people = db.session.scalars(select(Person).where(Person.id.in_(chosen.values()))).all()
    password = generate_password_hash(DEMO_PASSWORD)
    for person in people:
        person.password_hash, person.enabled = password, True
        person.activated_at = person.activated_at or utcnow()
    db.session.commit()
    return [person.mobile for person in people]


def setup(app) -> dict:
    """The ids the pages need, and a branch member of the largest community."""
    with app.app_context():
        big, big_issues = largest_community()
        if not db.session.scalar(select(Person.id).where(Person.mobile == BIG_MOBILE)):
            add_branch_member(big)
        zone = db.session.scalar(
            select(RoleAssignment.node_id)
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(Person.mobile == LOGINS["zone_leader"]["mobile"], RoleAssignment.role == "zone_leader")
        )
        return {
            "community": big.id,
            "community_issues": big_issues,
            "district": db.session.scalar(select(Node.id).where(Node.level == "district")),
            "issue": db.session.scalar(
                select(Issue.id)
                .where(Issue.zone_id == zone, Issue.level == "zone")
                .order_by(Issue.created_at.desc())
                .limit(1)
            )
            or db.session.scalar(select(Issue.id).where(Issue.zone_id == zone).order_by(Issue.id.desc()).limit(1)),
            "compound": db.session.scalar(select(Compound.id).where(Compound.name == "普瑞斯堡")),
            "issues": db.session.scalar(select(func.count()).select_from(Issue)),
            "filers": spread_filers(SPREAD_FILERS),
        }


def forget_redis_keys(prefix: str) -> None:
    """Delete the run's keys (its queue and jobs carry the prefix, with ':' as '-' in job ids)."""
    import redis

    client = redis.Redis.from_url(production_env("", redis=True)["REDIS_URL"])
    for pattern in (f"{prefix}*", f"*{prefix.replace(':', '-')}*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


def hello_world(url: str, workdir: Path, seconds: float, threads: int) -> dict:
    """The baseline: a Flask hello world under the same gunicorn, loaded the same way."""
    port = free_port()
    hello = serve(["hello:app"], production_env(url), workdir, port)
    try:
        return load(port, "/", seconds, threads)
    finally:
        stop(hello)


def measure_pages(app, url: str, ids: dict, seconds: float, threads: int, chosen: list[str]) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    (workdir / "hello.py").write_text(HELLO)
    out: dict = {"hello_before": hello_world(url, workdir, seconds, threads)}
    port = free_port()
    # With Redis, as in production: a request hands its follow-up jobs to the queue (no worker runs them
    # here; their keys are deleted afterwards) instead of running them itself as it does without Redis.
    env = production_env(url, redis=True)
    server = serve(["governance:create_app()"], env, ROOT, port)
    try:
        cookies = {key: http_login(port, entry["mobile"], entry["password"]) for key, entry in LOGINS.items()}
        cookies["branch"] = http_login(port, BIG_MOBILE, BIG_PASSWORD)
        gets = {
            "issue_list_group": ("group_leader", "/issues/"),
            "issue_list_zone": ("zone_leader", "/issues/"),
            "issue_list_district": ("district_admin", "/issues/"),
            "issue_page": ("zone_leader", f"/issues/{ids['issue']}"),
            "triage": ("branch", f"/triage/community/{ids['community']}"),
            "home": ("zone_leader", "/"),
            "report_month": ("district_admin", f"/reports/{ids['district']}?period=month"),
            "report_year": ("district_admin", f"/reports/{ids['district']}?period=year"),
            "public": (None, f"/p/compound/{ids['compound']}"),
        }
        for name in chosen:
            if name.startswith("filing"):
                continue
            who, path = gets[name]
            headers = {"Cookie": cookies[who]} if who else {}
            print(f"  {name}: GET {path}", flush=True)
            out[name] = {"path": path, **load(port, path, seconds, threads, headers=headers)}
            if name in WHILE_OTHERS_WORK:
                print(f"  {name} while others work: GET {path}", flush=True)
                readers = {LOGINS[who]["mobile"]} if who in LOGINS else set()
                with others_working(url, env["REDIS_PREFIX"], readers) as others:
                    busy = load(port, path, seconds, threads, headers=headers)
                out[name + BUSY] = {"path": path, **busy, "others_writes": others["writes"]}
            if name.startswith(("report_", "issue_list_", "issue_page", "triage", "home")):
                print(f"  {name} after a change: GET {path}", flush=True)
                out[name + "_after_change"] = {"path": path, **after_a_change(port, path, headers, env["REDIS_PREFIX"])}
            if name == "public":
                # The first visitor after a change to an issue of the 小区 computes its page; any change in the
                # district does the same to the district's page (its tag is on every issue).
                for key, page_path, tag in (
                    ("public_after_change", path, f"compound:{ids['compound']}"),
                    ("public_district_after_change", "/p/", "district"),
                ):
                    print(f"  {key}: GET {page_path}", flush=True)
                    out[key] = {"path": page_path, **after_a_change(port, page_path, {}, env["REDIS_PREFIX"], tag)}
        if "filing" in chosen:
            print("  filing: POST /file/", flush=True)
            filing = load_filings(app, port, [cookies["neighbour_leader"]], seconds, threads)
            out["filing"] = {"path": "POST /file/", **filing}
        if "filing_many" in chosen:
            print(f"  filing as {len(ids['filers'])} 邻长s: POST /file/", flush=True)
            filers = [http_login(port, mobile, DEMO_PASSWORD) for mobile in ids["filers"]]
            out["filing_many"] = {"path": "POST /file/", **load_filings(app, port, filers, seconds, threads)}
    finally:
        stop(server)
        forget_redis_keys(env["REDIS_PREFIX"])
    out["hello_after"] = hello_world(url, workdir, seconds, threads)
    return out


@contextmanager
def others_working(url: str, prefix: str, readers: set[str]):
    """A thread committing other leaders' logins and inbox messages (OTHERS_PER_SECOND a second) through an app
    on the same database and Redis namespace as the served one, never touching the `readers` (mobiles); yields a
    dict whose "writes" counts the commits."""
    from governance.services.platform import notify

    app = build_app(url, REDIS_URL=production_env("", redis=True)["REDIS_URL"], REDIS_PREFIX=prefix)
    stop_writing = threading.Event()
    done = {"writes": 0}

    def write() -> None:
        with app.app_context():
            others = db.session.scalars(
                select(Person.id).where(Person.mobile.not_in(readers)).order_by(Person.id).limit(500)
            ).all()
            turn = 0
            while not stop_writing.wait(1 / OTHERS_PER_SECOND):
                person_id = others[turn % len(others)]
                if turn % 2:
                    db.session.add(LoginSession(token_hash=uuid.uuid4().hex, person_id=person_id))
                else:
                    message = {"person_id": person_id, "kind": "handover", "text": "压测消息"}
                    notify.insert_ignoring_duplicates([message])
                db.session.commit()
                done["writes"] += 1
                turn += 1
            db.engine.dispose()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield done
    finally:
        stop_writing.set()
        writer.join()


def after_a_change(port: int, path: str, headers: dict, prefix: str, tag: str = "tree", n: int = 20) -> dict:
    """A cached page as the first reader after a change sees it: before each request the generation of `tag` is
    bumped (what a committed change does) — by default the tree's, which every kept staff part (report figures,
    lists, console, home cards, issue page) is kept under — so every request computes the page. One request at a
    time: this is the page's latency when it is not cached, not a throughput."""
    import redis

    client = redis.Redis.from_url(production_env("", redis=True)["REDIS_URL"])
    latencies = []
    for _ in range(n):
        client.incr(f"{prefix}pub:gen:{tag}")
        client.publish(f"{prefix}pub:announce", tag)  # every worker's own copy hears of it (near_cache.py)
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "identity", **headers})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        finally:
            conn.close()
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "requests": n,
        "rps": n / sum(latencies),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(n - 1, round(0.99 * (n - 1)))] * 1000,
        "sequential": True,
    }


def run_engine(engine: str, options) -> dict:
    chosen = [name for name in (options.pages.split(",") if options.pages else TARGETS) if name]
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        url, drop = fresh_database(engine, Path(tmp))
        try:
            app = build_app(url, Path(tmp))
            print(f"[{engine}] demo world…", flush=True)
            result = {"engine": engine, "demo_load_s": round(build_demo(app, 1.0), 1)}
            analyze(app)
            if options.issues:
                print(f"[{engine}] {options.issues:,} issues of history…", flush=True)
                result["history"] = add_history(app, options.issues)
            result["ids"] = setup(app)
            print(f"[{engine}] gunicorn…", flush=True)
            result["pages"] = measure_pages(app, url, result["ids"], options.seconds, options.threads, chosen)
            with app.app_context():
                db.engine.dispose()
        finally:
            drop()
    return result


def cpu_ms(*runs: dict) -> str:
    """The machine's CPU per request of these runs (their mean), or blank for runs measured before it was."""
    values = [run["cpu_ms"] for run in runs if "cpu_ms" in run]
    return f"{sum(values) / len(values):>8.2f}" if values else f"{'':>8}"


def table(results: list[dict]) -> str:
    head = (
        f"{'page':<42}{'engine':<11}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'hello':>9}{'ratio':>8}{'cpu ms':>8}"
        f"  {'target':<24}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        pages = r["pages"]
        hello = (pages["hello_before"]["rps"] + pages["hello_after"]["rps"]) / 2
        lines.append(
            f"{'hello world (before / after)':<42}{r['engine']:<11}"
            f"{pages['hello_before']['rps']:>9.0f}{'':>9}{pages['hello_after']['p99_ms']:>9.1f}{pages['hello_after']['rps']:>9.0f}"
            f"{'':>8}{cpu_ms(pages['hello_before'], pages['hello_after'])}"
        )
        for name, (what, ratio_target, p99_target) in TARGETS.items():
            if name not in pages:
                continue
            page = pages[name]
            rps = page["rps"]
            if name.startswith("filing"):
                rps = page["issues_created"] / max(page["requests"] + 2, 1) * page["rps"]
            ratio = rps / hello
            ok = ratio >= ratio_target and (p99_target is None or page["p99_ms"] <= p99_target)
            target = f"≥ {ratio_target}×" + (f", p99 ≤ {p99_target}" if p99_target else "")
            width = 42 - sum(1 for c in what if ord(c) > 0x2E80)  # a CJK character takes two columns
            lines.append(
                f"{what:<{width}}{r['engine']:<11}{rps:>9.1f}{page['p50_ms']:>9.1f}{page['p99_ms']:>9.1f}"
                f"{hello:>9.0f}{ratio:>8.3f}{cpu_ms(page)}  {target:<24}{'pass' if ok else 'FAIL'}"
            )
            if name + BUSY in pages:
                page = pages[name + BUSY]
                ratio = page["rps"] / hello
                ok = ratio >= ratio_target
                what = f"  the same, others writing {page['others_writes'] / page['seconds']:.0f}/s"
                lines.append(
                    f"{what:<42}{r['engine']:<11}{page['rps']:>9.1f}{page['p50_ms']:>9.1f}{page['p99_ms']:>9.1f}"
                    f"{hello:>9.0f}{ratio:>8.3f}{cpu_ms(page)}  {target:<24}{'pass' if ok else 'FAIL'}"
                )
            for suffix, what in AFTER_A_CHANGE:
                if name + suffix in pages:
                    page = pages[name + suffix]
                    lines.append(
                        f"{what:<42}{r['engine']:<11}{'':>9}{page['p50_ms']:>9.1f}{page['p99_ms']:>9.1f}"
                        f"{'':>9}{'':>8}  {'(one at a time, computed)':<24}"
                    )
    return "\n".join(lines) + "\n\n" + cpu_parts_table(results)


def cpu_parts_table(results: list[dict]) -> str:
    """The machine's CPU per request of each page measured under load, by part (common.cpu_by_part): which
    process a page's time goes to — the app's workers, the database server, Redis, the load generator."""
    parts = ("app", "database", "redis", "client", "other")
    head = f"{'CPU ms a request, by part':<42}{'engine':<11}" + "".join(f"{part:>9}" for part in parts)
    lines = [head, "-" * len(head)]
    for r in results:
        for name, page in r["pages"].items():
            split = page.get("cpu_ms_by_part")
            if split:
                cells = "".join(f"{split.get(part, 0.0):>9.2f}" for part in parts)
                lines.append(f"{name:<42}{r['engine']:<11}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--issues", type=int, default=0, help="issues of history added to the demo world")
    parser.add_argument("--seconds", type=float, default=5.0, help="load time per page")
    parser.add_argument("--threads", type=int, default=8, help="client threads of the load generator")
    parser.add_argument("--pages", default="", help="comma-separated subset of: " + ",".join(TARGETS))
    parser.add_argument("--label", default="", help="a name for this run in the JSON (e.g. 'before')")
    options = parser.parse_args()
    results = [run_engine(engine.strip(), options) for engine in options.engines.split(",")]
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"pages-{options.label + '-' if options.label else ''}{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"options": vars(options), "results": results}, indent=2, default=str))
    print()
    print(
        f"bench_pages: demo world + {options.issues:,} issues, gunicorn 2 sync workers, {options.threads} client "
        f"threads, {options.seconds:.0f} s per page; {time.strftime('%Y-%m-%d %H:%M')} {options.label}"
    )
    print(table(results))
    print(f"written: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
