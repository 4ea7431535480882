"""The catalog revision: a number that moves with every committed change (see CatalogRevision)."""

from __future__ import annotations

from django.db import connections

_REVISION_SQL = "SELECT number FROM catalog_catalogrevision WHERE id = 1"


def current_revision(using: str = "default") -> int:
    """The revision as this connection's snapshot sees it: one raw query, no ORM overhead."""
    with connections[using].cursor() as cursor:
        cursor.execute(_REVISION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0
