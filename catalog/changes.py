"""The feed of public changes: what a reader of the public endpoint could have seen change, in
order of moment, read from the history (``catalog.history``) and the scheduled changes.

Kinds of item: a model published, unpublished, renamed (its name or its id), a price changed
(old -> new, per price), a deprecation set or moved; an announced change scheduled, amended,
cancelled, taking effect. An amendment (another change joined at the same moment, or a price
of it changed) is an item at its own moment with everything the change will then do, so that a
subscriber reading from any cursor never misses a price that will apply. The rule of what is
public is ``catalog.timeline``'s: a record counts only when it or the record before it is
published (a draft's edits are never public); a confidential change appears only at its
moment, as a price change. An item names no person, reason or file.

Each item has a key, ``(moment, source, id, index)``, in which the feed is ordered and from
which a reader resumes (``since``): the source (a record, a change taking effect, scheduled,
cancelled), the row's id, and the item's place among those of its row. Each source is read
in pages in key order; the pages are merged up to the point every source has reached, so a
page of the feed costs a few queries per round whatever the size of the history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from catalog.history import HistoricalServedModel
from catalog.models import PriceSchedule
from catalog.offering import Price
from catalog.timeline import (
    RECORD_COLUMNS,
    PriceChange,
    Record,
    as_record,
    price_changes,
    prices_in_force,
    records_at,
    upcoming_changes,
)

PUBLISHED = "published"
UNPUBLISHED = "unpublished"
RENAMED = "renamed"
PRICE_CHANGED = "price_changed"
DEPRECATION_SET = "deprecation_set"
DEPRECATION_MOVED = "deprecation_moved"
CHANGE_SCHEDULED = "change_scheduled"
CHANGE_AMENDED = "change_amended"
CHANGE_CANCELLED = "change_cancelled"
CHANGE_EFFECTIVE = "change_effective"
KINDS = (PUBLISHED, UNPUBLISHED, RENAMED, PRICE_CHANGED, DEPRECATION_SET, DEPRECATION_MOVED,
         CHANGE_SCHEDULED, CHANGE_AMENDED, CHANGE_CANCELLED, CHANGE_EFFECTIVE)  # fmt: skip

# The sources of items, in the order their items come at one moment.
RECORDS, EFFECTIVE, SCHEDULED, CANCELLED = range(4)
# (moment, source, row id, index of the item among its row's): the feed's order.
Key = tuple[datetime, int, int, int]
# After every item of a row.
_WHOLE_ROW = 1 << 30


@dataclass(frozen=True)
class FeedItem:
    key: Key
    kind: str
    model_id: str
    # Kind-specific, all public: "name"; "field", "old", "new" (renamed); "old", "new"
    # (deprecation, as served); "changes" (PriceChange); "effective_at".
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def moment(self) -> datetime:
        return self.key[0]


@dataclass(frozen=True)
class _FeedRecord:
    record: Record
    name: str
    deprecation: tuple[date | None, int | None]


_FEED_COLUMNS = (*RECORD_COLUMNS, "name", "deprecation_date", "deprecation_hour", "offering")


def _feed_record(row) -> _FeedRecord:
    *columns, name, day, hour, offering = row
    return _FeedRecord(as_record(columns, offering), name, (day, hour))


def _bound(moment_field: str, id_field: str, source: int, cursor: Key | None, descending: bool):
    """The rows of ``source`` whose items come after ``cursor`` (before it, ``descending``)."""
    if cursor is None:
        return Q()
    moment, cursor_source, row_id, index = cursor
    beyond = "lt" if descending else "gt"
    condition = Q(**{f"{moment_field}__{beyond}": moment})
    if (source < cursor_source) if descending else (source > cursor_source):
        condition |= Q(**{moment_field: moment})
    elif source == cursor_source:
        # The cursor's own row again when the items after its index are still to come.
        again = "lt" if descending else ("gte" if index < _WHOLE_ROW else "gt")
        condition |= Q(**{moment_field: moment, f"{id_field}__{again}": row_id})
    return condition


def _ordered(queryset: QuerySet, moment_field: str, id_field: str, descending: bool) -> QuerySet:
    sign = "-" if descending else ""
    return queryset.order_by(f"{sign}{moment_field}", f"{sign}{id_field}")


class _Reader:
    """Reads each source a page at a time and turns its rows into items."""

    def __init__(self, now: datetime, descending: bool, size: int):
        self.now, self.descending, self.size = now, descending, size

    def records(self, cursor: Key | None) -> tuple[list[FeedItem], Key | None]:
        earlier = HistoricalServedModel.objects.filter(id=OuterRef("id")).filter(
            Q(history_date__lt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
        )
        earlier = earlier.order_by("-history_date", "-history_id")
        rows = list(
            _ordered(
                HistoricalServedModel.objects.filter(
                    _bound("history_date", "history_id", RECORDS, cursor, self.descending),
                    history_date__lte=self.now,
                ).annotate(
                    previous_id=Subquery(earlier.values("history_id")[:1]),
                    previous_published=Subquery(earlier.values("is_published")[:1]),
                ),
                "history_date",
                "history_id",
                self.descending,
            ).values_list("previous_id", "previous_published", *_FEED_COLUMNS)[: self.size]
        )
        # (previous id, previous published, *_FEED_COLUMNS): history_id at 3, the date at 4.
        last = self._key(rows[-1][4], RECORDS, rows[-1][3]) if len(rows) == self.size else None
        rows = [row for row in rows if row[6] or row[1]]  # it or the one before it published
        previous = {
            row[1]: _feed_record(row)
            for row in HistoricalServedModel.objects.filter(
                history_id__in={row[0] for row in rows if row[0] is not None}
            ).values_list(*_FEED_COLUMNS)
        }
        announced = self._announced_of({row[2] for row in rows})  # row[2]: the model's pk
        items = []
        for previous_id, _, *row in rows:
            current = _feed_record(row)
            before = previous.get(previous_id)
            items.extend(self._record_items(before, current, announced[current.record.pk]))
        return items, last

    def _record_items(
        self, before: _FeedRecord | None, after: _FeedRecord, announced: list[tuple]
    ) -> list[FeedItem]:
        record = after.record
        was_public = before is not None and before.record.public
        moment, model_id = record.date, record.model_id
        found: list[tuple[str, dict[str, Any]]] = []
        if not was_public and record.public:
            found.append((PUBLISHED, {"name": after.name}))
        elif was_public and not record.public:
            found.append((UNPUBLISHED, {}))
        elif was_public and record.public:
            assert before is not None
            if before.record.model_id != record.model_id:
                found.append(
                    (RENAMED, {"field": "id", "old": before.record.model_id, "new": model_id})
                )
            if before.name != after.name:
                found.append((RENAMED, {"field": "name", "old": before.name, "new": after.name}))
            if before.deprecation != after.deprecation:
                kind = DEPRECATION_SET if before.deprecation[0] is None else DEPRECATION_MOVED
                found.append((kind, {"old": before.deprecation, "new": after.deprecation}))
            changes = price_changes(
                prices_in_force(before.record.prices, moment),
                prices_in_force(record.prices, moment),
            )
            if changes:
                found.append((PRICE_CHANGED, {"changes": changes}))
            found.extend(_amendments(before.record, record, announced))
        return [
            FeedItem((moment, RECORDS, record.history_id, index), kind, model_id, details)
            for index, (kind, details) in enumerate(found)
        ]

    def effective(self, cursor: Key | None) -> tuple[list[FeedItem], Key | None]:
        """Scheduled changes that took effect: each as the prices it changed when it did."""
        schedules = self._schedules(
            PriceSchedule.objects.filter(cancelled_at__isnull=True, effective_at__lte=self.now),
            "effective_at",
            EFFECTIVE,
            cursor,
        )
        # The model as served just before the moment, whose record holds the new prices too.
        records = records_at([(pk, moment) for _, pk, moment, _ in schedules], strictly_before=True)
        items = []
        for (schedule_id, _, moment, announced), record in zip(schedules, records, strict=True):
            if record is None or not record.public:
                continue
            changes = price_changes(
                prices_in_force(record.prices, moment - timedelta(microseconds=1)),
                prices_in_force(record.prices, moment),
            )
            if changes:
                # A confidential change is public from its moment, as a price change only.
                kind = CHANGE_EFFECTIVE if announced else PRICE_CHANGED
                details = {"changes": changes, "effective_at": moment}
                items.append(
                    FeedItem((moment, EFFECTIVE, schedule_id, 0), kind, record.model_id, details)
                )
        return items, self._last(schedules, EFFECTIVE)

    def scheduled(self, cursor: Key | None) -> tuple[list[FeedItem], Key | None]:
        """Announced changes, when they were scheduled: what they change against the public
        prices of that moment (``catalog.timeline.upcoming_changes``)."""
        schedules = self._schedules(
            PriceSchedule.objects.filter(announced=True, created_at__lte=self.now),
            "created_at",
            SCHEDULED,
            cursor,
        )
        records = records_at([(pk, moment) for _, pk, moment, _ in schedules])
        announced = self._announced_of({pk for _, pk, _, _ in schedules})
        items = []
        for (schedule_id, pk, moment, effective_at), record in zip(schedules, records, strict=True):
            if record is None or not record.public:
                continue
            then = _pending(announced[pk], moment)
            changes = upcoming_changes(record, then, moment)
            if effective_at not in changes:
                continue
            details = {"effective_at": effective_at, "changes": changes[effective_at]}
            items.append(
                FeedItem(
                    (moment, SCHEDULED, schedule_id, 0), CHANGE_SCHEDULED, record.model_id, details
                )
            )
        return items, self._last(schedules, SCHEDULED)

    def cancelled(self, cursor: Key | None) -> tuple[list[FeedItem], Key | None]:
        schedules = self._schedules(
            PriceSchedule.objects.filter(announced=True, cancelled_at__lte=self.now),
            "cancelled_at",
            CANCELLED,
            cursor,
        )
        records = records_at([(pk, moment) for _, pk, moment, _ in schedules])
        items = [
            FeedItem(
                (moment, CANCELLED, schedule_id, 0),
                CHANGE_CANCELLED,
                record.model_id,
                {"effective_at": effective_at},
            )
            for (schedule_id, _, moment, effective_at), record in zip(
                schedules, records, strict=True
            )
            if record is not None and record.public
        ]
        return items, self._last(schedules, CANCELLED)

    def _schedules(self, queryset: QuerySet, moment_field: str, source: int, cursor: Key | None):
        # (id, model pk, the source's moment, effective_at, or for EFFECTIVE, announced)
        last_column = "announced" if source == EFFECTIVE else "effective_at"
        return list(
            _ordered(
                queryset.filter(_bound(moment_field, "id", source, cursor, self.descending)),
                moment_field,
                "id",
                self.descending,
            ).values_list("id", "model_id", moment_field, last_column)[: self.size]
        )

    def _last(self, schedules: list, source: int) -> Key | None:
        if len(schedules) < self.size:
            return None
        schedule_id, _, moment, _ = schedules[-1]
        return self._key(moment, source, schedule_id)

    def _key(self, moment: datetime, source: int, row_id: int) -> Key:
        """The point a source has read to: past every item of its last row, in the reading
        direction."""
        return (moment, source, row_id, -1 if self.descending else _WHOLE_ROW)

    def _announced_of(self, pks: set[int]) -> dict[int, list[tuple]]:
        found: defaultdict[int, list[tuple]] = defaultdict(list)
        for pk, *moments in PriceSchedule.objects.filter(
            model_id__in=pks, announced=True
        ).values_list("model_id", "effective_at", "created_at", "cancelled_at"):
            found[pk].append(tuple(moments))
        return found


def _pending(announced: list[tuple], moment: datetime, *, just_before: bool = False) -> list:
    """The moments of a model's announced changes (``_announced_of``) pending at ``moment``
    (or just before it: one scheduled at ``moment`` not yet, one cancelled then still)."""
    return sorted(
        start
        for start, created, cancelled in announced
        if (created < moment if just_before else created <= moment)
        and moment < start
        and (cancelled is None or (cancelled >= moment if just_before else cancelled > moment))
    )


def _amendments(before: Record, after: Record, announced: list[tuple]) -> list[tuple[str, dict]]:
    """The announced changes pending both before and after the record ``after`` whose prices
    to come it changed (a change joined, a price of it changed): each as all it now changes.
    Compared by the prices each will bring, not by their "before" side, which an earlier
    change (a confidential one too) may move without amending this one."""
    moment = after.date
    pending = _pending(announced, moment, just_before=True)
    if not pending:
        return []
    was = upcoming_changes(before, pending, moment)
    now = upcoming_changes(after, _pending(announced, moment), moment)
    return [
        (CHANGE_AMENDED, {"effective_at": start, "changes": changes})
        for start, changes in now.items()
        if start in was and _brought(was[start]) != _brought(changes)
    ]


def _brought(changes: tuple[PriceChange, ...]) -> dict[tuple, Price | None]:
    return {
        (change.after or change.before).identity: change.after  # type: ignore[union-attr]
        for change in changes
    }


def feed(
    since: Key | None = None,
    limit: int = 100,
    *,
    latest: bool = False,
    now: datetime | None = None,
) -> list[FeedItem]:
    """Up to ``limit`` public changes up to ``now`` (default: now) in the feed's order after
    ``since`` (from the first, without it); with ``latest``, the last ``limit`` of them, the
    latest first."""
    now = now or timezone.now()
    reader = _Reader(now, latest, size=max(limit, 50) + 1)
    sources = (reader.records, reader.effective, reader.scheduled, reader.cancelled)
    found: list[FeedItem] = []
    cursor = since
    while True:
        pending: list[FeedItem] = []
        reached: list[Key] = []
        for read in sources:
            items, last = read(cursor)
            pending.extend(items)
            if last is not None:
                reached.append(last)
        # Every source has given its items up to the nearest of the points they reached; the
        # next round reads every source again from there.
        horizon = (max if latest else min)(reached) if reached else None
        complete = [
            item
            for item in pending
            if (cursor is None or (item.key < cursor if latest else item.key > cursor))
            and (horizon is None or (item.key > horizon if latest else item.key < horizon))
        ]
        complete.sort(key=lambda item: item.key, reverse=latest)
        found.extend(complete)
        if len(found) >= limit or horizon is None:
            return found[:limit]
        cursor = horizon
