"""Validate JSON values against components of the official typed-format schema.

The schema is the checked-in copy of OpenRouter's OpenAPI 3.1 document, loaded once from this
package (not ../shared, which a deployment does not have), and read with a JSON Schema 2020-12
validator, as OpenAPI 3.1 specifies. Errors come back as short messages keyed by JSON path
(``temperature.min: …``), never as the validator's dump.

A catalog repeats its values: most models' descriptors are a handful of the same few
(``{"type": "unknown"}``), and their price entries, limits and datacenters are alike. A value's
validity against a component depends on nothing but the value (the schema has no
``unevaluated*`` or ``$dynamicRef``), so each ``$ref`` remembers the values it has found valid
(``_ValidValues``) and does not validate one again: the same checks, run once per distinct
value. And a ``oneOf`` whose branches each require a ``type`` of their own (modalities, price
entries) first validates the one branch the value's ``type`` names: the others cannot hold, so
if it does the value is valid (``_one_of``). An invalid value is validated in full, as the
plain validator does, for its errors.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, validators
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
def supported_inputs_component(kind: str) -> str:
    """The component an input ``kind``'s ``supported_inputs`` are validated against
    (``field_errors``): that of its own variant of ``InputModality``, which has no name of
    its own, so a path within the component."""
    variants = document()["components"]["schemas"]["InputModality"]["oneOf"]
    for position, variant in enumerate(variants):
        if variant["properties"]["type"]["enum"] == [kind]:
            return f"InputModality/oneOf/{position}/properties/supported_inputs"
    raise KeyError(kind)


class _ValidValues:
    """The values found valid against each ``$ref`` target, as (reference, JSON text).

    Every reference of the schema is within its one document (``#/components/…``, or the
    document's own URI), so the reference names its target. Values longer than ``MAX_TEXT``
    are not remembered (a whole model document is rarely repeated), and the set is emptied once
    its texts, counted with ``OVERHEAD`` bytes each for the set's own objects, reach
    ``MAX_TOTAL``: a long-lived process keeps a few MiB at most.
    """

    MAX_TEXT = 1024
    MAX_TOTAL = 4 * 2**20
    OVERHEAD = 160  # a key's tuple, string header and set slot, roughly

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()
        self.total = 0

    def add(self, key: tuple[str, str]) -> None:
        size = len(key[1]) + self.OVERHEAD
        if self.total + size > self.MAX_TOTAL:
            self.keys.clear()
            self.total = 0
        self.keys.add(key)
        self.total += size


_VALID = _ValidValues()
# A model document has an id of its own: never worth its text.
_NEVER_REPEATED = frozenset({f"{_URI}#/components/schemas/ModelDocumentV2"})
_REF = Draft202012Validator.VALIDATORS["$ref"]


def _remembered_ref(validator, ref: str, instance: object, schema: dict):
    """``$ref`` as the 2020-12 validator checks it, once per distinct valid value."""
    if ref in _NEVER_REPEATED:
        yield from _REF(validator, ref, instance, schema)
        return
    text = json.dumps(instance, ensure_ascii=False)
    if len(text) > _VALID.MAX_TEXT:
        yield from _REF(validator, ref, instance, schema)
        return
    key = (ref, text)
    if key in _VALID.keys:
        return
    errors = list(_REF(validator, ref, instance, schema))
    if errors:
        yield from errors
    else:
        _VALID.add(key)


_ONE_OF = Draft202012Validator.VALIDATORS["oneOf"]
# id of a oneOf's list of branches -> (that list, its branches by the ``type`` each requires).
_DISCRIMINATED: dict[int, tuple[list, dict[str, dict] | None]] = {}


def _by_type(branches: list) -> dict[str, dict] | None:
    """The branches by the ``type`` value each admits, if each is an object schema requiring a
    ``type`` from an ``enum`` of strings of its own; else None."""
    found: dict[str, dict] = {}
    for branch in branches:
        if not isinstance(branch, dict) or "type" not in branch.get("required", ()):
            return None
        enum = branch.get("properties", {}).get("type", {}).get("enum")
        if not isinstance(enum, list):
            return None
        for value in enum:
            if not isinstance(value, str) or value in found:
                return None
            found[value] = branch
    return found


def _one_of(validator, branches: list, instance: object, schema: dict):
    """``oneOf`` as the 2020-12 validator checks it; but a value whose ``type`` names a branch
    is valid as soon as that branch holds, since every other branch requires another ``type``."""
    known = _DISCRIMINATED.get(id(branches))
    if known is None or known[0] is not branches:
        known = _DISCRIMINATED[id(branches)] = (branches, _by_type(branches))
    by_type = known[1]
    value = instance.get("type") if isinstance(instance, dict) else None
    if (
        by_type is not None
        and isinstance(value, str)
        and value in by_type
        and validator.evolve(schema=by_type[value]).is_valid(instance)
    ):
        return  # the named branch holds, and every other requires another type
    yield from _ONE_OF(validator, branches, instance, schema)


_Validator = validators.extend(Draft202012Validator, {"$ref": _remembered_ref, "oneOf": _one_of})


@cache
def _validator(component: str) -> Draft202012Validator:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry = Registry().with_resource(_URI, resource)
    schema = _DERIVED.get(component) or {"$ref": f"{_URI}#/components/schemas/{component}"}
    return _Validator(schema, registry=registry)


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
    values (compliance flags, descriptor maps) over its models. A value that is no JSON is
    validated as it is.
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
