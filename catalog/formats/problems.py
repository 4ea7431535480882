"""How a decoder reports bad input: every problem, each naming its record, ID and field.

A message echoes what the file holds, and the file may be hostile: each value, ID and field is
shortened to ``ECHO_LIMIT`` characters (with its full length), and a lone surrogate is written
as its escape (``\\ud800``), so that a message is short and always valid UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from catalog.offering import ROOT, OfferingProblem, Price


class _Absent:
    def __repr__(self):
        return "ABSENT"


# The value of a problem about a missing key.
ABSENT = _Absent()


# The most problems a decoder looks for: a hostile file of 50 MB can hold millions, which would
# take gigabytes to collect and to print (docs/PERFORMANCE.md).
MAX_PROBLEMS = 1000
# The most characters of one value, ID or field a message echoes.
ECHO_LIMIT = 80
# The most characters of a reason: the longest written is under half of it.
REASON_LIMIT = 400


class LongInteger:
    """A JSON integer too long to convert (``strict_json.MAX_INTEGER_DIGITS``), kept as text.

    Not an ``int``: every reader of a number refuses it, with its length.
    """

    __slots__ = ("digits", "head")

    def __init__(self, text: str):
        self.digits = len(text.lstrip("-"))
        self.head = text[: ECHO_LIMIT - 1]

    def __str__(self) -> str:
        return f"{self.head}… ({self.digits:,} digits)"


def to_json(value: object) -> str:
    # A LongInteger inside a list shows as a string: JSON has no way to write it shortened.
    return json.dumps(value, ensure_ascii=False, default=str)


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def echo(value: object) -> str:
    """A value of the file as a message shows it: JSON, shortened, with the length it had."""
    if isinstance(value, LongInteger):
        return str(value)
    text = to_json(value)
    if len(text) <= ECHO_LIMIT:
        return text
    length = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} as JSON"
    return f"{text[: ECHO_LIMIT - 1]}… ({length})"


def describe(value: object) -> str:
    """What a JSON value is, for a message: ``the string "x"``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return to_json(value)
    if isinstance(value, str):
        return f"the string {echo(value)}"
    if isinstance(value, int | float):
        return f"the number {echo(value)}"
    if isinstance(value, LongInteger):
        return f"a number of {value.digits:,} digits"
    return "a list" if isinstance(value, list) else "an object"


@dataclass(frozen=True)
class Problem:
    """One problem in a catalog file.

    ``index`` is the record's position in ``data`` (None for the file as a whole), ``id`` the
    record's ID when it has a readable one, ``field`` the wire field (``pricing.prompt``,
    ``datacenters[1].country_code``; empty for the record or file as a whole).
    """

    index: int | None
    id: str | None
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        parts = ["file" if self.index is None else f"record {self.index}"]
        if self.id is not None:
            parts.append(f"id {echo(self.id)}")
        if self.field:
            # An unknown key is a field too, and may be as long as a value.
            parts.append(shorten(self.field))
        if self.value is not ABSENT:
            parts.append(f"value {echo(self.value)}")
        # A rule's message may quote the whole value (a name's control characters).
        return printable(", ".join(parts) + ": " + shorten(self.reason, REASON_LIMIT))


def printable(text: str) -> str:
    """``text`` with each lone surrogate written as its escape, so that it encodes as UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def file_problem(reason: str, *, field: str = "", value: object = ABSENT) -> Problem:
    """A problem of the file as a whole (not of one record)."""
    return Problem(None, None, field, value, reason)


class CatalogFileInvalid(Exception):
    """The file has problems; it was not imported. ``problems`` lists every one found.

    ``complete`` is false when a decoder stopped looking at ``MAX_PROBLEMS`` (or found more):
    the message then lists the first ``MAX_PROBLEMS`` and says there are more.
    """

    def __init__(self, problems: list[Problem], *, complete: bool = True):
        self.problems = problems
        self.complete = complete and len(problems) <= MAX_PROBLEMS
        lines = [str(problem) for problem in problems[:MAX_PROBLEMS]]
        if not self.complete:
            lines.append(f"… and more; only the first {MAX_PROBLEMS} problems are listed.")
        super().__init__("\n".join(lines))


def rule_reason(problem: OfferingProblem) -> str:
    """A problem of the offering's rules (``Offering.problems()``) as a decoder words it: about
    the value at the JSON path it names (the problem's field)."""
    entry = problem.entry
    value = getattr(entry, problem.field) if problem.field else None
    if problem.code == "hhmm" and isinstance(value, int):
        if 0 <= value <= 2359:
            return f"must be a UTC time written HHMM: minutes {value % 100} are past 59."
        return "must be a UTC time written HHMM, from 0 to 2359."
    if problem.code == "empty_window":
        return "must differ from utc_start."
    if problem.code == "scope" and problem.field == "unit":
        kind = entry.price_type if isinstance(entry, Price) else entry.capacity_type
        where = "the request scope" if entry.scope == ROOT else f"an {entry.scope[0]} modality"
        return f"is not a unit of {kind} in {where}."
    return problem.message
