"""A served model as one record of the flat format, and records as the exact bytes served.

The endpoint, the exporter, the admin's preview and the history's ``--as-of`` all render through
``wire_record`` and ``render``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import NotRequired, TypedDict

from catalog.formats.flat.names import PRICING_KEYS
from catalog.formats.flat.offering import FlatFields, offering_flat_fields
from catalog.models import ServedModel


class WirePricing(TypedDict):
    prompt: str
    completion: str
    image: str
    request: str
    input_cache_read: str


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


def plain_decimal(value: Decimal) -> str:
    """A price in plain notation: no exponent, no trailing zeros ("0.00000015", "0", "12")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def iso_date(day: date) -> str:
    return day.isoformat()


def wire_record(
    model: ServedModel, datacenter_codes: Sequence[str], flat: FlatFields | None = None
) -> WireRecord:
    """The flat record of ``model`` with these datacenters: its columns, and the flat fields of
    its offering (``flat``, when the caller read them from rows; else from ``model.offering``)."""
    if flat is None:
        flat = offering_flat_fields(model.offering)
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
    if model.deprecation_date is not None:
        record["deprecation_date"] = iso_date(model.deprecation_date)
    return record


def model_record(model: ServedModel) -> WireRecord:
    """The record of one model as it is (or would be, once published) served."""
    codes = [datacenter.country_code for datacenter in model.datacenters.all()]
    return wire_record(model, codes)


def render(records: Iterable[WireRecord]) -> bytes:
    """The exact bytes served: ``{"data": [...]}``, compact UTF-8 JSON, records sorted by id."""
    ordered = sorted(records, key=lambda record: record["id"])  # code-point order
    return json.dumps(
        {"data": ordered}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()
