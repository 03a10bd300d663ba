"""After a restore from backup: the outbox's unfinished rows from before the backup are not sent again.

A backup holds the job rows that were still waiting (pending, queued, running) at its moment. Some of
them had already been handed over and run — a group message sent, a webhook delivered — after the
backup was taken, in the life the restored database no longer remembers. Restored, they would look
unfinished, and the relay (`jobs.relay`, which hands over only `pending` and `queued` rows and
re-queues `running` ones) would send them again. `skip_before_restore` marks them `skipped`, a final
status that nothing hands over or runs, with the reason in `last_error`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from ...extensions import db
from ...models import Job, utcnow

SKIPPED = "skipped"
UNFINISHED = ("pending", "queued", "running")


def newest_job_moment() -> datetime | None:
    """The created_at of the newest job row: the latest moment the restored backup is known to hold."""
    return db.session.scalar(select(func.max(Job.created_at)))


def skip_before_restore(before: datetime | None = None) -> tuple[int, datetime | None]:
    """Mark every unfinished job created at or before `before` (default: the newest job row's created_at)
    as `skipped`; returns (rows marked, the moment used). Flushes; the caller commits."""
    if before is None:
        before = newest_job_moment()
        if before is None:
            return 0, None
    elif before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    reason = f"skipped after a restore from backup: created at or before {before.isoformat()}; not sent again"
    result = db.session.execute(
        update(Job)
        .where(Job.status.in_(UNFINISHED), Job.created_at <= before)
        .values(status=SKIPPED, last_error=reason, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount, before
