"""The change history of served models: who changed what and when, written in bulk, listed.

django-simple-history keeps it (``ServedModel.history``); what a record holds is in
docs/architecture/history.md. Its ``changed_fields`` are the names of
``catalog.formats.flat.diff``, as ``import_models`` reports them. What writes records:

- any ``save()`` or ``delete()`` of a served model and any change to its datacenters, through
  the library's signals (the shell, scripts); ``_note_changed_fields`` names the fields against
  the model's previous record;
- a save through ``catalog.actions`` (the admin's, a script's), as one record once its
  offering and datacenters are written too (``record_save``);
- the bulk actions (``catalog.actions.publication``: the admin's bulk actions, an import's
  pruning), an import and a scheduled change, in bulk (``record_bulk``);
- deleting a datacenter, or correcting its code: a record for each model that was linked to it.

Writes that send no model signals (``QuerySet.update()``, raw SQL) leave no record, and neither
does anything while ``SIMPLE_HISTORY_ENABLED`` is off. A record's offering snapshot alone
rebuilds the model as it was (``catalog.formats.published.state_of``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.utils import timezone
from simple_history.signals import (
    pre_create_historical_m2m_records,
    pre_create_historical_record,
)

from catalog.formats.flat.diff import changed_fields
from catalog.formats.flat.names import OFFERING_CHANGES
from catalog.formats.flat.offering import offering_flat_fields
from catalog.formats.published import state_of
from catalog.models import (
    SERVED_MODEL_HISTORY,
    Datacenter,
    HistoricalDatacenterLink,
    HistoricalServedModel,
    HistoryRecord,
    ServedModel,
)
from catalog.offering import Offering, offering_snapshot

_Links = ServedModel.datacenters.through


def history_enabled() -> bool:
    return getattr(settings, "SIMPLE_HISTORY_ENABLED", True)


# --- writing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One model to record, as it is now: ``history_type`` "+" (created) or "~" (changed)."""

    model: ServedModel
    history_type: str
    changed_fields: list[str] = field(default_factory=list)


def _record_sql() -> str:
    """One statement: a record per model from its saved row (its offering as JSON, by
    ``catalog_offering_snapshot()``, migration 0010, redefined by 0012 and 0016), and the
    datacenters it links to."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in HistoricalServedModel.tracked_fields)
    model_columns = ", ".join(
        f"model.{quote(f.column)}" for f in HistoricalServedModel.tracked_fields
    )
    return f"""
    WITH record AS (
        INSERT INTO {quote(HistoricalServedModel._meta.db_table)} ({columns}, history_date,
            history_type, history_change_reason, history_user_id, changed_fields, offering)
        SELECT {model_columns}, %(date)s, change.type, %(reason)s, %(user)s,
            string_to_array(change.fields, ','), catalog_offering_snapshot(model.id, %(date)s)
        FROM unnest(%(ids)s::bigint[], %(types)s::text[], %(fields)s::text[])
            AS change (id, type, fields)
        JOIN {quote(ServedModel._meta.db_table)} model ON model.id = change.id
        RETURNING history_id, id
    )
    INSERT INTO {quote(HistoricalDatacenterLink._meta.db_table)}
        (history_id, id, servedmodel_id, datacenter_id, country_code, region)
    SELECT record.history_id, link.id, link.servedmodel_id, link.datacenter_id,
        datacenter.country_code, datacenter.region
    FROM record
    JOIN {quote(_Links._meta.db_table)} link ON link.servedmodel_id = record.id
    JOIN {quote(Datacenter._meta.db_table)} datacenter ON datacenter.id = link.datacenter_id
    """


def record_bulk(
    changes: Sequence[Change],
    *,
    date: datetime,
    reason: str | None = None,
    user=None,
    batch_size: int = 500,
) -> None:
    """Write one history record per change: the model as saved now, with its datacenters.

    One statement per batch whatever its size, which copies the saved rows in the database:
    records built as Django objects (``bulk_create``, or simple-history's
    ``bulk_history_create``, which copies no datacenters) cost as much as the import itself
    (docs/PERFORMANCE.md).
    """
    if not history_enabled():
        return
    sql = _record_sql()
    with connection.cursor() as cursor:
        for start in range(0, len(changes), batch_size):
            batch = changes[start : start + batch_size]
            cursor.execute(
                sql,
                {
                    "ids": [change.model.pk for change in batch],
                    "types": [change.history_type for change in batch],
                    "fields": [",".join(change.changed_fields) for change in batch],
                    "date": date,
                    "reason": reason,
                    "user": None if user is None else user.pk,
                },
            )


def record_save(model: ServedModel, *, created: bool) -> None:
    """Record a save as one change, once its offering and datacenters are written too.

    An admin save writes the model, then its datacenters (remove, then add): left to the
    library's signals, one edit would leave up to three records, the first with the old
    datacenters. ``catalog.actions.served_models.save_model`` turns those off and calls this.
    """
    if history_enabled():
        SERVED_MODEL_HISTORY.create_historical_record(model, "+" if created else "~")


def _codes_of(record: HistoryRecord) -> list[str]:
    return list(
        HistoricalDatacenterLink.objects.filter(history_id=record.history_id).values_list(
            "country_code", flat=True
        )
    )


# The name of a change that the flat names do not cover, for the history's filter: the columns
# only the typed format carries, or the offering's rows (further prices, capacities, modality
# details) when no flat name of the offering changed (with one, the record is found by it).
TYPED_ONLY = "typed"
TYPED_ONLY_FIELDS = ("tokenizer", "deployment_region", "compliance", "passthrough_parameters")


def _note_changed_fields(sender, instance, history_instance, **kwargs):
    """Keep the offering with the record; name what a change made differ."""
    moment = history_instance.history_date
    history_instance.offering = offering_snapshot(instance.pk, moment)  # as record_bulk keeps it
    offering = Offering.from_json(history_instance.offering, moment)
    if history_instance.history_type != "~":
        return
    previous = HistoricalServedModel.objects.filter(id=instance.pk).first()
    if previous is None:  # a model from before history began, never recorded
        return
    codes = _Links.objects.filter(servedmodel_id=instance.pk).values_list(
        "datacenter__country_code", flat=True
    )
    before = state_of(previous, timezone.now())  # what it offered until this change
    names = changed_fields(
        before.model,
        _codes_of(previous),
        instance,
        list(codes),
        before_flat=offering_flat_fields(before.offering),
        after_flat=offering_flat_fields(offering),
    )
    offering_named = any(name in OFFERING_CHANGES for name in names)
    if (not offering_named and before.offering != offering) or any(
        getattr(before.model, name) != getattr(instance, name) for name in TYPED_ONLY_FIELDS
    ):
        names.append(TYPED_ONLY)
    history_instance.changed_fields = names


def _copy_country_codes(sender, rows, **kwargs):
    for row in rows:
        row.country_code = row.datacenter.country_code  # fetched with the links, no query
        row.region = row.datacenter.region


def _record_linked_models(datacenter: Datacenter, model_ids: list[int], reason: str | None) -> None:
    if not model_ids:
        return
    record_bulk(
        [
            Change(model, "~", ["datacenters"])
            for model in ServedModel.objects.filter(pk__in=model_ids)
        ],
        date=timezone.now(),
        reason=reason,
        user=HistoricalServedModel.get_default_history_user(datacenter),
    )


def _record_datacenter_side_links(sender, instance, action, reverse, pk_set, **kwargs):
    """Record the served models whose links a change from the datacenter's side touched.

    For ``datacenter.models.add/remove/clear()``; ``ServedModel.history`` leaves these alone.
    """
    if not reverse:
        return
    datacenter = instance
    if action in ("pre_remove", "pre_clear"):
        linked = (
            datacenter.models.all() if pk_set is None else datacenter.models.filter(pk__in=pk_set)
        )
        datacenter._linked_model_ids = list(linked.values_list("pk", flat=True))
    elif action in ("post_remove", "post_clear"):
        _record_linked_models(datacenter, datacenter.__dict__.pop("_linked_model_ids", []), None)
    elif action == "post_add":
        _record_linked_models(datacenter, sorted(pk_set), None)


def _remember_stored_code(sender, instance, raw=False, **kwargs):
    if instance.pk is not None and not raw:
        instance._stored_code = (
            Datacenter.objects.filter(pk=instance.pk).values_list("country_code", flat=True).first()
        )


def _record_code_correction(sender, instance, created, raw=False, **kwargs):
    old = instance.__dict__.pop("_stored_code", None)
    if created or raw or old is None or old == instance.country_code:
        return
    model_ids = list(instance.models.values_list("pk", flat=True))
    _record_linked_models(instance, model_ids, f"datacenter {old} became {instance.country_code}")


def _remember_linked_models(sender, instance, **kwargs):
    # The links are gone by post_delete (deleted with the datacenter, without m2m signals).
    instance._linked_model_ids = list(instance.models.values_list("pk", flat=True))


def _record_unlinked_models(sender, instance, **kwargs):
    model_ids = instance.__dict__.pop("_linked_model_ids", [])
    _record_linked_models(instance, model_ids, f"datacenter {instance.country_code} deleted")


def connect_receivers() -> None:
    pre_create_historical_record.connect(
        _note_changed_fields, sender=HistoricalServedModel, dispatch_uid="history-changed-fields"
    )
    pre_create_historical_m2m_records.connect(
        _copy_country_codes, sender=HistoricalDatacenterLink, dispatch_uid="history-codes"
    )
    m2m_changed.connect(
        _record_datacenter_side_links, sender=_Links, dispatch_uid="history-datacenter-side"
    )
    pre_save.connect(_remember_stored_code, sender=Datacenter, dispatch_uid="history-dc-code")
    post_save.connect(_record_code_correction, sender=Datacenter, dispatch_uid="history-dc-recode")
    pre_delete.connect(_remember_linked_models, sender=Datacenter, dispatch_uid="history-dc-links")
    post_delete.connect(
        _record_unlinked_models, sender=Datacenter, dispatch_uid="history-dc-delete"
    )


# --- reading ---------------------------------------------------------------------------------
def with_previous(records: QuerySet) -> QuerySet:
    """Records annotated with ``previous_history_id``: the same model's record before each."""
    earlier = (
        HistoricalServedModel.objects.filter(id=OuterRef("id"))
        .filter(
            Q(history_date__lt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
        )
        .values("history_id")[:1]
    )
    return records.annotate(previous_history_id=Subquery(earlier))


def load_previous(records: Sequence[HistoryRecord]) -> None:
    """Give each record (from ``with_previous``) its ``previous`` record (or None).

    Each record and each previous one also gets its ``country_codes``. Two queries, whatever
    the number of records.
    """
    previous = HistoricalServedModel.objects.in_bulk(
        {record.previous_history_id for record in records} - {None}
    )
    codes = defaultdict(list)
    for history_id, code in HistoricalDatacenterLink.objects.filter(
        history_id__in=[record.history_id for record in records] + list(previous)
    ).values_list("history_id", "country_code"):
        codes[history_id].append(code)
    for record in [*records, *previous.values()]:
        record.country_codes = sorted(codes[record.history_id])
    for record in records:
        record.previous = previous.get(record.previous_history_id)
