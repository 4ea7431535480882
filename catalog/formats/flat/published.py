"""The published catalog in the flat format: what the endpoint serves without
``schema_version`` and ``export_models`` writes, now (``published_catalog``) and as it was at a
past moment (``catalog_as_of``); and the flat fields of stored models read as plain rows
(``stored_flat_fields``, which the importer compares with)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db.models import (
    Case,
    CharField,
    F,
    FilteredRelation,
    Func,
    JSONField,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
)

from catalog.choices import Direction
from catalog.formats.flat.encode import WireRecord, render, wire_record
from catalog.formats.flat.offering import (
    CAPACITY_TPM,
    PRICE_SOURCES,
    Conditional,
    FlatFields,
    flat_fields,
    flat_window,
    offering_flat_fields,
)
from catalog.formats.published import (
    PRICE_ROW_COLUMNS,
    Published,
    in_snapshot,
    prices_in_force,
    records_as_of,
    state_of,
)
from catalog.models import HistoricalDatacenterLink, Modality, ServedModel
from catalog.offering import ROOT, Scope, base_price_order


def published_records(at: datetime | None = None) -> list[WireRecord]:
    """Every published model's record with the prices in force at ``at`` (default: now), in
    three queries whatever the catalog's size: the models with their datacenter codes, and
    their flat fields (``stored_flat_fields``).
    """
    codes = ServedModel.datacenters.through.objects.filter(servedmodel_id=OuterRef("pk")).values(
        "datacenter__country_code"
    )
    models = list(
        ServedModel.objects.filter(is_published=True)
        .only(*RECORD_FIELDS)
        .annotate(datacenter_codes=ArraySubquery(codes))
    )
    flat = stored_flat_fields(Q(model__is_published=True), [model.pk for model in models], at)
    return [wire_record(model, model.datacenter_codes, flat[model.pk]) for model in models]


def stored_flat_fields(
    rows: Q, pks: Iterable[int], at: datetime | None = None
) -> dict[int, FlatFields]:
    """The flat fields of the models ``pks``, by pk, in two queries whatever their number: their
    modalities (an input's ``capacity_tpm`` with it) and their prices that a flat record can
    show, in force at ``at`` (default: now), the rows that ``rows`` selects (a filter on the
    models, by ``model__`` lookups, holding at least ``pks``).

    The offering's rows are read as plain tuples and joined here by model, straight into the
    flat fields (``flat_fields``): no ``Offering`` per model, no JSON to build or decode
    (docs/PERFORMANCE.md). Overrides are read only where a row has some, and windows and
    capacities are looked at only for the models that have them.
    """
    inputs: defaultdict[int, list[str]] = defaultdict(list)
    outputs: defaultdict[int, list[str]] = defaultdict(list)
    names: defaultdict[int, set[str]] = defaultdict(set)
    capacities: defaultdict[int, dict[Scope, int]] = defaultdict(dict)
    scope_of: dict[int, Scope] = {}
    for pk, model_pk, direction, kind, parameters, capacity in (
        Modality.objects.filter(rows)
        .annotate(tpm=_capacity_tpm())
        .order_by()
        .values_list("pk", "model_id", "direction", "kind", _OUTPUT_PARAMETER_NAMES, "tpm__value")
    ):
        scope_of[pk] = (direction, kind)
        if direction == Direction.INPUT:
            inputs[model_pk].append(kind)
            if capacity is not None:
                capacities[model_pk][direction, kind] = capacity
        else:
            outputs[model_pk].append(kind)
            names[model_pk].update(parameters)
    # model pk -> (scope, type, unit) -> the base entry, and the flat windows' costs there.
    base: defaultdict[int, dict[tuple, _PriceRow]] = defaultdict(dict)
    windows: defaultdict[int, defaultdict[tuple, dict[tuple[int, int], Decimal]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    conditional_models = set()
    for row in (
        prices_in_force(rows, at)
        .filter(price_type__in=_FLAT_PRICE_TYPES)
        .values_list(*PRICE_ROW_COLUMNS, _OVERRIDES_IF_ANY)
    ):
        entry = _PriceRow(*row)
        key = (scope_of.get(entry.modality_id, ROOT) if entry.modality_id else ROOT,
               entry.price_type, entry.unit)  # fmt: skip
        if entry.utc_start is not None or entry.utc_days is not None:
            # Never a base price; a flat window or, limited to weekdays, the typed format's only.
            if flat_window(entry):
                windows[entry.model_id][key][entry.utc_start, entry.utc_end] = entry.cost_usd  # type: ignore[index]  # a window has both ends
                conditional_models.add(entry.model_id)
            continue
        if entry.overrides:
            conditional_models.add(entry.model_id)
        held = base[entry.model_id].get(key)
        if held is None or base_price_order(entry) < base_price_order(held):
            base[entry.model_id][key] = entry
    flat = {}
    for pk in pks:
        prices = base.get(pk, {})

        def price_of(scope: Scope, price_type: str, unit: str, prices=prices) -> Decimal | None:
            entry = prices.get((scope, price_type, unit))
            return entry.cost_usd if entry is not None else None

        def conditional(
            scope: Scope, price_type: str, unit: str, prices=prices, pk=pk
        ) -> Conditional:
            entry = prices.get((scope, price_type, unit))
            overrides = _decoded(entry.overrides) if entry is not None and entry.overrides else ()
            return overrides, windows[pk].get((scope, price_type, unit), {})

        flat[pk] = flat_fields(
            inputs[pk],
            outputs[pk],
            names[pk],
            price_of,
            conditional if pk in conditional_models else None,
            capacities[pk].get if pk in capacities else None,
        )
    return flat


# The columns a flat record shows (``wire_record``): the others (JSON among them) are not loaded.
RECORD_FIELDS = (
    "model_id",
    "hugging_face_id",
    "name",
    "created",
    "quantization",
    "context_length",
    "max_output_length",
    "deprecation_date",
    "deprecation_hour",
    "description",
    "is_ready",
    "is_free",
    "discount_to_user",
    "openrouter_slug",
)


def _capacity_tpm() -> FilteredRelation:
    """A modality's capacity that ``capacity_tpm`` counts, as a join, not a subquery per row;
    the identity constraint allows at most one. A new one per query: a query names (mutates)
    its own."""
    return FilteredRelation(
        "capacities",
        condition=Q(
            capacities__capacity_type=CAPACITY_TPM[0],
            capacities__unit=CAPACITY_TPM[1],
            capacities__per=CAPACITY_TPM[2],
        ),
    )


# Only the names of an output modality's parameters show in a flat record: reading them as a
# text array skips decoding every descriptor's JSON.
_OUTPUT_PARAMETER_NAMES = Case(
    When(
        direction=Direction.OUTPUT,
        then=Func(
            F("supported_parameters"),
            template="ARRAY(SELECT jsonb_object_keys(%(expressions)s))",
            output_field=ArrayField(CharField()),
        ),
    ),
    output_field=ArrayField(CharField()),
)


# A price row's overrides as JSON text, NULL when it has none: decoded (``json.loads``) only
# where there are some; a JSON column's converter costs even its NULLs.
_OVERRIDES_IF_ANY = Func(
    F("overrides"), Value([], output_field=JSONField()), function="NULLIF", output_field=TextField()
)


@lru_cache(maxsize=1024)
def _decoded(overrides: str) -> tuple:
    # A catalog has few distinct lists of overrides (tiers are shared by families of models).
    return tuple(json.loads(overrides))


class _PriceRow(NamedTuple):
    model_id: int
    modality_id: int | None
    price_type: str
    unit: str
    cost_usd: Decimal
    ttl_seconds: int | None
    implicit: bool | None
    utc_start: int | None
    utc_end: int | None
    utc_days: int | None
    overrides: str | None  # JSON text


_FLAT_PRICE_TYPES = sorted({price_type for _, _, price_type, _ in PRICE_SOURCES.values()})


# The (price type, unit) pairs a flat record can show: a change of any other price leaves the
# flat body as it was, so it does not end the body's truth.
FLAT_PRICES = sorted({(price_type, unit) for _, _, price_type, unit in PRICE_SOURCES.values()})


def published_catalog() -> Published:
    """The catalog revision and the rendered published catalog, read in one snapshot."""
    return in_snapshot(lambda at: render(published_records(at)), shown=FLAT_PRICES)


def catalog_as_of(moment: datetime) -> bytes:
    """The public catalog as the endpoint served it at ``moment``, in the same bytes.

    Each model as its latest record at or before ``moment`` left it (``records_as_of``), with
    the datacenters that record saw and the prices in force at ``moment`` (``state_of``: a
    change scheduled before and started by then included); three queries whatever the size.
    Raises ``HistoryUnavailable`` for a moment before the first record.
    """
    records = records_as_of(moment)
    codes = defaultdict(list)
    for history_id, code in HistoricalDatacenterLink.objects.filter(
        history_id__in=[record.history_id for record in records]
    ).values_list("history_id", "country_code"):
        codes[history_id].append(code)
    states = ((record, state_of(record, moment)) for record in records)
    return render(
        wire_record(model, codes[record.history_id], offering_flat_fields(offering))
        for record, (model, offering) in states
    )
