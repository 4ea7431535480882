"""JSON as every format writes it: exact decimals (as text, or as numbers that never pass
through a float), Unix seconds, deprecation moments, and the exact text of a body. Neutral:
each format's encoder uses these, none borrows them from another."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal


def plain_decimal(value: Decimal) -> str:
    """A price in plain notation: no exponent, no trailing zeros ("0.00000015", "0", "12")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class JSONNumber(str):
    """A decimal served as a JSON number, exactly (``discount_to_user``): never a float.

    ``json`` writes it as a string between NUL characters, which ``dumps`` (and ``render``)
    then unquotes. No stored text holds a NUL (PostgreSQL's text cannot, and the decoder
    refuses one), so nothing else is ever unquoted.
    """

    __slots__ = ()

    def __new__(cls, value: Decimal) -> JSONNumber:
        return super().__new__(cls, f"\x00{plain_decimal(value)}\x00")


# A JSONNumber as ``json.dumps`` writes it (ensure_ascii=False escapes NUL all the same).
_JSON_NUMBER_RE = re.compile(r'"\\u0000(-?[0-9.]+)\\u0000"')


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def deprecation(day: date, hour: int | None) -> str:
    """A deprecation date as served: the bare date, or with its UTC hour."""
    return day.isoformat() if hour is None else f"{day.isoformat()}T{hour:02d}:00:00Z"


def dumps(value: object, *, indent: int | None = None) -> str:
    """``value`` (records, or anything holding them) as JSON text, each ``JSONNumber`` a
    number: compact as served, or indented for reading (``indent``)."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(
        value, ensure_ascii=False, separators=separators, indent=indent, allow_nan=False
    )
    if "\\u0000" in text:  # a JSONNumber (a NUL is in no other text): served as a number
        text = _JSON_NUMBER_RE.sub(r"\1", text)
    return text
