"""Entry points for `rq worker` and `rq cron` processes.

    rq worker --with-scheduler -u $REDIS_URL gov:jobs     # one worker runs the retry scheduler
    rq cron governance/cron_config.py -u $REDIS_URL       # the periodic sweep and relay

The worker imports this module, builds the app once per process, and runs each job in an app
context. Job functions take only ids: the database row is the truth, the Redis message a pointer.
"""

from __future__ import annotations

import os

_app = None


def get_app():
    """The app for this worker process, built once from the environment."""
    global _app
    if _app is None:
        from . import create_app

        _app = create_app(os.environ.get("GOVERNANCE_ENV") or "production")
    return _app


def run_job(job_id: int) -> str:
    """Run one outbox job (an exception makes RQ retry it; the row records every attempt).

    The jobs it deferred are handed to RQ as soon as its transaction commits, not a minute later by the
    relay: a notification's 企业微信 message goes out right behind it.
    """
    from .services import jobs

    with get_app().app_context():
        try:
            return jobs.execute(job_id)
        finally:
            jobs.dispatch()  # never raises: what it cannot hand over stays pending for the relay


def periodic_once(app) -> dict:
    """One round on `app`: escalate what is overdue, hand over jobs still waiting (run here without Redis),
    and once a night check the report rollups against the raw issues."""
    from .services import exports, jobs, rollups, sla

    with app.app_context():
        swept = sla.sweep()
        relayed = jobs.relay()
        checked = rollups.check_if_due()
        result = {**swept, "relayed": relayed}
        result["exports_removed"] = exports.cleanup()  # export files older than a week
        if checked is not None:
            result["rollup_differences"] = len(checked["differences"])
        jobs.dispatch()  # whatever this round's own work deferred
        return result


def periodic() -> dict:
    """Every minute, from `rq cron`: one round on this worker's app."""
    return periodic_once(get_app())
