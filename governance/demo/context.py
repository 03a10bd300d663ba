"""The shared state of the demo steps (DemoContext) and the bulk inserts every step writes through."""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from ..extensions import db
from ..formatting import BEIJING_OFFSET
from ..models import utcnow

# Fixed so the world is identical on every load; each step draws from its own stream (see DemoContext.rng)
# so adding a step never changes what the earlier ones build.
SEED = 20260415
BATCH = 5000
HOUR, DAY = 3600, 86400
# Beijing's offset from UTC in whole seconds, for the scripts' integer clock (leaders work by the local
# clock). China keeps no summer time, so one fixed offset is exact and saves a datetime per step.
CHINA_OFFSET = int(BEIJING_OFFSET.total_seconds())


def epoch(moment: datetime) -> int:
    """Whole epoch seconds: the replay's clock (a deadline is exactly its SLA hours after what set it)."""
    return int(moment.timestamp())


def as_datetime(seconds: int | None) -> datetime | None:
    """An epoch-second stamp of the replay as an aware UTC datetime."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass
class DemoContext:
    """What the steps share: the clock, the counts so far and the ids later steps build on."""

    scale: float
    now: datetime = field(default_factory=utcnow)
    counts: dict[str, int] = field(default_factory=dict)
    district_id: int | None = None
    # Street id → (name, is_town); community id → (name, street id, kind).
    streets: dict[int, tuple[str, bool]] = field(default_factory=dict)
    communities: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    zone_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    neighbour_ids: list[int] = field(default_factory=list)
    # 普瑞斯堡: its compound, community, street, 片, 组 and 邻 (the 邻 by group, in order).
    compound_id: int | None = None
    community_id: int | None = None
    street_id: int | None = None
    zone_id: int | None = None
    compound_group_ids: list[int] = field(default_factory=list)
    compound_neighbour_ids: list[list[int]] = field(default_factory=list)
    building_ids: dict[str, int] = field(default_factory=dict)
    # Other compounds: name → (compound id, community id).
    other_compounds: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Organisation name → id; the 普瑞斯堡 property company and developer also by role.
    organisations: dict[str, int] = field(default_factory=dict)
    property_org_id: int | None = None
    developer_org_id: int | None = None
    # Community id → the organisations that serve it (organisation_community); 街镇 id → its office.
    paired: dict[int, set[int]] = field(default_factory=dict)
    offices: dict[int, int] = field(default_factory=dict)
    # DEMO_LOGINS key → person id.
    people: dict[str, int] = field(default_factory=dict)
    # The 31 普瑞斯堡 issues, in the order of PRUISBURG_ISSUES (funding links its spending to them).
    pruisburg_issue_ids: list[int] = field(default_factory=list)
    _next_id: dict[str, int] = field(default_factory=dict)
    _touched: set[str] = field(default_factory=set)

    def rng(self, stream: str) -> random.Random:
        """A deterministic random stream of its own for one step."""
        return random.Random(f"{SEED}:{stream}")

    def scaled(self, full: int, minimum: int) -> int:
        """A full-size total shrunk by the scale, never below what the tree's shape needs."""
        return max(minimum, round(full * self.scale))

    def allocate(self, model, n: int) -> list[int]:
        """Reserve n fresh ids of a table, after both its current max and any earlier reservation."""
        table = model.__tablename__
        current = db.session.scalar(select(func.max(model.id))) or 0
        start = max(current + 1, self._next_id.get(table, 1))
        self._next_id[table] = start + n
        return list(range(start, start + n))

    def insert(self, model, rows: list[dict]) -> None:
        """Insert rows (ids included) with Core in large batches."""
        for i in range(0, len(rows), BATCH):
            db.session.execute(model.__table__.insert(), rows[i : i + BATCH])
        if rows:
            self._touched.add(model.__tablename__)

    def insert_history(self, model, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert many rows straight through the driver: executemany on SQLite, COPY on PostgreSQL.

        The history tables run to hundreds of thousands of rows, and SQLAlchemy's per-row parameter
        processing would take most of the load time. Columns named `at` or `*_at` hold whole epoch
        seconds here and are written as SQLAlchemy writes a UTCDateTime: naive UTC text on SQLite
        (same format, so comparisons and reads agree), timestamptz on PostgreSQL.
        """
        if not rows:
            return
        table = model.__tablename__
        stamps = [i for i, name in enumerate(columns) if name == "at" or name.endswith("_at")]
        postgres = db.session.get_bind().dialect.name == "postgresql"
        converted = stamps_as_text(rows, stamps, postgres)
        names = ", ".join(f'"{c}"' for c in columns)
        connection = db.session.connection().connection.driver_connection
        if postgres:
            with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in converted:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', converted)
        if "id" in columns:  # a table without an id column has no sequence to move on
            self._touched.add(table)

    def sync_sequences(self) -> None:
        """On PostgreSQL, move each touched table's id sequence past the explicit ids, so ORM inserts fit after."""
        if db.session.get_bind().dialect.name == "postgresql":
            for table in sorted(self._touched):
                db.session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))")
                )
        self._touched.clear()


@functools.cache
def _clock_text(suffix: str) -> list[str]:
    """'HH:MM:SS' plus a suffix for every second of a day (".000000" as SQLAlchemy writes SQLite, "+00")."""
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(86400)]


def stamps_as_text(rows, stamps: list[int], postgres: bool) -> list[list]:
    """Rows with their epoch-second stamps (at the `stamps` indexes) as the text the driver loads fastest."""
    # Text for a whole second: the date part per day (a few hundred of them), the clock part from a table.
    days: dict[int, str] = {}
    clock = _clock_text("+00" if postgres else ".000000")
    converted = []
    for row in rows:
        row = list(row)
        for i in stamps:
            stamp = row[i]
            if stamp is not None:
                day, second = divmod(stamp, 86400)
                date = days.get(day)
                if date is None:
                    date = days[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86400))
                row[i] = date + clock[second]
        converted.append(row)
    return converted
