"""Bad input, answered as JSON naming the parameter at fault."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rest_framework import status
from rest_framework.exceptions import APIException


class BadParameter(APIException):
    """A 400 whose body names the parameter: ``{"detail", "parameter", "code"}``."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, parameter: str, message: str, code: str = "invalid"):
        super().__init__({"detail": message, "parameter": parameter, "code": code})


def error_body(parameter: str, message: str, code: str) -> dict[str, str]:
    return {"detail": message, "parameter": parameter, "code": code}


# A "+" of an offset reaches us as a space when the client did not percent-encode it.
_OFFSET_AS_SPACE = re.compile(r"(\d) (\d\d(:?\d\d)?)$")


def parse_moment(text: str, parameter: str) -> datetime:
    """An ISO 8601 date and time with its time zone, in UTC; ``BadParameter`` otherwise."""
    value = moment_or_problem(text)
    if isinstance(value, str):
        raise BadParameter(parameter, f"{parameter}: {value}", "invalid_moment")
    return value


def moment_or_problem(text: object) -> datetime | str:
    """The moment ``text`` says, in UTC, or what is wrong with it."""
    if not isinstance(text, str):
        return "give a date and time as a string, such as 2026-11-01T12:00:00Z."
    try:
        if " " in text:
            text = _OFFSET_AS_SPACE.sub(r"\1+\2", text.strip())
        value = datetime.fromisoformat(text)
    except ValueError:
        return f"{text[:80]!r} is not an ISO 8601 date and time, such as 2026-11-01T12:00:00Z."
    if value.tzinfo is None:
        return (
            f"{text[:80]!r} has no time zone; add Z for UTC (2026-11-01T12:00:00Z) or an "
            "offset (+02:00)."
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # such as 0001-01-01T00:00:00+05:00, before year 1 in UTC
        return f"{text[:80]!r} is out of range."


def iso(moment: datetime) -> str:
    """A moment as the API writes it: UTC, ``Z``, microseconds only when there are some."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
