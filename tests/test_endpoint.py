"""The public endpoint: the exact bytes it serves, the contract they meet, and its HTTP."""

from __future__ import annotations

import copy
import gzip
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import cast

import jsonschema
import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from catalog.actions.served_models import save_model
from catalog.formats.flat.encode import WireRecord, plain_decimal, render
from catalog.formats.flat.encode import wire_record as make_wire_record
from catalog.formats.flat.names import OPTIONAL_RECORD_KEYS, PRICING_FIELDS, RECORD_KEYS
from catalog.formats.flat.offering import offering_flat_fields, offering_of_flat_values
from catalog.formats.registry import FORMATS
from catalog.formats.typed.published import published_typed_catalog
from catalog.models import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, Datacenter, ServedModel
from router import cache as router_cache
from router.cache import CatalogCache, catalog_cache
from router.views import OpenRouterModelsView
from tests.helpers import ENDPOINT, assert_valid_typed, build_model, build_offering, load_contract

URL = ENDPOINT
TYPED_URL = URL + "?schema_version=2.4"
GOLDEN = Path(__file__).parent / "data" / "golden_catalog.json"
PLAIN_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")


def _publish(model_id: str, *, countries=(), **fields) -> ServedModel:
    """Save a model the way staff do: full_clean() (which canonicalises lists) then save()."""
    values = {
        "hugging_face_id": "",
        "context_length": 32768,
        "max_output_length": 4096,
        "price_prompt": Decimal(0),
        "price_completion": Decimal(0),
        "supported_sampling_parameters": [],
        "supported_features": [],
        **fields,
    }
    model = build_model(model_id, **values)
    model.full_clean()
    save_model(model, build_offering(**values))
    model.datacenters.set(
        [Datacenter.objects.get_or_create(country_code=code)[0] for code in countries]
    )
    return model


@pytest.fixture(scope="module", autouse=True)
def _golden_rows(django_db_setup, django_db_blocker):
    """The golden catalog, written once for the module: every test here runs in a savepoint of
    this transaction, which is rolled back at the end (Django's setUpTestData habit). Writing it
    per test was most of this module's time."""
    with django_db_blocker.unblock():
        module_transaction = transaction.atomic()
        module_transaction.__enter__()
        _publish(
            "meta-llama/Llama-3.3-70B-Instruct",
            hugging_face_id="meta-llama/Llama-3.3-70B-Instruct",
            name="Llama 3.3 70B Instruct",
            created=datetime(2024, 12, 6, 17, 30, 5, tzinfo=UTC),
            quantization="fp8",
            context_length=131072,
            max_output_length=8192,
            price_prompt=Decimal("1.5E-7"),  # str() of it is "1.5E-7"
            price_completion=Decimal("0.000000600000"),  # trailing zeros
            price_input_cache_read=Decimal("0.00000006"),
            supported_sampling_parameters=["seed", "top_p", "temperature", "top_p", "stop"],
            supported_features=["structured_outputs", "tools", "json_mode", "tools"],
            countries=("US", "FR", "DE"),
        )
        _publish(
            "Qwen/Qwen2.5-VL-72B-Instruct",
            hugging_face_id="Qwen/Qwen2.5-VL-72B-Instruct",
            name="Qwen2.5 VL 72B Instruct",
            created=datetime(2025, 2, 1, 0, 0, 0, tzinfo=UTC),
            input_modalities=["video", "image", "text", "image"],
            output_modalities=["text", "text"],
            quantization="bf16",
            price_prompt=Decimal("0.0000000208333333333333"),
            price_completion=Decimal("0.00000125"),
            price_image=Decimal("0.0004"),
            price_request=Decimal("12"),
            supported_sampling_parameters=["temperature"],
            supported_features=["reasoning", "tools"],
            countries=("SG", "JP", "US", "DE"),
            deprecation_date=date(2027, 3, 31),
        )
        _publish(
            "acme/free-embedder",
            name="Embedder gratuit — multilingüe ✓ 日本語",
            output_modalities=["embeddings"],
            quantization="fp16",
            context_length=8192,
            max_output_length=1,
        )
        for model_id in ("é/x", "a/x", "Z/x", "B/x"):
            _publish(model_id, price_prompt=Decimal("0.0000001"), countries=("US",))
        _publish("acme/unreleased-draft", is_published=False, countries=("US",))
    yield
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        module_transaction.__exit__(None, None, None)


@pytest.fixture
def golden_catalog(db):
    """Every rendering rule in one fixed catalog (tests/data/golden_catalog.json)."""


@pytest.fixture
def empty_catalog(db):
    """No served model: the golden catalog deleted, within this test's savepoint."""
    ServedModel.objects.all().delete()


def get_records(client, **headers) -> list[dict]:
    return json.loads(client.get(URL, headers=headers).content)["data"]


def assert_conforms(body: bytes) -> None:
    """The body meets the contract's schemas, with no key outside them."""
    schemas = copy.deepcopy(load_contract()["components"]["schemas"])
    for schema in schemas.values():
        schema["additionalProperties"] = False
    root = "#/components/schemas/RouterOpenRouterModelsRes"
    validator = jsonschema.Draft202012Validator({"$ref": root, "components": {"schemas": schemas}})
    payload = json.loads(body)
    validator.validate(payload)
    for record in payload["data"]:
        # The contract allows null; the product never sends it: the key is absent instead.
        assert record.get("deprecation_date", "absent") is not None
        assert all(PLAIN_DECIMAL.match(price) for price in record["pricing"].values())


# --- The body ---------------------------------------------------------------------------------


def test_catalog_renders_byte_for_byte_as_the_golden_file(client, golden_catalog):
    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == GOLDEN.read_bytes()


def test_golden_body_meets_the_contract(client, golden_catalog):
    assert_conforms(client.get(URL).content)


def test_empty_catalog_meets_the_contract(client, empty_catalog):
    response = client.get(URL)

    assert response.content == b'{"data":[]}'
    assert_conforms(response.content)


def test_records_have_exactly_the_spec_keys_in_order(client, golden_catalog):
    for record in get_records(client):
        expected = [key for key in RECORD_KEYS if key in record or key not in OPTIONAL_RECORD_KEYS]
        assert list(record) == expected
        assert all(list(datacenter) == ["country_code"] for datacenter in record["datacenters"])


def test_deprecation_date_is_absent_when_unset_and_a_date_when_set(client, golden_catalog):
    records = {record["id"]: record for record in get_records(client)}

    assert "deprecation_date" not in records["meta-llama/Llama-3.3-70B-Instruct"]
    assert records["Qwen/Qwen2.5-VL-72B-Instruct"]["deprecation_date"] == "2027-03-31"


def test_models_are_sorted_by_id_in_code_point_order_not_locale_order(client, golden_catalog):
    ids = [record["id"] for record in get_records(client)]

    assert ids == sorted(ids, key=lambda model_id: [ord(char) for char in model_id])
    assert [i for i in ids if i.endswith("/x")] == ["B/x", "Z/x", "a/x", "é/x"]
    # The test data tells code-point order from a locale's, which ignores case (a, B, é, Z).
    # (Not asked of PostgreSQL: the embedded server has no ICU collations.)
    assert sorted(ids, key=str.casefold) != ids


def test_render_sorts_records_it_is_given_in_any_order():
    # Only the id matters to the order, so the records need no other key.
    records = cast(
        list[WireRecord], [{"id": model_id} for model_id in ("é/x", "a/x", "Z/x", "B/x")]
    )

    assert (
        render(records) == '{"data":[{"id":"B/x"},{"id":"Z/x"},{"id":"a/x"},{"id":"é/x"}]}'.encode()
    )


def test_drafts_never_appear(client, golden_catalog):
    ids = {record["id"] for record in get_records(client)}

    assert "acme/unreleased-draft" not in ids
    assert len(ids) == ServedModel.objects.filter(is_published=True).count()


# --- Prices -----------------------------------------------------------------------------------


def _stored_prices():
    """Any value a price field holds: up to 24 places and 34 digits, in any Decimal spelling."""

    def spelled(exponent: int):
        # coefficient * 10**exponent < 10**(34 - 24): the field's integer digits.
        integer_digits = PRICE_MAX_DIGITS - PRICE_DECIMAL_PLACES
        return st.integers(0, 10 ** (integer_digits - exponent) - 1).map(
            lambda coefficient: Decimal(f"{coefficient}E{exponent}")
        )

    exponent_form = st.integers(-PRICE_DECIMAL_PLACES, 9).flatmap(spelled)
    fixed_form = st.decimals(
        min_value=0, max_value=Decimal("9999999999"), places=PRICE_DECIMAL_PLACES
    )
    return exponent_form | fixed_form


@given(price=_stored_prices())
def test_any_stored_price_renders_as_an_equal_plain_decimal(price):
    rendered = plain_decimal(price)

    assert PLAIN_DECIMAL.match(rendered), rendered
    assert Decimal(rendered) == price


@given(prices=st.tuples(*[_stored_prices()] * len(PRICING_FIELDS)))
def test_every_price_of_a_record_is_served_plain(prices):
    model = ServedModel(
        model_id="acme/m",
        created=datetime(2025, 1, 1, tzinfo=UTC),
    )
    # A price belongs to a modality (the flat format requires one of each direction).
    values = {"input_modalities": ["text"], "output_modalities": ["text"]}
    values.update(zip(PRICING_FIELDS.values(), prices, strict=True))
    flat = offering_flat_fields(offering_of_flat_values(values))

    pricing = json.loads(render([make_wire_record(model, [], flat)]))["data"][0]["pricing"]

    for key, price in zip(PRICING_FIELDS, prices, strict=True):
        assert PLAIN_DECIMAL.match(pricing[key]), pricing[key]
        assert Decimal(pricing[key]) == price


@pytest.mark.parametrize(
    ("field", "stored", "served"),
    [
        ("price_prompt", Decimal("1.5E-7"), "0.00000015"),
        ("price_prompt", Decimal("1E-24"), "0.000000000000000000000001"),
        ("price_completion", Decimal("0E-12"), "0"),
        ("price_input_cache_read", Decimal("0.000000030000"), "0.00000003"),
        ("price_image", Decimal("4E+1"), "40"),
        (
            "price_request",
            Decimal("9999999999.999999999999999999999999"),
            "9999999999.999999999999999999999999",
        ),
    ],
)
def test_price_stored_in_postgres_is_served_plain(client, empty_catalog, field, stored, served):
    _publish("acme/m", **{field: stored})

    body = client.get(URL).content

    assert json.loads(body)["data"][0]["pricing"][field.removeprefix("price_")] == served
    assert_conforms(body)


# --- Queries ----------------------------------------------------------------------------------


def test_warm_request_reads_only_the_revision_from_postgres_in_strict_mode(
    client, golden_catalog, no_shared_cache, settings, django_assert_num_queries
):
    # A warm request with the revision pushed makes none: tests/test_freshness.py.
    settings.CATALOG_FRESHNESS = "strict"
    client.get(URL)

    # 1. SELECT number FROM catalog_catalogrevision
    with django_assert_num_queries(1):
        response = client.get(URL)
    assert response.content == GOLDEN.read_bytes()


def test_a_process_finds_the_body_another_process_rendered_in_the_shared_cache(
    golden_catalog, redis_url, django_assert_num_queries
):
    CatalogCache().current()

    # A fresh process renders nothing: 1. the revision (inside this test's transaction it is
    # asked for), 2. the database's identity, read once per process for the Redis key.
    with django_assert_num_queries(2):
        rendered = CatalogCache().current()
    assert rendered.body == GOLDEN.read_bytes()


# --- HTTP -------------------------------------------------------------------------------------


def test_etag_is_strong_and_stable(client, golden_catalog):
    first, second = client.get(URL), client.get(URL)

    assert re.fullmatch(r'"[0-9a-f]{32}"', first["ETag"])
    assert second["ETag"] == first["ETag"]


def test_etag_changes_with_the_catalog(client, golden_catalog):
    before = client.get(URL)["ETag"]
    ServedModel.objects.filter(model_id="a/x").update(name="renamed")

    assert client.get(URL)["ETag"] != before


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', '"other",W/{etag}', "*"],
    ids=["exact", "weak", "list", "weak-in-list", "star"],
)
def test_if_none_match_gets_304_without_a_body(client, golden_catalog, if_none_match):
    etag = client.get(URL)["ETag"]

    response = client.get(URL, headers={"If-None-Match": if_none_match.format(etag=etag)})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, no-cache"
    assert response["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize("accept_encoding", ["gzip", "identity"])
def test_if_none_match_compares_with_the_tag_of_the_representation_served(
    client, golden_catalog, accept_encoding
):
    identity_etag = client.get(URL, headers={"Accept-Encoding": "identity"})["ETag"]
    gzip_etag = client.get(URL, headers={"Accept-Encoding": "gzip"})["ETag"]
    served, other = (
        (gzip_etag, identity_etag) if accept_encoding == "gzip" else (identity_etag, gzip_etag)
    )

    def get(if_none_match):
        return client.get(
            URL, headers={"Accept-Encoding": accept_encoding, "If-None-Match": if_none_match}
        )

    assert get(other).status_code == 200
    assert (get(served).status_code, get(served)["ETag"]) == (304, served)


def test_stale_etag_gets_the_new_body(client, golden_catalog):
    etag = client.get(URL)["ETag"]
    ServedModel.objects.filter(model_id="a/x").update(name="renamed")

    response = client.get(URL, headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert [r["name"] for r in json.loads(response.content)["data"] if r["id"] == "a/x"] == [
        "renamed"
    ]


def test_cache_control_is_no_cache_by_default(client, golden_catalog):
    response = client.get(URL)

    assert response["Cache-Control"] == "public, no-cache"
    assert response["Vary"] == "Accept-Encoding"


def test_cache_control_max_age_follows_the_setting(client, golden_catalog, settings):
    settings.CATALOG_CACHE_MAX_AGE = 30

    assert client.get(URL)["Cache-Control"] == "public, max-age=30"


@pytest.mark.parametrize(
    "accept_encoding",
    ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "X-GZIP", "*;q=0, gzip"],
)
def test_gzip_body_decompresses_to_the_identity_body(client, golden_catalog, accept_encoding):
    response = client.get(URL, headers={"Accept-Encoding": accept_encoding})

    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.content) == GOLDEN.read_bytes()
    assert response["Content-Length"] == str(len(response.content))
    assert response["ETag"] != client.get(URL)["ETag"]  # its own representation, its own tag
    assert response["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    "accept_encoding", ["", "identity", "gzip;q=0", "br, gzip; q=0.000", "gzip;q=0, *", "deflate"]
)
def test_identity_body_when_gzip_is_not_accepted(client, golden_catalog, accept_encoding):
    response = client.get(URL, headers={"Accept-Encoding": accept_encoding})

    assert not response.has_header("Content-Encoding")
    assert response.content == GOLDEN.read_bytes()


@pytest.mark.parametrize("url", [URL, TYPED_URL])
def test_gzip_is_computed_once_per_revision(client, golden_catalog, monkeypatch, url):
    calls = []
    compress = router_cache.gzip.compress

    def counting_compress(*args, **kwargs):
        calls.append(1)
        return compress(*args, **kwargs)

    monkeypatch.setattr(router_cache.gzip, "compress", counting_compress)

    for _ in range(3):
        client.get(url, headers={"Accept-Encoding": "gzip"})
    assert len(calls) == 1

    ServedModel.objects.filter(model_id="a/x").update(name="renamed")
    client.get(url, headers={"Accept-Encoding": "gzip"})
    assert len(calls) == 2


@pytest.mark.parametrize("accept_encoding", ["", "gzip"])
def test_head_sends_the_headers_of_get_and_no_body(client, golden_catalog, accept_encoding):
    headers = {"Accept-Encoding": accept_encoding}
    get = client.get(URL, headers=headers)
    # The view itself, not only the test client, leaves the body out.
    head = OpenRouterModelsView.as_view()(RequestFactory().head(URL, headers=headers))

    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Length"] == str(len(get.content))
    for header in ("ETag", "Cache-Control", "Vary", "Content-Type"):
        assert head[header] == get[header]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_get_405_with_allow(golden_catalog, method):
    # enforce_csrf_checks: a 403 from CSRF would hide the 405.
    response = getattr(Client(enforce_csrf_checks=True), method)(
        URL, data="{}", content_type="application/json"
    )

    assert response.status_code == 405
    assert {m.strip() for m in response["Allow"].split(",")} >= {"GET", "HEAD"}
    assert method.upper() not in response["Allow"]


def test_no_authentication_no_session_no_cookie(client, golden_catalog, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone"))

    response = client.get(URL)

    assert response.status_code == 200
    assert response.content == GOLDEN.read_bytes()
    assert not response.cookies
    assert response["Vary"] == "Accept-Encoding"  # no "Cookie": the session is never read


@pytest.fixture
def unreachable_redis(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    yield
    settings.REDIS_URL = ""  # before conftest's teardown clears the cache


def test_redis_down_falls_back_to_postgres(client, golden_catalog, unreachable_redis, caplog):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.content == GOLDEN.read_bytes()
    assert "Redis unavailable" in caplog.text


# --- The typed format: ?schema_version=2.4 ------------------------------------------------------


def test_the_typed_format_is_served_with_the_parameter(client, golden_catalog):
    response = client.get(TYPED_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == published_typed_catalog()[1]
    documents = assert_valid_typed(response.content)
    # One document per published model, in the flat list's order.
    assert [d["id"] for d in documents] == [r["id"] for r in get_records(client)]
    assert len(documents) == 7


@pytest.mark.parametrize(
    "query",
    [
        "utm_source=x&schema_version=2.4",
        "schema_version=2%2E4",
        "schema_version=2.4&schema_version=2.4",
    ],
)
def test_the_parameter_is_read_among_others_and_however_encoded(client, golden_catalog, query):
    assert client.get(f"{URL}?{query}").content == client.get(TYPED_URL).content


def test_without_the_parameter_or_with_others_the_flat_format_is_served_as_before(
    client, golden_catalog
):
    client.get(TYPED_URL)  # the typed body cached beside it changes nothing

    for url in (URL, URL + "?", URL + "?format=json", URL + "?schema=2.4"):
        assert client.get(url).content == GOLDEN.read_bytes(), url


@pytest.mark.parametrize(
    "query",
    ["schema_version=", "schema_version=2.3", "schema_version=2.4.0", "schema_version=v2.4",
     "schema_version=2.4&schema_version=2.3"],
)  # fmt: skip
def test_an_unsupported_schema_version_is_a_400_naming_the_supported_ones(
    client, golden_catalog, query
):
    response = client.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    problem = response.json()
    assert problem["supported_schema_versions"] == ["2.4"]
    assert "Supported: 2.4" in problem["detail"]
    assert "without schema_version the flat format is served" in problem["detail"]


def test_the_400_names_the_version_asked_for(client, golden_catalog):
    assert "'2.3'" in client.get(URL + "?schema_version=2.3").json()["detail"]


def test_typed_etag_is_strong_stable_and_not_the_flat_ones(client, golden_catalog):
    flat = client.get(URL)
    first, second = client.get(TYPED_URL), client.get(TYPED_URL)
    gzipped = client.get(TYPED_URL, headers={"Accept-Encoding": "gzip"})

    assert re.fullmatch(r'"v2\.4-[0-9a-f]{32}"', first["ETag"])
    assert second["ETag"] == first["ETag"]
    assert gzipped["ETag"] == first["ETag"][:-1] + '-gzip"'
    assert len({flat["ETag"], first["ETag"], gzipped["ETag"]}) == 3


def test_an_empty_catalog_has_one_body_but_two_etags(client, empty_catalog):
    flat, typed = client.get(URL), client.get(TYPED_URL)

    assert flat.content == typed.content == b'{"data":[]}'
    assert flat["ETag"] != typed["ETag"]


def test_typed_if_none_match_gets_304_and_the_flat_tag_does_not(client, golden_catalog):
    etag = client.get(TYPED_URL)["ETag"]
    flat_etag = client.get(URL)["ETag"]

    response = client.get(TYPED_URL, headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Vary"] == "Accept-Encoding"
    assert client.get(TYPED_URL, headers={"If-None-Match": flat_etag}).status_code == 200
    assert client.get(URL, headers={"If-None-Match": etag}).status_code == 200


def test_typed_gzip_body_decompresses_to_the_identity_body(client, golden_catalog):
    identity = client.get(TYPED_URL)
    response = client.get(TYPED_URL, headers={"Accept-Encoding": "gzip"})

    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.content) == identity.content
    assert response["Content-Length"] == str(len(response.content))
    # The representation is in the URL, a CDN's cache key: only the encoding varies.
    assert response["Vary"] == identity["Vary"] == "Accept-Encoding"
    assert response["Cache-Control"] == identity["Cache-Control"] == "public, no-cache"


@pytest.mark.parametrize("accept_encoding", ["", "gzip"])
def test_typed_head_sends_the_headers_of_get_and_no_body(client, golden_catalog, accept_encoding):
    headers = {"Accept-Encoding": accept_encoding}
    get = client.get(TYPED_URL, headers=headers)
    head = OpenRouterModelsView.as_view()(RequestFactory().head(TYPED_URL, headers=headers))

    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Length"] == str(len(get.content))
    for header in ("ETag", "Cache-Control", "Vary", "Content-Type"):
        assert head[header] == get[header]


def test_each_representation_is_rendered_once_per_revision_on_its_first_request(
    client, golden_catalog, monkeypatch
):
    calls = []
    for representation, written in list(FORMATS.items()):
        name = written.published.__name__

        def counting(render_function=written.published, name=name):
            calls.append(name)
            return render_function()

        monkeypatch.setitem(FORMATS, representation, replace(written, published=counting))

    for _ in range(3):
        client.get(URL)
    assert calls == ["published_catalog"]  # the typed one is never rendered unasked
    for _ in range(3):
        client.get(TYPED_URL)
        client.get(URL)
    assert calls == ["published_catalog", "published_typed_catalog"]

    ServedModel.objects.filter(model_id="a/x").update(name="renamed")
    assert [d["name"] for d in client.get(TYPED_URL).json()["data"] if d["id"] == "a/x"] == [
        "renamed"
    ]
    assert calls[2:] == ["published_typed_catalog"]


def test_a_process_finds_the_typed_body_another_rendered_under_its_own_redis_key(
    golden_catalog, redis_url, django_assert_num_queries
):
    CatalogCache().current("2.4")

    # 1. the revision, 2. the database's identity (for the Redis key): nothing rendered.
    with django_assert_num_queries(2):
        rendered = CatalogCache().current("2.4")
    assert rendered.body == published_typed_catalog()[1]
    assert rendered.etag.startswith('"v2.4-')
    # The flat body is not found under the typed key: it is rendered (and is the flat one).
    assert CatalogCache().current().body == GOLDEN.read_bytes()


def test_while_postgres_fails_each_representation_serves_its_own_last_body(
    golden_catalog, no_shared_cache, monkeypatch, settings
):
    settings.CATALOG_STALE_IF_ERROR = 300
    cache = CatalogCache(clock=lambda: 1000.0)
    flat, _ = cache.serve()
    typed, _ = cache.serve("2.4")

    def unreachable(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(router_cache, "current_revision", unreachable)

    assert cache.serve("2.4") == (typed, 0.0)
    assert cache.serve() == (flat, 0.0)
    assert typed.body != flat.body


def test_a_cold_typed_request_makes_as_many_queries_at_7_models_as_at_30(
    client, golden_catalog, no_shared_cache
):
    def cold_queries() -> int:
        catalog_cache.clear()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(TYPED_URL).status_code == 200
        return len(queries)

    at_seven = cold_queries()
    for number in range(23):
        _publish(f"acme/more-{number}", countries=("US", "DE"), price_prompt=Decimal("0.000001"))

    assert len(client.get(TYPED_URL).json()["data"]) == 30
    # 1. the revision (the cache asks), 2. the revision of the render's snapshot, 3. the models
    # with their datacenters, 4.-6. their modalities, prices and capacities
    assert cold_queries() == at_seven == 6
