"""One price at a time, said by PostgreSQL (issue 22): two rows of one price identity are never
in force at once, whoever writes them. Tested as an outside writer would break the rule: plain
SQL, past every write path of the application."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from importlib import import_module
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from catalog.models import PriceEntry
from tests.helpers import run_python
from tests.processes import database_url, environment

T1 = datetime(2026, 12, 1, tzinfo=UTC)
T2 = datetime(2026, 12, 15, 12, tzinfo=UTC)
CONSTRAINT = "priceentry_one_in_force_per_identity"
COLUMNS = ("model_id", "modality_id", "price_type", "unit", "cost_usd", "ttl_seconds", "implicit",
           "utc_start", "utc_end", "overrides", "valid_from", "valid_until")  # fmt: skip


def insert(row: PriceEntry, **changes) -> None:
    """A copy of ``row`` (with ``changes``) written by plain SQL."""
    values = {name: getattr(row, name) for name in COLUMNS} | changes
    values["overrides"] = "[]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO catalog_priceentry ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            list(values.values()),
        )


def refused(row: PriceEntry, **changes) -> bool:
    """Whether the exclusion constraint refuses the copy (any other refusal fails the test)."""
    try:
        with transaction.atomic():
            insert(row, **changes)
    except IntegrityError as error:
        if CONSTRAINT not in str(error):
            raise
        return True
    return False


@pytest.fixture
def prompt(make_model) -> PriceEntry:
    """The text input's prompt price of a model, in force since ever and until further notice."""
    model = make_model("acme/chat")
    return PriceEntry.objects.get(model=model, price_type="prompt", unit="token")


def test_a_raw_insert_of_a_price_in_force_beside_its_twin_is_refused(prompt):
    assert refused(prompt, valid_from=T1)  # [T1, ∞) inside (-∞, ∞)
    assert refused(prompt, valid_from=T1, valid_until=T2)
    # The same start is the unique constraint's (identity and start) to refuse.
    with (
        pytest.raises(IntegrityError, match="priceentry_one_per_identity_and_start"),
        transaction.atomic(),
    ):
        insert(prompt, valid_until=T1)


def test_adjacent_spans_of_one_identity_are_accepted(prompt):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_priceentry SET valid_until = %s WHERE id = %s", [T1, prompt.pk]
        )
    assert not refused(prompt, valid_from=T1, valid_until=T2)  # [.., T1) then [T1, T2)
    assert not refused(prompt, valid_from=T2, valid_until=None)  # then [T2, ∞)
    assert refused(prompt, valid_from=datetime(2026, 12, 10, tzinfo=UTC), valid_until=None)
    assert PriceEntry.objects.filter(model_id=prompt.model_id, price_type="prompt").count() == 3


def test_a_raw_update_that_makes_two_spans_overlap_is_refused(prompt):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_priceentry SET valid_until = %s WHERE id = %s", [T1, prompt.pk]
        )
    insert(prompt, valid_from=T1)
    with (
        pytest.raises(IntegrityError, match=CONSTRAINT),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE catalog_priceentry SET valid_until = %s WHERE id = %s", [T2, prompt.pk]
        )


def test_null_qualifiers_are_equal_in_the_identity(prompt):
    # The root scope (no modality), and a cache price without lifetime or caching flag: NULLs,
    # which an exclusion constraint would find unequal without COALESCE.
    request = PriceEntry.objects.create(
        model_id=prompt.model_id, price_type="request", unit="request", cost_usd="0.001"
    )
    cache = PriceEntry.objects.create(
        model_id=prompt.model_id,
        modality_id=prompt.modality_id,
        price_type="cached_prompt",
        unit="token",
        cost_usd="0.00000005",
    )
    assert refused(request, valid_from=T1)
    assert refused(cache, valid_from=T1)
    # A qualifier set is another identity: each may be in force beside the unqualified one.
    assert not refused(cache, ttl_seconds=300)
    assert not refused(cache, implicit=False)
    assert not refused(cache, implicit=True)
    assert not refused(prompt, utc_start=2200, utc_end=600)
    assert refused(prompt, utc_start=2200, utc_end=600, valid_from=T1)


def test_the_migration_names_overlapping_rows_and_changes_nothing(prompt):
    migration = import_module("catalog.migrations.0015_price_one_in_force_per_identity")
    with connection.cursor() as cursor:
        # As before the migration (the test's transaction rolls it back); the deferred foreign
        # key checks first, which ALTER TABLE will not leave pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE catalog_priceentry DROP CONSTRAINT {CONSTRAINT}")
    insert(prompt, valid_from=T1)
    with (
        connection.schema_editor() as editor,
        pytest.raises(CommandError, match=r"1 pair\(s\).*acme/chat: prompt per token, rows"),
    ):
        migration.refuse_overlaps(None, editor)
    assert PriceEntry.objects.filter(model_id=prompt.model_id, price_type="prompt").count() == 2


def test_a_role_that_may_not_create_btree_gist_is_told_how_in_one_line(db):
    """A real role without CREATE on a new database (as on a managed server without superuser):
    migrate stops at 0015 with one line, and 0015 is applied once a superuser creates it."""
    migration = import_module("catalog.migrations.0015_price_one_in_force_per_identity")
    name = f"{connection.settings_dict['NAME']}_no_gist"
    server = connection.get_connection_params()
    password = secrets.token_hex(16)
    with psycopg.connect(**{**server, "dbname": "postgres"}, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')  # no extension in it
        try:
            with psycopg.connect(**{**server, "dbname": name}, autocommit=True) as new:
                new.execute(f'GRANT CREATE ON SCHEMA public TO "{name}"')  # tables, no extension
                url = urlsplit(database_url(name))
                host = url.netloc.rpartition("@")[2]
                env = environment(urlunsplit(url._replace(netloc=f"{name}:{password}@{host}")))

                refused = run_python(["manage.py", "migrate", "--noinput"], env)

                assert refused.returncode == 1
                assert refused.stderr.splitlines() == [
                    "CommandError: "
                    + migration.btree_gist_missing(
                        True, name, name, 'permission denied to create extension "btree_gist"'
                    )
                ]
                applied = new.execute(
                    "SELECT name FROM django_migrations WHERE app = 'catalog' ORDER BY id"
                ).fetchall()
                assert applied[-1] == ("0014_price_schedule_announced",)
                assert not new.execute(
                    "SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'"
                ).fetchall()

                new.execute("CREATE EXTENSION btree_gist")  # what the message says to do
                done = run_python(["manage.py", "migrate", "--noinput"], env)
                assert done.returncode == 0, done.stderr
                assert new.execute(
                    "SELECT 1 FROM pg_constraint WHERE conname = %s", [CONSTRAINT]
                ).fetchall() == [(1,)]
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_a_server_without_btree_gist_is_told_to_install_contrib():
    # Not simulated: a server without contrib would have to be another server. The line alone.
    migration = import_module("catalog.migrations.0015_price_one_in_force_per_identity")
    message = migration.btree_gist_missing(False, "app", "catalog", "")
    assert "\n" not in message
    assert "lacks the btree_gist extension" in message
    assert "postgresql-contrib" in message
