"""Migrations 0009-0011 move the five price columns and the four lists into the offering tables,
history included, and back, losing nothing: ``export_models`` and ``export_models --as-of`` give
the same bytes before, after, and after a way back and forth again.

The code of today cannot read the catalog as it was stored before 0009, so the catalog is
written there with the migration state's own models, from flat records (the demo catalog and a
generated one), and read there by ``_served_before`` below, the old encoder's rules in a few
lines (checked against the records themselves). After the migration the real exporter speaks.
"""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.formats.flat.published import catalog_as_of, published_catalog
from catalog.history import HistoricalServedModel

BEFORE = ("catalog", "0008_revision_notify")
DEMO = Path(__file__).resolve().parent.parent / "catalog" / "demo" / "catalog.json"
FIRST = datetime(2026, 3, 1, 12, tzinfo=UTC)
SECOND = FIRST + timedelta(days=30)
BETWEEN = FIRST + timedelta(days=10)

# The value lists as they stood before 0009 (the constraints of that state allow only these).
INPUTS = ("text", "image", "file", "audio", "video")
OUTPUTS = ("text", "image", "embeddings", "audio", "video", "rerank", "speech", "transcription")
QUANTIZATIONS = ("int4", "int8", "fp4", "fp6", "fp8", "fp16", "bf16", "fp32")
SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "frequency_penalty",
            "presence_penalty", "stop", "seed")  # fmt: skip
FEATURES = ("tools", "json_mode", "structured_outputs", "web_search", "reasoning")
COUNTRIES = ("US", "DE", "FR", "NL", "FI", "JP", "SG", "CA")
PRICE_COLUMNS = {
    "prompt": "price_prompt",
    "completion": "price_completion",
    "image": "price_image",
    "request": "price_request",
    "input_cache_read": "price_input_cache_read",
}


def _plain(value: Decimal) -> str:
    if value.is_zero():
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _subset(rng: random.Random, values: tuple[str, ...], least: int = 0) -> list[str]:
    chosen = [value for value in values if rng.random() < 0.4]
    return chosen or list(values[:least])


def _price(rng: random.Random, per_token: bool) -> str:
    if rng.random() < 0.35:
        return "0"
    if per_token:
        # From 1E-24 (the smallest step) to a few dollars per million tokens.
        exponent = rng.choice([-21, -12, -9, -8, -7, -6])
        return _plain(Decimal(rng.randint(1, 999)).scaleb(exponent - 3))
    return _plain(Decimal(rng.randint(1, 50000)).scaleb(-4))


def generated_records(count: int, seed: int = 13) -> list[dict]:
    """``count`` flat records with varied modalities, prices, datacenters and deprecations."""
    rng = random.Random(seed)
    records = []
    for number in range(count):
        context = rng.choice([4096, 32768, 131072, 1048576])
        record = {
            "id": f"gen/model-{number:04}",
            "hugging_face_id": rng.choice(["", f"gen/model-{number:04}"]),
            "name": f"Generated model {number}",
            "created": 1700000000 + number * 3600,
            "input_modalities": _subset(rng, INPUTS, least=1),
            "output_modalities": _subset(rng, OUTPUTS[:3], least=1),
            "quantization": rng.choice(QUANTIZATIONS),
            "context_length": context,
            "max_output_length": rng.randint(1, context),
            "pricing": {
                key: _price(rng, per_token=key not in ("image", "request")) for key in PRICE_COLUMNS
            },
            "supported_sampling_parameters": _subset(rng, SAMPLING),
            "supported_features": _subset(rng, FEATURES),
            "datacenters": [{"country_code": code} for code in sorted(_subset(rng, COUNTRIES))],
        }
        if rng.random() < 0.2:
            record["deprecation_date"] = (date(2026, 6, 1) + timedelta(days=number)).isoformat()
        records.append(record)
    return records


def changed(records: list[dict], seed: int = 31) -> list[dict]:
    """The second catalog: new prices, lists and deprecations for about a third of the models."""
    rng = random.Random(seed)
    second = json.loads(json.dumps(records))
    for record in second:
        if rng.random() < 0.33:
            record["pricing"]["prompt"] = _price(rng, per_token=True)
            record["pricing"]["image"] = _price(rng, per_token=False)
            record["supported_features"] = _subset(rng, FEATURES)
            record["output_modalities"] = _subset(rng, OUTPUTS[:3], least=1)
            record.pop("deprecation_date", None)
            if rng.random() < 0.5:
                record["deprecation_date"] = "2027-01-31"
    return second


def as_saved(record: dict) -> dict:
    """A record as saving it before 0009 left it: its lists in canonical order."""
    lists = {
        "input_modalities": INPUTS,
        "output_modalities": OUTPUTS,
        "supported_sampling_parameters": SAMPLING,
        "supported_features": FEATURES,
    }
    return {
        **record,
        **{name: [v for v in order if v in record[name]] for name, order in lists.items()},
    }


def served(records: list[dict]) -> bytes:
    ordered = sorted(records, key=lambda record: record["id"])
    return json.dumps({"data": ordered}, ensure_ascii=False, separators=(",", ":")).encode()


def _columns(record: dict) -> dict:
    return {
        "model_id": record["id"],
        "hugging_face_id": record["hugging_face_id"],
        "name": record["name"],
        "created": datetime.fromtimestamp(record["created"], UTC),
        "input_modalities": record["input_modalities"],
        "output_modalities": record["output_modalities"],
        "quantization": record["quantization"],
        "context_length": record["context_length"],
        "max_output_length": record["max_output_length"],
        "supported_sampling_parameters": record["supported_sampling_parameters"],
        "supported_features": record["supported_features"],
        "deprecation_date": (
            date.fromisoformat(record["deprecation_date"]) if "deprecation_date" in record else None
        ),
        "is_published": True,
        **{column: Decimal(record["pricing"][key]) for key, column in PRICE_COLUMNS.items()},
    }


def _store_before(apps, first: list[dict], second: list[dict]) -> None:
    """The live rows as ``second`` says, and a record of each catalog: "+" at FIRST for every
    model, "~" at SECOND for each that changed (as an import before 0009 left them)."""
    ServedModel = apps.get_model("catalog", "ServedModel")
    Datacenter = apps.get_model("catalog", "Datacenter")
    Historical = apps.get_model("catalog", "HistoricalServedModel")
    HistoricalLink = apps.get_model("catalog", "HistoricalServedModel_datacenters")
    datacenters = {
        code: Datacenter.objects.create(country_code=code)
        for code in sorted({dc["country_code"] for r in first + second for dc in r["datacenters"]})
    }
    for old, new in zip(first, second, strict=True):
        model = ServedModel.objects.create(**_columns(new), updated_at=SECOND)
        model.datacenters.set([datacenters[dc["country_code"]] for dc in new["datacenters"]])
        # A record's copy of each link keeps the link's id: a link gone since gets a made-up one.
        link_ids = dict(
            ServedModel.datacenters.through.objects.filter(servedmodel_id=model.pk).values_list(
                "datacenter_id", "pk"
            )
        )
        for record, when, kind in ((old, FIRST, "+"), (new, SECOND, "~")):
            if kind == "~" and record == old:
                continue
            entry = Historical.objects.create(
                id=model.pk,
                **_columns(record),
                updated_at=when,
                history_date=when,
                history_type=kind,
                changed_fields=[],
            )
            HistoricalLink.objects.bulk_create(
                HistoricalLink(
                    history=entry,
                    id=link_ids.get(datacenters[dc["country_code"]].pk, 10**9 + entry.pk),
                    servedmodel_id=model.pk,
                    datacenter_id=datacenters[dc["country_code"]].pk,
                    country_code=dc["country_code"],
                )
                for dc in record["datacenters"]
            )


def _served_before(apps) -> bytes:
    """The published catalog as the encoder before 0009 served it, from the old columns."""
    ServedModel = apps.get_model("catalog", "ServedModel")
    records = []
    for model in ServedModel.objects.filter(is_published=True).prefetch_related("datacenters"):
        record = {
            "id": model.model_id,
            "hugging_face_id": model.hugging_face_id,
            "name": model.name,
            "created": int(model.created.timestamp()),
            "input_modalities": model.input_modalities,
            "output_modalities": model.output_modalities,
            "quantization": model.quantization,
            "context_length": model.context_length,
            "max_output_length": model.max_output_length,
            "pricing": {
                key: _plain(getattr(model, column)) for key, column in PRICE_COLUMNS.items()
            },
            "supported_sampling_parameters": model.supported_sampling_parameters,
            "supported_features": model.supported_features,
            "datacenters": [
                {"country_code": code}
                for code in sorted({dc.country_code for dc in model.datacenters.all()})
            ],
        }
        if model.deprecation_date is not None:
            record["deprecation_date"] = model.deprecation_date.isoformat()
        records.append(record)
    return served(records)


def _export(*args: str) -> bytes:
    out = io.StringIO()
    call_command("export_models", *args, stdout=out)
    return out.getvalue().encode()


def _migrate(target) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return MigrationExecutor(connection)  # its loader sees the state just reached


def _latest() -> list:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def before_the_offering(transactional_db):
    executor = _migrate([BEFORE])
    yield executor.loader.project_state([BEFORE]).apps
    _migrate(_latest())


def test_the_generated_catalog_varies_what_the_migration_moves():
    records = generated_records(300)
    assert len({r["id"] for r in records}) == 300
    assert any(r["pricing"]["prompt"].startswith("0.00000000000000000000") for r in records)
    assert any("image" not in r["input_modalities"] and r["pricing"]["image"] != "0"
               for r in records)  # fmt: skip  # an image price without an image input
    assert any("text" not in r["output_modalities"] for r in records)
    assert sum("deprecation_date" in r for r in records) > 20
    assert sum(r != s for r, s in zip(records, changed(records), strict=True)) > 50


def test_export_and_as_of_are_byte_identical_across_the_migration_both_ways(before_the_offering):
    demo = [as_saved(record) for record in json.loads(DEMO.read_bytes())["data"]]
    first = demo + generated_records(300)
    second = changed(first)
    apps = before_the_offering
    _store_before(apps, first, second)
    now, then = served(second), served(first)
    assert _served_before(apps) == now  # the reading below is the old encoder's

    _migrate(_latest())
    assert _export() == now
    assert _export("--as-of", BETWEEN.isoformat()) == then
    assert _export("--as-of", SECOND.isoformat()) == now

    executor = _migrate([BEFORE])
    assert _served_before(executor.loader.project_state([BEFORE]).apps) == now

    _migrate(_latest())
    assert _export() == now
    assert _export("--as-of", BETWEEN.isoformat()) == then


def test_models_from_before_history_are_seeded_by_the_migration(transactional_db):
    """Migration 0005 gives each model a first record; 0010 then gives that record its
    offering, so ``--as-of`` renders what the endpoint serves."""
    before_history = ("catalog", "0004_servedmodel_name_and_hugging_face_id_constraints")
    apps = _migrate([before_history]).loader.project_state([before_history]).apps
    try:
        ServedModel = apps.get_model("catalog", "ServedModel")
        for record in generated_records(5):
            columns = _columns(record)
            columns.pop("deprecation_date")  # a later field
            ServedModel.objects.create(**columns, updated_at=FIRST)
        _migrate(_latest())
        reasons = set(HistoricalServedModel.objects.values_list("history_change_reason", flat=True))
        assert reasons == {"history started"}
        latest = HistoricalServedModel.objects.latest("history_date").history_date
        assert catalog_as_of(latest) == published_catalog()[1]
    finally:
        _migrate(_latest())
