"""The guard against price mistakes (issue #15): which changes of a model's prices are far out of
line, so that the admin asks for a confirmation and the importer refuses them unless told to
allow them.

A change is large when a cost goes from zero to non-zero or back, or changes by a factor of more
than ten either way (exactly ten times is allowed), compared exactly (no float, no rounding).

Compared are the prices a model had and still has: the five flat prices as served (where there
is no entry the price is 0, as the main form and the flat format show it, so a prompt price
set to 0 is a change to zero), and every other entry present before and after (matched by
identity: scope, type, unit and qualifiers), with each of its conditional prices matched by its
``when``. A further entry, window or conditional price that is added or removed is not a
change of a price: there is no old (or new) cost to hold the new one against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from catalog.formats.flat.names import OVERRIDES
from catalog.formats.flat.offering import PRICE_SOURCES, base_price, flat_prices, tier_threshold
from catalog.offering import Offering, Price
from catalog.presentation import PRICE_LABELS, cost_text, price_label

# More than this many times up or down is out of line.
FACTOR = 10


@dataclass(frozen=True)
class LargeChange:
    """One price change far out of line, as staff read it; ``field`` is its flat name
    (``pricing.prompt``; ``pricing.overrides`` for a tier or window; ``pricing`` otherwise)."""

    field: str
    label: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.label}: {self.old} -> {self.new}"


def _times_ten(value: Decimal) -> Decimal:
    # The exponent moved by one: exact whatever the digits (arithmetic would round at the
    # context's precision, 28 digits, below the column's 34).
    sign, digits, exponent = value.as_tuple()
    return Decimal((sign, digits, int(exponent) + 1))


def is_large(old: Decimal, new: Decimal) -> bool:
    """Whether a cost moving from ``old`` to ``new`` is far out of line."""
    if old == new:
        return False
    if old.is_zero() or new.is_zero():
        return True
    assert FACTOR == 10  # _times_ten
    return new > _times_ten(old) or old > _times_ten(new)


def _flat_name(key: str) -> str:
    return PRICE_LABELS[f"price_{key}"].split(" (")[0]  # "Prompt price"


def _decimal(text: object) -> Decimal | None:
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def _when(override: object) -> str | None:
    if not isinstance(override, dict) or "when" not in override:
        return None
    return json.dumps(override["when"], sort_keys=True)


def _conditional_costs(price: Price) -> dict[str, tuple[object, Decimal]]:
    """An entry's conditional prices by their ``when`` (as JSON): (override, cost)."""
    costs = {}
    for override in price.overrides:
        when = _when(override)
        cost = _decimal(override.get("cost_usd")) if when is not None else None
        if when is not None and cost is not None:
            costs[when] = (override, cost)
    return costs


def _condition(override: object) -> str:
    threshold = tier_threshold(override)
    if threshold is not None:
        return f"over {threshold} prompt tokens"
    return f"when {_when(override)}"


def large_changes(before: Offering, after: Offering) -> list[LargeChange]:
    """The price changes far out of line from ``before`` to ``after`` (a model's offering), the
    five flat prices first, then the other entries in canonical order."""
    changes = []
    old_flat, new_flat = flat_prices(before), flat_prices(after)
    flat_names: dict[tuple, str] = {}  # identity of a flat price's entry -> its flat key
    for key, (_, _, _, unit) in PRICE_SOURCES.items():
        if is_large(old_flat[key], new_flat[key]):
            changes.append(
                LargeChange(
                    f"pricing.{key}",
                    _flat_name(key),
                    cost_text(old_flat[key], unit),
                    cost_text(new_flat[key], unit),
                )
            )
        for offering in (before, after):
            if (entry := base_price(offering, key)) is not None:
                flat_names[entry.identity] = key
    old_prices = {price.identity: price for price in before.prices}
    for new in after.prices:
        old = old_prices.get(new.identity)
        if old is None:
            continue
        flat_key = flat_names.get(new.identity)
        label = _flat_name(flat_key) if flat_key is not None else price_label(new)
        # A flat price's entry is compared above, as served.
        if flat_key is None and is_large(old.cost_usd, new.cost_usd):
            field = f"pricing.{OVERRIDES}" if new.windowed else "pricing"
            changes.append(
                LargeChange(
                    field,
                    label,
                    cost_text(old.cost_usd, old.unit),
                    cost_text(new.cost_usd, new.unit),
                )
            )
        old_conditional = _conditional_costs(old)
        for when, (override, cost) in _conditional_costs(new).items():
            if when in old_conditional and is_large(old_conditional[when][1], cost):
                changes.append(
                    LargeChange(
                        f"pricing.{OVERRIDES}",
                        f"{label}, {_condition(override)}",
                        cost_text(old_conditional[when][1], new.unit),
                        cost_text(cost, new.unit),
                    )
                )
    return changes
