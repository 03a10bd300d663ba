"""Loading the demo world: the steps in order, one DemoContext through them, and the mark that it is loaded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

from ..extensions import db
from ..models import AppMeta, utcnow
from ..services.public.open311 import ensure_demo_key
from ..services.reports import rollups
from .context import DemoContext
from .funding import build_funding
from .identity import build_identities
from .issues import build_issues
from .notices import build_notices
from .residents import build_resident_reports
from .surveys import build_surveys
from .tree import build_organisations, build_people, build_places, build_tree_cells, build_tree_top
from .tree_edits import build_tree_edits
from .vacancies import build_vacancies

META_KEY = "demo_world"

# The world is built by these, in order; later work appends its own steps.
DEMO_STEPS: list[Callable[[DemoContext], None]] = [
    build_tree_top,
    build_places,
    build_tree_cells,
    build_organisations,
    build_people,
    build_issues,
    build_funding,
    build_vacancies,
    build_tree_edits,
    build_notices,
    build_surveys,
    build_identities,
    build_resident_reports,
]


def demo_loaded() -> bool:
    """Whether this database already holds the demo world."""
    return db.session.get(AppMeta, META_KEY) is not None


def load_demo_world(scale: float = 1.0, now: datetime | None = None) -> dict:
    """Build the demo world (flush only, the caller commits) and return its counts.

    `now` is the moment the world's history leads up to (default: the real now); tests pass other
    moments to check that the history holds together whatever the time of day it is loaded.
    """
    if demo_loaded():
        raise RuntimeError("the demo world is already loaded in this database")
    started = time.perf_counter()
    ctx = DemoContext(scale=scale, now=now or utcnow())
    for step in DEMO_STEPS:
        step(ctx)
        # After every step, so a later step may use plain ORM inserts on PostgreSQL.
        ctx.sync_sequences()
    ensure_demo_key()  # the documented demo key of the README, bound to the district
    ctx.counts["rollup_rows"] = rollups.rebuild()  # the issues went in as bulk inserts, past the flush hook
    seconds = round(time.perf_counter() - started, 2)
    value = {"scale": scale, "counts": ctx.counts, "seconds": seconds, "loaded_at": ctx.now.isoformat()}
    db.session.add(AppMeta(key=META_KEY, value=json.dumps(value, ensure_ascii=False)))
    db.session.flush()
    return dict(ctx.counts)
