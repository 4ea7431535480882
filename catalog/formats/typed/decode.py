"""Decode a file of typed documents (``schema_version`` 2.4) into unsaved models and offerings.

The inverse of ``encode``: a file ``{"data": [...]}`` whose records carry ``schema_version``
2.4 (a file of other versions is left to the registry) is read with the same strict JSON reader
as the flat format, each document validated against the official schema (``ModelDocumentV2``),
then against what the schema cannot express of the document (an entry's identity unique per
scope, capacity identity unique, one modality per kind), read into the columns of a
``ServedModel`` and an ``Offering``, which is held against its own rules
(``Offering.problems()``: units per scope, well-formed windows). Every problem
names its record index, ID and JSON path (``output_modalities[0].pricing[1].ttl_seconds``); a
file with any is refused before a query.
Whether a document follows the field rules (``full_clean()``) is ``TypedEntry.rule_problems()``,
asked, as for the flat format, only of the documents that would change the catalog.

The judgment calls are in docs/architecture/formats.md, "Reading typed documents".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from catalog.choices import (
    Direction,
    weekday_bits,
)
from catalog.formats.flat.decode import problem_order
from catalog.formats.json_text import Invalid, read_created, read_deprecation, read_discount
from catalog.formats.problems import (
    ABSENT,
    MAX_PROBLEMS,
    CatalogFileInvalid,
    Problem,
    describe,
    file_problem,
    rule_reason,
)
from catalog.formats.strict_json import LONE_SURROGATE, JSONObject, load_document, lone_surrogate
from catalog.formats.typed.encode import SCHEMA_VERSION
from catalog.formats.typed.schema import field_errors
from catalog.models import Datacenter, PriceEntry, ServedModel
from catalog.offering import ROOT, Capacity, ModalitySpec, Offering, Price, Scope, weekday_set
from catalog.validators import validate_country_code, validate_price_per_token

# The context and output length of a new model that has no text modality to state them.
UNSTATED_LENGTH = 1
# The key that makes a record a typed document.
VERSION_KEY = "schema_version"
# The largest cache lifetime a row holds (PositiveIntegerField).
_MAX_TTL = 2**31 - 1
_COST_FIELD = PriceEntry._meta.get_field("cost_usd")
_REGION_FIELD = Datacenter._meta.get_field("region")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# ``field_errors`` messages are ``path: message`` (no path for the document as a whole).
_SCHEMA_ERROR_RE = re.compile(r"([A-Za-z0-9_.\[\]-]*): (.*)", re.DOTALL)

# The columns a document gives (every one: the typed format says everything), by ServedModel
# field; those it may leave unset are completed by the importer (``TypedEntry.missing``).
COLUMNS = (
    "model_id",
    "hugging_face_id",
    "name",
    "created",
    "quantization",
    "context_length",
    "max_output_length",
    "deprecation_date",
    "deprecation_hour",
    "description",
    "tokenizer",
    "is_ready",
    "is_free",
    "discount_to_user",
    "openrouter_slug",
    "deployment_region",
    "compliance",
    "passthrough_parameters",
)


@dataclass
class TypedEntry:
    """A typed document as read: the model's columns, its offering, its datacenters."""

    values: dict[str, Any]  # ServedModel field -> value
    offering: Offering
    places: list[tuple[str, str]]  # (country code, region or ""), sorted, distinct
    index: int
    raw: JSONObject
    # The columns the document leaves unset and the importer completes: from the stored model,
    # or (``created``) the import's time; else a problem (``_MISSING``).
    missing: set[str]
    # ServedModel field -> the JSON path a problem of it names.
    paths: dict[str, str] = field(default_factory=dict)
    # What a new model gets for a column in ``missing`` (``created``: the import's time).
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return self.values["model_id"]

    @property
    def codes(self) -> list[str]:
        return sorted({code for code, _ in self.places})

    @cached_property
    def model(self) -> ServedModel:
        return ServedModel(**self.values, is_published=True)

    def complete(self, stored: ServedModel | None, now: datetime) -> list[Problem]:
        """Fill the columns the document leaves unset: the stored model's (a model the typed
        format cannot describe whole keeps them), ``created`` the import's time for a new
        model; a new model without a value the catalog requires is a problem."""
        problems: list[Problem] = []
        kept = set()
        for name in sorted(self.missing):
            if stored is not None:
                value = getattr(stored, name)
                kept.add(name)
            elif name == "created":
                value = now
            elif name in self.defaults:
                value = self.defaults[name]
            else:
                problem = self.problem(name, ABSENT, _MISSING[name])
                if not any(p.field == problem.field for p in problems):  # one per place
                    problems.append(problem)
                continue
            self.values[name] = value
            self.missing.discard(name)
        # A limit kept from the stored model stays within the one the document gives.
        context, output = self.values.get("context_length"), self.values.get("max_output_length")
        if context is not None and output is not None and output > context:
            if "max_output_length" in kept:
                self.values["max_output_length"] = context
            elif "context_length" in kept:
                self.values["context_length"] = output
        if "model" in self.__dict__:
            for name in ("created", "quantization", "context_length", "max_output_length"):
                setattr(self.model, name, self.values.get(name))
        return problems

    def problem(self, name: str, value: object, reason: str) -> Problem:
        return Problem(self.index, self.model_id, self.paths.get(name, name), value, reason)

    def rule_problems(self) -> list[Problem]:
        """The document held against the field rules (``full_clean()``, as in the admin)."""
        try:
            self.model.full_clean(
                exclude=self.missing, validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            messages = error.message_dict
        else:
            return []
        problems = []
        for name, field_messages in messages.items():
            path = "" if name == NON_FIELD_ERRORS else self.paths.get(name, name)
            value = _at(self.raw, path)
            problems += [
                Problem(self.index, self.model_id, path, value, message)
                for message in field_messages
            ]
        return problems


_LENGTH_PAIRS = (("context_length", "max_output_length"), ("max_output_length", "context_length"))
_LENGTHS = (
    "required for a new model with a text modality: the flat format serves the text input's "
    "max_context_length and the text output's max_length (one stands for the other)."
)
_MISSING = {
    "context_length": _LENGTHS,
    "max_output_length": _LENGTHS,
    "quantization": "a new model needs a quantization (the flat format requires one).",
}


def _at(raw: object, path: str) -> object:
    """The value at a JSON path of a document (``a.b[2].c``), or ABSENT."""
    value = raw
    for name, position in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if position:
            index = int(position)
            value = value[index] if isinstance(value, list) and index < len(value) else ABSENT
        else:
            value = value.get(name, ABSENT) if isinstance(value, dict) else ABSENT
    return value


def is_typed(record: object) -> bool:
    """Whether a record is a typed document, of whatever version."""
    return isinstance(record, dict) and VERSION_KEY in record


def may_be_typed(data: bytes) -> bool:
    """Whether a file may hold typed documents: only then is it parsed to look (a flat file,
    the common case, is parsed once, by the flat decoder)."""
    return b'"' + VERSION_KEY.encode() + b'"' in data


class _Reader:
    """Reads one document (valid against the schema) into columns, offering and datacenters."""

    def __init__(self, index: int, raw: JSONObject, problems: list[Problem]):
        self.index = index
        self.raw = raw
        self.id = raw.get("id") if isinstance(raw.get("id"), str) else None
        self.problems = problems
        self.count = len(problems)
        self.paths: dict[int, str] = {}  # id of a price or capacity read -> its JSON path

    @property
    def has_problems(self) -> bool:
        return len(self.problems) > self.count

    def report(self, path: str, value: object, reason: str) -> None:
        self.problems.append(Problem(self.index, self.id, path, value, reason))

    def strings(self, value: object, path: str) -> None:
        """Keys repeated in an object (JSON keeps the last), and text PostgreSQL cannot store:
        NUL (in text and JSON), lone surrogates."""
        if isinstance(value, str):
            if "\x00" in value:
                self.report(path, value, "must not contain the NUL character (\\u0000).")
            elif lone_surrogate(value):
                self.report(path, value, LONE_SURROGATE)
        elif isinstance(value, list):
            for position, item in enumerate(value):
                self.strings(item, f"{path}[{position}]")
        elif isinstance(value, dict):
            for key in value.repeated_keys if isinstance(value, JSONObject) else ():
                self.report(
                    f"{path}.{key}" if path else key,
                    value[key],
                    "the key appears more than once in the object.",
                )
            for key, item in value.items():
                item_path = f"{path}.{key}" if path else key
                if "\x00" in key or lone_surrogate(key):
                    self.report(item_path, ABSENT, "a key must not hold NUL or a lone surrogate.")
                self.strings(item, item_path)

    def read(self) -> TypedEntry | None:
        raw = self.raw
        if raw.get(VERSION_KEY) != SCHEMA_VERSION:
            self.report(
                VERSION_KEY,
                raw.get(VERSION_KEY, ABSENT),
                f'must be "{SCHEMA_VERSION}", the one typed version read.',
            )
            return None
        self.strings(raw, "")
        for message in field_errors(raw, "ModelDocumentV2"):
            match = _SCHEMA_ERROR_RE.fullmatch(message)
            path, reason = (match[1], match[2]) if match else ("", message)
            self.report(path, _at(raw, path) if path else ABSENT, reason)
        if self.has_problems:
            return None
        entry = TypedEntry(
            values={}, offering=Offering(), places=[], index=self.index, raw=raw, missing=set()
        )
        self.columns(entry)
        entry.offering = self.offering(entry)
        self.rules(entry.offering)
        entry.places = self.places()
        return entry

    def columns(self, entry: TypedEntry) -> None:
        raw, values, paths = self.raw, entry.values, entry.paths
        values["model_id"] = raw["id"]
        paths["model_id"] = "id"
        values["name"] = raw["name"]
        for name in ("hugging_face_id", "tokenizer", "description", "deployment_region"):
            values[name] = raw.get(name, "")
        if "created" in raw:
            self.convert(values, "created", "created", read_created)
        else:
            entry.missing.add("created")
        if raw.get("quantization") is None:
            entry.missing.add("quantization")
        else:
            values["quantization"] = raw["quantization"]
        if "deprecation_date" in raw:
            self.convert(values, "deprecation_date", "deprecation_date", read_deprecation)
            if "deprecation_date" in values:
                values["deprecation_date"], values["deprecation_hour"] = values["deprecation_date"]
        else:
            values["deprecation_date"] = values["deprecation_hour"] = None
        paths["deprecation_hour"] = "deprecation_date"
        values["is_ready"] = raw.get("is_ready", True)
        values["is_free"] = raw.get("is_free", False)
        values["discount_to_user"] = None
        if "discount_to_user" in raw:
            self.convert(values, "discount_to_user", "discount_to_user", read_discount)
            if values.get("discount_to_user") == 0:
                values["discount_to_user"] = None  # 0 is no discount, as the flat format reads
        slug = raw.get("openrouter", {}).get("slug", "")
        if "openrouter" in raw and not slug:
            reason = "must not be empty; leave openrouter out when there is no slug."
            self.report("openrouter.slug", slug, reason)
        values["openrouter_slug"] = slug
        paths["openrouter_slug"] = "openrouter.slug"
        # A value that could not be read is reported already: not held against the rules too.
        entry.missing |= {"created", "deprecation_date", "discount_to_user"} - values.keys()
        values["compliance"] = raw.get("compliance", {})
        values["passthrough_parameters"] = raw.get("passthrough_parameters", {})
        self.limits(entry)

    def convert(self, values: dict, name: str, key: str, reader) -> None:
        try:
            values[name] = reader(self.raw[key])
        except Invalid as error:
            self.report(key, self.raw[key], str(error))

    def limits(self, entry: TypedEntry) -> None:
        """``context_length`` and ``max_output_length``: the text input's and the text output's
        limits (a limit not given is ``missing``)."""
        found: dict[str, int] = {}
        for direction, key, name, limit in (
            ("input", "input_modalities", "context_length", "max_context_length"),
            ("output", "output_modalities", "max_output_length", "max_length"),
        ):
            for position, modality in enumerate(self.raw[key]):
                if modality["type"] != "text":
                    continue
                holder = modality.get("supported_inputs", {}) if direction == "input" else modality
                path = f"{key}[{position}]" + (".supported_inputs" if direction == "input" else "")
                if limit in holder:
                    found[name] = holder[limit]["value"]
                    entry.paths[name] = f"{path}.{limit}.value"
                    if direction == "output" and "unit" in holder[limit]:
                        self.report(
                            f"{path}.{limit}.unit",
                            holder[limit]["unit"],
                            "the catalog keeps no unit for max_length; leave it out.",
                        )
        # A limit the document does not give is kept from the stored model (completed by the
        # importer); a new model takes the other limit, and one with neither limit nor a text
        # modality (audio in, transcription out) the smallest the flat format allows. A new
        # model with a text modality but neither limit is a problem (docs/architecture/formats.md).
        text = [
            f"{key}[{position}].{limit}"
            for key, limit in (
                ("input_modalities", "supported_inputs.max_context_length"),
                ("output_modalities", "max_length"),
            )
            for position, modality in enumerate(self.raw[key])
            if modality["type"] == "text"
        ]
        for name, other in _LENGTH_PAIRS:
            if name in found:
                entry.values[name] = found[name]
                continue
            entry.missing.add(name)
            if other in found:
                entry.defaults[name] = found[other]
                entry.paths[name] = entry.paths[other]
            elif text:
                entry.paths[name] = text[0]
            else:
                entry.defaults[name] = UNSTATED_LENGTH

    def offering(self, entry: TypedEntry) -> Offering:
        modalities, prices, capacities = [], [], []
        sides = ((Direction.INPUT, "input_modalities"), (Direction.OUTPUT, "output_modalities"))
        for direction, key in sides:
            seen: dict[str, int] = {}
            for position, modality in enumerate(self.raw[key]):
                path = f"{key}[{position}]"
                kind = modality["type"]
                if kind in seen:
                    self.report(
                        f"{path}.type", kind, f"repeats {key}[{seen[kind]}]: one modality per kind."
                    )
                    continue
                seen[kind] = position
                modalities.append(
                    ModalitySpec(
                        direction=direction,
                        kind=kind,
                        position=position,
                        supported_inputs=modality.get("supported_inputs", {}),
                        supported_parameters=modality.get("supported_parameters", {}),
                        passthrough_parameters=modality.get("passthrough_parameters", {}),
                        streaming=modality.get("streaming"),
                    )
                )
                prices += self.prices(modality, path, (direction, kind))
                capacities += self.capacities(modality, path, (direction, kind))
        prices += self.prices(self.raw, "", ROOT)
        capacities += self.capacities(self.raw, "", ROOT)
        return Offering(tuple(modalities), tuple(prices), tuple(capacities))

    def prices(self, holder: dict, path: str, scope: Scope) -> list[Price]:
        prefix = f"{path}." if path else ""
        read: list[Price] = []
        identities: dict[tuple, int] = {}
        for position, item in enumerate(holder.get("pricing", ())):
            item_path = f"{prefix}pricing[{position}]"
            price_type, unit = item["type"], item["unit"]
            days = weekday_set(self.weekdays(item, item_path))
            if item.get("ttl_seconds", 0) > _MAX_TTL:
                self.report(
                    f"{item_path}.ttl_seconds",
                    item["ttl_seconds"],
                    f"must be at most {_MAX_TTL} seconds.",
                )
            cost = self.cost(item["cost_usd"], f"{item_path}.cost_usd", unit)
            for number, override in enumerate(item.get("overrides", ())):
                self.cost(override["cost_usd"], f"{item_path}.overrides[{number}].cost_usd", unit)
            # The weekdays as a set: the order of utc_days carries no meaning, and all seven are
            # every day.
            identity = (*(item.get(key) for key in ("type", *_QUALIFIERS)), days)
            if identity in identities:
                reason = (
                    f"repeats the identity of {prefix}pricing[{identities[identity]}] (type, "
                    "ttl_seconds, implicit, utc_start, utc_end, utc_days): one entry per identity."
                )
                self.report(item_path, ABSENT, reason)
                continue
            identities[identity] = position
            if cost is not None:
                self.add(
                    read,
                    item_path,
                    Price(
                        scope=scope,
                        price_type=price_type,
                        unit=unit,
                        cost_usd=cost,
                        ttl_seconds=item.get("ttl_seconds"),
                        implicit=item.get("implicit"),
                        utc_start=item.get("utc_start"),
                        utc_end=item.get("utc_end"),
                        overrides=tuple(item.get("overrides", ())),
                        utc_days=days,
                    ),
                )
        return read

    def add(self, read: list, path: str, entry: Price | Capacity) -> None:
        read.append(entry)
        self.paths[id(entry)] = path

    def rules(self, offering: Offering) -> None:
        """The offering held against its rules (``Offering.problems()``), each problem at the
        path of its entry and field."""
        for problem in offering.problems():
            path = self.paths.get(id(problem.entry), "")
            if problem.field is not None and problem.field != "scope":
                path += "." + _KEYS.get(problem.field, problem.field)
            self.report(path, _at(self.raw, path), rule_reason(problem))

    def weekdays(self, item: dict, path: str) -> int | None:
        """An entry's ``utc_days`` as bits (None: every day); a weekday named twice is a problem
        (the schema allows it, but it is likely a slip for another day)."""
        if "utc_days" not in item:
            return None
        days = item["utc_days"]
        for position, name in enumerate(days):
            if name in days[:position]:
                self.report(f"{path}.utc_days[{position}]", name, "names a weekday twice.")
        return weekday_bits(days)

    def cost(self, text: str, path: str, unit: str) -> Decimal | None:
        """A ``cost_usd`` exactly, held to the rules of a stored price (column digits, the
        per-token ceiling)."""
        try:
            cost = Decimal(text)
            _COST_FIELD.clean(cost, None)
            if unit == "token":
                validate_price_per_token(cost)
        except ValidationError as error:
            for message in error.messages:
                self.report(path, text, message)
            return None
        return cost

    def capacities(self, holder: dict, path: str, scope: Scope) -> list[Capacity]:
        prefix = f"{path}." if path else ""
        read: list[Capacity] = []
        identities: dict[tuple, int] = {}
        for position, item in enumerate(holder.get("capacity", ())):
            item_path = f"{prefix}capacity[{position}]"
            capacity_type, unit = item["type"], item["unit"]
            identity = (capacity_type, unit, item.get("per"))
            if identity in identities:
                reason = (
                    f"repeats the identity of {prefix}capacity[{identities[identity]}] (type, "
                    "unit, per): one entry per identity."
                )
                self.report(item_path, ABSENT, reason)
                continue
            identities[identity] = position
            entry = Capacity(scope, capacity_type, unit, item.get("per"), item["value"])
            self.add(read, item_path, entry)
        return read

    def places(self) -> list[tuple[str, str]]:
        places = set()
        for position, datacenter in enumerate(self.raw.get("datacenters", ())):
            path = f"datacenters[{position}]"
            code, region = datacenter["country_code"], datacenter.get("region", "")
            try:
                validate_country_code(code)
                _REGION_FIELD.clean(region, None)
            except ValidationError as error:
                for message in error.messages:
                    self.report(path, datacenter, message)
                continue
            if _CONTROL_RE.search(region):
                self.report(f"{path}.region", region, "must not contain control characters.")
                continue
            places.add((code, region))
        return sorted(places)


_QUALIFIERS = ("ttl_seconds", "implicit", "utc_start", "utc_end")


# A row's field -> the key of a typed entry that holds it.
_KEYS = {"price_type": "type", "capacity_type": "type"}


def decode_typed(document: object) -> tuple[list[TypedEntry], Counter]:
    """Read a parsed file of typed documents (one of its records is of version 2.4).

    Every record must be a typed document of version 2.4. If any has a problem,
    ``CatalogFileInvalid`` lists every one (the field rules' included), before any query.
    """
    assert isinstance(document, JSONObject)
    records = document["data"]
    problems: list[Problem] = []
    for key in document.keys() - {"data"}:
        problems.append(file_problem("unknown key: a typed file holds only data.", field=key))
    if "data" in document.repeated_keys:
        problems.append(file_problem("the key appears more than once in the file.", field="data"))
    first_typed = next(index for index, raw in enumerate(records) if is_typed(raw))
    entries: list[TypedEntry] = []
    broken: list[TypedEntry] = []
    first_index: dict[str, int] = {}
    complete = True
    for index, raw in enumerate(records):
        if len(problems) >= MAX_PROBLEMS:
            complete = False
            break
        if not isinstance(raw, JSONObject):
            problems.append(
                Problem(index, None, "", raw, f"must be an object, not {describe(raw)}.")
            )
            continue
        if not is_typed(raw):
            model_id = raw.get("id") if isinstance(raw.get("id"), str) else None
            reason = (
                f"required key missing: record {first_typed} is a typed document, and a file "
                "is all typed or all flat."
            )
            problems.append(Problem(index, model_id, VERSION_KEY, ABSENT, reason))
            continue
        reader = _Reader(index, raw, problems)
        entry = reader.read()
        if entry is not None and reader.has_problems:
            broken.append(entry)  # held against the field rules all the same
            entry = None
        if reader.id in first_index:
            reason = f"duplicate ID: record {first_index[reader.id]} has it too."
            problems.append(Problem(index, reader.id, "id", reader.id, reason))
        elif reader.id is not None:
            first_index[reader.id] = index
        if entry is not None:
            entries.append(entry)
    if problems:
        for entry in broken + entries:
            if len(problems) >= MAX_PROBLEMS:
                complete = False
                break
            problems += entry.rule_problems()
        problems.sort(key=problem_order)
        raise CatalogFileInvalid(problems, complete=complete)
    return entries, Counter()


def read_typed(data: bytes) -> tuple[list[TypedEntry], Counter] | None:
    """A file's typed documents (``decode_typed``), or None when it holds none of version 2.4:
    another format reads it then, from bytes left as they were."""
    if not may_be_typed(data):
        return None
    document = load_typed(bytes(data))  # a copy: a file of another format needs its bytes
    if document is None:
        return None
    if isinstance(data, bytearray):
        data.clear()  # as the flat decoder does: the bytes no longer take memory
    return decode_typed(document)


def load_typed(data: bytes) -> object | None:
    """The parsed file if it holds a document of version 2.4 (its others are then problems),
    else None: a flat file, or one of another version, which this decoder does not claim."""
    document = load_document(data)
    if any(raw[VERSION_KEY] == SCHEMA_VERSION for _, raw in typed_records(document)):
        return document
    return None


def typed_records(document: object) -> list[tuple[int, dict]]:
    """The typed documents of a parsed file, of whatever version, with their index."""
    if isinstance(document, JSONObject) and isinstance(document.get("data"), list):
        return [(index, raw) for index, raw in enumerate(document["data"]) if is_typed(raw)]
    return []
