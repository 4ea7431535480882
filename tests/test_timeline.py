"""Each model's public price timeline (catalog.timeline): the spans its prices held, from the
history, and the announced changes to come; never a confidential change before its moment.

The clock is driven (time_machine): imports, schedules and publications happen at known
moments, and each timeline is compared with spans written out by hand.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from catalog.actions.publication import publish, unpublish
from catalog.actions.schedule import cancel_schedule
from catalog.models import PriceSchedule, ServedModel
from catalog.offering import Offering, Price
from catalog.timeline import (
    announced_changes,
    entries_in_force,
    public_price_timeline,
    record_prices,
)
from tests.helpers import import_prices, schedule_prices

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
M1 = T0 + timedelta(days=10)
M2 = T0 + timedelta(days=20)
CHAT = "acme/chat"


@pytest.fixture
def clock_start():
    return T0


@pytest.fixture
def chat(clock, make_model):
    """CHAT, published at T0: prompt 0.15 and completion 0.60 per million tokens."""
    return make_model(CHAT, price_prompt=Decimal("0.00000015"))


def flat(spans) -> list[tuple]:
    """Each span as (start, end, prompt, completion, upcoming): the two token prices."""
    result = []
    for span in spans:
        by_type = {
            price.price_type: str(price.cost_usd.normalize())
            for price in span.prices
            if price.price_type in ("prompt", "completion") and price.unit == "token"
        }
        result.append(
            (span.start, span.end, by_type["prompt"], by_type["completion"], span.upcoming)
        )
    return result


def test_a_price_change_ends_one_span_and_starts_the_next(chat, clock):
    clock.move_to(T1)
    import_prices(CHAT, prompt="0.0000002")
    clock.move_to(T1 + timedelta(hours=5))

    assert flat(public_price_timeline(CHAT)) == [
        (T0, T1, "1.5E-7", "6E-7", False),
        (T1, None, "2E-7", "6E-7", False),
    ]


def test_a_change_of_anything_but_prices_does_not_split_a_span(chat, clock):
    clock.move_to(T1)
    chat.name = "Chat, renamed"
    chat.save()

    assert flat(public_price_timeline(CHAT)) == [(T0, None, "1.5E-7", "6E-7", False)]


def test_an_announced_change_is_upcoming_until_its_moment_then_in_force(chat, clock):
    schedule_prices(CHAT, M1, prompt="0.0000003")

    assert flat(public_price_timeline(CHAT)) == [
        (T0, M1, "1.5E-7", "6E-7", False),
        (M1, None, "3E-7", "6E-7", True),
    ]
    clock.move_to(M1)
    assert flat(public_price_timeline(CHAT)) == [
        (T0, M1, "1.5E-7", "6E-7", False),
        (M1, None, "3E-7", "6E-7", False),
    ]


def test_a_confidential_change_appears_only_at_its_moment(chat, clock):
    schedule_prices(CHAT, M1, prompt="0.0000003", announced=False)

    assert flat(public_price_timeline(CHAT)) == [(T0, None, "1.5E-7", "6E-7", False)]
    assert announced_changes([CHAT]) == {}
    clock.move_to(M1 - timedelta(microseconds=1))
    assert flat(public_price_timeline(CHAT)) == [(T0, None, "1.5E-7", "6E-7", False)]
    clock.move_to(M1)
    assert flat(public_price_timeline(CHAT)) == [
        (T0, M1, "1.5E-7", "6E-7", False),
        (M1, None, "3E-7", "6E-7", False),
    ]


def test_an_announced_change_after_a_confidential_one_shows_none_of_its_prices(chat, clock):
    schedule_prices(CHAT, M1, prompt="0.0000003", announced=False)
    # The file for M2 builds on M1's prompt price; the announcement changes the completion.
    schedule_prices(CHAT, M2, prompt="0.0000003", completion="0.0000007")

    # The span in force runs to M2 (M1 is not public), and the announced prices keep the
    # public prompt price: the confidential one is nowhere.
    assert flat(public_price_timeline(CHAT)) == [
        (T0, M2, "1.5E-7", "6E-7", False),
        (M2, None, "1.5E-7", "7E-7", True),
    ]
    ((change,),) = [one.changes for one in announced_changes([CHAT])[CHAT]]
    assert change.before is not None
    assert change.after is not None
    assert (change.before.cost_usd, change.after.cost_usd) == (
        Decimal("0.0000006"),
        Decimal("0.0000007"),
    )
    clock.move_to(M1)
    assert flat(public_price_timeline(CHAT)) == [
        (T0, M1, "1.5E-7", "6E-7", False),
        (M1, M2, "3E-7", "6E-7", False),
        (M2, None, "3E-7", "7E-7", True),
    ]


def test_a_cancelled_change_never_appears(chat, clock):
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(T1)
    cancel_schedule(PriceSchedule.objects.get(), source="test")
    clock.move_to(M1 + timedelta(days=1))

    assert flat(public_price_timeline(CHAT)) == [(T0, None, "1.5E-7", "6E-7", False)]


def test_a_model_unpublished_then_published_again_has_a_gap(chat, clock):
    day = timedelta(days=1)
    clock.move_to(T1)
    unpublish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T1 + day)
    publish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T1 + 2 * day)
    import_prices(CHAT, prompt="0.0000002")
    clock.move_to(T1 + 3 * day)
    unpublish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T1 + 4 * day)

    assert flat(public_price_timeline(CHAT)) == [
        (T0, T1, "1.5E-7", "6E-7", False),
        (T1 + day, T1 + 2 * day, "1.5E-7", "6E-7", False),
        (T1 + 2 * day, T1 + 3 * day, "2E-7", "6E-7", False),
    ]


def test_a_draft_or_unknown_model_has_no_public_timeline(chat, make_model):
    make_model("acme/draft", is_published=False)

    assert public_price_timeline("acme/draft") is None
    assert public_price_timeline("acme/nothing") is None


def test_the_timeline_at_a_past_moment_ignores_what_came_later(chat, clock):
    clock.move_to(T1)
    import_prices(CHAT, prompt="0.0000002")

    assert flat(public_price_timeline(CHAT, now=T0 + timedelta(hours=1))) == [
        (T0, None, "1.5E-7", "6E-7", False)
    ]


def test_announced_changes_list_each_price_before_and_after(chat, clock, make_model):
    make_model("acme/other")
    schedule_prices(CHAT, M1, prompt="0.0000003")

    changes = announced_changes([CHAT, "acme/other", "acme/nothing"])

    assert list(changes) == [CHAT]
    ((announced,),) = [changes[CHAT]]
    assert announced.effective_at == M1
    assert [
        (
            c.before and c.before.price_type,
            c.before and c.before.cost_usd,
            c.after and c.after.cost_usd,
        )
        for c in announced.changes
    ] == [("prompt", Decimal("0.00000015"), Decimal("0.0000003"))]


def test_a_records_prices_are_read_as_the_offering_reads_them():
    # record_prices reads a snapshot's prices alone, for speed: every field of a price must
    # come back (a field added to Price and not read there fails here).
    price = Price(
        scope=("input", "text"),
        price_type="cached_prompt",
        unit="token",
        cost_usd=Decimal("0.00000003"),
        ttl_seconds=300,
        implicit=True,
        utc_start=100,
        utc_end=700,
        overrides=({"when": {"prompt_tokens": {"gte": 200001}}, "cost_usd": "0.00000006"},),
        utc_days=0b0011111,
        valid_from=T0,
        valid_until=T1,
    )
    unset = [f.name for f in fields(Price) if getattr(price, f.name) == f.default]
    assert unset == []

    (read,) = record_prices(Offering(scheduled=(price,)).as_json())

    assert [getattr(read, f.name) for f in fields(Price)] == [
        getattr(price, f.name) for f in fields(Price)
    ]


def test_a_lookups_shape_tells_apart_prices_that_differ_in_anything_but_their_cost():
    # A lookup's answer is written from its shape and costs: two prices differing in any other
    # field must not share a shape (a field added to Price and not in the key fails here).
    price = Price(
        scope=("input", "text"),
        price_type="cached_prompt",
        unit="token",
        cost_usd=Decimal("0.00000003"),
        ttl_seconds=300,
        implicit=True,
        utc_start=100,
        utc_end=700,
        overrides=({"when": {"prompt_tokens": {"gte": 200001}}, "cost_usd": "0.00000006"},),
        utc_days=0b0011111,
    )
    others: dict[str, Any] = {
        "scope": ("input", "image"), "price_type": "prompt", "unit": "image", "ttl_seconds": 3600,
        "implicit": False, "utc_start": 200, "utc_end": 800, "utc_days": 0b1,
        "overrides": ({"when": {"prompt_tokens": {"gte": 1}}, "cost_usd": "0.00000006"},),
    }  # fmt: skip
    assert set(others) == {f.name for f in fields(Price)} - {
        "cost_usd",
        "valid_from",
        "valid_until",
    }

    def shape(price: Price):
        return entries_in_force(Offering(prices=(price,)).as_json()["prices"], T1).shape

    shapes = {shape(price)} | {
        shape(replace(price, **{name: value})) for name, value in others.items()
    }
    assert len(shapes) == 1 + len(others)
    assert shape(replace(price, cost_usd=Decimal("0.1"))) is shape(price)
    assert entries_in_force(Offering(prices=(price,)).as_json()["prices"], T1).prices == (price,)
