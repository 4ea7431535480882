"""What the flat format says of a model's offering, and the offering a flat record describes.

The mapping (../shared/docs/CONTRACTS.md section 3; the judgment calls are in
docs/ARCHITECTURE.md):

- ``input_modalities``/``output_modalities`` are the kinds of the modalities;
- ``pricing.prompt``/``input_cache_read``: the text input's ``prompt``/``cached_prompt`` per
  token; ``completion``: the text output's ``completion`` per token; ``image``: the image
  input's ``prompt`` per image; ``request``: the root ``request`` per request. A model without
  that modality uses the first of its direction in canonical order (a flat catalog may price
  what its modalities do not name). An absent entry is ``"0"``; a ``"0"`` is no entry.
- ``supported_sampling_parameters``/``supported_features``: the known names among the output
  modalities' descriptors, in canonical order; new ones are written as ``{"type": "unknown"}``
  and ``{"type": "boolean"}`` on the text output (else the first output).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache
from typing import TypedDict

from catalog.choices import (
    Direction,
    Feature,
    InputModality,
    OutputModality,
    SamplingParameter,
    canonical,
)
from catalog.offering import ROOT, ModalitySpec, Offering, Price, Scope

# Flat pricing key -> (direction, preferred kind, type, unit); direction None is the root.
PRICE_SOURCES: dict[str, tuple[str | None, str | None, str, str]] = {
    "prompt": (Direction.INPUT, "text", "prompt", "token"),
    "completion": (Direction.OUTPUT, "text", "completion", "token"),
    "image": (Direction.INPUT, "image", "prompt", "image"),
    "request": (None, None, "request", "request"),
    "input_cache_read": (Direction.INPUT, "text", "cached_prompt", "token"),
}
SAMPLING_DESCRIPTOR = {"type": "unknown"}
FEATURE_DESCRIPTOR = {"type": "boolean"}
_FLAT_PARAMETERS = frozenset(SamplingParameter.values) | frozenset(Feature.values)
_ZERO = Decimal(0)
# ``.values`` is rebuilt from the enum at each access: a third of a cold render's Python time.
_SAMPLING_NAMES = tuple(SamplingParameter.values)
_FEATURE_NAMES = tuple(Feature.values)


class FlatFields(TypedDict):
    input_modalities: list[str]
    output_modalities: list[str]
    supported_sampling_parameters: list[str]
    supported_features: list[str]
    prices: dict[str, Decimal]  # by flat pricing key


def _choose(kinds: Sequence[str], preferred: str | None, direction: str | None) -> Scope | None:
    if direction is None:
        return ROOT
    if preferred in kinds:
        return (direction, preferred)
    choices = InputModality if direction == Direction.INPUT else OutputModality
    ordered = canonical(kinds, choices)
    return (direction, ordered[0]) if ordered else None


def price_scope(offering: Offering, key: str) -> Scope | None:
    """Where the flat price ``key`` of this offering lives (None: nowhere it could)."""
    direction, preferred, _, _ = PRICE_SOURCES[key]
    return _choose(offering.kinds(direction) if direction else [], preferred, direction)


def base_price(offering: Offering, key: str) -> Price | None:
    scope = price_scope(offering, key)
    if scope is None:
        return None
    _, _, price_type, unit = PRICE_SOURCES[key]
    return offering.price(scope, price_type, unit)


@lru_cache(maxsize=1024)
def _canonical_kinds(kinds: tuple[str, ...], choices: type) -> tuple[str, ...]:
    # A catalog has few distinct lists of kinds: sorting each model's anew was ~0.1 s of a cold
    # render of 10,000 models.
    return tuple(canonical(kinds, choices))


def flat_fields(
    inputs: Iterable[str],
    outputs: Iterable[str],
    parameter_names: Collection[str],
    price_of: Callable[[Scope, str, str], Decimal | None],
) -> FlatFields:
    """The flat fields of an offering given by its parts: the kinds of its input and output
    modalities, the parameter names of its output modalities, and its base price of a scope,
    type and unit (``price_of``; None where it has none). The one place the flat view is made,
    from an ``Offering`` (``flat_view``) as from rows (``catalog.published``)."""
    kinds: dict[str, list[str]] = {
        Direction.INPUT: list(_canonical_kinds(tuple(inputs), InputModality)),
        Direction.OUTPUT: list(_canonical_kinds(tuple(outputs), OutputModality)),
    }
    prices = {}
    for key, (direction, preferred, price_type, unit) in PRICE_SOURCES.items():
        cost = None
        if direction is None:
            cost = price_of(ROOT, price_type, unit)
        elif ordered := kinds[direction]:
            kind = preferred if preferred in ordered else ordered[0]
            cost = price_of((direction, kind), price_type, unit)
        prices[key] = cost if cost is not None else _ZERO
    return {
        "input_modalities": kinds[Direction.INPUT],
        "output_modalities": kinds[Direction.OUTPUT],
        "supported_sampling_parameters": [
            name for name in _SAMPLING_NAMES if name in parameter_names
        ],
        "supported_features": [name for name in _FEATURE_NAMES if name in parameter_names],
        "prices": prices,
    }


def offering_flat_fields(offering: Offering) -> FlatFields:
    def price_of(scope: Scope, price_type: str, unit: str) -> Decimal | None:
        entry = offering.price(scope, price_type, unit)
        return entry.cost_usd if entry is not None else None

    names = {
        name
        for spec in offering.modalities
        if spec.direction == Direction.OUTPUT
        for name in spec.supported_parameters
    }
    return flat_fields(
        offering.kinds(Direction.INPUT), offering.kinds(Direction.OUTPUT), names, price_of
    )


def flat_prices(offering: Offering) -> dict[str, Decimal]:
    """The five flat prices (zero where the offering has no such entry)."""
    return offering_flat_fields(offering)["prices"]


def flat_offering(
    *,
    input_modalities: Sequence[str],
    output_modalities: Sequence[str],
    supported_sampling_parameters: Sequence[str],
    supported_features: Sequence[str],
    base: Offering | None = None,
    **prices: Decimal,
) -> Offering:
    """The offering a flat record describes, keeping what of ``base`` the flat format cannot say.

    Kept from ``base``: the modalities' typed-only fields, descriptors of names the flat lists
    do not know (and the stored descriptor of a name still listed, such as a range), prices and
    capacities the flat prices do not map to, and the qualifiers of a base entry whose price
    changes. Unknown values are kept as given, for validation to name.
    """
    base = base or Offering()
    inputs = canonical(input_modalities, InputModality)
    outputs = canonical(output_modalities, OutputModality)
    sampling_parameters, features = supported_sampling_parameters, supported_features
    prices = {key.removeprefix("price_"): value for key, value in prices.items()}
    listed = set(sampling_parameters) | set(features)
    carrier = _choose(outputs, "text", Direction.OUTPUT)
    specs: list[ModalitySpec] = [
        base.modality(Direction.INPUT, kind) or ModalitySpec(Direction.INPUT, kind, position)
        for position, kind in enumerate(inputs)
    ]
    outputs_parameters: dict[str, dict] = {}
    for kind in outputs:
        old_spec = base.modality(Direction.OUTPUT, kind)
        outputs_parameters[kind] = {
            name: descriptor
            for name, descriptor in (old_spec.supported_parameters if old_spec else {}).items()
            if name not in _FLAT_PARAMETERS or name in listed
        }
    carried = {name for parameters in outputs_parameters.values() for name in parameters}
    if carrier is not None:
        parameters = outputs_parameters[str(carrier[1])]
        for name in [*canonical(sampling_parameters, SamplingParameter),
                     *canonical(features, Feature)]:  # fmt: skip
            if name not in carried:
                parameters[name] = (
                    dict(FEATURE_DESCRIPTOR) if name in features else dict(SAMPLING_DESCRIPTOR)
                )
    for position, kind in enumerate(outputs):
        spec = base.modality(Direction.OUTPUT, kind) or ModalitySpec(
            Direction.OUTPUT, kind, position
        )
        specs.append(replace(spec, supported_parameters=outputs_parameters[kind]))
    shaped = Offering(modalities=tuple(specs))
    scopes = {spec.scope for spec in specs} | {ROOT}

    replaced = set()
    new_prices: list[Price] = []
    for key, (_, _, price_type, unit) in PRICE_SOURCES.items():
        old = base_price(base, key)
        if old is not None:
            replaced.add(old.identity)
        scope = price_scope(shaped, key)
        cost = prices.get(key, Decimal(0))
        if not isinstance(cost, Decimal):  # unvalidated input: checked by clean()
            try:
                cost = Decimal(str(cost))
            except ArithmeticError:
                continue
        if scope is None or not cost.is_finite() or cost.is_zero():
            continue
        if old is not None and old.scope == scope:
            new_prices.append(replace(old, cost_usd=cost))
        else:
            new_prices.append(Price(scope, price_type, unit, cost))
    kept = [
        price for price in base.prices if price.identity not in replaced and price.scope in scopes
    ]
    return Offering(
        modalities=shaped.modalities,
        prices=(*kept, *new_prices),
        capacities=tuple(entry for entry in base.capacities if entry.scope in scopes),
    )


def flat_view(offering: Offering) -> dict:
    """The offering's flat fields, by the names ``ServedModel`` gives them (``price_prompt``)."""
    flat = offering_flat_fields(offering)
    return {
        "input_modalities": flat["input_modalities"],
        "output_modalities": flat["output_modalities"],
        "supported_sampling_parameters": flat["supported_sampling_parameters"],
        "supported_features": flat["supported_features"],
        **{f"price_{key}": value for key, value in flat["prices"].items()},
    }
