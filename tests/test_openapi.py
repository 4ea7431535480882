"""The OpenAPI description at /api/schema/ says what the contract says, and what is rendered."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from django.core.management import call_command

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
from tests.helpers import CONTRACT, SHARED_CONTRACT, load_contract, require_service

PATH = "/inference/router/openrouter/models"
COMPONENTS = ("RouterOpenRouterModelsRes", "RouterOpenRouterModel", "Pricing", "Datacenter")


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


def test_schema_is_valid_openapi_and_generates_without_warnings():
    # --validate checks it against the OpenAPI meta-schema; --fail-on-warn turns any of
    # drf-spectacular's warnings (an unguessable field, an enum naming clash) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull)


def test_operation_is_the_contracts(generated):
    operation = generated["paths"][PATH]
    contract = load_contract()["paths"][PATH]

    assert list(operation) == ["get"]
    get = operation["get"]
    assert get["operationId"] == contract["get"]["operationId"]
    assert get["tags"] == ["Inference"]
    assert get["summary"] == contract["get"]["summary"]
    assert get["description"] == contract["get"]["description"]
    assert get["responses"] == contract["get"]["responses"]
    assert get == contract["get"]
    assert not get.get("security")  # no authentication


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


def test_only_the_contracts_components_are_generated(generated):
    # drf-spectacular's enum hook would add QuantizationEnum and friends.
    assert set(generated["components"]["schemas"]) == set(COMPONENTS)


def test_documented_record_lists_exactly_the_rendered_keys():
    fields = RouterOpenRouterModelSerializer().fields

    assert tuple(fields) == RECORD_KEYS
    assert {key for key, field in fields.items() if not field.required} == OPTIONAL_RECORD_KEYS
    pricing = PricingSerializer().fields
    assert tuple(pricing) == (*PRICING_KEYS, OVERRIDES)
    assert {key for key, field in pricing.items() if not field.required} == OPTIONAL_PRICING_KEYS
    assert tuple(DatacenterSerializer().fields) == tuple(WireDatacenter.__annotations__)
    assert tuple(RouterOpenRouterModelsResSerializer().fields) == ("data",)


def test_swagger_ui_reads_the_local_schema(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert '"/api/schema/"' in response.content.decode()


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
