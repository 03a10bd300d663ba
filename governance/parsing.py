"""Reading the numbers people and browsers send: ids and page numbers from query strings, forms and JSON.

One reader for every such value, so that no page reads them its own way. Python's int() is too
generous for the job: it takes "+5", "1_000", " 5", digits of any script ("١٢٣" is 123) and numbers
of any size, and the database then refuses what the page let through (PostgreSQL's INTEGER stops at
2,147,483,647; SQLite's planner at 2**63) with a 500. Here an id is ASCII digits (or the full-width
digits a Chinese keyboard types) naming 1..DB_INT_MAX; anything else is no id at all, which the
pages answer as "not found" or as a filter left out. Page numbers are clamped to 1..MAX_PAGE.
A mobile number (a login, a roster row, the number an activation slip's link fills in) is read by
`parse_mobile` alone, the same way: a mainland mobile number in ASCII or full-width digits, or nothing.
"""

from __future__ import annotations

import re
import unicodedata

# The largest id an INTEGER column holds on PostgreSQL (and what SQLite's planner should be given).
DB_INT_MAX = 2**31 - 1
# No list pages this far: a larger page number shows the last page any list can have (empty).
MAX_PAGE = 10_000

# Full-width digits (０-９, U+FF10..U+FF19) are what a Chinese input method types; they mean 0-9.
FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_ASCII_DIGITS = re.compile(r"[0-9]+")
# A mainland mobile number: 11 ASCII digits, 13x..19x ([0-9], not \d: that also matches
# other scripts' digits), anchored at both ends (\Z: no newline after it either).
MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}\Z")
# What people write between the digits of a number: spaces, hyphens, brackets (+86 139-0000-0000).
_MOBILE_NOISE = re.compile(r"[\s\-()]")
# Longer than any spelling of a number with its country code and spaces: not read at all.
_MAX_MOBILE_TEXT = 40
# Leading zeros aside, an id has at most 10 digits; longer text is refused before int() reads it.
_MAX_DIGITS = 12


def ascii_digits(text: str) -> str:
    """`text` with full-width digits written as ASCII ones; other characters are left as they are."""
    return text.translate(FULL_WIDTH_DIGITS)


def parse_number(value, low: int, high: int) -> int | None:
    """A whole number within low..high written in ASCII or full-width digits (no sign), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = ascii_digits(str(value if value is not None else "").strip())
        if not text or len(text) > _MAX_DIGITS or not _ASCII_DIGITS.fullmatch(text):
            return None
        number = int(text)
    return number if low <= number <= high else None


def parse_id(value) -> int | None:
    """A database id (1..DB_INT_MAX) from a query string, a form or JSON; None for anything else."""
    return parse_number(value, 1, DB_INT_MAX)


def parse_page(value) -> int:
    """A page number: 1 for a missing or unreadable one, at most MAX_PAGE."""
    if isinstance(value, str):
        text = ascii_digits(value.strip())
        if _ASCII_DIGITS.fullmatch(text) and len(text) > _MAX_DIGITS:
            return MAX_PAGE  # a page beyond any list: the last one
    number = parse_number(value, 1, 10**_MAX_DIGITS)
    return min(number, MAX_PAGE) if number else 1


def parse_mobile(value) -> str | None:
    """'+86 139-0000-0000' (or in full-width digits) → '13900000000'; None for anything that is not a
    mainland mobile number."""
    if not isinstance(value, str) or len(value) > _MAX_MOBILE_TEXT:
        return None
    digits = _MOBILE_NOISE.sub("", ascii_digits(value))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if MOBILE_RE.match(digits) else None


def clean_text(text: str | None, *, one_line: bool = False) -> str:
    """Text a person typed, as kept: trimmed, control characters other than newlines dropped (CRLF read as a
    newline), and with one_line the line breaks (and the spaces around them) made one space. Nothing else is
    changed: a full-width comma is Chinese punctuation, not a typing slip."""
    text = (text or "").replace("\r\n", "\n").strip()
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s*\n\s*", " ", text) if one_line else text
