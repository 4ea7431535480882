"""Scheduled price changes (issue 15): the write path, ``catalog.actions.schedule``, and what every
reader makes of a price's validity in time. The clock is driven with time_machine, never slept.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.actions.rows import write_offerings
from catalog.actions.schedule import (
    SCHEDULED,
    ModelChanges,
    ScheduleError,
    cancel_schedule,
    changes_between,
    describe,
    prices_before,
    schedule_changes,
)
from catalog.formats.flat.published import catalog_as_of, published_catalog
from catalog.history import HistoricalServedModel
from catalog.models import PriceEntry, PriceSchedule, ServedModel
from catalog.offering import Offering, Price, offering_snapshot, stored_offering
from tests.helpers import change_url, form_data

TEXT_IN = ("input", "text")
NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
T2 = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture
def model(make_model, clock):
    return make_model("acme/chat", price_prompt=Decimal("0.00000015"))


def prompt(model: ServedModel) -> Price:
    price = stored_offering(ServedModel.objects.get(pk=model.pk)).price(TEXT_IN, "prompt", "token")
    assert price is not None
    return price


def prompt_change(model: ServedModel, per_token: str) -> ModelChanges:
    price = prompt(model)
    return ModelChanges(model, {price.identity: replace(price, cost_usd=Decimal(per_token))})


def served_prompt() -> str:
    (record,) = json.loads(published_catalog().body)["data"]
    return record["pricing"]["prompt"]


def test_the_old_price_until_the_moment_and_the_new_one_from_it(model, clock):
    (schedule,) = schedule_changes([prompt_change(model, "0.0000002")], T1, source="test")

    published = published_catalog()
    assert json.loads(published.body)["data"][0]["pricing"]["prompt"] == "0.00000015"
    assert published.valid_until == T1
    clock.move_to(T1 - timedelta(microseconds=1))
    assert served_prompt() == "0.00000015"
    clock.move_to(T1)
    after = published_catalog()
    assert json.loads(after.body)["data"][0]["pricing"]["prompt"] == "0.0000002"
    assert after.valid_until is None
    assert after.revision == published.revision  # nothing was written at the moment
    assert schedule.changes == [
        {
            "direction": "input",
            "kind": "text",
            "price_type": "prompt",
            "unit": "token",
            "ttl_seconds": None,
            "implicit": None,
            "utc_start": None,
            "utc_end": None,
            "before": "0.00000015",
            "after": "0.0000002",
        }
    ]
    assert describe(schedule.changes[0]) == (
        "input text prompt per token: $0.15 per 1M tokens -> $0.2 per 1M tokens"
    )


def test_the_typed_representation_changes_on_time_too(model, clock):
    from catalog.formats.typed.published import published_typed_catalog

    schedule_changes([prompt_change(model, "0.0000002")], T1)
    before = published_typed_catalog()
    assert before.valid_until == T1
    assert '"cost_usd":"0.00000015"' in before.body.decode()
    clock.move_to(T1)
    after = published_typed_catalog()
    assert '"cost_usd":"0.0000002"' in after.body.decode()
    assert after.valid_until is None


def test_a_schedule_records_who_when_and_from_what_and_leaves_a_history_record(model, clock):
    staff = User.objects.create_user("ana", is_staff=True)
    (schedule,) = schedule_changes(
        [prompt_change(model, "0.0000002")], T1, user=staff, source="admin"
    )
    schedule.refresh_from_db()
    assert (schedule.created_by, schedule.created_at, schedule.source) == (staff, NOW, "admin")
    record = HistoricalServedModel.objects.filter(id=model.pk).latest("history_id")
    assert record.changed_fields == [SCHEDULED]
    assert record.history_user == staff
    assert record.history_change_reason == (
        "price change scheduled for 2026-12-01 00:00 UTC (admin)"
    )
    # The record keeps the scheduled row: the offering at the moment is rebuilt from it alone.
    at_moment = Offering.from_json(record.offering, T1).price(TEXT_IN, "prompt", "token")
    until_then = Offering.from_json(record.offering, NOW).price(TEXT_IN, "prompt", "token")
    assert at_moment is not None
    assert until_then is not None
    assert (until_then.cost_usd, at_moment.cost_usd) == (Decimal("0.00000015"), Decimal("2E-7"))


def test_as_of_gives_what_was_in_force_at_each_moment(model, clock):
    schedule_changes([prompt_change(model, "0.0000002")], T1)
    clock.move_to(T1 + timedelta(days=1))
    before = json.loads(catalog_as_of(T1 - timedelta(minutes=1)))["data"][0]["pricing"]
    after = json.loads(catalog_as_of(T1))["data"][0]["pricing"]
    assert (before["prompt"], after["prompt"]) == ("0.00000015", "0.0000002")
    assert catalog_as_of(T1 + timedelta(hours=1)) == published_catalog().body


def test_cancelling_before_the_moment_keeps_the_old_price(model, clock):
    staff = User.objects.create_user("ana", is_staff=True)
    (schedule,) = schedule_changes([prompt_change(model, "0.0000002")], T1)
    cancel_schedule(schedule, user=staff)

    schedule.refresh_from_db()
    assert (schedule.cancelled_at, schedule.cancelled_by) == (NOW, staff)
    assert published_catalog().valid_until is None
    assert list(PriceEntry.objects.values_list("valid_from", "valid_until")) == [
        (None, None),
        (None, None),
    ]
    clock.move_to(T1 + timedelta(hours=1))
    assert served_prompt() == "0.00000015"
    record = HistoricalServedModel.objects.filter(id=model.pk).latest("history_id")
    assert record.history_change_reason == "price change for 2026-12-01 00:00 UTC cancelled"
    assert record.changed_fields == [SCHEDULED]


def test_a_change_that_started_or_was_cancelled_cannot_be_cancelled(model, clock):
    (schedule,) = schedule_changes([prompt_change(model, "0.0000002")], T1)
    clock.move_to(T1)
    with pytest.raises(ScheduleError, match="has started"):
        cancel_schedule(schedule)
    assert served_prompt() == "0.0000002"
    clock.move_to(NOW)
    (other,) = schedule_changes([prompt_change(model, "0.0000003")], T2)
    cancel_schedule(other)
    with pytest.raises(ScheduleError, match="already cancelled"):
        cancel_schedule(other)


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (NOW - timedelta(minutes=1), "not in the future"),
        (NOW, "not in the future"),
        (T1.replace(second=30), "on the minute"),
        (T1.replace(microsecond=5), "on the minute"),
        (T1.replace(tzinfo=None), "time zone"),
    ],
)
def test_the_moment_is_in_the_future_on_the_minute_with_a_zone(model, moment, message):
    with pytest.raises(ScheduleError, match=message):
        schedule_changes([prompt_change(model, "0.0000002")], moment)
    assert not PriceSchedule.objects.exists()
    assert PriceEntry.objects.filter(valid_from__isnull=False).count() == 0


def test_changes_in_sequence_and_cancelling_the_first_keeps_the_second(model, clock):
    (first,) = schedule_changes([prompt_change(model, "0.0000002")], T1)
    (second,) = schedule_changes([prompt_change(model, "0.0000003")], T2)
    assert second.changes[0]["before"] == "0.0000002"  # what is in force just before T2

    def prompt_at(moment: datetime) -> str:
        clock.move_to(moment)
        return served_prompt()

    assert [prompt_at(NOW), prompt_at(T1), prompt_at(T2)] == [
        "0.00000015",
        "0.0000002",
        "0.0000003",
    ]
    clock.move_to(NOW)
    assert published_catalog().valid_until == T1
    cancel_schedule(first)
    assert published_catalog().valid_until == T2
    assert [prompt_at(NOW), prompt_at(T1), prompt_at(T2)] == [
        "0.00000015",
        "0.00000015",
        "0.0000003",
    ]


def test_cancelling_the_later_change_lets_the_earlier_run_on(model, clock):
    schedule_changes([prompt_change(model, "0.0000002")], T1)
    (second,) = schedule_changes([prompt_change(model, "0.0000003")], T2)
    cancel_schedule(second)
    clock.move_to(T2 + timedelta(days=1))
    assert served_prompt() == "0.0000002"


def test_a_second_change_at_the_same_moment_joins_the_first(model, clock):
    schedule_changes([prompt_change(model, "0.0000002")], T1)
    price = stored_offering(ServedModel.objects.get(pk=model.pk)).price(
        ("output", "text"), "completion", "token"
    )
    assert price is not None
    (schedule,) = schedule_changes(
        [
            ModelChanges(
                model,
                {
                    **prompt_change(model, "0.00000025").changes,
                    price.identity: replace(price, cost_usd=Decimal("0.000001")),
                },
            )
        ],
        T1,
    )
    assert PriceSchedule.objects.count() == 1
    assert sorted((c["price_type"], c["after"]) for c in schedule.changes) == [
        ("completion", "0.000001"),
        ("prompt", "0.00000025"),
    ]
    clock.move_to(T1)
    (record,) = json.loads(published_catalog().body)["data"]
    assert (record["pricing"]["prompt"], record["pricing"]["completion"]) == (
        "0.00000025",
        "0.000001",
    )


def test_a_price_can_be_ended_or_added_at_the_moment(model, clock):
    current = stored_offering(ServedModel.objects.get(pk=model.pk))
    cache_read = Price(TEXT_IN, "cached_prompt", "token", Decimal("0.00000005"))
    before = prices_before([model], T1)[model.pk]
    after = [p for p in current.prices if p.price_type != "completion"] + [cache_read]
    changes = changes_between(before, after)
    assert set(changes.values()) == {None, cache_read}
    schedule_changes([ModelChanges(model, changes)], T1)
    assert served_prompt() == "0.00000015"
    clock.move_to(T1)
    (record,) = json.loads(published_catalog().body)["data"]
    assert record["pricing"]["completion"] == "0"
    assert record["pricing"]["input_cache_read"] == "0.00000005"


def test_an_unchanged_price_is_no_change_and_no_changes_write_nothing(model, clock):
    before = prices_before([model], T1)[model.pk]
    assert changes_between(before, before.values()) == {}
    assert schedule_changes([ModelChanges(model, {})], T1) == []
    assert not PriceSchedule.objects.exists()


def test_a_price_of_a_modality_the_model_lacks_is_refused(model, clock):
    image = Price(("input", "image"), "prompt", "image", Decimal("0.001"))
    with pytest.raises(ScheduleError, match="no input image modality"):
        schedule_changes([ModelChanges(model, {image.identity: image})], T1)
    assert not PriceSchedule.objects.exists()


def test_a_change_that_breaks_the_offerings_rules_is_refused(model, clock):
    per_character = Price(TEXT_IN, "prompt", "character", Decimal("0.0000001"))
    rows = list(PriceEntry.objects.filter(model=model).values())
    with pytest.raises(ScheduleError, match="already has this price per token"):
        schedule_changes([ModelChanges(model, {per_character.identity: per_character})], T1)
    assert not PriceSchedule.objects.exists()
    assert list(PriceEntry.objects.filter(model=model).values()) == rows


def test_an_edit_now_keeps_the_scheduled_change(model, clock):
    schedule_changes([prompt_change(model, "0.0000002")], T1)
    edited = ServedModel.objects.get(pk=model.pk)
    price = stored_offering(edited).price(TEXT_IN, "prompt", "token")
    edited_offering = stored_offering(edited).replacing(
        prices=tuple(
            replace(p, cost_usd=Decimal("0.00000012")) if p == price else p
            for p in stored_offering(edited).prices
        )
    )
    with transaction.atomic():
        write_offerings({edited.pk: edited_offering})
    assert served_prompt() == "0.00000012"
    clock.move_to(T1)
    assert served_prompt() == "0.0000002"


def test_a_price_added_now_under_a_scheduled_identity_lasts_until_the_moment(model, clock):
    cache_read = Price(TEXT_IN, "cached_prompt", "token", Decimal("0.00000005"))
    schedule_changes([ModelChanges(model, {cache_read.identity: cache_read})], T1)
    edited = ServedModel.objects.get(pk=model.pk)
    edited_offering = stored_offering(edited).replacing(
        prices=(
            *stored_offering(edited).prices,
            replace(cache_read, cost_usd=Decimal("0.00000007")),
        )
    )
    with transaction.atomic():
        write_offerings({edited.pk: edited_offering})
    (record,) = json.loads(published_catalog().body)["data"]
    assert record["pricing"]["input_cache_read"] == "0.00000007"
    clock.move_to(T1)
    (record,) = json.loads(published_catalog().body)["data"]
    assert record["pricing"]["input_cache_read"] == "0.00000005"


def test_a_draft_s_schedule_does_not_shorten_the_published_body(make_model, clock):
    make_model("acme/published")
    draft = make_model("acme/draft", is_published=False)
    schedule_changes([prompt_change(draft, "0.0000002")], T1)
    assert published_catalog().valid_until is None


def test_the_database_refuses_overlapping_starts_and_inverted_spans(model, clock):
    schedule_changes([prompt_change(model, "0.0000002")], T1)
    scheduled = PriceEntry.objects.get(valid_from=T1)
    with (
        pytest.raises(IntegrityError, match="priceentry_one_per_identity_and_start"),
        transaction.atomic(),
    ):
        PriceEntry.objects.create(
            **{
                f.attname: getattr(scheduled, f.attname)
                for f in PriceEntry._meta.concrete_fields
                if not f.primary_key
            }
        )
    with (
        pytest.raises(IntegrityError, match="priceentry_valid_from_before_until"),
        transaction.atomic(),
    ):
        PriceEntry.objects.filter(pk=scheduled.pk).update(valid_until=T1)


def test_the_snapshot_of_a_model_without_schedules_is_what_it_always_was(model):
    snapshot = offering_snapshot(model.pk, timezone.now())
    assert all("valid_from" not in p and "valid_until" not in p for p in snapshot["prices"])
    assert Offering.from_json(snapshot) == stored_offering(ServedModel.objects.get(pk=model.pk))


# --- The model's edit page: the prices in force now ----------------------------------------
WINDOW = {"scope": "output text", "price_type": "completion", "unit": "token",
          "utc_start": 2200, "utc_end": 600}  # fmt: skip


def window_price(cost_per_token: str) -> Price:
    return Price(("output", "text"), "completion", "token", Decimal(cost_per_token),
                 utc_start=2200, utc_end=600)  # fmt: skip


def post_prices(client, model: ServedModel, rows: list[dict], initial: int = 0):
    data = {**form_data(model), "prices-TOTAL_FORMS": len(rows), "prices-INITIAL_FORMS": initial}
    for index, row in enumerate(rows):
        for name, value in {"overrides": "[]", **row}.items():
            data[f"prices-{index}-{name}"] = value
    return client.post(change_url(model), data)


def test_the_edit_page_shows_and_saves_the_prices_in_force_now(editor_client, model, clock):
    window = window_price("0.0000004")
    write = ServedModel.objects.get(pk=model.pk)
    write_offering = stored_offering(write).replacing(
        prices=(*stored_offering(write).prices, window)
    )
    with transaction.atomic():
        write_offerings({write.pk: write_offering})
    schedule_changes([ModelChanges(model, {window.identity: window_price("0.0000005")})], T1)
    current = PriceEntry.objects.get(utc_start=2200, valid_from__isnull=True)

    page = editor_client.get(change_url(model)).content.decode()
    assert 'name="prices-TOTAL_FORMS" value="1"' in page  # not the scheduled row
    response = post_prices(
        editor_client, model, [{**WINDOW, "id": current.pk, "cost_usd": "0.3"}], initial=1
    )
    assert response.status_code == 302
    current.refresh_from_db()
    assert (current.cost_usd, current.valid_until) == (Decimal("0.0000003"), T1)
    clock.move_to(T1)
    (record,) = json.loads(published_catalog().body)["data"]
    assert record["pricing"]["overrides"][0]["completion"] == "0.0000005"


def test_a_price_added_on_the_edit_page_gives_way_to_a_scheduled_one(editor_client, model, clock):
    schedule_changes(
        [ModelChanges(model, {window_price("0").identity: window_price("0.0000005")})], T1
    )
    response = post_prices(editor_client, model, [{**WINDOW, "cost_usd": "0.3"}])
    assert response.status_code == 302
    added = PriceEntry.objects.get(utc_start=2200, valid_from__isnull=True)
    assert added.valid_until == T1


def test_a_change_cancelled_elsewhere_is_not_cancelled_twice(model, clock):
    (schedule,) = schedule_changes([prompt_change(model, "0.0000002")], T1)
    seen_by_another = PriceSchedule.objects.get(pk=schedule.pk)
    cancel_schedule(schedule)
    with pytest.raises(ScheduleError, match="already cancelled"):
        cancel_schedule(seen_by_another)
    assert (
        HistoricalServedModel.objects.filter(history_change_reason__contains="cancelled").count()
        == 1
    )


# --- Announced or confidential (issue 20 item 3, issue 21 item 5) ------------------------------


def test_a_change_is_announced_unless_said_confidential(model, clock):
    (announced,) = schedule_changes([prompt_change(model, "0.0000002")], T1)
    (confidential,) = schedule_changes([prompt_change(model, "0.0000003")], T2, announced=False)

    assert PriceSchedule.objects.get(pk=announced.pk).announced is True
    assert PriceSchedule.objects.get(pk=confidential.pk).announced is False
    record = HistoricalServedModel.objects.filter(id=model.pk).latest("history_id")
    assert record.history_change_reason == (
        "confidential price change scheduled for 2026-12-15 12:00 UTC"
    )


def test_a_change_joins_one_at_the_same_moment_only_if_as_public(model, clock):
    (first,) = schedule_changes([prompt_change(model, "0.0000002")], T1, announced=False)
    rows = list(PriceEntry.objects.values_list("pk", "cost_usd", "valid_from", "valid_until"))

    with pytest.raises(ScheduleError) as raised:
        schedule_changes([prompt_change(model, "0.0000003")], T1)

    assert str(raised.value) == (
        "acme/chat: a price change for 2026-12-01 00:00 UTC is already scheduled as "
        "confidential; this one is announced. Cancel it first, or choose the same."
    )
    assert list(PriceEntry.objects.values_list("pk", "cost_usd", "valid_from", "valid_until")) == (
        rows
    )
    (joined,) = schedule_changes([prompt_change(model, "0.0000003")], T1, announced=False)
    assert joined.pk == first.pk
    assert joined.changes[0]["after"] == "0.0000003"
