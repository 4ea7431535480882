"""How staff read prices and their identities: labels and price text, in one place.

The admin's pages and forms, the importer's messages, the price guard, the scheduled changes
and the history all word a price with these, so that one price reads the same everywhere.
Staff think per million tokens (or characters); the database keeps prices per token. The
conversion moves the decimal point (``Decimal.scaleb``), never rounds, never goes through a
float.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact

from catalog.choices import PER_MILLION_UNITS, weekday_names
from catalog.formats.flat.offering import PER_TOKEN_PRICE_FIELDS, plain_decimal
from catalog.models import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS
from catalog.offering import Omission, Price, describe_entry, scope_text

# A price per million tokens is the price per token with the decimal point six places right.
MILLION_EXPONENT = 6
# Enough precision for every stored price, and a trap in case a conversion would ever round.
EXACT = Context(prec=PRICE_MAX_DIGITS, traps=[Inexact])

PRICE_LABELS = {
    "price_prompt": "Prompt price (USD per million tokens)",
    "price_completion": "Completion price (USD per million tokens)",
    "price_input_cache_read": "Cached input price (USD per million tokens)",
    "price_image": "Image price (USD per image)",
    "price_request": "Request price (USD per request)",
}


def per_million(price_per_unit: Decimal) -> Decimal:
    return price_per_unit.scaleb(MILLION_EXPONENT, EXACT)


def per_unit(price_per_million: Decimal) -> Decimal:
    return price_per_million.scaleb(-MILLION_EXPONENT, EXACT)


def shown_price(field_name: str, price: Decimal) -> str:
    """A flat price as staff see and type it: per-token prices per million tokens."""
    if field_name in PER_TOKEN_PRICE_FIELDS:
        price = per_million(price)
    return plain_decimal(price)


def shown_cost(cost: Decimal, unit: str) -> str:
    """A price entry's cost as staff type it: "0.15 per 1M tokens", "0.01 per image"."""
    if unit in PER_MILLION_UNITS:
        return f"{plain_decimal(per_million(cost))} per 1M {unit}s"
    return f"{plain_decimal(cost)} per {unit}"


def cost_text(cost: Decimal, unit: str) -> str:
    """A cost as staff read it: "$0.15 per 1M tokens", "$0.2 per 1M characters", "$0.01 per
    image"."""
    return f"${shown_cost(cost, unit)}"


def clock(hhmm: int) -> str:
    return f"{hhmm // 100:02}:{hhmm % 100:02}"


def weekdays_text(bits: int) -> str:
    """A price's weekdays as staff read them: "UTC monday, friday"."""
    return "UTC " + ", ".join(weekday_names(bits))


def price_label(price: Price) -> str:
    """A price entry as staff read it: "output text completion per token (window 22:00-06:00)"."""
    qualifiers = []
    if price.ttl_seconds is not None:
        qualifiers.append(f"cache lifetime {price.ttl_seconds} s")
    if price.implicit is not None:
        qualifiers.append("implicit caching" if price.implicit else "explicit caching")
    if price.utc_start is not None and price.utc_end is not None:
        qualifiers.append(f"window {clock(price.utc_start)}-{clock(price.utc_end)}")
    if price.utc_days is not None:
        qualifiers.append(weekdays_text(price.utc_days))
    label = f"{scope_text(price.scope)} {price.price_type.replace('_', ' ')} per {price.unit}"
    return f"{label} ({', '.join(qualifiers)})" if qualifiers else label


def per_million_messages(unit: str) -> dict[str, str]:
    """The refusals of a price typed per million ``unit`` (tokens, characters), in that unit."""
    return {
        "max_decimal_places": (
            f"A price per million {unit}s has at most %(max)s decimal places "
            f"(that is {PRICE_DECIMAL_PLACES} per {unit})."
        ),
        "implausible_price": (
            f"%(value)s USD per million {unit}s is above the ceiling of %(ceiling)s USD per "
            f"million {unit}s; check the price and its unit."
        ),
    }


def omission_text(omission: Omission) -> str:
    """What the typed format leaves out of a model, and why, as the admin's page warns of it."""
    entry = omission.entry
    if isinstance(entry, Price):
        what = f"{price_label(entry)} ({cost_text(entry.cost_usd, entry.unit)})"
    elif omission.field is not None:
        # A modality's flag (streaming), as the admin's select shows it.
        what = f"{omission.subject} ({'yes' if getattr(entry, omission.field) else 'no'})"
    else:
        what = describe_entry(entry)
    return f"The typed format (schema_version 2.4) leaves out {what}: {omission.reason}"
