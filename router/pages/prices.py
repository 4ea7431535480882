"""Prices in plain words, and the cost calculator, from a model's offering.

The words come from the flat fields OpenRouter is told (``offering_flat_fields``: five prices,
tiers or windows) and from the offering's typed entries for the rest; each cost is spelled by
``catalog.presentation.cost_text`` ("$0.15 per 1M tokens"), the catalog's one price text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from catalog.choices import Direction, weekday_names
from catalog.formats.flat.offering import FlatFields, FlatOverride, price_scope
from catalog.offering import ROOT, Offering, Price
from catalog.presentation import cost_text

# The flat price keys, their unit and how a person calls them.
FLAT_PRICES: dict[str, tuple[str, str]] = {
    "prompt": ("token", "input"),
    "completion": ("token", "output"),
    "input_cache_read": ("token", "cache read"),
    "image": ("image", "image"),
    "request": ("request", "request"),
}
_MILLION = Decimal(1_000_000)


def moment_text(moment: datetime) -> str:
    """ "1 Jan 2027 00:00 UTC"."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def clock(hhmm: int) -> str:
    return f"{hhmm // 100:02}:{hhmm % 100:02}"


def tokens_text(count: int) -> str:
    """128000 -> "128K", 1048576 -> "1M" (binary thousands only when exact)."""
    for size, suffix in ((1_000_000, "M"), (1_000, "K"), (1_048_576, "M"), (1_024, "K")):
        if count >= size and count % size == 0:
            return f"{count // size:,}{suffix}"
    return f"{count:,}"


def override_lines(overrides: Sequence[FlatOverride]) -> list[str]:
    """The flat tiers or windows in words: "above 128K prompt tokens: $2 per 1M input tokens";
    "22:00-06:00 UTC: $0.1 per 1M input tokens"."""
    lines = []
    for override in overrides:
        if "min_prompt_tokens" in override:
            when = f"Above {tokens_text(int(override['min_prompt_tokens']))} prompt tokens"
        else:
            when = f"{clock(int(override['utc_start']))}-{clock(int(override['utc_end']))} UTC"
        costs = [_named_cost(Decimal(override[key]), key) for key in FLAT_PRICES if key in override]
        lines.append(f"{when}: {'; '.join(costs)}")
    return lines


def _named_cost(cost: Decimal, key: str) -> str:
    unit, name = FLAT_PRICES[key]
    text = cost_text(cost, unit)
    # "$0.15 per 1M tokens" -> "$0.15 per 1M input tokens"
    return text.replace(f" {unit}s", f" {name} {unit}s") if unit == "token" else text


def cache_write(offering: Offering) -> Decimal | None:
    """The base cache-write price per token of the flat prompt's scope, if set."""
    scope = price_scope(offering, "prompt")
    entry = offering.price(scope, "cache_write", "token") if scope else None
    return entry.cost_usd if entry is not None else None


# --- every typed entry in words (the detail page) -------------------------------------------
def scope_text(price: Price) -> str:
    if price.scope == ROOT:
        return "per request"
    direction, kind = price.scope
    return f"{kind} {'input' if direction == Direction.INPUT else 'output'}"


def entry_line(price: Price) -> str:
    """One typed entry: "text input, cache write, cached for 300 s, 22:00-06:00 UTC: $1 per
    1M tokens"."""
    parts = [scope_text(price), price.price_type.replace("_", " ")]
    if price.ttl_seconds is not None:
        parts.append(f"cached for {duration_text(price.ttl_seconds)}")
    if price.implicit is not None:
        parts.append("implicit caching" if price.implicit else "explicit caching")
    if price.utc_start is not None and price.utc_end is not None:
        parts.append(f"{clock(price.utc_start)}-{clock(price.utc_end)} UTC")
    if price.utc_days is not None:
        days = [name.capitalize() for name in weekday_names(price.utc_days)]
        parts.append(f"on {', '.join(days)} (UTC)")
    return f"{', '.join(parts)}: {cost_text(price.cost_usd, price.unit)}"


def override_line(override: Mapping, unit: str) -> str:
    """A conditional price of an entry: "when prompt tokens ≥ 128,001: $2 per 1M tokens"."""
    return f"when {when_text(override.get('when', {}))}: " + cost_text(
        Decimal(str(override.get("cost_usd", "0"))), unit
    )


def when_text(when: object) -> str:
    """A typed ``when`` predicate in words (parameters, ``allOf``/``anyOf``/``not``)."""
    if not isinstance(when, Mapping):
        return str(when)
    parts = []
    for name, condition in when.items():
        if name in ("allOf", "anyOf") and isinstance(condition, list):
            joined = (" and " if name == "allOf" else " or ").join(when_text(c) for c in condition)
            parts.append(f"({joined})")
        elif name == "not":
            parts.append(f"not ({when_text(condition)})")
        elif isinstance(condition, Mapping):
            label = name.replace("_", " ")
            for test, value in condition.items():
                shown = _shown(value)
                parts.append(
                    {
                        "equals": f"{label} is {shown}",
                        "gte": f"{label} ≥ {shown}",
                        "lte": f"{label} ≤ {shown}",
                        "min_items": f"{label} has at least {shown} items",
                    }.get(test, f"{label} {test} {shown}")
                )
        else:
            parts.append(f"{name} {condition}")
    return " and ".join(parts)


def _shown(value: object) -> object:
    """A number of the typed format as the pages show it: whole ones with thousands separators."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value


def descriptor_text(descriptor: Mapping) -> str:
    """A typed parameter descriptor in words ("a number from 0 to 2, default 1"); "" when it
    says nothing but that the parameter is taken (``unknown``, as a flat catalog writes it)."""
    kind = descriptor.get("type")
    low, high, unit = descriptor.get("min"), descriptor.get("max"), descriptor.get("unit")
    parts = []
    if kind in ("range", "integer"):
        what = "a number" if kind == "range" else "a whole number"
        if low is not None and high is not None:
            what += f" from {_shown(low)} to {_shown(high)}"
        elif low is not None:
            what += f" from {_shown(low)} up"
        elif high is not None:
            what += f" up to {_shown(high)}"
        parts.append(what + (f" ({unit}s)" if unit else ""))
    elif kind == "boolean":
        parts.append("on or off")
    elif kind == "enum":
        parts.append("one of " + ", ".join(str(v) for v in descriptor.get("values", ())))
    elif kind == "array":
        size = descriptor.get("max_items")
        item = descriptor_text(descriptor.get("items") or {})
        parts.append(
            "a list"
            + (f" of up to {_shown(size)} items" if size else "")
            + (f", each {item}" if item else "")
        )
    elif kind == "object":
        keys = ", ".join(descriptor.get("properties") or {})
        parts.append("an object" + (f" with {keys}" if keys else ""))
    if "default" in descriptor:
        default = descriptor["default"]
        shown = ("on" if default else "off") if isinstance(default, bool) else _shown(default)
        parts.append(f"default {shown}")
    return ", ".join(parts)


def duration_text(seconds: int) -> str:
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} s"


# --- the cost calculator ---------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    total: Decimal
    lines: tuple[tuple[str, Decimal], ...]  # (what, USD)
    applied: tuple[str, ...]  # the tier, window or discount applied, in words


def in_window(start: int, end: int, hhmm: int) -> bool:
    """Half-open ``[start, end)``, wrapping midnight when start > end (the contract's rule)."""
    return start <= hhmm < end if start < end else hhmm >= start or hhmm < end


def cost_of(
    flat: FlatFields,
    *,
    is_free: bool,
    discount: Decimal | None,
    prompt_tokens: int,
    cached_tokens: int,
    completion_tokens: int,
    now: datetime,
) -> Cost:
    """What one request costs now, as OpenRouter bills the flat prices: the tier whose
    threshold the prompt exceeds (the highest) or the window the UTC time is in replaces the
    prices it names; cached tokens at the cache-read price (the input price when none is set);
    one request price; then the discount (``price × (1 − discount)``). A free model costs 0."""
    prices = dict(flat["prices"])
    applied = []
    chosen: FlatOverride | None = None
    hhmm = now.hour * 100 + now.minute
    for override in flat["overrides"]:
        if "min_prompt_tokens" in override:
            if prompt_tokens > int(override["min_prompt_tokens"]):
                chosen = override  # ascending thresholds: the later match wins
        elif in_window(int(override["utc_start"]), int(override["utc_end"]), hhmm):
            chosen = override
    if chosen is not None:
        prices.update({key: Decimal(chosen[key]) for key in FLAT_PRICES if key in chosen})
        applied.extend(override_lines([chosen]))
    cache_price = prices["input_cache_read"] or prices["prompt"]
    lines = (
        ("Input tokens", (prompt_tokens - cached_tokens) * prices["prompt"]),
        ("Cached input tokens", cached_tokens * cache_price),
        ("Output tokens", completion_tokens * prices["completion"]),
        ("Request", prices["request"]),
    )
    total = sum((amount for _, amount in lines), Decimal(0))
    if is_free:
        applied.append("Free model: no charge")
        total = Decimal(0)
    elif discount:
        applied.append(f"Discount of {discount * 100:g}%")
        total = total * (1 - discount)
    return Cost(total, lines, tuple(applied))


def usd(amount: Decimal) -> str:
    """A calculated amount: to the cent from $1, else to the hundred-millionth of a dollar."""
    if abs(amount) >= 1:
        return f"${amount.quantize(Decimal('0.01')):,}"
    text = format(amount.quantize(Decimal("0.00000001")).normalize(), "f")
    return f"${text}"
