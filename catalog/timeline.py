"""Each model's public price timeline, and what is public of the catalog's prices over time.

The one rule of "the prices in force at a moment" is the as-of rule (``records_as_of`` and
``state_of`` in ``catalog.formats.published``): the model's latest history record at or before
the moment, if it is published and not a deletion, and the prices of its offering snapshot in
force at the moment (``Price.in_force_at``, as ``Offering.splitting_prices`` reads them). Its
spans are what the public endpoint served, moment by moment.

Ahead of now only ANNOUNCED scheduled changes are public: a confidential one appears nowhere
(not as a span, not as the end of the span before it) until its moment, after which it is
history like any other change. An announced change is shown as what it changes on top of the
public prices before it (the prices starting at its moment, and those it ends), never as the
stored rows in force at its moment, which would carry the values of a confidential change
scheduled before it.

Nothing here writes. Reads take a constant number of queries whatever the size of the
history: the records of the models asked about, and their pending announced changes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Q, TextField
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast
from django.utils import timezone

from catalog.history import HistoricalServedModel
from catalog.models import PriceSchedule, ServedModel
from catalog.offering import Offering, Price, in_force, iso_moment, price_from_json, price_order


@dataclass(frozen=True)
class PriceSpan:
    """A span of time over which one model's public prices held."""

    start: datetime  # when these prices took (or take) effect
    end: datetime | None  # when they stopped (the next span's start); None: open
    prices: tuple[Price, ...]  # every price in force over the span, in the offering's order
    upcoming: bool  # an announced scheduled change not yet in force


@dataclass(frozen=True)
class PriceChange:
    """One price before and after a change (None: no such price on that side)."""

    before: Price | None
    after: Price | None


@dataclass(frozen=True)
class AnnouncedChange:
    """An announced price change of one model, still to come."""

    model_id: str
    effective_at: datetime
    changes: tuple[PriceChange, ...]


class Record(NamedTuple):
    """What the public rule reads of one history record."""

    pk: int  # the served model's
    history_id: int
    date: datetime
    model_id: str
    public: bool  # published, and not a deletion
    prices: tuple[Price, ...]  # every row of its snapshot, whatever its validity


def record_prices(offering: dict[str, Any] | None) -> tuple[Price, ...]:
    """Every price row of a record's snapshot, in the offering's order, with its validity.

    The prices alone, read as ``Offering.from_json`` reads them: a whole offering per record
    (modalities and capacities too, sorted twice) was half of a batch of 1,000 lookups."""
    return tuple(
        sorted(
            (price_from_json(p) for p in (offering or {}).get("prices", ())),
            key=price_order,
        )
    )


def prices_in_force(record_prices: Iterable[Price], moment: datetime) -> tuple[Price, ...]:
    """The prices of a record in force at ``moment``: what the endpoint served then, if the
    record was the model's latest at ``moment`` (the rule of ``catalog_as_of``)."""
    return tuple(price for price in record_prices if price.in_force_at(moment))


RECORD_COLUMNS = ("id", "history_id", "history_date", "model_id", "is_published", "history_type")


def as_record(row: Sequence[Any], offering: dict[str, Any] | None) -> Record:
    pk, history_id, date, model_id, is_published, history_type = row
    return Record(
        pk, history_id, date, model_id, is_published and history_type != "-",
        record_prices(offering),
    )  # fmt: skip


def _records(pks: Iterable[int], now: datetime) -> dict[int, list[Record]]:
    """The records of the models ``pks`` up to ``now``, oldest first, by model: one query, of
    the prices alone (decoded once per process, ``_record_prices``)."""
    found: defaultdict[int, list[Record]] = defaultdict(list)
    rows = (
        HistoricalServedModel.objects.filter(id__in=list(pks), history_date__lte=now)
        .order_by("id", "history_date", "history_id")
        .values_list(*RECORD_COLUMNS, Cast(KeyTransform("prices", "offering"), TextField()))
    )
    for pk, history_id, date, model_id, is_published, history_type, prices in rows:
        found[pk].append(
            Record(
                pk,
                history_id,
                date,
                model_id,
                is_published and history_type != "-",
                _record_prices(history_id, prices or "[]"),
            )
        )
    return found


def _announced_moments(pks: Iterable[int], now: datetime) -> dict[int, list[datetime]]:
    """The moments of the models' pending announced changes, soonest first: one query."""
    moments: defaultdict[int, list[datetime]] = defaultdict(list)
    for pk, moment in (
        PriceSchedule.objects.filter(announced_upcoming(now), model_id__in=list(pks))
        .order_by("effective_at")
        .values_list("model_id", "effective_at")
    ):
        moments[pk].append(moment)
    return moments


def announced_upcoming(now: datetime) -> Q:
    """The scheduled changes that are public before their moment: announced, not cancelled,
    still to come. A confidential change is in no public output until its moment."""
    return Q(announced=True, cancelled_at__isnull=True, effective_at__gt=now)


def _ordered(prices: Iterable[Price]) -> tuple[Price, ...]:
    return Offering(prices=tuple(prices)).prices


def spans_of(
    records: Sequence[Record], announced: Sequence[datetime], now: datetime
) -> list[PriceSpan]:
    """One model's public spans from its records (oldest first, none after ``now``) and the
    moments of its announced changes to come."""
    spans: list[PriceSpan] = []
    for index, record in enumerate(records):
        live = index + 1 == len(records)
        end = now if live else records[index + 1].date
        if not record.public or end < record.date or (not live and end == record.date):
            continue
        # Where a price of this record starts or ends while it is the latest one; the live
        # record's future belongs to the announced changes below.
        cuts = sorted(
            {record.date}
            | {
                moment
                for price in record.prices
                for moment in (price.valid_from, price.valid_until)
                if moment is not None
                and record.date < moment
                and (moment <= now if live else moment < end)
            }
        )
        for start, stop in zip(cuts, [*cuts[1:], None if live else end], strict=True):
            spans.append(PriceSpan(start, stop, prices_in_force(record.prices, start), False))
    if records and records[-1].public:
        spans.extend(upcoming_spans(records[-1], announced, now))
    return _merged(spans)


def upcoming_spans(latest: Record, announced: Sequence[datetime], now: datetime) -> list[PriceSpan]:
    """The spans of the announced changes at ``announced`` (after ``now``, soonest first) of a
    model whose latest record is ``latest``: each applies the prices it starts and ends on top
    of the public prices before it, starting from those in force at ``now``."""
    spans = []
    public = {price.identity: price for price in prices_in_force(latest.prices, now)}
    for moment in announced:
        starting = {p.identity: p for p in latest.prices if p.valid_from == moment}
        for price in latest.prices:
            if price.valid_until == moment and price.identity not in starting:
                public.pop(price.identity, None)
        public.update(starting)
        spans.append(PriceSpan(moment, None, _ordered(public.values()), True))
    return spans


def upcoming_changes(
    latest: Record, announced: Sequence[datetime], now: datetime
) -> dict[datetime, tuple[PriceChange, ...]]:
    """What each announced change at ``announced`` (after ``now``, soonest first) changes,
    against the public prices before it (``upcoming_spans``), by its moment."""
    found = {}
    before = prices_in_force(latest.prices, now)
    for span in upcoming_spans(latest, announced, now):
        found[span.start] = price_changes(before, span.prices)
        before = span.prices
    return found


def _merged(spans: list[PriceSpan]) -> list[PriceSpan]:
    """Consecutive spans with equal prices as one; each open span closed by the next."""
    merged: list[PriceSpan] = []
    for span in spans:
        if merged:
            last = merged[-1]
            if last.end is None:  # the live span, followed by an announced change
                last = merged[-1] = PriceSpan(last.start, span.start, last.prices, last.upcoming)
            if (
                last.end == span.start
                and last.prices == span.prices
                and last.upcoming == span.upcoming
            ):
                merged[-1] = PriceSpan(last.start, span.end, last.prices, last.upcoming)
                continue
        merged.append(span)
    return merged


def timelines(pks: Iterable[int], *, now: datetime | None = None) -> dict[int, list[PriceSpan]]:
    """``public_price_timeline`` of many models, by pk, in two queries whatever their number;
    a model never public has an empty list."""
    now = now or timezone.now()
    pks = list(pks)
    records = _records(pks, now)
    announced = _announced_moments(pks, now)
    return {pk: spans_of(records.get(pk, []), announced.get(pk, []), now) for pk in pks}


def public_price_timeline(model_id: str, *, now: datetime | None = None) -> list[PriceSpan] | None:
    """None when the model is not public (unknown, draft, never published). Only what the
    public endpoint has served or will serve by announcement: spans while the model was
    published (a gap while unpublished), the prices in force now, then announced upcoming
    changes (confidential ones never appear before their moment). Consecutive spans with
    equal prices are merged."""
    if not storable(model_id):
        return None
    pk = ServedModel.objects.filter(model_id=model_id).values_list("pk", flat=True).first()
    if pk is None:
        return None
    spans = timelines([pk], now=now)[pk]
    return spans or None


def renamed_to(model_id: str) -> str | None:
    """The id a public model has now, if it had ``model_id`` while public and has another id
    now (the last model that had it, when the id passed from one to another); else None."""
    if not storable(model_id):
        return None
    pk = (
        HistoricalServedModel.objects.filter(model_id=model_id, is_published=True)
        .exclude(history_type="-")
        .order_by("-history_date", "-history_id")
        .values_list("id", flat=True)
        .first()
    )
    if pk is None:
        return None
    return (
        ServedModel.objects.filter(pk=pk, is_published=True)
        .exclude(model_id=model_id)
        .values_list("model_id", flat=True)
        .first()
    )


def storable(model_id: str) -> bool:
    """Whether ``model_id`` could be a stored id at all: PostgreSQL refuses a NUL or a lone
    surrogate in a query (an error, not "no such model"), and no stored id has one."""
    if "\x00" in model_id:
        return False
    try:
        model_id.encode()
    except UnicodeEncodeError:
        return False
    return True


def price_changes(before: Iterable[Price], after: Iterable[Price]) -> tuple[PriceChange, ...]:
    """Each price that differs from ``before`` to ``after``, matched by identity."""
    old = {price.identity: price for price in before}
    new = {price.identity: price for price in after}
    return tuple(
        PriceChange(old.get(identity), new.get(identity))
        for identity in [*old, *(identity for identity in new if identity not in old)]
        if old.get(identity) != new.get(identity)
    )


def announced_changes(
    model_ids: Iterable[str], now: datetime | None = None
) -> dict[str, list[AnnouncedChange]]:
    """The announced price changes still to come of the public models ``model_ids``, soonest
    first, each with what it changes against the public prices before it (a confidential
    change never shows); models without one are left out. Three queries."""
    now = now or timezone.now()
    pk_of = dict(
        ServedModel.objects.filter(
            model_id__in=[model_id for model_id in model_ids if storable(model_id)]
        ).values_list("pk", "model_id")
    )
    found: dict[str, list[AnnouncedChange]] = {}
    for pk, spans in timelines(pk_of, now=now).items():
        for previous, span in pairwise(spans):
            if span.upcoming:
                found.setdefault(pk_of[pk], []).append(
                    AnnouncedChange(
                        pk_of[pk], span.start, price_changes(previous.prices, span.prices)
                    )
                )
    return found


# --- The prices in force at moments, for billing ---------------------------------------------
@dataclass(frozen=True, eq=False)
class Shape:
    """Some prices in force, in the offering's order, without their costs (each costs 0): what
    a lookup's answer is made of apart from its costs. Records of a model mostly share one
    shape, so a batch of lookups meets few; each is made once per process (``_SHAPES``) and
    compared by identity."""

    prices: tuple[Price, ...]


class InForce(NamedTuple):
    """The prices of a record in force at a moment: a shape and each of its prices' cost."""

    shape: Shape
    costs: tuple[str, ...]  # each price's ``cost_usd`` as the snapshot holds it

    @property
    def prices(self) -> tuple[Price, ...]:
        return tuple(
            replace(price, cost_usd=Decimal(cost))
            for price, cost in zip(self.shape.prices, self.costs, strict=True)
        )


class Lookup(NamedTuple):
    """The prices of one model at one moment, or why there are none (``problem``)."""

    model_id: str
    at: datetime
    prices: InForce | None
    problem: str | None = None  # UNKNOWN_MODEL, NOT_YET, NOT_PUBLIC


UNKNOWN_MODEL = "unknown_model"  # no such model, or never public (a draft is never named)
NOT_YET = "before_first_record"  # the moment is before the model's first record
NOT_PUBLIC = "not_public"  # the model was unpublished at that moment

# For each (model id, moment): the model that had the id at the moment (its latest record at or
# before the moment is named so), else the model that has it now; and that model's latest
# record at or before the moment (its id, whether it is public, its prices as JSON text). One
# round trip for the whole batch; each moment's record is one step down the index of
# (id, history_date) (migration 0017). The search by the history's model_id runs only for the
# pairs the model holding the id now does not answer (renamed since, or not there yet).
_LATEST_RECORDS = """
SELECT CASE WHEN n.id IS NULL THEN m.id ELSE n.id END,
       CASE WHEN n.id IS NULL THEN r.history_id ELSE n.history_id END,
       CASE WHEN n.id IS NULL THEN r.public ELSE n.public END,
       CASE WHEN n.id IS NULL THEN r.prices ELSE n.prices END
FROM (
    SELECT pair ->> 0 AS model_id, (pair ->> 1)::timestamptz AS at, n
    FROM jsonb_array_elements(%(pairs)s::jsonb) WITH ORDINALITY AS p (pair, n)
) q
LEFT JOIN catalog_servedmodel m ON m.model_id = q.model_id
LEFT JOIN LATERAL (
    SELECT h.model_id, h.history_id, h.is_published AND h.history_type <> '-' AS public,
           (h.offering -> 'prices')::text AS prices
    FROM catalog_historicalservedmodel h
    WHERE h.id = m.id AND h.history_date <= q.at
    ORDER BY h.history_date DESC, h.history_id DESC LIMIT 1
) r ON true
LEFT JOIN LATERAL (
    SELECT l.id, l.history_id, l.public, l.prices
    FROM (
        SELECT h.id FROM catalog_historicalservedmodel h
        WHERE h.model_id = q.model_id AND h.history_date <= q.at
            AND r.model_id IS DISTINCT FROM q.model_id
        ORDER BY h.history_date DESC, h.history_id DESC LIMIT 1
    ) c
    CROSS JOIN LATERAL (
        SELECT h.id, h.model_id, h.history_id,
               h.is_published AND h.history_type <> '-' AS public,
               (h.offering -> 'prices')::text AS prices
        FROM catalog_historicalservedmodel h
        WHERE h.id = c.id AND h.history_date <= q.at
        ORDER BY h.history_date DESC, h.history_id DESC LIMIT 1
    ) l
    WHERE l.model_id = q.model_id
) n ON true
ORDER BY q.n
"""


def prices_at(
    pairs: Sequence[tuple[str, datetime]], *, now: datetime | None = None
) -> list[Lookup]:
    """The public prices of each (model id, moment) of ``pairs``, in order: the as-of rule for
    the model that had the id at the moment (a renamed model by its old id, before it was
    renamed), else for the model that has the id now. One query whatever the number of pairs
    or the length of the history, and one more when some pair has no public record.
    Moments must not be after ``now`` (default: now); a model that was never public by then
    is an unknown model, never a draft named."""
    now = now or timezone.now()
    if not pairs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _LATEST_RECORDS,
            {
                # One JSON text: psycopg writes arrays of text and moments item by item, in
                # Python. An id that cannot be stored matches no model, as "" does not.
                "pairs": json.dumps(
                    [
                        (model_id if storable(model_id) else "", at.isoformat())
                        for model_id, at in pairs
                    ]
                ),
            },
        )
        rows = cursor.fetchall()
    # A model with no public record at a moment asked is named only if it has been public
    # (a draft never is): asked once for them all, and only when there are such pairs.
    unanswered = {pk for pk, _, public, _ in rows if pk is not None and not public}
    ever_public = set(
        HistoricalServedModel.objects.filter(
            id__in=unanswered, is_published=True, history_date__lte=now
        )
        .exclude(history_type="-")
        .values_list("id", flat=True)
        .distinct()
        if unanswered
        else ()
    )
    found = []
    # A billing batch meets the same records again and again: each is decoded once per call.
    decoded: dict[int, list[dict[str, Any]]] = {}
    for (model_id, at), (pk, history_id, public, prices) in zip(pairs, rows, strict=True):
        if public:
            entries = decoded.get(history_id)
            if entries is None:
                entries = decoded[history_id] = json.loads(prices or "[]")
            found.append(Lookup(model_id, at, entries_in_force(entries, at)))
        elif pk not in ever_public:
            found.append(Lookup(model_id, at, None, UNKNOWN_MODEL))
        elif history_id is None:
            found.append(Lookup(model_id, at, None, NOT_YET))
        else:
            found.append(Lookup(model_id, at, None, NOT_PUBLIC))
    return found


def entries_in_force(entries: list[dict[str, Any]], at: datetime) -> InForce:
    """The prices of a snapshot's ``entries`` (``Offering.as_json``'s ``prices``) in force at
    ``at``, as a shape and costs: no ``Price`` is made for a shape met before."""
    kept = [
        entry
        for entry in entries
        if in_force(iso_moment(entry.get("valid_from")), iso_moment(entry.get("valid_until")), at)
    ]
    key = tuple(map(_shape_key, kept))
    made = _SHAPES.get(key)
    if made is None:
        if len(_SHAPES) >= _SHAPES_KEPT:
            _SHAPES.clear()
        made = _SHAPES[key] = _shape(kept)
    shape, order = made
    return InForce(shape, tuple([kept[number]["cost_usd"] for number in order]))


def _shape_key(entry: dict[str, Any]) -> tuple:
    # Every field of a snapshot's price but its cost and validity (tests/test_timeline.py).
    overrides = entry.get("overrides")
    return (
        entry["direction"], entry["kind"], entry["price_type"], entry["unit"],
        entry.get("ttl_seconds"), entry.get("implicit"), entry.get("utc_start"),
        entry.get("utc_end"), entry.get("utc_days"),
        json.dumps(overrides, sort_keys=True) if overrides else None,
    )  # fmt: skip


# The shapes met so far, with where each of their prices is among a record's entries in force.
# Few: a model's records share a handful.
_SHAPES: dict[tuple, tuple[Shape, tuple[int, ...]]] = {}
_SHAPES_KEPT = 4096
_ZERO = Decimal(0)


def _shape(entries: list[dict[str, Any]]) -> tuple[Shape, tuple[int, ...]]:
    prices = [
        replace(price_from_json(entry), cost_usd=_ZERO, valid_from=None, valid_until=None)
        for entry in entries
    ]
    order = tuple(sorted(range(len(prices)), key=lambda number: price_order(prices[number])))
    return Shape(tuple(prices[number] for number in order)), order


@lru_cache(maxsize=8192)
def _record_prices(history_id: int, prices: str) -> tuple[Price, ...]:
    # A record never changes, and the timelines read the same records again at each revision:
    # each is decoded once per process.
    return record_prices({"prices": json.loads(prices)})


def clear_caches() -> None:
    """Forget the lookup's shapes and parsed moments (a benchmark's cold round)."""
    _SHAPES.clear()
    iso_moment.cache_clear()


# Each (model pk, moment)'s latest record at or before the moment (strictly before it with
# %(strict)s): one step down the index per pair.
_RECORDS_AT = """
SELECT r.history_id
FROM unnest(%(pks)s::bigint[], %(moments)s::timestamptz[]) WITH ORDINALITY AS q (pk, at, n)
LEFT JOIN LATERAL (
    SELECT h.history_id FROM catalog_historicalservedmodel h
    WHERE h.id = q.pk AND (h.history_date < q.at OR (NOT %(strict)s AND h.history_date = q.at))
    ORDER BY h.history_date DESC, h.history_id DESC LIMIT 1
) r ON true
ORDER BY q.n
"""


def records_at(
    pairs: Sequence[tuple[int, datetime]], *, strictly_before: bool = False
) -> list[Record | None]:
    """Each (model pk, moment)'s latest record at that moment (or strictly before it), None
    where there is none: two queries whatever the number of pairs."""
    if not pairs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            _RECORDS_AT,
            {
                "pks": [pk for pk, _ in pairs],
                "moments": [moment for _, moment in pairs],
                "strict": strictly_before,
            },
        )
        ids = [history_id for (history_id,) in cursor.fetchall()]
    records = {
        row[1]: as_record(row, offering)
        for *row, offering in HistoricalServedModel.objects.filter(
            history_id__in={history_id for history_id in ids if history_id is not None}
        ).values_list(*RECORD_COLUMNS, "offering")
    }
    return [None if history_id is None else records[history_id] for history_id in ids]
