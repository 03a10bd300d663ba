"""Start the app on the embedded default: SQLite, jobs in-process, the demo world loaded.

    python run.py [--port 5000]

The first start creates instance/governance.sqlite3, runs the migrations and loads the full-size
demo world (printing how long it took); later starts reuse the database and start at once.

With no Redis there are no worker processes: jobs run in this process, and a daemon thread runs the
periodic round (SLA sweep, job relay, nightly checks — what `python -m governance.worker periodic` runs in
production) every minute.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from governance import create_app
from governance.logredact import QuietRequestHandler
from governance.worker import run_periodic


def prepare(app) -> None:
    """Migrate the database and load the demo world if it is not there yet."""
    from flask_migrate import upgrade

    from governance.demo import DEMO_LOGINS, demo_loaded, load_demo_world
    from governance.extensions import db

    with app.app_context():
        upgrade()
        if demo_loaded():
            print("Database ready (demo world already loaded).")
        else:
            print("Loading the full-size demo world (first start only)…", flush=True)
            started = time.perf_counter()
            stats = load_demo_world(scale=app.config["DEMO_SCALE"])
            db.session.commit()
            print(f"Demo world loaded in {time.perf_counter() - started:.1f} s: {stats}")
        print("Demo logins (mobile / password):")
        for login in DEMO_LOGINS:
            print(f"  {login['label']:<28} {login['mobile']} / {login['password']}")


def start_periodic(app, interval: float | None = None) -> tuple[threading.Thread, threading.Event]:
    """Run the periodic round (governance.worker.run_periodic) in a daemon thread; set the returned event
    to stop it. A failed round is logged and the next one runs as usual."""
    stop = threading.Event()
    thread = threading.Thread(target=run_periodic, args=(app, stop, interval), name="governance-periodic", daemon=True)
    thread.start()
    return thread, stop


def main() -> None:
    """Parse --port, prepare the database, start the periodic work without Redis, serve on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    args = parser.parse_args()
    app = create_app()
    prepare(app)
    if app.config.get("REDIS_URL"):
        print("REDIS_URL is set: run `python -m governance.worker work --with-scheduler` and")
        print("`python -m governance.worker periodic` for the background work (see Procfile).")
    else:
        start_periodic(app)
        print("No Redis: the SLA sweep and the job relay run in this process every minute.")
    print(f"Serving on http://{args.host}:{args.port}/", flush=True)
    # No versions in the Server header, no Open311 api_key in the request log (governance/logredact.py).
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False, request_handler=QuietRequestHandler)


if __name__ == "__main__":
    main()
