"""A served model's modalities, prices and capacities as one plain structure: its offering.

The rows (``Modality``, ``PriceEntry``, ``CapacityEntry``) are how the catalog stores it;
``Offering`` is how everything else reads and writes it: the flat encoder and decoder, the
history (a record keeps ``Offering.as_json()``), the admin, and, with issue 14, the typed
format. Loading costs no query of its own: a column of the models' query (``with_offering``);
writing many models at once is a few bulk statements (``write_offerings``), which touch only
the rows that differ, so a price row keeps its identity while it lives.

Prices have a validity in time (``PriceEntry.valid_from``/``valid_until``, written by
``catalog.schedule``): an ``Offering`` holds the prices in force at the moment it was read
(``prices``) and, apart, the ones scheduled to start later (``scheduled``), which ``==`` leaves
out: two offerings are equal when what they offer now is.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, F, Func, JSONField, Model, QuerySet, Value
from django.utils import timezone

from catalog.choices import Direction, InputModality, OutputModality, _positions
from catalog.models import CapacityEntry, Modality, PriceEntry, ServedModel

# (direction, kind) of a modality; (None, None) is the request scope, the model's root.
Scope = tuple[str | None, str | None]
ROOT: Scope = (None, None)


def _scope_order(scope: Scope) -> tuple:
    direction, kind = scope
    if direction is None:
        return (2, 0)
    choices = InputModality if direction == Direction.INPUT else OutputModality
    return (0 if direction == Direction.INPUT else 1, _positions(choices).get(kind or "", 99), kind)


@dataclass(frozen=True)
class ModalitySpec:
    direction: str
    kind: str
    position: int = 0
    supported_inputs: dict = field(default_factory=dict)
    supported_parameters: dict = field(default_factory=dict)
    passthrough_parameters: dict = field(default_factory=dict)
    streaming: bool | None = None

    @property
    def scope(self) -> Scope:
        return (self.direction, self.kind)


@dataclass(frozen=True)
class Price:
    """One price entry; ``identity`` is what makes it unique within a model."""

    scope: Scope
    price_type: str
    unit: str
    cost_usd: Decimal
    ttl_seconds: int | None = None
    implicit: bool | None = None
    utc_start: int | None = None
    utc_end: int | None = None
    overrides: tuple = ()  # of {"when": ..., "cost_usd": "..."} dicts, in order
    # The UTC weekdays it applies on, as bits (``catalog.choices.weekday_bits``); None: every day.
    utc_days: int | None = None
    # When the row is in force (None: open); not part of what the price is.
    valid_from: datetime | None = field(default=None, compare=False)
    valid_until: datetime | None = field(default=None, compare=False)

    @property
    def identity(self) -> tuple:
        # The unit too: a flat catalog may price images on a model without an image input,
        # which is stored as the text input's prompt per image (docs/ARCHITECTURE.md).
        return (self.scope, self.price_type, self.unit, self.ttl_seconds, self.implicit,
                self.utc_start, self.utc_end, self.utc_days)  # fmt: skip

    @property
    def typed_identity(self) -> tuple:
        """The identity in the typed format: scope, type and qualifiers, not the unit (one
        entry per typed identity; ``identity`` keeps the unit for the flat mapping)."""
        return (self.scope, self.price_type, self.ttl_seconds, self.implicit, self.utc_start,
                self.utc_end, self.utc_days)  # fmt: skip

    @property
    def windowed(self) -> bool:
        """Whether it applies only at some times (a window, some weekdays): never a base price."""
        return self.utc_start is not None or self.utc_days is not None

    @classmethod
    def of_row(cls, row: PriceEntry, scope: Scope) -> Price:
        """The entry of a ``PriceEntry`` row (saved or not) in ``scope``."""
        return cls(
            scope=scope,
            price_type=row.price_type,
            unit=row.unit,
            cost_usd=row.cost_usd,
            ttl_seconds=row.ttl_seconds,
            implicit=row.implicit,
            utc_start=row.utc_start,
            utc_end=row.utc_end,
            overrides=tuple(row.overrides or ()),
            utc_days=row.utc_days,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )

    def in_force_at(self, moment: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= moment) and (
            self.valid_until is None or moment < self.valid_until
        )


@dataclass(frozen=True)
class Capacity:
    scope: Scope
    capacity_type: str
    unit: str
    per: str | None
    value: int

    @property
    def identity(self) -> tuple:
        return (self.scope, self.capacity_type, self.unit, self.per)


def _none_last(value) -> tuple:
    return (value is None, value if value is not None else 0)


def _none_first(value) -> tuple:
    return (value is not None, value if value is not None else 0)


def base_price_order(price) -> tuple:
    """Among unwindowed entries of one scope, type and unit, the smallest is the base one (the
    flat price): without ``ttl_seconds`` first, else the shortest lifetime (and unqualified
    caching before implicit or explicit). ``price``: anything with ``ttl_seconds`` and
    ``implicit`` (a ``Price``, a row)."""
    return (_none_first(price.ttl_seconds), _none_first(price.implicit))


def _price_order(price: Price) -> tuple:
    return (
        _scope_order(price.scope),
        price.price_type,
        _none_last(price.utc_start),
        _none_last(price.utc_end),
        _none_last(price.utc_days),
        _none_last(price.ttl_seconds),
        _none_last(price.implicit),
    )


def _capacity_order(capacity: Capacity) -> tuple:
    return (_scope_order(capacity.scope), capacity.capacity_type, capacity.unit,
            _none_last(capacity.per))  # fmt: skip


@dataclass(frozen=True)
class Offering:
    """Modalities, prices and capacities, each kept in one canonical order (so ``==`` compares
    content, and JSON snapshots of equal offerings are equal)."""

    modalities: tuple[ModalitySpec, ...] = ()
    prices: tuple[Price, ...] = ()
    capacities: tuple[Capacity, ...] = ()
    # Prices that start after the moment the offering was read, by start (``catalog.schedule``).
    scheduled: tuple[Price, ...] = field(default=(), compare=False)

    def __post_init__(self):
        object.__setattr__(
            self,
            "modalities",
            tuple(sorted(self.modalities, key=lambda m: (_scope_order(m.scope), m.position))),
        )
        object.__setattr__(self, "prices", tuple(sorted(self.prices, key=_price_order)))
        object.__setattr__(self, "capacities", tuple(sorted(self.capacities, key=_capacity_order)))

    # --- reading ---------------------------------------------------------------------------
    def kinds(self, direction: str) -> list[str]:
        return [m.kind for m in self.modalities if m.direction == direction]

    def modality(self, direction: str, kind: str) -> ModalitySpec | None:
        for spec in self.modalities:
            if spec.direction == direction and spec.kind == kind:
                return spec
        return None

    def price(self, scope: Scope, price_type: str, unit: str) -> Price | None:
        """The base entry of a type and unit: no window, no lifetime variant preferred.

        For cache prices with several lifetimes, the entry without ``ttl_seconds`` wins, else
        the shortest lifetime (the rule the flat rendering follows; docs/ARCHITECTURE.md).
        """
        return min(
            (
                p
                for p in self.prices
                if p.scope == scope
                and p.price_type == price_type
                and p.unit == unit
                and not p.windowed
            ),
            key=base_price_order,
            default=None,
        )

    def capacity(self, scope: Scope, capacity_type: str, unit: str, per: str | None):
        for entry in self.capacities:
            if entry.identity == (scope, capacity_type, unit, per):
                return entry
        return None

    # --- JSON (history snapshots) -------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        """The snapshot a history record keeps; ``catalog_offering_snapshot()`` writes the same."""
        return {
            "modalities": [
                {
                    "direction": m.direction,
                    "kind": m.kind,
                    "position": m.position,
                    "supported_inputs": m.supported_inputs,
                    "supported_parameters": m.supported_parameters,
                    "passthrough_parameters": m.passthrough_parameters,
                    "streaming": m.streaming,
                }
                for m in self.modalities
            ],
            "prices": [
                {
                    "direction": p.scope[0],
                    "kind": p.scope[1],
                    "price_type": p.price_type,
                    "unit": p.unit,
                    "cost_usd": str(p.cost_usd),
                    "ttl_seconds": p.ttl_seconds,
                    "implicit": p.implicit,
                    "utc_start": p.utc_start,
                    "utc_end": p.utc_end,
                    "overrides": list(p.overrides),
                    # Only when set, as catalog_offering_snapshot() writes it (migration 0016).
                    **({} if p.utc_days is None else {"utc_days": p.utc_days}),
                    **_validity_json(p),
                }
                for p in (*self.prices, *self.scheduled)
            ],
            "capacities": [
                {
                    "direction": c.scope[0],
                    "kind": c.scope[1],
                    "capacity_type": c.capacity_type,
                    "unit": c.unit,
                    "per": c.per,
                    "value": c.value,
                }
                for c in self.capacities
            ],
        }

    @classmethod
    def from_json(cls, data: dict | None, at: datetime | None = None) -> Offering:
        """The offering a snapshot describes, with the prices in force at ``at`` (default: now)
        and those that start after it."""
        data = data or {}
        return cls.splitting_prices(
            at,
            modalities=tuple(
                ModalitySpec(
                    direction=m["direction"],
                    kind=m["kind"],
                    position=m.get("position", 0),
                    supported_inputs=m.get("supported_inputs") or {},
                    supported_parameters=m.get("supported_parameters") or {},
                    passthrough_parameters=m.get("passthrough_parameters") or {},
                    streaming=m.get("streaming"),
                )
                for m in data.get("modalities", ())
            ),
            prices=tuple(
                Price(
                    scope=(p["direction"], p["kind"]),
                    price_type=p["price_type"],
                    unit=p["unit"],
                    cost_usd=Decimal(p["cost_usd"]),
                    ttl_seconds=p.get("ttl_seconds"),
                    implicit=p.get("implicit"),
                    utc_start=p.get("utc_start"),
                    utc_end=p.get("utc_end"),
                    overrides=tuple(p.get("overrides") or ()),
                    utc_days=p.get("utc_days"),
                    valid_from=_moment(p.get("valid_from")),
                    valid_until=_moment(p.get("valid_until")),
                )
                for p in data.get("prices", ())
            ),
            capacities=tuple(
                Capacity(
                    scope=(c["direction"], c["kind"]),
                    capacity_type=c["capacity_type"],
                    unit=c["unit"],
                    per=c.get("per"),
                    value=c["value"],
                )
                for c in data.get("capacities", ())
            ),
        )

    # --- rows -------------------------------------------------------------------------------
    @classmethod
    def of_rows(cls, model: ServedModel) -> Offering:
        """The offering of a saved model, from its prefetched rows (or three queries)."""
        modalities = list(model.modalities.all())
        scope_of = {m.pk: (m.direction, m.kind) for m in modalities}
        return cls.splitting_prices(
            None,
            modalities=tuple(
                ModalitySpec(
                    direction=m.direction,
                    kind=m.kind,
                    position=m.position,
                    supported_inputs=m.supported_inputs,
                    supported_parameters=m.supported_parameters,
                    passthrough_parameters=m.passthrough_parameters,
                    streaming=m.streaming,
                )
                for m in modalities
            ),
            prices=tuple(
                Price.of_row(p, scope_of.get(p.modality_id, ROOT)) for p in model.prices.all()
            ),
            capacities=tuple(
                Capacity(
                    scope=scope_of.get(c.modality_id, ROOT),
                    capacity_type=c.capacity_type,
                    unit=c.unit,
                    per=c.per,
                    value=c.value,
                )
                for c in model.capacities.all()
            ),
        )

    def replacing(self, **changes) -> Offering:
        return replace(self, **changes)

    @classmethod
    def splitting_prices(
        cls,
        at: datetime | None,
        modalities: tuple[ModalitySpec, ...],
        prices: tuple[Price, ...],
        capacities: tuple[Capacity, ...],
    ) -> Offering:
        """An offering of ``prices`` in force at ``at`` (default: now), those starting later
        kept as ``scheduled``; prices that have ended are dropped."""
        at = at or timezone.now()
        return cls(
            modalities=modalities,
            prices=tuple(p for p in prices if p.in_force_at(at)),
            capacities=capacities,
            scheduled=tuple(
                sorted(
                    (p for p in prices if p.valid_from is not None and p.valid_from > at),
                    key=lambda p: (p.valid_from, _price_order(p)),
                )
            ),
        )


def _validity_json(price: Price) -> dict[str, str]:
    # Only when set: a snapshot without scheduled prices is what it was before they existed.
    return {
        name: moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, moment in (("valid_from", price.valid_from), ("valid_until", price.valid_until))
        if moment is not None
    }


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# The offering of each model as ``Offering.as_json()`` spells it, computed in the database by
# ``catalog_offering_snapshot()`` (migration 0010), the function history records are written with.
OFFERING_SNAPSHOT = "offering_snapshot"


def with_offering(models: QuerySet[ServedModel]) -> QuerySet[ServedModel]:
    """``models`` with their offerings, in the same query as the models themselves.

    A column per model (its offering as JSON) rather than three prefetch queries: reading a
    catalog stays as many queries as before the offering had rows of its own.
    """
    return models.annotate(
        **{
            OFFERING_SNAPSHOT: Func(
                F("pk"),
                Value(timezone.now(), output_field=DateTimeField()),
                function="catalog_offering_snapshot",
                output_field=JSONField(),
            )
        }
    )


# --- writing -----------------------------------------------------------------------------------
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
    if isinstance(value, datetime):  # a price's valid_from/valid_until (catalog.schedule)
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _insert(rows: Sequence[Model], *, match: tuple[str, ...] = ()) -> None:
    """Insert ``rows`` (new instances of one model) in one statement, their values as one JSON
    document that PostgreSQL takes apart (``jsonb_to_recordset``).

    What ``bulk_create`` would write, for a fraction of its cost: it adapts every value of every
    row in Python (10,000 models, ~55,000 rows: ~2 s of a 7 s import). With ``match``, the
    fields that identify a row among these, each row gets its ``pk`` (matched, not by order).
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


def write_offerings(
    models: Sequence[ServedModel],
    *,
    batch_size: int | None = None,
    created: bool = False,
    stored: Mapping[int, Offering] | None = None,
) -> None:
    """Make the saved rows of each (saved) model match its ``offering``.

    Reads the current rows of the models, then deletes, updates and inserts only what differs,
    in bulk: writing an unchanged offering executes no write. Each insert is one statement
    (callers pass a batch of models; a model has a bounded number of rows). Call inside a
    transaction. ``created``: the models were just inserted, so they have no rows to read.
    ``stored``: the offerings the caller read (by model pk), which spares the reads of the
    tables in which no model differs: an import that changes prices reads only the prices.
    """
    if not models:
        return
    by_pk = {model.pk: model for model in models}
    if stored is not None:
        by_pk = {pk: model for pk, model in by_pk.items() if model.offering != stored.get(pk)}
        if not by_pk:
            return
    scope = [] if created else list(by_pk)

    def differ(part: str) -> bool:
        if created or stored is None:
            return True
        return any(
            getattr(model.offering, part) != getattr(stored.get(pk, Offering()), part)
            for pk, model in by_pk.items()
        )

    def inserts_under_modalities() -> bool:
        # A new price or capacity row of a modality needs that modality's pk.
        if created or stored is None:
            return True
        for pk, model in by_pk.items():
            old = stored.get(pk, Offering())
            old_identities = {p.identity for p in old.prices} | {c.identity for c in old.capacities}
            if any(
                entry.scope != ROOT and entry.identity not in old_identities
                for entry in (*model.offering.prices, *model.offering.capacities)
            ):
                return True
        return False

    read_modalities = differ("modalities") or inserts_under_modalities()
    read_prices = differ("prices") or differ("modalities")
    read_capacities = differ("capacities") or differ("modalities")
    stored_modalities: defaultdict[int, dict] = defaultdict(dict)
    if read_modalities and scope:
        for row in Modality.objects.filter(model_id__in=scope).order_by():
            stored_modalities[row.model_id][(row.direction, row.kind)] = row
    # The rows in force now, and the starts of scheduled ones: a price added now under the
    # identity of a scheduled one lasts until that one starts.
    now = timezone.now()
    stored_prices = defaultdict(list)
    next_start: dict[tuple[int, tuple], datetime] = {}
    if read_prices and scope:
        for row in (
            PriceEntry.objects.filter(model_id__in=scope)
            .exclude(valid_until__lte=now)
            .annotate(**_SCOPE)
            .order_by()
        ):
            if row.valid_from is None or row.valid_from <= now:
                stored_prices[row.model_id].append(row)
            else:
                key = (row.model_id, _row_identity(row))
                next_start[key] = min(row.valid_from, next_start.get(key, row.valid_from))
    stored_capacities = defaultdict(list)
    if read_capacities and scope:
        for row in CapacityEntry.objects.filter(model_id__in=scope).annotate(**_SCOPE).order_by():
            stored_capacities[row.model_id].append(row)

    # Modalities first: prices and capacities point at them.
    modality_deletes, modality_creates, modality_updates = [], [], []
    for pk, model in by_pk.items() if read_modalities else ():
        wanted = {spec.scope: spec for spec in model.offering.modalities}
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
        _insert(modality_creates, match=("model_id", "direction", "kind"))
    if modality_updates:
        Modality.objects.bulk_update(modality_updates, _MODALITY_FIELDS, batch_size=batch_size)
    deleted = set(modality_deletes)

    def modality_pk(pk: int, scope) -> int | None:
        return None if scope == ROOT else stored_modalities[pk][scope].pk

    price_deletes, price_creates, price_updates = [], [], []
    for pk, model in by_pk.items() if read_prices else ():
        rows = {}
        for row in stored_prices[pk]:
            if row.modality_id in deleted:
                continue
            rows[_row_identity(row)] = row
        wanted_prices = {price.identity: price for price in model.offering.prices}
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
                        price_type=price.price_type,
                        unit=price.unit,
                        ttl_seconds=price.ttl_seconds,
                        implicit=price.implicit,
                        utc_start=price.utc_start,
                        utc_end=price.utc_end,
                        utc_days=price.utc_days,
                        valid_until=next_start.get((pk, identity)),
                        **values,
                    )
                )
            elif _differs(row, values):
                for name, value in values.items():
                    setattr(row, name, value)
                price_updates.append(row)
    capacity_deletes, capacity_creates, capacity_updates = [], [], []
    for pk, model in by_pk.items() if read_capacities else ():
        capacity_rows = {
            ((row.scope_direction, row.scope_kind), row.capacity_type, row.unit, row.per): row
            for row in stored_capacities[pk]
            if row.modality_id not in deleted
        }
        wanted_capacities = {entry.identity: entry for entry in model.offering.capacities}
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
        _insert(price_creates)
    if price_updates:
        PriceEntry.objects.bulk_update(
            price_updates, ["cost_usd", "overrides"], batch_size=batch_size
        )
    if capacity_creates:
        _insert(capacity_creates)
    if capacity_updates:
        CapacityEntry.objects.bulk_update(capacity_updates, ["value"], batch_size=batch_size)
