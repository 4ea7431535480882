"""A served model's modalities, prices and capacities as one plain structure: its offering.

The rows (``Modality``, ``PriceEntry``, ``CapacityEntry``) are how the catalog stores it;
``Offering`` is how everything else reads and writes it: the flat encoder and decoder, the
history (a record keeps ``Offering.as_json()``), the admin, and, with issue 14, the typed
format. Loading costs no query of its own: a column of the models' query (``with_offering``);
writing many models at once is a few bulk statements (``write_offerings``), which touch only
the rows that differ, so a price row keeps its identity while it lives.

Prices have a validity in time (``PriceEntry.valid_from``/``valid_until``, written by
``catalog.actions.schedule``): an ``Offering`` holds the prices in force at the moment it was read
(``prices``) and, apart, the ones scheduled to start later (``scheduled``), which ``==`` leaves
out: two offerings are equal when what they offer now is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import DateTimeField, F, Func, JSONField, QuerySet, Value
from django.utils import timezone

from catalog.choices import Direction, InputModality, OutputModality, _positions
from catalog.models import PriceEntry, ServedModel

# (direction, kind) of a modality; (None, None) is the request scope, the model's root.
Scope = tuple[str | None, str | None]
ROOT: Scope = (None, None)


def _scope_order(scope: Scope) -> tuple:
    direction, kind = scope
    if direction is None:
        return (2, 0)
    choices = InputModality if direction == Direction.INPUT else OutputModality
    return (0 if direction == Direction.INPUT else 1, _positions(choices).get(kind or "", 99), kind)


def in_force(valid_from: datetime | None, valid_until: datetime | None, moment: datetime) -> bool:
    """Whether a price row with this validity is in force at ``moment`` (None: open at that
    end): the one definition. SQL mirrors it for speed (``PriceEntry.in_force_at``, and
    ``catalog_offering_snapshot()``, migration 0012); tests/test_offering_rules.py holds them
    to it."""
    return (valid_from is None or valid_from <= moment) and (
        valid_until is None or moment < valid_until
    )


def next_start(starts: Iterable[datetime | None], after: datetime) -> datetime | None:
    """The first of ``starts`` (``valid_from`` of rows of one price identity) after ``after``:
    where a price written now, or resumed, must end, so that two rows of one identity are
    never in force at once."""
    return min((start for start in starts if start is not None and start > after), default=None)


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
        return in_force(self.valid_from, self.valid_until, moment)


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


def price_order(price: Price) -> tuple:
    """The canonical order of an offering's prices (``Offering.prices``, a history record's)."""
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
    # Prices that start after the moment the offering was read, by start (scheduled changes).
    scheduled: tuple[Price, ...] = field(default=(), compare=False)

    def __post_init__(self):
        object.__setattr__(
            self,
            "modalities",
            tuple(sorted(self.modalities, key=lambda m: (_scope_order(m.scope), m.position))),
        )
        object.__setattr__(self, "prices", tuple(sorted(self.prices, key=price_order)))
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
            prices=tuple(price_from_json(p) for p in data.get("prices", ())),
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
                    key=lambda p: (p.valid_from, price_order(p)),
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


def price_from_json(p: dict[str, Any]) -> Price:
    """One price of an offering snapshot (``Offering.as_json``), its validity included."""
    return Price(
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


def stored_offering(model: ServedModel) -> Offering:
    """A model's offering as saved: from ``with_offering()``'s column when its query had it,
    else from its rows (three queries); an unsaved model's is empty."""
    snapshot = getattr(model, OFFERING_SNAPSHOT, None)
    if snapshot is not None:
        return Offering.from_json(snapshot)
    return Offering() if model.pk is None else Offering.of_rows(model)
