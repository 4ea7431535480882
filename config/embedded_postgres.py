"""An embedded PostgreSQL (the ``pgserver`` wheel) for machines without a database server.

For local use only: when ``DATABASE_URL`` is unset and ``DEBUG`` or ``EMBEDDED_POSTGRES`` is on.
The server keeps its data in a git-ignored folder of the checkout and keeps running after the
process that started it exits, so later commands reuse it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def use_embedded_server(database_url: str, *, debug: bool, opted_in: bool) -> bool:
    """Whether to start the embedded server instead of connecting to ``DATABASE_URL``.

    Outside local use a missing ``DATABASE_URL`` is a mistake, never a reason to give each
    instance a private, empty database of its own.
    """
    if database_url:
        return False
    if debug or opted_in:
        return True
    raise ImproperlyConfigured(
        "DATABASE_URL must be set (postgres://user:password@host:5432/name); the embedded "
        "PostgreSQL starts only for local use, with DEBUG=1 or EMBEDDED_POSTGRES=1."
    )


def embedded_database_url(data_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


if __name__ == "__main__":
    print(embedded_database_url(Path(__file__).resolve().parent.parent / ".pgdata"))
