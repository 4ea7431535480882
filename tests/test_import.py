"""manage.py import_models and the catalog.importer service behind it (issue #5)."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.actions.served_models import save_model
from catalog.formats.flat.names import PRICING_KEYS
from catalog.formats.flat.published import published_catalog
from catalog.formats.problems import CatalogFileInvalid
from catalog.importer import BATCH_SIZE, import_catalog
from catalog.models import Datacenter, ServedModel
from catalog.offering import stored_offering
from catalog.revision import current_revision
from tests.helpers import DELETE, ENDPOINT, NEW_RECORD, catalog_file, catalog_state, flat, record

DATA = Path(__file__).parent / "data"


def served_records() -> list[dict]:
    return json.loads(published_catalog()[1])["data"]


@pytest.fixture
def saved_catalog(catalog):
    """The shared catalog as the admin saves it: cleaned, so its lists are in canonical order."""
    for model in catalog:
        model.full_clean()
        save_model(model)
    return catalog


@pytest.fixture
def run_import(tmp_path, monkeypatch):
    """Run import_models on ``data`` written to catalog.json; return (stdout, stderr)."""
    monkeypatch.chdir(tmp_path)

    def run(data: bytes, *args: str) -> tuple[str, str]:
        (tmp_path / "catalog.json").write_bytes(data)
        stdout, stderr = io.StringIO(), io.StringIO()
        call_command("import_models", "catalog.json", *args, stdout=stdout, stderr=stderr)
        return stdout.getvalue(), stderr.getvalue()

    return run


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


VALID = catalog_file(NEW_RECORD)

BAD_INPUTS = [
    # Prices
    ("price as a JSON number", catalog_file(record({"prompt": 1.5e-07})), "pricing.prompt"),
    ("price with a dollar sign", catalog_file(record({"prompt": "$0.00000015"})), "pricing.prompt"),
    ("negative price", catalog_file(record({"completion": "-0.0000006"})), "pricing.completion"),
    ("price NaN as a string", catalog_file(record({"prompt": "NaN"})), "pricing.prompt"),
    (
        "price NaN as a literal",
        catalog_file(record({"prompt": float("nan")})),
        "pricing.prompt, value NaN",
    ),
    ("price in exponent notation", catalog_file(record({"prompt": "1.5e-7"})), "0.00000015"),
    ("price per million tokens", catalog_file(record({"prompt": "0.15"})), "per million"),
    ("price with spaces", catalog_file(record({"request": " 0.01"})), "pricing.request"),
    ("pricing not an object", catalog_file(record(pricing="free")), "pricing"),
    ("missing price", catalog_file(record({"image": DELETE})), "pricing.image"),
    # Closed value lists
    ("unknown quantization", catalog_file(record(quantization="fp7")), "quantization"),
    ("unknown feature", catalog_file(record(supported_features=["telepathy"])), "telepathy"),
    (
        "unknown sampling parameter",
        catalog_file(record(supported_sampling_parameters=["mood"])),
        "supported_sampling_parameters",
    ),
    ("unknown input modality", catalog_file(record(input_modalities=["smell"])), "smell"),
    (
        "unknown output modality",
        catalog_file(record(output_modalities=["text", "hologram"])),
        "output_modalities",
    ),
    ("no input modality", catalog_file(record(input_modalities=[])), "input_modalities"),
    ("modalities not a list", catalog_file(record(input_modalities="text")), "input_modalities"),
    # Datacenters
    (
        "alpha-3 country code",
        catalog_file(record(datacenters=[{"country_code": "USA"}])),
        "datacenters[0].country_code",
    ),
    (
        "UK instead of GB",
        catalog_file(record(datacenters=[{"country_code": "DE"}, {"country_code": "UK"}])),
        "datacenters[1].country_code",
    ),
    ("EU is not a country", catalog_file(record(datacenters=[{"country_code": "EU"}])), "'EU'"),
    ("datacenter as a bare code", catalog_file(record(datacenters=["US"])), "datacenters[0]"),
    # Lengths
    (
        "max_output_length above context_length",
        catalog_file(record(context_length=8192, max_output_length=16384)),
        "max_output_length",
    ),
    ("zero context_length", catalog_file(record(context_length=0)), "context_length"),
    ("zero max_output_length", catalog_file(record(max_output_length=0)), "max_output_length"),
    ("length as a string", catalog_file(record(max_output_length="8192")), "max_output_length"),
    ("length as a float", catalog_file(record(context_length=131072.0)), "context_length"),
    ("length as a boolean", catalog_file(record(context_length=True)), "context_length"),
    # created
    ("created in milliseconds", catalog_file(record(created=1736942400000)), "milliseconds"),
    ("created as a string", catalog_file(record(created="1736942400")), "created"),
    # Deprecation date
    ("impossible date", catalog_file(record(deprecation_date="2026-02-30")), "deprecation_date"),
    ("date with slashes", catalog_file(record(deprecation_date="2026/01/01")), "YYYY-MM-DD"),
    ("date without dashes", catalog_file(record(deprecation_date="20260101")), "YYYY-MM-DD"),
    ("null date", catalog_file(record(deprecation_date=None)), "deprecation_date"),
    # Identity and text
    ("id with a space", catalog_file(record(id="acme/new model")), "id"),
    ("empty id", catalog_file(record(id="")), "cannot be blank"),
    ("id not a string", catalog_file(record(id=42)), "must be a string"),
    ("id too long", catalog_file(record(id="a" * 201)), "at most 200 characters"),
    ("name with a control character", catalog_file(record(name="New\u0007")), "name"),
    ("malformed Hugging Face id", catalog_file(record(hugging_face_id="new-model")), "owner/name"),
    ("missing required key", catalog_file(record(quantization=DELETE)), "quantization"),
    (
        "duplicate ids",
        catalog_file(record(), record(name="Again")),
        'record 1, id "acme/new-model", id, value "acme/new-model": duplicate ID: record 0',
    ),
    (
        "repeated key in a record",
        _replace_once(VALID, b'"quantization": "fp8"', b'"quantization": "fp8", "quantization": 1'),
        "more than once",
    ),
    ("NaN in an unknown key", catalog_file(record(extra=float("inf"))), "extra"),
    # The file as a whole
    ("a list at the top level", json.dumps([NEW_RECORD]).encode(), "top level"),
    ("data is null", b'{"data": null}', "data, value null"),
    ("no data key", b'{"models": []}', "data: required key missing"),
    ("a model that is not an object", b'{"data": ["acme/new-model"]}', "record 0"),
    ("line comment", VALID[:-1] + b" // the models\n}", "comments"),
    ("block comment", b"/* models */ " + VALID, "comments"),
    ("truncated file", VALID[: len(VALID) // 2], "truncated"),
    ("truncated inside a string", VALID[:40], "truncated"),
    ("empty file", b"", "empty"),
    ("Latin-1 bytes", catalog_file(record(name="Modèle")).replace("è".encode(), b"\xe8"), "offset"),
    ("UTF-16", catalog_file(record()).decode().encode("utf-16"), "not UTF-8"),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=name) for name, data, expected in BAD_INPUTS],
)
def test_bad_input_is_refused_with_its_field_and_nothing_changes(
    saved_catalog, run_import, data, expected
):
    before = catalog_state()
    with pytest.raises(CommandError) as raised:
        run_import(data)
    message = str(raised.value)
    assert expected in message
    assert "nothing was imported" in message
    assert "Traceback" not in message
    assert catalog_state() == before


def test_non_utf8_bytes_are_reported_at_their_byte_offset(db, run_import):
    data = b'{"data": [{"name": "Mod\xe8le"}]}'
    with pytest.raises(CommandError, match=r"byte 0xe8 at byte offset 23"):
        run_import(data)


def test_truncated_json_is_reported_at_its_line_and_column(db, run_import):
    data = b'{\n  "data": [\n    {"id": "acme/x",'
    with pytest.raises(CommandError, match=r"line 3, column 21: Expecting property name"):
        run_import(data)


def test_every_problem_in_a_file_is_reported_one_per_line(saved_catalog, run_import):
    before = catalog_state()
    with pytest.raises(CommandError) as raised:
        run_import((DATA / "import_many_problems.json").read_bytes())
    header, *lines = str(raised.value).splitlines()
    assert header.endswith("13 problems, nothing was imported.")
    where = [line.split(", value")[0].split(":")[0] for line in lines]
    assert where == [
        'record 0, id "acme/first", created',
        'record 0, id "acme/first", quantization',
        'record 0, id "acme/first", max_output_length',
        'record 0, id "acme/first", pricing.prompt',
        'record 0, id "acme/first", pricing.completion',
        'record 0, id "acme/first", datacenters[0].country_code',
        'record 1, id "acme/second", context_length',
        'record 1, id "acme/second", pricing.prompt',
        'record 1, id "acme/second", supported_features',
        'record 1, id "acme/second", datacenters[0].country_code',
        'record 1, id "acme/second", deprecation_date',
        'record 2, id "acme/first", id',
        'record 2, id "acme/first", pricing.input_cache_read',
    ]
    assert catalog_state() == before


def test_valid_oddities_import_with_one_notice_naming_the_unknown_keys(saved_catalog, run_import):
    data = b"\xef\xbb\xbf" + (DATA / "import_oddities.json").read_bytes()  # a leading BOM
    # The file prices images on a model that had none: from zero, allowed on purpose.
    stdout, stderr = run_import(data, "--allow-large-price-changes")
    assert stdout == "Imported catalog.json: 1 created, 1 updated, 0 unchanged, 0 pruned.\n"
    # description is a key of the current flat revision: read, not ignored.
    assert stderr.splitlines() == [
        "Notice: ignored unknown keys: data[].datacenters[].city, data[].pricing.discount, meta, "
        "object."
    ]
    served = {entry["id"]: entry for entry in served_records()}
    assert served["acme/Modèle-模型"] == {
        "id": "acme/Modèle-模型",
        "hugging_face_id": "",
        "name": "Modèle ✓ 模型 🚀",
        "created": 1736942400,
        "input_modalities": ["text", "image"],
        "output_modalities": ["text"],
        "quantization": "bf16",
        "context_length": 32768,
        "max_output_length": 32768,
        "pricing": {
            "prompt": "0.0000000208333333333333",
            "completion": "0.000001",
            "image": "0",
            "request": "0",
            "input_cache_read": "0.00000001",
        },
        "supported_sampling_parameters": ["temperature", "seed"],
        "supported_features": ["tools", "reasoning"],
        "datacenters": [],
        "deprecation_date": "2027-03-31",
        "description": "Extra keys from a richer feed are ignored.",
    }
    assert served["meta-llama/Llama-3.3-70B-Instruct"]["datacenters"] == [
        {"country_code": "JP"},
        {"country_code": "US"},
    ]
    assert Datacenter.objects.filter(country_code="JP").exists()


def _changed_catalog() -> bytes:
    """The fixture catalog as served, with one price changed, one model dropped, one added."""
    records = served_records()
    llama = next(entry for entry in records if entry["id"].startswith("meta-llama/"))
    llama["pricing"]["prompt"] = "0.0000002"
    llama["datacenters"] = [{"country_code": "FR"}, {"country_code": "US"}]
    records = [entry for entry in records if entry["id"] != "acme/reranker"]
    return catalog_file(*records, NEW_RECORD)


def test_dry_run_writes_nothing_and_reports_the_counts_of_the_real_run(saved_catalog, run_import):
    data = _changed_catalog()
    before = catalog_state()

    dry_stdout, _ = run_import(data, "--dry-run", "--prune")
    assert catalog_state() == before
    stdout, _ = run_import(data, "--prune")

    counts = "1 created, 1 updated, 0 unchanged, 1 pruned."
    assert dry_stdout == f"Dry run of catalog.json, nothing written: {counts}\n"
    assert stdout == f"Imported catalog.json: {counts}\n"
    assert catalog_state() != before


def test_verbosity_2_lists_each_model_with_its_changed_fields(saved_catalog, run_import):
    stdout, _ = run_import(_changed_catalog(), "--prune", "-v", "2")
    assert stdout.splitlines()[:3] == [
        "  created     acme/new-model",
        "  updated     meta-llama/Llama-3.3-70B-Instruct: pricing.prompt, datacenters",
        "  unpublished acme/reranker",
    ]


def test_json_summary_parses_and_lists_the_changes(saved_catalog, run_import):
    stdout, _ = run_import(_changed_catalog(), "--format", "json")
    assert json.loads(stdout) == {
        "dry_run": False,
        "counts": {"created": 1, "updated": 1, "unchanged": 0, "pruned": 0},
        "created": ["acme/new-model"],
        "updated": {"meta-llama/Llama-3.3-70B-Instruct": ["pricing.prompt", "datacenters"]},
        "unchanged": [],
        "pruned": [],
        "ignored_keys": {},
    }


def test_changed_datacenters_are_relinked_and_a_new_country_is_created(saved_catalog, run_import):
    run_import(_changed_catalog())
    llama = ServedModel.objects.get(model_id="meta-llama/Llama-3.3-70B-Instruct")
    assert sorted(dc.country_code for dc in llama.datacenters.all()) == ["FR", "US"]
    assert flat(llama)["price_prompt"] == Decimal("0.0000002")
    # Without --prune a model absent from the file is left as it was.
    assert ServedModel.objects.get(model_id="acme/reranker").is_published


def test_reimporting_the_same_file_executes_no_write_and_keeps_the_revision(
    saved_catalog, run_import
):
    data = _changed_catalog()
    run_import(data, "--prune")
    revision = current_revision()

    with CaptureQueriesContext(connection) as queries:
        stdout, _ = run_import(data, "--prune")

    assert stdout == "Imported catalog.json: 0 created, 0 updated, 2 unchanged, 0 pruned.\n"
    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert current_revision() == revision


def _places(model_id: str) -> list[tuple[str, str]]:
    model = ServedModel.objects.get(model_id=model_id)
    return sorted((dc.country_code, dc.region) for dc in model.datacenters.all())


def test_a_flat_re_import_keeps_regional_links_of_listed_countries(saved_catalog, run_import):
    """The flat format lists countries and cannot say regions: a regional link of a country
    the file still lists is kept, those of a country it no longer lists are dropped, and a new
    country is linked without a region (the importer used to fail with a KeyError)."""
    llama_id = "meta-llama/Llama-3.3-70B-Instruct"
    llama = ServedModel.objects.get(model_id=llama_id)
    llama.datacenters.add(
        Datacenter.objects.create(country_code="US", region="us-east-1"),
        Datacenter.objects.create(country_code="DE", region="eu-central-1"),
    )
    records = served_records()
    assert _places(llama_id) == [
        ("DE", ""),
        ("DE", "eu-central-1"),
        ("US", ""),
        ("US", "us-east-1"),
    ]

    # Unchanged: nothing written, the regions stay.
    stdout, _ = run_import(catalog_file(*records))
    assert "0 updated, 2 unchanged" in stdout
    assert _places(llama_id) == [
        ("DE", ""),
        ("DE", "eu-central-1"),
        ("US", ""),
        ("US", "us-east-1"),
    ]

    llama_record = next(r for r in records if r["id"] == llama_id)
    llama_record["datacenters"] = [{"country_code": "US"}, {"country_code": "FR"}]
    stdout, _ = run_import(catalog_file(*records), "-v", "2")
    assert f"updated     {llama_id}: datacenters" in stdout
    assert _places(llama_id) == [("FR", ""), ("US", ""), ("US", "us-east-1")]
    latest = ServedModel.objects.get(model_id=llama_id).history.latest()
    assert latest.changed_fields == ["datacenters"]
    assert next(r for r in served_records() if r["id"] == llama_id)["datacenters"] == [
        {"country_code": "FR"},
        {"country_code": "US"},
    ]


def test_a_country_linked_only_through_a_region_is_listed_and_kept(saved_catalog, run_import):
    reranker_id = "acme/reranker"
    reranker = ServedModel.objects.get(model_id=reranker_id)
    reranker.datacenters.add(Datacenter.objects.create(country_code="JP", region="ap-northeast-1"))
    records = served_records()
    assert next(r for r in records if r["id"] == reranker_id)["datacenters"] == [
        {"country_code": "JP"}
    ]
    stdout, _ = run_import(catalog_file(*records))
    assert "0 updated, 2 unchanged" in stdout
    assert _places(reranker_id) == [("JP", "ap-northeast-1")]


@pytest.fixture
def validated_ids(monkeypatch):
    """The IDs of the models held against the field rules from now on (they still are)."""
    ids = []
    full_clean = ServedModel.full_clean

    def counting_full_clean(self, *args, **kwargs):
        ids.append(self.model_id)
        return full_clean(self, *args, **kwargs)

    monkeypatch.setattr(ServedModel, "full_clean", counting_full_clean)
    return ids


def test_reimporting_an_unchanged_catalog_validates_no_record(db, validated_ids):
    records = _many_records(3, "same")
    import_catalog(catalog_file(*records))
    assert validated_ids == ["same/model-0000", "same/model-0001", "same/model-0002"]
    validated_ids.clear()

    result = import_catalog(catalog_file(*records))

    assert len(result.unchanged) == 3
    assert validated_ids == []


def test_changed_records_are_still_validated_and_each_problem_named(db, validated_ids):
    records = _many_records(4, "same")
    import_catalog(catalog_file(*records))
    before = catalog_state()
    validated_ids.clear()
    records[1]["quantization"] = "fp7"
    records[3]["max_output_length"] = records[3]["context_length"] + 1

    with pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(catalog_file(*records))

    assert [(problem.id, problem.field) for problem in raised.value.problems] == [
        ("same/model-0001", "quantization"),
        ("same/model-0003", "max_output_length"),
    ]
    assert validated_ids == ["same/model-0001", "same/model-0003"]
    assert catalog_state() == before


def test_a_record_equal_to_a_stored_row_is_accepted_unchanged_even_under_a_stricter_rule(
    db, settings
):
    data = catalog_file(record({"prompt": "0.00005"}))
    import_catalog(data)
    # The ceiling lowered after the row was stored: the row breaks today's rule.
    settings.CATALOG_MAX_PRICE_PER_TOKEN = Decimal("0.00001")
    before = catalog_state()

    result = import_catalog(data)

    assert result.unchanged == ["acme/new-model"]
    assert catalog_state() == before
    # Changing anything else in the record holds all of it against today's rules.
    with pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(catalog_file(record({"prompt": "0.00005"}, name="Renamed")))
    assert [problem.field for problem in raised.value.problems] == ["pricing.prompt"]
    assert catalog_state() == before


def test_a_file_that_breaks_the_format_reports_the_rules_problems_too_without_a_query(
    saved_catalog, django_assert_num_queries
):
    data = catalog_file(
        record(id="acme/format", created="1736942400"),
        record(id="acme/rule", quantization="fp7"),
    )
    with django_assert_num_queries(0), pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(data)
    assert [(problem.id, problem.field) for problem in raised.value.problems] == [
        ("acme/format", "created"),
        ("acme/rule", "quantization"),
    ]


def test_prices_compare_as_decimals_not_as_text(saved_catalog):
    records = served_records()
    for entry in records:
        # "0.00000015" becomes "0.000000150", "0" becomes "0.000".
        entry["pricing"] = {
            key: value + "0" if "." in value else value + ".000"
            for key, value in entry["pricing"].items()
        }
    result = import_catalog(catalog_file(*records))
    assert result.updated == {}
    assert len(result.unchanged) == 2


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_a_record_served_alike_in_other_spellings_is_unchanged(saved_catalog):
    # Compared as served, not as written: lists in any order and repeated, datacenters too.
    records = served_records()
    for entry in records:
        for key in ("input_modalities", "supported_sampling_parameters", "supported_features"):
            entry[key] = [*reversed(entry[key]), *entry[key]]
        entry["datacenters"] = [*reversed(entry["datacenters"]), *entry["datacenters"]]
    revision = current_revision()

    with CaptureQueriesContext(connection) as queries:
        result = import_catalog(catalog_file(*records))

    assert result.updated == {}
    assert len(result.unchanged) == 2
    assert _writes(queries) == []
    assert current_revision() == revision


def test_a_stored_time_with_microseconds_compares_as_served(saved_catalog):
    # Served in whole seconds: the file cannot say the microseconds, so they are no change.
    llama = ServedModel.objects.get(model_id="meta-llama/Llama-3.3-70B-Instruct")
    llama.created = llama.created.replace(microsecond=250_000)
    llama.save()
    before = catalog_state()

    result = import_catalog(published_catalog()[1])

    assert result.updated == {}
    assert len(result.unchanged) == 2
    assert catalog_state() == before


def test_a_key_left_out_of_a_record_clears_the_stored_value(saved_catalog):
    records = served_records()
    reranker = next(entry for entry in records if entry["id"] == "acme/reranker")
    del reranker["deprecation_date"]

    result = import_catalog(catalog_file(*records))

    assert result.updated == {"acme/reranker": ["deprecation_date"]}
    assert ServedModel.objects.get(model_id="acme/reranker").deprecation_date is None


def test_each_changed_field_of_a_stored_model_is_found(saved_catalog):
    # One change per record key (and price) to the served catalog, each on its own import.
    changes = {
        "hugging_face_id": ("hugging_face_id", "acme/other"),
        "name": ("name", "Other name"),
        "created": ("created", 1736942401),
        "input_modalities": ("input_modalities", ["text", "image"]),
        "output_modalities": ("output_modalities", ["text", "embeddings"]),
        "quantization": ("quantization", "bf16"),
        "context_length": ("context_length", 131073),
        "max_output_length": ("max_output_length", 8191),
        "supported_sampling_parameters": ("supported_sampling_parameters", ["seed"]),
        "supported_features": ("supported_features", ["reasoning"]),
        "datacenters": ("datacenters", [{"country_code": "FR"}]),
        "deprecation_date": ("deprecation_date", "2028-01-01"),
        **{f"pricing.{key}": (key, "0.00000123") for key in PRICING_KEYS},
    }
    for name, (key, value) in changes.items():
        records = served_records()
        llama = next(entry for entry in records if entry["id"].startswith("meta-llama/"))
        (llama["pricing"] if name.startswith("pricing.") else llama)[key] = value

        # Some prices go from or to zero: allowed here, the guard is tests/test_price_guard.py.
        result = import_catalog(catalog_file(*records), allow_large_price_changes=True)

        assert result.updated == {"meta-llama/Llama-3.3-70B-Instruct": [name]}, name
        served = next(entry for entry in served_records() if entry["id"].startswith("meta-llama/"))
        assert served == llama, name


def test_a_no_op_file_with_one_bad_value_is_refused_as_into_an_empty_catalog(db):
    records = _many_records(3, "same")
    import_catalog(catalog_file(*records))
    before = catalog_state()
    records[2]["pricing"]["prompt"] = 1.5e-07
    records[1]["supported_features"] = ["tools", "telepathy"]

    with pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(catalog_file(*records))

    assert [(problem.id, problem.field, problem.reason) for problem in raised.value.problems] == [
        ("same/model-0001", "supported_features", "Value 'telepathy' is not a valid choice."),
        (
            "same/model-0002",
            "pricing.prompt",
            'must be a string in plain decimal notation, like "0.00000015", not the JSON '
            "number 1.5e-07.",
        ),
    ]
    assert catalog_state() == before


def test_a_no_op_re_import_builds_no_model_and_no_offering(db, monkeypatch):
    records = _many_records(5, "same")
    import_catalog(catalog_file(*records))
    built = []
    init = ServedModel.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs.get("model_id"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(ServedModel, "__init__", counting_init)

    result = import_catalog(catalog_file(*records))

    assert len(result.unchanged) == 5
    # Neither from the file (no record is a model) nor from the database (rows are read).
    assert built == []


def test_new_models_offering_rows_are_written_exactly_and_under_their_modalities(db):
    # The offering rows go in as one JSON document per table: exact decimals (24 places), JSON
    # descriptors and the modality each price belongs to must survive the trip.
    prices = {"prompt": "0.000000000000000000000001", "image": "12.5", "request": "0.25"}
    file_record = record(
        prices, input_modalities=["image", "text"], output_modalities=["text"], id="acme/exact"
    )
    import_catalog(catalog_file(file_record))

    model = ServedModel.objects.get(model_id="acme/exact")
    stored = {
        (price.scope, price.price_type, price.unit): price.cost_usd
        for price in stored_offering(model).prices
    }
    assert stored == {
        (("input", "text"), "prompt", "token"): Decimal("1E-24"),
        (("output", "text"), "completion", "token"): Decimal("0.0000006"),
        (("input", "image"), "prompt", "image"): Decimal("12.5"),
        ((None, None), "request", "request"): Decimal("0.25"),
    }
    [output] = stored_offering(model).modalities[2:]
    assert output.supported_parameters["tools"] == {"type": "boolean"}
    assert set(output.supported_parameters) == {"temperature", "top_p", "tools"}
    [served] = served_records()
    assert served["pricing"] == {**file_record["pricing"], "prompt": "0.000000000000000000000001"}


def test_prune_unpublishes_absent_models_and_deletes_nothing(saved_catalog, run_import):
    count = ServedModel.objects.count()
    run_import(catalog_file(NEW_RECORD), "--prune")

    assert ServedModel.objects.count() == count + 1
    published = set(
        ServedModel.objects.filter(is_published=True).values_list("model_id", flat=True)
    )
    assert published == {"acme/new-model"}
    assert [entry["id"] for entry in served_records()] == ["acme/new-model"]


def test_prune_refuses_an_empty_file_instead_of_unpublishing_everything(saved_catalog, run_import):
    before = served_records()
    with pytest.raises(CommandError, match=r"data.*empty; --prune would unpublish every model"):
        run_import(catalog_file(), "--prune")
    assert served_records() == before


def test_a_draft_named_in_the_file_is_published(saved_catalog, run_import):
    draft = record(id="acme/secret-draft", hugging_face_id="acme/secret-draft", name="secret-draft")
    draft["pricing"]["prompt"] = "0.00000015"
    stdout, _ = run_import(catalog_file(draft), "-v", "2")
    assert "  updated     acme/secret-draft: published" in stdout.splitlines()
    assert ServedModel.objects.get(model_id="acme/secret-draft").is_published


def test_the_endpoint_serves_the_imported_catalog_on_the_next_request(
    saved_catalog, client, run_import
):
    before = client.get(ENDPOINT)
    assert "acme/new-model" not in before.content.decode()

    run_import(catalog_file(NEW_RECORD))

    after = client.get(ENDPOINT)
    assert after.status_code == 200
    assert after.content == published_catalog()[1]
    assert after["ETag"] != before["ETag"]
    assert "acme/new-model" in after.content.decode()


def test_with_a_shared_cache_a_datacenter_only_change_is_seen_on_the_next_request(
    saved_catalog, client, redis_url, run_import, django_capture_on_commit_callbacks
):
    records = served_records()
    records[0]["datacenters"] = [{"country_code": "SE"}]
    client.get(ENDPOINT)  # the revision and body are now in Redis

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_import(catalog_file(*records))

    assert callbacks, "the import must announce the change after commit"
    assert b'"country_code":"SE"' in client.get(ENDPOINT).content


def _many_records(count: int, prefix: str) -> list[dict]:
    return [
        record(id=f"{prefix}/model-{number:04}", hugging_face_id=f"{prefix}/model-{number:04}")
        for number in range(count)
    ]


@pytest.mark.parametrize("count", [10, 200])
def test_creating_models_costs_the_same_queries_for_10_or_200(
    saved_catalog, count, django_assert_num_queries
):
    data = catalog_file(*_many_records(count, "bulk"))
    # SAVEPOINT (the test's transaction), the import lock, SELECT the file's models (with
    # their offerings), SELECT the datacenters, INSERT the models, INSERT their modalities,
    # INSERT their prices (the offering's rows: a price is a row of its own since issue 13),
    # INSERT their datacenter links, INSERT their history records (with their datacenters),
    # RELEASE.
    with django_assert_num_queries(10):
        result = import_catalog(data)
    assert len(result.created) == count


@pytest.mark.parametrize("count", [10, 200])
def test_updating_models_costs_the_same_queries_for_10_or_200(
    saved_catalog, count, django_assert_num_queries
):
    records = _many_records(count, "bulk")
    import_catalog(catalog_file(*records))
    for entry in records:
        entry["pricing"]["prompt"] = "0.0000001"
        entry["datacenters"] = [{"country_code": "DE"}]
    # SAVEPOINT, the import lock, SELECT the file's models (their served columns), SELECT their
    # modalities and SELECT their flat prices (to compare as served), SELECT the datacenters,
    # SELECT their datacenter links, SELECT the models that differ (with their offerings),
    # UPDATE the models, SELECT their price rows (the keys of the rows to update; modalities
    # and capacities, unchanged, are not read), UPDATE the prices, DELETE the old links, INSERT
    # the new links, INSERT their history records, RELEASE.
    with django_assert_num_queries(15):
        result = import_catalog(catalog_file(*records))
    assert len(result.updated) == count


def test_queries_grow_with_batches(saved_catalog, django_assert_num_queries):
    data = catalog_file(*_many_records(250, "bulk"))
    # As for one batch, with three INSERTs (100 + 100 + 50) each of models, modalities, prices,
    # links and history records.
    with django_assert_num_queries(20):
        import_catalog(data, batch_size=100)


def test_progress_is_reported_per_batch_and_shown_only_on_a_terminal(saved_catalog, run_import):
    calls = []
    import_catalog(
        catalog_file(*_many_records(5, "small")),
        batch_size=2,
        progress=lambda *call: calls.append(call),
    )
    assert calls == [
        ("checked", 2, 5),
        ("checked", 4, 5),
        ("checked", 5, 5),
        ("written", 2, 5),
        ("written", 4, 5),
        ("written", 5, 5),
    ]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    data = catalog_file(*_many_records(BATCH_SIZE + 1, "long"))
    terminal, pipe = Terminal(), io.StringIO()
    call_command("import_models", "-", "--dry-run", stdin=io.BytesIO(data), stdout=terminal)
    call_command("import_models", "-", "--dry-run", stdin=io.BytesIO(data), stdout=pipe)
    assert f"\rchecked {BATCH_SIZE + 1}/{BATCH_SIZE + 1} models\n" in terminal.getvalue()
    assert "\r" not in pipe.getvalue()


def test_import_reads_standard_input(db):
    stdout = io.StringIO()
    call_command("import_models", "-", stdin=io.BytesIO(VALID), stdout=stdout)
    assert stdout.getvalue() == (
        "Imported standard input: 1 created, 0 updated, 0 unchanged, 0 pruned.\n"
    )


def test_a_source_above_max_bytes_is_refused_until_the_cap_is_raised(db, run_import):
    with pytest.raises(CommandError, match=r"larger than 100 bytes; raise --max-bytes"):
        run_import(VALID, "--max-bytes", "100")
    stdout, _ = run_import(VALID, "--max-bytes", str(len(VALID)))
    assert "1 created" in stdout


def test_a_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.json: No such file"):
        call_command("import_models", str(tmp_path / "missing.json"))


def test_import_from_another_instance_s_endpoint(live_server, transactional_db, saved_catalog):
    stdout = io.StringIO()
    url = live_server.url + ENDPOINT
    call_command("import_models", url, "--prune", "--format", "json", stdout=stdout)
    summary = json.loads(stdout.getvalue())
    assert summary["counts"] == {"created": 0, "updated": 0, "unchanged": 2, "pruned": 0}
    assert summary["unchanged"] == ["acme/reranker", "meta-llama/Llama-3.3-70B-Instruct"]


def test_an_http_error_from_the_source_is_a_clear_error(live_server, transactional_db):
    url = live_server.url + "/no-such-catalog"
    with pytest.raises(CommandError, match=r"no-such-catalog answered HTTP 404 Not Found"):
        call_command("import_models", url)


def test_an_unreachable_source_is_a_clear_error(db):
    with pytest.raises(CommandError, match=r"Cannot reach http://127\.0\.0\.1:1/models"):
        call_command("import_models", "http://127.0.0.1:1/models", "--timeout", "5")


def test_demo_catalog_loads_into_an_empty_database_only(db):
    stdout = io.StringIO()
    call_command("load_demo_catalog", stdout=stdout)
    assert stdout.getvalue() == "Loaded the demo catalog: 14 models.\n"
    assert len(served_records()) == 14

    ServedModel.objects.filter(model_id="BAAI/bge-m3").update(name="Changed by staff")
    again = io.StringIO()
    call_command("load_demo_catalog", stdout=again)
    assert again.getvalue() == (
        "The catalog already has 14 models; the demo catalog was not loaded.\n"
    )
    assert ServedModel.objects.get(model_id="BAAI/bge-m3").name == "Changed by staff"
