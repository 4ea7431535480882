"""The wire format of OpenRouter's model list, written down once.

The endpoint, the exporter and the importer all use this module: ``wire_record`` turns a served
model into one element of ``data``, ``render`` turns records into the exact bytes served, and
``published_catalog`` reads the published catalog and its revision in one snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import NotRequired, TypedDict

from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, transaction
from django.db.models import Q

from catalog.choices import Feature, InputModality, OutputModality, SamplingParameter, canonical
from catalog.models import ServedModel
from catalog.revision import current_revision

# The keys of one record, in the order they are served.
RECORD_KEYS = (
    "id",
    "hugging_face_id",
    "name",
    "created",
    "input_modalities",
    "output_modalities",
    "quantization",
    "context_length",
    "max_output_length",
    "pricing",
    "supported_sampling_parameters",
    "supported_features",
    "datacenters",
    "deprecation_date",
)
OPTIONAL_RECORD_KEYS = frozenset({"deprecation_date"})
PRICING_KEYS = ("prompt", "completion", "image", "request", "input_cache_read")
# Wire pricing key -> ServedModel field.
PRICING_FIELDS = {key: f"price_{key}" for key in PRICING_KEYS}
# ServedModel field -> wire field, for the fields whose names differ (the others are the same).
WIRE_NAMES = {
    "model_id": "id",
    **{model_field: f"pricing.{key}" for key, model_field in PRICING_FIELDS.items()},
}


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


def wire_record(model: ServedModel, datacenter_codes: Sequence[str]) -> WireRecord:
    record: WireRecord = {
        "id": model.model_id,
        "hugging_face_id": model.hugging_face_id,
        "name": model.name,
        "created": unix_seconds(model.created),
        # Canonical order whatever the storage holds: clean() canonicalises, but writes that
        # skip it (a shell, raw SQL) must not change what is served.
        "input_modalities": canonical(model.input_modalities, InputModality),
        "output_modalities": canonical(model.output_modalities, OutputModality),
        "quantization": model.quantization,
        "context_length": model.context_length,
        "max_output_length": model.max_output_length,
        "pricing": {
            key: plain_decimal(getattr(model, field)) for key, field in PRICING_FIELDS.items()
        },  # type: ignore[typeddict-item]
        "supported_sampling_parameters": canonical(
            model.supported_sampling_parameters, SamplingParameter
        ),
        "supported_features": canonical(model.supported_features, Feature),
        "datacenters": [{"country_code": code} for code in sorted(set(datacenter_codes))],
    }
    if model.deprecation_date is not None:
        record["deprecation_date"] = iso_date(model.deprecation_date)
    return record


def changed_keys(before: WireRecord, after: WireRecord) -> list[str]:
    """The keys whose served value differs, in record order; prices as ``pricing.<key>``."""
    changed = []
    for key in RECORD_KEYS:
        if key == "pricing":
            changed += [
                f"pricing.{price}"
                for price in PRICING_KEYS
                if before["pricing"][price] != after["pricing"][price]
            ]
        elif before.get(key) != after.get(key):
            changed.append(key)
    return changed


def render(records: Iterable[WireRecord]) -> bytes:
    """The exact bytes served: ``{"data": [...]}``, compact UTF-8 JSON, records sorted by id."""
    ordered = sorted(records, key=lambda record: record["id"])  # code-point order
    return json.dumps(
        {"data": ordered}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


def model_record(model: ServedModel) -> WireRecord:
    """The record of one model as it is (or would be, once published) served."""
    codes = [datacenter.country_code for datacenter in model.datacenters.all()]
    return wire_record(model, codes)


def published_records() -> list[WireRecord]:
    """Every published model's record, in one query whatever the catalog's size."""
    models = ServedModel.objects.filter(is_published=True).annotate(
        datacenter_codes=ArrayAgg(
            "datacenters__country_code",
            filter=Q(datacenters__isnull=False),
            default=[],
        )
    )
    return [wire_record(model, model.datacenter_codes) for model in models]


def published_catalog() -> tuple[int, bytes]:
    """The catalog revision and the rendered published catalog, read in one snapshot.

    Both reads share a REPEATABLE READ snapshot, so the body is exactly the catalog at that
    revision: a write committing in between can never put old data under a new revision.
    """
    if connection.in_atomic_block:
        # Inside a caller's transaction (tests) its isolation level applies, as SET
        # TRANSACTION must come first. The endpoint and the exporter never render inside one.
        return current_revision(), render(published_records())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return current_revision(), render(published_records())
