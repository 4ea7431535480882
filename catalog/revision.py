"""The catalog revision: a number that moves with every committed change (see CatalogRevision).

The revision triggers also send it on the ``CHANNEL`` notification channel when their
transaction commits (migration 0008), so that readers can learn of a change without asking.
"""

from __future__ import annotations

from django.db import connections

CHANNEL = "catalog_revision"
REVISION_SQL = "SELECT number FROM catalog_catalogrevision WHERE id = 1"
# What a rendered body is bound to outside this database (a shared cache): the cluster's
# system identifier and the database's oid. A physical replica shares both, as it should; a
# copy (restore, CREATE DATABASE ... TEMPLATE, another cluster) differs in one of them.
IDENTITY_SQL = (
    "SELECT system_identifier, (SELECT oid FROM pg_database WHERE datname = current_database())"
    " FROM pg_control_system()"
)


def current_revision(using: str = "default") -> int:
    """The revision as this connection's snapshot sees it: one raw query, no ORM overhead."""
    with connections[using].cursor() as cursor:
        cursor.execute(REVISION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0


def database_identity(using: str = "default") -> str:
    """``<system identifier>-<database oid>``: which database a revision number belongs to."""
    with connections[using].cursor() as cursor:
        cursor.execute(IDENTITY_SQL)
        system_identifier, oid = cursor.fetchone()
    return f"{system_identifier}-{oid}"
