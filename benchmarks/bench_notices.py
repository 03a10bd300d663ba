"""Notices down the tree: a district-wide notice to every 片长, 组长 and 邻长 of the demo world (20,739 at full
size), measured beside the bare INSERT of the same rows, on each engine.

- fan-out: the notice's fan-out job (services/outreach/notices.fan_out: one INSERT … SELECT per role and one of
  inbox messages, committed) beside a bare executemany INSERT of the same recipient and inbox rows into
  scratch tables without constraints or indexes (the least writing those rows can cost);
- reminder: one reminder batch for the notice (one INSERT … SELECT of inbox messages for whoever still waits)
  beside the bare INSERT of those rows;
- figures: the per-street breakdown of the sender's page beside a bare COUNT over the notice's rows.

    .venv/bin/python benchmarks/bench_notices.py [--engine sqlite|postgresql|both] [--scale 1.0]

Prints one line per engine and the JSON of the run (benchmarks/results/ keeps it when --save is given).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import build_app, build_demo, fresh_database

RESULTS = Path(__file__).resolve().parent / "results"


def _bare_insert(rows_recipients: list[dict], rows_inbox: list[dict]) -> float:
    """Seconds to INSERT the same rows into scratch tables without constraints (committed, then dropped)."""
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    from governance.extensions import db

    meta = MetaData()
    recipients = Table(
        "bench_bare_recipient",
        meta,
        Column("notice_id", Integer),
        Column("person_id", Integer),
        Column("node_id", Integer),
        Column("role", String(20)),
    )
    inbox = Table(
        "bench_bare_inbox",
        meta,
        Column("person_id", Integer),
        Column("notice_id", Integer),
        Column("kind", String(24)),
        Column("text", String(300)),
        Column("created_at", DateTime(timezone=True)),
    )
    meta.create_all(db.engine)
    try:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            if rows_recipients:
                conn.execute(recipients.insert(), rows_recipients)
            if rows_inbox:
                conn.execute(inbox.insert(), rows_inbox)
        return time.perf_counter() - started
    finally:
        meta.drop_all(db.engine)


def run_engine(engine: str, scale: float) -> dict:
    from sqlalchemy import func, select

    from governance.extensions import db
    from governance.models import Node, Notice, NoticeRecipient, Notification, Person, RoleAssignment, utcnow
    from governance.services.outreach import notices

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(engine, Path(tmp))
        try:
            app = build_app(url, Path(tmp))
            load_seconds = build_demo(app, scale)
            with app.app_context():
                admin = db.session.scalar(
                    select(Person).join(RoleAssignment).where(RoleAssignment.role == "district_admin")
                )
                district = db.session.scalar(select(Node).where(Node.level == "district"))
                notice, _ = notices.send(
                    admin, district, notices.Draft("防汛演练", "请各位排查本辖区。", reply_kind="confirm")
                )
                db.session.commit()
                started = time.perf_counter()
                notices.fan_out({"notice_id": notice.id})
                db.session.commit()
                fan_out = time.perf_counter() - started
                count = db.session.get(Notice, notice.id).recipient_count
                recipients = [
                    {"notice_id": n, "person_id": p, "node_id": node, "role": role}
                    for n, p, node, role in db.session.execute(
                        select(
                            NoticeRecipient.notice_id,
                            NoticeRecipient.person_id,
                            NoticeRecipient.node_id,
                            NoticeRecipient.role,
                        ).where(NoticeRecipient.notice_id == notice.id)
                    )
                ]
                now = utcnow()
                inbox = [
                    {"person_id": r["person_id"], "notice_id": notice.id, "kind": "notice", "text": "[通知] 防汛演练",
                     "created_at": now}
                    for r in recipients
                ]  # fmt: skip
                bare_fan_out = _bare_insert(recipients, inbox)
                started = time.perf_counter()
                notices.remind([{"notice_id": notice.id}])
                db.session.commit()
                reminder = time.perf_counter() - started
                reminded = db.session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.notice_id == notice.id, Notification.kind == "notice_reminder")
                )
                bare_reminder = _bare_insert([], [dict(row, kind="notice_reminder") for row in inbox[:reminded]])
                fresh = db.session.get(Notice, notice.id)
                started = time.perf_counter()
                result = notices.breakdown(fresh, district)
                figures = time.perf_counter() - started
                started = time.perf_counter()
                db.session.execute(
                    select(func.count(), func.count(NoticeRecipient.read_at)).where(
                        NoticeRecipient.notice_id == notice.id
                    )
                ).one()
                bare_count = time.perf_counter() - started
                assert result.total.recipients == count
            return {
                "engine": engine,
                "scale": scale,
                "demo_load_s": round(load_seconds, 1),
                "recipients": count,
                "fan_out_s": round(fan_out, 3),
                "bare_insert_s": round(bare_fan_out, 3),
                "fan_out_ratio": round(fan_out / bare_fan_out, 2),
                "reminded": reminded,
                "reminder_s": round(reminder, 3),
                "bare_reminder_insert_s": round(bare_reminder, 3),
                "figures_s": round(figures, 4),
                "bare_count_s": round(bare_count, 4),
            }
        finally:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--save", action="store_true", help="keep the JSON in benchmarks/results/")
    args = parser.parse_args()
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    results = [run_engine(engine, args.scale) for engine in engines]
    for r in results:
        print(
            f"{r['engine']:<10} {r['recipients']} leaders: fan-out {r['fan_out_s']:.3f} s, bare INSERT of the same "
            f"rows {r['bare_insert_s']:.3f} s ({r['fan_out_ratio']:.2f}×); reminder to {r['reminded']} "
            f"{r['reminder_s']:.3f} s, bare {r['bare_reminder_insert_s']:.3f} s; per-street figures "
            f"{r['figures_s'] * 1000:.1f} ms, bare COUNT {r['bare_count_s'] * 1000:.1f} ms"
        )
    print(json.dumps(results))
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"notices-{int(time.time())}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
