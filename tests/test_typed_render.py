"""The typed format (schema_version 2.4) rendered from the catalog: every document valid against
OpenRouter's official schema file, every column and row mapped, nothing unset written."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.actions.served_models import save_model
from catalog.formats.flat.encode import dumps
from catalog.formats.flat.published import published_catalog
from catalog.formats.typed.decode import decode_typed, load_typed
from catalog.formats.typed.encode import model_document, render
from catalog.formats.typed.published import published_offerings, published_typed_catalog
from catalog.models import Datacenter, PriceEntry, ServedModel
from catalog.offering import (
    OFFERING_SNAPSHOT,
    ROOT,
    Capacity,
    ModalitySpec,
    Offering,
    Price,
    stored_offering,
    with_offering,
)
from tests.helpers import (
    ENDPOINT,
    assert_valid_typed,
    build_model,
    build_offering,
    create_model,
    document_validator,
)


# --- The published documents, each valid against the official schema ----------------------------
def typed_documents() -> list[dict]:
    return assert_valid_typed(published_typed_catalog()[1])


def by_id() -> dict[str, dict]:
    return {document["id"]: document for document in typed_documents()}


# --- A catalog that uses everything the format can say ------------------------------------------
DESCRIPTORS = {
    "temperature": {"type": "range", "min": 0, "max": 2, "default": 1},
    "top_k": {"type": "integer", "min": 1, "max": 100},
    "tools": {"type": "boolean", "default": False},
    "reasoning_effort": {"type": "enum", "values": ["low", "medium", "high"], "default": "medium"},
    "stop": {"type": "array", "max_items": 4, "items": {"type": "unknown"}},
    "response_format": {
        "type": "object",
        "properties": {"type": {"type": "enum", "values": ["json_object", "text"]}},
    },
    "seed": {"type": "unknown"},
    "max_tokens": {"type": "integer", "min": 1, "max": 8192, "unit": "token"},
    "duration": {"type": "range", "min": 1, "max": 60, "unit": "second"},
}
OVERRIDES = (
    {"when": {"prompt_tokens": {"gte": 200001}}, "cost_usd": "0.000006"},
    {"when": {"service_tier": {"equals": "flex"}}, "cost_usd": "0.0000015"},
    {"when": {"temperature": {"lte": 0.5}}, "cost_usd": "0.000002"},
    {"when": {"tools": {"min_items": 1}}, "cost_usd": "0.000004"},
    {
        "when": {
            "allOf": [
                {"prompt_tokens": {"gte": 1000}},
                {"anyOf": [{"stream": {"equals": True}}, {"not": {"seed": {"equals": 1}}}]},
            ]
        },
        "cost_usd": "0.0000035",
    },
)
TEXT_IN = ("input", "text")
IMAGE_IN = ("input", "image")
TEXT_OUT = ("output", "text")


def _input(kind: str, position: int, **supported_inputs) -> ModalitySpec:
    return ModalitySpec("input", kind, position, supported_inputs=supported_inputs)


def _output(kind: str, position: int, streaming: bool | None = None, **fields) -> ModalitySpec:
    return ModalitySpec("output", kind, position, streaming=streaming, **fields)


def everything_offering() -> Offering:
    enum = {"type": "enum"}
    media = {"sources": {**enum, "values": ["url", "base64"]}}
    modalities = (
        _input("text", 0, max_prompt_length={"value": 100000, "unit": "token"}),
        _input(
            "image",
            1,
            **media,
            formats={**enum, "values": ["image/png", "image/jpeg", "image/webp", "image/gif"]},
            detail_levels={**enum, "values": ["auto", "low", "high", "original"]},
            references={"type": "integer", "min": 0, "max": 4},
            role={**enum, "values": ["reference", "first_frame", "last_frame"]},
            max_content_size_bytes={"value": 20971520, "unit": "byte"},
        ),
        _input(
            "video",
            2,
            **media,
            formats={**enum, "values": ["video/mp4", "video/webm"]},
            max_duration_seconds={"value": 90.5, "unit": "second"},
        ),
        _input("audio", 3, **media, formats={**enum, "values": ["audio/wav", "audio/mpeg"]}),
        _input(
            "file",
            4,
            formats={**enum, "values": ["application/pdf", "text/markdown"]},
            references={"type": "integer", "max": 10},
            max_content_size_bytes={"value": 1048576},
        ),
        _output(
            "text",
            0,
            streaming=True,
            supported_parameters=DESCRIPTORS,
            passthrough_parameters={"service_tier": {"type": "enum", "values": ["flex"]}},
        ),
        _output("image", 1, streaming=False, supported_parameters={"size": {"type": "unknown"}}),
        _output("video", 2, streaming=True),
        _output("speech", 3, streaming=True),
        _output("transcription", 4, streaming=False),
        _output("embeddings", 5, streaming=True),  # the schema has no streaming for it
        _output("rerank", 6),
        _output("audio", 7, streaming=True),
    )
    prices = (
        Price(TEXT_IN, "prompt", "token", Decimal("0.000003"), overrides=OVERRIDES),
        Price(TEXT_IN, "prompt", "token", Decimal("0.0000015"), utc_start=2200, utc_end=600),
        Price(TEXT_IN, "cached_prompt", "token", Decimal("0.0000003"), ttl_seconds=300),
        Price(TEXT_IN, "cached_prompt", "token", Decimal("0.0000006"), ttl_seconds=3600),
        Price(TEXT_IN, "cached_prompt", "token", Decimal("0.00000015"), implicit=True),
        Price(TEXT_IN, "cache_write", "token", Decimal("0.00000375"), ttl_seconds=300),
        # One prompt per input (the typed identity has no unit): a unit on each.
        Price(IMAGE_IN, "prompt", "image", Decimal("0.0004")),
        Price(("input", "video"), "prompt", "megapixel", Decimal("0.001")),
        Price(("input", "file"), "prompt", "character", Decimal("0.0000001")),
        Price(("input", "audio"), "prompt", "second", Decimal("0.0001")),
        Price(TEXT_OUT, "completion", "token", Decimal("0.000015"), overrides=OVERRIDES[:1]),
        Price(TEXT_OUT, "completion", "token", Decimal("0"), utc_start=0, utc_end=100),
        Price(TEXT_OUT, "internal_reasoning", "token", Decimal("0.000015")),
        Price(("output", "image"), "completion", "image", Decimal("0.04")),
        Price(("output", "video"), "completion", "megapixel", Decimal("0.02")),
        Price(("output", "speech"), "completion", "character", Decimal("0.000015")),
        Price(("output", "rerank"), "completion", "request", Decimal("0.002")),
        Price(ROOT, "request", "request", Decimal("0.0001")),
        Price(ROOT, "web_search", "search", Decimal("0.01"), overrides=OVERRIDES[1:2]),
    )
    capacities = (
        Capacity(TEXT_IN, "prompt", "token", "minute", 2000000),
        Capacity(TEXT_IN, "prompt", "token", "hour", 90000000),
        Capacity(TEXT_IN, "cached_prompt", "token", "day", 10**9),
        Capacity(IMAGE_IN, "prompt", "image", "minute", 600),
        Capacity(TEXT_OUT, "completion", "token", "minute", 400000),
        Capacity(TEXT_OUT, "concurrency", "request", None, 64),
        Capacity(ROOT, "request", "request", "minute", 3000),
        Capacity(ROOT, "web_search", "search", "day", 50000),
        Capacity(ROOT, "concurrency", "request", None, 256),
    )
    return Offering(modalities=modalities, prices=prices, capacities=capacities)


@pytest.fixture
def everything(db):
    """One model that uses every modality kind, unit, qualifier, override form, capacity window
    and descriptor type, and every optional column; and a minimal one beside it."""
    model = build_model(
        "acme/everything",
        name="Everything ✓",
        quantization="mxfp4",
        context_length=200000,
        max_output_length=64000,
        description="Every feature of the typed format.",
        tokenizer="Llama3",
        is_ready=False,
        is_free=True,
        discount_to_user=Decimal("0.15"),
        openrouter_slug="acme/everything",
        deployment_region="eu-west-1",
        compliance={"zdr": True, "hipaa": False, "soc2": True},
        passthrough_parameters={"user": {"type": "unknown"}},
        deprecation_date=date(2027, 3, 31),
        deprecation_hour=9,
    )
    save_model(model, everything_offering())
    model.datacenters.set(
        [
            Datacenter.objects.create(country_code="US", region="us-east-1"),
            Datacenter.objects.create(country_code="US", region="us-west-2"),
            Datacenter.objects.create(country_code="DE"),
        ]
    )
    minimal = build_model(
        "acme/minimal",
        hugging_face_id="",
        supported_sampling_parameters=[],
        supported_features=[],
        price_completion=Decimal(0),
    )
    save_model(
        minimal,
        build_offering(
            supported_sampling_parameters=[], supported_features=[], price_completion=Decimal(0)
        ),
    )
    return model


def test_every_document_of_a_catalog_using_everything_is_valid(everything):
    documents = typed_documents()

    assert [document["id"] for document in documents] == ["acme/everything", "acme/minimal"]
    # Every kind, unit, type and window of the catalog is in the document (none dropped).
    text = json.dumps(documents)
    for value in ("megapixel", "second", "character", "search", "internal_reasoning",
                  "cache_write", "concurrency", "hour", "day", "transcription", "rerank",
                  "embeddings", "speech", "ttl_seconds", "implicit", "utc_start", "allOf",
                  "anyOf", '"not"', "min_items", "lte", "equals"):  # fmt: skip
        assert value in text, value
    descriptor_types = {
        descriptor["type"]
        for output in documents[0]["output_modalities"]
        for descriptor in output["supported_parameters"].values()
    }
    assert descriptor_types == {"range", "integer", "boolean", "enum", "array", "object", "unknown"}
    # And our own reader takes them: each entry's typed identity once per scope, and so on.
    entries, _ = decode_typed(load_typed(published_typed_catalog()[1]))
    assert [entry.model_id for entry in entries] == ["acme/everything", "acme/minimal"]


def test_the_root_fields_map_every_column(everything):
    document = by_id()["acme/everything"]

    assert list(document)[:2] == ["schema_version", "id"]
    assert {key: value for key, value in document.items() if "modalities" not in key} == {
        "schema_version": "2.4",
        "id": "acme/everything",
        "hugging_face_id": "acme/everything",
        "name": "Everything ✓",
        "created": 1736942400,
        "quantization": "mxfp4",
        "tokenizer": "Llama3",
        "description": "Every feature of the typed format.",
        "pricing": [
            {"type": "request", "unit": "request", "cost_usd": "0.0001"},
            {
                "type": "web_search",
                "unit": "search",
                "cost_usd": "0.01",
                "overrides": [OVERRIDES[1]],
            },
        ],
        "capacity": [
            {"type": "request", "unit": "request", "per": "minute", "value": 3000},
            {"type": "web_search", "unit": "search", "per": "day", "value": 50000},
            {"type": "concurrency", "unit": "request", "value": 256},
        ],
        "passthrough_parameters": {"user": {"type": "unknown"}},
        "deprecation_date": "2027-03-31T09:00:00Z",
        "is_ready": False,
        "is_free": True,
        "discount_to_user": 0.15,
        "openrouter": {"slug": "acme/everything"},
        "datacenters": [
            {"country_code": "DE"},
            {"country_code": "US", "region": "us-east-1"},
            {"country_code": "US", "region": "us-west-2"},
        ],
        "deployment_region": "eu-west-1",
        "compliance": {"zdr": True, "hipaa": False, "soc2": True},
    }


def test_modalities_keep_their_positions_and_the_text_ones_carry_the_limits(everything):
    document = by_id()["acme/everything"]
    inputs, outputs = document["input_modalities"], document["output_modalities"]

    assert [m["type"] for m in inputs] == ["text", "image", "video", "audio", "file"]
    assert [m["type"] for m in outputs] == [
        "text", "image", "video", "speech", "transcription", "embeddings", "rerank", "audio"
    ]  # fmt: skip
    # context_length -> the text input's max_context_length; max_output_length -> max_length.
    assert inputs[0]["supported_inputs"] == {
        "max_prompt_length": {"value": 100000, "unit": "token"},
        "max_context_length": {"value": 200000},
    }
    assert outputs[0]["max_length"] == {"value": 64000}
    assert all("max_length" not in output for output in outputs[1:])
    # Streaming where the kind has it (embeddings and rerank do not), and as stored.
    assert [output.get("streaming") for output in outputs] == [
        True, False, True, True, False, None, None, True
    ]  # fmt: skip


def test_prices_keep_every_qualifier_in_a_canonical_order(everything):
    text_input = by_id()["acme/everything"]["input_modalities"][0]

    assert text_input["pricing"] == [
        {"type": "prompt", "unit": "token", "cost_usd": "0.0000015",
         "utc_start": 2200, "utc_end": 600},
        {"type": "prompt", "unit": "token", "cost_usd": "0.000003", "overrides": list(OVERRIDES)},
        {"type": "cached_prompt", "unit": "token", "cost_usd": "0.0000003", "ttl_seconds": 300},
        {"type": "cached_prompt", "unit": "token", "cost_usd": "0.0000006", "ttl_seconds": 3600},
        {"type": "cached_prompt", "unit": "token", "cost_usd": "0.00000015", "implicit": True},
        {"type": "cache_write", "unit": "token", "cost_usd": "0.00000375", "ttl_seconds": 300},
    ]  # fmt: skip
    assert text_input["capacity"] == [
        {"type": "prompt", "unit": "token", "per": "minute", "value": 2000000},
        {"type": "prompt", "unit": "token", "per": "hour", "value": 90000000},
        {"type": "cached_prompt", "unit": "token", "per": "day", "value": 10**9},
    ]


def test_a_stored_zero_price_renders_but_an_unset_one_is_omitted(everything):
    documents = by_id()
    text_output = documents["acme/everything"]["output_modalities"][0]
    minimal = documents["acme/minimal"]

    # A free window is a statement (it undercuts the base price), so it is served.
    assert {"type": "completion", "unit": "token", "cost_usd": "0",
            "utc_start": 0, "utc_end": 100} in text_output["pricing"]  # fmt: skip
    # The flat "0" is no row, and no row is no entry: nothing is zero-stuffed.
    assert minimal["input_modalities"] == [
        {
            "type": "text",
            "supported_inputs": {"max_context_length": {"value": 131072}},
            "pricing": [{"type": "prompt", "unit": "token", "cost_usd": "0.00000015"}],
        }
    ]
    assert minimal["output_modalities"] == [
        {"type": "text", "max_length": {"value": 8192}, "supported_parameters": {}}
    ]
    assert b'"cost_usd":"0"' not in render([minimal])


def test_unset_optional_fields_are_omitted(everything):
    minimal = by_id()["acme/minimal"]

    assert list(minimal) == [
        "schema_version", "id", "name", "created", "quantization",
        "input_modalities", "output_modalities",
    ]  # fmt: skip


def test_a_bare_deprecation_date_stays_a_date(db):
    create_model("acme/leaving", deprecation_date=date(2027, 1, 31))

    assert by_id()["acme/leaving"]["deprecation_date"] == "2027-01-31"


def test_without_a_text_modality_the_limits_have_nowhere_to_go(db):
    create_model(
        "acme/painter",
        input_modalities=["image"],
        output_modalities=["image"],
        price_prompt=Decimal(0),
        price_completion=Decimal(0),
        price_image=Decimal("0.01"),
        supported_sampling_parameters=[],
        supported_features=[],
    )
    document = by_id()["acme/painter"]

    assert document["input_modalities"] == [
        {"type": "image", "pricing": [{"type": "prompt", "unit": "image", "cost_usd": "0.01"}]}
    ]
    assert document["output_modalities"] == [{"type": "image", "supported_parameters": {}}]


@pytest.mark.parametrize(
    ("inputs", "kept"),
    [
        (["text"], {"type": "prompt", "unit": "token", "cost_usd": "0.000001"}),
        (["file"], {"type": "prompt", "unit": "token", "cost_usd": "0.000001"}),
        (["image"], {"type": "prompt", "unit": "image", "cost_usd": "0.01"}),
    ],
)
def test_a_prompt_priced_in_two_units_on_one_input_is_said_in_its_own_unit(db, inputs, kept):
    # A flat file prices prompt tokens and images on whatever input the model has; the typed
    # identity (type and qualifiers) allows one prompt per input, and no image input is
    # invented: an image input keeps its price per image, any other its price per token.
    model = create_model(
        "acme/two-units",
        input_modalities=inputs,
        price_prompt=Decimal("0.000001"),
        price_image=Decimal("0.01"),
    )
    assert (
        len(stored_offering(model).prices) == 3
    )  # prompt in two units on one input, and completion

    (modality,) = by_id()["acme/two-units"]["input_modalities"]
    assert modality["type"] == inputs[0]
    assert modality["pricing"] == [kept]


def test_a_stored_context_limit_keeps_its_unit_and_takes_the_columns_value(db):
    model = build_model("acme/limits", context_length=4096, max_output_length=1024)
    offering = build_offering().replacing(
        modalities=(
            _input("text", 0, max_context_length={"value": 1, "unit": "token"}),
            _output("text", 0),
        )
    )
    save_model(model, offering)

    assert by_id()["acme/limits"]["input_modalities"][0]["supported_inputs"] == {
        "max_context_length": {"value": 4096, "unit": "token"}
    }


def test_entries_the_schema_cannot_say_are_left_out(db):
    # The catalog's constraints allow a windowed request price and an input's concurrency;
    # RequestPricingEntry has no window and InputCapacityEntry no concurrency.
    model = create_model("acme/odd", price_request=Decimal("0.001"))
    offering = stored_offering(model)
    offering = offering.replacing(
        prices=(
            *offering.prices,
            Price(ROOT, "request", "request", Decimal("0.002"), utc_start=100, utc_end=200),
        ),
        capacities=(Capacity(TEXT_IN, "concurrency", "request", None, 8),),
    )
    save_model(model, offering)
    document = by_id()["acme/odd"]

    assert document["pricing"] == [{"type": "request", "unit": "request", "cost_usd": "0.001"}]
    assert "capacity" not in document["input_modalities"][0]


def test_a_model_document_is_the_same_from_rows_as_from_the_published_query(everything):
    model = ServedModel.objects.get(model_id="acme/everything")
    places = [(d.country_code, d.region) for d in model.datacenters.all()]

    document = model_document(model, places, stored_offering(model))
    assert json.loads(dumps(document)) == by_id()["acme/everything"]


def test_the_published_offerings_read_as_rows_equal_the_models_snapshots(everything):
    # published_offerings joins plain rows in Python; the snapshot is catalog_offering_snapshot()
    # (with_offering), which it replaced for the render: the same offering, entry for entry.
    snapshots = {
        model.pk: Offering.from_json(getattr(model, OFFERING_SNAPSHOT))
        for model in with_offering(ServedModel.objects.filter(is_published=True))
    }

    assert published_offerings() == snapshots
    assert snapshots[everything.pk] == everything_offering()


# --- The demo catalog and the flat list ---------------------------------------------------------
def test_the_demo_catalog_is_valid_and_lists_the_flat_models_in_the_same_order(db):
    call_command("load_demo_catalog", verbosity=0)
    flat = json.loads(published_catalog()[1])["data"]
    documents = typed_documents()

    assert len(documents) == 14
    assert [document["id"] for document in documents] == [record["id"] for record in flat]
    for record, document in zip(flat, documents, strict=True):
        assert document["name"] == record["name"]
        assert document["created"] == record["created"]
        assert [m["type"] for m in document["input_modalities"]] == record["input_modalities"]
        assert [m["type"] for m in document["output_modalities"]] == record["output_modalities"]
        assert document.get("datacenters", []) == record["datacenters"]
        text_input = next(m for m in document["input_modalities"] if m["type"] == "text")
        assert text_input["supported_inputs"]["max_context_length"] == {
            "value": record["context_length"]
        }
        # Exactly the flat format's non-zero prices, as entries: no zeros anywhere.
        served_prices = {
            entry["cost_usd"]
            for part in [document, *document["input_modalities"], *document["output_modalities"]]
            for entry in part.get("pricing", [])
        }
        assert served_prices == {price for price in record["pricing"].values() if price != "0"}


def test_a_scheduled_price_is_served_typed_from_its_moment_on(client, db):
    """The typed body, like the flat one, is current until the next scheduled price starts:
    served before it with the old price, then rendered anew with the new one, no write between.
    """
    model = create_model("acme/scheduled", price_prompt=Decimal("0.00000015"))
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    url = f"{ENDPOINT}?schema_version=2.4"

    def prompt() -> str:
        (document,) = json.loads(client.get(url).content)["data"]
        (entry,) = document["input_modalities"][0]["pricing"]
        return entry["cost_usd"]

    # The rows a scheduled change writes (catalog/actions/schedule.py): the price in force ends
    # at the moment, and its successor starts there.
    old = PriceEntry.objects.get(model=model, price_type="prompt")
    old.valid_until = moment
    old.save()
    PriceEntry.objects.create(
        model=model,
        modality=old.modality,
        price_type="prompt",
        unit="token",
        cost_usd=Decimal("0.0000003"),
        valid_from=moment,
    )
    with time_machine.travel(datetime(2026, 12, 31, 23, 0, tzinfo=UTC), tick=False):
        assert published_typed_catalog().valid_until == moment
        assert prompt() == "0.00000015"
        etag = client.get(url)["ETag"]
    with time_machine.travel(moment, tick=False):
        assert prompt() == "0.0000003"
        assert client.get(url)["ETag"] != etag
        assert published_typed_catalog().valid_until is None


def test_the_body_is_compact_utf8_json_sorted_by_id():
    documents = [
        {"id": "é/x", "name": "É"},
        {"id": "a/x", "name": "a"},
        {"id": "Z/x", "name": "z"},
    ]

    expected = '{"data":[{"id":"Z/x","name":"z"},{"id":"a/x","name":"a"},{"id":"é/x","name":"É"}]}'

    assert render(documents) == expected.encode()


def test_an_empty_catalog_is_an_empty_list(db):
    assert published_typed_catalog()[1] == b'{"data":[]}'


def _cold_render_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        published_typed_catalog()
    return len(queries)


def test_a_cold_render_takes_as_many_queries_at_3_models_as_at_30(everything):
    for number in range(1, 2):
        create_model(f"acme/more-{number}")
    at_three = _cold_render_queries()
    for number in range(2, 29):
        model = create_model(f"acme/more-{number}", price_input_cache_read=Decimal("0.0000001"))
        model.datacenters.set(Datacenter.objects.all())

    assert ServedModel.objects.count() == 30
    # 1. the revision, 2. the models with their datacenters, 3.-5. their modalities, prices
    # and capacities
    assert _cold_render_queries() == at_three == 5


# --- export_models --schema-version ------------------------------------------------------------
def export(*arguments: str) -> bytes:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", *arguments, stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def test_export_writes_what_the_typed_endpoint_serves(everything, client):
    body = export("--schema-version", "2.4")

    assert body == published_typed_catalog()[1]
    assert body == client.get(f"{ENDPOINT}?schema_version=2.4").content
    assert "Everything ✓".encode() in body


def test_export_of_the_typed_format_to_a_file_says_which(everything, tmp_path):
    path = tmp_path / "typed.json"
    stdout = io.StringIO()

    call_command("export_models", "--schema-version", "2.4", "-o", str(path), stdout=stdout)

    assert path.read_bytes() == published_typed_catalog()[1]
    assert stdout.getvalue() == (
        f"Wrote the published catalog (schema_version 2.4) to {path} "
        f"({path.stat().st_size} bytes).\n"
    )


def test_export_refuses_an_unknown_schema_version(db):
    with pytest.raises(CommandError, match=r"invalid choice: '2\.3' \(choose from '?2\.4'?\)"):
        call_command("export_models", "--schema-version", "2.3")


def test_export_of_the_typed_format_as_of_a_moment_without_history_is_a_clear_error(db):
    # The typed as-of itself: tests/test_as_of_schedule.py.
    moment = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    with pytest.raises(CommandError, match=r"^The catalog has no recorded history yet\.$"):
        call_command("export_models", "--schema-version", "2.4", "--as-of", moment)


def test_the_validator_refuses_what_the_schema_forbids():
    # The validation above can fail: an output without supported_parameters, a zero-stuffed
    # empty pricing entry and an unknown key are each refused.
    document = {
        "schema_version": "2.4",
        "id": "x",
        "name": "x",
        "input_modalities": [{"type": "text", "pricing": [{"type": "prompt"}]}],
        "output_modalities": [{"type": "text"}],
        "capacity_tpm": 1,
    }
    errors = list(document_validator().iter_errors(document))

    assert {tuple(error.absolute_path) for error in errors} == {
        (),
        ("input_modalities", 0),
        ("output_modalities", 0),
    }


def test_the_discount_is_served_as_the_exact_decimal_never_through_a_float(everything):
    ServedModel.objects.filter(model_id="acme/everything").update(
        discount_to_user=Decimal("0.123456789012345678")
    )

    body = published_typed_catalog()[1]

    # float() would give 0.12345678901234568.
    assert b'"discount_to_user":0.123456789012345678,' in body
