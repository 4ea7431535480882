"""import_models reading typed documents (schema_version 2.4): the examples in tests/data/typed
validated by the official schema, imported, exported typed and flat; every rule a named problem
with its JSON path; all or nothing; a re-import writes nothing (issue 14)."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal
from pathlib import Path
from unittest.mock import ANY

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from jsonschema import Draft202012Validator

from catalog.formats.problems import CatalogFileInvalid
from catalog.formats.strict_json import LONE_SURROGATE
from catalog.formats.typed import schema as typed_schema
from catalog.formats.typed.published import published_typed_catalog
from catalog.formats.typed.schema import field_errors
from catalog.importer import import_catalog
from catalog.models import Datacenter, ServedModel
from catalog.revision import current_revision
from tests.helpers import catalog_file, catalog_state, document_validator, flat, record

TYPED = Path(__file__).parent / "data" / "typed"
EXAMPLES = sorted(path.name for path in TYPED.glob("*.json"))
TEXT_MODEL = "acme/atlas-70b-instruct"


def example(name: str) -> dict:
    return json.loads((TYPED / name).read_text(encoding="utf-8"))["data"][0]


def all_examples() -> list[dict]:
    return [example(name) for name in EXAMPLES]


def canonical(document: dict) -> dict:
    """A document with its unordered arrays (pricing, capacity, datacenters) sorted."""

    def key(item: dict) -> str:
        return json.dumps(item, sort_keys=True)

    result = copy.deepcopy(document)
    for holder in [result, *result["input_modalities"], *result["output_modalities"]]:
        for name in ("pricing", "capacity", "datacenters"):
            if name in holder:
                holder[name] = sorted(holder[name], key=key)
    return result


def export(*args: str) -> list[dict]:
    stdout = io.StringIO()
    call_command("export_models", *args, stdout=stdout)
    return json.loads(stdout.getvalue())["data"]


def import_file(*documents: dict, **kwargs):
    return import_catalog(catalog_file(*documents), **kwargs)


def problems_of(*documents: dict) -> list[tuple[int | None, str | None, str, str]]:
    with pytest.raises(CatalogFileInvalid) as caught:
        import_file(*documents)
    return [
        (problem.index, problem.id, problem.field, problem.reason)
        for problem in caught.value.problems
    ]


def fields_of(*documents: dict) -> list[str]:
    return [field for _, _, field, _ in problems_of(*documents)]


# --- The examples -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_is_valid_against_the_official_schema(name):
    errors = [error.message for error in document_validator().iter_errors(example(name))]
    assert errors == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_round_trips_through_the_catalog(db, name):
    document = example(name)
    result = import_file(document)
    assert result.created == [document["id"]]
    assert [canonical(d) for d in export("--schema-version", "2.4")] == [canonical(document)]


def test_all_examples_in_one_file_round_trip_and_validate(db, tmp_path):
    (tmp_path / "typed.json").write_bytes(catalog_file(*all_examples()))
    stdout = io.StringIO()
    call_command("import_models", str(tmp_path / "typed.json"), stdout=stdout)
    assert f"{len(EXAMPLES)} created, 0 updated, 0 unchanged" in stdout.getvalue()
    exported = export("--schema-version", "2.4")
    for document in exported:
        assert list(document_validator().iter_errors(document)) == []
    assert [canonical(d) for d in exported] == sorted(
        (canonical(d) for d in all_examples()), key=lambda d: d["id"]
    )
    # Regions are datacenters of their own, beside the region-less country.
    assert set(Datacenter.objects.values_list("country_code", "region")) >= {
        ("US", ""),
        ("US", "us-east-1"),
        ("DE", "eu-central-1"),
        ("CA", "ca-central-1"),
    }


def test_the_text_model_exported_flat_follows_the_mapping(db):
    import_file(example("text-model.json"))
    (flat,) = export()
    assert flat == {
        "id": TEXT_MODEL,
        "hugging_face_id": TEXT_MODEL,
        "name": "Atlas 70B Instruct",
        "created": 1767225600,
        "input_modalities": ["text", "image"],
        "output_modalities": ["text"],
        "quantization": "fp8",
        "context_length": 262144,
        "max_output_length": 32768,
        "pricing": {
            "prompt": "0.000003",
            "completion": "0.000015",
            "image": "0.0048",
            "request": "0",
            # The cached price without a lifetime, else the shortest one.
            "input_cache_read": "0.0000003",
            "overrides": [
                {"min_prompt_tokens": 200000, "prompt": "0.000006", "completion": "0.0000225"}
            ],
        },
        "supported_sampling_parameters": ["temperature", "top_p", "seed"],
        "supported_features": ["tools", "structured_outputs", "reasoning"],
        "datacenters": [{"country_code": "DE"}, {"country_code": "US"}],
        "deprecation_date": "2027-06-30T15:00:00Z",
        "description": "A general chat model with prompt caching and a long-context tier.",
        "discount_to_user": 0.05,
        "capacity_tpm": 2000000,
        "openrouter": {"slug": TEXT_MODEL},
    }


def test_peak_hour_prices_export_flat_as_a_window(db):
    import_file(example("peak-hours.json"))
    (flat,) = export()
    assert flat["pricing"] == {
        "prompt": "0.0000001",
        "completion": "0.0000004",
        "image": "0",
        "request": "0.0001",
        "input_cache_read": "0.00000005",
        "overrides": [
            {"utc_start": 1400, "utc_end": 2200, "prompt": "0.0000002", "completion": "0.0000008"}
        ],
    }
    assert flat["capacity_tpm"] == 5000000
    assert flat["deprecation_date"] == "2027-01-31"


def test_a_model_without_a_text_modality_gets_the_smallest_flat_lengths(db):
    import_file(example("transcription.json"))
    model = ServedModel.objects.get(model_id="acme/scribe-large")
    assert (model.context_length, model.max_output_length) == (1, 1)
    (flat,) = export()
    assert (flat["context_length"], flat["max_output_length"]) == (1, 1)
    assert flat["pricing"]["prompt"] == "0"  # a price per second has no flat key
    assert flat["is_free"] is True


def test_an_embeddings_model_without_max_length_takes_its_context_length(db):
    import_file(example("embeddings.json"))
    model = ServedModel.objects.get(model_id="acme/embed-v2")
    assert (model.context_length, model.max_output_length) == (8192, 8192)


def test_prices_and_discount_are_read_exactly(db):
    document = example("text-model.json")
    document["input_modalities"][0]["pricing"][0]["cost_usd"] = "0.000000123456789012345678"
    # A number no binary float holds: read from its text.
    data = catalog_file(document).replace(
        b'"discount_to_user": 0.05', b'"discount_to_user": 0.1234567890123456789'
    )
    assert b"0.1234567890123456789" in data
    import_catalog(data)
    model = ServedModel.objects.get(model_id=TEXT_MODEL)
    assert model.discount_to_user == Decimal("0.1234567890123456789")
    assert flat(model)["price_prompt"] == Decimal("0.000000123456789012345678")


# --- Re-import and replacement ------------------------------------------------------------------
def test_re_importing_the_examples_writes_nothing(db):
    data = catalog_file(*all_examples())
    import_catalog(data)
    revision = current_revision()
    records = {model.pk: model.history.count() for model in ServedModel.objects.all()}
    with CaptureQueriesContext(connection) as queries:
        result = import_catalog(data)
    assert result.unchanged == sorted(d["id"] for d in all_examples())
    assert result.updated == {}
    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert current_revision() == revision
    assert {model.pk: model.history.count() for model in ServedModel.objects.all()} == records


def test_a_typed_document_replaces_the_whole_offering_and_datacenters(db):
    document = example("text-model.json")
    import_file(document)
    changed = copy.deepcopy(document)
    text_input = changed["input_modalities"][0]
    text_input["pricing"] = text_input["pricing"][:1]  # the cache prices are dropped
    del changed["input_modalities"][1]  # the image input too
    changed["datacenters"] = [{"country_code": "US", "region": "us-west-2"}]
    changed["tokenizer"] = "acme-bpe-v4"
    result = import_file(changed, allow_large_price_changes=True)  # prices replaced wholesale
    assert result.updated[TEXT_MODEL] == [
        "input_modalities",
        "pricing.image",
        "pricing.input_cache_read",
        "datacenters",
        "tokenizer",
    ]
    assert [canonical(d) for d in export("--schema-version", "2.4")] == [canonical(changed)]
    model = ServedModel.objects.get(model_id=TEXT_MODEL)
    assert sorted((dc.country_code, dc.region) for dc in model.datacenters.all()) == [
        ("US", "us-west-2")
    ]
    latest = model.history.latest()
    assert latest.history_type == "~"
    assert "tokenizer" in latest.changed_fields
    assert model.history.count() == 2


def test_a_typed_update_keeps_columns_the_document_cannot_say(db):
    document = example("transcription.json")
    import_file(document)
    ServedModel.objects.filter(model_id="acme/scribe-large").update(
        context_length=4000, max_output_length=400
    )
    changed = copy.deepcopy(document)
    changed["name"] = "Scribe Large v2"
    del changed["quantization"]
    assert import_file(changed).updated == {"acme/scribe-large": ["name"]}
    model = ServedModel.objects.get(model_id="acme/scribe-large")
    assert (model.context_length, model.max_output_length, model.quantization) == (
        4000,
        400,
        "fp16",
    )


def test_a_flat_file_still_imports_as_before(db):
    result = import_catalog(catalog_file(record()))
    assert result.created == ["acme/new-model"]


# --- Problems -------------------------------------------------------------------------------
def test_a_mixed_file_is_refused_naming_the_flat_record(db):
    before = catalog_state()
    assert problems_of(example("embeddings.json"), record()) == [
        (
            1,
            "acme/new-model",
            "schema_version",
            "required key missing: record 0 is a typed document, and a file is all typed or "
            "all flat.",
        )
    ]
    assert catalog_state() == before


@pytest.mark.parametrize("version", ["2.5", 2.4])
def test_a_file_of_a_version_no_format_reads_is_refused_naming_the_versions_read(db, version):
    # Not left to the flat list, whose errors would be about keys a typed document never has.
    import_file(example("text-model.json"))
    before = catalog_state()
    documents = [example("embeddings.json"), example("text-model.json")]
    for document in documents:
        document["schema_version"] = version
    with pytest.raises(CatalogFileInvalid) as caught:
        import_file(*documents)
    assert str(caught.value) == (
        f'record 0, id "acme/embed-v2", schema_version, value {json.dumps(version)}: '
        "is not a version this service reads (2.4)."
    )
    assert catalog_state() == before


def test_a_file_mixing_versions_is_read_as_2_4_naming_the_other_at_its_path(db):
    other = example("embeddings.json")
    other["schema_version"] = "2.5"
    assert problems_of(example("text-model.json"), other) == [
        (1, "acme/embed-v2", "schema_version", 'must be "2.4", the one typed version read.')
    ]
    assert not ServedModel.objects.exists()


def test_schema_errors_are_named_by_their_json_path(db):
    document = example("text-model.json")
    document["input_modalities"][0]["pricing"][1]["ttl_seconds"] = 0
    document["output_modalities"][0]["pricing"][0]["cost_usd"] = "1e-6"
    document["surprise"] = True
    found = problems_of(document)
    assert [field for _, _, field, _ in found] == [
        "input_modalities[0].pricing[1].ttl_seconds",
        "output_modalities[0].pricing[0].cost_usd",
        "",
    ]
    assert all(index == 0 and model_id == TEXT_MODEL for index, model_id, _, _ in found)
    assert any("surprise" in reason for _, _, field, reason in found if field == "")


def _broken_variants(value: object, path: tuple = ()):
    """``(path, copy)`` of a document broken at each of its objects (an unknown key) and leaves
    (a value of the wrong type), one place at a time."""
    if isinstance(value, dict):
        yield path, {**value, "surprise": True}
        for key, item in value.items():
            for where, broken in _broken_variants(item, (*path, key)):
                yield where, {**value, key: broken}
    elif isinstance(value, list):
        for position, item in enumerate(value):
            for where, broken in _broken_variants(item, (*path, position)):
                yield where, [*value[:position], broken, *value[position + 1 :]]
    else:
        yield path, [value]


def test_the_schema_check_remembers_valid_values_and_judges_as_the_plain_validator(monkeypatch):
    """``field_errors`` validates a value found valid once only once (a catalog repeats its
    descriptors and entries) and a oneOf told apart by ``type`` in the branch named first. Each
    example broken in one place, after its parts were seen valid, is judged as the plain
    2020-12 validator of the official file judges it, with the same messages."""
    variants = [case for document in all_examples() for case in _broken_variants(document)]
    cases = variants[::5]  # every kind of place in every example, in a few seconds
    # The messages of the plain validator: nothing remembered, every oneOf branch tried.
    monkeypatch.setattr(typed_schema, "_Validator", Draft202012Validator)
    typed_schema._validator.cache_clear()
    expected = [field_errors(broken, "ModelDocumentV2") for _, broken in cases]
    monkeypatch.undo()
    typed_schema._validator.cache_clear()
    for document in all_examples():  # every valid part seen before the broken ones
        assert field_errors(document, "ModelDocumentV2") == []
    for (where, broken), messages in zip(cases, expected, strict=True):
        assert field_errors(broken, "ModelDocumentV2") == messages, where
        assert bool(messages) != document_validator().is_valid(broken), where
    assert sum(bool(messages) for messages in expected) > 50


def test_a_value_found_valid_in_one_place_is_checked_again_in_another():
    document = example("text-model.json")
    assert field_errors(document, "ModelDocumentV2") == []  # its input prices are valid
    output_pricing = document["output_modalities"][0]["pricing"]
    output_pricing.append(document["input_modalities"][0]["pricing"][0])  # a prompt price

    (message,) = field_errors(document, "ModelDocumentV2")
    assert message.startswith(f"output_modalities[0].pricing[{len(output_pricing) - 1}].type: ")


def test_the_schema_holds_what_remembering_valid_values_relies_on():
    # A value's validity depends on the value alone (no unevaluated* or $dynamicRef), and a
    # reference names one target in the one document (no $id or $anchor moves a base).
    text = typed_schema.SCHEMA_PATH.read_text(encoding="utf-8")
    for keyword in ("unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$id", "$anchor"):
        assert f'"{keyword}"' not in text, keyword


def test_the_remembered_valid_values_are_bounded(monkeypatch):
    typed_schema._text_errors.cache_clear()  # values other tests validated are checked anew
    monkeypatch.setattr(typed_schema, "_VALID", typed_schema._ValidValues())
    monkeypatch.setattr(typed_schema._ValidValues, "MAX_TEXT", 100)
    monkeypatch.setattr(typed_schema._ValidValues, "MAX_TOTAL", 1000)
    remembered = typed_schema._VALID
    for document in all_examples():
        assert field_errors(document, "ModelDocumentV2") == []
        assert 0 < remembered.total <= 1000
        assert remembered.total == sum(
            len(text) + remembered.OVERHEAD for _, text in remembered.keys
        )
        assert all(len(text) <= 100 for _, text in remembered.keys)


def test_an_entry_identity_repeated_in_a_scope_is_named(db):
    document = example("text-model.json")
    pricing = document["input_modalities"][0]["pricing"]
    pricing.append({**pricing[1], "cost_usd": "0.0000004"})
    assert problems_of(document) == [
        (
            0,
            TEXT_MODEL,
            "input_modalities[0].pricing[5]",
            "repeats the identity of input_modalities[0].pricing[1] (type, ttl_seconds, "
            "implicit, utc_start, utc_end, utc_days): one entry per identity.",
        )
    ]


def test_a_repeated_capacity_identity_is_named(db):
    document = example("peak-hours.json")
    capacity = document["input_modalities"][0]["capacity"]
    capacity.append({**capacity[0], "value": 1})
    assert fields_of(document) == ["input_modalities[0].capacity[3]"]


def test_malformed_windows_are_named(db):
    document = example("peak-hours.json")
    window = document["input_modalities"][0]["pricing"][1]
    window["utc_end"] = 1475
    document["output_modalities"][0]["pricing"][1].update(utc_start=900, utc_end=900)
    document["output_modalities"][0]["pricing"][0]["utc_days"] = ["monday", "friday", "monday"]
    assert fields_of(document) == [
        "input_modalities[0].pricing[1].utc_end",
        "output_modalities[0].pricing[0].utc_days[2]",
        "output_modalities[0].pricing[1].utc_end",
    ]


def test_units_outside_their_scope_are_named(db):
    document = example("text-model.json")
    document["pricing"].append({"type": "request", "unit": "token", "cost_usd": "0.1"})
    document["input_modalities"][0]["capacity"].append(
        {"type": "concurrency", "unit": "request", "value": 8}
    )
    document["output_modalities"][0]["pricing"][1]["unit"] = "search"
    assert fields_of(document) == [
        "input_modalities[0].capacity[2]",  # 'per' is a required property
        "input_modalities[0].capacity[2].type",
        "input_modalities[0].capacity[2].unit",
        "output_modalities[0].pricing[1].unit",
        "pricing[1].unit",
    ]


def test_values_the_catalog_cannot_store_are_named(db):
    document = example("text-model.json")
    document["input_modalities"][0]["pricing"][0]["cost_usd"] = "0.5"  # above the token ceiling
    document["input_modalities"][0]["pricing"][1]["ttl_seconds"] = 2**40
    document["input_modalities"].append({"type": "text"})  # a second text input
    document["output_modalities"][0]["max_length"]["value"] = 300000  # above the context
    document["datacenters"].append({"country_code": "ZZ"})
    document["datacenters"].append({"country_code": "US", "region": "x" * 65})
    assert problems_of(document) == [
        (0, TEXT_MODEL, path, reason)
        for path, reason in (
            (
                "input_modalities[0].pricing[0].cost_usd",
                "0.5 USD per token is above the ceiling of 0.001 USD per token; it looks like a "
                "price per million tokens.",
            ),
            ("input_modalities[0].pricing[1].ttl_seconds", "must be at most 2147483647 seconds."),
            ("input_modalities[2].type", "repeats input_modalities[0]: one modality per kind."),
            (
                "output_modalities[0].max_length.value",
                "The maximum output length (300000) must not exceed the context length (262144).",
            ),
            ("datacenters[3]", "'ZZ' is not an ISO 3166-1 alpha-2 country code."),
            ("datacenters[4]", "Ensure this value has at most 64 characters (it has 65)."),
        )
    ]


def test_a_new_text_model_without_lengths_is_refused(db):
    document = example("image-generator.json")
    del document["input_modalities"][0]["supported_inputs"]
    del document["quantization"]
    assert problems_of(document) == [
        (
            0,
            "acme/canvas-xl",
            "input_modalities[0].supported_inputs.max_context_length",
            "required for a new model with a text modality: the flat format serves the text "
            "input's max_context_length and the text output's max_length (one stands for the "
            "other).",
        ),
        (
            0,
            "acme/canvas-xl",
            "quantization",
            "a new model needs a quantization (the flat format requires one).",
        ),
    ]


def test_field_rules_apply_and_nothing_is_written(db):
    first, second = example("embeddings.json"), example("speech.json")
    second["name"] = "Voice\u200b1"
    second["hugging_face_id"] = "not a hugging face id"
    before = catalog_state()
    found = problems_of(first, second)
    assert {(index, field) for index, _, field, _ in found} == {(1, "name"), (1, "hugging_face_id")}
    assert catalog_state() == before


def test_the_command_names_every_problem_and_exits_non_zero(db, tmp_path):
    document = example("embeddings.json")
    document["output_modalities"][0]["supported_parameters"]["dimensions"]["type"] = "size"
    (tmp_path / "typed.json").write_bytes(catalog_file(document))
    with pytest.raises(CommandError) as caught:
        call_command("import_models", str(tmp_path / "typed.json"), stdout=io.StringIO())
    message = str(caught.value)
    assert "1 problem, nothing was imported" in message
    assert (
        'record 0, id "acme/embed-v2", output_modalities[0].supported_parameters.dimensions.type'
        in message
    )
    assert not ServedModel.objects.exists()


def test_the_command_refuses_a_file_of_a_version_no_format_reads(db, tmp_path):
    document = example("embeddings.json")
    document["schema_version"] = "2.5"
    (tmp_path / "typed.json").write_bytes(catalog_file(document))
    with pytest.raises(CommandError) as caught:
        call_command("import_models", str(tmp_path / "typed.json"), stdout=io.StringIO())
    assert str(caught.value).splitlines()[1:] == [
        'record 0, id "acme/embed-v2", schema_version, value "2.5": '
        "is not a version this service reads (2.4)."
    ]
    assert not ServedModel.objects.exists()


def test_dry_run_of_a_typed_file_writes_nothing(db):
    before = catalog_state()
    result = import_file(*all_examples(), dry_run=True)
    assert len(result.created) == len(EXAMPLES)
    assert catalog_state() == before


# --- The catalog's own typed export -------------------------------------------------------------
def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_the_catalog_s_own_typed_export_re_imports_as_a_no_op(db):
    call_command("load_demo_catalog", stdout=io.StringIO())
    body = published_typed_catalog()[1]
    before = catalog_state()
    with CaptureQueriesContext(connection) as queries:
        result = import_catalog(body)
    assert result.updated == {}
    assert _writes(queries) == []
    assert catalog_state() == before


def test_the_typed_export_imported_into_an_empty_catalog_serves_the_same_documents(db):
    call_command("load_demo_catalog", stdout=io.StringIO())
    body = published_typed_catalog()[1]
    ServedModel.objects.all().delete()
    import_catalog(body)
    assert [canonical(d) for d in json.loads(published_typed_catalog()[1])["data"]] == [
        canonical(d) for d in json.loads(body)["data"]
    ]


def test_a_flat_image_price_without_an_image_input_round_trips_through_the_typed_format(db):
    """The flat mapping stores it as the text input's prompt per image, beside the prompt per
    token: the typed format says one prompt, per token, and invents no image input (the model
    takes no images, so OpenRouter bills none). Typed export, import into an empty catalog and
    flat export then give the first flat export, but for that image price
    (docs/architecture/formats.md, "The typed rendering")."""
    window = {"utc_start": 900, "utc_end": 1700, "prompt": "0.0000003", "image": "0.004"}
    flat_record = record(prices={"image": "0.002", "overrides": [window]})
    import_file(flat_record)
    (first_flat,) = export()
    assert first_flat["pricing"]["image"] == "0.002"
    assert first_flat["pricing"]["overrides"] == [window]

    body = published_typed_catalog()[1]
    (document,) = json.loads(body)["data"]
    assert document_validator().is_valid(document)
    assert [m["type"] for m in document["input_modalities"]] == ["text"]
    assert document["input_modalities"][0]["pricing"] == [
        {"type": "prompt", "unit": "token", "cost_usd": "0.0000003", "utc_start": 900,
         "utc_end": 1700},
        {"type": "prompt", "unit": "token", "cost_usd": "0.00000015"},
    ]  # fmt: skip

    # Over the flat-imported model, the import drops that price: the price guard asks first.
    assert problems_of(json.loads(body)["data"][0]) == [(0, "acme/new-model", "pricing.image", ANY)]
    ServedModel.objects.all().delete()
    import_catalog(body)
    assert published_typed_catalog()[1] == body
    (second_flat,) = export()
    assert second_flat == {
        **first_flat,
        "pricing": {
            **first_flat["pricing"],
            "image": "0",
            "overrides": [{"utc_start": 900, "utc_end": 1700, "prompt": "0.0000003"}],
        },
    }


def test_a_typed_document_keeps_an_output_length_it_cannot_say(catalog):
    """A reranker's output has no max_length in the typed format: its flat
    max_output_length stays as stored, within the context length the document gives."""
    reranker = next(
        d for d in json.loads(published_typed_catalog()[1])["data"] if d["id"] == "acme/reranker"
    )
    assert ServedModel.objects.get(model_id="acme/reranker").max_output_length == 1
    reranker["input_modalities"][0]["supported_inputs"]["max_context_length"]["value"] = 4096
    assert import_file(reranker).updated == {
        "acme/reranker": ["context_length", "input_modalities"]
    }
    model = ServedModel.objects.get(model_id="acme/reranker")
    assert (model.context_length, model.max_output_length) == (4096, 1)


def test_repeated_keys_nul_and_lone_surrogates_are_named(db):
    document = example("embeddings.json")
    document["description"] = "nul\u0000here"
    data = catalog_file(document).replace(
        b'"cost_usd": "0.00000002"', b'"cost_usd": "0.00000002", "cost_usd": "0.00000003"'
    )
    data = data.replace(b'"name": "Embed v2"', b'"name": "Embed \\ud800"')
    with pytest.raises(CatalogFileInvalid) as caught:
        import_catalog(data)
    assert [(problem.field, problem.reason) for problem in caught.value.problems] == [
        ("name", LONE_SURROGATE),
        (
            "input_modalities[0].pricing[0].cost_usd",
            "the key appears more than once in the object.",
        ),
        ("description", "must not contain the NUL character (\\u0000)."),
    ]
    assert not ServedModel.objects.exists()


def test_prune_with_a_typed_file_unpublishes_the_models_it_leaves_out(db):
    import_file(*all_examples())
    result = import_file(example("speech.json"), prune=True)
    assert result.unchanged == ["acme/voice-1"]
    assert result.pruned == sorted(d["id"] for d in all_examples() if d["id"] != "acme/voice-1")
    assert [d["id"] for d in export("--schema-version", "2.4")] == ["acme/voice-1"]
    assert ServedModel.objects.count() == len(EXAMPLES)  # unpublished, never deleted
