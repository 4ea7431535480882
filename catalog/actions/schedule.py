"""Scheduled price changes: prices that change at a moment set ahead (issue 15).

A price is a ``PriceEntry`` row in force from ``valid_from`` until ``valid_until`` (NULL: open).
Scheduling a change for moment T ends, at T, the row of each changed price in force then, and
starts its new price at T as a row of its own; nothing is written when T comes; every reader
takes the rows in force at the moment it reads (``PriceEntry.in_force_at``) and a rendered
body is valid until the next start or end (``catalog.formats.published.Published.valid_until``).
Cancelling a change before T deletes the rows it started and lets the rows it ended run on.

``PriceSchedule`` keeps who scheduled the change, from what, what it changes (each price before
and after, as served just before T) and whether it was cancelled. Both write paths leave a
history record (``catalog.history``, changed field ``SCHEDULED``), whose offering snapshot holds
the scheduled rows, so that ``export_models --as-of`` gives what was in force at any moment.

Writes go through ``schedule_changes`` and ``cancel_schedule`` only; they hold the model's row
locked (``SELECT … FOR UPDATE``) so that two of them never interleave on one model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.actions.rows import insert_rows
from catalog.formats.flat.encode import plain_decimal
from catalog.history import Change, record_bulk
from catalog.models import Modality, PriceEntry, PriceSchedule, ServedModel
from catalog.offering import ROOT, ModalitySpec, Offering, Price, Scope, in_force, next_start
from catalog.presentation import cost_text, price_label

# The name a history record gives a scheduling or a cancellation (its "changed fields").
SCHEDULED = "scheduled prices"

# What a schedule changes, by price identity: the new price, or None to end the price.
Changes = Mapping[tuple, Price | None]


class ScheduleError(ValueError):
    """A change that cannot be scheduled or cancelled, said for staff."""


@dataclass(frozen=True)
class ModelChanges:
    """The prices of one model that change at the moment (``changes_between`` makes them)."""

    model: ServedModel
    changes: Changes


def check_moment(moment: datetime, now: datetime | None = None) -> None:
    """A moment prices may change at: aware, on the minute, in the future."""
    if timezone.is_naive(moment):
        raise ScheduleError("Give the moment with its time zone, e.g. 2026-12-01T00:00:00Z.")
    if moment.second or moment.microsecond:
        raise ScheduleError(
            f"Prices change on the minute: {_when(moment)} has seconds; use "
            f"{_when(moment.replace(second=0, microsecond=0))}."
        )
    now = now or timezone.now()
    if moment <= now:
        raise ScheduleError(f"{_when(moment)} is not in the future (it is now {_when(now)}).")


def prices_before(models: Sequence[ServedModel], moment: datetime) -> dict[int, dict[tuple, Price]]:
    """Each model's prices in force just before ``moment`` (scheduled ones included), by model pk
    and identity: what a change at ``moment`` changes. One query."""
    just_before = moment - timedelta(microseconds=1)
    found: defaultdict[int, dict[tuple, Price]] = defaultdict(dict)
    rows = PriceEntry.objects.filter(
        PriceEntry.in_force_at(just_before), model__in=[model.pk for model in models]
    ).select_related("modality")
    for row in rows:
        price = Price.of_row(row, _scope(row))
        found[row.model_id][price.identity] = price
    return found


def changes_between(
    before: Mapping[tuple, Price], after: Iterable[Price]
) -> dict[tuple, Price | None]:
    """What turns the prices ``before`` (by identity) into ``after``: each new or different
    price, and None for each price that ends."""
    wanted = {price.identity: price for price in after}
    changes: dict[tuple, Price | None] = {
        identity: None for identity in before if identity not in wanted
    }
    for identity, price in wanted.items():
        old = before.get(identity)
        if old is None or (old.cost_usd, old.overrides) != (price.cost_usd, price.overrides):
            changes[identity] = price
    return changes


def schedule_changes(
    plans: Sequence[ModelChanges],
    moment: datetime,
    *,
    user=None,
    source: str = "",
    announced: bool = True,
    now: datetime | None = None,
) -> list[PriceSchedule]:
    """Schedule each model's ``changes`` for ``moment``, in one transaction; returns the
    schedules written (one per model; a model with a pending change at that moment has it
    extended, if it is as public as this one). A model whose changes are empty is left alone."""
    now = now or timezone.now()
    check_moment(moment, now)
    plans = [plan for plan in plans if plan.changes]
    if not plans:
        return []
    with transaction.atomic():
        pks = [plan.model.pk for plan in plans]
        list(ServedModel.objects.filter(pk__in=pks).select_for_update().values_list("pk"))
        before = prices_before([plan.model for plan in plans], moment)
        rows = _rows_by_identity(pks)
        modality_of = {}
        specs: defaultdict[int, list[ModalitySpec]] = defaultdict(list)
        for row in Modality.objects.filter(model_id__in=pks):
            modality_of[row.model_id, (row.direction, row.kind)] = row.pk
            specs[row.model_id].append(ModalitySpec.of_row(row))
        pending = {
            schedule.model_id: schedule
            for schedule in PriceSchedule.objects.filter(
                model_id__in=pks, effective_at=moment, cancelled_at__isnull=True
            )
        }
        ended, inserts, updates, deletes = [], [], [], []
        schedules = []
        for plan in plans:
            pk = plan.model.pk
            joined = pending.get(pk)
            if joined is not None and joined.announced != announced:
                # One change, one audience: joining would publish a confidential price early,
                # or hide one that customers were told of.
                raise ScheduleError(
                    f"{plan.model.model_id}: a price change for {_when(moment)} is already "
                    f"scheduled as {_visibility(joined.announced)}; this one is "
                    f"{_visibility(announced)}. Cancel it first, or choose the same."
                )
            _check_offering(plan, tuple(specs[pk]), before[pk])
            described = []
            for identity, price in plan.changes.items():
                scope = identity[0]
                old = before[pk].get(identity)
                described.append(described_change(identity, old, price))
                history = rows.get((pk, identity), [])
                covering = next((r for r in history if _covers(r, moment)), None)
                starting = next((r for r in history if r.valid_from == moment), None)
                until = (
                    covering.valid_until
                    if covering is not None
                    else next_start((r.valid_from for r in history), moment)
                )
                if covering is not None:
                    covering.valid_until = moment
                    ended.append(covering)
                if starting is not None:
                    if price is None:
                        deletes.append(starting.pk)
                    else:
                        starting.cost_usd, starting.overrides = (
                            price.cost_usd,
                            list(price.overrides),
                        )
                        updates.append(starting)
                elif price is not None:
                    inserts.append(
                        PriceEntry(
                            model_id=pk,
                            modality_id=None if scope == ROOT else modality_of[pk, scope],
                            **price.identity_columns(),
                            cost_usd=price.cost_usd,
                            overrides=list(price.overrides),
                            valid_from=moment,
                            valid_until=until,
                        )
                    )
            schedule = pending.get(pk)
            if schedule is None:
                schedule = PriceSchedule(
                    model=plan.model,
                    effective_at=moment,
                    created_at=now,
                    created_by=user,
                    source=source,
                    changes=described,
                    announced=announced,
                )
            else:
                merged = {_identity_key(c): c for c in schedule.changes}
                merged.update({_identity_key(c): c for c in described})
                schedule.changes = list(merged.values())
            schedules.append(schedule)
        if deletes:
            PriceEntry.objects.filter(pk__in=deletes).delete()
        if ended:
            PriceEntry.objects.bulk_update(ended, ["valid_until"])
        if updates:
            PriceEntry.objects.bulk_update(updates, ["cost_usd", "overrides"])
        if inserts:
            insert_rows(inserts)
        for schedule in schedules:
            schedule.save()
        record_bulk(
            [Change(plan.model, "~", [SCHEDULED]) for plan in plans],
            date=now,
            reason=_reason(
                f"{'' if announced else 'confidential '}price change scheduled for {_when(moment)}",
                source,
            ),
            user=user,
        )
    return schedules


def cancel_schedule(
    schedule: PriceSchedule, *, user=None, source: str = "", now: datetime | None = None
) -> None:
    """Cancel ``schedule`` before it starts: the prices it ends run on, those it starts go."""
    now = now or timezone.now()
    moment = schedule.effective_at
    with transaction.atomic():
        model = ServedModel.objects.select_for_update().get(pk=schedule.model_id)
        # Read again under the model's lock: two cancellations of one change never both pass.
        schedule.refresh_from_db(fields=["cancelled_at", "cancelled_by"])
        if schedule.cancelled:
            raise ScheduleError(f"The price change of {_when(moment)} is already cancelled.")
        if moment <= now:
            raise ScheduleError(
                f"The price change of {_when(moment)} has started; schedule another one instead."
            )
        rows = _rows_by_identity([model.pk])
        deletes, resumed = [], []
        for (_, _identity), history in rows.items():
            starting = next((r for r in history if r.valid_from == moment), None)
            ending = next((r for r in history if r.valid_until == moment), None)
            if starting is not None:
                deletes.append(starting.pk)
            if ending is not None:
                ending.valid_until = (
                    starting.valid_until
                    if starting is not None
                    else next_start((r.valid_from for r in history), moment)
                )
                resumed.append(ending)
        if deletes:
            PriceEntry.objects.filter(pk__in=deletes).delete()
        if resumed:
            PriceEntry.objects.bulk_update(resumed, ["valid_until"])
        schedule.cancelled_at, schedule.cancelled_by = now, user
        schedule.save(update_fields=["cancelled_at", "cancelled_by"])
        record_bulk(
            [Change(model, "~", [SCHEDULED])],
            date=now,
            reason=_reason(f"price change for {_when(moment)} cancelled", source),
            user=user,
        )


def describe(change: dict) -> str:
    """One change of a ``PriceSchedule.changes`` as staff read it: "input text prompt per
    token: $0.15 per 1M tokens -> $0.20 per 1M tokens"."""
    price = _price_of(change, change.get("after") or change.get("before") or "0")
    before = (
        "none" if change["before"] is None else cost_text(Decimal(change["before"]), price.unit)
    )
    after = "none" if change["after"] is None else cost_text(Decimal(change["after"]), price.unit)
    return f"{price_label(price)}: {before} -> {after}"


# --- internals ---------------------------------------------------------------------------------
def _check_offering(
    plan: ModelChanges, modalities: tuple[ModalitySpec, ...], before: Mapping[tuple, Price]
) -> None:
    """Refuse a change whose prices, once in force, break the offering's rules."""
    after = {**before, **plan.changes}
    offering = Offering(
        modalities=modalities, prices=tuple(p for p in after.values() if p is not None)
    )
    if problems := offering.problems():
        raise ScheduleError(f"{plan.model.model_id}: " + "; ".join(map(str, problems)))


def _scope(row: PriceEntry) -> Scope:
    return ROOT if row.modality is None else (row.modality.direction, row.modality.kind)


def _rows_by_identity(pks: list[int]) -> dict[tuple[int, tuple], list[PriceEntry]]:
    """Every price row of the models that has not ended, by model pk and identity."""
    rows: defaultdict[tuple[int, tuple], list[PriceEntry]] = defaultdict(list)
    for row in (
        PriceEntry.objects.filter(model_id__in=pks)
        .exclude(valid_until__lte=timezone.now())
        .select_related("modality")
    ):
        rows[row.model_id, Price.of_row(row, _scope(row)).identity].append(row)
    return rows


def _covers(row: PriceEntry, moment: datetime) -> bool:
    # In force just before and at ``moment``: the row a change at ``moment`` ends.
    return in_force(row.valid_from, row.valid_until, moment) and in_force(
        row.valid_from, row.valid_until, moment - timedelta(microseconds=1)
    )


def described_change(identity: tuple, old: Price | None, new: Price | None) -> dict:
    """One entry of ``PriceSchedule.changes``: a price's identity, and its cost before and after
    in plain notation (None: no such price then)."""
    (direction, kind), price_type, unit, ttl_seconds, implicit, utc_start, utc_end, days = identity
    return {
        "direction": direction,
        "kind": kind,
        "price_type": price_type,
        "unit": unit,
        "ttl_seconds": ttl_seconds,
        "implicit": implicit,
        "utc_start": utc_start,
        "utc_end": utc_end,
        # Only when set: the changes recorded before weekdays existed read the same.
        **({} if days is None else {"utc_days": days}),
        "before": None if old is None else plain_decimal(old.cost_usd),
        "after": None if new is None else plain_decimal(new.cost_usd),
    }


_IDENTITY_NAMES = ("direction", "kind", "price_type", "unit", "ttl_seconds", "implicit",
                   "utc_start", "utc_end")  # fmt: skip


def _identity_key(change: dict) -> tuple:
    return (*(change[name] for name in _IDENTITY_NAMES), change.get("utc_days"))


def _price_of(change: dict, cost: str) -> Price:
    return Price(
        scope=(change["direction"], change["kind"]),
        price_type=change["price_type"],
        unit=change["unit"],
        cost_usd=Decimal(cost),
        ttl_seconds=change["ttl_seconds"],
        implicit=change["implicit"],
        utc_start=change["utc_start"],
        utc_end=change["utc_end"],
        utc_days=change.get("utc_days"),
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _visibility(announced: bool) -> str:
    return "announced" if announced else "confidential"


def _reason(what: str, source: str) -> str:
    return f"{what} ({source})" if source else what
