"""Roster import (名册导入): load 片长/组长/邻长, branch members and admins from a CSV or XLSX file.

The file has a header row (any column order) with 街镇, 社区, 片, 组, 邻, 角色, 姓名, 手机号. The import
runs in two phases: every row is read and checked against preloaded dicts of nodes and people, and
only when no row is bad is anything written, in bulk. Like every service it flushes and never
commits; a caller that gets errors back rolls back (although nothing was written by then).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _gettext
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ... import policy
from ...extensions import db
from ...models import ROLE_LEVEL, Node, Person, RoleAssignment, StagedRoster, utcnow
from ...parsing import parse_mobile
from ..platform import audit
from ..public import page_cache
from . import turnover

log = logging.getLogger("governance.roster")
# Bulk inserts go through the Core tables: the ORM's per-row bookkeeping is most of the cost otherwise.
NODE, PERSON, ROLE_ASSIGNMENT = Node.__table__, Person.__table__, RoleAssignment.__table__

# The columns of a roster, in the order of the template.
COLUMNS = ("街镇", "社区", "片", "组", "邻", "角色", "姓名", "手机号")
TREE_COLUMNS = ("街镇", "社区", "片", "组", "邻")
COLUMN_LEVEL = {"街镇": "street", "社区": "community", "片": "zone", "组": "group", "邻": "neighbour"}
# Other spellings of the headers that real spreadsheets use.
HEADER_ALIASES = {
    "街道": "街镇",
    "乡镇": "街镇",
    "镇街": "街镇",
    "街道/乡镇": "街镇",
    "街镇/乡镇": "街镇",
    "社区/村": "社区",
    "村/社区": "社区",
    "社区(村)": "社区",
    "社区（村）": "社区",
    "村": "社区",
    "手机": "手机号",
    "手机号码": "手机号",
    "职务": "角色",
}
# What the 角色 column may say; the English role names are accepted too.
ROLE_NAMES = {
    "邻长": "neighbour_leader",
    "组长": "group_leader",
    "片长": "zone_leader",
    "社区党组织": "branch_member",
    "社区党组织成员": "branch_member",
    "支部成员": "branch_member",
    "街镇管理员": "street_admin",
    "区管理员": "district_admin",
    **{role: role for role in ROLE_LEVEL},
}
# The name each role is written with in the file (for messages and the template).
ROLE_FILE_NAME = {
    "neighbour_leader": "邻长",
    "group_leader": "组长",
    "zone_leader": "片长",
    "branch_member": "社区党组织",
    "street_admin": "街镇管理员",
    "district_admin": "区管理员",
}
ADMIN_ROLES = ("street_admin", "district_admin")
LEVELS_BELOW_COMMUNITY = ("zone", "group", "neighbour")

NAME_MAX = 40  # Person.name
NODE_NAME_MAX = 80  # Node.name
MAX_ROWS = 100_000  # rows with content; the whole district has about 21,000 leaders
MAX_LINES = 1_048_576  # Excel's own limit: formatted but empty rows below the data are skipped up to here
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is tolerated
CHUNK = 2_000  # ids or numbers per IN (…) list
# Characters stripped from both ends of every cell, besides whitespace (which includes U+3000 and U+00A0).
STRIP = "\ufeff\u200b\u200c\u200d\u2060"
SCIENTIFIC_RE = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def _(message: str, **variables) -> str:
    """gettext that also works outside a request (the CLI), in the default interface language."""
    if has_request_context():
        return _gettext(message, **variables)
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")):
        return _gettext(message, **variables)


@dataclass(frozen=True)
class RosterError:
    """One problem: a bad row (line and column as the user sees them) or a bad file (no line)."""

    line: int | None
    column: str | None
    reason: str
    # True when the policy refused the row (outside the actor's scope), as opposed to a mistake in it.
    refused: bool = False

    def describe(self) -> str:
        """The problem as one sentence in the interface language."""
        if self.line is None:
            return self.reason
        if self.column is None:
            return _("Line %(line)s: %(reason)s", line=self.line, reason=self.reason)
        return _("Line %(line)s, column %(column)s: %(reason)s", line=self.line, column=self.column, reason=self.reason)


@dataclass
class ImportResult:
    """What an import did, or why it did nothing."""

    errors: list[RosterError] = field(default_factory=list)
    rows: int = 0
    people_created: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    roles_added: int = 0
    zones_created: int = 0
    groups_created: int = 0
    neighbours_created: int = 0
    roles_ended: int = 0
    # What a good file changes (also when it was only checked: apply=False writes nothing).
    changes: ChangeSet | None = None
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def file_errors(self) -> list[RosterError]:
        """Problems with the file as a whole."""
        return [e for e in self.errors if e.line is None]

    @property
    def row_errors(self) -> list[RosterError]:
        """Problems with single rows."""
        return [e for e in self.errors if e.line is not None]

    @property
    def bad_lines(self) -> int:
        """How many distinct lines have a problem."""
        return len({e.line for e in self.errors if e.line is not None})

    def summary(self) -> str:
        """One paragraph: people created/updated/unchanged, roles added, 片/组/邻 created."""
        return _(
            "Rows read: %(rows)s. People: %(created)s created, %(updated)s updated, %(unchanged)s unchanged. "
            "Roles added: %(roles)s, ended: %(ended)s. Created %(zones)s zones (片), %(groups)s groups (组) and "
            "%(neighbours)s neighbour units (邻).",
            ended=self.roles_ended,
            rows=self.rows,
            created=self.people_created,
            updated=self.people_updated,
            unchanged=self.people_unchanged,
            roles=self.roles_added,
            zones=self.zones_created,
            groups=self.groups_created,
            neighbours=self.neighbours_created,
        )


class RosterFileError(Exception):
    """The file as a whole cannot be read; the message is already in the interface language."""


# --- reading the file ------------------------------------------------------------------------------------------

PNG, JPEG, GIF, PDF = b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF"
ZIP = b"PK\x03\x04"
OLE = b"\xd0\xcf\x11\xe0"  # old .xls / .doc


def _sniff(data: bytes) -> str | None:
    """What a file that is not a roster looks like, when it has a well-known signature."""
    if data.startswith((PNG, JPEG, GIF)) or data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _("This file is an image, not a roster.")
    if data.startswith(PDF):
        return _("This file is a PDF document, not a roster.")
    return None


def _decode_csv(data: bytes) -> str:
    """The text of a CSV file saved as UTF-8 (with or without BOM) or GBK/GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RosterFileError(
            _("This CSV file is saved as UTF-16. Save it as “CSV UTF-8” or as an Excel workbook (.xlsx).")
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise RosterFileError(
        _(
            "This file is not a CSV text file in UTF-8 or GBK. "
            "Save it from Excel as “CSV UTF-8” or as an Excel workbook (.xlsx)."
        )
    )


def _read_csv(data: bytes) -> Iterator[list]:
    text = _decode_csv(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as err:
        # The record number is where reading stopped: the line the user should look at.
        raise RosterFileError(
            _("Line %(line)s: the CSV file cannot be read (%(detail)s).", line=reader.line_num, detail=str(err))
        ) from err


def _read_xlsx(data: bytes) -> Iterator[tuple]:
    from openpyxl import load_workbook

    if data.startswith(OLE):
        raise RosterFileError(_("This is an old Excel file (.xls). Save it as an Excel workbook (.xlsx) or CSV."))
    if not data.startswith(ZIP):
        raise RosterFileError(_("This file is not an Excel workbook (.xlsx)."))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 - openpyxl raises anything from zipfile, lxml and itself
        raise RosterFileError(_("This Excel workbook is damaged and cannot be read.")) from err
    try:
        sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        if not sheets:
            raise RosterFileError(_("This Excel workbook has no worksheet."))
        sheet = sheets[0]
        sheet.reset_dimensions()  # do not trust the stored size: read what is there
        try:
            yield from sheet.iter_rows(values_only=True)
        except RosterFileError:
            raise
        except Exception as err:  # noqa: BLE001 - a damaged sheet can fail half-way, with anything
            raise RosterFileError(_("This Excel workbook is damaged and cannot be read.")) from err
    finally:
        workbook.close()


def _cell(value) -> str:
    """A cell as trimmed text; numbers typed into Excel come back without a trailing '.0'."""
    if type(value) is str:  # every CSV cell, most XLSX cells
        return value.strip().strip(STRIP).strip()
    if value is None:
        return ""
    if isinstance(value, int):  # bool included
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = str(value)
    return text.strip().strip(STRIP).strip()


def read_rows(filename: str, data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for every line of the first sheet, line 1 first; raises RosterFileError."""
    name = (filename or "").strip().lower()
    problem = _sniff(data)
    if problem:
        raise RosterFileError(problem)
    if name.endswith(".csv"):
        if data.startswith(ZIP):
            raise RosterFileError(
                _("This file is an Excel workbook with a .csv name. Rename it to .xlsx, or save it as CSV.")
            )
        rows: Iterable = _read_csv(data)
    elif name.endswith(".xlsx"):
        rows = _read_xlsx(data)
    elif name.endswith(".xls"):
        raise RosterFileError(_("This is an old Excel file (.xls). Save it as an Excel workbook (.xlsx) or CSV."))
    else:
        raise RosterFileError(_("Only CSV (.csv) and Excel (.xlsx) files can be imported."))
    for line, row in enumerate(rows, start=1):
        if line > MAX_LINES:
            raise RosterFileError(_("The file has more than %(max)s lines.", max=MAX_LINES))
        yield line, [_cell(v) for v in row]


def _canonical_header(text: str) -> str | None:
    squeezed = re.sub(r"\s+", "", text)
    if squeezed in COLUMNS:
        return squeezed
    return HEADER_ALIASES.get(squeezed)


@dataclass
class Record:
    """One data row of the roster, trimmed."""

    line: int
    values: dict[str, str]


def parse_table(filename: str, data: bytes) -> tuple[list[Record], list[RosterError]]:
    """The records of a roster file, or the file-level errors that stop it being read."""
    if not data or not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        return [], [RosterError(None, None, _("The file is empty."))]
    max_bytes = current_app.config.get("ROSTER_MAX_BYTES", 5 * 1024 * 1024)
    if len(data) > max_bytes:
        return [], [
            RosterError(
                None,
                None,
                _("The file is too big: at most %(size)s MB can be imported at once.", size=_megabytes(max_bytes)),
            )
        ]
    records: list[Record] = []
    header: dict[str, int] | None = None
    first_row: tuple[int, list[str]] | None = None
    seen_before_header = 0
    try:
        for line, cells in read_rows(filename, data):
            if header is None:
                if not any(cells):
                    continue
                first_row = first_row or (line, cells)
                found = [_canonical_header(c) for c in cells]
                if sum(1 for f in found if f) < 3:
                    seen_before_header += 1
                    if seen_before_header >= HEADER_SEARCH_ROWS:
                        break
                    continue
                header, problems = _header_map(line, cells)
                if problems:
                    return [], problems
                continue
            values = {col: (cells[i] if i < len(cells) else "") for col, i in header.items()}
            if not any(values.values()):
                continue  # an empty row, or one holding only a 序号 or a note
            records.append(Record(line, values))
            if len(records) > MAX_ROWS:
                return [], [RosterError(None, None, _("The file has more than %(max)s rows.", max=MAX_ROWS))]
    except RosterFileError as err:
        return [], [RosterError(None, None, str(err))]
    if header is None:
        if first_row is None:
            return [], [RosterError(None, None, _("The file is empty."))]
        return [], _header_map(*first_row)[1]
    if not records:
        return [], [RosterError(None, None, _("The file has a header row but no people in it."))]
    return records, []


def _header_map(line: int, cells: list[str]) -> tuple[dict[str, int], list[RosterError]]:
    """Column name → index for a header row, or what is wrong with it."""
    mapping: dict[str, int] = {}
    problems = []
    for index, text in enumerate(cells):
        column = _canonical_header(text)
        if column is None:
            continue  # 序号, 备注 and other extra columns are ignored
        if column in mapping:
            problems.append(RosterError(line, column, _("The header has this column twice; keep only one of them.")))
        mapping[column] = index
    missing = [c for c in COLUMNS if c not in mapping]
    if missing:
        problems.append(
            RosterError(
                None,
                None,
                _(
                    "The header row (line %(line)s) is missing the column(s) %(missing)s. "
                    "A roster needs the columns %(columns)s.",
                    line=line,
                    missing="、".join(missing),
                    columns="、".join(COLUMNS),
                ),
            )
        )
    return mapping, problems


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


# --- names that are nearly the name of a node ------------------------------------------------------------------

CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CHINESE_NUMBER_RE = re.compile(r"[零〇一二两三四五六七八九十百]+")
LEADING_ZEROS_RE = re.compile(r"(?<!\d)0+(?=\d)")


def _chinese_number(text: str) -> str:
    """第十二 → 12: the small numbers node names use (up to the hundreds)."""
    total = current = 0
    for ch in text:
        if ch == "百":
            total, current = total + (current or 1) * 100, 0
        elif ch == "十":
            total, current = total + (current or 1) * 10, 0
        else:
            current = current * 10 + CHINESE_DIGITS[ch] if current else CHINESE_DIGITS[ch]
    return str(total + current)


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """A node name as people mean it: full-width digits and letters made plain, spaces dropped, Chinese
    numbers as digits, 第 and 号 dropped, leading zeros dropped (第１邻, 第一邻, 1 邻 and 01号邻 are one key)."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))
    text = CHINESE_NUMBER_RE.sub(lambda m: _chinese_number(m.group()), text)
    text = LEADING_ZEROS_RE.sub("", text.replace("第", "").replace("号", ""))
    return text.casefold()


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether two texts differ by at most one inserted, deleted or changed character."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


@lru_cache(maxsize=65536)
def _shape(name: str) -> tuple[str, tuple[str, ...], str]:
    """(key, the numbers in it, the key with each number as #): what close_match compares."""
    key = name_key(name)
    return key, tuple(re.findall(r"\d+", key)), re.sub(r"\d+", "#", key)


def close_match(name: str, siblings: dict[str, TreeNode]) -> TreeNode | None:
    """The sibling whose name this one nearly is: the same key, or (with the same numbers in it) one
    character apart. Names that differ in a number (第2邻 and 第3邻) are different places, never close."""
    key, numbers, text = _shape(name)
    for other_name, other in siblings.items():
        if other_name == name:
            continue
        other_key, other_numbers, other_text = _shape(other_name)
        if other_key == key:
            return other
        if other_numbers == numbers and (numbers or len(text) >= 3) and _one_edit_apart(text, other_text):
            return other
    return None


# --- the tree and the people, preloaded -----------------------------------------------------------------------


@dataclass(eq=False)
class TreeNode:
    """A node as the import sees it: one that exists (id set) or one it will create (new=True)."""

    level: str
    name: str
    id: int | None = None
    parent: TreeNode | None = None
    street_id: int | None = None
    community_id: int | None = None
    zone_id: int | None = None
    group_id: int | None = None
    compound_id: int | None = None
    new: bool = False
    children: dict[str, TreeNode] = field(default_factory=dict)

    def ancestors(self) -> dict[str, int | None]:
        """The ancestor columns of this node (its own level's column holds its own id)."""
        if not self.new:
            return {
                "street_id": self.street_id,
                "community_id": self.community_id,
                "zone_id": self.zone_id,
                "group_id": self.group_id,
            }
        values = self.parent.ancestors()
        if self.level in ("zone", "group"):
            values[f"{self.level}_id"] = self.id
        return values

    def path(self) -> str:
        """社区 / 片 / 组 / 邻 (the street and the district left out), as the preview shows a place."""
        names, node = [], self
        while node is not None and node.level not in ("district", "street"):
            names.append(node.name)
            node = node.parent
        if not names and self.level != "district":
            names.append(self.name)
        return " / ".join(reversed(names)) or self.name

    def probe(self) -> Node:
        """A transient Node (never added to the session) for the policy module to judge."""
        return Node(id=self.id, level=self.level, name=self.name, **self.ancestors())


_NODE_COLUMNS = (
    Node.id,
    Node.level,
    Node.name,
    Node.parent_id,
    Node.street_id,
    Node.community_id,
    Node.zone_id,
    Node.group_id,
    Node.compound_id,
)


def _tree_node(row) -> TreeNode:
    return TreeNode(
        level=row.level,
        name=row.name,
        id=row.id,
        street_id=row.street_id,
        community_id=row.community_id,
        zone_id=row.zone_id,
        group_id=row.group_id,
        compound_id=row.compound_id,
    )


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Tree:
    """The district, its streets and communities, and the 片/组/邻 of the communities a file names."""

    def __init__(self):
        self.district: TreeNode | None = None
        self.streets: dict[str, TreeNode] = {}
        self.by_id: dict[int, TreeNode] = {}
        self.new_nodes: list[TreeNode] = []
        top = db.session.execute(
            select(*_NODE_COLUMNS).where(Node.level.in_(("district", "street", "community"))).order_by(Node.id)
        )
        communities = []
        for row in top:
            node = _tree_node(row)
            self.by_id[node.id] = node
            if row.level == "district":
                self.district = self.district or node
            elif row.level == "street":
                self.streets.setdefault(node.name, node)
            else:
                communities.append((row.parent_id, node))
        for parent_id, node in communities:
            parent = self.by_id.get(parent_id)
            if parent is not None:
                node.parent = parent
                parent.children.setdefault(node.name, node)
        for node in self.streets.values():
            node.parent = self.district

    def load_below(self, communities: list[TreeNode]) -> None:
        """Load every 片/组/邻 under these communities, in as few queries as the list allows."""
        ids = sorted({c.id for c in communities})
        pending = []
        for chunk in _chunks(ids):
            query = select(*_NODE_COLUMNS).where(Node.community_id.in_(chunk), Node.level.in_(LEVELS_BELOW_COMMUNITY))
            for row in db.session.execute(query):
                node = _tree_node(row)
                self.by_id[node.id] = node
                pending.append((row.parent_id, node))
        for parent_id, node in pending:
            parent = self.by_id.get(parent_id)
            if parent is not None:
                node.parent = parent
                parent.children.setdefault(node.name, node)

    def child(self, parent: TreeNode, level: str, name: str) -> TreeNode:
        """The named child of a node, planned for creation when it does not exist yet."""
        node = parent.children.get(name)
        if node is None:
            node = TreeNode(level=level, name=name, parent=parent, compound_id=parent.compound_id, new=True)
            parent.children[name] = node
            self.new_nodes.append(node)
        return node


@dataclass
class KnownPerson:
    """A person already in the database, as the import needs them."""

    id: int
    name: str
    roles: set[tuple[str, int]]


def _load_people(mobiles: list[str]) -> dict[str, KnownPerson]:
    people: dict[str, KnownPerson] = {}
    for chunk in _chunks(sorted(mobiles)):
        for row in db.session.execute(select(Person.id, Person.name, Person.mobile).where(Person.mobile.in_(chunk))):
            people[row.mobile] = KnownPerson(row.id, row.name, set())
    by_id = {p.id: p for p in people.values()}
    for chunk in _chunks(sorted(by_id)):
        query = select(RoleAssignment.person_id, RoleAssignment.role, RoleAssignment.node_id).where(
            RoleAssignment.person_id.in_(chunk), RoleAssignment.node_id.is_not(None)
        )
        for row in db.session.execute(query):
            by_id[row.person_id].roles.add((row.role, row.node_id))
    return people


# --- checking the rows -----------------------------------------------------------------------------------------


@dataclass
class PlannedRow:
    """A good row: who gets which role where."""

    line: int
    mobile: str
    name: str
    role: str
    node: TreeNode


def _did_you_mean(name: str, known: dict[str, TreeNode]) -> str:
    """“ Did you mean …?” when a known name is close to the one typed, else nothing."""
    like = close_match(name, known)
    return _(" Did you mean “%(like)s”?", like=like.name) if like is not None else ""


def _role_text() -> str:
    return "、".join(ROLE_FILE_NAME.values())


class Checker:
    """Checks every record against the preloaded tree and people; collects errors, plans the writes."""

    def __init__(self, records: list[Record], actor: Person | None, allow_new_nodes: bool = False):
        self.records = records
        self.actor = actor
        # Off: a 片/组/邻 name close to an existing one (or to one planned a few lines up) is a row error.
        self.allow_new_nodes = allow_new_nodes
        self.errors: list[RosterError] = []
        self.planned: list[PlannedRow] = []
        self.names: dict[str, tuple[str, int]] = {}  # mobile → (name, first line)
        self._allowed: dict[int, bool] = {}  # id(TreeNode) → may the actor import there
        self.tree = Tree()
        wanted = []
        for record in records:
            street = self.tree.streets.get(record.values["街镇"])
            community = street.children.get(record.values["社区"]) if street else None
            if community is not None and record.values["片"]:
                wanted.append(community)
        if wanted:
            self.tree.load_below(wanted)

    def error(self, line: int, column: str | None, reason: str, refused: bool = False) -> None:
        self.errors.append(RosterError(line, column, reason, refused))

    def run(self) -> list[PlannedRow]:
        for record in self.records:
            self.check(record)
        return self.planned

    def check(self, record: Record) -> None:
        line, v = record.line, record.values
        before = len(self.errors)
        role = self.check_role(line, v["角色"])
        name = self.check_name(line, v["姓名"])
        mobile = self.check_mobile(line, v["手机号"])
        node = self.check_place(line, v, role) if role else None
        if mobile and name:
            first = self.names.setdefault(mobile, (name, line))
            if first[0] != name:
                self.error(
                    line,
                    "姓名",
                    _(
                        "The mobile number %(mobile)s is given to “%(other)s” on line %(first)s; "
                        "one number is one person.",
                        mobile=mobile,
                        other=first[0],
                        first=first[1],
                    ),
                )
        if node is not None:
            self.check_scope(line, role, node)
        if len(self.errors) == before:
            self.planned.append(PlannedRow(line, mobile, name, role, node))

    def check_role(self, line: int, text: str) -> str | None:
        if not text:
            self.error(line, "角色", _("The role is missing. Use one of: %(roles)s.", roles=_role_text()))
            return None
        role = ROLE_NAMES.get(text) or ROLE_NAMES.get(re.sub(r"\s+", "", text))
        if role is None:
            self.error(
                line, "角色", _("“%(text)s” is not a role. Use one of: %(roles)s.", text=text, roles=_role_text())
            )
        return role

    def check_name(self, line: int, text: str) -> str | None:
        if not text:
            self.error(line, "姓名", _("The name is missing."))
            return None
        if len(text) > NAME_MAX:
            self.error(line, "姓名", _("The name is longer than %(max)s characters.", max=NAME_MAX))
            return None
        return text

    def check_mobile(self, line: int, text: str) -> str | None:
        if not text:
            self.error(line, "手机号", _("The mobile number is missing."))
            return None
        mobile = parse_mobile(text.lstrip("'"))
        if mobile is None:
            if SCIENTIFIC_RE.match(text):
                reason = _(
                    "“%(text)s” was saved in scientific notation, which loses digits. "
                    "Format the mobile column (手机号) as text in Excel and save again.",
                    text=text,
                )
            else:
                reason = _("“%(text)s” is not a mainland mobile number (11 digits, starting with 1).", text=text)
            self.error(line, "手机号", reason)
        return mobile

    def check_place(self, line: int, v: dict[str, str], role: str) -> TreeNode | None:
        """The node the row's role sits on: existing, or planned for creation below an existing community."""
        role_name = ROLE_FILE_NAME[role]
        depth = list(COLUMN_LEVEL.values()).index(ROLE_LEVEL[role]) + 1 if role != "district_admin" else 0
        ok = True
        for i, column in enumerate(TREE_COLUMNS):
            if i < depth and not v[column]:
                self.error(line, column, _("A %(role)s row needs the %(column)s.", role=role_name, column=column))
                ok = False
            elif i >= depth and v[column]:
                self.error(
                    line,
                    column,
                    _("Leave %(column)s empty on a %(role)s row.", column=column, role=role_name),
                )
                ok = False
            elif v[column] and len(v[column]) > NODE_NAME_MAX:
                self.error(line, column, _("The name is longer than %(max)s characters.", max=NODE_NAME_MAX))
                ok = False
        if not ok:
            return None
        tree = self.tree
        if role == "district_admin":
            if tree.district is None:
                self.error(line, "角色", _("There is no district in the tree yet."))
            return tree.district
        street = tree.streets.get(v["街镇"])
        if street is None:
            self.error(
                line,
                "街镇",
                _("There is no street (街镇) called “%(name)s”.", name=v["街镇"])
                + _did_you_mean(v["街镇"], tree.streets),
            )
            return None
        if depth == 1:
            return street
        community = street.children.get(v["社区"])
        if community is None:
            self.error(
                line,
                "社区",
                _("There is no community (社区) called “%(name)s” in %(street)s.", name=v["社区"], street=street.name)
                + _did_you_mean(v["社区"], street.children),
            )
            return None
        node = community
        for column in ("片", "组", "邻")[: depth - 2]:
            name = v[column]
            if name not in node.children and not self.allow_new_nodes:
                like = close_match(name, node.children)
                if like is not None:
                    self.error(
                        line,
                        column,
                        _(
                            "There is no %(level)s called “%(name)s” in %(parent)s, but there is “%(like)s”: "
                            "correct the name, or allow new zones, groups and neighbour units (片/组/邻) if it really "
                            "is a new one.",
                            level=column,
                            name=name,
                            parent=node.name,
                            like=like.name,
                        ),
                    )
                    return None
            node = tree.child(node, COLUMN_LEVEL[column], name)
        return node

    def check_scope(self, line: int, role: str, node: TreeNode) -> None:
        """The actor's import scope must cover the row's node; admin rows need a district admin."""
        if self.actor is None:
            return  # the command line may import anything
        if role in ADMIN_ROLES and not policy.allowed(self.actor, "import_admin_rows", node.probe()):
            self.error(
                line,
                "角色",
                _("Only a district administrator may import %(role)s rows.", role=ROLE_FILE_NAME[role]),
                refused=True,
            )
            return
        key = id(node)
        if key not in self._allowed:
            self._allowed[key] = policy.allowed(self.actor, "import_roster", node.probe())
        if not self._allowed[key]:
            column = "角色" if node.level == "district" else "街镇"
            self.error(line, column, _("This place is outside the area you may import for."), refused=True)


# --- writing ---------------------------------------------------------------------------------------------------


def _insert_nodes(nodes: list[TreeNode]) -> None:
    """Insert planned nodes level by level, filling the ancestor columns as add_node does."""
    for level in LEVELS_BELOW_COMMUNITY:
        batch = [n for n in nodes if n.level == level]
        if not batch:
            continue
        rows = [
            {
                "level": n.level,
                "name": n.name,
                "kind": None,
                "parent_id": n.parent.id,
                "compound_id": n.compound_id,
                **n.parent.ancestors(),
            }
            for n in batch
        ]
        # (parent_id, name) is unique, so the returned rows are matched by it; asking for them in parameter
        # order instead would make SQLite insert one row per statement.
        returned = db.session.execute(insert(NODE).returning(NODE.c.id, NODE.c.parent_id, NODE.c.name), rows)
        ids = {(r.parent_id, r.name): r.id for r in returned}
        for n in batch:
            n.id = ids[(n.parent.id, n.name)]
        if level != "neighbour":
            own = getattr(Node, f"{level}_id")
            for chunk in _chunks([n.id for n in batch]):
                db.session.execute(
                    update(Node)
                    .where(Node.id.in_(chunk))
                    .values({own: Node.id})
                    .execution_options(synchronize_session=False)
                )


@dataclass
class Plan:
    """What a good file will change."""

    new_people: dict[str, str] = field(default_factory=dict)  # mobile → name
    renamed: dict[int, str] = field(default_factory=dict)  # person id → new name
    unchanged: set[int] = field(default_factory=set)
    roles: list[tuple[str, str, TreeNode]] = field(default_factory=list)  # (mobile, role, node)


def _plan(rows: list[PlannedRow], people: dict[str, KnownPerson]) -> Plan:
    """Who is created, renamed or left alone, and which roles are added."""
    plan = Plan()
    seen_roles: set[tuple[str, str, int]] = set()
    for row in rows:
        known = people.get(row.mobile)
        if known is None:
            plan.new_people.setdefault(row.mobile, row.name)
        elif known.name != row.name:
            plan.renamed[known.id] = row.name
        else:
            plan.unchanged.add(known.id)
        key = (row.mobile, row.role, id(row.node))
        if key in seen_roles:
            continue
        seen_roles.add(key)
        if known is not None and not row.node.new and (row.role, row.node.id) in known.roles:
            continue
        plan.roles.append((row.mobile, row.role, row.node))
    return plan


# The roles a node has one of: a roster that names someone else for one replaces the holder.
LEADER_ROLES = ("zone_leader", "group_leader", "neighbour_leader")


@dataclass(frozen=True)
class Replacement:
    """A leader role the file gives to someone else: the current holder's assignment ends on import."""

    role_id: int
    person_id: int
    name: str
    mobile: str
    role: str
    place: str
    by: str  # the name(s) the file gives for the role there


def _replacements(rows: list[PlannedRow]) -> list[Replacement]:
    """Leader roles on existing nodes whose holders the file does not name for them (one query per chunk)."""
    wanted: dict[tuple[str, int], dict[str, str]] = {}  # (role, node id) → mobile → name
    nodes: dict[int, TreeNode] = {}
    for row in rows:
        if row.role in LEADER_ROLES and not row.node.new:
            wanted.setdefault((row.role, row.node.id), {})[row.mobile] = row.name
            nodes[row.node.id] = row.node
    found = []
    for chunk in _chunks(sorted(nodes)):
        query = (
            select(RoleAssignment.id, RoleAssignment.role, RoleAssignment.node_id, Person.id.label("person_id"))
            .add_columns(Person.name, Person.mobile)
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(RoleAssignment.node_id.in_(chunk), RoleAssignment.role.in_(LEADER_ROLES))
            .order_by(RoleAssignment.id)
        )
        for r in db.session.execute(query):
            named = wanted.get((r.role, r.node_id))
            if named is None or r.mobile in named:
                continue
            by = "、".join(sorted(set(named.values())))
            found.append(Replacement(r.id, r.person_id, r.name, r.mobile, r.role, nodes[r.node_id].path(), by))
    return found


@dataclass
class ChangeSet:
    """What a good file will change, shown before anything is written (the preview and `--dry-run`)."""

    nodes_created: list[tuple[str, str]] = field(default_factory=list)  # (level, place)
    people_added: list[tuple[str, str]] = field(default_factory=list)  # (name, mobile)
    people_renamed: list[tuple[str, str, str]] = field(default_factory=list)  # (mobile, old name, new name)
    roles_added: list[tuple[str, str, str, str]] = field(default_factory=list)  # (name, mobile, role, place)
    roles_removed: list[Replacement] = field(default_factory=list)
    left_without_role: list[tuple[str, str]] = field(default_factory=list)  # (name, mobile)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.nodes_created,
                self.people_added,
                self.people_renamed,
                self.roles_added,
                self.roles_removed,
                self.left_without_role,
            )
        )

    def fingerprint(self) -> str:
        """A digest of the whole change set: the confirmation applies only what was previewed."""
        text = json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def lines(self, limit: int | None = None) -> list[str]:
        """The change set as text lines in the file's own words (the command line prints them)."""
        out: list[str] = []

        def section(title: str, items: list[str]) -> None:
            out.append(f"{title}: {len(items)}")
            shown = items if limit is None else items[:limit]
            out.extend(f"  {item}" for item in shown)
            if len(items) > len(shown):
                out.append("  " + _("… and %(n)s more", n=len(items) - len(shown)))

        section(
            _("Zones, groups and neighbour units (片/组/邻) to create"), [place for _level, place in self.nodes_created]
        )
        section(_("People to add"), [f"{name} {mobile}" for name, mobile in self.people_added])
        section(_("Names to correct"), [f"{mobile} {old} → {new}" for mobile, old, new in self.people_renamed])
        section(
            _("Roles to add"),
            [f"{name} {mobile} {ROLE_FILE_NAME[role]} {place}" for name, mobile, role, place in self.roles_added],
        )
        section(
            _("Roles to end (someone else named)"),
            [f"{r.name} {r.mobile} {ROLE_FILE_NAME[r.role]} {r.place} → {r.by}" for r in self.roles_removed],
        )
        section(_("People left with no role"), [f"{name} {mobile}" for name, mobile in self.left_without_role])
        return out


def _change_set(
    plan: Plan, people: dict[str, KnownPerson], tree: Tree, replaced: list[Replacement], names: dict
) -> ChangeSet:
    changes = ChangeSet()
    changes.nodes_created = [(n.level, n.path()) for n in tree.new_nodes]
    changes.people_added = [(name, mobile) for mobile, name in plan.new_people.items()]
    by_id = {known.id: (mobile, known) for mobile, known in people.items()}
    changes.people_renamed = [(by_id[pid][0], by_id[pid][1].name, new) for pid, new in sorted(plan.renamed.items())]
    name_of = {mobile: name for mobile, (name, _line) in names.items()}
    changes.roles_added = [(name_of[m], m, role, node.path()) for m, role, node in plan.roles]
    changes.roles_removed = replaced
    # Someone whose every role ends, and whom the file does not name for anything else.
    losing: dict[int, int] = {}
    for r in replaced:
        losing[r.person_id] = losing.get(r.person_id, 0) + 1
    held: dict[int, int] = {}
    for chunk in _chunks(sorted(losing)):
        query = (
            select(RoleAssignment.person_id, func.count())
            .where(RoleAssignment.person_id.in_(chunk))
            .group_by(RoleAssignment.person_id)
        )
        held.update(dict(db.session.execute(query).all()))
    left = {}
    for r in replaced:
        if held.get(r.person_id, 0) <= losing[r.person_id] and r.mobile not in name_of:
            left[r.person_id] = (r.name, r.mobile)
    changes.left_without_role = [left[pid] for pid in sorted(left)]
    return changes


def _check_renames(checker: Checker, people: dict[str, KnownPerson]) -> None:
    """A name may only be corrected by someone who manages every role that person holds.

    Checked for every row with a good name and number, even when other rows are bad, so that one
    upload reports every problem.
    """
    actor = checker.actor
    if actor is None:
        return
    renamed = {
        known.id: mobile
        for mobile, (name, _line) in checker.names.items()
        if (known := people.get(mobile)) is not None and known.name != name
    }
    refused = set()
    for chunk in _chunks(sorted(renamed)):
        query = (
            select(Person)
            .where(Person.id.in_(chunk))
            .options(selectinload(Person.roles).selectinload(RoleAssignment.node))
        )
        for person in db.session.scalars(query):
            if person.id != actor.id and not policy.allowed(actor, "manage_person", person):
                refused.add(person.id)
    for person_id in sorted(refused):
        checker.error(
            checker.names[renamed[person_id]][1],
            "姓名",
            _(
                "This mobile number belongs to someone registered under another name outside your area; "
                "ask a district administrator to correct the name."
            ),
            refused=True,
        )


def _write(plan: Plan, people: dict[str, KnownPerson], tree: Tree, result: ImportResult) -> None:
    now = utcnow()
    page_cache.mark({page_cache.TREE})  # Core INSERTs of nodes, people and roles: the reports' vacancies
    # Every planned node lies on the path of a good row (a bad row stops the import before this).
    _insert_nodes(tree.new_nodes)

    ids = {mobile: known.id for mobile, known in people.items()}
    if plan.new_people:
        mobiles = list(plan.new_people)
        rows = [
            {
                "name": plan.new_people[m],
                "mobile": m,
                "password_hash": None,
                "enabled": True,
                "auth_version": 1,
                "created_at": now,
            }
            for m in mobiles
        ]
        returned = db.session.execute(insert(PERSON).returning(PERSON.c.id, PERSON.c.mobile), rows)
        ids.update({r.mobile: r.id for r in returned})
    if plan.renamed:
        db.session.execute(update(Person), [{"id": pid, "name": name} for pid, name in plan.renamed.items()])
    if plan.roles:
        db.session.execute(
            insert(ROLE_ASSIGNMENT),
            [
                {"person_id": ids[m], "role": role, "node_id": node.id, "organisation_id": None, "created_at": now}
                for m, role, node in plan.roles
            ],
        )
    # Objects this session already holds (the actor, people loaded for the rename check) are now stale.
    touched = set(plan.renamed) | {ids[mobile] for mobile, _role, _node in plan.roles}
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Person) and obj.id in touched:
            db.session.expire(obj)
    db.session.flush()


# --- the entry point -------------------------------------------------------------------------------------------


def import_roster(
    filename: str,
    data: bytes,
    actor: Person | None = None,
    *,
    apply: bool = True,
    allow_new_nodes: bool = False,
) -> ImportResult:
    """Check a whole roster file and work out what it changes; then, only if every row is good and `apply`
    is set, write it in bulk and end the leader roles it gives to someone else (their work is handed on:
    turnover.end_roles). Flushes, never commits.

    `actor` is the person uploading it; None (the command line) may import anything. With apply=False
    (the preview, `--dry-run`) nothing is written at all. A 片/组/邻 name close to an existing one is a row
    error unless `allow_new_nodes`. On errors nothing has been written and the caller rolls back anyway.
    """
    records, errors = parse_table(filename, data)
    result = ImportResult(errors=errors, rows=len(records))
    if errors:
        return result
    checker = Checker(records, actor, allow_new_nodes)
    rows = checker.run()
    people = _load_people(list(checker.names))
    _check_renames(checker, people)
    if checker.errors:
        result.errors = sorted(checker.errors, key=lambda e: e.line or 0)  # stable: a line's errors keep their order
        log_refusals(actor, result.errors)
        return result
    plan = _plan(rows, people)
    replaced = _replacements(rows)
    result.changes = _change_set(plan, people, checker.tree, replaced, checker.names)
    _count(result, plan, checker.tree)
    if not apply:
        return result
    db.session.flush()  # anything pending goes first, so the bulk statements below see a settled session
    try:
        _write(plan, people, checker.tree, result)
    except IntegrityError:
        # Someone changed the same 片/组/邻 or people between our reads and our writes. The session's
        # transaction is now unusable; the caller rolls it back, as on any error.
        result.errors = [
            RosterError(
                None,
                None,
                _(
                    "The tree or the people changed while this file was being imported, so nothing was imported. "
                    "Please upload it again."
                ),
            )
        ]
        return result
    ending = [role for r in replaced if (role := db.session.get(RoleAssignment, r.role_id)) is not None]
    if ending:
        turnover.end_roles(actor, ending, "replaced")
    result.roles_ended = len(ending)
    streets = {row.node.street_id for row in rows}
    audit.record_change(
        actor,
        "roster_import",
        f"{filename}: {result.summary()}",
        street_id=streets.pop() if len(streets) == 1 else None,
    )
    result.applied = True
    log.info(
        "roster imported: actor=%s rows=%s people_created=%s people_updated=%s roles_added=%s roles_ended=%s "
        "nodes_created=%s",
        getattr(actor, "id", "cli"),
        result.rows,
        result.people_created,
        result.people_updated,
        result.roles_added,
        result.roles_ended,
        result.zones_created + result.groups_created + result.neighbours_created,
    )
    return result


def _count(result: ImportResult, plan: Plan, tree: Tree) -> None:
    """The figures of the summary, known before anything is written."""
    new_nodes = tree.new_nodes
    result.zones_created = sum(1 for n in new_nodes if n.level == "zone")
    result.groups_created = sum(1 for n in new_nodes if n.level == "group")
    result.neighbours_created = sum(1 for n in new_nodes if n.level == "neighbour")
    result.people_created = len(plan.new_people)
    result.people_updated = len(plan.renamed)
    result.people_unchanged = len(plan.unchanged - set(plan.renamed))
    result.roles_added = len(plan.roles)
    result.roles_ended = len(result.changes.roles_removed) if result.changes else 0


# --- the preview and its confirmation (the upload page) ---------------------------------------------------------

STAGED_FOR = timedelta(days=1)  # a preview nobody confirmed within a day is forgotten


def stage(actor: Person, filename: str, data: bytes, allow_new_nodes: bool, changes: ChangeSet) -> StagedRoster:
    """Keep a checked file until its uploader confirms the changes it showed (one waiting file per person)."""
    db.session.execute(
        delete(StagedRoster).where(
            (StagedRoster.person_id == actor.id) | (StagedRoster.created_at < utcnow() - STAGED_FOR)
        )
    )
    staged = StagedRoster(
        person_id=actor.id,
        filename=filename[:255],
        data=data,
        allow_new_nodes=allow_new_nodes,
        fingerprint=changes.fingerprint(),
        created_at=utcnow(),
    )
    db.session.add(staged)
    db.session.flush()
    return staged


def staged_file(actor: Person, staged_id: int | None) -> StagedRoster | None:
    """The actor's own waiting file, if it is still there (another person's is never found)."""
    if staged_id is None:
        return None
    return db.session.scalar(
        select(StagedRoster).where(
            StagedRoster.id == staged_id,
            StagedRoster.person_id == actor.id,
            StagedRoster.created_at >= utcnow() - STAGED_FOR,
        )
    )


def confirm(actor: Person, staged: StagedRoster, fingerprint: str) -> tuple[ImportResult, bool]:
    """Apply a staged file if it still changes exactly what was shown: (result, applied). When the tree or
    the people changed since the preview, nothing is kept (the caller rolls back) and the new change set is
    in the result for a second look."""
    result = import_roster(staged.filename, staged.data, actor, apply=True, allow_new_nodes=staged.allow_new_nodes)
    if result.errors or result.changes.fingerprint() != fingerprint or staged.fingerprint != fingerprint:
        return result, False
    db.session.delete(staged)
    db.session.flush()
    return result, True


def log_refusals(actor: Person | None, errors: list[RosterError]) -> None:
    """Rows refused by the policy are denials: logged once per upload, like every other denial."""
    refused = [e.line for e in errors if e.refused]
    if actor is not None and refused:
        policy.log_denial(actor, "import_roster", f"{len(refused)} row(s) outside scope, first on line {refused[0]}")
