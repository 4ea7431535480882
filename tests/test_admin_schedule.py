"""Staff schedule, see and cancel price changes in the admin, and the history shows them (issue
#15 items 1 and 3): the list, the form (prices per million, field-keyed errors, the price
guard), cancelling, the model's page, permissions, and the history pages.

The clock is driven with time_machine (``tick=False``): the moments are fixed, nothing sleeps.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db.models import F
from django.urls import reverse

from catalog.actions.schedule import SCHEDULED, ModelChanges, cancel_schedule, schedule_changes
from catalog.admin.history import changes_html
from catalog.history import HistoricalServedModel, load_previous, with_previous
from catalog.models import Modality, PriceEntry, PriceSchedule, ServedModel
from catalog.offering import stored_offering
from tests.helpers import change_url, flat

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MOMENT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
LIST_URL = reverse("admin:catalog_priceschedule_changelist")
ADD_URL = reverse("admin:catalog_priceschedule_add")
RECENT_CHANGES_URL = reverse("admin:catalog_historicalservedmodel_changelist")


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture(autouse=True)
def _stopped_clock(clock):
    return clock


@pytest.fixture
def model(make_model):
    return make_model("acme/chat")  # prompt $0.15, completion $0.6 per 1M tokens


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def prompt_change(model: ServedModel, cost: str) -> ModelChanges:
    """The model's prompt price (its text input's prompt per token) changed to ``cost``."""
    (price,) = [
        p for p in stored_offering(model).prices if (p.price_type, p.unit) == ("prompt", "token")
    ]
    return ModelChanges(model, {price.identity: replace(price, cost_usd=Decimal(cost))})


def schedule(model, moment, cost="0.0000003", user=None) -> PriceSchedule:
    (done,) = schedule_changes([prompt_change(model, cost)], moment, user=user, source="test")
    return done


def moment_data(model, day="2026-12-01", time="00:00") -> dict:
    return {"model": model.pk, "effective_at_0": day, "effective_at_1": time}


def shown_prices(client, model, **moment) -> tuple[dict, Any]:
    """The form's data as shown for the moment (every price at its value before it)."""
    response = client.post(ADD_URL, moment_data(model, **moment))
    assert response.status_code == 200
    form = response.context["prices_form"]
    assert form is not None, response.context["moment_form"].errors
    data = {**moment_data(model, **moment), "shown": form.initial["shown"]}
    data.update({field.html_name: field.value() for field in form.price_fields})
    return data, response


def schedule_via_form(client, model, **prices):
    data, _ = shown_prices(client, model)
    return client.post(ADD_URL, {**data, **prices})


def prompt_rows(model) -> list[tuple]:
    return list(
        PriceEntry.objects.filter(model=model, price_type="prompt", unit="token")
        .order_by(F("valid_from").asc(nulls_first=True))
        .values_list("cost_usd", "valid_from", "valid_until")
    )


def listed(response) -> list[int]:
    return [schedule.pk for schedule in response.context["cl"].result_list]


# --- The list ------------------------------------------------------------------------------------


def test_list_shows_upcoming_changes_soonest_first_then_the_others(
    editor_client, model, make_model, editor, clock
):
    other = make_model("acme/other")
    soon = schedule(model, NOW + timedelta(hours=1), user=editor)
    later = schedule(other, NOW + timedelta(days=2))
    cancelled = schedule(model, NOW + timedelta(days=1))
    cancel_schedule(cancelled)
    clock.move_to(NOW + timedelta(hours=2))  # ``soon`` has started

    response = editor_client.get(LIST_URL)

    assert listed(response) == [later.pk, cancelled.pk, soon.pk]
    page = response.content.decode()
    assert "2026-11-22 12:00 UTC" in page  # takes effect at, in UTC
    assert "input text prompt per token: $0.15 per 1M tokens -&gt; $0.3 per 1M tokens" in page
    assert "editor" in page
    assert "Upcoming" in page
    assert "Cancelled by" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=upcoming", ["later"]),
        ("status=started", ["soon"]),
        ("status=cancelled", ["cancelled"]),
        ("q=other", ["later"]),
        ("model", ["cancelled", "soon"]),
    ],
)
def test_list_filters_by_status_model_and_search(
    editor_client, model, make_model, clock, query, expected
):
    other = make_model("acme/other")
    made = {
        "soon": schedule(model, NOW + timedelta(hours=1)),
        "later": schedule(other, NOW + timedelta(days=2)),
        "cancelled": schedule(model, NOW + timedelta(days=1)),
    }
    cancel_schedule(made["cancelled"])
    clock.move_to(NOW + timedelta(hours=2))
    if query == "model":
        query = f"model__id__exact={model.pk}"

    response = editor_client.get(f"{LIST_URL}?{query}")

    assert sorted(listed(response)) == sorted(made[name].pk for name in expected)


@pytest.mark.parametrize("count", [1, 6])
def test_list_makes_the_same_queries_whatever_the_number_of_changes(
    editor_client, make_model, editor, django_assert_num_queries, count
):
    for number in range(count):
        schedule(make_model(f"acme/model-{number}"), MOMENT + timedelta(days=number), user=editor)
    editor_client.get(LIST_URL)  # content types, cached for the process

    # session, user, the user's permissions, their groups' permissions, the model filter's
    # choices, the filtered count, the total count, the page of changes (with their models and
    # users).
    with django_assert_num_queries(8):
        response = editor_client.get(LIST_URL)

    assert len(listed(response)) == count


# --- Scheduling ----------------------------------------------------------------------------------


def test_the_models_page_links_to_the_form_which_shows_prices_per_million(editor_client, model):
    page = editor_client.get(change_url(model)).content.decode()
    link = f"{ADD_URL}?model={model.pk}"
    assert f'href="{link}"' in page
    assert "Schedule a price change" in page

    first = editor_client.get(link)
    assert first.status_code == 200
    assert first.context["moment_form"]["model"].value() == str(model.pk)
    assert first.context["prices_form"] is None  # the moment comes first

    data, shown = shown_prices(editor_client, model)
    page = shown.content.decode()
    assert "Prompt price (USD per million tokens)" in page
    assert data["price_prompt"] == "0.15"
    assert data["price_completion"] == "0.6"
    assert data["price_image"] == "0"


def test_the_model_is_chosen_by_searching_its_id(editor_client, model, make_model):
    make_model("acme/other")
    url = reverse("admin:autocomplete")
    query = "?app_label=catalog&model_name=priceschedule&field_name=model&term=cha"

    response = editor_client.get(url + query)

    assert [result["text"] for result in response.json()["results"]] == ["acme/chat"]


def test_scheduling_through_the_form_writes_the_prices_from_the_moment(
    editor_client, model, editor, clock
):
    response = schedule_via_form(editor_client, model, price_prompt="0.3")

    done = PriceSchedule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:catalog_priceschedule_change", args=[done.pk])
    assert (done.model, done.effective_at, done.created_by, done.source) == (
        model,
        MOMENT,
        editor,
        "admin",
    )
    assert prompt_rows(model) == [
        (Decimal("0.00000015"), None, MOMENT),
        (Decimal("0.0000003"), MOMENT, None),
    ]
    assert "Scheduled for 2026-12-01 00:00 UTC on acme/chat" in messages_of(response)[0]
    clock.move_to(MOMENT)
    assert flat(ServedModel.objects.get(pk=model.pk))["price_prompt"] == Decimal("0.0000003")


def test_the_form_shows_the_prices_of_an_earlier_scheduled_change(editor_client, model):
    schedule(model, MOMENT - timedelta(days=1), cost="0.0000002")

    data, _ = shown_prices(editor_client, model)

    assert data["price_prompt"] == "0.2"


def test_a_further_price_is_shown_and_scheduled_per_million(editor_client, model):
    text_input = Modality.objects.get(model=model, direction="input", kind="text")
    PriceEntry.objects.create(
        model=model,
        modality=text_input,
        price_type="cache_write",
        unit="token",
        cost_usd=Decimal("0.000000375"),
    )
    data, shown = shown_prices(editor_client, model)
    label = "Input text cache write per token (USD per million tokens)"
    assert label in shown.content.decode()
    (name,) = [n for n in data if n.startswith("entry_")]
    assert data[name] == "0.375"

    response = editor_client.post(ADD_URL, {**data, name: "0.5"})

    assert response.status_code == 302
    rows = PriceEntry.objects.filter(model=model, price_type="cache_write", valid_from=MOMENT)
    assert [row.cost_usd for row in rows] == [Decimal("0.0000005")]
    assert (
        PriceEntry.objects.get(model=model, price_type="prompt", unit="token").valid_until is None
    )


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        ({"day": "2026-11-20", "time": "11:00"}, "is not in the future"),
        ({"day": "2026-12-01", "time": "00:00:30"}, "Prices change on the minute"),
        ({"day": "2026-12-01", "time": "25:00"}, "Enter a valid time."),
    ],
)
def test_a_moment_not_in_the_future_or_not_on_the_minute_is_refused_on_its_field(
    editor_client, model, moment, message
):
    response = editor_client.post(ADD_URL, moment_data(model, **moment))

    assert response.status_code == 200
    errors = response.context["moment_form"].errors
    assert list(errors) == ["effective_at"]
    assert message in " ".join(errors["effective_at"])
    assert not PriceSchedule.objects.exists()


def test_a_schedule_without_any_change_is_refused(editor_client, model):
    data, _ = shown_prices(editor_client, model)

    response = editor_client.post(ADD_URL, {**data, "price_prompt": "0.150"})  # the same price

    assert response.status_code == 200
    errors = response.context["prices_form"].errors
    assert errors["__all__"] == [
        "No price differs from its value before this moment: type at least one new price."
    ]
    assert not PriceSchedule.objects.exists()


def test_a_bad_price_is_refused_on_its_field(editor_client, model):
    data, _ = shown_prices(editor_client, model)

    response = editor_client.post(ADD_URL, {**data, "price_completion": "-1"})

    assert list(response.context["prices_form"].errors) == ["price_completion"]
    assert not PriceSchedule.objects.exists()


def test_a_large_change_is_held_until_confirmed(editor_client, model):
    data, _ = shown_prices(editor_client, model)
    data["price_prompt"] = "3"  # 20 times up

    held = editor_client.post(ADD_URL, data)

    assert held.status_code == 200
    assert not PriceSchedule.objects.exists()
    page = held.content.decode()
    assert "Prompt price: $0.15 per 1M tokens -&gt; $3 per 1M tokens" in page
    assert 'name="confirm_large_price_changes"' in page

    confirmed = editor_client.post(ADD_URL, {**data, "confirm_large_price_changes": "on"})

    assert confirmed.status_code == 302
    assert prompt_rows(model)[-1] == (Decimal("0.000003"), MOMENT, None)


def test_prices_typed_against_another_moment_are_shown_anew_not_scheduled(editor_client, model):
    data, _ = shown_prices(editor_client, model)

    response = editor_client.post(
        ADD_URL, {**data, "effective_at_0": "2026-12-02", "price_prompt": "0.3"}
    )

    assert response.status_code == 200
    assert not PriceSchedule.objects.exists()
    assert "they are shown anew" in " ".join(messages_of(response))
    assert response.context["prices_form"]["price_prompt"].value() == "0.15"


# --- Cancelling ----------------------------------------------------------------------------------


def test_an_upcoming_change_is_cancelled_after_a_confirmation_page(editor_client, model, editor):
    done = schedule(model, MOMENT)
    page = editor_client.get(reverse("admin:catalog_priceschedule_change", args=[done.pk]))
    cancel_url = reverse("admin:catalog_priceschedule_cancel", args=[done.pk])
    assert f'href="{cancel_url}"' in page.content.decode()

    confirmation = editor_client.get(cancel_url)
    assert "Yes, cancel this change" in confirmation.content.decode()
    assert PriceSchedule.objects.get().cancelled_at is None  # a GET changes nothing

    response = editor_client.post(cancel_url)

    assert response.status_code == 302
    done.refresh_from_db()
    assert (done.cancelled_at, done.cancelled_by) == (NOW, editor)
    assert prompt_rows(model) == [(Decimal("0.00000015"), None, None)]


def test_a_started_or_cancelled_change_cannot_be_cancelled(editor_client, model, clock):
    done = schedule(model, MOMENT)
    clock.move_to(MOMENT + timedelta(minutes=1))
    cancel_url = reverse("admin:catalog_priceschedule_cancel", args=[done.pk])
    change_page = reverse("admin:catalog_priceschedule_change", args=[done.pk])
    assert "Cancel this change" not in editor_client.get(change_page).content.decode()
    assert "can no longer be cancelled" in editor_client.get(cancel_url).content.decode()

    response = editor_client.post(cancel_url)

    assert response.status_code == 302
    assert response["Location"] == change_page
    assert messages_of(response) == [
        "The price change of 2026-12-01 00:00 UTC has started; schedule another one instead. "
        "Nothing was changed."
    ]
    done.refresh_from_db()
    assert done.cancelled_at is None
    assert prompt_rows(model)[-1] == (Decimal("0.0000003"), MOMENT, None)


def test_nothing_is_editable_or_deletable(editor_client, model):
    done = schedule(model, MOMENT)
    url = reverse("admin:catalog_priceschedule_change", args=[done.pk])

    page = editor_client.get(url)

    assert page.context["has_change_permission"] is False
    assert editor_client.post(url, {"effective_at": "2027-01-01"}).status_code == 403
    delete_url = reverse("admin:catalog_priceschedule_delete", args=[done.pk])
    assert editor_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert PriceSchedule.objects.get().effective_at == MOMENT


# --- Permissions ---------------------------------------------------------------------------------


def test_a_viewer_sees_scheduled_changes_but_cannot_schedule_or_cancel(viewer_client, model):
    done = schedule(model, MOMENT)
    cancel_url = reverse("admin:catalog_priceschedule_cancel", args=[done.pk])

    assert listed(viewer_client.get(LIST_URL)) == [done.pk]
    page = viewer_client.get(reverse("admin:catalog_priceschedule_change", args=[done.pk]))
    assert page.status_code == 200
    assert cancel_url not in page.content.decode()
    model_page = viewer_client.get(change_url(model)).content.decode()
    assert "Scheduled price changes" in model_page
    assert ADD_URL not in model_page

    assert viewer_client.get(ADD_URL).status_code == 403
    assert viewer_client.post(ADD_URL, moment_data(model)).status_code == 403
    assert viewer_client.get(cancel_url).status_code == 403
    assert viewer_client.post(cancel_url).status_code == 403
    done.refresh_from_db()
    assert done.cancelled_at is None


# --- The model's page ----------------------------------------------------------------------------


def test_the_models_page_lists_its_upcoming_and_recent_changes(
    editor_client, model, make_model, clock
):
    past = schedule(model, NOW + timedelta(hours=1), cost="0.0000002")
    second = schedule(model, MOMENT + timedelta(days=1), cost="0.0000004")
    first = schedule(model, MOMENT, cost="0.0000003")
    cancelled = schedule(model, MOMENT + timedelta(days=2), cost="0.0000005")
    cancel_schedule(cancelled)
    other = schedule(make_model("acme/other"), MOMENT)
    clock.move_to(NOW + timedelta(hours=2))

    response = editor_client.get(change_url(model))

    (upcoming, recent) = response.context["price_schedules"]["sections"]
    assert [row["pk"] for row in upcoming[1]] == [first.pk, second.pk]
    assert [row["pk"] for row in recent[1]] == [past.pk]
    page = response.content.decode()
    for shown in (first, second, past):
        assert reverse("admin:catalog_priceschedule_change", args=[shown.pk]) in page
    for hidden in (cancelled, other):
        assert reverse("admin:catalog_priceschedule_change", args=[hidden.pk]) not in page
    assert page.index("2026-12-01 00:00 UTC") < page.index("2026-12-02 00:00 UTC")


# --- The history ---------------------------------------------------------------------------------


def history_rows(client, model) -> list[tuple[str, str]]:
    """The model's history page, newest first: (changed by, changes) as text."""
    response = client.get(reverse("admin:catalog_servedmodel_history", args=[model.pk]))
    assert response.status_code == 200
    return [
        (str(entry.changed_by), re.sub(r"<[^>]+>", " ", str(entry.changes_html)))
        for entry in response.context["page_obj"]
    ]


def test_history_shows_who_scheduled_what_for_when_and_when_it_took_effect(
    editor_client, model, editor, clock
):
    schedule_via_form(editor_client, model, price_prompt="0.3")
    clock.move_to(MOMENT + timedelta(hours=1))
    model.refresh_from_db()
    model.name = "Chat, renamed"
    model.save()

    rows = history_rows(editor_client, model)

    assert len(rows) == 5
    renamed, took_effect, scheduled, linked, created = rows
    assert "Datacenters" in linked[1]  # make_model links the datacenters after the save
    assert "Name" in renamed[1]
    assert "prompt" not in renamed[1].lower()
    assert took_effect[0] == "scheduled by editor at 2026-11-20 12:00 UTC"
    assert "Took effect" in took_effect[1]
    assert "2026-12-01 00:00 UTC" in took_effect[1]
    assert "$0.15 per 1M tokens -&gt; $0.3 per 1M tokens" in took_effect[1]
    assert scheduled[0] == "editor (price change scheduled for 2026-12-01 00:00 UTC (admin))"
    assert "Scheduled a price change for 2026-12-01 00:00 UTC" in scheduled[1]
    assert "$0.15 per 1M tokens -&gt; $0.3 per 1M tokens" in scheduled[1]
    assert created[1] == "Created"


def test_history_shows_a_cancellation_and_no_took_effect_entry(editor_client, model, editor, clock):
    done = schedule(model, MOMENT, user=editor)
    clock.move_to(NOW + timedelta(hours=1))
    editor_client.post(reverse("admin:catalog_priceschedule_cancel", args=[done.pk]))
    clock.move_to(MOMENT + timedelta(days=1))

    rows = history_rows(editor_client, model)

    assert [text.split(":")[0].strip() for _, text in rows] == [
        "Cancelled the price change for 2026-12-01 00",
        "Scheduled a price change for 2026-12-01 00",
        "Datacenters",
        "Created",
    ]


def test_recent_changes_place_a_change_that_took_effect_at_its_moment(
    editor_client, model, make_model, editor, clock
):
    schedule(model, MOMENT, user=editor)
    clock.move_to(MOMENT + timedelta(hours=1))
    make_model("acme/later")

    response = editor_client.get(RECENT_CHANGES_URL)

    entries = response.context["cl"].result_list
    assert [(entry.model_id, entry.history_date) for entry in entries] == [
        ("acme/later", MOMENT + timedelta(hours=1)),  # datacenters linked
        ("acme/later", MOMENT + timedelta(hours=1)),  # created
        ("acme/chat", MOMENT),
        ("acme/chat", NOW),
        ("acme/chat", NOW),
        ("acme/chat", NOW),
    ]
    page = response.content.decode()
    assert "Scheduled prices took effect" in page
    assert "Took effect" in page
    # Filtered by who changed what, the page lists records only.
    by_editor = editor_client.get(f"{RECENT_CHANGES_URL}?by={editor.pk}")
    assert [entry.history_date for entry in by_editor.context["cl"].result_list] == [NOW]


def test_the_field_changed_filter_finds_schedulings_by_their_label(editor_client, model, editor):
    schedule(model, MOMENT, user=editor)

    response = editor_client.get(f"{RECENT_CHANGES_URL}?field={SCHEDULED}")

    assert "Scheduled price changes (scheduled or cancelled)" in response.content.decode()
    records = [e for e in response.context["cl"].result_list if hasattr(e, "history_id")]
    assert [record.changed_fields for record in records] == [[SCHEDULED]]


def test_a_price_change_that_took_effect_is_not_the_next_records_change(model, clock):
    schedule(model, MOMENT)
    clock.move_to(MOMENT + timedelta(days=1))
    model.refresh_from_db()
    model.name = "Renamed"
    model.save()
    (latest,) = with_previous(HistoricalServedModel.objects.filter(id=model.pk))[:1]
    load_previous([latest])

    assert "Prompt price" not in changes_html(latest)
    assert "Name" in changes_html(latest)


def test_a_change_that_took_effect_is_on_exactly_one_history_page(
    editor_client, model, editor, clock, monkeypatch
):
    from catalog.admin.served_models import ServedModelAdmin

    monkeypatch.setattr(ServedModelAdmin, "history_list_per_page", 2)
    schedule(model, MOMENT, user=editor)  # its record at NOW, after "created" and "datacenters"
    clock.move_to(MOMENT + timedelta(hours=1))
    for name in ("one", "two"):
        model.refresh_from_db()
        model.name = name
        model.save()
    url = reverse("admin:catalog_servedmodel_history", args=[model.pk])

    pages = [editor_client.get(f"{url}?p={number}").context["page_obj"] for number in (1, 2, 3)]

    # Records newest first, two a page: [two, one], [scheduled, datacenters], [created]; the
    # change took effect between "one" and "scheduled": at the top of the second page.
    dates = [[entry.history_date for entry in page] for page in pages]
    assert dates == [
        [MOMENT + timedelta(hours=1)] * 2,
        [MOMENT, NOW, NOW],
        [NOW],
    ]
    assert "Took effect" in str(pages[1][0].changes_html)


def test_recent_changes_list_a_change_that_took_effect_only_within_the_dates_chosen(
    editor_client, model, editor, clock
):
    schedule(model, MOMENT, user=editor)
    clock.move_to(MOMENT + timedelta(days=3))

    def between(start: datetime, end: datetime) -> str:
        # As the date filter writes them: aware moments.
        return urlencode({"history_date__gte": str(start), "history_date__lt": str(end)})

    def took_effect(query: str) -> list:
        response = editor_client.get(f"{RECENT_CHANGES_URL}?{query}")
        return [e for e in response.context["cl"].result_list if not hasattr(e, "history_id")]

    assert (
        len(
            took_effect(
                between(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
            )
        )
        == 1
    )
    assert (
        took_effect(between(datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)))
        == []
    )
    assert took_effect("q=other") == []


def test_the_staff_groups_hold_the_permissions_on_scheduled_changes(db):
    from django.contrib.auth.models import Group

    def codenames(group: str) -> set[str]:
        return set(
            Group.objects.get(name=group)
            .permissions.filter(codename__endswith="_priceschedule")
            .values_list("codename", flat=True)
        )

    assert codenames("Catalog editors") == {
        "add_priceschedule",
        "change_priceschedule",
        "view_priceschedule",
    }
    assert codenames("Catalog viewers") == {"view_priceschedule"}


def test_the_form_schedules_a_confidential_change_and_the_list_says_so(editor_client, model):
    first = editor_client.get(ADD_URL)
    assert first.context["moment_form"]["announced"].value() is True  # announced by default
    data, _ = shown_prices(editor_client, model)

    response = editor_client.post(ADD_URL, {**data, "announced": "False", "price_prompt": "0.3"})

    assert response.status_code == 302
    assert PriceSchedule.objects.get().announced is False
    listing = editor_client.get(LIST_URL)
    assert "Confidential until its moment" in listing.content.decode()
