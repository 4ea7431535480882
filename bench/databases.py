"""The benchmark's own databases on the configured PostgreSQL server, never the app's own.

The server is the one ``DATABASE_URL`` names (or the embedded one when it is unset); only its
host and credentials are used. The bench migrates one template database, then copies it into
a fresh database for each measurement (``CREATE DATABASE ... TEMPLATE``, a file copy), so that
every run starts from the same empty, migrated catalog.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import ROOT


def server_url() -> str:
    """``DATABASE_URL``, or the embedded PostgreSQL's URL when it is unset (as the app does)."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    from config.embedded_postgres import embedded_database_url

    return embedded_database_url(ROOT / ".pgdata")


def with_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name`` (host, port, options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name)))


def server_version(url: str) -> str:
    with psycopg.connect(with_database(url, "postgres")) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return row[0] if row else "unknown"


class Databases:
    """Creates, copies and drops the databases named ``<prefix>_<suffix>``."""

    def __init__(self, url: str, prefix: str):
        self.url = url
        self.prefix = prefix
        self.created: set[str] = set()

    def name(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"

    def url_of(self, suffix: str) -> str:
        return with_database(self.url, self.name(suffix))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(with_database(self.url, "postgres"), autocommit=True) as connection:
            connection.execute(statement)

    def drop(self, suffix: str) -> None:
        name = sql.Identifier(self.name(suffix))
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        self.created.discard(suffix)

    def create(self, suffix: str, template: str | None = None) -> str:
        """A new empty database (a copy of ``template`` if given); returns its URL."""
        self.drop(suffix)
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name(suffix)))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(self.name(template)))
        self._admin(statement)
        self.created.add(suffix)
        return self.url_of(suffix)

    def create_template(self, env: dict[str, str]) -> None:
        """The migrated, empty database that every other one copies."""
        url = self.create("template")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": url},
            check=True,
        )

    def drop_all(self) -> None:
        for suffix in sorted(self.created):
            self.drop(suffix)
