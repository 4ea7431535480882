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


def _control_characters(value: str) -> list[str]:
    return [char for char in value if unicodedata.category(char) == "Cc"]


def validate_model_id(value: str) -> None:
    if not value:
        raise ValidationError("The ID must not be empty.", code="blank")
    if any(char.isspace() for char in value) or _control_characters(value):
        raise ValidationError(
            "The ID must not contain whitespace or control characters: %(value)r.",
            code="invalid_characters",
            params={"value": value},
        )


def validate_display_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("The name must not be blank.", code="blank")
    if _control_characters(value):
        raise ValidationError(
            "The name must not contain control characters: %(value)r.",
            code="control_characters",
            params={"value": value},
        )


def validate_hugging_face_id(value: str) -> None:
    if value and not HUGGING_FACE_ID_RE.fullmatch(value):
        raise ValidationError(
            "A Hugging Face ID looks like owner/name (or leave it empty): %(value)r.",
            code="invalid_hugging_face_id",
            params={"value": value},
        )


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
