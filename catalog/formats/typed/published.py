"""The published catalog as typed documents: what the endpoint serves for
``?schema_version=2.4`` and ``export_models --schema-version 2.4`` writes, now
(``published_typed_catalog``, with its revision) and as it was at a past moment
(``typed_catalog_as_of``)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q, TextField
from django.db.models.functions import Cast

from catalog.formats.published import (
    PRICE_ROW_COLUMNS,
    Published,
    in_snapshot,
    prices_in_force,
    records_as_of,
    state_of,
)
from catalog.formats.typed.encode import model_document, render
from catalog.models import CapacityEntry, HistoricalDatacenterLink, Modality, ServedModel
from catalog.offering import (
    ROOT,
    Capacity,
    ModalitySpec,
    Offering,
    Price,
    Scope,
    typed_omissions,
)

_PUBLISHED = Q(model__is_published=True)


def published_documents(at: datetime | None = None) -> list[dict[str, Any]]:
    """Every published model's typed document, in four queries whatever the catalog's size:
    the models with their datacenters' codes and regions (two arrays in the same order), and
    their offerings (``published_offerings``), with the prices in force at ``at``."""
    links = ServedModel.datacenters.through.objects.filter(servedmodel_id=OuterRef("pk")).order_by(
        "datacenter__country_code", "datacenter__region"
    )
    models = ServedModel.objects.filter(is_published=True).annotate(
        datacenter_codes=ArraySubquery(links.values("datacenter__country_code")),
        datacenter_regions=ArraySubquery(links.values("datacenter__region")),
    )
    models = list(models)
    offerings = published_offerings(at)
    return [
        model_document(
            model,
            zip(model.datacenter_codes, model.datacenter_regions, strict=True),
            offerings.get(model.pk, _EMPTY),
        )
        for model in models
    ]


_EMPTY = Offering()


def published_offerings(at: datetime | None = None) -> dict[int, Offering]:
    """The published models' offerings, by pk, in three queries whatever their number: their
    modalities, prices in force at ``at`` (default: now) and capacities, read as plain rows and
    joined here by model.

    What ``with_offering`` gives, without a JSON snapshot per model built by
    ``catalog_offering_snapshot()`` and decoded again (most of a cold render:
    docs/PERFORMANCE.md; ``formats.flat.published.stored_flat_fields`` reads the flat fields the
    same way). JSON values are read as text and each distinct text decoded once (a catalog
    repeats few parameter sets and overrides), so documents of one render may share them:
    nothing may change them.
    """
    decoded: dict[str, Any] = {}

    def value(text: str) -> Any:
        if text not in decoded:
            decoded[text] = json.loads(text)
        return decoded[text]

    modalities: defaultdict[int, list[ModalitySpec]] = defaultdict(list)
    scope_of: dict[int, Scope] = {}
    for pk, model_pk, direction, kind, *details in (
        Modality.objects.filter(_PUBLISHED)
        .order_by()
        .values_list(
            "pk",
            "model_id",
            "direction",
            "kind",
            "position",
            _text("supported_inputs"),
            _text("supported_parameters"),
            _text("passthrough_parameters"),
            "streaming",
        )
    ):
        position, inputs, parameters, passthrough, streaming = details
        scope_of[pk] = (direction, kind)
        modalities[model_pk].append(
            ModalitySpec(
                direction, kind, position, value(inputs), value(parameters), value(passthrough),
                streaming,
            )
        )  # fmt: skip
    prices: defaultdict[int, list[Price]] = defaultdict(list)
    for (
        model_pk,
        modality_pk,
        price_type,
        unit,
        cost,
        ttl,
        implicit,
        start,
        end,
        days,
        overrides,
    ) in prices_in_force(_PUBLISHED, at).values_list(*PRICE_ROW_COLUMNS, _text("overrides")):
        scope = scope_of[modality_pk] if modality_pk is not None else ROOT
        prices[model_pk].append(
            Price(
                scope,
                price_type,
                unit,
                cost,
                ttl,
                implicit,
                start,
                end,
                overrides=tuple(value(overrides)),
                utc_days=days,
            )
        )
    capacities: defaultdict[int, list[Capacity]] = defaultdict(list)
    for model_pk, modality_pk, *entry in (
        CapacityEntry.objects.filter(_PUBLISHED)
        .order_by()
        .values_list("model_id", "modality_id", "capacity_type", "unit", "per", "value")
    ):
        scope = scope_of[modality_pk] if modality_pk is not None else ROOT
        capacities[model_pk].append(Capacity(scope, *entry))
    return {
        pk: Offering(tuple(modalities[pk]), tuple(prices[pk]), tuple(capacities[pk]))
        for pk in modalities.keys() | prices.keys() | capacities.keys()
    }


def _text(column: str) -> Cast:
    # A JSON column as its text: no decoding per row by the column's converter.
    return Cast(column, TextField())


def published_typed_catalog() -> Published:
    """The catalog revision and the rendered typed catalog, read in one snapshot."""
    return in_snapshot(lambda at: render(published_documents(at)))


def published_omissions() -> list[str]:
    """A line per published model whose document leaves out what its offering holds
    (``typed_omissions``), by id: what ``export_models --schema-version`` tells on stderr."""
    model_ids = dict(ServedModel.objects.filter(is_published=True).values_list("pk", "model_id"))
    lines = []
    for pk, offering in published_offerings().items():
        omissions = typed_omissions(offering)
        if omissions and pk in model_ids:
            left_out = "; ".join(map(str, omissions))
            lines.append(f"{model_ids[pk]}: the typed format leaves out {left_out}")
    return sorted(lines)


def typed_catalog_as_of(moment: datetime) -> bytes:
    """What the endpoint served for ``?schema_version=2.4`` at ``moment``, in the same bytes:
    the records of ``catalog_as_of`` (``formats.flat.published``), with the datacenters (regions
    included) each record saw. Three queries whatever the size."""
    records = records_as_of(moment)
    places = defaultdict(list)
    for history_id, code, region in HistoricalDatacenterLink.objects.filter(
        history_id__in=[record.history_id for record in records]
    ).values_list("history_id", "country_code", "region"):
        places[history_id].append((code, region))
    return render(
        model_document(state.model, places[record.history_id], state.offering)
        for record in records
        for state in (state_of(record, moment),)
    )
