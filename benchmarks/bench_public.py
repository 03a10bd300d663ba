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
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_issues import fresh_database  # noqa: E402

GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync", "--log-level", "warning"]
HELLO = """from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""
SECRET = "bench-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_world(url: str, scale: float) -> str:
    """Migrate, load the demo world and return the path of the 普瑞斯堡 page."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from governance import create_app
    from governance.extensions import db
    from governance.models import Compound
    from governance.services import demo

    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        demo.load_demo_world(scale=scale)
        db.session.commit()
        print(f"  demo world (scale {scale}) loaded in {time.perf_counter() - started:.1f} s", flush=True)
        compound_id = db.session.scalar(select(Compound.id).where(Compound.name == demo.PRUISBURG))
        db.engine.dispose()
    return f"/p/compound/{compound_id}"


def serve(args: list[str], env: dict, cwd: Path, port: int) -> subprocess.Popen:
    """Start gunicorn and wait until it answers."""
    process = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", *args], cwd=cwd, env=env, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}") from None
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def load(port: int, path: str, seconds: float, threads: int) -> dict:
    """GET `path` from `threads` threads for `seconds`; every answer must be 200."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[index] += 1
                    continue
            except OSError:
                errors[index] += 1
                continue
            finally:
                conn.close()
            latencies[index].append(time.perf_counter() - started)

    # Warm up: the first request of each worker renders the page (and imports templates).
    for _ in range(4):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        assert conn.getresponse().status == 200
        conn.close()
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    times = sorted(t for chunk in latencies for t in chunk)
    if not times:
        raise RuntimeError(f"no successful request to {path}")
    return {
        "requests": len(times),
        "errors": sum(errors),
        "rps": len(times) / elapsed,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
    }


def run_engine(engine: str, options, workdir: Path) -> dict:
    url, drop = fresh_database(engine, workdir)
    try:
        print(f"[{engine}] building the demo world…", flush=True)
        path = build_world(url, options.scale)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "GOVERNANCE_ENV": "production",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0") if options.redis else "",
            "REDIS_PREFIX": f"bench{os.getpid()}:",
        }
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
