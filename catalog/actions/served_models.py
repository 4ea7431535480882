"""Save served models with their offerings: one at a time (the admin, a script), or in bulk (an
import). One transaction each, one history record per model changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F

from catalog.actions.publication import unpublish
from catalog.actions.rows import write_offerings
from catalog.bulk import AnyOf
from catalog.history import Change, record_bulk, record_save
from catalog.models import Datacenter, ServedModel
from catalog.offering import InvalidOffering, Offering

# A datacenter: (country code, region or "").
Place = tuple[str, str]

# A callback told how far a long write is: (stage, done, total).
Progress = Callable[[str, int, int], None]


def save_model(
    model: ServedModel,
    offering: Offering | None = None,
    *,
    stored: Offering | None = None,
    related: Callable[[], object] | None = None,
    record: bool = True,
) -> None:
    """Create or update ``model`` and make its rows match ``offering`` (None: leave them).

    An offering that breaks its rules is refused (``InvalidOffering``) before anything is
    written. ``stored``: the offering the caller read of the saved model, which spares reading
    the tables in which nothing differs (``write_offerings``). ``related`` writes what belongs
    to the same save once the model has its pk (the admin's datacenters); the history record is
    written after it, so that one save is one record with the datacenters and rows it left.
    ``record``: False when nothing changed.
    """
    if offering is not None and (problems := offering.problems()):
        raise InvalidOffering(model.model_id, problems)
    created = model._state.adding
    with transaction.atomic(savepoint=False):
        # The library would record the model before its offering and datacenters are written.
        model.skip_history_when_saving = True  # type: ignore[attr-defined]  # simple-history's flag
        try:
            model.save()
            if offering is not None:
                write_offerings(
                    {model.pk: offering},
                    created=created,
                    stored=None if created or stored is None else {model.pk: stored},
                )
            if related is not None:
                related()
        finally:
            del model.skip_history_when_saving  # type: ignore[attr-defined]
        if record:
            record_save(model, created=created)


@dataclass
class ImportWrite:
    """What an import writes (``catalog.importer`` plans it, ``write_import`` writes it)."""

    created: list[ServedModel] = field(default_factory=list)
    created_offerings: list[Offering] = field(default_factory=list)  # of ``created``, in order
    updated: dict[str, list[str]] = field(default_factory=dict)  # ID -> changed wire fields
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    to_prune: list[int] = field(default_factory=list)  # pks of the models to unpublish
    to_update: list[ServedModel] = field(default_factory=list)
    update_fields: set[str] = field(default_factory=set)
    unlink: list[int] = field(default_factory=list)  # pks of datacenter links to delete
    # (model, (country code, region)); the flat format links region-less datacenters ("").
    link: list[tuple[ServedModel, Place]] = field(default_factory=list)
    datacenter_ids: dict[Place, int] = field(default_factory=dict)  # (code, region) -> pk
    offering_changed: dict[int, Offering] = field(default_factory=dict)  # pk -> new offering
    stored_offerings: dict[int, Offering] = field(default_factory=dict)  # pk -> as read


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic(savepoint=False)  # joins the importer's, which holds its lock
def write_import(
    plan: ImportWrite,
    *,
    now: datetime,
    batch_size: int,
    progress: Progress | None,
    change_reason: str,
) -> None:
    """Write the plan: a statement per batch of rows and per kind of change, none if no change.

    Then the history: one record per created or updated model, dated ``now``; the models pruned
    are unpublished last, by ``unpublish``, which records them the same way. An offering that
    breaks its rules (the decoders report them first) is refused before anything is written.
    """
    model_ids = {model.pk: model.model_id for model in plan.to_update}
    for model_id, offering in (
        *(
            (model.model_id, offering)
            for model, offering in zip(plan.created, plan.created_offerings, strict=True)
        ),
        *((model_ids.get(pk, str(pk)), offering) for pk, offering in plan.offering_changed.items()),
    ):
        if problems := offering.problems():
            raise InvalidOffering(model_id, problems)
    through = ServedModel.datacenters.through
    missing_places = sorted({place for _, place in plan.link} - plan.datacenter_ids.keys())
    if missing_places:
        datacenters = Datacenter.objects.bulk_create(
            [Datacenter(country_code=code, region=region) for code, region in missing_places],
            # One added meanwhile (in the admin) is reused, and its pk returned all the same.
            update_conflicts=True,
            unique_fields=["country_code", "region"],
            update_fields=["country_code"],
        )
        plan.datacenter_ids.update(
            ((datacenter.country_code, datacenter.region), datacenter.pk)
            for datacenter in datacenters
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
    # A statement per batch of models and per table written (models have a few rows each).
    created = list(zip(plan.created, plan.created_offerings, strict=True))
    for batch in _batches(created, batch_size):
        write_offerings({model.pk: offering for model, offering in batch}, created=True)
    for batch in _batches(list(plan.offering_changed.items()), batch_size):
        write_offerings(dict(batch), stored=plan.stored_offerings)
    if plan.unlink:
        through.objects.filter(pk__in=plan.unlink).delete()
    if plan.link:
        through.objects.bulk_create(
            [
                through(servedmodel_id=model.pk, datacenter_id=plan.datacenter_ids[place])
                for model, place in plan.link
            ],
            batch_size=batch_size,
        )
    record_bulk(
        [
            *(Change(model, "+") for model in plan.created),
            *(Change(model, "~", plan.updated[model.model_id]) for model in plan.to_update),
        ],
        date=now,
        reason=change_reason,
        batch_size=batch_size,
    )
    if plan.to_prune:
        unpublish(
            ServedModel.objects.filter(AnyOf(F("pk"), plan.to_prune)),
            reason=change_reason,
            now=now,
        )
