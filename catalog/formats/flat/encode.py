"""A served model as one record of the flat format, and records as the exact bytes served.

The endpoint, the exporter, the admin's preview and the history's ``--as-of`` all render through
``wire_record`` and ``render`` (``dumps`` writes records indented, exact numbers included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NotRequired, TypedDict

from catalog.formats.flat.names import PRICING_KEYS
from catalog.formats.flat.offering import FlatFields, FlatOverride, offering_flat_fields
from catalog.formats.json_text import JSONNumber, deprecation, dumps, plain_decimal, unix_seconds
from catalog.models import ServedModel
from catalog.offering import Offering

__all__ = [
    "WireRecord",
    "deprecation",
    "dumps",
    "model_record",
    "plain_decimal",
    "render",
    "wire_record",
]


class WirePricing(TypedDict):
    prompt: str
    completion: str
    image: str
    request: str
    input_cache_read: str
    overrides: NotRequired[list[dict[str, int | str]]]


class WireDatacenter(TypedDict):
    country_code: str


class WireRecord(TypedDict):
    id: str
    hugging_face_id: str
    name: str
    created: int
    input_modalities: list[str]
    output_modalities: list[str]
    quantization: str
    context_length: int
    max_output_length: int
    pricing: WirePricing
    supported_sampling_parameters: list[str]
    supported_features: list[str]
    datacenters: list[WireDatacenter]
    deprecation_date: NotRequired[str]
    description: NotRequired[str]
    is_ready: NotRequired[bool]
    is_free: NotRequired[bool]
    discount_to_user: NotRequired[JSONNumber]
    capacity_tpm: NotRequired[int]
    openrouter: NotRequired[dict[str, str]]


def wire_overrides(overrides: Sequence[FlatOverride]) -> list[dict[str, int | str]]:
    """The flat overrides as served: prices in plain notation, thresholds and clock times as
    integers."""
    return [
        {
            key: plain_decimal(value) if isinstance(value, Decimal) else value
            for key, value in override.items()
        }
        for override in overrides
    ]


def wire_record(
    model: ServedModel, datacenter_codes: Sequence[str], flat: FlatFields
) -> WireRecord:
    """The flat record of ``model`` with these datacenters: its columns, and the flat fields of
    its offering (``offering_flat_fields``, or read from rows)."""
    prices = flat["prices"]
    record: WireRecord = {
        "id": model.model_id,
        "hugging_face_id": model.hugging_face_id,
        "name": model.name,
        "created": unix_seconds(model.created),
        "input_modalities": flat["input_modalities"],
        "output_modalities": flat["output_modalities"],
        "quantization": model.quantization,
        "context_length": model.context_length,
        "max_output_length": model.max_output_length,
        "pricing": {key: plain_decimal(prices[key]) for key in PRICING_KEYS},  # type: ignore[typeddict-item]  # the keys are PRICING_KEYS, which mypy cannot follow
        "supported_sampling_parameters": flat["supported_sampling_parameters"],
        "supported_features": flat["supported_features"],
        "datacenters": [{"country_code": code} for code in sorted(set(datacenter_codes))],
    }
    if flat["overrides"]:
        record["pricing"]["overrides"] = wire_overrides(flat["overrides"])
    if model.deprecation_date is not None:
        record["deprecation_date"] = deprecation(model.deprecation_date, model.deprecation_hour)
    # The current revision's fields, each only when set and not at its default.
    if model.description:
        record["description"] = model.description
    if not model.is_ready:
        record["is_ready"] = False
    if model.is_free:
        record["is_free"] = True
    if model.discount_to_user:  # neither None nor zero
        record["discount_to_user"] = JSONNumber(model.discount_to_user)
    if flat["capacity_tpm"] is not None:
        record["capacity_tpm"] = flat["capacity_tpm"]
    if model.openrouter_slug:
        record["openrouter"] = {"slug": model.openrouter_slug}
    return record


def model_record(model: ServedModel, offering: Offering) -> WireRecord:
    """The record of one model as it is (or would be, once published) served."""
    codes = [datacenter.country_code for datacenter in model.datacenters.all()]
    return wire_record(model, codes, offering_flat_fields(offering))


def render(records: Iterable[WireRecord]) -> bytes:
    """The exact bytes served: ``{"data": [...]}``, compact UTF-8 JSON, records sorted by id."""
    ordered = sorted(records, key=lambda record: record["id"])  # code-point order
    return dumps({"data": ordered}).encode()
