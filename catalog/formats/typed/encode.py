"""A served model as one typed document (``ModelDocumentV2``, schema_version 2.4), and documents
as the exact bytes served.

Every key of the document comes from a column or a row of the catalog; what is unset is
omitted, never written as an empty value or a zero price. The judgment calls (where the flat
columns ``context_length`` and ``max_output_length`` go, the deprecation hour, what the schema
cannot say) are in docs/architecture/formats.md, "The typed rendering".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catalog.choices import (
    CapacityType,
    CapacityWindow,
    Direction,
    InputModality,
    OutputModality,
    PriceType,
    PriceUnit,
    positions,
    weekday_names,
)
from catalog.formats.json_text import JSONNumber, deprecation, dumps, plain_decimal, unix_seconds
from catalog.models import ServedModel
from catalog.offering import (
    ROOT,
    Capacity,
    ModalitySpec,
    Offering,
    Price,
    Scope,
    typed_omissions,
)

SCHEMA_VERSION = "2.4"

# Only the text output has max_length (OutputModality's variants); which outputs have no
# streaming is ``typed_omissions``' to say.
_OUTPUT_MAX_LENGTH = frozenset({"text"})
# What ``typed_omissions`` names: (id of the entry or modality, its field or None).
Omitted = set[tuple[int, str | None]]


def _none_last(value: Any) -> tuple:
    return (value is None, value if value is not None else 0)


def _price_order(price: Price) -> tuple:
    """Pricing entries in one canonical order (their order carries no meaning)."""
    return (
        positions(PriceType).get(price.price_type, 99),
        positions(PriceUnit).get(price.unit, 99),
        _none_last(price.utc_start),
        _none_last(price.utc_end),
        _none_last(price.utc_days),
        _none_last(price.ttl_seconds),
        _none_last(price.implicit),
    )


def _capacity_order(capacity: Capacity) -> tuple:
    return (
        positions(CapacityType).get(capacity.capacity_type, 99),
        positions(PriceUnit).get(capacity.unit, 99),
        _none_last(positions(CapacityWindow).get(capacity.per or "")),
    )


def price_entry(price: Price) -> dict[str, Any]:
    """A price's ``pricing`` entry, without its scope: the encoder's and the price API's."""
    entry: dict[str, Any] = {
        "type": price.price_type,
        "unit": price.unit,
        "cost_usd": plain_decimal(price.cost_usd),
    }
    if price.overrides:
        entry["overrides"] = list(price.overrides)
    if price.ttl_seconds is not None:
        entry["ttl_seconds"] = price.ttl_seconds
    if price.implicit is not None:
        entry["implicit"] = price.implicit
    if price.utc_start is not None:
        entry["utc_start"] = price.utc_start
        entry["utc_end"] = price.utc_end
    if price.utc_days is not None:
        entry["utc_days"] = weekday_names(price.utc_days)
    return entry


def _capacity_entry(capacity: Capacity) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": capacity.capacity_type, "unit": capacity.unit}
    if capacity.per is not None:
        entry["per"] = capacity.per
    entry["value"] = capacity.value
    return entry


def _pricing_and_capacity(offering: Offering, scope: Scope, omitted: Omitted) -> dict[str, Any]:
    """A scope's ``pricing`` and ``capacity``, each only when it has entries; those the schema
    cannot say (``omitted``) are left out."""
    part: dict[str, Any] = {}
    prices = sorted(
        (p for p in offering.prices if p.scope == scope and (id(p), None) not in omitted),
        key=_price_order,
    )
    if prices:
        part["pricing"] = [price_entry(price) for price in prices]
    capacities = sorted(
        (c for c in offering.capacities if c.scope == scope and (id(c), None) not in omitted),
        key=_capacity_order,
    )
    if capacities:
        part["capacity"] = [_capacity_entry(capacity) for capacity in capacities]
    return part


def _in_document_order(specs: Iterable[ModalitySpec], direction: str) -> list[ModalitySpec]:
    """A direction's modalities in the order the document lists them: their ``position``, and
    the canonical order among equal positions."""
    kinds = positions(InputModality if direction == Direction.INPUT else OutputModality)
    chosen = [spec for spec in specs if spec.direction == direction]
    return sorted(chosen, key=lambda spec: (spec.position, kinds.get(spec.kind, 99), spec.kind))


def typed_supported_inputs(kind: str, stored: dict, context_length: int) -> dict[str, Any]:
    """An input's ``supported_inputs`` as its document says them: the text input's
    ``max_context_length`` is the ``context_length`` column (the flat format serves it too),
    whatever value is stored there; a unit stored with it is kept. The admin validates this."""
    supported_inputs = dict(stored)
    limit = supported_inputs.get("max_context_length", {})
    if kind == "text" and isinstance(limit, dict):  # not an object: the schema refuses it
        supported_inputs["max_context_length"] = {**limit, "value": context_length}
    return supported_inputs


def _input_modality(
    model: ServedModel, spec: ModalitySpec, offering: Offering, omitted: Omitted
) -> dict[str, Any]:
    document: dict[str, Any] = {"type": spec.kind}
    supported_inputs = typed_supported_inputs(
        spec.kind, spec.supported_inputs, model.context_length
    )
    if supported_inputs:
        document["supported_inputs"] = supported_inputs
    document.update(_pricing_and_capacity(offering, spec.scope, omitted))
    if spec.passthrough_parameters:
        document["passthrough_parameters"] = spec.passthrough_parameters
    return document


def _output_modality(
    model: ServedModel, spec: ModalitySpec, offering: Offering, omitted: Omitted
) -> dict[str, Any]:
    document: dict[str, Any] = {"type": spec.kind}
    if spec.kind in _OUTPUT_MAX_LENGTH:
        document["max_length"] = {"value": model.max_output_length}
    document["supported_parameters"] = spec.supported_parameters  # required, even when empty
    if spec.passthrough_parameters:
        document["passthrough_parameters"] = spec.passthrough_parameters
    document.update(_pricing_and_capacity(offering, spec.scope, omitted))
    if spec.streaming is not None and (id(spec), "streaming") not in omitted:
        document["streaming"] = spec.streaming
    return document


def model_document(
    model: ServedModel,
    datacenters: Iterable[tuple[str, str]],
    offering: Offering,
) -> dict[str, Any]:
    """The typed document of ``model`` with these datacenters (country code, region or "") and
    this offering, keys in the schema's order."""
    document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "id": model.model_id}
    if model.hugging_face_id:
        document["hugging_face_id"] = model.hugging_face_id
    document["name"] = model.name
    document["created"] = unix_seconds(model.created)
    document["quantization"] = model.quantization
    if model.tokenizer:
        document["tokenizer"] = model.tokenizer
    if model.description:
        document["description"] = model.description
    omitted = {(id(omission.entry), omission.field) for omission in typed_omissions(offering)}
    document["input_modalities"] = [
        _input_modality(model, spec, offering, omitted)
        for spec in _in_document_order(offering.modalities, Direction.INPUT)
    ]
    document["output_modalities"] = [
        _output_modality(model, spec, offering, omitted)
        for spec in _in_document_order(offering.modalities, Direction.OUTPUT)
    ]
    document.update(_pricing_and_capacity(offering, ROOT, omitted))
    if model.passthrough_parameters:
        document["passthrough_parameters"] = model.passthrough_parameters
    if model.deprecation_date is not None:
        document["deprecation_date"] = deprecation(model.deprecation_date, model.deprecation_hour)
    if not model.is_ready:
        document["is_ready"] = False
    if model.is_free:
        document["is_free"] = True
    if model.discount_to_user is not None and not model.discount_to_user.is_zero():
        # A JSON number with the stored decimal's exact text, as the flat format writes it.
        document["discount_to_user"] = JSONNumber(model.discount_to_user)
    if model.openrouter_slug:
        document["openrouter"] = {"slug": model.openrouter_slug}
    places = sorted(set(datacenters))
    if places:
        document["datacenters"] = [
            {"country_code": code, "region": region} if region else {"country_code": code}
            for code, region in places
        ]
    if model.deployment_region:
        document["deployment_region"] = model.deployment_region
    if model.compliance:
        document["compliance"] = model.compliance
    return document


def render(documents: Iterable[dict[str, Any]]) -> bytes:
    """The exact bytes served: ``{"data": [...]}``, compact UTF-8 JSON, documents sorted by id
    (code-point order, as the flat list)."""
    ordered = sorted(documents, key=lambda document: document["id"])
    return dumps({"data": ordered}).encode()
