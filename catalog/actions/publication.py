"""Writes that change one field of many served models at once: the admin's bulk actions, an
import's pruning.

Each function sets one field of the models it is given, in one ``UPDATE`` whatever their number,
records one history record per model it changed (``catalog.history.record_bulk``), and leaves
models that already hold the value alone. The write announces itself after commit
(``CatalogQuerySet``). The cost is the same for 5 models as for 500: read the selection, update
it, record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.formats.flat.names import PUBLISHED
from catalog.history import Change, record_bulk
from catalog.models import ServedModel


@dataclass(frozen=True)
class BulkChange:
    """What a bulk write did: the models it changed (as now saved) and how many it left alone."""

    changed: list[ServedModel]
    unchanged: int


def _set_field(
    models: QuerySet[ServedModel],
    field: str,
    value: Any,
    change_name: str,
    *,
    user: AbstractBaseUser | None,
    reason: str | None,
    now: datetime | None,
) -> BulkChange:
    now = now or timezone.now()
    with transaction.atomic():
        # Only what a history record and an admin log entry name: the pk and the model's ID.
        selected = list(models.prefetch_related(None).order_by("pk").only("model_id", field))
        changed = [model for model in selected if getattr(model, field) != value]
        if changed:
            ServedModel.objects.filter(pk__in=[model.pk for model in changed]).update(
                **{field: value, "updated_at": now}
            )
            for model in changed:
                setattr(model, field, value)
            record_bulk(
                [Change(model, "~", [change_name]) for model in changed],
                date=now,
                reason=reason,
                user=user,
                batch_size=len(changed),
            )
    return BulkChange(changed, len(selected) - len(changed))


def publish(
    models: QuerySet[ServedModel],
    *,
    user: AbstractBaseUser | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> BulkChange:
    """Publish ``models``: the endpoint serves them from the next request after commit."""
    return _set_field(models, "is_published", True, PUBLISHED, user=user, reason=reason, now=now)


def unpublish(
    models: QuerySet[ServedModel],
    *,
    user: AbstractBaseUser | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> BulkChange:
    """Unpublish ``models`` (never delete them): they stay in the catalog as drafts."""
    return _set_field(models, "is_published", False, PUBLISHED, user=user, reason=reason, now=now)


def set_deprecation_date(
    models: QuerySet[ServedModel],
    day: date | None,
    *,
    user: AbstractBaseUser | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> BulkChange:
    """Set the deprecation date of ``models`` to ``day`` (None clears it)."""
    return _set_field(
        models,
        "deprecation_date",
        day,
        "deprecation_date",
        user=user,
        reason=reason,
        now=now,
    )


def clear_deprecation_date(
    models: QuerySet[ServedModel],
    *,
    user: AbstractBaseUser | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> BulkChange:
    """Clear the deprecation date of ``models``: no end of service planned."""
    return set_deprecation_date(models, None, user=user, reason=reason, now=now)
