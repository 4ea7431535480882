"""Import a catalog file in the wire format: validate what it changes, then apply it in one go.

``import_catalog`` is the service behind ``manage.py import_models`` (and
``load_demo_catalog``); it prints nothing. It works in three steps:

1. Parse: the bytes must be UTF-8 JSON of the shape the endpoint serves. JSON types become
   Python values here (prices are strings in plain notation, lengths JSON integers, ``created``
   Unix seconds, dates ``YYYY-MM-DD``), each record an unsaved ``ServedModel``, and its
   datacenters are checked by ``validate_country_code``; that is the format's job. A file that
   breaks the format anywhere is refused before any query, with every problem in it.
2. Compare and validate, inside ``transaction.atomic()``: models are matched by ID and compared
   as they would be served. Each record that is new or differs is checked by ``full_clean()``,
   the same rules the admin applies; one equal to its stored model changes nothing and is
   accepted as it is. Every problem is collected; if there is any, ``CatalogFileInvalid``
   carries them all and nothing is written.
3. Apply, in the same transaction: only what differs is written, in bulk, with one history
   record per model written (``catalog.history.record_bulk``). Re-importing the same file
   executes no write statement at all, so the catalog revision (moved by triggers on every
   statement) stays where it is and the history gains nothing.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import BinaryIO

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.history import MODEL_FIELDS, PUBLISHED, Change, changed_fields, record_bulk
from catalog.models import Datacenter, ServedModel
from catalog.validators import validate_country_code
from catalog.wire import (
    OPTIONAL_RECORD_KEYS,
    PRICING_FIELDS,
    PRICING_KEYS,
    RECORD_KEYS,
    WIRE_NAMES,
    plain_decimal,
)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30
# Rows per INSERT/UPDATE statement: the number of queries grows with batches, not with models.
BATCH_SIZE = 500
# 10**11 seconds is the year 5138; a larger "created" is a time in milliseconds.
_MILLISECONDS_FROM = 10**11

_UTF8_BOM = b"\xef\xbb\xbf"
_PLAIN_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# What an import records in the history when its caller names nothing better.
DEFAULT_CHANGE_REASON = "import_catalog"


class _Absent:
    def __repr__(self):
        return "ABSENT"


# The value of a problem about a missing key.
ABSENT = _Absent()


@dataclass(frozen=True)
class Problem:
    """One problem in a catalog file.

    ``index`` is the record's position in ``data`` (None for the file as a whole), ``id`` the
    record's ID when it has a readable one, ``field`` the wire field (``pricing.prompt``,
    ``datacenters[1].country_code``; empty for the record or file as a whole).
    """

    index: int | None
    id: str | None
    field: str
    value: object
    reason: str

    def __str__(self) -> str:
        parts = ["file" if self.index is None else f"record {self.index}"]
        if self.id is not None:
            parts.append(f"id {_json(self.id)}")
        if self.field:
            parts.append(self.field)
        if self.value is not ABSENT:
            parts.append(f"value {_shorten(_json(self.value))}")
        return ", ".join(parts) + ": " + self.reason


class CatalogFileInvalid(Exception):
    """The file has problems; it was not imported. ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class CatalogSourceError(Exception):
    """The catalog could not be read (missing file, HTTP error, unreachable host, too large)."""


@dataclass(frozen=True)
class ImportResult:
    """What an import changed, or would change (``dry_run``), by model ID.

    ``updated`` maps each updated ID to its changed wire fields (plus ``published`` when a
    draft becomes public); ``ignored_keys`` maps each unknown key path to its occurrences.
    """

    created: list[str]
    updated: dict[str, list[str]]
    unchanged: list[str]
    pruned: list[str]
    ignored_keys: dict[str, int]
    dry_run: bool

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "pruned": len(self.pruned),
        }

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "counts": self.counts,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "pruned": self.pruned,
            "ignored_keys": self.ignored_keys,
        }


# A callback told how far a long import is: (stage, done, total).
Progress = Callable[[str, int, int], None]


# --- reading ---------------------------------------------------------------------------------
def read_source(
    source: str,
    *,
    stdin: BinaryIO,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> bytes:
    """The bytes of a catalog file path, ``-`` (``stdin``) or an http(s) URL.

    Raises ``CatalogSourceError`` when it cannot be read or holds more than ``max_bytes``.
    """
    if source == "-":
        return _read_capped(stdin, max_bytes, "standard input")
    if source.startswith(("http://", "https://")):
        return _fetch(source, max_bytes, timeout)
    try:
        with open(source, "rb") as file:
            return _read_capped(file, max_bytes, source)
    except OSError as error:
        raise CatalogSourceError(f"Cannot read {source}: {error.strerror or error}.") from None


def _read_capped(stream: BinaryIO, max_bytes: int, name: str) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CatalogSourceError(
            f"{name} is larger than {max_bytes} bytes; raise --max-bytes to import it."
        )
    return data


def _fetch(url: str, max_bytes: int, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _read_capped(response, max_bytes, url)
    except urllib.error.HTTPError as error:
        raise CatalogSourceError(f"{url} answered HTTP {error.code} {error.reason}.") from None
    except urllib.error.URLError as error:
        raise CatalogSourceError(f"Cannot reach {url}: {error.reason}.") from None
    except TimeoutError:
        raise CatalogSourceError(f"{url} sent nothing for {timeout} seconds.") from None
    except (OSError, http.client.HTTPException) as error:
        raise CatalogSourceError(f"Cannot read {url}: {error}.") from None


# --- parsing and validation ------------------------------------------------------------------
@dataclass
class _Entry:
    """A record as read: the unsaved model, its datacenter codes, and where it is in the file."""

    model: ServedModel
    codes: list[str]
    index: int
    raw: _Object
    # The fields the record leaves unset: reported already when required, so not checked.
    unset: frozenset[str]

    def rule_problems(self) -> list[Problem]:
        """The record held against the field rules (``full_clean()``, as in the admin).

        ``clean()`` also puts the model's lists in canonical order, as they are then saved.
        """
        try:
            self.model.full_clean(
                exclude=self.unset, validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            messages = error.message_dict
        else:
            return []
        model_id = self.raw.get("id")
        model_id = model_id if isinstance(model_id, str) else None
        problems = []
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


@dataclass
class _Parsed:
    entries: list[_Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_keys: Counter = field(default_factory=Counter)


class _Invalid(ValueError):
    """A wire value of the wrong type or notation; the message says what was expected."""


class _Object(dict):
    """A JSON object that remembers the keys it held more than once (the last one wins)."""

    repeated_keys: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        obj.repeated_keys = tuple(key for key, _ in pairs if key in seen or seen.add(key))
    return obj


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _json(value)
    if isinstance(value, str):
        return f"the string {_shorten(_json(value))}"
    if isinstance(value, int | float):
        return f"the number {_json(value)}"
    return "a list" if isinstance(value, list) else "an object"


def _non_finite(value: object) -> bool:
    """Whether NaN or Infinity hides in ``value`` (Python's json reads them; JSON has none)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_non_finite(item) for item in value)
    if isinstance(value, dict):
        return any(_non_finite(item) for item in value.values())
    return False


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_describe(value)}.")
    return value


def _integer(value: object) -> int:
    if type(value) is not int:  # bool is an int to Python, not to JSON
        raise _Invalid(f"must be a JSON integer, not {_describe(value)}.")
    return value


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(f"must be a list of strings, not {_describe(value)}.")
    return value


def _created(value: object) -> datetime:
    seconds = _integer(value)
    if seconds >= _MILLISECONDS_FROM:
        raise _Invalid(
            f"looks like a time in milliseconds; created is Unix time in seconds "
            f"({seconds // 1000}?)."
        )
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _Invalid("is not a Unix time in seconds.") from None


def _date(value: object) -> date:
    if value is None:
        raise _Invalid("must be a date YYYY-MM-DD; leave the key out when there is none.")
    text = _string(value)
    if not _ISO_DATE_RE.fullmatch(text):
        raise _Invalid("must be a date written YYYY-MM-DD.")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise _Invalid(f"is not a real date ({error}).") from None


def _price(value: object) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _Invalid(
            f'must be a string in plain decimal notation, like "0.00000015", not the JSON '
            f"number {_json(value)}."
        )
    text = _string(value)
    if _PLAIN_DECIMAL_RE.fullmatch(text):
        return Decimal(text)
    if "e" in text.lower():
        try:
            number = Decimal(text)
        except ArithmeticError:
            number = None
        # Only suggest a plain form that is short enough to read (and to compute).
        if number is not None and number.is_finite() and abs(number.adjusted()) <= 30:
            raise _Invalid(
                f'must be in plain notation, without an exponent: "{plain_decimal(number)}".'
            )
    raise _Invalid('must be a plain decimal number such as "0.00000015" (no sign, unit or spaces).')


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "id": _string,
    "hugging_face_id": _string,
    "name": _string,
    "created": _created,
    "input_modalities": _string_list,
    "output_modalities": _string_list,
    "quantization": _string,
    "context_length": _integer,
    "max_output_length": _integer,
    "supported_sampling_parameters": _string_list,
    "supported_features": _string_list,
    "deprecation_date": _date,
}


def _wire_value(raw: _Object, wire: str) -> object:
    """The value of the wire field ``wire`` (``pricing.prompt``) in a record, or ABSENT."""
    value: object = raw
    for part in wire.split(".") if wire else ():
        value = value.get(part, ABSENT) if isinstance(value, dict) else ABSENT
    return value


# The ServedModel fields a record sets, all checked by full_clean().
_RECORD_FIELDS = tuple(
    MODEL_FIELDS.get(key, key) for key in RECORD_KEYS if key not in ("pricing", "datacenters")
) + tuple(PRICING_FIELDS.values())


class _RecordChecker:
    """Reads one wire record into an unsaved ServedModel, noting every problem of format."""

    def __init__(self, parsed: _Parsed, index: int, raw: _Object):
        self.parsed = parsed
        self.index = index
        self.raw = raw
        self.id = raw.get("id") if isinstance(raw.get("id"), str) else None
        self.has_problems = False

    def report(self, field: str, value: object, reason: str) -> None:
        self.has_problems = True
        self.parsed.problems.append(Problem(self.index, self.id, field, value, reason))

    def check_keys(
        self, obj: _Object, known: tuple[str, ...], *, path: str = "", pattern: str = "data[]"
    ) -> None:
        """Report missing and repeated keys; count unknown ones (ignored, with a notice).

        ``path`` prefixes the fields of problems (``datacenters[2]``), ``pattern`` the keys of
        the notice, which stand for every record (``data[].datacenters[]``).
        """
        prefix = f"{path}." if path else ""
        for key in known:
            if key not in obj and key not in OPTIONAL_RECORD_KEYS:
                self.report(prefix + key, ABSENT, "required key missing.")
        for key in obj.repeated_keys:
            self.report(prefix + key, obj[key], "the key appears more than once in the object.")
        for key in sorted(obj.keys() - set(known)):
            self.parsed.ignored_keys[f"{pattern}.{key}"] += 1
            if _non_finite(obj[key]):
                self.report(prefix + key, ABSENT, "NaN and Infinity are not JSON.")

    def check(self) -> _Entry:
        """The record as read; whether it follows the field rules is checked apart."""
        self.check_keys(self.raw, RECORD_KEYS)
        values: dict[str, object] = {}
        for key, convert in _CONVERTERS.items():
            if key in self.raw:
                try:
                    values[MODEL_FIELDS.get(key, key)] = convert(self.raw[key])
                except _Invalid as error:
                    self.report(key, self.raw[key], str(error))
        values.update(self.prices())
        codes = self.datacenter_codes()
        unset = frozenset(
            model_field for model_field in _RECORD_FIELDS if model_field not in values
        )
        return _Entry(ServedModel(**values, is_published=True), codes, self.index, self.raw, unset)

    def prices(self) -> dict[str, Decimal]:
        pricing = self.raw.get("pricing", ABSENT)
        if pricing is ABSENT:
            return {}
        if not isinstance(pricing, _Object):
            self.report("pricing", pricing, f"must be an object, not {_describe(pricing)}.")
            return {}
        self.check_keys(pricing, PRICING_KEYS, path="pricing", pattern="data[].pricing")
        prices = {}
        for key, model_field in PRICING_FIELDS.items():
            if key in pricing:
                try:
                    prices[model_field] = _price(pricing[key])
                except _Invalid as error:
                    self.report(f"pricing.{key}", pricing[key], str(error))
        return prices

    def datacenter_codes(self) -> list[str]:
        datacenters = self.raw.get("datacenters", ABSENT)
        if datacenters is ABSENT:
            return []
        if not isinstance(datacenters, list):
            self.report(
                "datacenters",
                datacenters,
                f'must be a list of {{"country_code": …}} objects, not {_describe(datacenters)}.',
            )
            return []
        codes = set()
        for position, datacenter in enumerate(datacenters):
            path = f"datacenters[{position}]"
            if not isinstance(datacenter, _Object):
                self.report(path, datacenter, f"must be an object, not {_describe(datacenter)}.")
                continue
            self.check_keys(
                datacenter, ("country_code",), path=path, pattern="data[].datacenters[]"
            )
            if "country_code" not in datacenter:
                continue
            code = datacenter["country_code"]
            try:
                validate_country_code(_string(code))
            except _Invalid as error:
                self.report(f"{path}.country_code", code, str(error))
            except ValidationError as error:
                for message in error.messages:
                    self.report(f"{path}.country_code", code, message)
            else:
                codes.add(code)
        return sorted(codes)


def _decode(data: bytes) -> str:
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        raise CatalogFileInvalid(
            [
                Problem(
                    None,
                    None,
                    "",
                    ABSENT,
                    f"not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} "
                    f"({error.reason}). Save the file as UTF-8.",
                )
            ]
        ) from None


def _load_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        at = text[error.pos : error.pos + 2]
        if not text.strip():
            reason = "the file is empty."
        else:
            message = error.msg.removesuffix(" starting at")  # "Unterminated string starting at"
            reason = f"not valid JSON at line {error.lineno}, column {error.colno}: {message}"
            if at in ("//", "/*") or at.startswith("#"):
                reason += " (JSON has no comments)."
            # An unterminated string runs to the end of the file.
            elif error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
                reason += " (the file ends too early: is it truncated?)."
            else:
                reason += "."
        raise CatalogFileInvalid([Problem(None, None, "", ABSENT, reason)]) from None


def _parse_catalog(data: bytes) -> tuple[list[_Entry], Counter]:
    """Read a whole catalog file: its records as unsaved models, and its unknown keys.

    The records are not yet held against the field rules (``_Entry.rule_problems``): an import
    does that only for those that would change the catalog. If the file breaks the format
    anywhere, ``CatalogFileInvalid`` lists every problem in it, the rules' included.
    """
    document = _load_json(_decode(data))
    if not isinstance(document, _Object):
        reason = f'the top level must be an object {{"data": [...]}}, not {_describe(document)}.'
        raise CatalogFileInvalid([Problem(None, None, "", ABSENT, reason)])
    records = document.get("data", ABSENT)
    if not isinstance(records, list):
        reason = (
            "required key missing."
            if records is ABSENT
            else f"must be the list of models, not {_describe(records)}."
        )
        raise CatalogFileInvalid([Problem(None, None, "data", records, reason)])
    parsed = _Parsed()
    if "data" in document.repeated_keys:
        parsed.problems.append(
            Problem(None, None, "data", ABSENT, "the key appears more than once in the file.")
        )
    for key in document.keys() - {"data"}:
        parsed.ignored_keys[key] += 1

    first_index: dict[str, int] = {}
    broken: list[_Entry] = []
    for index, raw in enumerate(records):
        if isinstance(raw, _Object):
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
            reason = f"a model must be an object, not {_describe(raw)}."
            parsed.problems.append(Problem(index, None, "", raw, reason))
    if parsed.problems:
        # The file is refused whatever the catalog holds, so every record is held against the
        # rules now, without reading the catalog: one attempt reports every problem.
        for entry in broken + parsed.entries:
            parsed.problems += entry.rule_problems()
        parsed.problems.sort(key=_problem_order)
        raise CatalogFileInvalid(parsed.problems)
    return parsed.entries, parsed.ignored_keys


_KEY_ORDER = {key: rank for rank, key in enumerate(RECORD_KEYS)}


def _problem_order(problem: Problem) -> tuple[int, int]:
    """File problems first, then by record, then in the order of the record's keys."""
    key = re.split(r"[.\[]", problem.field, maxsplit=1)[0]
    return (-1 if problem.index is None else problem.index, _KEY_ORDER.get(key, len(_KEY_ORDER)))


# --- planning and writing --------------------------------------------------------------------
@dataclass
class _Plan:
    """The writes that make the catalog match the file."""

    created: list[ServedModel] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # ID -> changed wire fields
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    to_prune: list[ServedModel] = field(default_factory=list)
    to_update: list[ServedModel] = field(default_factory=list)
    update_fields: set[str] = field(default_factory=set)
    unlink: list[int] = field(default_factory=list)  # pks of datacenter links to delete
    link: list[tuple[ServedModel, str]] = field(default_factory=list)  # (model, country code)
    datacenter_ids: dict[str, int] = field(default_factory=dict)  # country code -> pk


def _plan(
    entries: list[_Entry],
    *,
    prune: bool,
    now: datetime,
    batch_size: int,
    progress: Progress | None,
) -> _Plan:
    """Compare the file with the catalog (three reads, whatever the sizes) and plan the writes.

    Each record that would change the catalog is held against the field rules first; if any
    breaks one, ``CatalogFileInvalid`` lists every such problem.
    """
    through = ServedModel.datacenters.through
    plan = _Plan()
    file_ids = {entry.model.model_id for entry in entries}
    scope = Q(model_id__in=file_ids)
    if prune:
        scope |= Q(is_published=True)
    existing = {model.model_id: model for model in ServedModel.objects.filter(scope)}
    plan.datacenter_ids = dict(Datacenter.objects.values_list("country_code", "pk"))
    code_of = {pk: code for code, pk in plan.datacenter_ids.items()}
    links: dict[int, dict[str, int]] = defaultdict(dict)  # model pk -> country code -> link pk
    if existing:
        for link_pk, model_pk, datacenter_pk in through.objects.filter(
            servedmodel_id__in=[model.pk for model in existing.values()]
        ).values_list("pk", "servedmodel_id", "datacenter_id"):
            links[model_pk][code_of[datacenter_pk]] = link_pk

    problems: list[Problem] = []
    for done, entry in enumerate(entries, 1):
        old = existing.get(entry.model.model_id)
        if old is None:
            problems += entry.rule_problems()
            plan.created.append(entry.model)
            plan.link += [(entry.model, code) for code in entry.codes]
        elif changed := changed_fields(old, sorted(links[old.pk]), entry.model, entry.codes):
            # Before its values are copied: clean() puts the lists in canonical order.
            problems += entry.rule_problems()
            _plan_update(plan, old, links[old.pk], entry, changed, now)
        else:
            # Not held against the rules: checking every record was half of a no-op re-import
            # (1.6 of 2.9 s for 10,000 models). The record equals the stored row as served, so
            # accepting it writes nothing. That row usually passed the same rules when saved;
            # one written by SQL, or before a rule existed or was tightened (a lower
            # CATALOG_MAX_PRICE_PER_TOKEN), may not have, but it holds the database's
            # constraints, and leaving it as it is cannot make the catalog any worse.
            plan.unchanged.append(old.model_id)
        if progress is not None and (done % batch_size == 0 or done == len(entries)):
            progress("checked", done, len(entries))
    if problems:
        raise CatalogFileInvalid(sorted(problems, key=_problem_order))
    plan.to_prune = sorted(
        (
            model
            for model in existing.values()
            if prune and model.is_published and model.model_id not in file_ids
        ),
        key=lambda model: model.model_id,
    )
    plan.pruned = [model.model_id for model in plan.to_prune]
    return plan


def _plan_update(
    plan: _Plan,
    old: ServedModel,
    old_links: dict[str, int],
    entry: _Entry,
    changed: list[str],
    now: datetime,
) -> None:
    plan.updated[old.model_id] = changed
    for wire in changed:
        if wire == "datacenters":
            plan.unlink += [pk for code, pk in old_links.items() if code not in entry.codes]
            plan.link += [(old, code) for code in entry.codes if code not in old_links]
        else:
            model_field = MODEL_FIELDS.get(wire, wire)
            setattr(old, model_field, getattr(entry.model, model_field))
            plan.update_fields.add(model_field)
    # Also when only the datacenters change: the model's bulk_update is what announces the
    # change after commit (writes to the through table announce nothing).
    old.updated_at = now
    plan.to_update.append(old)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _apply(
    plan: _Plan,
    *,
    now: datetime,
    batch_size: int,
    progress: Progress | None,
    change_reason: str,
) -> None:
    """Write the plan: a statement per batch of rows and per kind of change, none if no change.

    Then the history: one record per created, updated or unpublished model, dated ``now``.
    """
    through = ServedModel.datacenters.through
    missing_codes = sorted({code for _, code in plan.link} - plan.datacenter_ids.keys())
    if missing_codes:
        datacenters = Datacenter.objects.bulk_create(
            [Datacenter(country_code=code) for code in missing_codes],
            # One added meanwhile (in the admin) is reused, and its pk returned all the same.
            update_conflicts=True,
            unique_fields=["country_code"],
            update_fields=["country_code"],
        )
        plan.datacenter_ids.update(
            (datacenter.country_code, datacenter.pk) for datacenter in datacenters
        )
    total = len(plan.created) + len(plan.to_update)
    done = 0
    for batch in _batches(plan.created, batch_size):
        ServedModel.objects.bulk_create(batch)
        done += len(batch)
        if progress is not None:
            progress("written", done, total)
    for batch in _batches(plan.to_update, batch_size):
        ServedModel.objects.bulk_update(batch, [*sorted(plan.update_fields), "updated_at"])
        done += len(batch)
        if progress is not None:
            progress("written", done, total)
    if plan.pruned:
        ServedModel.objects.filter(model_id__in=plan.pruned).update(
            is_published=False, updated_at=now
        )
        for model in plan.to_prune:
            model.is_published, model.updated_at = False, now
    if plan.unlink:
        through.objects.filter(pk__in=plan.unlink).delete()
    if plan.link:
        through.objects.bulk_create(
            [
                through(servedmodel_id=model.pk, datacenter_id=plan.datacenter_ids[code])
                for model, code in plan.link
            ],
            batch_size=batch_size,
        )
    record_bulk(
        [
            *(Change(model, "+") for model in plan.created),
            *(Change(model, "~", plan.updated[model.model_id]) for model in plan.to_update),
            *(Change(model, "~", [PUBLISHED]) for model in plan.to_prune),
        ],
        date=now,
        reason=change_reason,
        batch_size=batch_size,
    )


def import_catalog(
    data: bytes,
    *,
    prune: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    change_reason: str = DEFAULT_CHANGE_REASON,
) -> ImportResult:
    """Make the catalog match the file ``data`` (the wire format), or say how it would.

    Every model in the file is created or updated (matched by ID) and published. With
    ``prune``, published models absent from the file are unpublished (never deleted); otherwise
    they are left alone. Datacenters the file names are created when missing. Nothing is
    written with ``dry_run``, or when the file has any problem (``CatalogFileInvalid``: raised
    before any query if the file breaks the format, after reading the catalog if a record that
    would change it breaks a field rule; records equal to the stored models are accepted as
    they are). All writes happen in one transaction, in statements of at most ``batch_size``
    rows. ``progress``, if given, is called after each batch checked, then each written.

    Each model created, updated or unpublished gets one history record with no user and
    ``change_reason`` (such as ``import_models: catalog.json``); unchanged models get none.
    """
    entries, ignored_keys = _parse_catalog(data)
    if prune and not entries:
        # An empty or truncated-to-nothing export would take the whole catalog offline.
        raise CatalogFileInvalid(
            [Problem(None, None, "data", [], "is empty; --prune would unpublish every model")]
        )
    now = timezone.now()
    with transaction.atomic():
        if not dry_run:
            # Two imports at once would both plan to create the same models; the second
            # waits here, then plans against what the first committed.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('catalog_import'))")
        # Inside the lock: the records checked and those taken as unchanged are judged against
        # the very rows the writes then start from.
        plan = _plan(entries, prune=prune, now=now, batch_size=batch_size, progress=progress)
        if not dry_run:
            _apply(
                plan,
                now=now,
                batch_size=batch_size,
                progress=progress,
                change_reason=change_reason,
            )
    return ImportResult(
        created=sorted(model.model_id for model in plan.created),
        updated=dict(sorted(plan.updated.items())),
        unchanged=sorted(plan.unchanged),
        pruned=plan.pruned,
        ignored_keys=dict(sorted(ignored_keys.items())),
        dry_run=dry_run,
    )
