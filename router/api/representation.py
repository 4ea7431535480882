"""The API's JSON (and Atom) for the catalog's prices over time: one place for each shape.

A price is written in the typed format's terms (its ``pricing`` entry: type, unit, cost per
unit as a decimal string, qualifiers), with its scope (``input/text``, ``output/image``,
``request``); beside a model's prices, the five flat prices (``pricing`` of the flat format).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote
from xml.sax.saxutils import escape

from catalog.changes import (
    CHANGE_AMENDED,
    CHANGE_CANCELLED,
    CHANGE_EFFECTIVE,
    CHANGE_SCHEDULED,
    DEPRECATION_MOVED,
    DEPRECATION_SET,
    PRICE_CHANGED,
    PUBLISHED,
    RENAMED,
    UNPUBLISHED,
    FeedItem,
)
from catalog.choices import Direction
from catalog.formats.flat.encode import deprecation, plain_decimal
from catalog.formats.flat.offering import flat_fields
from catalog.formats.typed.encode import price_entry as typed_price_entry
from catalog.offering import ROOT, ROOT_SCOPE, Price, Scope, base_price_order
from catalog.timeline import InForce, PriceChange, PriceSpan, Shape
from router.api.errors import iso

# A batch of lookups writes thousands of costs, of few distinct values.
_plain = lru_cache(maxsize=4096)(plain_decimal)


def scope_name(scope: Scope) -> str:
    direction, kind = scope
    return ROOT_SCOPE if scope == ROOT else f"{direction}/{kind}"


def price_json(price: Price) -> dict[str, Any]:
    return {"scope": scope_name(price.scope), **typed_price_entry(price)}


def flat_json(prices: Sequence[Price]) -> dict[str, str]:
    """The five flat prices, as the flat format derives them from these prices (a kind of
    modality counts where it has a price)."""
    base: dict[tuple, Price] = {}
    for price in prices:
        if price.windowed:
            continue
        key = (price.scope, price.price_type, price.unit)
        held = base.get(key)
        if held is None or base_price_order(price) < base_price_order(held):
            base[key] = price

    def price_of(scope: Scope, price_type: str, unit: str) -> Decimal | None:
        entry = base.get((scope, price_type, unit))
        return None if entry is None else entry.cost_usd

    kinds = {price.scope for price in prices}
    fields = flat_fields(
        [kind for direction, kind in kinds if direction == Direction.INPUT and kind],
        [kind for direction, kind in kinds if direction == Direction.OUTPUT and kind],
        (),
        price_of,
    )
    return {key: _plain(cost) for key, cost in fields["prices"].items()}


def prices_json(prices: Sequence[Price]) -> dict[str, Any]:
    return {"prices": [price_json(price) for price in prices], "flat": flat_json(prices)}


def answer_json(model_id: str, at: datetime, prices: InForce) -> str:
    """One lookup's answer as JSON text: ``{"model", "at", "prices", "flat"}``, the bytes
    ``json.dumps`` writes (ASCII, no spaces) of ``prices_json`` beside the model and moment.

    A batch of 1,000 lookups meets 1,000 records but few shapes of prices: the text of each
    shape is made once (``_Plan``) and a record only fills in its costs."""
    plan = _PLANS.get(prices.shape)
    if plan is None:
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.clear()
        plan = _PLANS[prices.shape] = _Plan.of(prices.shape.prices)
    costs = [_plain_text(cost) for cost in prices.costs]
    entries = ",".join(
        [head + cost + tail for head, cost, tail in zip(plan.heads, costs, plan.tails, strict=True)]
    )
    flat = ",".join(
        [key + ("0" if source is None else costs[source]) + '"' for key, source in plan.flat]
    )
    head = f'{{"model":{json.dumps(model_id)},"at":"{iso(at)}"'
    return f'{head},"prices":[{entries}],"flat":{{{flat}}}}}'


class _Plan(NamedTuple):
    """The JSON text of ``prices_json`` for one shape of prices, around their costs."""

    heads: tuple[str, ...]  # each price's entry up to its cost
    tails: tuple[str, ...]  # and after it
    flat: tuple[tuple[str, int | None], ...]  # each flat price's key, and the price giving it

    @classmethod
    def of(cls, prices: Sequence[Price]) -> _Plan:
        # Each price costs 0 in a shape: its entry holds "cost_usd":"0" once, before its
        # overrides (a key inside a string value would be escaped).
        parts = [
            json.dumps(price_json(price), separators=(",", ":")).split(_COST_HOLE, 1)
            for price in prices
        ]
        # Which price gives each flat price: priced 1, 2, … it says its own number.
        numbered = flat_json([replace(p, cost_usd=Decimal(n + 1)) for n, p in enumerate(prices)])
        return cls(
            tuple(head + '"cost_usd":"' for head, _ in parts),
            tuple('"' + tail for _, tail in parts),
            tuple(
                (f'{json.dumps(key)}:"', None if cost == "0" else int(cost) - 1)
                for key, cost in numbered.items()
            ),
        )


_COST_HOLE = '"cost_usd":"0"'
_PLANS: dict[Shape, _Plan] = {}
_PLANS_KEPT = 4096


@lru_cache(maxsize=4096)
def _plain_text(cost: str) -> str:
    return plain_decimal(Decimal(cost))


def clear_caches() -> None:
    """Forget the lookup's plans and cost texts (a benchmark's cold round)."""
    _PLANS.clear()
    _plain_text.cache_clear()


def span_json(span: PriceSpan) -> dict[str, Any]:
    return {
        "from": iso(span.start),
        "until": None if span.end is None else iso(span.end),
        "upcoming": span.upcoming,
        **prices_json(span.prices),
    }


def timeline_json(model_id: str, spans: Iterable[PriceSpan]) -> dict[str, Any]:
    return {"model": model_id, "spans": [span_json(span) for span in spans]}


def change_json(change: PriceChange) -> dict[str, Any]:
    either = change.after or change.before
    assert either is not None
    identity = price_json(either)
    identity.pop("cost_usd")
    identity.pop("overrides", None)
    return {
        **identity,
        "old": None if change.before is None else _cost(change.before),
        "new": None if change.after is None else _cost(change.after),
    }


def _cost(price: Price) -> dict[str, Any]:
    entry: dict[str, Any] = {"cost_usd": plain_decimal(price.cost_usd)}
    if price.overrides:
        entry["overrides"] = list(price.overrides)
    return entry


def _deprecation(value: tuple[date | None, int | None]) -> str | None:
    day, hour = value
    return None if day is None else deprecation(day, hour)


def item_json(item: FeedItem, cursor: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "cursor": cursor,
        "at": iso(item.moment),
        "kind": item.kind,
        "model": item.model_id,
    }
    details = item.details
    if "name" in details:
        entry["name"] = details["name"]
    if item.kind == RENAMED:
        entry.update(field=details["field"], old=details["old"], new=details["new"])
    elif item.kind in (DEPRECATION_SET, DEPRECATION_MOVED):
        entry.update(old=_deprecation(details["old"]), new=_deprecation(details["new"]))
    if "effective_at" in details:
        entry["effective_at"] = iso(details["effective_at"])
    if "changes" in details:
        entry["changes"] = [change_json(change) for change in details["changes"]]
    return entry


# --- Atom 1.0 -------------------------------------------------------------------------------
_TITLES = {
    PUBLISHED: "{model} published",
    UNPUBLISHED: "{model} unpublished",
    RENAMED: "{model} renamed",
    PRICE_CHANGED: "{model}: prices changed",
    DEPRECATION_SET: "{model}: deprecation set",
    DEPRECATION_MOVED: "{model}: deprecation moved",
    CHANGE_SCHEDULED: "{model}: price change announced",
    CHANGE_AMENDED: "{model}: announced price change amended",
    CHANGE_CANCELLED: "{model}: announced price change cancelled",
    CHANGE_EFFECTIVE: "{model}: announced price change in effect",
}


def _summary(entry: dict[str, Any]) -> str:
    lines = []
    if "effective_at" in entry:
        lines.append(f"From {entry['effective_at']}.")
    if "old" in entry or "new" in entry:
        lines.append(f"{entry.get('field', 'deprecation')}: {entry['old']} -> {entry['new']}")
    for change in entry.get("changes", ()):
        old = change["old"]["cost_usd"] if change["old"] else "none"
        new = change["new"]["cost_usd"] if change["new"] else "none"
        lines.append(f"{change['scope']} {change['type']} per {change['unit']}: {old} -> {new} USD")
    return "\n".join(lines) or entry["kind"].replace("_", " ")


def atom(
    entries: list[dict[str, Any]], *, base_url: str, feed_path: str, updated: datetime
) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of ``entries`` (``item_json``), the latest first; each
    entry links to its model's price timeline."""
    feed_url = base_url + feed_path
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
        "<title>Model catalog: public changes</title>",
        f"<id>{escape(feed_url)}</id>",
        f'<link rel="self" href="{escape(feed_url)}"/>',
        f"<updated>{iso(updated)}</updated>",
        "<author><name>Model catalog</name></author>",
    ]
    for entry in entries:
        title = _TITLES[entry["kind"]].format(model=entry["model"])
        timeline = f"{base_url}/api/v1/models/{quote(entry['model'])}/prices"
        parts += [
            "<entry>",
            f"<title>{escape(title)}</title>",
            f"<id>{escape(feed_url)}#{escape(entry['cursor'])}</id>",
            f"<updated>{entry['at']}</updated>",
            f'<category term="{entry["kind"]}"/>',
            f'<link rel="alternate" href="{escape(timeline)}"/>',
            f"<summary>{escape(_summary(entry))}</summary>",
            "</entry>",
        ]
    parts.append("</feed>\n")
    return "\n".join(parts).encode()
