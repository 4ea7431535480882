"""export_models --as-of with scheduled price changes, in both formats (issue #15, item 3): the
bytes the endpoint served at a past moment, the prices a change scheduled for a moment included
from that moment on, and not after it was cancelled.

Each as-of export is compared with the endpoint's own body, rendered under time_machine at that
moment (the clock is driven, never slept on), in the future of the database's clock, whose
now() decides which ended rows a history snapshot leaves out.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.actions.schedule import cancel_schedule
from catalog.formats.flat.published import published_catalog
from catalog.formats.typed.published import typed_catalog_as_of
from catalog.history import HistoricalServedModel
from catalog.importer import schedule_import
from catalog.models import Datacenter, PriceSchedule, ServedModel
from tests.helpers import ENDPOINT, catalog_file

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MOMENT = datetime(2030, 1, 2, 0, 0, tzinfo=UTC)
CHAT = "acme/chat"
FORMATS = {"flat": (), "typed": ("--schema-version", "2.4")}


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture
def models(clock, make_model):
    """A model in two countries, one in a region of a country, and a draft, made at NOW."""
    chat = make_model(CHAT, price_prompt=Decimal("0.00000015"), countries=("US", "DE"))
    regional = make_model("acme/regional", price_prompt=Decimal("0.000001"), countries=())
    regional.datacenters.add(Datacenter.objects.create(country_code="US", region="us-east-1"))
    make_model("acme/draft", is_published=False, countries=())
    return chat, regional


def schedule_prompt_price(price: str) -> None:
    """Schedule CHAT's prompt price for MOMENT, as import_models --effective-at does."""
    records = json.loads(published_catalog().body)["data"]
    for one in records:
        if one["id"] == CHAT:
            one["pricing"]["prompt"] = price
    schedule_import(catalog_file(*records), MOMENT, source="test")


def served(client, clock, moment: datetime) -> dict[str, bytes]:
    """The endpoint's body in each format at ``moment``."""
    clock.move_to(moment)
    bodies = {}
    for name, query in (("flat", ""), ("typed", "?schema_version=2.4")):
        response = client.get(ENDPOINT + query)
        assert response.status_code == 200
        bodies[name] = response.content
    return bodies


def export_as_of(moment: datetime, format: str) -> bytes:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", "--as-of", moment.isoformat(), *FORMATS[format], stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def prompt_price(body: bytes, format: str) -> str:
    (chat,) = [one for one in json.loads(body)["data"] if one["id"] == CHAT]
    if format == "flat":
        return chat["pricing"]["prompt"]
    (text_input,) = chat["input_modalities"]
    return next(entry["cost_usd"] for entry in text_input["pricing"] if entry["type"] == "prompt")


@pytest.mark.parametrize("format", FORMATS)
def test_as_of_gives_the_bytes_served_before_and_after_a_scheduled_change(
    client, clock, models, format
):
    schedule_prompt_price("0.0000002")
    moments = [MOMENT - timedelta(minutes=1), MOMENT + timedelta(minutes=1)]
    # A change recorded after the moment: the record made before it still says what was
    # served until then, the prices in force then included.
    bodies = [served(client, clock, moment)[format] for moment in moments]
    clock.move_to(MOMENT + timedelta(hours=2))
    chat = ServedModel.objects.get(model_id=CHAT)
    chat.name = "Chat, renamed"
    chat.save()
    moments.append(MOMENT + timedelta(hours=3))
    bodies.append(served(client, clock, moments[-1])[format])

    clock.move_to(MOMENT + timedelta(days=30))
    exported = [export_as_of(moment, format) for moment in moments]

    assert exported == bodies
    assert [prompt_price(body, format) for body in bodies] == [
        "0.00000015",
        "0.0000002",
        "0.0000002",
    ]
    assert b"Chat, renamed" in bodies[2]
    assert b"Chat, renamed" not in bodies[1]


@pytest.mark.parametrize("format", FORMATS)
def test_as_of_after_a_cancelled_change_gives_the_prices_that_ran_on(client, clock, models, format):
    schedule_prompt_price("0.0000002")
    clock.move_to(NOW + timedelta(hours=1))
    cancel_schedule(PriceSchedule.objects.get(), source="test")
    moments = [MOMENT - timedelta(minutes=1), MOMENT + timedelta(minutes=1)]
    bodies = [served(client, clock, moment)[format] for moment in moments]

    clock.move_to(MOMENT + timedelta(days=30))
    exported = [export_as_of(moment, format) for moment in moments]

    assert exported == bodies
    assert bodies[0] == bodies[1]
    assert prompt_price(bodies[1], format) == "0.00000015"
    # Between the scheduling and the cancellation, the change was still to come.
    assert prompt_price(export_as_of(NOW + timedelta(minutes=30), format), format) == ("0.00000015")


def test_typed_as_of_renders_the_datacenters_each_record_saw_with_their_regions(
    client, clock, models
):
    _, regional = models
    body = served(client, clock, NOW + timedelta(minutes=1))["typed"]
    clock.move_to(NOW + timedelta(hours=1))
    regional.datacenters.clear()  # recorded: the model's links as they are now

    clock.move_to(NOW + timedelta(days=1))

    assert export_as_of(NOW + timedelta(minutes=1), "typed") == body
    (document,) = [one for one in json.loads(body)["data"] if one["id"] == "acme/regional"]
    assert document["datacenters"] == [{"country_code": "US", "region": "us-east-1"}]
    later = json.loads(export_as_of(NOW + timedelta(hours=2), "typed"))["data"]
    assert "datacenters" not in next(one for one in later if one["id"] == "acme/regional")


def test_typed_as_of_before_the_first_record_names_the_earliest_moment(clock, models):
    first = HistoricalServedModel.objects.earliest().history_date

    with pytest.raises(CommandError, match=r"^The history starts at 2030-01-01T12:00:00Z; "):
        export_as_of(first - timedelta(seconds=1), "typed")


@pytest.mark.parametrize("count", [1, 5])
def test_typed_as_of_costs_three_queries_whatever_the_catalog_size(
    clock, make_model, count, django_assert_num_queries
):
    for number in range(count):
        make_model(f"acme/model-{number}")

    # The first record's date, each model's latest record, the datacenters they saw.
    with django_assert_num_queries(3):
        body = typed_catalog_as_of(NOW)

    assert len(json.loads(body)["data"]) == count
