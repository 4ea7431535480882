"""An embedded PostgreSQL (the ``pgserver`` wheel) for machines without a database server.

Used only when ``DATABASE_URL`` is unset: the server keeps its data in a git-ignored folder of the
checkout and keeps running after the process that started it exits, so later commands reuse it.
"""

from __future__ import annotations

import warnings
from pathlib import Path


def embedded_database_url(data_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()


if __name__ == "__main__":
    print(embedded_database_url(Path(__file__).resolve().parent.parent / ".pgdata"))
