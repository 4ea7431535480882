"""How a decoder reports bad input: every problem, each naming its record, ID and field."""

from __future__ import annotations

import json
from dataclasses import dataclass


class _Absent:
    def __repr__(self):
        return "ABSENT"


# The value of a problem about a missing key.
ABSENT = _Absent()


def to_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: object) -> str:
    """What a JSON value is, for a message: ``the string "x"``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return to_json(value)
    if isinstance(value, str):
        return f"the string {shorten(to_json(value))}"
    if isinstance(value, int | float):
        return f"the number {to_json(value)}"
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
            parts.append(f"id {to_json(self.id)}")
        if self.field:
            parts.append(self.field)
        if self.value is not ABSENT:
            parts.append(f"value {shorten(to_json(self.value))}")
        return ", ".join(parts) + ": " + self.reason


def file_problem(reason: str, *, field: str = "", value: object = ABSENT) -> Problem:
    """A problem of the file as a whole (not of one record)."""
    return Problem(None, None, field, value, reason)


class CatalogFileInvalid(Exception):
    """The file has problems; it was not imported. ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
