"""Prices limited to UTC weekdays, the typed format's ``utc_days`` (issue 22): held, imported,
served and exported typed byte for byte, as of a past moment too, scheduled; never in the flat
body, which shows the every-day prices (docs/architecture/formats.md, the flat mapping's
judgment calls)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from catalog.actions.schedule import describe
from catalog.importer import import_catalog, schedule_import
from catalog.models import PriceEntry, PriceSchedule, ServedModel
from tests.helpers import (
    ENDPOINT,
    catalog_file,
    change_url,
    document_validator,
    form_data,
    modality_row,
    with_rows,
)

EXAMPLE = Path(__file__).parent / "data" / "typed" / "weekday-rates.json"
TIDE = "acme/tide-32b"
NOW = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)
MOMENT = datetime(2030, 3, 5, 0, 0, tzinfo=UTC)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
# What only a weekday price of the example costs: none may reach the flat body.
WEEKDAY_COSTS = (b"0.0000003", b"0.00000005", b"0.00000002", b"0.0000012")


@pytest.fixture
def clock_start():
    return NOW


def document() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))["data"][0]


def export(*args: str) -> bytes:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", *args, stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def typed_export(*args: str) -> bytes:
    return export("--schema-version", "2.4", *args)


def text_input_pricing(body: bytes) -> list[dict]:
    (model,) = json.loads(body)["data"]
    return model["input_modalities"][0]["pricing"]


def test_the_example_is_valid_against_the_official_schema():
    assert list(document_validator().iter_errors(document())) == []


def test_weekday_prices_are_held_as_rows_of_their_own(db):
    import_catalog(catalog_file(document()))
    rows = PriceEntry.objects.filter(model__model_id=TIDE, utc_days__isnull=False)
    # Monday to Friday are bits 1-16, Saturday 32, Sunday 64.
    assert sorted(rows.values_list("price_type", "utc_days", "cost_usd")) == [
        ("cached_prompt", 64, Decimal("0.00000002")),
        ("completion", 31, Decimal("0.0000012")),
        ("prompt", 31, Decimal("0.0000003")),
        ("prompt", 96, Decimal("0.00000005")),
    ]


def test_export_import_export_is_byte_identical(db):
    import_catalog(catalog_file(document()))
    first = typed_export()
    assert b'"utc_days":["monday","tuesday","wednesday","thursday","friday"]' in first
    # Into the same catalog: nothing to write.
    result = import_catalog(first)
    assert (result.created, result.updated) == ([], {})
    assert typed_export() == first
    # Into an empty one: the same bytes again.
    ServedModel.objects.all().delete()
    assert import_catalog(first).created == [TIDE]
    assert typed_export() == first


def test_the_typed_body_lists_weekdays_in_week_order(client, db):
    shuffled = document()
    shuffled["input_modalities"][0]["pricing"][3]["utc_days"] = ["sunday", "saturday"]
    import_catalog(catalog_file(shuffled))
    response = client.get(ENDPOINT + "?schema_version=2.4")
    assert response.status_code == 200
    days = {
        entry["cost_usd"]: entry.get("utc_days") for entry in text_input_pricing(response.content)
    }
    assert days == {
        "0.0000002": None,
        "0.0000001": None,
        "0.0000003": WEEKDAYS,
        "0.00000005": ["saturday", "sunday"],
        "0.00000002": ["sunday"],
    }


def test_the_flat_body_shows_the_every_day_prices_and_no_weekday_one(client, db):
    import_catalog(catalog_file(document()))
    body = client.get(ENDPOINT).content
    assert body == export()
    (record,) = json.loads(body)["data"]
    assert record["pricing"] == {
        "prompt": "0.0000002",
        "completion": "0.0000008",
        "image": "0",
        "request": "0",
        # Its only cache price is on Sundays: on the other days none applies.
        "input_cache_read": "0",
        # The every-day window; the one on weekdays only is not a flat window.
        "overrides": [
            {"utc_start": 2200, "utc_end": 600, "prompt": "0.0000001", "completion": "0.0000004"}
        ],
    }
    assert b"utc_days" not in body
    assert not [cost for cost in WEEKDAY_COSTS if cost in body]


def test_a_flat_re_import_keeps_the_weekday_prices(db):
    import_catalog(catalog_file(document()))
    typed = typed_export()
    flat = export()
    result = import_catalog(flat)
    assert (result.created, result.updated) == ([], {})
    assert typed_export() == typed


def test_as_of_exports_carry_the_weekday_prices_of_then(clock, db):
    import_catalog(catalog_file(document()))
    served = typed_export()
    clock.move_to(NOW + timedelta(hours=1))
    changed = document()
    pricing = changed["input_modalities"][0]["pricing"]
    pricing[2]["utc_days"] = ["saturday"]
    del pricing[3]
    import_catalog(catalog_file(changed))
    later = typed_export()
    assert later != served

    clock.move_to(NOW + timedelta(days=1))
    assert typed_export("--as-of", (NOW + timedelta(minutes=30)).isoformat()) == served
    assert typed_export("--as-of", (NOW + timedelta(hours=2)).isoformat()) == later
    assert b"utc_days" not in export("--as-of", (NOW + timedelta(minutes=30)).isoformat())


def test_a_weekday_price_change_is_scheduled_like_any_other(client, clock, db):
    import_catalog(catalog_file(document()))
    changed = document()
    changed["input_modalities"][0]["pricing"][2]["cost_usd"] = "0.0000004"
    schedule_import(catalog_file(changed), MOMENT, source="test")
    (schedule,) = PriceSchedule.objects.all()
    assert [describe(change) for change in schedule.changes] == [
        "input text prompt per token (window 09:00-17:00, UTC monday, tuesday, wednesday, "
        "thursday, friday): $0.3 per 1M tokens -> $0.4 per 1M tokens"
    ]
    flat_before = client.get(ENDPOINT).content

    clock.move_to(MOMENT)
    (entry,) = [e for e in text_input_pricing(typed_export()) if e.get("utc_start") == 900]
    assert entry == {
        "type": "prompt",
        "unit": "token",
        "cost_usd": "0.0000004",
        "utc_start": 900,
        "utc_end": 1700,
        "utc_days": WEEKDAYS,
    }
    assert client.get(ENDPOINT).content == flat_before


def test_the_database_keeps_one_weekday_price_in_force_per_identity(db):
    import_catalog(catalog_file(document()))
    row = PriceEntry.objects.get(model__model_id=TIDE, price_type="prompt", utc_days=96)

    def insert(utc_days: int, valid_from: datetime | None) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO catalog_priceentry (model_id, modality_id, price_type, unit, "
                "cost_usd, utc_days, overrides, valid_from) "
                "VALUES (%s, %s, 'prompt', 'token', 0.0000001, %s, '[]', %s)",
                [row.model_id, row.modality_id, utc_days, valid_from],
            )

    insert(32, MOMENT)  # Saturday alone is another identity
    with pytest.raises(IntegrityError, match="priceentry_one_in_force_per_identity"):
        insert(96, MOMENT)
    with pytest.raises(IntegrityError, match="priceentry_weekdays_bits"):
        insert(128, None)


# --- The admin ------------------------------------------------------------------------------------
WEEKDAY_WINDOW = {
    "scope": "output text",
    "price_type": "completion",
    "unit": "token",
    "cost_usd": "1.2",
    "utc_start": "900",
    "utc_end": "1700",
    "utc_days": ["friday", "monday"],
}


def test_staff_tick_the_weekdays_of_a_further_price(editor_client, make_model):
    model = make_model("acme/chat")
    response = editor_client.post(
        change_url(model), with_rows(form_data(model), "prices", [WEEKDAY_WINDOW])
    )

    assert response.status_code == 302
    row = PriceEntry.objects.get(model=model, utc_start=900)
    assert (row.utc_days, row.cost_usd) == (1 + 16, Decimal("0.0000012"))
    page = editor_client.get(change_url(model)).content.decode()
    assert 'name="prices-0-utc_days" value="friday"' in page
    assert "checked" in page.split('value="friday"')[1].split(">")[0]
    # The history names the weekdays with the window.
    history = editor_client.get(reverse("admin:catalog_servedmodel_history", args=[model.pk]))
    assert "window 09:00-17:00, UTC monday, friday" in history.content.decode()


def test_viewers_read_the_weekdays_by_name(viewer_client, make_model):
    model = make_model("acme/chat")
    PriceEntry.objects.create(
        model=model,
        modality=modality_row(model, "output", "text"),
        price_type="completion",
        unit="token",
        cost_usd=Decimal("0.0000012"),
        utc_days=32 + 64,
    )

    page = viewer_client.get(change_url(model)).content.decode()

    assert "saturday, sunday" in page
    assert "prices-0-utc_days" not in page


def test_migrating_back_is_refused_while_a_price_has_weekdays(db):
    migration = import_module("catalog.migrations.0016_price_weekdays")
    migration.refuse_weekdays(apps, None)  # none yet: nothing to lose
    import_catalog(catalog_file(document()))
    with pytest.raises(RuntimeError, match="4 price"):
        migration.refuse_weekdays(apps, None)


def test_the_model_page_names_the_weekdays_of_a_price(client, db):
    import_catalog(catalog_file(document()))

    page = client.get(f"/models/{TIDE}/").content.decode()

    assert (
        "text input, prompt, 09:00-17:00 UTC, on Monday, Tuesday, Wednesday, Thursday, Friday "
        "(UTC): $0.3 per 1M tokens" in page
    )
