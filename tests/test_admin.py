"""The staff admin: prices per million tokens, permissions, the list page, actions, preview."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse

from catalog.admin.served_models import DRAFT_NOTE
from catalog.history import HistoricalServedModel
from catalog.models import ServedModel
from tests.helpers import ADD_URL, ENDPOINT, LIST_URL, build_model, change_url, flat, form_data


def form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


def message_texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def model(make_model):
    return make_model("acme/chat", price_prompt=Decimal("0.00000015"))


# --- Prices per million tokens --------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0.15", Decimal("0.00000015")),
        ("0.0208333333333333", Decimal("0.0000000208333333333333")),
        ("2.5", Decimal("0.0000025")),
        ("0", Decimal("0")),
        ("1000", Decimal("0.001")),
    ],
)
def test_price_typed_per_million_is_stored_exactly_per_token(editor_client, model, typed, stored):
    # Some go to zero or over ten times up: confirmed (the guard is tests/test_price_guard.py).
    data = form_data(model, price_prompt=typed, confirm_large_price_changes="on")
    response = editor_client.post(change_url(model), data)

    assert response.status_code == 302
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == stored
    # Exactly, not merely close: the difference is zero at 24 decimal places.
    assert (flat(model)["price_prompt"] - stored).is_zero()
    shown = editor_client.get(change_url(model)).context["adminform"].form["price_prompt"]
    assert shown.value() == typed


def test_every_token_price_is_typed_per_million(editor_client, model):
    data = form_data(
        model,
        price_completion="0.6",
        price_input_cache_read="0.075",  # from zero
        price_request="0.0001",  # from zero
        confirm_large_price_changes="on",
    )

    editor_client.post(change_url(model), data)

    model.refresh_from_db()
    assert flat(model)["price_completion"] == Decimal("0.0000006")
    assert flat(model)["price_input_cache_read"] == Decimal("0.000000075")
    # Per request, not per token: stored as typed.
    assert flat(model)["price_request"] == Decimal("0.0001")


def test_change_page_shows_prices_per_million_in_plain_notation(editor_client, make_model):
    model = make_model(
        "acme/reranker",
        price_prompt=Decimal("0.0000000208333333333333"),
        price_completion=Decimal("0.00000015"),
        price_request=Decimal("0.0001"),
    )

    page = editor_client.get(change_url(model)).content.decode()

    assert 'name="price_prompt" value="0.0208333333333333"' in page
    assert 'name="price_completion" value="0.15"' in page
    assert 'name="price_input_cache_read" value="0"' in page
    assert 'name="price_request" value="0.0001"' in page
    assert "Prompt price (USD per million tokens)" in page


def test_saving_the_form_untouched_changes_no_field(editor_client, make_model):
    model = make_model("acme/reranker", price_prompt=Decimal("0.0000000208333333333333"))

    response = editor_client.post(change_url(model), form_data(model))

    assert response.status_code == 302
    assert LogEntry.objects.get().get_change_message() == "No fields changed."
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == Decimal("0.0000000208333333333333")


def test_implausible_price_is_refused_in_the_unit_typed(editor_client, model, settings):
    settings.CATALOG_MAX_PRICE_PER_TOKEN = Decimal("0.00005")

    response = editor_client.post(change_url(model), form_data(model, price_prompt="60"))

    assert form_errors(response)["price_prompt"] == [
        "60 USD per million tokens is above the ceiling of 50 USD per million tokens; "
        "check the price and its unit."
    ]


def test_too_many_decimal_places_are_counted_in_the_unit_typed(editor_client, model):
    nineteen_places = "0." + "1" * 19

    response = editor_client.post(change_url(model), form_data(model, price_prompt=nineteen_places))

    assert form_errors(response)["price_prompt"] == [
        "A price per million tokens has at most 18 decimal places (that is 24 per token)."
    ]


def test_eighteen_decimal_places_per_million_are_stored_exactly(editor_client, model):
    editor_client.post(change_url(model), form_data(model, price_prompt="0." + "1" * 18))

    model.refresh_from_db()
    assert flat(model)["price_prompt"] == Decimal("0.000000" + "1" * 18)


def test_editor_adds_a_model_with_prices_per_million(editor_client, model, datacenters):
    (germany,) = datacenters("DE")
    data = form_data(
        model,
        model_id="acme/new",
        price_prompt="0.2",
        price_completion="0.8",
        datacenters=[germany.pk],
    )

    response = editor_client.post(ADD_URL, data)

    assert response.status_code == 302
    added = ServedModel.objects.get(model_id="acme/new")
    assert (flat(added)["price_prompt"], flat(added)["price_completion"]) == (
        Decimal("0.0000002"),
        Decimal("0.0000008"),
    )
    assert [datacenter.country_code for datacenter in added.datacenters.all()] == ["DE"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("input_modalities", "Choose at least one input modality."),
        ("output_modalities", "Choose at least one output modality."),
    ],
)
def test_empty_modalities_are_refused_in_the_models_words(editor_client, model, field, message):
    response = editor_client.post(change_url(model), form_data(model, **{field: []}))

    assert form_errors(response) == {field: [message]}


def test_lists_are_saved_in_canonical_order(editor_client, model):
    data = form_data(
        model, input_modalities=["video", "text"], supported_features=["reasoning", "tools"]
    )

    editor_client.post(change_url(model), data)

    model.refresh_from_db()
    assert flat(model)["input_modalities"] == ["text", "video"]
    assert flat(model)["supported_features"] == ["tools", "reasoning"]


# --- Who may do what ------------------------------------------------------------------------


def test_viewer_sees_the_change_page_read_only_with_prices_per_million(viewer_client, model):
    response = viewer_client.get(change_url(model))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="price_prompt"' not in page
    assert '<div class="readonly">0.15</div>' in page
    assert 'name="_save"' not in page


def test_viewer_cannot_change_or_add(viewer_client, model):
    assert (
        viewer_client.post(change_url(model), form_data(model, price_prompt="9")).status_code == 403
    )
    assert viewer_client.get(ADD_URL).status_code == 403
    assert viewer_client.post(ADD_URL, form_data(model, model_id="acme/new")).status_code == 403
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == Decimal("0.00000015")
    assert not ServedModel.objects.filter(model_id="acme/new").exists()


def test_viewer_gets_no_bulk_actions(viewer_client, model):
    response = viewer_client.get(LIST_URL)

    assert response.status_code == 200
    assert response.context["action_form"] is None


def test_only_staff_can_sign_in(client, db):
    User.objects.create_user("customer", password="pw", is_staff=False)

    response = client.post(
        reverse("admin:login"), {"username": "customer", "password": "pw", "next": LIST_URL}
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get(LIST_URL).status_code == 302


# --- The list page --------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [5, 50])
def test_list_page_makes_the_same_queries_whatever_the_rows(
    editor_client, make_model, django_assert_num_queries, rows
):
    for index in range(rows):
        make_model(f"acme/model-{index:03}", countries=("US", "DE"))

    # session, user, the user's permissions, their groups' permissions, the datacenter filter's
    # choices, the filtered count, the total count, the page of models (with their offerings,
    # for the price columns), their datacenters.
    with django_assert_num_queries(9):
        response = editor_client.get(LIST_URL)

    assert len(response.context["cl"].result_list) == rows


def test_list_page_shows_prices_per_million_and_datacenters(editor_client, catalog):
    page = editor_client.get(LIST_URL).content.decode()

    assert '<td class="field-prompt_price">0.0208333333333333</td>' in page
    assert '<td class="field-completion_price">0.6</td>' in page
    assert '<td class="field-datacenter_codes">DE, US</td>' in page


@pytest.fixture
def listed(catalog, make_model):
    """The fixed catalog plus a model whose Hugging Face id differs from its id."""
    return [
        *catalog,
        make_model("acme/chat", hugging_face_id="upstream-org/chat-base", countries=("FR",)),
    ]


def _listed_ids(response) -> list[str]:
    return [model.model_id for model in response.context["cl"].result_list]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"quantization__exact": "int8"}, ["acme/reranker"]),
        ({"feature": "json_mode"}, ["meta-llama/Llama-3.3-70B-Instruct"]),
        (
            {"feature": "tools"},
            ["acme/chat", "acme/secret-draft", "meta-llama/Llama-3.3-70B-Instruct"],
        ),
        ({"is_published__exact": "0"}, ["acme/secret-draft"]),
        ({"deprecation_date__isempty": "0"}, ["acme/reranker"]),
        (
            {"deprecation_date__isempty": "1"},
            ["acme/chat", "acme/secret-draft", "meta-llama/Llama-3.3-70B-Instruct"],
        ),
        ({"q": "reranker"}, ["acme/reranker"]),
        ({"q": "Llama 3.3"}, ["meta-llama/Llama-3.3-70B-Instruct"]),
        ({"q": "upstream-org"}, ["acme/chat"]),
    ],
)
def test_list_filters_and_search_return_the_matching_models(editor_client, listed, query, expected):
    response = editor_client.get(LIST_URL, query)

    assert _listed_ids(response) == expected


def test_datacenter_filter_returns_the_models_served_there(editor_client, listed, datacenters):
    (germany,) = datacenters("DE")

    response = editor_client.get(LIST_URL, {"datacenters__id__exact": germany.pk})

    assert _listed_ids(response) == ["meta-llama/Llama-3.3-70B-Instruct"]


# --- Bulk actions ---------------------------------------------------------------------------


def _run_action(editor_client, action: str, models, **extra):
    data = {"action": action, "_selected_action": [model.pk for model in models], **extra}
    return editor_client.post(LIST_URL, data, follow=True)


def logged_ids() -> list[str]:
    """The models the admin log says were changed, as staff see it on each model's page."""
    return sorted(LogEntry.objects.values_list("object_repr", flat=True))


def test_publish_action_publishes_each_selected_model(editor_client, catalog):
    llama, _, draft = catalog

    response = _run_action(editor_client, "publish", [llama, draft])

    assert message_texts(response) == ["Published 1 model (1 unchanged)."]
    draft.refresh_from_db()
    assert draft.is_published
    assert LogEntry.objects.get().get_change_message() == "Changed published."
    assert logged_ids() == ["acme/secret-draft"]


def test_unpublish_action_unpublishes_each_selected_model(editor_client, catalog):
    llama, reranker, _ = catalog

    response = _run_action(editor_client, "unpublish", [llama, reranker])

    assert message_texts(response) == ["Unpublished 2 models."]
    assert not ServedModel.objects.filter(
        pk__in=[llama.pk, reranker.pk], is_published=True
    ).exists()
    assert logged_ids() == ["acme/reranker", "meta-llama/Llama-3.3-70B-Instruct"]


def test_set_deprecation_date_action_sets_the_date_from_the_action_bar(editor_client, catalog):
    llama, reranker, _ = catalog

    response = _run_action(
        editor_client, "set_deprecation_date", [llama, reranker], deprecation_date="2027-06-30"
    )

    assert message_texts(response) == ["Set the deprecation date of 2 models to 2027-06-30."]
    assert set(
        ServedModel.objects.filter(pk__in=[llama.pk, reranker.pk]).values_list(
            "deprecation_date", flat=True
        )
    ) == {date(2027, 6, 30)}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "",
            "Choose a deprecation date next to the action, then run it again. Nothing was changed.",
        ),
        ("2027-02-30", "Deprecation date: Enter a valid date. Nothing was changed."),
    ],
)
def test_set_deprecation_date_action_refuses_without_a_valid_date(
    editor_client, catalog, typed, message
):
    llama, _, _ = catalog

    response = _run_action(editor_client, "set_deprecation_date", [llama], deprecation_date=typed)

    assert message_texts(response) == [message]
    llama.refresh_from_db()
    assert llama.deprecation_date is None
    assert logged_ids() == []


def test_clear_deprecation_date_action_clears_it(editor_client, catalog):
    llama, reranker, _ = catalog

    response = _run_action(editor_client, "clear_deprecation_date", [llama, reranker])

    assert message_texts(response) == ["Cleared the deprecation date of 1 model (1 unchanged)."]
    reranker.refresh_from_db()
    assert reranker.deprecation_date is None


# --- What the public will see ---------------------------------------------------------------


def _previewed_records(response) -> list[dict]:
    """The previews on a change page: the flat record, then the typed document."""
    found = re.findall(r"<pre>(.*?)</pre>", response.content.decode(), re.DOTALL)
    assert len(found) == 2, "the page shows no preview"
    return [json.loads(html.unescape(text)) for text in found]


def _previewed_record(response) -> dict:
    return _previewed_records(response)[0]


def test_change_page_previews_the_record_the_endpoint_serves(editor_client, catalog):
    llama = catalog[0]

    response = editor_client.get(change_url(llama))

    served = editor_client.get(ENDPOINT).json()["data"]
    typed = editor_client.get(f"{ENDPOINT}?schema_version=2.4")
    flat_preview, typed_preview = _previewed_records(response)
    assert flat_preview == next(r for r in served if r["id"] == llama.model_id)
    assert typed_preview == next(d for d in typed.json()["data"] if d["id"] == llama.model_id)
    assert DRAFT_NOTE not in response.content.decode()


def test_preview_of_a_draft_says_it_is_not_public_yet(editor_client, catalog):
    draft = catalog[2]

    response = editor_client.get(change_url(draft))

    assert DRAFT_NOTE in response.content.decode()
    assert _previewed_record(response)["id"] == "acme/secret-draft"


def test_preview_shows_the_saved_record_after_a_refused_edit(editor_client, model):
    response = editor_client.post(
        change_url(model), form_data(model, name="Renamed", max_output_length=10**9)
    )

    assert "max_output_length" in form_errors(response)
    assert _previewed_record(response)["name"] == "chat"


# --- Datacenters ----------------------------------------------------------------------------


def test_datacenter_list_shows_country_names_and_model_counts(editor_client, catalog):
    response = editor_client.get(reverse("admin:catalog_datacenter_changelist"))

    page = response.content.decode()
    assert '<td class="field-country_name">Germany</td>' in page
    rows = {dc.country_code: dc.model_count for dc in response.context["cl"].result_list}
    assert rows == {"DE": 1, "US": 2}


@pytest.mark.parametrize("term", ["DE", "germ"])
def test_datacenter_search_finds_a_country_by_code_or_name(editor_client, catalog, term):
    response = editor_client.get(reverse("admin:catalog_datacenter_changelist"), {"q": term})

    assert [dc.country_code for dc in response.context["cl"].result_list] == ["DE"]


@pytest.mark.parametrize("count", [5, 500])
@pytest.mark.parametrize("action", ["publish", "set_deprecation_date"])
def test_a_bulk_action_costs_the_same_queries_for_5_or_500_models(
    editor_client, django_assert_num_queries, count, action
):
    drafts = ServedModel.objects.bulk_create(
        build_model(f"acme/draft-{number:03}", is_published=False) for number in range(count)
    )
    data = {
        "action": action,
        "_selected_action": [model.pk for model in drafts],
        "deprecation_date": "2027-06-30",
    }

    ContentType.objects.clear_cache()  # counted whatever ran before

    # session, user, the user's permissions, their groups' permissions; the changelist: the
    # datacenter filter's choices, the filtered and the total count, the filter's choices again
    # (Django builds the filters anew for the selection); SAVEPOINT, SELECT the selected models,
    # UPDATE them, INSERT their history records (with their datacenters), RELEASE; the served
    # model's content type, INSERT the admin log entries.
    with django_assert_num_queries(15):
        response = editor_client.post(LIST_URL, data)

    assert response.status_code == 302
    assert HistoricalServedModel.objects.filter(history_user__username="editor").count() == count
    assert LogEntry.objects.count() == count
