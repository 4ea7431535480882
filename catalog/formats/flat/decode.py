"""Decode a catalog file in the flat format into unsaved served models, strictly.

JSON types become Python values here (prices are strings in plain notation, lengths JSON
integers, ``created`` Unix seconds, dates ``YYYY-MM-DD`` or on a UTC hour, ``discount_to_user``
an exact JSON number, ``pricing.overrides`` tiers or windows), each record an unsaved
``ServedModel``, and its datacenters are checked by ``validate_country_code``: that is the
format's job. A file that breaks the format anywhere is refused (``CatalogFileInvalid``) before
any query, with every problem in it. Whether a record follows the field rules is
``Entry.rule_problems()`` (``full_clean()``, as in the admin), which the importer asks only of
the records that would change the catalog.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import cast

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from catalog.choices import Feature, InputModality, OutputModality, SamplingParameter
from catalog.formats.flat.names import (
    MODEL_FIELDS,
    OPENROUTER_KEYS,
    OPTIONAL_PRICING_KEYS,
    OPTIONAL_RECORD_KEYS,
    OVERRIDES,
    PRICING_FIELDS,
    PRICING_KEYS,
    RECORD_KEYS,
    TIER_KEYS,
    WINDOW_KEYS,
    WIRE_NAMES,
)
from catalog.formats.flat.offering import (
    FLAT_FIELDS,
    PER_TOKEN_PRICE_FIELDS,
    flat_errors,
    flat_offering,
    flat_view,
    offering_of_flat_values,
    plain_decimal,
)
from catalog.formats.json_text import (
    Invalid,
    read_created,
    read_deprecation,
    read_discount,
    read_integer,
    read_string,
)
from catalog.formats.problems import (
    ABSENT,
    MAX_PROBLEMS,
    CatalogFileInvalid,
    Problem,
    describe,
    file_problem,
    rule_reason,
    to_json,
)
from catalog.formats.strict_json import (
    LONE_SURROGATE,
    JSONObject,
    load_document,
    lone_surrogate,
    non_finite,
)
from catalog.models import PriceEntry, ServedModel
from catalog.offering import Capacity, Offering
from catalog.validators import validate_country_code, validate_price_per_token

_PLAIN_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# The largest tier threshold read: as large as a row's largest integer (PositiveBigIntegerField).
_MAX_THRESHOLD = 2**63 - 1
# Flat overrides: at most this many tiers, and this many windows (../shared/docs/CONTRACTS.md).
_MAX_OVERRIDES = 2


# Built once: ``Choices.values`` builds its list anew on every access.
_KNOWN_LIST_VALUES = {
    "input_modalities": frozenset(InputModality.values),
    "output_modalities": frozenset(OutputModality.values),
    "supported_sampling_parameters": frozenset(SamplingParameter.values),
    "supported_features": frozenset(Feature.values),
}


@dataclass
class Entry:
    """A record as read: its values, its datacenter codes, and where it is in the file."""

    # ServedModel field (or flat name, such as ``price_prompt``) -> the value read.
    values: dict[str, object]
    codes: list[str]
    index: int
    raw: JSONObject
    # The fields the record leaves unset: reported already when required, so not checked.
    unset: frozenset[str]
    # The flat fields of the offering that are no ServedModel property: ``capacity_tpm`` and
    # ``overrides``, when the record has them.
    extra: dict[str, object] = field(default_factory=dict)

    @cached_property
    def model(self) -> ServedModel:
        """The record as an unsaved model, built when first asked for: an import compares
        ``values`` with the catalog first, and a record equal to its stored model needs none."""
        columns = {name: value for name, value in self.values.items() if name not in FLAT_FIELDS}
        return ServedModel(**columns, is_published=True)

    @cached_property
    def offering(self) -> Offering:
        """What the record offers: its flat fields as rows (``catalog.formats.flat.offering``)."""
        offering = offering_of_flat_values(self.values)
        if self.extra:
            offering = flat_offering(**{**flat_view(offering), **self.extra})
        return offering

    def has_unknown_values(self) -> bool:
        """Whether a list holds a value no stored model can (reported by ``rule_problems``)."""
        return any(
            value not in known
            for name, known in _KNOWN_LIST_VALUES.items()
            for value in cast(list[str], self.values.get(name) or ())  # read by _string_list
        )

    def rule_problems(self) -> list[Problem]:
        """The record held against the field rules (``full_clean()`` and the flat rules, as in
        the admin)."""
        messages: dict[str, list[str]] = {}
        try:
            self.model.full_clean(
                exclude=self.unset, validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            messages = error.message_dict
        flat = {name: value for name, value in self.values.items() if name in FLAT_FIELDS}
        errors = flat_errors(flat)
        for name, flat_error in errors.items():
            messages.setdefault(name, []).extend(flat_error.messages)
        model_id = self.raw.get("id")
        model_id = model_id if isinstance(model_id, str) else None
        problems = [] if errors else self.offering_problems(model_id)
        if not messages:
            return problems
        for model_field, field_messages in messages.items():
            if model_field in self.unset:
                continue
            wire = (
                "" if model_field == NON_FIELD_ERRORS else WIRE_NAMES.get(model_field, model_field)
            )
            value = _wire_value(self.raw, wire)
            problems += [
                Problem(self.index, model_id, wire, value, message) for message in field_messages
            ]
        return problems

    def offering_problems(self, model_id: str | None) -> list[Problem]:
        """The offering held against its rules (``Offering.problems()``): a flat record's own
        can break them only in its windows, which are found by their ends, and in its one
        capacity (``capacity_tpm``)."""
        problems = []
        for problem in self.offering.problems():
            entry = problem.entry
            if isinstance(entry, Capacity):
                reason = rule_reason(problem)
                value = _wire_value(self.raw, "capacity_tpm")
                problems.append(Problem(self.index, model_id, "capacity_tpm", value, reason))
                continue
            path, value = "pricing", _wire_value(self.raw, "pricing")
            overrides = _wire_value(self.raw, f"pricing.{OVERRIDES}")
            for position, item in enumerate(overrides if isinstance(overrides, list) else ()):
                if not isinstance(item, dict):
                    continue
                ends = (item.get("utc_start"), item.get("utc_end"))
                if ends == (getattr(entry, "utc_start", None), getattr(entry, "utc_end", None)):
                    path = f"pricing.{OVERRIDES}[{position}]"
                    value = item
                    if problem.field is not None:
                        path += f".{problem.field}"
                        value = item.get(problem.field, ABSENT)
                    break
            problems.append(Problem(self.index, model_id, path, value, rule_reason(problem)))
        return problems


@dataclass
class _Parsed:
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_keys: Counter = field(default_factory=Counter)


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"must be a list of strings, not {describe(value)}.")
    return value


def _description(value: object) -> str:
    text = read_string(value)
    if "\x00" in text:  # PostgreSQL's text cannot hold it
        raise Invalid("must not contain the NUL character (\\u0000).")
    return text


def _boolean(value: object) -> bool:
    if type(value) is not bool:
        raise Invalid(f"must be true or false, not {describe(value)}.")
    return value


def _threshold(value: object) -> int:
    """A tier's ``min_prompt_tokens``: a number of tokens, 0 or more."""
    number = read_integer(value)
    if not 0 <= number <= _MAX_THRESHOLD:
        raise Invalid(f"must be a whole number of prompt tokens, from 0 to {_MAX_THRESHOLD}.")
    return number


def _clock(value: object) -> int:
    """A UTC clock time written HHMM, as a JSON integer (its range is the offering's rule)."""
    return read_integer(value)


def _price(value: object) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Invalid(
            f'must be a string in plain decimal notation, like "0.00000015", not the JSON '
            f"number {to_json(value)}."
        )
    text = read_string(value)
    if _PLAIN_DECIMAL_RE.fullmatch(text):
        return Decimal(text)
    if "e" in text.lower():
        try:
            number = Decimal(text)
        except ArithmeticError:
            number = None
        # Only suggest a plain form that is short enough to read (and to compute).
        if number is not None and number.is_finite() and abs(number.adjusted()) <= 30:
            raise Invalid(
                f'must be in plain notation, without an exponent: "{plain_decimal(number)}".'
            )
    raise Invalid('must be a plain decimal number such as "0.00000015" (no sign, unit or spaces).')


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "id": read_string,
    "hugging_face_id": read_string,
    "name": read_string,
    "created": read_created,
    "input_modalities": _string_list,
    "output_modalities": _string_list,
    "quantization": read_string,
    "context_length": read_integer,
    "max_output_length": read_integer,
    "supported_sampling_parameters": _string_list,
    "supported_features": _string_list,
    "deprecation_date": read_deprecation,
    "description": _description,
    "is_ready": _boolean,
    "is_free": _boolean,
    "discount_to_user": read_discount,
}


def _wire_value(raw: JSONObject, wire: str) -> object:
    """The value of the wire field ``wire`` (``pricing.prompt``) in a record, or ABSENT."""
    value: object = raw
    for part in wire.split(".") if wire else ():
        value = value.get(part, ABSENT) if isinstance(value, dict) else ABSENT
    return value


_OPTIONAL_KEYS = OPTIONAL_RECORD_KEYS | OPTIONAL_PRICING_KEYS
_COST_FIELD = PriceEntry._meta.get_field("cost_usd")


def _prices_of(override: dict) -> dict:
    return {key: value for key, value in override.items() if key in PRICING_KEYS}


# The ServedModel fields a record sets, all checked by full_clean().
_RECORD_FIELDS = tuple(
    MODEL_FIELDS.get(key, key) for key in RECORD_KEYS if key not in ("pricing", "datacenters")
) + tuple(PRICING_FIELDS.values())


class _RecordChecker:
    """Reads one wire record into an unsaved ServedModel, noting every problem of format."""

    def __init__(self, parsed: _Parsed, index: int, raw: JSONObject):
        self.parsed = parsed
        self.index = index
        self.raw = raw
        self.id = raw.get("id") if isinstance(raw.get("id"), str) else None
        self.has_problems = False

    def report(self, field: str, value: object, reason: str) -> None:
        self.has_problems = True
        self.parsed.problems.append(Problem(self.index, self.id, field, value, reason))

    def check_keys(
        self, obj: JSONObject, known: tuple[str, ...], *, path: str = "", pattern: str = "data[]"
    ) -> None:
        """Report missing and repeated keys; count unknown ones (ignored, with a notice).

        ``path`` prefixes the fields of problems (``datacenters[2]``), ``pattern`` the keys of
        the notice, which stand for every record (``data[].datacenters[]``).
        """
        prefix = f"{path}." if path else ""
        for key in known:
            if key not in obj and key not in _OPTIONAL_KEYS:
                self.report(prefix + key, ABSENT, "required key missing.")
        for key in obj.repeated_keys:
            self.report(prefix + key, obj[key], "the key appears more than once in the object.")
        for key, value in obj.items() if obj.may_hold_lone_surrogates else ():
            # The objects of known keys (pricing, each datacenter) are checked on their own.
            if lone_surrogate(key) or lone_surrogate(value, into_objects=key not in known):
                self.report(prefix + key, value, LONE_SURROGATE)
        for key in sorted(obj.keys() - set(known)):
            self.parsed.ignored_keys[f"{pattern}.{key}"] += 1
            if non_finite(obj[key]):
                self.report(prefix + key, ABSENT, "NaN and Infinity are not JSON.")

    def check(self) -> Entry:
        """The record as read; whether it follows the field rules is checked apart."""
        self.check_keys(self.raw, RECORD_KEYS)
        values: dict[str, object] = {}
        for key, convert in _CONVERTERS.items():
            if key in self.raw:
                try:
                    values[MODEL_FIELDS.get(key, key)] = convert(self.raw[key])
                except Invalid as error:
                    self.report(key, self.raw[key], str(error))
        if "deprecation_date" in values:
            values["deprecation_date"], values["deprecation_hour"] = values["deprecation_date"]  # type: ignore[misc]  # read_deprecation's pair
        if "openrouter" in self.raw:
            slug = self.openrouter_slug(self.raw["openrouter"])
            if slug is not None:
                values["openrouter_slug"] = slug
        values.update(self.prices())
        # The flat fields of the offering that are not ServedModel properties.
        extra: dict[str, object] = {}
        if "capacity_tpm" in self.raw:
            try:
                # Its range is the offering's rule (a capacity's value).
                extra["capacity_tpm"] = read_integer(self.raw["capacity_tpm"])
            except Invalid as error:
                self.report("capacity_tpm", self.raw["capacity_tpm"], str(error))
        pricing = self.raw.get("pricing")
        if isinstance(pricing, JSONObject) and OVERRIDES in pricing:
            extra["overrides"] = self.overrides(pricing[OVERRIDES])
        codes = self.datacenter_codes()
        unset = frozenset(
            model_field for model_field in _RECORD_FIELDS if model_field not in values
        )
        return Entry(values, codes, self.index, self.raw, unset, extra)

    def openrouter_slug(self, value: object) -> str | None:
        if not isinstance(value, JSONObject):
            self.report(
                "openrouter", value, f'must be an object {{"slug": …}}, not {describe(value)}.'
            )
            return None
        for key in value.repeated_keys:
            self.report(
                f"openrouter.{key}", value[key], "the key appears more than once in the object."
            )
        for key in sorted(value.keys() - set(OPENROUTER_KEYS)):
            self.report(
                f"openrouter.{key}", value[key], 'unknown key: openrouter holds only "slug".'
            )
        if "slug" not in value:
            self.report("openrouter.slug", ABSENT, "required key missing.")
            return None
        try:
            slug = read_string(value["slug"])
        except Invalid as error:
            self.report("openrouter.slug", value["slug"], str(error))
            return None
        if not slug:
            reason = "must not be empty; leave openrouter out when there is no slug."
            self.report("openrouter.slug", slug, reason)
            return None
        if lone_surrogate(slug):
            self.report("openrouter.slug", slug, LONE_SURROGATE)
            return None
        return slug

    def prices(self) -> dict[str, Decimal]:
        pricing = self.raw.get("pricing", ABSENT)
        if pricing is ABSENT:
            return {}
        if not isinstance(pricing, JSONObject):
            reason = f"must be an object, not {describe(pricing)}."
            if isinstance(pricing, list):
                reason += " The older list of tiers (min_context) is not read: use overrides."
            self.report("pricing", pricing, reason)
            return {}
        self.check_keys(
            pricing, (*PRICING_KEYS, OVERRIDES), path="pricing", pattern="data[].pricing"
        )
        prices = {}
        for key, model_field in PRICING_FIELDS.items():
            if key in pricing:
                try:
                    prices[model_field] = _price(pricing[key])
                except Invalid as error:
                    self.report(f"pricing.{key}", pricing[key], str(error))
        return prices

    def override_price(self, path: str, key: str, value: object) -> Decimal | None:
        """A price of an override, held to the rules of the price it overrides."""
        try:
            price = _price(value)
            _COST_FIELD.clean(price, None)
            if PRICING_FIELDS[key] in PER_TOKEN_PRICE_FIELDS:
                validate_price_per_token(price)
        except Invalid as error:
            self.report(path, value, str(error))
        except ValidationError as error:
            for message in error.messages:
                self.report(path, value, message)
        else:
            return price
        return None

    def overrides(self, value: object) -> list[dict]:
        """``pricing.overrides`` as read (tiers or windows), or none if any has a problem."""
        path = f"pricing.{OVERRIDES}"
        if not isinstance(value, list):
            reason = f"must be a list of tiers or of windows, not {describe(value)}."
            self.report(path, value, reason)
            return []
        problems_before = len(self.parsed.problems)
        read: dict[str, list[tuple[int, dict]]] = {"tier": [], "window": []}
        for position, item in enumerate(value):
            item_path = f"{path}[{position}]"
            if not isinstance(item, JSONObject):
                self.report(item_path, item, f"must be an object, not {describe(item)}.")
                continue
            override = self.override(item_path, item)
            if override is not None:
                kind = "tier" if "min_prompt_tokens" in override else "window"
                read[kind].append((position, override))
        tiers, windows = read["tier"], read["window"]
        if tiers and windows:
            reason = "mixes tiers and windows: a model has one kind of override or the other."
            self.report(path, ABSENT, reason)
        for kind, overrides in read.items():
            for position, _ in overrides[_MAX_OVERRIDES:]:
                reason = f"one {kind} too many: at most {_MAX_OVERRIDES} {kind}s."
                self.report(f"{path}[{position}]", value[position], reason)
        for (_, before), (position, tier) in itertools.pairwise(tiers):
            threshold, previous = tier["min_prompt_tokens"], before["min_prompt_tokens"]
            if threshold <= previous:
                reason = (
                    f"must be above the tier before it ({previous}): tiers go in ascending "
                    "order, each threshold once."
                )
                self.report(f"{path}[{position}].min_prompt_tokens", threshold, reason)
        for position, window in windows[1:]:
            first_position, first = windows[0]
            if _prices_of(window) != _prices_of(first):
                reason = (
                    f"must have the prices of {path}[{first_position}]: all windows of a "
                    "model have the same prices."
                )
                self.report(f"{path}[{position}]", value[position], reason)
        if len(self.parsed.problems) > problems_before:
            return []
        return [override for _, override in sorted(tiers + windows, key=lambda item: item[0])]

    def override(self, path: str, item: JSONObject) -> dict | None:
        """One tier or window as read, or None if it has a problem (reported)."""
        problems_before = len(self.parsed.problems)
        for key in item.repeated_keys:
            self.report(f"{path}.{key}", item[key], "the key appears more than once in the object.")
        tier = "min_prompt_tokens" in item
        if tier and ("utc_start" in item or "utc_end" in item):
            self.report(path, item, "is both a tier (min_prompt_tokens) and a window (utc_start).")
            return None
        if not tier and "utc_start" not in item and "utc_end" not in item:
            reason = "must be a tier (min_prompt_tokens) or a window (utc_start and utc_end)."
            self.report(path, item, reason)
            return None
        known = TIER_KEYS if tier else WINDOW_KEYS
        for key in sorted(item.keys() - set(known)):
            reason = f"unknown key: a {'tier' if tier else 'window'} holds {', '.join(known)}."
            self.report(f"{path}.{key}", item[key], reason)
        readers: dict[str, Callable[[object], int]] = (
            {"min_prompt_tokens": _threshold} if tier else {"utc_start": _clock, "utc_end": _clock}
        )
        override: dict = {}
        for key, reader in readers.items():
            if key not in item:
                self.report(f"{path}.{key}", ABSENT, "required key missing.")
                continue
            try:
                override[key] = reader(item[key])
            except Invalid as error:
                self.report(f"{path}.{key}", item[key], str(error))
        named = [key for key in PRICING_KEYS if key in item]
        if not named:
            reason = f"names no price: give at least one of {', '.join(PRICING_KEYS)}."
            self.report(path, item, reason)
        for key in named:
            price = self.override_price(f"{path}.{key}", key, item[key])
            if price is not None:
                override[key] = price
        return None if len(self.parsed.problems) > problems_before else override

    def datacenter_codes(self) -> list[str]:
        datacenters = self.raw.get("datacenters", ABSENT)
        if datacenters is ABSENT:
            return []
        if not isinstance(datacenters, list):
            self.report(
                "datacenters",
                datacenters,
                f'must be a list of {{"country_code": …}} objects, not {describe(datacenters)}.',
            )
            return []
        codes = set()
        for position, datacenter in enumerate(datacenters):
            path = f"datacenters[{position}]"
            if not isinstance(datacenter, JSONObject):
                self.report(path, datacenter, f"must be an object, not {describe(datacenter)}.")
                continue
            self.check_keys(
                datacenter, ("country_code",), path=path, pattern="data[].datacenters[]"
            )
            if "country_code" not in datacenter:
                continue
            code = datacenter["country_code"]
            try:
                validate_country_code(read_string(code))
            except Invalid as error:
                self.report(f"{path}.country_code", code, str(error))
            except ValidationError as error:
                for message in error.messages:
                    self.report(f"{path}.country_code", code, message)
            else:
                codes.add(code)
        return sorted(codes)


def decode_catalog(data: bytes) -> tuple[list[Entry], Counter]:
    """Read a whole catalog file: its records as unsaved models, and its unknown keys.

    The records are not yet held against the field rules (``Entry.rule_problems``): an import
    does that only for those that would change the catalog. If the file breaks the format
    anywhere, ``CatalogFileInvalid`` lists every problem in it, the rules' included.
    """
    document = load_document(data)
    if not isinstance(document, JSONObject):
        reason = f'the top level must be an object {{"data": [...]}}, not {describe(document)}.'
        raise CatalogFileInvalid([file_problem(reason)])
    records = document.get("data", ABSENT)
    if not isinstance(records, list):
        reason = (
            "required key missing."
            if records is ABSENT
            else f"must be the list of models, not {describe(records)}."
        )
        raise CatalogFileInvalid([file_problem(reason, field="data", value=records)])
    parsed = _Parsed()
    if "data" in document.repeated_keys:
        parsed.problems.append(
            file_problem("the key appears more than once in the file.", field="data")
        )
    for key in document.keys() - {"data"}:
        parsed.ignored_keys[key] += 1
        if document.may_hold_lone_surrogates and (
            lone_surrogate(key) or lone_surrogate(document[key])
        ):
            parsed.problems.append(file_problem(LONE_SURROGATE, field=key, value=document[key]))

    first_index: dict[str, int] = {}
    broken: list[Entry] = []
    complete = True
    for index, raw in enumerate(records):
        if len(parsed.problems) >= MAX_PROBLEMS:
            complete = False
            break
        if isinstance(raw, JSONObject):
            checker = _RecordChecker(parsed, index, raw)
            entry = checker.check()
            if checker.id in first_index:
                checker.report(
                    "id", checker.id, f"duplicate ID: record {first_index[checker.id]} has it too."
                )
            elif checker.id is not None:
                first_index[checker.id] = index
            (broken if checker.has_problems else parsed.entries).append(entry)
        else:
            reason = f"a model must be an object, not {describe(raw)}."
            parsed.problems.append(Problem(index, None, "", raw, reason))
    if parsed.problems:
        # The file is refused whatever the catalog holds, so every record is held against the
        # rules now, without reading the catalog: one attempt reports every problem.
        for entry in broken + parsed.entries:
            if len(parsed.problems) >= MAX_PROBLEMS:
                complete = False
                break
            parsed.problems += entry.rule_problems()
        parsed.problems.sort(key=problem_order)
        raise CatalogFileInvalid(parsed.problems, complete=complete)
    return parsed.entries, parsed.ignored_keys


_KEY_ORDER = {key: rank for rank, key in enumerate(RECORD_KEYS)}


def problem_order(problem: Problem) -> tuple[int, int]:
    """File problems first, then by record, then in the order of the record's keys."""
    key = re.split(r"[.\[]", problem.field, maxsplit=1)[0]
    return (-1 if problem.index is None else problem.index, _KEY_ORDER.get(key, len(_KEY_ORDER)))
