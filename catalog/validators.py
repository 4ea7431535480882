"""The field rules of the wire format (../shared/docs/PRODUCT.md), used by the model fields.

The admin form and the importer both reach these through ``ServedModel.full_clean()``; the
database constraints in ``catalog.models`` repeat the essentials as the last line.
"""

from __future__ import annotations

import re
import unicodedata

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError

HUGGING_FACE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

# Codes people type for a region or a country's alpha-3 code, with the code they mean.
_COUNTRY_CODE_HINTS = {"UK": "GB", "EL": "GR"}


# Characters that show nothing, or only a blank, so that two different strings look alike
# ("acme/chat" and "acme/chat" with a zero-width space), or that reorder the text around them
# (bidirectional overrides). Refused in IDs, Hugging Face IDs and names, by the validators below
# and by the database (the same pattern, in catalog.models and migration 0007). The set, fixed
# here rather than read from the running Python's Unicode tables so that the database and every
# version of Python agree on it:
# - every format character (Unicode category Cf): zero-width space and joiners, bidirectional
#   marks, embeddings, overrides and isolates, the byte-order mark, soft hyphen, invisible
#   operators, Arabic and Syriac number signs, interlinear annotation marks, tags;
# - every other Default_Ignorable_Code_Point (Unicode's own list of what a renderer may show as
#   nothing): the combining grapheme joiner, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0,
#   the Khmer inherent vowels, the Mongolian and Unicode variation selectors (so an emoji in a
#   name takes its default presentation), and the ranges reserved for more of them;
# - U+2028 and U+2029, line and paragraph separators, which break a name over lines as a
#   newline (a control character, refused already) would;
# - U+2800, the blank Braille pattern, a printable character that renders as a space.
# Control characters (Cc) have their own rule below; whitespace is refused in IDs only.
INVISIBLE_CHARACTER_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def _escape(code_point: int) -> str:
    # Escapes that Python's re and PostgreSQL's regular expressions read alike.
    return f"\\u{code_point:04x}" if code_point <= 0xFFFF else f"\\U{code_point:08x}"


# A bracket expression of the ranges above, in ASCII: the pattern never holds the characters.
INVISIBLE_CHARACTERS_PATTERN = (
    "["
    + "".join(
        _escape(low) if low == high else f"{_escape(low)}-{_escape(high)}"
        for low, high in INVISIBLE_CHARACTER_RANGES
    )
    + "]"
)
_INVISIBLE_CHARACTERS_RE = re.compile(INVISIBLE_CHARACTERS_PATTERN)


def _control_characters(value: str) -> list[str]:
    return [char for char in value if unicodedata.category(char) == "Cc"]


def _refuse_invisible_characters(value: str, what: str) -> None:
    found = dict.fromkeys(_INVISIBLE_CHARACTERS_RE.findall(value))
    if found:
        # Named by code point: the characters themselves would show nothing in the message.
        names = ", ".join(
            f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip() for char in found
        )
        raise ValidationError(
            "%(what)s must not contain invisible characters (%(names)s): %(value)r.",
            code="invisible_characters",
            params={"what": what, "names": names, "value": value},
        )


def validate_model_id(value: str) -> None:
    if not value:
        raise ValidationError("The ID must not be empty.", code="blank")
    if any(char.isspace() for char in value) or _control_characters(value):
        raise ValidationError(
            "The ID must not contain whitespace or control characters: %(value)r.",
            code="invalid_characters",
            params={"value": value},
        )
    _refuse_invisible_characters(value, "The ID")


def validate_display_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("The name must not be blank.", code="blank")
    if _control_characters(value):
        raise ValidationError(
            "The name must not contain control characters: %(value)r.",
            code="control_characters",
            params={"value": value},
        )
    _refuse_invisible_characters(value, "The name")


def validate_hugging_face_id(value: str) -> None:
    # Its pattern (ASCII only) refuses these too; this says which character is wrong.
    _refuse_invisible_characters(value, "The Hugging Face ID")
    if value and not HUGGING_FACE_ID_RE.fullmatch(value):
        raise ValidationError(
            "A Hugging Face ID looks like owner/name (or leave it empty): %(value)r.",
            code="invalid_hugging_face_id",
            params={"value": value},
        )


def country_name(code: str) -> str:
    """An alpha-2 code's country as people read it ("Taiwan", not "Taiwan, Province of
    China"); empty for a code ISO 3166-1 lacks."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return ""
    return getattr(country, "common_name", None) or country.name


def validate_country_code(value: str) -> None:
    if len(value) == 2 and value.isupper() and pycountry.countries.get(alpha_2=value):
        return
    hint = ""
    if value.upper() in _COUNTRY_CODE_HINTS:
        hint = f" Did you mean {_COUNTRY_CODE_HINTS[value.upper()]}?"
    elif len(value) == 3 and (country := pycountry.countries.get(alpha_3=value.upper())):
        hint = f" {value} is an alpha-3 code; {country.name} is {country.alpha_2}."
    elif len(value) == 2 and pycountry.countries.get(alpha_2=value.upper()):
        hint = f" Use capitals: {value.upper()}."
    raise ValidationError(
        "%(value)r is not an ISO 3166-1 alpha-2 country code.%(hint)s",
        code="invalid_country_code",
        params={"value": value, "hint": hint},
    )


def validate_price_per_token(value) -> None:
    """Refuse a per-token price so high it must be a price per million tokens."""
    ceiling = settings.CATALOG_MAX_PRICE_PER_TOKEN
    if value is not None and value > ceiling:
        raise ValidationError(
            "%(value)s USD per token is above the ceiling of %(ceiling)s USD per token; "
            "it looks like a price per million tokens.",
            code="implausible_price",
            params={"value": value, "ceiling": ceiling},
        )
