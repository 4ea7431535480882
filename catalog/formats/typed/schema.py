"""Validate JSON values against components of the official typed-format schema.

The schema is the checked-in copy of OpenRouter's OpenAPI 3.1 document, loaded once from this
package (not ../shared, which a deployment does not have), and read with a JSON Schema 2020-12
validator, as OpenAPI 3.1 specifies. Errors come back as short messages keyed by JSON path
(``temperature.min: …``), never as the validator's dump.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_PATH = Path(__file__).with_name("openrouter-provider-2.4.openapi.json")
_URI = "urn:openrouter:provider-2.4"

# Values that are not a component of their own: a map of parameter name -> descriptor
# (supported_parameters, passthrough_parameters), as the modalities define it.
_DERIVED = {
    "DescriptorMap": {
        "type": "object",
        "propertyNames": {"type": "string"},
        "additionalProperties": {"$ref": f"{_URI}#/components/schemas/ParameterDescriptor"},
    },
    "PricingOverrides": {
        "type": "array",
        "items": {"$ref": f"{_URI}#/components/schemas/PricingOverride"},
    },
}


@cache
def document() -> dict:
    return json.loads(SCHEMA_PATH.read_bytes())


@cache
def _validator(component: str) -> Draft202012Validator:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry = Registry().with_resource(_URI, resource)
    schema = _DERIVED.get(component) or {"$ref": f"{_URI}#/components/schemas/{component}"}
    return Draft202012Validator(schema, registry=registry)


def _path(error: SchemaError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".")


def _message(error: SchemaError) -> str:
    # oneOf/anyOf report "is not valid under any of the given schemas"; the closest branch
    # says what is wrong in words a person can act on.
    if error.context:
        best = min(error.context, key=lambda sub: (len(sub.context), -len(sub.absolute_path)))
        return _message(best)
    if error.validator == "additionalProperties" and error.validator_value is False:
        return "unknown key: " + error.message.split("(")[-1].rstrip(")").replace(
            " were unexpected", ""
        ).replace(" was unexpected", "")
    if error.validator == "false" or error.schema is False:
        return "not allowed here"
    return error.message


def _type_mismatch(errors: list[SchemaError]) -> bool:
    return any(list(error.path) == ["type"] for error in errors)


def _named_errors(error: SchemaError) -> list[SchemaError]:
    """For a oneOf/anyOf whose branches are told apart by the value's ``type`` (modalities,
    price entries, capacities), the errors of the one branch it names, recursively, each at its
    own path (``input_modalities[0].pricing[1].ttl_seconds``); otherwise the error itself."""
    if not error.context:
        return [error]
    branches: dict[object, list[SchemaError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    named = [subs for subs in branches.values() if not _type_mismatch(subs)]
    if len(named) != 1 or len(named) == len(branches):
        return [error]
    return [leaf for sub in named[0] for leaf in _named_errors(sub)]


def field_errors(value: object, component: str) -> list[str]:
    """Every way ``value`` breaks schema ``component``, as ``path: message`` (empty if valid).

    Validated as the JSON text it is stored as, once per distinct text: a catalog repeats a few
    values (compliance flags, descriptor maps) over its models, and validating each anew was
    ~0.25 s of an import of 10,000 models. A value that is no JSON is validated as it is.
    """
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return _field_errors(value, component)
    return list(_text_errors(text, component))


@lru_cache(maxsize=1024)
def _text_errors(text: str, component: str) -> tuple[str, ...]:
    return tuple(_field_errors(json.loads(text), component))


def _field_errors(value: object, component: str) -> list[str]:
    errors = sorted(
        (
            leaf
            for error in _validator(component).iter_errors(value)
            for leaf in _named_errors(error)
        ),
        key=lambda e: list(e.absolute_path),
    )
    messages = []
    for error in errors:
        path = _path(error)
        text = _message(error)
        messages.append(f"{path}: {text}" if path else text)
    return messages
