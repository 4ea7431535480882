"""A model's public price timeline (``catalog.timeline``) as an SVG step chart and a list of
changes, drawn on the server: no script, no chart library.

Prices per token or character are drawn per 1M (one axis, one unit); others (per image, per
request...) are in the list of changes only. A span the model was not public is a gap; an
announced change to come is drawn dashed from its moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.html import escape

from catalog.choices import PER_MILLION_UNITS, Direction
from catalog.formats.flat.offering import plain_decimal
from catalog.offering import Price
from catalog.presentation import cost_text, per_million
from catalog.timeline import PriceChange, PriceSpan, price_changes
from router.pages.prices import moment_text

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 16, 36
# Distinct at AA contrast on white, and told apart by their labels too (never by colour only).
COLOURS = ("#1f4fa8", "#a33b00", "#0b6b2b", "#6b2fa0", "#7a5b00", "#005f73", "#9b1c4b")


def price_name(price: Price) -> str:
    """ "input", "output", "cache read"... for the common entries, else the entry's words."""
    direction, kind = price.scope
    qualifiers = []
    if price.ttl_seconds is not None:
        qualifiers.append(f"{price.ttl_seconds} s cache")
    if price.utc_start is not None and price.utc_end is not None:
        qualifiers.append(f"{price.utc_start // 100:02}:{price.utc_start % 100:02}-"
                          f"{price.utc_end // 100:02}:{price.utc_end % 100:02} UTC")  # fmt: skip
    if direction is None:
        name = price.price_type.replace("_", " ")
    else:
        side = "input" if direction == Direction.INPUT else "output"
        what = {
            "prompt": side,
            "completion": side,
            "cached_prompt": "cache read",
            "cache_write": "cache write",
            "internal_reasoning": "reasoning",
        }.get(price.price_type, price.price_type.replace("_", " "))
        name = what if kind == "text" else f"{kind} {what}"
    return f"{name} ({', '.join(qualifiers)})" if qualifiers else name


def _per(price: Price) -> str:
    text = cost_text(price.cost_usd, price.unit)
    # "$0.15 per 1M tokens" -> "$0.15 per 1M input tokens"
    return (
        text.replace(f" {price.unit}s", f" {price_name(price)} {price.unit}s", 1)
        if (price.unit in PER_MILLION_UNITS)
        else f"{price_name(price)}: {text}"
    )


def change_text(change: PriceChange) -> str:
    """One price's change in words: "$0.18 per 1M input tokens (was $0.13)"."""
    before, after = change.before, change.after
    if after is None:
        return f"no longer charged: {_per(before)}" if before else ""
    if before is None:
        return f"{_per(after)} (new)"
    if before.cost_usd == after.cost_usd:
        return f"{_per(after)} (its conditional prices change)"
    return f"{_per(after)} (was {cost_text(before.cost_usd, before.unit).split(' per ')[0]})"


def announcement(moment: datetime, changes: tuple[PriceChange, ...]) -> str:
    """ "From 1 Jan 2027 00:00 UTC: $0.18 per 1M input tokens (was $0.13)"."""
    return f"From {moment_text(moment)}: " + "; ".join(
        text for text in map(change_text, changes) if text
    )


@dataclass(frozen=True)
class ChangeRow:
    moment: str
    what: str
    upcoming: bool


def change_rows(spans: list[PriceSpan]) -> list[ChangeRow]:
    """The list beneath the chart: first listing, each change, gaps while not public."""
    rows = []
    previous: PriceSpan | None = None
    for span in spans:
        if previous is None or previous.end != span.start:
            if previous is not None:
                rows.append(ChangeRow(moment_text(previous.end), "not listed", False))  # type: ignore[arg-type]  # a gap follows an ended span
            what = "; ".join(_per(price) for price in span.prices) or "no price"
            rows.append(ChangeRow(moment_text(span.start), f"listed: {what}", False))
        else:
            changes = price_changes(previous.prices, span.prices)
            rows.append(
                ChangeRow(
                    moment_text(span.start),
                    "; ".join(t for t in map(change_text, changes) if t),
                    span.upcoming,
                )
            )
        previous = span
    return rows


def svg(spans: list[PriceSpan]) -> str:
    """The step chart; "" when there is nothing to draw per 1M. Drawn from the spans alone
    (the open span runs to the right edge), so the same timeline is the same picture, whenever
    it is drawn."""
    series: dict[tuple, list[tuple[PriceSpan, Decimal]]] = {}
    names: dict[tuple, str] = {}
    for span in spans:
        for price in span.prices:
            if price.unit in PER_MILLION_UNITS:
                series.setdefault(price.identity, []).append((span, per_million(price.cost_usd)))
                names[price.identity] = f"{price_name(price)} per 1M {price.unit}s"
    if not series:
        return ""
    start = spans[0].start
    last = max([s.start for s in spans] + [s.end for s in spans if s.end])
    end = last + max((last - start) / 8, timedelta(days=7))
    top = max(cost for points in series.values() for _, cost in points) or Decimal(1)
    top = _nice(top * Decimal("1.1"))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span_s = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / span_s

    def y(cost: Decimal) -> float:
        return TOP + plot_h * (1 - float(cost / top))

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" '
        'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">',
        '<title id="chart-title">Prices over time, in US dollars per 1M tokens; the list of '
        "changes below says the same in words</title>",
    ]
    for tick in range(5):
        value = top * tick / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#d0d0d0"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#4d4d4d">'
            f"${plain_decimal(value.quantize(Decimal('0.0001')).normalize())}</text>"
        )
    for moment in (start, last):
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="middle" fill="#4d4d4d">'
            f"{moment:%-d %b %Y}</text>"
        )
    labels: list[tuple[float, str, str]] = []
    for index, (identity, points) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        solid: list[str] = []
        dashed: list[str] = []
        previous: tuple[PriceSpan, Decimal] | None = None
        for span, cost in points:
            stop = span.end or end
            joined = previous is not None and previous[0].end == span.start
            segment = (
                f"M{x(span.start):.1f},{y(previous[1]):.1f}V{y(cost):.1f}"  # type: ignore[index]  # joined: previous is set
                if joined
                else f"M{x(span.start):.1f},{y(cost):.1f}"
            ) + f"H{x(stop):.1f}"
            # Dashed from the moment an announced change moves this price; an unchanged price
            # stays solid.
            moved = not joined or previous[1] != cost or (previous[0].upcoming and dashed)  # type: ignore[index]  # joined: previous is set
            (dashed if span.upcoming and moved else solid).append(segment)
            previous = (span, cost)
        if solid:
            parts.append(
                f'<path d="{"".join(solid)}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
            )
        if dashed:
            parts.append(
                f'<path d="{"".join(dashed)}" fill="none" stroke="{colour}" stroke-width="2.5" '
                'stroke-dasharray="6 4"/>'
            )
        labels.append((y(points[-1][1]) + 4, colour, names[identity]))
    # Each series named at its last value; labels pushed apart so that none overlaps another.
    labels.sort()
    placed = TOP - 10.0
    for label_y, colour, name in labels:
        placed = max(label_y, placed + 14)
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{placed:.1f}" fill="{colour}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice(value: Decimal) -> Decimal:
    """A round axis top at or above ``value``: 1, 2 or 5 times a power of ten."""
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)
