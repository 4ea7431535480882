"""Import a catalog file: compare it with the catalog, validate what it changes, apply it in one go.

``import_catalog`` is the service behind ``manage.py import_models`` (and
``load_demo_catalog``); it prints nothing. Three steps (docs/ARCHITECTURE.md, "An import"):

1. Decode, in the format the registry recognises (``catalog.formats.registry.decode_file``). A
   file that breaks the format anywhere is refused before any query, with every problem in it.
   A typed document says everything: it replaces the stored model's columns, offering and
   datacenters (regions included).
2. Plan, inside ``transaction.atomic()``: match models by ID and compare them as they would be
   served, plain values first, model with model only for the few that may differ. Only a
   record that is new or differs is held against the rules (``full_clean()``, the offering's),
   so that an unchanged file costs little; every problem is collected, and any stops the import
   (``CatalogFileInvalid``) before a write.
3. Apply, in the same transaction, through ``catalog.actions.served_models.write_import``: only
   what differs, in bulk, one history record per model written. Re-importing the same file
   executes no write statement at all, so the revision stays where it is and the history gains
   nothing.

``schedule_import`` (``import_models --effective-at``) decodes the same way, but schedules the
file's price changes through ``catalog.actions.schedule`` and refuses a file that changes
anything else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from catalog.actions.schedule import (
    ModelChanges,
    changes_between,
    check_moment,
    describe,
    described_change,
    prices_before,
    schedule_changes,
)
from catalog.actions.served_models import ImportWrite, Progress, write_import
from catalog.bulk import AnyOf, gc_paused
from catalog.formats.flat.decode import Entry, problem_order
from catalog.formats.flat.diff import changed_fields
from catalog.formats.flat.encode import wire_record
from catalog.formats.flat.names import CHANGED_COLUMNS, MODEL_FIELDS, OFFERING_CHANGES
from catalog.formats.flat.offering import (
    PRICE_SOURCES,
    FlatFields,
    flat_fields,
    flat_offering,
    flat_view,
    offering_flat_fields,
)
from catalog.formats.flat.published import RECORD_FIELDS, stored_flat_fields
from catalog.formats.problems import ABSENT, CatalogFileInvalid, Problem, file_problem
from catalog.formats.registry import decode_file
from catalog.formats.typed.decode import COLUMNS, TypedEntry
from catalog.formats.typed.encode import model_document
from catalog.models import Datacenter, ServedModel
from catalog.offering import Offering, describe_entry, stored_offering, with_offering
from catalog.price_guard import large_changes

# Rows per INSERT/UPDATE statement: the number of queries grows with batches, not with models.
BATCH_SIZE = 500

# What an import records in the history when its caller names nothing better.
DEFAULT_CHANGE_REASON = "import_catalog"


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


# A datacenter: (country code, region or "").
Place = tuple[str, str]


# A record's fields that the comparison with a stored row understands: the columns a flat record
# shows (``RECORD_FIELDS``, read as they are) and the flat view of the offering, by the names
# ``ServedModel`` gives them. A record setting anything else is compared the exact way.
_FLAT_LISTS = ("input_modalities", "output_modalities")
_FLAT_NAMES = ("supported_sampling_parameters", "supported_features")
_FLAT_PRICES = {
    f"price_{key}": (price_type, unit) for key, (_, _, price_type, unit) in PRICE_SOURCES.items()
}
_COMPARED = frozenset({*RECORD_FIELDS, *_FLAT_LISTS, *_FLAT_NAMES, *_FLAT_PRICES})
_DEFAULTS = {
    model_field.name: model_field.get_default()
    for model_field in ServedModel._meta.concrete_fields
    if model_field.name in RECORD_FIELDS
}


def _model_id(entry: Entry | TypedEntry) -> str:
    return cast(str, entry.values["model_id"])  # the decoders read it as a string


def _record_flat(values: dict[str, Any], extra: dict[str, Any]) -> FlatFields:
    """The flat fields a record's model would be served with, from its values: what
    ``offering_flat_fields(entry.offering)`` gives, without building either (the cost of a
    no-op re-import: docs/PERFORMANCE.md). Parameter names need an output to be held on; a
    price needs a modality of its direction, and ``flat_fields`` asks only where there is one."""
    outputs = values.get("output_modalities", ())
    names = {name for key in _FLAT_NAMES for name in values.get(key, ())} if outputs else set()
    prices = {type_unit: values.get(name) for name, type_unit in _FLAT_PRICES.items()}
    flat = flat_fields(
        values.get("input_modalities", ()),
        outputs,
        names,
        lambda scope, price_type, unit: prices[(price_type, unit)],
    )
    # As read: equal to the stored ones only where they are served alike.
    flat["overrides"] = extra.get("overrides") or []
    flat["capacity_tpm"] = extra.get("capacity_tpm")
    return flat


def _same_as_stored(entry: Entry, row: dict[str, Any], codes: list[str], flat: FlatFields) -> bool:
    """Whether the record is certainly served as its stored model is (``row``: its
    ``RECORD_FIELDS`` and ``is_published``), compared as plain values.

    Equal values are served alike; values that differ may still be served alike (a stored
    ``created`` with microseconds), so a False here is settled by ``changed_fields``.
    """
    values = entry.values
    return (
        row["is_published"]
        and entry.codes == codes
        and values.keys() <= _COMPARED
        and all(values.get(name, _DEFAULTS[name]) == row[name] for name in RECORD_FIELDS)
        and _record_flat(values, entry.extra) == flat
        and not entry.has_unknown_values()
    )


def _plan(
    entries: Sequence[Entry | TypedEntry],
    *,
    prune: bool,
    now: datetime,
    batch_size: int,
    progress: Progress | None,
    allow_large_price_changes: bool = False,
) -> ImportWrite:
    """Compare the file with the catalog (a fixed number of reads, whatever the sizes) and plan the
    writes.

    Each record that would change the catalog is held against the field rules first; if any
    breaks one, ``CatalogFileInvalid`` lists every such problem.
    """
    through = ServedModel.datacenters.through
    plan = ImportWrite()
    file_ids = [_model_id(entry) for entry in entries]
    scope = Q(AnyOf(F("model_id"), file_ids))
    if prune:
        scope |= Q(is_published=True)
    # The stored models as served, read as plain rows and compared with the records' values
    # (``_same_as_stored``): no model instance, no ``Offering`` for a record equal to its model.
    stored = {
        row["model_id"]: row
        for row in ServedModel.objects.filter(scope).values("pk", "is_published", *RECORD_FIELDS)
    }
    stored_pks = [row["pk"] for row in stored.values()]
    stored_flat = (
        stored_flat_fields(Q(AnyOf(F("model_id"), stored_pks)), stored_pks) if stored else {}
    )
    # Every datacenter (a country, or a region of one: a few rows); the flat format names
    # countries, so its links are grouped by code, a country's regional links with its own.
    plan.datacenter_ids = {
        (code, region): pk
        for code, region, pk in Datacenter.objects.values_list("country_code", "region", "pk")
    }
    place_of = {pk: place for place, pk in plan.datacenter_ids.items()}
    links: dict[int, dict[str, list[int]]] = defaultdict(dict)  # model pk -> code -> link pks
    places: dict[int, dict[Place, int]] = defaultdict(dict)  # model pk -> place -> link pk
    if stored:
        for link_pk, model_pk, datacenter_pk in through.objects.filter(
            AnyOf(F("servedmodel_id"), stored_pks)
        ).values_list("pk", "servedmodel_id", "datacenter_id"):
            place = place_of[datacenter_pk]
            links[model_pk].setdefault(place[0], []).append(link_pk)
            places[model_pk][place] = link_pk

    differing = [
        entry
        for entry in entries
        if (row := stored.get(_model_id(entry))) is not None
        and (
            # A typed document says more than the flat fields: compared model with model.
            isinstance(entry, TypedEntry)
            or not _same_as_stored(entry, row, sorted(links[row["pk"]]), stored_flat[row["pk"]])
        )
    ]
    # Whole, with their offerings, only the models that may differ: compared as served, then
    # the file's values are merged into what the flat format cannot say (``_plan_update``).
    existing = (
        {
            model.model_id: model
            for model in with_offering(
                ServedModel.objects.filter(
                    AnyOf(F("pk"), [stored[_model_id(entry)]["pk"] for entry in differing])
                )
            )
        }
        if differing
        else {}
    )
    old_offerings = {model.pk: stored_offering(model) for model in existing.values()}
    changes: dict[str, list[str]] = {}  # model ID -> what differs, for the models to update
    problems: list[Problem] = []
    for entry in differing:
        old = existing[_model_id(entry)]
        if isinstance(entry, TypedEntry):
            problems += entry.complete(old, now)  # none: the stored model has every column
            if typed_changed := _typed_changes(old, old_offerings[old.pk], places[old.pk], entry):
                changes[old.model_id] = typed_changed
            continue
        changed = changed_fields(
            old,
            sorted(links[old.pk]),
            entry.model,
            entry.codes,
            before_flat=stored_flat[old.pk],
            after_flat=offering_flat_fields(entry.offering),
        )
        if changed or entry.has_unknown_values():
            # A value no stored model can hold (an unknown feature) is never served, so the
            # record may compare equal; it still breaks a rule.
            changes[old.model_id] = changed

    for done, entry in enumerate(entries, 1):
        model_id = _model_id(entry)
        if model_id not in stored:
            if isinstance(entry, TypedEntry):
                problems += entry.complete(None, now)
                plan.link += [(entry.model, place) for place in entry.places]
            else:
                plan.link += [(entry.model, (code, "")) for code in entry.codes]
            problems += entry.rule_problems()
            plan.created.append(entry.model)
            plan.created_offerings.append(entry.offering)
        elif model_id in changes:
            # Before its values are copied: clean() puts the lists in canonical order.
            problems += entry.rule_problems()
            old = existing[model_id]
            if isinstance(entry, TypedEntry):
                _plan_typed_update(
                    plan, old, old_offerings[old.pk], places[old.pk], entry, changes[model_id], now
                )
            else:
                _plan_update(
                    plan, old, old_offerings[old.pk], links[old.pk], entry, changes[model_id], now
                )
            if old.pk in plan.offering_changed and not isinstance(entry, TypedEntry):
                # A typed document's offering is its own, judged whole by its decoder.
                problems += _kept_rows_problems(entry, plan.offering_changed[old.pk])
            if old.pk in plan.offering_changed and not allow_large_price_changes:
                problems += _large_price_changes(
                    entry, plan.stored_offerings[old.pk], plan.offering_changed[old.pk]
                )
        else:
            # Not held against the rules: checking every record was most of a no-op re-import
            # (docs/PERFORMANCE.md). The record equals the stored row as served, so
            # accepting it writes nothing. That row usually passed the same rules when saved;
            # one written by SQL, or before a rule existed or was tightened (a lower
            # CATALOG_MAX_PRICE_PER_TOKEN), may not have, but it holds the database's
            # constraints, and leaving it as it is cannot make the catalog any worse.
            plan.unchanged.append(model_id)
        if progress is not None and (done % batch_size == 0 or done == len(entries)):
            progress("checked", done, len(entries))
    if problems:
        raise CatalogFileInvalid(sorted(problems, key=problem_order))
    if prune:
        in_file = set(file_ids)
        pruned = sorted(
            (row["model_id"], row["pk"])
            for row in stored.values()
            if row["is_published"] and row["model_id"] not in in_file
        )
        plan.pruned = [model_id for model_id, _ in pruned]
        plan.to_prune = [pk for _, pk in pruned]
    return plan


def _kept_rows_problems(entry: Entry, offering: Offering) -> list[Problem]:
    """The rules of the offering a flat update leaves (``Offering.problems()``): the record's own
    are the decoder's; what it leaves with the entries the flat format cannot say, kept from the
    stored model, is judged here, before the write path would refuse it."""
    return [
        Problem(
            entry.index,
            _model_id(entry),
            "pricing",
            ABSENT,
            f"{describe_entry(problem.entry)}, beside the prices the file cannot say (kept from "
            f"the stored model): {problem.message}",
        )
        for problem in offering.problems()
    ]


def _large_price_changes(
    entry: Entry | TypedEntry, before: Offering, after: Offering
) -> list[Problem]:
    """The guard against price mistakes (``catalog.price_guard``): each change far out of line
    is a problem unless the import allows them."""
    return [
        Problem(
            entry.index,
            _model_id(entry),
            change.field,
            ABSENT,
            f"{change.label} from {change.old} to {change.new} is more than ten times up or "
            "down, or to or from zero; use --allow-large-price-changes if intended.",
        )
        for change in large_changes(before, after)
    ]


def _plan_update(
    plan: ImportWrite,
    old: ServedModel,
    old_offering: Offering,
    old_links: dict[str, list[int]],
    entry: Entry,
    changed: list[str],
    now: datetime,
) -> None:
    plan.updated[old.model_id] = changed
    for wire in changed:
        if wire == "datacenters":
            # The flat format names countries: a country still listed keeps its links, regions
            # included (what the format cannot say is kept); one no longer listed loses them.
            plan.unlink += [
                pk for code, pks in old_links.items() if code not in entry.codes for pk in pks
            ]
            plan.link += [(old, (code, "")) for code in entry.codes if code not in old_links]
        elif wire in OFFERING_CHANGES:
            # The file's flat values over what the flat format cannot say (kept from the catalog).
            plan.stored_offerings[old.pk] = old_offering
            plan.offering_changed[old.pk] = flat_offering(
                base=old_offering, **flat_view(entry.offering)
            )
        else:
            for model_field in CHANGED_COLUMNS.get(wire, (MODEL_FIELDS.get(wire, wire),)):
                setattr(old, model_field, getattr(entry.model, model_field))
                plan.update_fields.add(model_field)
    # Also when only the datacenters change: the model's bulk_update is what announces the
    # change after commit (writes to the through table announce nothing).
    old.updated_at = now
    plan.to_update.append(old)


# Typed-only names of a change: the document's keys the flat record does not show.
_TYPED_ONLY_KEYS = ("tokenizer", "passthrough_parameters", "deployment_region", "compliance")


def _typed_changes(
    old: ServedModel, old_offering: Offering, old_places: dict[Place, int], entry: TypedEntry
) -> list[str]:
    """What differs between a stored model and a typed document: the flat names of what the
    flat record shows, then the typed document's keys that differ besides (its modalities,
    ``pricing``, ``capacity``, ``datacenters`` with regions, the typed-only columns)."""
    new = entry.model
    changed = changed_fields(
        old,
        sorted({code for code, _ in old_places}),
        new,
        entry.codes,
        before_flat=offering_flat_fields(old_offering),
        after_flat=offering_flat_fields(entry.offering),
    )
    before = model_document(old, old_places, old_offering)
    after = model_document(new, entry.places, entry.offering)
    changed += [
        key
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key) and key not in changed
    ]
    if not changed:
        # A column neither format shows (a context length without a text input).
        changed = [name for name in COLUMNS if _column_differs(old, new, name)]
    return changed


def _column_differs(old: ServedModel, new: ServedModel, name: str) -> bool:
    if name == "created":  # as served: Unix seconds
        return int(old.created.timestamp()) != int(new.created.timestamp())
    return getattr(old, name) != getattr(new, name)


def _plan_typed_update(
    plan: ImportWrite,
    old: ServedModel,
    old_offering: Offering,
    old_places: dict[Place, int],
    entry: TypedEntry,
    changed: list[str],
    now: datetime,
) -> None:
    """A typed document says everything: its columns, its whole offering and its datacenters
    replace the stored model's."""
    plan.updated[old.model_id] = changed
    new = entry.model
    for name in COLUMNS:
        if _column_differs(old, new, name):
            setattr(old, name, getattr(new, name))
            plan.update_fields.add(name)
    if old_offering != entry.offering:
        plan.stored_offerings[old.pk] = old_offering
        plan.offering_changed[old.pk] = entry.offering
    plan.unlink += [pk for place, pk in old_places.items() if place not in entry.places]
    plan.link += [(old, place) for place in entry.places if place not in old_places]
    if not old.is_published:
        old.is_published = True
        plan.update_fields.add("is_published")
    old.updated_at = now
    plan.to_update.append(old)


@gc_paused()
def import_catalog(
    data: bytes,
    *,
    prune: bool = False,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    change_reason: str = DEFAULT_CHANGE_REASON,
    allow_large_price_changes: bool = False,
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

    A price of a stored model changed far out of line (``catalog.price_guard``) is a problem
    of its record unless ``allow_large_price_changes``.

    A ``bytearray`` (what ``catalog.sources.read_source`` returns) is emptied once decoded, so
    that the raw bytes no longer take memory while the records are built.
    """
    entries, ignored_keys = decode_file(data)
    if prune and not entries:
        # An empty or truncated-to-nothing export would take the whole catalog offline.
        raise CatalogFileInvalid(
            [file_problem("is empty; --prune would unpublish every model", field="data", value=[])]
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
        plan = _plan(
            entries,
            prune=prune,
            now=now,
            batch_size=batch_size,
            progress=progress,
            allow_large_price_changes=allow_large_price_changes,
        )
        if not dry_run:
            write_import(
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


# --- a file's prices scheduled for a moment (import_models --effective-at) ----------------------
@dataclass(frozen=True)
class ScheduleResult:
    """What a scheduled import changes at ``effective_at``, or would (``dry_run``), by model ID:
    each changed price as staff read it (``catalog.actions.schedule.describe``)."""

    effective_at: datetime
    announced: bool
    scheduled: dict[str, list[str]]
    unchanged: list[str]
    ignored_keys: dict[str, int]
    dry_run: bool

    @property
    def counts(self) -> dict[str, int]:
        return {"scheduled": len(self.scheduled), "unchanged": len(self.unchanged)}

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "effective_at": self.effective_at.isoformat(),
            "announced": self.announced,
            "counts": self.counts,
            "scheduled": self.scheduled,
            "unchanged": self.unchanged,
            "ignored_keys": self.ignored_keys,
        }


# A flat record's prices, what a scheduled file may change: ``pricing`` and what is under it.
_FLAT_PRICING = "pricing"

ONLY_PRICES = (
    "differs from the catalog; a file scheduled with --effective-at may change only prices "
    "(import it without --effective-at to change this now)."
)


def _differences(before: object, after: object, path: str = "") -> list[tuple[str, object]]:
    """Where two served documents differ, as (path, the value ``after`` has there, or ABSENT):
    into objects, and into arrays of the same length; the paths as problems name them
    (``input_modalities[0].supported_inputs``)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [*after, *(key for key in before if key not in after)]
        return [
            found
            for key in keys
            for found in _differences(
                before.get(key, ABSENT), after.get(key, ABSENT), f"{path}.{key}" if path else key
            )
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            found
            for position, (old, new) in enumerate(zip(before, after, strict=True))
            for found in _differences(old, new, f"{path}[{position}]")
        ]
    return [(path, after)]


def _beyond_prices(
    entry: Entry | TypedEntry,
    old: ServedModel,
    old_offering: Offering,
    old_places: dict[Place, int],
    after: Offering,
) -> list[Problem]:
    """Each difference between the record and its stored model other than prices
    (``old_offering`` with the prices in force at the moment; ``after``: the record's
    offering), a problem."""
    model_id = _model_id(entry)
    if not old.is_published:
        return [
            Problem(
                entry.index,
                model_id,
                "",
                ABSENT,
                "is a draft: importing it would publish it, and a file scheduled with "
                "--effective-at may change only prices.",
            )
        ]
    if isinstance(entry, TypedEntry):
        # Compared with the stored prices in the record's place: what is left differs.
        found = _differences(
            model_document(old, old_places, old_offering),
            model_document(entry.model, entry.places, after.replacing(prices=old_offering.prices)),
        )
        if not found:  # a column the document cannot show (a context length without text)
            found = [(name, ABSENT) for name in COLUMNS if _column_differs(old, entry.model, name)]
    else:
        old_codes = sorted({code for code, _ in old_places})
        found = [
            (path, value)
            for path, value in _differences(
                wire_record(old, old_codes, offering_flat_fields(old_offering)),
                wire_record(entry.model, entry.codes, offering_flat_fields(entry.offering)),
            )
            if path.split(".")[0] != _FLAT_PRICING
        ]
    return [Problem(entry.index, model_id, path, value, ONLY_PRICES) for path, value in found]


def _plan_schedule(
    entries: Sequence[Entry | TypedEntry],
    moment: datetime,
    *,
    now: datetime,
    allow_large_price_changes: bool,
) -> tuple[list[ModelChanges], dict[str, list[str]], list[str]]:
    """Each stored model's price changes at ``moment`` that the file asks for (four reads,
    whatever the sizes), their descriptions by model ID, and the IDs of the models unchanged.

    A record of a model not in the catalog, or one that differs in anything but prices, is a
    problem; so is a price change far out of line (``catalog.price_guard``) against the prices
    in force just before the moment, unless ``allow_large_price_changes``.
    """
    file_ids = [_model_id(entry) for entry in entries]
    stored = {
        model.model_id: model
        for model in with_offering(ServedModel.objects.filter(AnyOf(F("model_id"), file_ids)))
    }
    models = list(stored.values())
    before = prices_before(models, moment)
    # In force at the moment itself: a change already scheduled for it included, so that the
    # same file again changes nothing, and a corrected one changes only what it corrects.
    at_moment = prices_before(models, moment + timedelta(microseconds=1))
    places: dict[int, dict[Place, int]] = defaultdict(dict)  # model pk -> place -> link pk
    for link_pk, model_pk, code, region in ServedModel.datacenters.through.objects.filter(
        AnyOf(F("servedmodel_id"), [model.pk for model in models])
    ).values_list("pk", "servedmodel_id", "datacenter__country_code", "datacenter__region"):
        places[model_pk][(code, region)] = link_pk

    plans: list[ModelChanges] = []
    described: dict[str, list[str]] = {}
    unchanged: list[str] = []
    problems: list[Problem] = []
    for entry in entries:
        model_id = _model_id(entry)
        old = stored.get(model_id)
        if old is None:
            problems.append(
                Problem(
                    entry.index,
                    model_id,
                    "id",
                    model_id,
                    "is not in the catalog; --effective-at schedules price changes of stored "
                    "models only (import the model without it first).",
                )
            )
            continue
        old_offering = stored_offering(old).replacing(prices=tuple(at_moment[old.pk].values()))
        if isinstance(entry, TypedEntry):
            problems += entry.complete(old, now)  # none: the stored model has every column
            after = entry.offering
        else:
            # The file's flat prices over what the flat format cannot say, as at the moment.
            after = flat_offering(base=old_offering, **flat_view(entry.offering))
        if differs := _beyond_prices(entry, old, old_offering, places[old.pk], after):
            problems += differs
            continue
        if not isinstance(entry, TypedEntry):
            problems += _kept_rows_problems(entry, after)
        changes = changes_between(at_moment[old.pk], after.prices)
        if not changes:
            unchanged.append(model_id)
            continue
        problems += entry.rule_problems()
        if not allow_large_price_changes:
            problems += _large_price_changes(
                entry, old_offering.replacing(prices=tuple(before[old.pk].values())), after
            )
        plans.append(ModelChanges(old, changes))
        # In the offering's canonical order (inputs, outputs, the request), ended ones too.
        prices = {**at_moment[old.pk], **{price.identity: price for price in after.prices}}
        ordered = Offering(prices=tuple(prices[identity] for identity in changes)).prices
        described[model_id] = [
            describe(described_change(identity, before[old.pk].get(identity), changes[identity]))
            for identity in (price.identity for price in ordered)
        ]
    if problems:
        raise CatalogFileInvalid(sorted(problems, key=problem_order))
    return plans, dict(sorted(described.items())), sorted(unchanged)


def schedule_import(
    data: bytes,
    moment: datetime,
    *,
    dry_run: bool = False,
    source: str = "",
    announced: bool = True,
    allow_large_price_changes: bool = False,
) -> ScheduleResult:
    """Schedule the price changes of the file ``data`` (flat or typed) for ``moment``, or say
    which it would schedule (``dry_run``): ``import_models --effective-at``.

    The file may change only prices: a model it names that the catalog lacks, or any other
    difference from the stored model (a field, a modality, a capacity, a datacenter), is a
    problem (``CatalogFileInvalid``), and nothing is written. Models absent from the file are
    left alone. Prices are compared with those in force just before ``moment``
    (``prices_before``), so a change scheduled for an earlier moment is built on, and written
    through ``catalog.actions.schedule.schedule_changes`` in one transaction, with ``source``
    (such as ``import_models: catalog.json``). A ``moment`` that is not aware, on the
    minute and in the future raises ``catalog.actions.schedule.ScheduleError``. ``announced``
    False makes the change confidential: in no public output before ``moment``.
    """
    now = timezone.now()
    check_moment(moment, now)
    entries, ignored_keys = decode_file(data)
    with transaction.atomic():
        if not dry_run:
            # As an import: what is compared is what the writes then start from.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('catalog_import'))")
        plans, scheduled, unchanged = _plan_schedule(
            entries, moment, now=now, allow_large_price_changes=allow_large_price_changes
        )
        if not dry_run:
            schedule_changes(plans, moment, source=source, announced=announced, now=now)
    return ScheduleResult(
        effective_at=moment,
        announced=announced,
        scheduled=scheduled,
        unchanged=unchanged,
        ignored_keys=dict(sorted(ignored_keys.items())),
        dry_run=dry_run,
    )
