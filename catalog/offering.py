"""A served model's modalities, prices and capacities as one plain structure: its offering.

The rows (``Modality``, ``PriceEntry``, ``CapacityEntry``) are how the catalog stores it;
``Offering`` is how everything else reads and writes it: both formats' encoders and decoders,
the history (a record keeps ``Offering.as_json()``) and the admin. Loading costs no query of
its own: a column of the models' query (``with_offering``); the write path
(``catalog.actions.rows.write_offerings``) touches only the rows that differ, so a price row
keeps its identity while it lives.

Prices have a validity in time (``PriceEntry.valid_from``/``valid_until``, written by
``catalog.actions.schedule``): an ``Offering`` holds the prices in force at the moment it was read
(``prices``) and, apart, the ones scheduled to start later (``scheduled``), which ``==`` leaves
out: two offerings are equal when what they offer now is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, F, Func, JSONField, QuerySet, Value
from django.utils import timezone

from catalog.choices import (
    CACHE_TYPES,
    INPUT_TYPES,
    INPUT_UNITS,
    OUTPUT_TYPES,
    OUTPUT_UNITS,
    REQUEST_UNITS,
    CapacityType,
    Direction,
    InputModality,
    OutputModality,
    PriceUnit,
    positions,
)
from catalog.models import Modality, PriceEntry, ServedModel

# (direction, kind) of a modality; (None, None) is the request scope, the model's root.
Scope = tuple[str | None, str | None]
ROOT: Scope = (None, None)


def _scope_order(scope: Scope) -> tuple:
    direction, kind = scope
    if direction is None:
        return (2, 0)
    choices = InputModality if direction == Direction.INPUT else OutputModality
    return (0 if direction == Direction.INPUT else 1, positions(choices).get(kind or "", 99), kind)


def in_force(valid_from: datetime | None, valid_until: datetime | None, moment: datetime) -> bool:
    """Whether a price row with this validity is in force at ``moment`` (None: open at that
    end): the one definition. SQL mirrors it for speed (``PriceEntry.in_force_at``, and
    ``catalog_offering_snapshot()``, migration 0012); tests/test_offering_rules.py holds them
    to it."""
    return (valid_from is None or valid_from <= moment) and (
        valid_until is None or moment < valid_until
    )


# Every weekday's bit (Monday 1 ... Sunday 64): the whole week, which is no limit at all.
EVERY_DAY_BITS = 127


def weekday_set(bits: int | None) -> int | None:
    """The weekdays of a price as its identity holds them: the whole week is every day (None),
    so that a price on all seven days and one without weekdays are one price."""
    return None if bits == EVERY_DAY_BITS else bits


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

    @classmethod
    def of_row(cls, row: Modality) -> ModalitySpec:
        return cls(
            direction=row.direction,
            kind=row.kind,
            position=row.position,
            supported_inputs=row.supported_inputs,
            supported_parameters=row.supported_parameters,
            passthrough_parameters=row.passthrough_parameters,
            streaming=row.streaming,
        )

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

    def __post_init__(self):
        if self.utc_days == EVERY_DAY_BITS:
            object.__setattr__(self, "utc_days", weekday_set(self.utc_days))

    @property
    def identity(self) -> tuple:
        # The unit too: a flat catalog may price images on a model without an image input,
        # which is stored as the text input's prompt per image (docs/architecture/formats.md).
        return (self.scope, self.price_type, self.unit, self.ttl_seconds, self.implicit,
                self.utc_start, self.utc_end, self.utc_days)  # fmt: skip

    def identity_columns(self) -> dict[str, Any]:
        """The identity's ``PriceEntry`` columns but the scope (its modality)."""
        return {"price_type": self.price_type, "unit": self.unit,
                "ttl_seconds": self.ttl_seconds, "implicit": self.implicit,
                "utc_start": self.utc_start, "utc_end": self.utc_end,
                "utc_days": self.utc_days}  # fmt: skip

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
        the shortest lifetime (the rule the flat rendering follows; docs/architecture/formats.md).
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

    def problems(self) -> list[OfferingProblem]:
        """Whether the offering is valid: empty if it is (``offering_problems``)."""
        return offering_problems(self)

    # --- JSON (history snapshots) -------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        """The snapshot a history record keeps, as ``catalog_offering_snapshot()`` writes it in
        SQL (which spells costs as plain decimals): tests/test_offering_rules.py holds them so."""
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
            modalities=tuple(map(ModalitySpec.of_row, modalities)),
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
        valid_from=iso_moment(p.get("valid_from")),
        valid_until=iso_moment(p.get("valid_until")),
    )


@lru_cache(maxsize=1024)
def iso_moment(text: str | None) -> datetime | None:
    """A snapshot's moment (``valid_from``, ``valid_until``): few distinct, read again and
    again by lookups and snapshots, so each is parsed once per process."""
    return None if text is None else datetime.fromisoformat(text)


# The offering of each model as ``Offering.as_json()`` spells it, computed in the database by
# ``catalog_offering_snapshot()`` (migration 0010, redefined by 0012 and 0016), the function
# history records are written with.
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


def offering_snapshot(model_pk: int, moment: datetime) -> dict[str, Any]:
    """One model's snapshot at ``moment`` by the same function, in one query (a deleted
    model's is empty)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_offering_snapshot(%s, %s)", [model_pk, moment])
        (snapshot,) = cursor.fetchone()
    return json.loads(snapshot)  # Django has psycopg leave JSON as text


def stored_offering(model: ServedModel) -> Offering:
    """A model's offering as saved: from ``with_offering()``'s column when its query had it,
    else from its rows (three queries); an unsaved model's is empty."""
    snapshot = getattr(model, OFFERING_SNAPSHOT, None)
    if snapshot is not None:
        return Offering.from_json(snapshot)
    return Offering() if model.pk is None else Offering.of_rows(model)


# --- The offering's rules: whether it is valid, and what the typed format cannot say ---------
# One place answers both (issue 19): the admin's forms, both decoders and the write path ask
# ``Offering.problems()`` and word each problem in their own terms (a form field, a JSON path).

Entry = Price | Capacity


@dataclass(frozen=True)
class OfferingProblem:
    """What is wrong with one entry of an offering: ``entry`` (the very object, so that a caller
    finds its row or its place in a file by ``id``), the field to blame (a row's field name;
    None: the entry as a whole), a ``code`` callers word by, and a message in staff's terms."""

    entry: Entry
    field: str | None
    code: str
    message: str
    # The other entry a problem names (a second unit, a duplicate).
    other: Entry | None = None

    def __str__(self) -> str:
        return f"{describe_entry(self.entry)}: {self.message}"


class InvalidOffering(ValueError):
    """An offering that breaks its rules reached the write path: nothing was written."""

    def __init__(self, model_id: str, problems: list[OfferingProblem]):
        self.model_id = model_id
        self.problems = problems
        super().__init__(
            f"The offering of {model_id} is not valid: " + "; ".join(map(str, problems))
        )


# The request scope (no modality) by name: as staff pick it, and in the price API.
ROOT_SCOPE = "request"


def scope_text(scope: Scope) -> str:
    """A scope as staff pick it: "input text", "output image", ``ROOT_SCOPE`` for the root."""
    return ROOT_SCOPE if scope == ROOT else f"{scope[0]} {scope[1]}"


def describe_entry(entry: Entry | ModalitySpec) -> str:
    scope = scope_text(entry.scope)
    if isinstance(entry, ModalitySpec):
        return scope
    if isinstance(entry, Price):
        return f"{scope} {entry.price_type} per {entry.unit}"
    return f"{scope} {entry.capacity_type} capacity per {entry.unit}"


def _scope_fit(entry: Entry) -> list[tuple[str, str]]:
    """(field, message) when the entry's type and unit do not fit its scope."""
    capacity = isinstance(entry, Capacity)
    kind = entry.capacity_type if capacity else entry.price_type  # type: ignore[union-attr]
    type_field = "capacity_type" if capacity else "price_type"
    if capacity and kind == CapacityType.CONCURRENCY:
        return [] if entry.unit == "request" else [("unit", "Concurrency is counted in requests.")]
    direction = entry.scope[0]
    if direction is None:
        if kind not in REQUEST_UNITS:
            return [(type_field, "The request scope has only request and web_search entries.")]
        if REQUEST_UNITS[kind] != entry.unit:
            return [("unit", f"A {kind} entry of the request is per {REQUEST_UNITS[kind]}.")]
        return []
    types, units = (
        (INPUT_TYPES, INPUT_UNITS) if direction == Direction.INPUT else (OUTPUT_TYPES, OUTPUT_UNITS)
    )
    if kind not in types:
        return [(type_field, f"An {direction} modality has {', '.join(types)} entries.")]
    if entry.unit not in units:
        return [("unit", f"An {direction} modality is priced per {', '.join(units)}.")]
    return []


# The largest integer the typed format takes (the official schema's "maximum": JSON numbers
# are doubles); a capacity's column holds up to 2^63 - 1.
TYPED_MAX_INTEGER = 2**53 - 1


def _hhmm_wrong(value: int) -> bool:
    return not 0 <= value <= 2359 or value % 100 >= 60


def entry_problems(entry: Entry) -> list[OfferingProblem]:
    """The rules of one entry on its own: its type and unit in its scope, cache qualifiers,
    a window's ends, weekdays; a capacity's window and value."""
    problems = [
        OfferingProblem(entry, name, "scope", message) for name, message in _scope_fit(entry)
    ]
    if isinstance(entry, Capacity):
        if entry.capacity_type == CapacityType.CONCURRENCY and entry.per:
            problems.append(OfferingProblem(entry, "per", "window", "Concurrency has no window."))
        elif entry.capacity_type != CapacityType.CONCURRENCY and not entry.per:
            problems.append(
                OfferingProblem(entry, "per", "required_window", "Per minute, hour or day.")
            )
        if not 1 <= entry.value <= TYPED_MAX_INTEGER:
            message = (
                f"A whole number from 1 to {TYPED_MAX_INTEGER} (2^53 - 1), the most the typed "
                "format takes."
            )
            problems.append(OfferingProblem(entry, "value", "value", message))
        return problems
    for name in ("ttl_seconds", "implicit"):
        if getattr(entry, name) is not None and entry.price_type not in CACHE_TYPES:
            message = "Only cache prices have this."
            problems.append(OfferingProblem(entry, name, "not_cache", message))
    if entry.ttl_seconds is not None and entry.ttl_seconds < 1:
        problems.append(OfferingProblem(entry, "ttl_seconds", "min_value", "At least 1 second."))
    start, end = entry.utc_start, entry.utc_end
    for name, value in (("utc_start", start), ("utc_end", end)):
        if value is not None and _hhmm_wrong(value):
            message = "A UTC clock time written HHMM, 0 to 2359 (2200 is 22:00)."
            problems.append(OfferingProblem(entry, name, "hhmm", message))
    if (start is None) != (end is None):
        message = "A window needs both its start and its end."
        missing = "utc_end" if end is None else "utc_start"
        problems.append(OfferingProblem(entry, missing, "half_window", message))
    elif start is not None and start == end:
        message = "The window must end when it does not start."
        problems.append(OfferingProblem(entry, "utc_end", "empty_window", message))
    if entry.utc_days is not None and not 1 <= entry.utc_days < EVERY_DAY_BITS:
        message = "Weekdays are bits 1 (Monday) to 64 (Sunday), at least one."
        problems.append(OfferingProblem(entry, "utc_days", "weekdays", message))
    return problems


def flat_prompt_in_two_units(offering: Offering, prices: list[Price]) -> bool:
    """Whether ``prices`` (one typed identity) are a flat file's prompt price per token and per
    image held on one input: a flat record prices both whatever its inputs, and a model
    without a text or an image input keeps them side by side (docs/architecture/formats.md, "The
    flat mapping's judgment calls"), which the typed format cannot say (``typed_omissions``)."""
    inputs = offering.kinds(Direction.INPUT)
    return (
        prices[0].price_type == "prompt"
        and prices[0].scope[0] == Direction.INPUT
        and {price.unit for price in prices} == {PriceUnit.TOKEN, PriceUnit.IMAGE}
        and not ("text" in inputs and "image" in inputs)
    )


def _second_units(offering: Offering) -> dict[tuple, list[Price]]:
    """The typed identities held in more than one unit, with their prices."""
    by_identity: dict[tuple, list[Price]] = {}
    for price in offering.prices:
        by_identity.setdefault(price.typed_identity, []).append(price)
    return {
        identity: prices
        for identity, prices in by_identity.items()
        if len({price.unit for price in prices}) > 1
    }


def offering_problems(offering: Offering) -> list[OfferingProblem]:
    """Whether the offering is valid: each entry's own rules (``entry_problems``), each scope
    among its modalities, each identity once, and one unit per typed identity (type and
    qualifiers in a modality), but for a flat file's prompt per token and per image on one input
    (kept so that flat files round-trip; ``typed_omissions`` names it)."""
    scopes = {spec.scope for spec in offering.modalities} | {ROOT}
    problems: list[OfferingProblem] = []
    seen: dict[tuple, Entry] = {}
    entries: list[Entry] = [*offering.prices, *offering.capacities]
    for entry in entries:
        problems += entry_problems(entry)
        if entry.scope not in scopes:
            message = f"The model has no {scope_text(entry.scope)} modality."
            problems.append(OfferingProblem(entry, "scope", "unknown_scope", message))
        key = (type(entry), entry.identity)
        if key in seen:
            message = "Another row has the same scope, type, unit and qualifiers."
            problems.append(OfferingProblem(entry, None, "duplicate", message, seen[key]))
        else:
            seen[key] = entry
    for prices in _second_units(offering).values():
        if flat_prompt_in_two_units(offering, prices):
            continue
        for price in prices:
            other = next(p for p in prices if p.unit != price.unit)
            message = (
                f"The model already has this price per {other.unit}: a price type takes one "
                "unit in a modality."
            )
            problems.append(OfferingProblem(price, "unit", "second_unit", message, other))
    return problems


# The unit a modality's price keeps where the catalog holds one typed identity in two units:
# an image input's own unit is the image, any other's the token.
_OWN_UNIT = {"image": PriceUnit.IMAGE}
# The outputs whose schema variant has no ``streaming``. Not refused: the admin has always let
# staff set it, and a flat re-import keeps what is stored.
_WITHOUT_STREAMING = frozenset({OutputModality.EMBEDDINGS, OutputModality.RERANK})


@dataclass(frozen=True)
class Omission:
    """An entry the typed format cannot say, or a modality's ``field`` it cannot say, and why:
    the typed rendering leaves it out."""

    entry: Entry | ModalitySpec
    reason: str
    field: str | None = None  # None: the entry as a whole

    @property
    def subject(self) -> str:
        """What is left out, in staff's terms: "output embeddings streaming"."""
        described = describe_entry(self.entry)
        return described if self.field is None else f"{described} {self.field}"

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


def typed_omissions(offering: Offering) -> list[Omission]:
    """What of a valid offering the typed format (schema_version 2.4) cannot say, which its
    rendering leaves out: a time window or weekdays on a request-scoped price, concurrency on
    an input, the second unit of a typed identity (``flat_prompt_in_two_units``: the
    modality's own unit is said, docs/architecture/formats.md), and streaming on an
    embeddings or rerank output."""
    omissions = [
        Omission(price, "the request scope has no time windows or weekdays in the typed format.")
        for price in offering.prices
        if price.scope == ROOT and price.windowed
    ]
    omissions += [
        Omission(capacity, "an input has no concurrency in the typed format.")
        for capacity in offering.capacities
        if capacity.scope[0] == Direction.INPUT
        and capacity.capacity_type == CapacityType.CONCURRENCY
    ]
    units = positions(PriceUnit)
    kept: dict[tuple[Scope, str], str] = {}
    for scope, price_type, *_ in _second_units(offering):
        if (scope, price_type) not in kept:
            present = {
                p.unit for p in offering.prices if (p.scope, p.price_type) == (scope, price_type)
            }
            own = _OWN_UNIT.get(scope[1] or "", PriceUnit.TOKEN)
            kept[scope, price_type] = (
                own if own in present else min(present, key=lambda u: units.get(u, 99))
            )
    omissions += [
        Omission(
            price,
            f"the typed format has one {price.price_type} price per modality and qualifiers; "
            f"it says the one per {kept[price.scope, price.price_type]}.",
        )
        for price in offering.prices
        if kept.get((price.scope, price.price_type), price.unit) != price.unit
        and not (price.scope == ROOT and price.windowed)
    ]
    omissions += [
        Omission(spec, f"{spec.kind} outputs have no streaming in the typed format.", "streaming")
        for spec in offering.modalities
        if spec.direction == Direction.OUTPUT
        and spec.kind in _WITHOUT_STREAMING
        and spec.streaming is not None
    ]
    return omissions
