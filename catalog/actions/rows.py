"""A model's offering written as rows: only the rows that differ, in bulk (``write_offerings``).

Called by the actions only (``catalog.actions``): the one way rows of the catalog are written.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import F, Model, Q
from django.utils import timezone

from catalog.models import CapacityEntry, Modality, PriceEntry
from catalog.offering import ROOT, Capacity, Offering, Price, next_start

_MODALITY_FIELDS = (
    "position",
    "supported_inputs",
    "supported_parameters",
    "passthrough_parameters",
    "streaming",
)


# A price or capacity row's scope, read with it (a join): (None, None) for the root.
_SCOPE = {"scope_direction": F("modality__direction"), "scope_kind": F("modality__kind")}


def _json_value(value):
    if isinstance(value, datetime):  # a price's valid_from/valid_until (catalog.actions.schedule)
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def insert_rows(rows: Sequence[Model], *, match: tuple[str, ...] = ()) -> None:
    """Insert ``rows`` (new instances of one model) in one statement, their values as one JSON
    document that PostgreSQL takes apart (``jsonb_to_recordset``).

    What ``bulk_create`` would write, for a fraction of its cost: it adapts every value of every
    row in Python (docs/PERFORMANCE.md). With ``match``, the fields that identify a row among
    these, each row gets its ``pk`` (matched, not by order).
    """
    model = type(rows[0])
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    # Types without modifiers: the insert coerces to the columns' own, as for any parameter.
    record = ", ".join(
        f"{quote(field.column)} {str(field.db_type(connection)).split('(')[0]}" for field in fields
    )
    columns = ", ".join(quote(field.column) for field in fields)
    values = [
        {field.column: _json_value(getattr(row, field.attname)) for field in fields} for row in rows
    ]
    column_of = {field.attname: field.column for field in fields}
    returning = ", ".join(
        quote(column) for column in (meta.pk.column, *(column_of[name] for name in match))
    )
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
        + (f" RETURNING {returning}" if match else "")
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(values)])
        if match:
            pks = {tuple(found): pk for pk, *found in cursor.fetchall()}
            for row in rows:
                row.pk = pks[tuple(getattr(row, name) for name in match)]
    model._default_manager.all()._announce()  # type: ignore[attr-defined]  # a CatalogQuerySet


def _row_identity(row: PriceEntry) -> tuple:
    # ``Price.identity`` of a row read with ``_SCOPE``.
    return ((row.scope_direction, row.scope_kind), row.price_type, row.unit,  # type: ignore[attr-defined]
            row.ttl_seconds, row.implicit, row.utc_start, row.utc_end, row.utc_days)  # fmt: skip


def _differs(row, values: dict) -> bool:
    return any(getattr(row, name) != value for name, value in values.items())


def _only_removed_prices(
    offerings: Mapping[int, Offering], stored: Mapping[int, Offering]
) -> Q | None:
    """The rows of the prices that ``offerings`` remove from ``stored``, when that is all their
    prices change (each price wanted is stored as it is), else None."""
    removed = Q(pk__in=[])
    for pk, offering in offerings.items():
        old = stored.get(pk, Offering()).prices
        if any(all(price != kept for kept in old) for price in offering.prices):
            return None
        wanted = {price.identity for price in offering.prices}
        for price in old:
            if price.identity not in wanted:
                direction, kind = price.scope
                scope = (
                    Q(modality__isnull=True)
                    if price.scope == ROOT
                    else Q(modality__direction=direction, modality__kind=kind)
                )
                removed |= scope & Q(model_id=pk, **price.identity_columns())
    return removed


def write_offerings(
    offerings: Mapping[int, Offering],
    *,
    batch_size: int | None = None,
    created: bool = False,
    stored: Mapping[int, Offering] | None = None,
) -> None:
    """Make the saved rows of each (saved) model, by pk, match its offering.

    Reads the current rows of the models, then deletes, updates and inserts only what differs,
    in bulk: writing an unchanged offering executes no write. Each insert is one statement
    (callers pass a batch of models; a model has a bounded number of rows). Call inside a
    transaction. ``created``: the models were just inserted, so they have no rows to read.
    ``stored``: the offerings the caller read (by model pk), which spares the reads of the
    tables in which no model differs: an import that changes prices reads only the prices.
    """
    if not offerings:
        return
    by_pk = dict(offerings)
    if stored is not None:
        by_pk = {pk: offering for pk, offering in by_pk.items() if offering != stored.get(pk)}
        if not by_pk:
            return
    model_pks = [] if created else list(by_pk)

    def differ(part: str) -> bool:
        if created or stored is None:
            return True
        return any(
            getattr(offering, part) != getattr(stored.get(pk, Offering()), part)
            for pk, offering in by_pk.items()
        )

    def inserts_under_modalities() -> bool:
        # A new price or capacity row of a modality needs that modality's pk.
        if created or stored is None:
            return True
        for pk, offering in by_pk.items():
            old = stored.get(pk, Offering())
            old_identities = {p.identity for p in old.prices} | {c.identity for c in old.capacities}
            entries: list[Price | Capacity] = [*offering.prices, *offering.capacities]
            if any(
                entry.scope != ROOT and entry.identity not in old_identities for entry in entries
            ):
                return True
        return False

    read_modalities = differ("modalities") or inserts_under_modalities()
    read_prices = differ("prices") or differ("modalities")
    now = timezone.now()
    if read_prices and stored is not None and not read_modalities:
        removed = _only_removed_prices(by_pk, stored)
        if removed is not None:
            # Prices removed and nothing else (an admin row deleted): by identity, unread.
            PriceEntry.objects.filter(removed, PriceEntry.in_force_at(now)).delete()
            read_prices = False
    read_capacities = differ("capacities") or differ("modalities")
    stored_modalities: defaultdict[int, dict] = defaultdict(dict)
    if read_modalities and model_pks:
        for row in Modality.objects.filter(model_id__in=model_pks).order_by():
            stored_modalities[row.model_id][(row.direction, row.kind)] = row
    # The rows in force now, and the starts of scheduled ones: a price added now under the
    # identity of a scheduled one lasts until that one starts.
    stored_prices = defaultdict(list)
    starts: defaultdict[tuple[int, tuple], list[datetime]] = defaultdict(list)
    if read_prices and model_pks:
        for row in (
            PriceEntry.objects.filter(model_id__in=model_pks)
            .exclude(valid_until__lte=now)
            .annotate(**_SCOPE)
            .order_by()
        ):
            if row.valid_from is None or row.valid_from <= now:
                stored_prices[row.model_id].append(row)
            else:
                starts[row.model_id, _row_identity(row)].append(row.valid_from)
    stored_capacities = defaultdict(list)
    if read_capacities and model_pks:
        for row in (
            CapacityEntry.objects.filter(model_id__in=model_pks).annotate(**_SCOPE).order_by()
        ):
            stored_capacities[row.model_id].append(row)

    # Modalities first: prices and capacities point at them.
    modality_deletes, modality_creates, modality_updates = [], [], []
    for pk, offering in by_pk.items() if read_modalities else ():
        wanted = {spec.scope: spec for spec in offering.modalities}
        for scope, row in stored_modalities[pk].items():
            if scope not in wanted:
                modality_deletes.append(row.pk)
        for scope, spec in wanted.items():
            values = {name: getattr(spec, name) for name in _MODALITY_FIELDS}
            row = stored_modalities[pk].get(scope)
            if row is None:
                row = Modality(model_id=pk, direction=spec.direction, kind=spec.kind, **values)
                modality_creates.append(row)
                stored_modalities[pk][scope] = row
            elif _differs(row, values):
                for name, value in values.items():
                    setattr(row, name, value)
                modality_updates.append(row)
    if modality_deletes:
        # Cascades to the prices and capacities of those modalities, which are gone too.
        Modality.objects.filter(pk__in=modality_deletes).delete()
    if modality_creates:
        insert_rows(modality_creates, match=("model_id", "direction", "kind"))
    if modality_updates:
        Modality.objects.bulk_update(modality_updates, _MODALITY_FIELDS, batch_size=batch_size)
    deleted = set(modality_deletes)

    def modality_pk(pk: int, scope) -> int | None:
        return None if scope == ROOT else stored_modalities[pk][scope].pk

    price_deletes, price_creates, price_updates = [], [], []
    for pk, offering in by_pk.items() if read_prices else ():
        rows = {}
        for row in stored_prices[pk]:
            if row.modality_id in deleted:
                continue
            rows[_row_identity(row)] = row
        wanted_prices = {price.identity: price for price in offering.prices}
        price_deletes += [row.pk for identity, row in rows.items() if identity not in wanted_prices]
        for identity, price in wanted_prices.items():
            values = {
                "cost_usd": price.cost_usd,
                "overrides": list(price.overrides),
            }
            row = rows.get(identity)
            if row is None:
                price_creates.append(
                    PriceEntry(
                        model_id=pk,
                        modality_id=modality_pk(pk, price.scope),
                        **price.identity_columns(),
                        valid_until=next_start(starts[pk, identity], now),
                        **values,
                    )
                )
            elif _differs(row, values):
                for name, value in values.items():
                    setattr(row, name, value)
                price_updates.append(row)
    capacity_deletes, capacity_creates, capacity_updates = [], [], []
    for pk, offering in by_pk.items() if read_capacities else ():
        capacity_rows = {
            ((row.scope_direction, row.scope_kind), row.capacity_type, row.unit, row.per): row
            for row in stored_capacities[pk]
            if row.modality_id not in deleted
        }
        wanted_capacities = {entry.identity: entry for entry in offering.capacities}
        capacity_deletes += [
            row.pk for identity, row in capacity_rows.items() if identity not in wanted_capacities
        ]
        for identity, entry in wanted_capacities.items():
            row = capacity_rows.get(identity)
            if row is None:
                capacity_creates.append(
                    CapacityEntry(
                        model_id=pk,
                        modality_id=modality_pk(pk, entry.scope),
                        capacity_type=entry.capacity_type,
                        unit=entry.unit,
                        per=entry.per,
                        value=entry.value,
                    )
                )
            elif row.value != entry.value:
                row.value = entry.value
                capacity_updates.append(row)
    # Deletes before inserts: a row replaced under the same identity must leave first.
    if price_deletes:
        PriceEntry.objects.filter(pk__in=price_deletes).delete()
    if capacity_deletes:
        CapacityEntry.objects.filter(pk__in=capacity_deletes).delete()
    if price_creates:
        insert_rows(price_creates)
    if price_updates:
        PriceEntry.objects.bulk_update(
            price_updates, ["cost_usd", "overrides"], batch_size=batch_size
        )
    if capacity_creates:
        insert_rows(capacity_creates)
    if capacity_updates:
        CapacityEntry.objects.bulk_update(capacity_updates, ["value"], batch_size=batch_size)
