"""The OpenAPI description at /api/schema/ says what the contract says, and what is rendered."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog.formats.flat.encode import WireDatacenter
from catalog.formats.flat.names import (
    CURRENT_RECORD_KEYS,
    OPTIONAL_PRICING_KEYS,
    OPTIONAL_RECORD_KEYS,
    OVERRIDES,
    PRICING_KEYS,
    RECORD_KEYS,
)
from catalog.formats.flat.schema import (
    DatacenterSerializer,
    PricingSerializer,
    RouterOpenRouterModelSerializer,
    RouterOpenRouterModelsResSerializer,
)
from catalog.formats.typed import schema as typed_schema
from router.cache import SCHEMA_VERSIONS
from tests.helpers import CONTRACT, ENDPOINT, SHARED_CONTRACT, load_contract, require_service

PATH = ENDPOINT
COMPONENTS = ("RouterOpenRouterModelsRes", "RouterOpenRouterModel", "Pricing", "Datacenter")
# The official typed schema's components keep their names, but the one the seed's contract
# already uses, which takes the suffix of the official ModelDocumentV2.
RENAMED = {"Datacenter": "DatacenterV2"}
# The price API's own (router.api.serializers).
API_COMPONENTS = ("Change", "Changes", "Error", "FlatPrices", "ItemError", "Lookup",
                  "LookupRequest", "LookupResult", "LookupResults", "Price", "PriceChange",
                  "PricesAt", "Span", "Timeline")  # fmt: skip


def test_the_suites_copy_of_the_contract_is_the_published_one():
    if not SHARED_CONTRACT.exists():
        require_service(f"no published contract at {SHARED_CONTRACT}")
    assert CONTRACT.read_bytes() == SHARED_CONTRACT.read_bytes()


def test_the_apps_copy_of_the_typed_schema_is_the_official_one():
    # The app validates descriptors and overrides against its own copy (a deployment has no
    # ../shared); it must be OpenRouter's file, byte for byte.
    shared = SHARED_CONTRACT.with_name(typed_schema.SCHEMA_PATH.name)
    if not shared.exists():
        require_service(f"no published schema at {shared}")
    assert typed_schema.SCHEMA_PATH.read_bytes() == shared.read_bytes()


@pytest.fixture
def generated(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_is_openapi_3_1(generated):
    assert generated["openapi"] == "3.1.0"
    validate_schema(generated)  # the served document too, against the OpenAPI 3.1 meta-schema


def test_schema_is_valid_openapi_and_generates_without_warnings():
    # --validate checks it against the OpenAPI meta-schema; --fail-on-warn turns any of
    # drf-spectacular's warnings (an unguessable field, an enum naming clash) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def test_operation_keeps_the_contracts_parts(generated):
    operation = generated["paths"][PATH]
    contract = load_contract()["paths"][PATH]["get"]

    assert list(operation) == ["get"]
    get = operation["get"]
    assert get["operationId"] == contract["operationId"]
    assert get["tags"] == ["Inference"]
    assert get["summary"] == contract["summary"]
    assert get["description"] == contract["description"]
    assert set(get) == {*contract, "parameters"}
    assert {key: get[key] for key in contract if key != "responses"} == {
        key: value for key, value in contract.items() if key != "responses"
    }
    assert set(get["responses"]) == {"200", "400"}
    ok, seed_ok = get["responses"]["200"], contract["responses"]["200"]
    assert ok["description"] == seed_ok["description"]
    flat, _typed = ok["content"]["application/json"]["schema"]["anyOf"]
    assert flat == seed_ok["content"]["application/json"]["schema"]
    assert not get.get("security")  # no authentication


def test_schema_version_is_an_optional_query_parameter(generated):
    (parameter,) = generated["paths"][PATH]["get"]["parameters"]

    assert parameter["in"] == "query"
    assert parameter["name"] == "schema_version"
    assert not parameter.get("required")
    assert parameter["schema"] == {"type": "string", "enum": list(SCHEMA_VERSIONS)}
    assert "ModelDocumentV2" in parameter["description"]
    assert "400" in parameter["description"]


def _official_refs_renamed(value: dict) -> dict:
    text = json.dumps(value)
    for name, renamed in RENAMED.items():
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{renamed}"')
    return json.loads(text)


def test_the_typed_response_is_the_official_schemas(generated):
    ok = generated["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]
    # anyOf: an empty catalog is both lists.
    _flat, typed = ok["schema"]["anyOf"]
    assert typed["required"] == ["data"]
    assert typed["properties"]["data"]["items"] == {"$ref": "#/components/schemas/ModelDocumentV2"}

    official = json.loads(typed_schema.SCHEMA_PATH.read_bytes())["components"]["schemas"]
    schemas = generated["components"]["schemas"]
    for name, component in official.items():
        assert schemas[RENAMED.get(name, name)] == _official_refs_renamed(component), name
    # The seed's Datacenter stays the seed's.
    assert schemas["Datacenter"] == load_contract()["components"]["schemas"]["Datacenter"]


def _validator(document: dict, schema: dict) -> Draft202012Validator:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; references resolve in the whole document.
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:generated", resource)
    return Draft202012Validator(schema, registry=registry)


def _escaped(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


def test_both_served_representations_match_the_documented_branches(generated, client, catalog):
    ok = generated["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]
    flat, typed = (
        _validator(
            generated,
            {
                "$ref": f"urn:generated#/paths/{_escaped(PATH)}/get/responses/200"
                f"/content/application~1json/schema/anyOf/{index}"
            },
        )
        for index in range(2)
    )
    flat_body = client.get(PATH).json()
    typed_body = client.get(PATH + "?schema_version=2.4").json()

    assert ok["schema"]["anyOf"][0]["$ref"].endswith("/RouterOpenRouterModelsRes")
    assert flat.is_valid(flat_body)
    assert not typed.is_valid(flat_body)
    assert typed.is_valid(typed_body)
    assert not flat.is_valid(typed_body)


def test_the_400_for_an_unknown_version_is_documented(generated, client, db):
    unknown = generated["paths"][PATH]["get"]["responses"]["400"]
    schema = unknown["content"]["application/json"]["schema"]
    response = client.get(PATH + "?schema_version=9.9")

    assert response.status_code == 400
    assert schema["required"] == ["detail", "supported_schema_versions"]
    _validator(generated, schema).validate(response.json())


# The values the current flat revision added to the contract's lists
# (../shared/docs/CONTRACTS.md section 1), which the schema documents in canonical order.
ADDED_VALUES = {
    ("RouterOpenRouterModel", "quantization"): ("mxfp4", "nvfp4", "mxfp8"),
    ("RouterOpenRouterModel", "supported_sampling_parameters"): (
        "min_p",
        "top_a",
        "max_tokens",
        "logit_bias",
    ),
    ("RouterOpenRouterModel", "supported_features"): ("logprobs",),
}


# The optional properties the current flat revision added, after the seed's.
ADDED_PROPERTIES = {
    "RouterOpenRouterModel": CURRENT_RECORD_KEYS,
    "Pricing": (OVERRIDES,),
}


def _without_added_values(name: str, component: dict) -> dict:
    """``component`` with the added values taken out of its enums and the added (optional)
    properties out of its properties (the rest must be the seed's, in the seed's order)."""
    component = json.loads(json.dumps(component))
    for key in ADDED_PROPERTIES.get(name, ()):
        assert key not in component["required"], f"{name}.{key} must be optional"
        del component["properties"][key]
    for (component_name, key), added in ADDED_VALUES.items():
        if component_name == name:
            schema = component["properties"][key]
            schema = schema.get("items", schema)  # a list's values, or the value
            assert set(added) <= set(schema["enum"]), f"{name}.{key} lacks {added}"
            schema["enum"] = [value for value in schema["enum"] if value not in added]
    return component


@pytest.mark.parametrize("name", COMPONENTS)
def test_component_equals_the_contracts(generated, name):
    component = _without_added_values(name, generated["components"]["schemas"][name])
    contract = load_contract()["components"]["schemas"][name]

    assert component["type"] == contract["type"] == "object"
    assert component["title"] == contract["title"]
    assert component["required"] == contract["required"]
    assert component.get("description") == contract.get("description")
    assert set(component["properties"]) == set(contract["properties"])
    for key, expected in contract["properties"].items():
        actual = component["properties"][key]
        for aspect in ("type", "enum", "items", "title", "anyOf", "$ref", "description"):
            assert actual.get(aspect) == expected.get(aspect), f"{name}.{key}: {aspect}"
        assert actual == expected, f"{name}.{key}"
    assert component == contract


def test_only_the_contracts_and_the_official_components_are_generated(generated):
    # drf-spectacular's enum hook would add QuantizationEnum and friends.
    official = json.loads(typed_schema.SCHEMA_PATH.read_bytes())["components"]["schemas"]
    assert set(generated["components"]["schemas"]) == {
        *COMPONENTS,
        *(RENAMED.get(name, name) for name in official),
        *API_COMPONENTS,
    }


def test_documented_record_lists_exactly_the_rendered_keys():
    fields = RouterOpenRouterModelSerializer().fields

    assert tuple(fields) == RECORD_KEYS
    assert {key for key, field in fields.items() if not field.required} == OPTIONAL_RECORD_KEYS
    pricing = PricingSerializer().fields
    assert tuple(pricing) == (*PRICING_KEYS, OVERRIDES)
    assert {key for key, field in pricing.items() if not field.required} == OPTIONAL_PRICING_KEYS
    assert tuple(DatacenterSerializer().fields) == tuple(WireDatacenter.__annotations__)
    assert tuple(RouterOpenRouterModelsResSerializer().fields) == ("data",)


def test_swagger_ui_reads_the_local_schema_which_has_both_representations(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert '"/api/schema/"' in response.content.decode()
    # Swagger UI renders what /api/schema/ says: both lists under the one 200.
    schema = yaml.safe_load(client.get("/api/schema/").content)
    ok = schema["paths"][PATH]["get"]["responses"]["200"]["content"]["application/json"]
    refs = [
        branch.get("$ref") or branch["properties"]["data"]["items"]["$ref"]
        for branch in ok["schema"]["anyOf"]
    ]
    assert refs == [
        "#/components/schemas/RouterOpenRouterModelsRes",
        "#/components/schemas/ModelDocumentV2",
    ]


def test_the_current_revisions_properties_are_documented(generated):
    schemas = generated["components"]["schemas"]
    model = schemas["RouterOpenRouterModel"]["properties"]
    assert list(model)[-len(CURRENT_RECORD_KEYS) :] == list(CURRENT_RECORD_KEYS)
    assert model["description"]["type"] == "string"
    assert model["is_ready"]["type"] == model["is_free"]["type"] == "boolean"
    assert model["discount_to_user"]["type"] == "number"
    assert model["discount_to_user"]["exclusiveMaximum"] == 1
    assert model["capacity_tpm"]["type"] == "integer"
    assert model["openrouter"]["required"] == ["slug"]
    overrides = schemas["Pricing"]["properties"][OVERRIDES]
    assert overrides["type"] == "array"
    assert overrides["maxItems"] == 2
    tier, window = overrides["items"]["oneOf"]
    assert tier["required"] == ["min_prompt_tokens"]
    assert window["required"] == ["utc_start", "utc_end"]
    assert set(tier["properties"]) == {"min_prompt_tokens", *PRICING_KEYS}
    assert set(window["properties"]) == {"utc_start", "utc_end", *PRICING_KEYS}
    assert tier["additionalProperties"] is window["additionalProperties"] is False
