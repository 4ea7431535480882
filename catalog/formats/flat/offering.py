"""What the flat format says of a model's offering, and the offering a flat record describes.

The mapping (../shared/docs/CONTRACTS.md section 3; the judgment calls are in
docs/architecture/formats.md):

- ``input_modalities``/``output_modalities`` are the kinds of the modalities;
- ``pricing.prompt``/``input_cache_read``: the text input's ``prompt``/``cached_prompt`` per
  token; ``completion``: the text output's ``completion`` per token; ``image``: the image
  input's ``prompt`` per image; ``request``: the root ``request`` per request. A model without
  that modality uses the first of its direction in canonical order (a flat catalog may price
  what its modalities do not name). An absent entry is ``"0"``; a ``"0"`` is no entry.
- ``supported_sampling_parameters``/``supported_features``: the known names among the output
  modalities' descriptors, in canonical order; new ones are written as ``{"type": "unknown"}``
  and ``{"type": "boolean"}`` on the text output (else the first output).
- ``capacity_tpm``: the capacity ``prompt`` per ``token`` per ``minute`` of the scope of
  ``pricing.prompt`` (the text input, else the first input).
- ``pricing.overrides``: a long-context tier ``min_prompt_tokens: N`` is an override
  ``{"when": {"prompt_tokens": {"gte": N + 1}}, "cost_usd": …}`` of the base entry of each
  price it names; a time-of-day window is an entry of the same scope, type and unit with that
  window (and no cache qualifiers, no weekdays). Other overrides and entries are the typed
  format's only: an entry limited to weekdays (``utc_days``) never shows in a flat record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol, TypedDict

from django.core.exceptions import ValidationError
from django.db import models

from catalog.choices import (
    Direction,
    Feature,
    InputModality,
    OutputModality,
    SamplingParameter,
    canonical,
    positions,
)
from catalog.formats.json_text import plain_decimal
from catalog.models import PriceEntry
from catalog.offering import ROOT, Capacity, ModalitySpec, Offering, Price, Scope
from catalog.validators import validate_price_per_token

# The flat names of the offering, as the admin's form and the flat decoder name them: its lists
# and the five prices (per token, image, request).
FLAT_LIST_FIELDS = (
    "input_modalities",
    "output_modalities",
    "supported_sampling_parameters",
    "supported_features",
)
PRICE_FIELDS = (
    "price_prompt",
    "price_completion",
    "price_image",
    "price_request",
    "price_input_cache_read",
)
# Prices charged per token; the others are per image and per request.
PER_TOKEN_PRICE_FIELDS = ("price_prompt", "price_completion", "price_input_cache_read")
FLAT_FIELDS = FLAT_LIST_FIELDS + PRICE_FIELDS
_LIST_CHOICES: dict[str, tuple[type[models.TextChoices], str | None]] = {
    "input_modalities": (InputModality, "Choose at least one input modality."),
    "output_modalities": (OutputModality, "Choose at least one output modality."),
    "supported_sampling_parameters": (SamplingParameter, None),
    "supported_features": (Feature, None),
}

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
# ``.values`` is rebuilt from the enum at each access, and these are read for every record.
_SAMPLING_NAMES = tuple(SamplingParameter.values)
_FEATURE_NAMES = tuple(Feature.values)
# The capacity ``capacity_tpm`` is, on the scope of ``pricing.prompt``: (type, unit, per).
CAPACITY_TPM = ("prompt", "token", "minute")
_DECIMAL_RE = re.compile(r"[0-9]+(\.[0-9]+)?")

# A flat override as read and rendered: a tier ``{"min_prompt_tokens": N, <key>: Decimal, ...}``
# or a window ``{"utc_start": HHMM, "utc_end": HHMM, <key>: Decimal, ...}``.
FlatOverride = dict[str, int | Decimal]
# The conditional prices of a scope, type and unit: its base entry's overrides, and its windowed
# entries' costs by (utc_start, utc_end).
Conditional = tuple[Sequence[object], Mapping[tuple[int, int], Decimal]]


class FlatFields(TypedDict):
    input_modalities: list[str]
    output_modalities: list[str]
    supported_sampling_parameters: list[str]
    supported_features: list[str]
    prices: dict[str, Decimal]  # by flat pricing key
    overrides: list[FlatOverride]  # tiers or windows, in the order served
    capacity_tpm: int | None


def tier_threshold(override: object) -> int | None:
    """The ``min_prompt_tokens`` of a stored override the flat format can say (a tier), else
    None: exactly ``{"when": {"prompt_tokens": {"gte": N + 1}}, "cost_usd": "<decimal>"}``."""
    if not isinstance(override, dict) or override.keys() != {"when", "cost_usd"}:
        return None
    when, cost = override["when"], override["cost_usd"]
    if not isinstance(when, dict) or when.keys() != {"prompt_tokens"}:
        return None
    condition = when["prompt_tokens"]
    if not isinstance(condition, dict) or condition.keys() != {"gte"}:
        return None
    gte = condition["gte"]
    if type(gte) is not int or gte < 1 or not isinstance(cost, str):
        return None
    return gte - 1 if _DECIMAL_RE.fullmatch(cost) else None


def tier_override(threshold: int, cost: Decimal) -> dict:
    """The stored override of a flat tier's price."""
    return {"when": {"prompt_tokens": {"gte": threshold + 1}}, "cost_usd": plain_decimal(cost)}


def _flat_overrides(
    sources: Mapping[str, tuple[Scope, str, str]],
    conditional: Callable[[Scope, str, str], Conditional],
) -> list[FlatOverride]:
    """The flat ``pricing.overrides`` of the prices at ``sources``: its tiers in ascending
    threshold, else its windows by start; each with its keys in ``PRICE_SOURCES`` order."""
    tiers: dict[int, FlatOverride] = {}
    windows: dict[tuple[int, int], FlatOverride] = {}
    for key, source in sources.items():
        overrides, windowed = conditional(*source)
        for override in overrides:
            threshold = tier_threshold(override)
            if threshold is not None:
                tiers.setdefault(threshold, {})[key] = Decimal(override["cost_usd"])  # type: ignore[index]  # a tier is a dict (tier_threshold)
        for window, cost in windowed.items():
            windows.setdefault(window, {})[key] = cost
    if tiers:
        # Both kinds on one model only come from the typed format: its windows stay typed-only.
        return [{"min_prompt_tokens": threshold, **tiers[threshold]} for threshold in sorted(tiers)]
    return [{"utc_start": start, "utc_end": end, **windows[start, end]}
            for start, end in sorted(windows)]  # fmt: skip


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


def flat_fields(
    inputs: Iterable[str],
    outputs: Iterable[str],
    parameter_names: Collection[str],
    price_of: Callable[[Scope, str, str], Decimal | None],
    conditional: Callable[[Scope, str, str], Conditional] | None = None,
    capacity_of: Callable[[Scope], int | None] | None = None,
) -> FlatFields:
    """The flat fields of an offering given by its parts: the kinds of its input and output
    modalities, the parameter names of its output modalities, its base price of a scope, type
    and unit (``price_of``; None where it has none), its conditional prices there
    (``conditional``; None when it has none at all) and its ``CAPACITY_TPM`` of a scope
    (``capacity_of``; None when it has none). The one place the flat view is made, from an
    ``Offering`` (``flat_view``) as from rows (``catalog.formats.flat.published``)."""
    kinds: dict[str, list[str]] = {
        Direction.INPUT: canonical(inputs, InputModality),
        Direction.OUTPUT: canonical(outputs, OutputModality),
    }
    prices = {}
    sources: dict[str, tuple[Scope, str, str]] = {}
    for key, (direction, preferred, price_type, unit) in PRICE_SOURCES.items():
        cost = None
        if direction is None:
            sources[key] = (ROOT, price_type, unit)
            cost = price_of(ROOT, price_type, unit)
        elif ordered := kinds[direction]:
            kind = preferred if preferred in ordered else ordered[0]
            sources[key] = ((direction, kind), price_type, unit)
            cost = price_of((direction, kind), price_type, unit)
        prices[key] = cost if cost is not None else _ZERO
    capacity = None
    if capacity_of is not None and "prompt" in sources:
        capacity = capacity_of(sources["prompt"][0])
    return {
        "input_modalities": kinds[Direction.INPUT],
        "output_modalities": kinds[Direction.OUTPUT],
        "supported_sampling_parameters": [
            name for name in _SAMPLING_NAMES if name in parameter_names
        ],
        "supported_features": [name for name in _FEATURE_NAMES if name in parameter_names],
        "prices": prices,
        "overrides": _flat_overrides(sources, conditional) if conditional is not None else [],
        "capacity_tpm": capacity,
    }


class _PriceColumns(Protocol):
    """What of a price ``flat_window`` reads: a ``Price``, or a row read as a tuple."""

    @property
    def utc_start(self) -> int | None: ...
    @property
    def utc_days(self) -> int | None: ...
    @property
    def ttl_seconds(self) -> int | None: ...
    @property
    def implicit(self) -> bool | None: ...


def flat_window(price: _PriceColumns) -> bool:
    """Whether an entry is a flat window: a window every day, without cache qualifiers. One
    limited to weekdays never is (the flat format has no weekdays; docs/architecture/formats.md)."""
    return (
        price.utc_start is not None
        and price.utc_days is None
        and price.ttl_seconds is None
        and price.implicit is None
    )


def offering_flat_fields(offering: Offering) -> FlatFields:
    def price_of(scope: Scope, price_type: str, unit: str) -> Decimal | None:
        entry = offering.price(scope, price_type, unit)
        return entry.cost_usd if entry is not None else None

    def conditional(scope: Scope, price_type: str, unit: str) -> Conditional:
        entry = offering.price(scope, price_type, unit)
        windowed = {
            (price.utc_start, price.utc_end): price.cost_usd
            for price in offering.prices
            if flat_window(price)
            and (price.scope, price.price_type, price.unit) == (scope, price_type, unit)
        }
        return (entry.overrides if entry is not None else ()), windowed  # type: ignore[return-value]  # a window's ends are set

    def capacity_of(scope: Scope) -> int | None:
        entry = offering.capacity(scope, *CAPACITY_TPM)
        return entry.value if entry is not None else None

    names = {
        name
        for spec in offering.modalities
        if spec.direction == Direction.OUTPUT
        for name in spec.supported_parameters
    }
    has_conditional = any(price.overrides or price.windowed for price in offering.prices)
    return flat_fields(
        offering.kinds(Direction.INPUT),
        offering.kinds(Direction.OUTPUT),
        names,
        price_of,
        conditional if has_conditional else None,
        capacity_of if offering.capacities else None,
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
    overrides: Sequence[Mapping] = (),
    capacity_tpm: int | None = None,
    **prices: Decimal,
) -> Offering:
    """The offering a flat record describes, keeping what of ``base`` the flat format cannot say.

    Kept from ``base``: the modalities' typed-only fields, descriptors of names the flat lists
    do not know (and the stored descriptor of a name still listed, such as a range), prices and
    capacities the flat fields do not map to, the qualifiers of a base entry whose price
    changes, its overrides that are not tiers, and windowed entries that are not flat windows
    (or that were not rendered: a model with tiers too). Unknown values are kept as given, for
    validation to name. A base price of zero is a row only when it carries overrides.
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

    tiers = [override for override in overrides if "min_prompt_tokens" in override]
    windows = [override for override in overrides if "utc_start" in override]
    replaced = set()
    old_sources = set()  # (scope, type, unit) of base's flat prices: where its windows are
    base_has_tiers = False
    new_prices: list[Price] = []
    for key, (_, _, price_type, unit) in PRICE_SOURCES.items():
        old = base_price(base, key)
        kept_overrides: tuple = ()
        if old is not None:
            replaced.add(old.identity)
            kept_overrides = tuple(o for o in old.overrides if tier_threshold(o) is None)
            base_has_tiers = base_has_tiers or len(kept_overrides) < len(old.overrides)
        old_scope = price_scope(base, key) if base.prices else None
        if old_scope is not None:
            old_sources.add((old_scope, price_type, unit))
        scope = price_scope(shaped, key)
        cost = prices.get(key, Decimal(0))
        if not isinstance(cost, Decimal):  # unvalidated input: checked by clean()
            try:
                cost = Decimal(str(cost))
            except ArithmeticError:
                continue
        entry_overrides = (
            *kept_overrides,
            *(
                tier_override(int(tier["min_prompt_tokens"]), tier[key])
                for tier in tiers
                if key in tier
            ),
        )
        if scope is None:
            continue
        new_prices += [
            Price(
                scope,
                price_type,
                unit,
                window[key],
                utc_start=window["utc_start"],
                utc_end=window["utc_end"],
            )
            for window in windows
            if key in window
        ]
        if not cost.is_finite() or (cost.is_zero() and not entry_overrides):
            continue
        if old is not None and old.scope == scope:
            new_prices.append(replace(old, cost_usd=cost, overrides=entry_overrides))
        else:
            new_prices.append(Price(scope, price_type, unit, cost, overrides=entry_overrides))
    # A file's windows replace the flat ones; with none, they go unless they were not rendered
    # (the model has tiers too, from the typed format), so that a re-import loses nothing.
    drop_windows = bool(windows) or not base_has_tiers
    kept = [
        price
        for price in base.prices
        if price.identity not in replaced
        and price.scope in scopes
        and not (
            drop_windows
            and flat_window(price)
            and (price.scope, price.price_type, price.unit) in old_sources
        )
    ]
    capacities = []
    if base.capacities:
        old_capacity = (price_scope(base, "prompt"), *CAPACITY_TPM)
        capacities = [
            entry
            for entry in base.capacities
            if entry.scope in scopes and entry.identity != old_capacity
        ]
    if capacity_tpm is not None and (capacity_scope := price_scope(shaped, "prompt")):
        capacities.append(Capacity(capacity_scope, *CAPACITY_TPM, value=capacity_tpm))
    return Offering(
        modalities=shaped.modalities,
        prices=(*kept, *new_prices),
        capacities=tuple(capacities),
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
        "overrides": flat["overrides"],
        "capacity_tpm": flat["capacity_tpm"],
    }


def flat_errors(values: Mapping[str, object]) -> dict[str, ValidationError]:
    """Flat values (``price_prompt``, ``input_modalities``, ...) held against the flat rules,
    keyed by name: known list values, at least one input and one output, prices exact and at
    least 0, per-token ones under the ceiling. Names absent from ``values`` are not checked."""
    errors: dict[str, ValidationError] = {}
    for name, (choices, required) in _LIST_CHOICES.items():
        if name not in values:
            continue
        listed = canonical(values[name] or [], choices)
        # The cached positions, not ``choices.values``: that list is rebuilt on every access.
        known = positions(choices)
        unknown = [value for value in listed if value not in known]
        if unknown:
            errors[name] = ValidationError(
                [
                    ValidationError(
                        "Value %(value)r is not a valid choice.",
                        code="invalid_choice",
                        params={"value": value},
                    )
                    for value in unknown
                ]
            )
        elif required and not listed:
            errors[name] = ValidationError(required, code="required")
    cost = PriceEntry._meta.get_field("cost_usd")
    for name in PRICE_FIELDS:
        if name not in values:
            continue
        try:
            value = cost.clean(values[name], None)
            if name in PER_TOKEN_PRICE_FIELDS:
                validate_price_per_token(value)
        except ValidationError as error:
            errors[name] = error
    return errors


def offering_of_flat_values(
    values: Mapping[str, object], *, base: Offering | None = None
) -> Offering:
    """The offering with the flat values (``price_prompt``, ``input_modalities``, ...) of
    ``values`` over ``base`` (names absent from ``values``: as ``base`` has them)."""
    base = base or Offering()
    assigned = {name: values[name] for name in FLAT_FIELDS if name in values}
    return flat_offering(base=base, **{**flat_view(base), **assigned})
