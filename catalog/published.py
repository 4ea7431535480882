"""The published catalog, read from the database and rendered, with its revision.

The endpoint (``router.cache``) and ``export_models`` serve what ``published_catalog`` returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import connection, transaction
from django.db.models import Case, CharField, F, Func, OuterRef, Q, When

from catalog.choices import Direction
from catalog.formats.flat.encode import WireRecord, render, wire_record
from catalog.formats.flat.offering import PRICE_SOURCES, FlatFields, flat_fields
from catalog.models import Modality, PriceEntry, ServedModel
from catalog.offering import ROOT, Scope, base_price_order
from catalog.revision import current_revision


def published_records() -> list[WireRecord]:
    """Every published model's record, in three queries whatever the catalog's size: the models
    with their datacenter codes, and their flat fields (``stored_flat_fields``).
    """
    codes = ServedModel.datacenters.through.objects.filter(servedmodel_id=OuterRef("pk")).values(
        "datacenter__country_code"
    )
    models = list(
        ServedModel.objects.filter(is_published=True)
        .only(*RECORD_FIELDS)
        .annotate(datacenter_codes=ArraySubquery(codes))
    )
    flat = stored_flat_fields(Q(model__is_published=True), [model.pk for model in models])
    return [wire_record(model, model.datacenter_codes, flat[model.pk]) for model in models]


def stored_flat_fields(rows: Q, pks: Iterable[int]) -> dict[int, FlatFields]:
    """The flat fields of the models ``pks``, by pk, in two queries whatever their number: their
    modalities and their prices that a flat record can show, the rows that ``rows`` selects (a
    filter on the models, by ``model__`` lookups, holding at least ``pks``).

    The offering's rows are read as plain tuples and joined here by model, straight into the
    flat fields (``flat_fields``): no ``Offering`` per model, no JSON to build or decode
    (10,000 models: 3.1-4.2 s with a JSON snapshot per model, see the commit).
    """
    inputs: defaultdict[int, list[str]] = defaultdict(list)
    outputs: defaultdict[int, list[str]] = defaultdict(list)
    names: defaultdict[int, set[str]] = defaultdict(set)
    scope_of: dict[int, Scope] = {}
    for pk, model_pk, direction, kind, parameters in (
        Modality.objects.filter(rows)
        .order_by()
        .values_list("pk", "model_id", "direction", "kind", _OUTPUT_PARAMETER_NAMES)
    ):
        scope_of[pk] = (direction, kind)
        if direction == Direction.INPUT:
            inputs[model_pk].append(kind)
        else:
            outputs[model_pk].append(kind)
            names[model_pk].update(parameters)
    # model pk -> (scope, type, unit) -> the base entry: windowed entries are never flat prices.
    base: defaultdict[int, dict[tuple, _PriceRow]] = defaultdict(dict)
    for row in (
        PriceEntry.objects.filter(rows, utc_start__isnull=True, price_type__in=_FLAT_PRICE_TYPES)
        .order_by()
        .values_list(
            "model_id", "modality_id", "price_type", "unit", "cost_usd", "ttl_seconds", "implicit"
        )
    ):
        entry = _PriceRow(*row)
        key = (scope_of.get(entry.modality_id, ROOT) if entry.modality_id else ROOT,
               entry.price_type, entry.unit)  # fmt: skip
        held = base[entry.model_id].get(key)
        if held is None or base_price_order(entry) < base_price_order(held):
            base[entry.model_id][key] = entry
    flat = {}
    for pk in pks:
        prices = base.get(pk, {})

        def price_of(scope: Scope, price_type: str, unit: str, prices=prices) -> Decimal | None:
            entry = prices.get((scope, price_type, unit))
            return entry.cost_usd if entry is not None else None

        flat[pk] = flat_fields(inputs[pk], outputs[pk], names[pk], price_of)
    return flat


# The columns a flat record shows (``wire_record``): loading the others (JSON among them) was
# ~0.1 s of a cold render of 10,000 models.
RECORD_FIELDS = (
    "model_id",
    "hugging_face_id",
    "name",
    "created",
    "quantization",
    "context_length",
    "max_output_length",
    "deprecation_date",
)

# Only the names of an output modality's parameters show in a flat record: reading them as a
# text array skips decoding every descriptor's JSON (10,000 models: ~0.3 s of a ~1 s render).
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


class _PriceRow(NamedTuple):
    model_id: int
    modality_id: int | None
    price_type: str
    unit: str
    cost_usd: Decimal
    ttl_seconds: int | None
    implicit: bool | None


_FLAT_PRICE_TYPES = sorted({price_type for _, _, price_type, _ in PRICE_SOURCES.values()})


def published_catalog() -> tuple[int, bytes]:
    """The catalog revision and the rendered published catalog, read in one snapshot."""
    return in_snapshot(lambda: render(published_records()))


def in_snapshot(read: Callable[[], bytes]) -> tuple[int, bytes]:
    """The catalog revision and what ``read`` renders, read in one snapshot.

    Both reads share a REPEATABLE READ snapshot, so the body is exactly the catalog at that
    revision: a write committing in between can never put old data under a new revision.
    """
    if connection.in_atomic_block:
        # Inside a caller's transaction (tests) its isolation level applies, as SET
        # TRANSACTION must come first. The endpoint and the exporter never render inside one.
        return current_revision(), read()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return current_revision(), read()
