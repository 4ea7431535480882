"""The current flat revision (../shared/docs/CONTRACTS.md sections 1 and 3), end to end.

Its optional fields and conditional prices are rendered (the endpoint, ``export_models``,
``--as-of``), imported strictly (each problem named by record, ID and field, nothing written)
and round-trip byte for byte; a catalog of the original contract renders as it always did.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from decimal import Decimal

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.actions.served_models import save_model
from catalog.formats.flat.names import RECORD_KEYS
from catalog.formats.flat.published import published_catalog
from catalog.formats.problems import CatalogFileInvalid
from catalog.history import HistoricalServedModel
from catalog.importer import import_catalog
from catalog.models import CapacityEntry, PriceEntry, ServedModel
from catalog.offering import ROOT, Capacity, Offering, Price, stored_offering
from catalog.revision import current_revision
from router.cache import CatalogCache
from tests.helpers import DELETE, ENDPOINT, NEW_RECORD, catalog_file, catalog_state, flat, record

TIERS = [
    {"min_prompt_tokens": 128000, "prompt": "0.0000003", "completion": "0.0000012"},
    {"min_prompt_tokens": 200000, "prompt": "0.0000004"},
]
WINDOWS = [
    {"utc_start": 2200, "utc_end": 600, "prompt": "0.0000001", "completion": "0.0000003"},
    {"utc_start": 1200, "utc_end": 1330, "prompt": "0.0000001", "completion": "0.0000003"},
]


def full_record(**changes) -> dict:
    """A record that uses every field of the current revision (tiers for its overrides)."""
    values = record(
        {"input_cache_read": "0.00000005", "overrides": copy.deepcopy(TIERS)},
        deprecation_date="2027-03-31T18:00:00Z",
        description="Long context, staged.",
        is_ready=False,
        is_free=True,
        discount_to_user=0.125,
        capacity_tpm=1_000_000,
        openrouter={"slug": "acme/new-model"},
    )
    return values | changes


def windowed_record(**changes) -> dict:
    values = record(
        {"overrides": copy.deepcopy(WINDOWS)},
        id="acme/windowed",
        hugging_face_id="acme/windowed",
        name="Windowed",
    )
    return values | changes


def export(*args: str) -> bytes:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", *args, stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def served() -> dict[str, dict]:
    return {entry["id"]: entry for entry in json.loads(published_catalog()[1])["data"]}


# --- Rendering and storing -------------------------------------------------------------------


def test_every_new_field_is_served_after_the_original_keys_in_order(db, client):
    import_catalog(catalog_file(full_record()))

    body = client.get(ENDPOINT).content
    (entry,) = json.loads(body)["data"]
    assert list(entry) == list(RECORD_KEYS)
    assert list(entry["pricing"]) == [
        "prompt",
        "completion",
        "image",
        "request",
        "input_cache_read",
        "overrides",
    ]
    assert entry["pricing"]["overrides"] == TIERS
    assert entry["deprecation_date"] == "2027-03-31T18:00:00Z"
    assert entry["description"] == "Long context, staged."
    assert entry["is_ready"] is False
    assert entry["is_free"] is True
    assert entry["capacity_tpm"] == 1_000_000
    assert entry["openrouter"] == {"slug": "acme/new-model"}
    # A JSON number, not a string.
    assert b'"discount_to_user":0.125,' in body


def test_served_records_meet_the_documented_schema_with_no_key_outside_it(db, client):
    import_catalog(catalog_file(full_record(), windowed_record()))
    generated = yaml.safe_load(client.get("/api/schema/").content)
    schemas = generated["components"]["schemas"]
    for schema in schemas.values():
        schema["additionalProperties"] = False
    root = {
        "$ref": "#/components/schemas/RouterOpenRouterModelsRes",
        "components": generated["components"],
    }
    validator = jsonschema.Draft202012Validator(root)

    validator.validate(json.loads(client.get(ENDPOINT).content))
    bad = served()["acme/windowed"]
    bad["pricing"]["overrides"][0]["min_prompt_tokens"] = 5  # a window that is a tier too
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"data": [bad]})


def test_new_fields_are_stored_in_their_columns_and_rows(db):
    import_catalog(catalog_file(full_record(), windowed_record()))

    model = ServedModel.objects.get(model_id="acme/new-model")
    assert model.deprecation_date == date(2027, 3, 31)
    assert model.deprecation_hour == 18
    assert (model.description, model.is_ready, model.is_free) == (
        "Long context, staged.",
        False,
        True,
    )
    assert model.discount_to_user == Decimal("0.125")
    assert model.openrouter_slug == "acme/new-model"
    text_input = ("input", "text")
    assert (
        stored_offering(model).capacity(text_input, "prompt", "token", "minute").value == 1_000_000
    )
    prompt = stored_offering(model).price(text_input, "prompt", "token")
    assert prompt is not None
    assert prompt.cost_usd == Decimal("0.00000015")
    assert list(prompt.overrides) == [
        {"when": {"prompt_tokens": {"gte": 128001}}, "cost_usd": "0.0000003"},
        {"when": {"prompt_tokens": {"gte": 200001}}, "cost_usd": "0.0000004"},
    ]
    completion = stored_offering(model).price(("output", "text"), "completion", "token")
    assert completion is not None
    assert list(completion.overrides) == [
        {"when": {"prompt_tokens": {"gte": 128001}}, "cost_usd": "0.0000012"}
    ]

    windowed = ServedModel.objects.get(model_id="acme/windowed")
    rows = sorted(
        PriceEntry.objects.filter(model=windowed, utc_start__isnull=False).values_list(
            "price_type", "utc_start", "utc_end", "cost_usd"
        )
    )
    assert rows == [
        ("completion", 1200, 1330, Decimal("0.0000003")),
        ("completion", 2200, 600, Decimal("0.0000003")),
        ("prompt", 1200, 1330, Decimal("0.0000001")),
        ("prompt", 2200, 600, Decimal("0.0000001")),
    ]
    # Windows are served by start.
    assert served()["acme/windowed"]["pricing"]["overrides"] == [WINDOWS[1], WINDOWS[0]]


def test_discount_is_an_exact_json_number_never_a_float(db):
    text = b'"discount_to_user": 0.12345678901234567891'
    data = catalog_file(record()).replace(b'"datacenters"', text + b', "datacenters"')
    import_catalog(data)

    assert ServedModel.objects.get().discount_to_user == Decimal("0.12345678901234567891")
    assert b'"discount_to_user":0.12345678901234567891}' in published_catalog()[1]


def test_a_negative_discount_is_a_markup_and_zero_is_none(db):
    import_catalog(
        catalog_file(
            record(discount_to_user=-0.5),
            record(id="acme/zero", hugging_face_id="acme/zero", discount_to_user=0),
        )
    )
    assert b'"discount_to_user":-0.5}' in published_catalog()[1]
    assert "discount_to_user" not in served()["acme/zero"]


def test_a_bare_deprecation_date_and_default_values_render_as_the_original_contract(db):
    data = catalog_file(
        record(deprecation_date="2027-03-31", description="", is_ready=True, is_free=False)
    )
    import_catalog(data)

    (entry,) = served().values()
    assert set(entry) == set(RECORD_KEYS[: RECORD_KEYS.index("deprecation_date") + 1])
    assert entry["deprecation_date"] == "2027-03-31"
    assert "overrides" not in entry["pricing"]


def test_a_tier_over_a_zero_base_price_keeps_a_zero_cost_row_to_carry_it(db):
    tiers = [{"min_prompt_tokens": 100000, "input_cache_read": "0.00000002"}]
    import_catalog(catalog_file(record({"overrides": tiers})))

    (row,) = PriceEntry.objects.filter(price_type="cached_prompt")
    assert row.cost_usd == 0
    assert row.overrides == [{"when": {"prompt_tokens": {"gte": 100001}}, "cost_usd": "0.00000002"}]
    (entry,) = served().values()
    assert entry["pricing"]["input_cache_read"] == "0"
    assert entry["pricing"]["overrides"] == tiers

    # Without the tier, the zero price is no row again.
    import_catalog(catalog_file(record()))
    assert not PriceEntry.objects.filter(price_type="cached_prompt").exists()


def test_round_trip_of_every_new_field_is_byte_identical_and_writes_nothing(db):
    zero_base_tier = record(
        {"overrides": [{"min_prompt_tokens": 0, "image": "0.001"}]},
        id="acme/zero-base",
        hugging_face_id="acme/zero-base",
        input_modalities=["text", "image"],
    )
    plain = record(id="acme/plain", hugging_face_id="acme/plain")
    import_catalog(catalog_file(full_record(), windowed_record(), zero_base_tier, plain))
    first = export()
    revision = current_revision()

    result = import_catalog(first)
    assert result.counts == {"created": 0, "updated": 0, "unchanged": 4, "pruned": 0}
    assert current_revision() == revision
    assert export() == first


def test_a_no_op_re_import_with_every_new_field_builds_no_model(db, monkeypatch):
    # The import compares such records as plain values too (tiers, windows, capacity_tpm,
    # discount), so a no-op costs no model and no offering, as for the original fields.
    import_catalog(catalog_file(full_record(), windowed_record()))
    first = export()
    built = []
    init = ServedModel.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs.get("model_id"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(ServedModel, "__init__", counting_init)

    result = import_catalog(first)

    assert result.counts["unchanged"] == 2
    assert built == []


def test_original_only_records_render_byte_for_byte_as_before(db):
    # The golden files hold this for whole catalogs (tests/test_endpoint.py); here one record.
    import_catalog(catalog_file(NEW_RECORD))
    assert (
        published_catalog()[1]
        == json.dumps({"data": [NEW_RECORD]}, ensure_ascii=False, separators=(",", ":")).encode()
    )


# --- Import: a change in a new field is detected and written, and only it --------------------


@pytest.mark.parametrize(
    ("change", "changed"),
    [
        ({"description": "Now described."}, ["description"]),
        ({"is_ready": DELETE}, ["is_ready"]),
        ({"discount_to_user": 0.25}, ["discount_to_user"]),
        ({"capacity_tpm": 2_000_000}, ["capacity_tpm"]),
        ({"openrouter": {"slug": "acme/renamed"}}, ["openrouter"]),
        ({"deprecation_date": "2027-03-31T19:00:00Z"}, ["deprecation_date"]),
        ({"deprecation_date": "2027-03-31"}, ["deprecation_date"]),
        ({"pricing": {**full_record()["pricing"], "overrides": TIERS[:1]}}, ["pricing.overrides"]),
    ],
)
def test_a_change_in_one_new_field_is_detected_and_written(db, change, changed):
    import_catalog(catalog_file(full_record()))
    history = HistoricalServedModel.objects.count()
    new = full_record()
    for key, value in change.items():
        if value is DELETE:
            del new[key]
        else:
            new[key] = value

    result = import_catalog(catalog_file(new))

    assert result.updated == {"acme/new-model": changed}
    assert HistoricalServedModel.objects.count() == history + 1
    assert HistoricalServedModel.objects.latest().changed_fields == changed
    assert served()["acme/new-model"] == new


def test_typed_only_data_survives_a_flat_re_import(db):
    import_catalog(catalog_file(full_record(input_modalities=["text", "image"])))
    model = ServedModel.objects.get()
    offering = stored_offering(model)
    text = ("input", "text")
    typed_override = {"when": {"reasoning": {"equals": True}}, "cost_usd": "0.0000009"}
    prompt = offering.price(text, "prompt", "token")
    assert prompt is not None
    model_offering = Offering(
        modalities=offering.modalities,
        prices=(
            *(price for price in offering.prices if price is not prompt),
            Price(
                prompt.scope,
                "prompt",
                "token",
                prompt.cost_usd,
                overrides=(*prompt.overrides, typed_override),
            ),
            Price(text, "cached_prompt", "token", Decimal("0.00000004"), ttl_seconds=3600),
            Price(("input", "image"), "prompt", "megapixel", Decimal("0.002")),
            Price(text, "cache_write", "token", Decimal("0.0000002"), utc_start=0, utc_end=600),
            Price(ROOT, "web_search", "search", Decimal("0.01")),
        ),
        capacities=(
            *offering.capacities,
            Capacity(text, "prompt", "token", "hour", 50_000_000),
        ),
    )
    save_model(model, model_offering)

    # The model as served, without its tiers and its capacity, and with another description.
    new = served()["acme/new-model"]
    del new["pricing"]["overrides"]
    del new["capacity_tpm"]
    new["description"] = "Changed."
    result = import_catalog(catalog_file(new))

    assert result.updated == {
        "acme/new-model": ["pricing.overrides", "description", "capacity_tpm"]
    }
    after = stored_offering(ServedModel.objects.get())
    # The tiers are gone; the typed-only override stays.
    prompt, completion = (
        after.price(text, "prompt", "token"),
        after.price(("output", "text"), "completion", "token"),
    )
    assert prompt is not None
    assert completion is not None
    assert prompt.overrides == (typed_override,)
    assert completion.overrides == ()
    kept = {(p.scope, p.price_type, p.unit, p.ttl_seconds, p.utc_start) for p in after.prices}
    assert {
        (text, "cached_prompt", "token", None, None),
        (text, "cached_prompt", "token", 3600, None),
        (("input", "image"), "prompt", "megapixel", None, None),
        (text, "cache_write", "token", None, 0),
        (ROOT, "web_search", "search", None, None),
    } <= kept
    assert [c.per for c in after.capacities] == ["hour"]


def test_windows_replace_the_flat_windows_and_keep_the_others(db):
    import_catalog(catalog_file(windowed_record()))
    model = ServedModel.objects.get()
    offering = stored_offering(model)
    text = ("input", "text")
    model_offering = offering.replacing(
        prices=(
            *offering.prices,
            Price(
                text,
                "cached_prompt",
                "token",
                Decimal("0.00000001"),
                ttl_seconds=300,
                utc_start=100,
                utc_end=200,
            ),
        )
    )
    save_model(model, model_offering)
    one_window = [{"utc_start": 100, "utc_end": 500, "completion": "0.0000002"}]

    pricing = {**NEW_RECORD["pricing"], "overrides": one_window}
    import_catalog(catalog_file(windowed_record(pricing=pricing)))

    windows = sorted(
        PriceEntry.objects.filter(utc_start__isnull=False).values_list(
            "price_type", "utc_start", "ttl_seconds"
        )
    )
    assert windows == [("cached_prompt", 100, 300), ("completion", 100, None)]
    assert served()["acme/windowed"]["pricing"]["overrides"] == one_window


# --- Import: every problem named, nothing written ---------------------------------------------


def _overrides(*items) -> dict:
    return {"pricing": {**NEW_RECORD["pricing"], "overrides": list(items)}}


TIER = {"min_prompt_tokens": 100000, "prompt": "0.0000003"}
WINDOW = {"utc_start": 2200, "utc_end": 600, "prompt": "0.0000001"}

BAD_RECORDS = [
    # (name, changes to the record, field named, words of the reason)
    (
        "a third tier",
        _overrides(
            TIER, TIER | {"min_prompt_tokens": 150000}, TIER | {"min_prompt_tokens": 200000}
        ),
        "pricing.overrides[2]",
        "at most 2 tiers",
    ),
    ("tiers mixed with windows", _overrides(TIER, WINDOW), "pricing.overrides", "mixes tiers"),
    (
        "windows with different prices",
        _overrides(WINDOW, WINDOW | {"utc_start": 1200, "utc_end": 1300, "prompt": "0.0000002"}),
        "pricing.overrides[1]",
        "same prices",
    ),
    (
        "three windows",
        _overrides(
            WINDOW,
            WINDOW | {"utc_start": 700, "utc_end": 800},
            WINDOW | {"utc_start": 900, "utc_end": 1000},
        ),
        "pricing.overrides[2]",
        "at most 2 windows",
    ),
    (
        "utc_start 2460",
        _overrides(WINDOW | {"utc_start": 2460}),
        "pricing.overrides[0].utc_start",
        "2359",
    ),
    (
        "minutes past 59",
        _overrides(WINDOW | {"utc_end": 1260}),
        "pricing.overrides[0].utc_end",
        "past 59",
    ),
    (
        "utc_start equal to utc_end",
        _overrides(WINDOW | {"utc_end": 2200}),
        "pricing.overrides[0].utc_end",
        "differ",
    ),
    (
        "a window without its end",
        _overrides({"utc_start": 100, "prompt": "0.1"}),
        "pricing.overrides[0].utc_end",
        "missing",
    ),
    (
        "min_prompt_tokens negative",
        _overrides(TIER | {"min_prompt_tokens": -1}),
        "pricing.overrides[0].min_prompt_tokens",
        "from 0",
    ),
    (
        "min_prompt_tokens fractional",
        _overrides(TIER | {"min_prompt_tokens": 1000.5}),
        "pricing.overrides[0].min_prompt_tokens",
        "JSON integer",
    ),
    (
        "min_prompt_tokens a string",
        _overrides(TIER | {"min_prompt_tokens": "1000"}),
        "pricing.overrides[0].min_prompt_tokens",
        "JSON integer",
    ),
    (
        "duplicate thresholds",
        _overrides(TIER, TIER),
        "pricing.overrides[1].min_prompt_tokens",
        "ascending",
    ),
    (
        "unordered thresholds",
        _overrides(TIER, TIER | {"min_prompt_tokens": 50000}),
        "pricing.overrides[1].min_prompt_tokens",
        "ascending",
    ),
    (
        "an override with an unknown key",
        _overrides(TIER | {"max_prompt_tokens": 5}),
        "pricing.overrides[0].max_prompt_tokens",
        "unknown key",
    ),
    (
        "an override without a price",
        _overrides({"min_prompt_tokens": 1000}),
        "pricing.overrides[0]",
        "names no price",
    ),
    (
        "an override price as a number",
        _overrides(TIER | {"prompt": 0.0000003}),
        "pricing.overrides[0].prompt",
        "plain decimal",
    ),
    (
        "an override price with an exponent",
        _overrides(TIER | {"prompt": "3e-7"}),
        "pricing.overrides[0].prompt",
        "without an exponent",
    ),
    (
        "an override price below zero",
        _overrides(TIER | {"prompt": "-0.1"}),
        "pricing.overrides[0].prompt",
        "greater than or equal to 0",
    ),
    (
        "an override that is neither kind",
        _overrides({"prompt": "0.1"}),
        "pricing.overrides[0]",
        "tier",
    ),
    (
        "overrides not a list",
        {"pricing": {**NEW_RECORD["pricing"], "overrides": {}}},
        "pricing.overrides",
        "list",
    ),
    (
        "the older pricing array",
        {"pricing": [{"min_context": 0, "prompt": "0.1"}]},
        "pricing",
        "min_context",
    ),
    ("discount_to_user 1", {"discount_to_user": 1}, "discount_to_user", "below 1"),
    ("discount_to_user above 1", {"discount_to_user": 1.5}, "discount_to_user", "below 1"),
    (
        "discount_to_user a string",
        {"discount_to_user": "0.1"},
        "discount_to_user",
        "no quotes",
    ),
    ("capacity_tpm zero", {"capacity_tpm": 0}, "capacity_tpm", "from 1"),
    ("capacity_tpm negative", {"capacity_tpm": -100}, "capacity_tpm", "from 1"),
    ("capacity_tpm fractional", {"capacity_tpm": 1000.5}, "capacity_tpm", "JSON integer"),
    ("capacity_tpm a string", {"capacity_tpm": "1000"}, "capacity_tpm", "JSON integer"),
    (
        "a deprecation hour not on the hour",
        {"deprecation_date": "2027-03-31T13:30:00Z"},
        "deprecation_date",
        "on the hour",
    ),
    (
        "a deprecation moment without Z",
        {"deprecation_date": "2027-03-31T13:00:00"},
        "deprecation_date",
        "YYYY-MM-DDTHH:00:00Z",
    ),
    (
        "a deprecation hour 24",
        {"deprecation_date": "2027-03-31T24:00:00Z"},
        "deprecation_date",
        "hour",
    ),
    ("openrouter without slug", {"openrouter": {}}, "openrouter.slug", "missing"),
    (
        "openrouter with an unknown key",
        {"openrouter": {"slug": "a/b", "name": "x"}},
        "openrouter.name",
        "unknown key",
    ),
    ("openrouter not an object", {"openrouter": "a/b"}, "openrouter", "object"),
    ("an empty slug", {"openrouter": {"slug": ""}}, "openrouter.slug", "empty"),
    (
        "a slug with a space",
        {"openrouter": {"slug": "acme/a model"}},
        "openrouter.slug",
        "whitespace",
    ),
    ("is_ready as a string", {"is_ready": "false"}, "is_ready", "true or false"),
    ("is_free as a number", {"is_free": 1}, "is_free", "true or false"),
    ("description not a string", {"description": ["x"]}, "description", "string"),
    (
        "an unknown input modality",
        {"input_modalities": ["text", "smell"]},
        "input_modalities",
        "smell",
    ),
    (
        "an unknown output modality",
        {"output_modalities": ["text", "smell"]},
        "output_modalities",
        "smell",
    ),
    (
        "an unknown sampling parameter",
        {"supported_sampling_parameters": ["top_q"]},
        "supported_sampling_parameters",
        "top_q",
    ),
    (
        "an unknown feature",
        {"supported_features": ["telepathy"]},
        "supported_features",
        "telepathy",
    ),
]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [pytest.param(changes, field, words, id=name) for name, changes, field, words in BAD_RECORDS],
)
def test_each_bad_value_is_named_by_record_id_and_field_and_nothing_is_written(
    db, changes, field, words
):
    import_catalog(catalog_file(full_record()))
    before = catalog_state()
    bad = record(id="acme/bad", hugging_face_id="acme/bad", name="bad")
    bad.update(changes)

    with pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(catalog_file(full_record(description="Changed."), bad))

    problems = [(p.index, p.id, p.field) for p in raised.value.problems]
    assert (1, "acme/bad", field) in problems, raised.value
    (problem,) = [p for p in raised.value.problems if p.field == field]
    assert words in problem.reason
    assert "Traceback" not in str(raised.value)
    assert catalog_state() == before


# --- History, --as-of, the endpoint's queries --------------------------------------------------


def test_export_as_of_between_two_imports_reproduces_the_first_with_its_tiers(db):
    import_catalog(catalog_file(full_record(), windowed_record()))
    first = export()
    between = HistoricalServedModel.objects.latest().history_date

    changed_tiers = [TIERS[0] | {"prompt": "0.00000035"}]
    import_catalog(
        catalog_file(
            full_record(
                pricing={**full_record()["pricing"], "overrides": changed_tiers},
                capacity_tpm=5,
                is_free=False,
                deprecation_date="2027-04-01T06:00:00Z",
            ),
            windowed_record(pricing=NEW_RECORD["pricing"]),
        )
    )
    second = export()
    assert second != first
    assert served()["acme/new-model"]["pricing"]["overrides"] == changed_tiers

    assert export("--as-of", between.isoformat()) == first
    latest = HistoricalServedModel.objects.latest().history_date
    assert export("--as-of", latest.isoformat()) == second


@pytest.mark.parametrize("count", [4, 40])
def test_cold_render_queries_are_unchanged_and_independent_of_size(
    transactional_db, no_shared_cache, settings, count
):
    settings.CATALOG_FRESHNESS = "strict"
    records = [
        (full_record if number % 2 else windowed_record)(
            id=f"bulk/model-{number:03}", hugging_face_id=f"bulk/model-{number:03}"
        )
        for number in range(count)
    ]
    import_catalog(catalog_file(*records))

    with CaptureQueriesContext(connection) as queries:
        body = CatalogCache().current().body

    data = json.loads(body)["data"]
    assert len(data) == count
    assert all("overrides" in entry["pricing"] for entry in data)
    # The revision; BEGIN, SET TRANSACTION, the revision, models, modalities, prices; COMMIT:
    # as for a catalog of the original contract (tests/test_endpoint_snapshots.py).
    assert len(queries) == 8, [query["sql"] for query in queries]


def test_writes_to_overrides_windows_and_capacities_reach_the_endpoint_with_a_new_etag(db, client):
    import_catalog(catalog_file(full_record(), windowed_record()))
    first = client.get(ENDPOINT)
    etag = first["ETag"]
    assert client.get(ENDPOINT, headers={"If-None-Match": etag}).status_code == 304

    CapacityEntry.objects.update(value=7)  # a bulk write, as from a shell
    second = client.get(ENDPOINT, headers={"If-None-Match": etag})
    assert second.status_code == 200
    assert json.loads(second.content)["data"][0]["capacity_tpm"] == 7

    with connection.cursor() as cursor:  # raw SQL: only the revision trigger knows
        cursor.execute(
            "UPDATE catalog_priceentry SET cost_usd = 0.0000009 WHERE utc_start IS NOT NULL"
        )
        cursor.execute(
            "UPDATE catalog_priceentry SET overrides = '[]'::jsonb WHERE overrides <> '[]'::jsonb"
        )
    entries = {entry["id"]: entry for entry in json.loads(client.get(ENDPOINT).content)["data"]}
    assert "overrides" not in entries["acme/new-model"]["pricing"]
    assert {window["prompt"] for window in entries["acme/windowed"]["pricing"]["overrides"]} == {
        "0.0000009"
    }


# --- The admin's history reads changes of the new fields ---------------------------------------


def test_history_page_reads_an_import_that_changes_tiers_capacity_and_the_hour(db, editor_client):
    import_catalog(catalog_file(full_record()))
    changed = full_record(deprecation_date="2027-03-31T19:00:00Z", capacity_tpm=2_000_000)
    changed["pricing"]["overrides"][0]["prompt"] = "0.00000035"
    import_catalog(catalog_file(changed))
    model = ServedModel.objects.get(model_id="acme/new-model")

    page = editor_client.get(f"/admin/catalog/servedmodel/{model.pk}/history/")
    recent = editor_client.get("/admin/catalog/historicalservedmodel/?field=pricing.overrides")

    text = page.content.decode()
    assert page.status_code == 200
    # Each tier per million tokens, as the five prices read; the hour with the date.
    assert (
        "input text prompt per token, conditional prices</strong>: "
        "over 128000 prompt tokens: $0.3 per 1M tokens; over 200000 prompt tokens: "
        "$0.4 per 1M tokens &rarr; over 128000 prompt tokens: $0.35 per 1M tokens; "
        "over 200000 prompt tokens: $0.4 per 1M tokens"
    ) in text
    assert "2027-03-31T18:00:00Z &rarr; 2027-03-31T19:00:00Z" in text
    assert "1000000 tokens &rarr; 2000000 tokens" in text
    assert recent.status_code == 200
    assert "acme/new-model" in recent.content.decode()


@pytest.mark.parametrize(
    ("lifetimes", "served_price"),
    [
        ({None: "0.00000005", 300: "0.00000003", 3600: "0.00000004"}, "0.00000005"),
        ({300: "0.00000003", 3600: "0.00000004"}, "0.00000003"),
        ({3600: "0.00000004", 300: "0.00000006"}, "0.00000006"),
    ],
)
def test_the_flat_cached_price_is_the_one_without_a_lifetime_else_the_shortest(
    db, lifetimes, served_price
):
    import_catalog(catalog_file(record()))
    model = ServedModel.objects.get()
    text = ("input", "text")
    offering = stored_offering(model)
    model_offering = offering.replacing(
        prices=(
            *(price for price in offering.prices if price.price_type != "cached_prompt"),
            *(
                Price(text, "cached_prompt", "token", Decimal(cost), ttl_seconds=ttl)
                for ttl, cost in lifetimes.items()
            ),
        )
    )
    save_model(model, model_offering)

    # From rows (the endpoint) and from the offering (the admin, the import) alike.
    assert served()["acme/new-model"]["pricing"]["input_cache_read"] == served_price
    assert flat(ServedModel.objects.get())["price_input_cache_read"] == Decimal(served_price)
