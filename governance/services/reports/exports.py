"""Exports (导出): one table writer for every CSV and Excel file the app hands out, and the export job.

`write_table(columns, rows, fmt)` turns rows into a CSV (UTF-8 with a byte-order mark, so Excel
reads the Chinese) or an XLSX workbook (bold, frozen header; numbers as numbers; rates as
percentages; times in Beijing time), guarding text against formula injection in both. A workbook's
one sheet is named by what it holds (`sheet_name`: Excel's rules, at most 31 characters); what a
short name cannot say (the area, the period) goes in an optional title row above the headers.
`table_response()` wraps the bytes in a download response with a Chinese-safe file name; a table of people's
data goes out through `recorded_response()`, which first writes who exported what to the audit log.

Small exports are written while the request waits. Large ones go through the job outbox:
`start()` writes an "export" job naming a *source* (a function registered with `@source(name, what)`
that rebuilds the table for a person from plain parameters) and the requester, and its audit entry; the job runs
without a request, so the source re-applies that person's scope when it runs. The file lands in
EXPORT_DIR (default `<instance>/exports`), named by an unguessable token; the job commits its
progress every EXPORT_PROGRESS_EVERY rows; `cleanup()` removes files older than a week.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain, islice
from urllib.parse import quote

from flask import Response, current_app
from sqlalchemy import select, update

from ...extensions import db
from ...formatting import BEIJING, yuan
from ...models import Job, Node, Person
from ..platform import audit, jobs

log = logging.getLogger("governance.exports")

KINDS = ("text", "int", "rate", "hours", "date", "datetime", "money")
FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A cell starting with one of these would run as a formula (or DDE) in a spreadsheet: quote it as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot hold (openpyxl refuses them): dropped from XLSX text.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_MAX_TEXT = 32767
# Excel's sheet names: at most 31 characters, none of these, not starting or ending with an apostrophe.
SHEET_NAME_MAX = 31
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
NUMBER_FORMATS = {
    "int": "0",
    "rate": "0.0%",
    "hours": "0.0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "money": "#,##0.00",
}
# Column widths (in characters) for kinds whose width does not depend on the text.
FIXED_WIDTHS = {"int": 8, "rate": 8, "hours": 8, "date": 11, "datetime": 17, "money": 12}
WIDTH_SAMPLE = 200
MAX_AGE = timedelta(days=7)
EXPORT_JOB = "export"


@dataclass(frozen=True)
class Column:
    """One column of an export: its header (already translated) and what its values are.

    kind: "text" (anything, written as text), "int", "rate" (a float 0–1, shown as a percentage),
    "hours" (a float), "date" (a date), "datetime" (an aware UTC datetime, shown in Beijing time)
    or "money" (an int amount in fen, shown in yuan). None is an empty cell in every kind.
    """

    title: str
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


# --- values -------------------------------------------------------------------------------------


def safe_text(value) -> str:
    """Text a spreadsheet shows as typed: a leading = + - @ tab or CR is quoted with an apostrophe."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def beijing(value: datetime) -> datetime:
    """An aware time as naive Beijing wall-clock time (a naive one is taken as UTC, as stored)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING).replace(tzinfo=None)


def _as_date(value) -> date:
    return beijing(value).date() if isinstance(value, datetime) else value


def csv_value(value, kind: str) -> str:
    """One cell as CSV text."""
    if value is None:
        return ""
    if kind == "text":
        return safe_text(value)
    if kind == "int":
        return str(int(value))
    if kind == "rate":
        return f"{float(value) * 100:.1f}%"
    if kind == "hours":
        return f"{float(value):.1f}"
    if kind == "date":
        return _as_date(value).isoformat()
    if kind == "datetime":
        return beijing(value).strftime("%Y-%m-%d %H:%M")
    if kind == "money":
        return f"{yuan(value):.2f}"
    raise ValueError(kind)


def xlsx_value(value, kind: str):
    """One cell's value as the workbook stores it (None: an empty cell)."""
    if value is None:
        return None
    if kind == "text":
        return XML_ILLEGAL.sub("", safe_text(value))[:XLSX_MAX_TEXT]
    if kind == "int":
        return int(value)
    if kind in ("rate", "hours"):
        return float(value)
    if kind == "date":
        return _as_date(value)
    if kind == "datetime":
        return beijing(value)
    if kind == "money":
        return yuan(value)
    raise ValueError(kind)


def sheet_name(title: str) -> str:
    """A sheet name Excel accepts: forbidden characters and control characters dropped, no apostrophe at either
    end, at most 31 characters, never empty and never "History" (which Excel keeps for itself)."""
    name = SHEET_NAME_FORBIDDEN.sub("", XML_ILLEGAL.sub("", str(title))).strip().strip("'")
    name = name[:SHEET_NAME_MAX].strip().strip("'") or "Sheet1"
    return "History (1)" if name.lower() == "history" else name


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: a Chinese character is about two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


# --- the writer ---------------------------------------------------------------------------------


def _check_row(columns: Sequence[Column], row: Sequence) -> None:
    if len(row) != len(columns):
        raise ValueError(f"a row has {len(row)} values for {len(columns)} columns")


def write_csv(columns: Sequence[Column], rows: Iterable[Sequence], out) -> None:
    """CSV into a binary file object: UTF-8 with a byte-order mark, CRLF line ends (as Excel writes)."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow([safe_text(c.title) for c in columns])
        for row in rows:
            _check_row(columns, row)
            writer.writerow([csv_value(v, c.kind) for v, c in zip(row, columns, strict=True)])
        text.flush()
    finally:
        text.detach()  # leave `out` open for the caller


def write_xlsx(
    columns: Sequence[Column], rows: Iterable[Sequence], out, sheet_title: str = "Sheet1", heading: str | None = None
) -> None:
    """An XLSX workbook into a binary file object, streamed row by row (write-only mode).

    The sheet is named `sheet_title` (made acceptable to Excel); a `heading` is a bold first row above the
    headers (formula-guarded like any text), e.g. the area and the period the table covers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    rows = iter(rows)
    sample = list(islice(rows, WIDTH_SAMPLE))
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name(sheet_title))
    header_row = 2 if heading else 1
    sheet.freeze_panes = f"A{header_row + 1}"
    for index, column in enumerate(columns, start=1):
        width = display_width(str(column.title)) + 3  # room for the bold face and the filter arrow
        if column.kind in FIXED_WIDTHS:
            width = max(width, FIXED_WIDTHS[column.kind])
        else:
            values = (row[index - 1] for row in sample if row[index - 1] is not None)
            width = max([width, *(display_width(str(v)) + 1 for v in values)])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 6), 60)
    bold, centred = Font(bold=True), Alignment(horizontal="center", vertical="center")
    if heading:
        title = WriteOnlyCell(sheet, value=xlsx_value(heading, "text"))
        title.font = Font(bold=True, size=13)
        sheet.append([title])
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=xlsx_value(str(column.title), "text"))
        cell.font, cell.alignment = bold, centred
        header.append(cell)
    sheet.append(header)
    formats = [NUMBER_FORMATS.get(c.kind) for c in columns]
    for row in chain(sample, rows):
        _check_row(columns, row)
        line = []
        for value, column, number_format in zip(row, columns, formats, strict=True):
            stored = xlsx_value(value, column.kind)
            if stored is None or number_format is None:
                line.append(stored)
            else:
                cell = WriteOnlyCell(sheet, value=stored)
                cell.number_format = number_format
                line.append(cell)
        sheet.append(line)
    if columns:
        sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{header_row}"
    book.save(out)


def write_table_to(
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    fmt: str,
    out,
    sheet_title: str = "Sheet1",
    heading: str | None = None,
):
    """Write the table in `fmt` ("csv" or "xlsx") into a binary file object (a CSV has no title row: the
    headers stay its first line, for the programs that read it)."""
    if fmt == "csv":
        write_csv(columns, rows, out)
    elif fmt == "xlsx":
        write_xlsx(columns, rows, out, sheet_title, heading)
    else:
        raise ValueError(f"unknown export format {fmt!r}")


def write_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    fmt: str,
    sheet_title: str = "Sheet1",
    heading: str | None = None,
) -> bytes:
    """The table as the bytes of a CSV or XLSX file."""
    out = io.BytesIO()
    write_table_to(columns, rows, fmt, out, sheet_title, heading)
    return out.getvalue()


def content_disposition(filename: str) -> str:
    """attachment; an ASCII filename for old clients and the real (Chinese) one as RFC 5987 filename*."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "", stem).strip("._-")
    if ascii_stem != stem:
        ascii_stem = f"export-{ascii_stem}" if ascii_stem else "export"
    fallback = ascii_stem + (f".{re.sub(r'[^A-Za-z0-9]', '', ext)}" if ext else "")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def clean_stem(stem: str) -> str:
    """A file name stem without separators or control characters."""
    cleaned = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "-", str(stem)).strip(" .-")
    return cleaned[:80] or "export"


def table_response(
    filename_stem: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    fmt: str,
    sheet_title: str | None = None,
    heading: str | None = None,
) -> Response:
    """A download of the table: the right type, a Chinese-safe file name, never cached."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    stem = clean_stem(filename_stem)
    body = write_table(columns, rows, fmt, sheet_title or stem, heading)
    return Response(
        body,
        mimetype=MIMETYPES[fmt],
        headers={"Content-Disposition": content_disposition(f"{stem}.{fmt}"), "Cache-Control": "no-store"},
    )


def recorded_response(
    actor: Person,
    what: str,
    place: Node | None,
    filename_stem: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    fmt: str,
    *,
    criteria: str = "",
    **layout,
) -> Response:
    """table_response for a table of people's data, written to the audit log and committed before it is sent
    (record_export): who took which rows out is an act to answer for, as a change is."""
    counted = _Counted(rows)
    response = table_response(filename_stem, columns, counted, fmt, **layout)
    record_export(actor, what, place, f"{clean_stem(filename_stem)}.{fmt}", counted.rows, criteria)
    db.session.commit()
    return response


def record_export(actor: Person, what: str, place: Node | None, filename: str, rows: int | None, criteria: str) -> None:
    """The audit entry of an export (action "export"): what (in Chinese, as the log keeps changes), the file, how
    many rows (None: a background export, counted when it runs) and the filters; under the community and street
    of `place`, the area exported (None: the exporter's own)."""
    size = f"{rows}行" if rows is not None else "后台导出"
    detail = f"{what}：{filename}（{size}）" + (f" 筛选：{criteria}" if criteria else "")
    where = audit.place_of_node(place) if place is not None else audit.place_of(actor)
    audit.record_change(actor, "export", detail, **where)


class _Counted:
    """The rows, counted as the writer reads them."""

    def __init__(self, rows: Iterable[Sequence]):
        self._rows, self.rows = rows, 0

    def __iter__(self) -> Iterator[Sequence]:
        for row in self._rows:
            self.rows += 1
            yield row


# --- export jobs --------------------------------------------------------------------------------


@dataclass
class Table:
    """What a source hands the export job: columns, rows (any iterable), and how many rows to expect."""

    columns: Sequence[Column]
    rows: Iterable[Sequence]
    total: int | None = None


# name -> function(person, params) -> Table, registered with @source(name, what).
SOURCES: dict[str, Callable[[Person, dict], Table]] = {}
# name -> what the audit log says was exported (in Chinese, as it keeps changes).
SOURCE_NAMES: dict[str, str] = {}


def source(name: str, what: str):
    """Register the function that rebuilds an export's table for a person (run inside the job); `what` names
    its table in the audit log."""

    def register(func):
        SOURCES[name] = func
        SOURCE_NAMES[name] = what
        return func

    return register


class ExportRefused(Exception):
    """The requester can no longer export this (account gone or disabled, source unknown)."""


def sync_limit() -> int:
    """Up to this many rows an export is written while the request waits."""
    return int(current_app.config.get("EXPORT_SYNC_LIMIT", 2000))


def export_dir() -> str:
    """Where export files live (shared by the web tier and the workers in production)."""
    path = current_app.config.get("EXPORT_DIR") or os.path.join(current_app.instance_path, "exports")
    os.makedirs(path, exist_ok=True)
    return path


def payload_of(job: Job) -> dict:
    """The job's payload ({} when it cannot be read)."""
    try:
        return json.loads(job.payload or "{}")
    except ValueError:
        return {}


def file_path(payload: dict) -> str | None:
    """The file of an export job (whether or not it exists yet); None for a malformed payload."""
    token, fmt = str(payload.get("token", "")), payload.get("fmt")
    if not re.fullmatch(r"[0-9a-f]{32}", token) or fmt not in FORMATS:
        return None
    return os.path.join(export_dir(), f"{token}.{fmt}")


def download_name(payload: dict) -> str:
    """The file name the browser saves the export under."""
    return f"{clean_stem(payload.get('stem') or 'export')}.{payload.get('fmt')}"


def start(
    name: str,
    params: dict,
    fmt: str,
    person: Person,
    stem: str,
    locale: str | None = None,
    *,
    place: Node | None = None,
    criteria: str = "",
) -> Job:
    """Write an export job for `person` (flush only: the request commits, then the outbox hands it over), and
    its entry in the audit log (record_export: `place` the area asked for, None the person's own; `criteria`
    the filters), which a retry writes again."""
    if name not in SOURCES:
        raise ExportRefused(f"unknown export source {name!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    token = uuid.uuid4().hex
    payload = {
        "source": name,
        "params": params,
        "fmt": fmt,
        "person_id": person.id,
        "stem": clean_stem(stem),
        "locale": locale,
        "token": token,
        "audit": {"node_id": place.id if place is not None else None, "criteria": criteria},
    }
    job = jobs.defer(EXPORT_JOB, payload, dedupe_key=f"export:{token}", requested_by_id=person.id)
    record_export(person, SOURCE_NAMES[name], place, download_name(payload), None, criteria)
    # An export that failed is most likely to fail again; the requester sees it and can try again.
    job.max_attempts = 1
    return job


def retry(job: Job, person: Person) -> Job:
    """A fresh export job with the same request (the scope is applied again when it runs)."""
    payload = payload_of(job)
    asked = payload.get("audit") or {}
    place = db.session.get(Node, asked["node_id"]) if asked.get("node_id") else None
    return start(
        payload.get("source", ""),
        payload.get("params") or {},
        payload.get("fmt", ""),
        person,
        payload.get("stem") or "export",
        payload.get("locale"),
        place=place,
        criteria=asked.get("criteria", ""),
    )


def set_progress(job_id: int, percent: int) -> None:
    """Record progress in a short transaction of its own, so other requests see it advance."""
    db.session.execute(update(Job).where(Job.id == job_id).values(progress=percent))
    db.session.commit()


def _with_progress(rows: Iterable[Sequence], total: int | None, job_id: int) -> Iterator[Sequence]:
    """Pass the rows through, committing the progress every EXPORT_PROGRESS_EVERY rows."""
    every = max(1, int(current_app.config.get("EXPORT_PROGRESS_EVERY", 500)))
    for written, row in enumerate(rows, start=1):
        yield row
        if written % every == 0:
            percent = min(99, written * 100 // total) if total else 0
            set_progress(job_id, percent)


@jobs.handler(EXPORT_JOB)
def run_export(payload: dict) -> None:
    """Build the table for the requester, as the requester may see it now, and write it to its file.

    Any failure raises (jobs.execute records it; the half-written file is removed).
    """
    from flask_babel import force_locale

    job = db.session.scalar(select(Job).where(Job.dedupe_key == f"export:{payload.get('token')}"))
    path = file_path(payload)
    if job is None or path is None:
        raise ExportRefused("malformed export job")
    job_id = job.id
    person = db.session.get(Person, payload.get("person_id"))
    if person is None or not person.is_active:
        raise ExportRefused("the requester can no longer export")
    build = SOURCES.get(payload.get("source"))
    if build is None:
        raise ExportRefused(f"unknown export source {payload.get('source')!r}")
    locale = payload.get("locale") or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")
    partial = f"{path}.{os.getpid()}.part"
    started = time.monotonic()
    try:
        with force_locale(locale):
            table = build(person, payload.get("params") or {})
            with open(partial, "wb") as out:
                rows = _with_progress(table.rows, table.total, job_id)
                write_table_to(table.columns, rows, payload["fmt"], out, payload.get("stem") or "export")
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    log.info("export job %s written (%s) in %.1f s", job_id, os.path.basename(path), time.monotonic() - started)


def cleanup(max_age: timedelta = MAX_AGE, now: float | None = None) -> int:
    """Delete export files older than `max_age` (a week); returns how many were removed."""
    folder = export_dir()
    cutoff = (now if now is not None else time.time()) - max_age.total_seconds()
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.remove(entry.path)
                    removed += 1
            except OSError as exc:  # gone already (another worker), or not ours to delete
                log.warning("could not remove old export %s: %s", entry.name, exc)
    return removed
