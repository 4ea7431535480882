"""Each model's public price timeline, and what is public of the catalog's prices over time.

The one rule of "the prices in force at a moment" is the as-of rule (``catalog.history``):
the model's latest history record at or before the moment, if it is published and not a
deletion, and the prices of its offering snapshot in force at the moment
(``Price.in_force_at``, as ``Offering.splitting_prices`` reads them). Its spans are what the
public endpoint served, moment by moment.

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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, NamedTuple

from django.db.models import Q
from django.utils import timezone

from catalog.history import HistoricalServedModel
from catalog.models import PriceSchedule, ServedModel
from catalog.offering import Offering, Price

# Before any price's validity: an offering read at this moment keeps every row of its snapshot.
_BEFORE_ANY_PRICE = datetime.min.replace(tzinfo=UTC)


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
    """Every price row of a record's snapshot, in the offering's order, with its validity."""
    read = Offering.from_json(offering, _BEFORE_ANY_PRICE)
    return Offering(prices=read.prices + read.scheduled).prices


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
    """The records of the models ``pks`` up to ``now``, oldest first, by model: one query."""
    found: defaultdict[int, list[Record]] = defaultdict(list)
    rows = (
        HistoricalServedModel.objects.filter(id__in=list(pks), history_date__lte=now)
        .order_by("id", "history_date", "history_id")
        .values_list(*RECORD_COLUMNS, "offering")
    )
    for *row, offering in rows:
        found[row[0]].append(as_record(row, offering))
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
        latest = records[-1]
        public = {price.identity: price for price in prices_in_force(latest.prices, now)}
        for moment in announced:
            starting = {p.identity: p for p in latest.prices if p.valid_from == moment}
            for price in latest.prices:
                if price.valid_until == moment and price.identity not in starting:
                    public.pop(price.identity, None)
            public.update(starting)
            spans.append(PriceSpan(moment, None, _ordered(public.values()), True))
    return _merged(spans)


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
    pk = ServedModel.objects.filter(model_id=model_id).values_list("pk", flat=True).first()
    if pk is None:
        return None
    spans = timelines([pk], now=now)[pk]
    return spans or None


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
        ServedModel.objects.filter(model_id__in=list(model_ids)).values_list("pk", "model_id")
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
