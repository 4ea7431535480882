"""JSON as every format writes it: exact decimals (as text, or as numbers that never pass
through a float), Unix seconds, deprecation moments, and the exact text of a body; and the
wire values both decoders read back (``read_*``, raising ``Invalid``). Neutral: each format's
encoder and decoder use these, none borrows them from another."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from catalog.formats.problems import describe
from catalog.formats.strict_json import JSONFloat

# 10**11 seconds is the year 5138; a larger "created" is a time in milliseconds.
_MILLISECONDS_FROM = 10**11
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A deprecation: a bare date, or a UTC moment (on the hour, checked apart).
_DEPRECATION_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})Z)?")


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


# --- Wire values read back: each converter names what was expected ---------------------------
class Invalid(ValueError):
    """A wire value of the wrong type or notation; the message says what was expected."""


def read_string(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string, not {describe(value)}.")
    return value


def read_integer(value: object) -> int:
    if type(value) is not int:  # bool is an int to Python, not to JSON
        raise Invalid(f"must be a JSON integer, not {describe(value)}.")
    return value


def read_created(value: object) -> datetime:
    seconds = read_integer(value)
    if seconds >= _MILLISECONDS_FROM:
        raise Invalid(
            f"looks like a time in milliseconds; created is Unix time in seconds "
            f"({seconds // 1000}?)."
        )
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid("is not a Unix time in seconds.") from None


def read_date(value: object) -> date:
    if value is None:
        raise Invalid("must be a date YYYY-MM-DD; leave the key out when there is none.")
    text = read_string(value)
    if not _ISO_DATE_RE.fullmatch(text):
        raise Invalid("must be a date written YYYY-MM-DD.")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise Invalid(f"is not a real date ({error}).") from None


def read_deprecation(value: object) -> tuple[date, int | None]:
    """A deprecation date and its UTC hour (None for a bare date)."""
    if value is None:
        raise Invalid("must be a date YYYY-MM-DD; leave the key out when there is none.")
    match = _DEPRECATION_RE.fullmatch(read_string(value))
    if match is None:
        raise Invalid("must be a date written YYYY-MM-DD, or a UTC hour YYYY-MM-DDTHH:00:00Z.")
    day = read_date(match[1])
    if match[2] is None:
        return day, None
    if (match[3], match[4]) != ("00", "00"):
        raise Invalid(f"must be on the hour, such as {match[1]}T{match[2]}:00:00Z.")
    if int(match[2]) > 23:
        raise Invalid("is not a real hour of the day (00 to 23).")
    return day, int(match[2])


def read_discount(value: object) -> Decimal:
    """A JSON number, read exactly (its text, never the binary float)."""
    if isinstance(value, str):
        raise Invalid(f"must be a JSON number (no quotes), not {describe(value)}.")
    if isinstance(value, JSONFloat):
        return Decimal(value.text)
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, float):  # NaN or Infinity, reported with the record's keys
        raise Invalid("NaN and Infinity are not JSON.")
    raise Invalid(f"must be a JSON number below 1, such as 0.1, not {describe(value)}.")
