"""The public 小区 page (普瑞斯堡) under gunicorn, beside a minimal Flask "hello world" served the same way.

    .venv/bin/python benchmarks/bench_public.py [--engines sqlite,postgresql] [--seconds 10] [--threads 8]
                                                [--scale 1.0] [--redis]

For each engine it builds the demo world in a fresh database (a temp SQLite file; a throwaway
PostgreSQL database), starts gunicorn (2 sync workers, 127.0.0.1 only) on the app and measures GET
/p/compound/<普瑞斯堡> for --seconds with a small threaded http.client load generator (a new connection
per request: sync workers do not keep connections alive), then does the same for a one-route Flask
app under the same gunicorn settings. Prints requests/s, p50 and p99 and the ratio, and writes JSON to
benchmarks/results/. The page is served from the public cache (in-process per worker, or Redis with
--redis), refreshed at most every 60 s, which is what residents hit. Numbers on a small machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import HELLO, build_app, build_demo, free_port, fresh_database, load, production_env, serve, stop  # noqa: E402


def build_world(url: str, scale: float) -> str:
    """Migrate, load the demo world and return the path of the 普瑞斯堡 page."""
    from sqlalchemy import select

    from governance import demo
    from governance.extensions import db
    from governance.models import Compound

    app = build_app(url)
    seconds = build_demo(app, scale)
    print(f"  demo world (scale {scale}) loaded in {seconds:.1f} s", flush=True)
    with app.app_context():
        compound_id = db.session.scalar(select(Compound.id).where(Compound.name == demo.PRUISBURG))
        db.engine.dispose()
    return f"/p/compound/{compound_id}"


def run_engine(engine: str, options, workdir: Path) -> dict:
    url, drop = fresh_database(engine, workdir)
    try:
        print(f"[{engine}] building the demo world…", flush=True)
        path = build_world(url, options.scale)
        env = production_env(url, options.redis)
        port = free_port()
        app = serve(["governance:create_app()"], env, ROOT, port)
        try:
            page = load(port, path, options.seconds, options.threads)
        finally:
            stop(app)
        (workdir / "hello.py").write_text(HELLO)
        port = free_port()
        hello = serve(["hello:app"], {**os.environ}, workdir, port)
        try:
            baseline = load(port, "/", options.seconds, options.threads)
        finally:
            stop(hello)
        return {"engine": engine, "path": path, "page": page, "hello": baseline, "ratio": page["rps"] / baseline["rps"]}
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite", help="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0, help="demo world size (1.0: the whole district)")
    parser.add_argument("--redis", action="store_true", help="cache public pages in Redis (REDIS_URL or local)")
    options = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
        for engine in options.engines.split(","):
            results.append(run_engine(engine.strip(), options, Path(tmp)))
    print()
    print(f"gunicorn, 2 sync workers, {options.threads} client threads, {options.seconds:.0f} s each")
    print(f"{'engine':<11} {'page':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for result in results:
        for label, data in ((f"public {result['path']}", result["page"]), ("hello world /", result["hello"])):
            print(
                f"{result['engine']:<11} {label:<34} {data['rps']:>8.0f} {data['p50_ms']:>8.1f} "
                f"{data['p99_ms']:>8.1f} {data['errors']:>7}"
            )
        print(f"{result['engine']:<11} {'ratio public / hello':<34} {result['ratio']:>8.2f}")
    out = ROOT / "benchmarks" / "results" / time.strftime("public-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"options": vars(options), "results": results}, indent=2))
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
