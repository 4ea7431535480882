"""Migration 0019: a price stored on all seven weekdays (127, as the typed decoder once stored
it) becomes the price of every day (NULL), and the CHECK no longer admits 127. The rows are
written by plain SQL past the CHECK, as the catalog before the migration could hold them."""

from __future__ import annotations

import io
import json
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from catalog.models import PriceEntry

MIGRATION = import_module("catalog.migrations.0019_every_day_is_no_weekdays")
CHECK = "priceentry_weekdays_bits"


COLUMNS = ("model_id", "modality_id", "price_type", "unit", "cost_usd", "ttl_seconds",
           "implicit", "utc_start", "utc_end", "utc_days", "valid_from", "valid_until")  # fmt: skip


def copy_of(row: PriceEntry, **changes) -> None:
    """A copy of ``row`` with ``changes``, written by plain SQL."""
    values = {name: getattr(row, name) for name in COLUMNS} | changes
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO catalog_priceentry ({', '.join(values)}, overrides) "
            f"VALUES ({', '.join(['%s'] * len(values))}, '[]')",
            list(values.values()),
        )


def exported(*options: str) -> dict:
    out = io.StringIO()
    call_command("export_models", *options, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def prompt(make_model) -> PriceEntry:
    model = make_model("acme/chat")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE catalog_priceentry DROP CONSTRAINT {CHECK}")
    return PriceEntry.objects.get(model=model, price_type="prompt", unit="token")


def migrate() -> None:
    with connection.schema_editor() as editor:
        MIGRATION.every_day_is_no_weekdays(apps, editor)


def test_a_price_on_every_weekday_becomes_the_every_day_price(prompt):
    copy_of(prompt, price_type="cached_prompt", cost_usd="0.00000005", utc_days=127)
    typed_before = exported("--schema-version", "2.4")
    flat_before = exported()

    migrate()

    row = PriceEntry.objects.get(model_id=prompt.model_id, price_type="cached_prompt")
    assert row.utc_days is None
    # The typed body always read it as every day; the flat body skipped it as a weekday price.
    assert exported("--schema-version", "2.4") == typed_before
    (record,) = flat_before["data"]
    assert record["pricing"].get("input_cache_read", "0") == "0"
    (record,) = exported()["data"]
    assert record["pricing"]["input_cache_read"] == "0.00000005"


def test_one_in_force_beside_its_every_day_twin_is_refused_and_nothing_changes(prompt):
    copy_of(prompt, utc_days=127)

    with pytest.raises(CommandError, match=r"1 price\(s\).*acme/chat: prompt per token, rows"):
        migrate()

    days = sorted(PriceEntry.objects.filter(model_id=prompt.model_id, price_type="prompt")
                  .values_list("utc_days", flat=True), key=str)  # fmt: skip
    assert days == [127, None]


def test_the_check_refuses_seven_weekdays(make_model):
    model = make_model("acme/chat")
    row = PriceEntry.objects.get(model=model, price_type="prompt", unit="token")
    with pytest.raises(IntegrityError, match=CHECK), transaction.atomic():
        copy_of(row, price_type="cached_prompt", utc_days=127)
