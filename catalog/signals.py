"""How the catalog announces a committed change, so that caches can follow.

``catalog_changed`` is sent after a transaction that changed the catalog commits (never inside
it): for saves, deletes and many-to-many changes (the model signals), and for bulk writes
through ``CatalogQuerySet``, which send no model signals (``catalog.models.written_in_bulk``).
The catalog does not know who listens; the router connects its cache to it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

catalog_changed = Signal()


def _send_catalog_changed():
    catalog_changed.send_robust(sender=None)


def announce_change(using: str = "default") -> None:
    """Send ``catalog_changed`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(_send_catalog_changed, using=using, robust=True)


def _on_write(sender, using="default", **kwargs):
    announce_change(using)


def _on_m2m_write(sender, action, using="default", **kwargs):
    if action in {"post_add", "post_remove", "post_clear"}:
        announce_change(using)


def connect_receivers() -> None:
    from catalog.models import Datacenter, ServedModel, written_in_bulk

    written_in_bulk.connect(_on_write, dispatch_uid="catalog-bulk-write")
    for model in (ServedModel, Datacenter):
        post_save.connect(_on_write, sender=model, dispatch_uid=f"catalog-save-{model.__name__}")
        post_delete.connect(
            _on_write, sender=model, dispatch_uid=f"catalog-delete-{model.__name__}"
        )
    m2m_changed.connect(
        _on_m2m_write, sender=ServedModel.datacenters.through, dispatch_uid="catalog-m2m"
    )
