"""Start the app on the embedded default: SQLite, jobs in-process, the demo world loaded.

    python run.py [--port 5000]

The first start creates instance/governance.sqlite3, runs the migrations and loads the full-size
demo world (printing how long it took); later starts reuse the database and start at once.
"""

from __future__ import annotations

import argparse
import os
import time

from governance import create_app


def prepare(app) -> None:
    """Migrate the database and load the demo world if it is not there yet."""
    from flask_migrate import upgrade

    from governance.extensions import db
    from governance.services.demo import DEMO_LOGINS, demo_loaded, load_demo_world

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


def main() -> None:
    """Parse --port, prepare the database, serve on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    args = parser.parse_args()
    app = create_app()
    prepare(app)
    print(f"Serving on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
