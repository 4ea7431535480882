"""Staff edit the whole offering in the admin (issue 13): modality details, further prices and
capacities as inlines beside the simple page of five prices, and the history shows each change."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from catalog.actions.served_models import save_model
from catalog.admin.history import ChangeLine, offering_changes
from catalog.formats.typed.published import published_typed_catalog
from catalog.forms import row_scope
from catalog.history import HistoricalServedModel
from catalog.models import CapacityEntry, Modality, PriceEntry, ServedModel
from catalog.offering import (
    ROOT,
    Capacity,
    InvalidOffering,
    ModalitySpec,
    Offering,
    Price,
    stored_offering,
)
from tests.helpers import (
    assert_valid_typed,
    change_url,
    flat,
    form_data,
    modality_row,
    records_of,
    with_rows,
)

RECENT_CHANGES_URL = reverse("admin:catalog_historicalservedmodel_changelist")

WINDOW_PRICE = {
    "scope": "output text",
    "price_type": "completion",
    "unit": "token",
    "cost_usd": "0.6",
    "utc_start": "2200",
    "utc_end": "600",
}


def formset_errors(response, prefix: str) -> list[dict]:
    assert response.status_code == 200, "the page was accepted"
    for formset in response.context["inline_admin_formsets"]:
        if formset.formset.prefix == prefix:
            return formset.formset.errors
    raise AssertionError(f"no inline {prefix}")


def non_form_errors(response, prefix: str) -> list[str]:
    for formset in response.context["inline_admin_formsets"]:
        if formset.formset.prefix == prefix:
            return list(formset.formset.non_form_errors())
    raise AssertionError(f"no inline {prefix}")


@pytest.fixture
def model(make_model):
    return make_model("acme/chat", price_prompt=Decimal("0.00000015"))


def further_prices(model: ServedModel) -> list[PriceEntry]:
    """The prices of ``model`` other than its text prompt and completion per token."""
    return list(
        PriceEntry.objects.filter(model=model)
        .exclude(
            modality__kind="text",
            price_type__in=["prompt", "completion"],
            unit="token",
            utc_start__isnull=True,
        )
        .select_related("modality")
    )


# --- Further prices -------------------------------------------------------------------------


def test_a_further_price_typed_per_million_is_stored_exactly_per_token(editor_client, model):
    row = {"scope": "input text", "price_type": "cache_write", "unit": "token"}
    data = with_rows(
        form_data(model), "prices", [{**row, "cost_usd": "3.75", "ttl_seconds": "300"}]
    )

    response = editor_client.post(change_url(model), data)

    assert response.status_code == 302
    (price,) = further_prices(model)
    assert (row_scope(price)[1], price.price_type, price.ttl_seconds) == (
        "text",
        "cache_write",
        300,
    )
    assert price.cost_usd == Decimal("0.00000375")
    page = editor_client.get(change_url(model)).content.decode()
    assert 'name="prices-0-cost_usd" value="3.75"' in page


def test_a_price_per_image_is_stored_as_typed(editor_client, model):
    data = form_data(model, input_modalities=["text", "image"])
    row = {"scope": "input image", "price_type": "prompt", "unit": "megapixel", "cost_usd": "0.002"}

    response = editor_client.post(change_url(model), with_rows(data, "prices", [row]))

    assert response.status_code == 302
    (price,) = further_prices(model)
    assert (row_scope(price)[1], price.unit, price.cost_usd) == (
        "image",
        "megapixel",
        Decimal("0.002"),
    )


def test_a_second_unit_for_one_price_type_in_a_modality_is_refused(editor_client, model):
    # The typed format tells a modality's prices apart by type and qualifiers, not by unit.
    data = form_data(model, input_modalities=["text", "image"])
    rows = [
        {"scope": "input image", "price_type": "prompt", "unit": "megapixel", "cost_usd": "0.002"},
        {"scope": "input image", "price_type": "prompt", "unit": "token", "cost_usd": "1"},
    ]

    response = editor_client.post(change_url(model), with_rows(data, "prices", rows))

    assert [errors.get("unit") for errors in formset_errors(response, "prices")] == [
        [
            "The model already has this price per token (input image prompt per token): a "
            "price type takes one unit in a modality."
        ],
        [
            "The model already has this price per megapixel (input image prompt per "
            "megapixel): a price type takes one unit in a modality."
        ],
    ]
    assert further_prices(model) == []


def test_a_window_price_is_saved_beside_the_base_price_it_leaves_alone(editor_client, model):
    response = editor_client.post(
        change_url(model), with_rows(form_data(model), "prices", [WINDOW_PRICE])
    )

    assert response.status_code == 302
    (price,) = further_prices(model)
    assert (price.utc_start, price.utc_end, price.cost_usd) == (2200, 600, Decimal("0.0000006"))
    model.refresh_from_db()
    # The base completion price is still the one on the main form, and the public record's.
    assert flat(model)["price_completion"] == Decimal("0.0000006")


def test_the_inline_never_shows_the_five_prices_of_the_main_form(editor_client, model):
    editor_client.post(change_url(model), with_rows(form_data(model), "prices", [WINDOW_PRICE]))

    response = editor_client.get(change_url(model))

    (formset,) = [
        f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "prices"
    ]
    assert [form.instance.utc_start for form in formset.initial_forms] == [2200]


def test_an_inline_price_that_is_one_of_the_five_is_refused(editor_client, model):
    row = {"scope": "input text", "price_type": "prompt", "unit": "token", "cost_usd": "9"}

    response = editor_client.post(change_url(model), with_rows(form_data(model), "prices", [row]))

    assert formset_errors(response, "prices") == [
        {
            "__all__": [
                "This is the Prompt price (USD per million tokens) of the main form; change it "
                "there."
            ]
        }
    ]
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == Decimal("0.00000015")


def test_a_further_price_may_not_take_the_place_of_a_flat_price(editor_client, model):
    # The flat cached input price is the cache read without a lifetime, else the shortest one.
    text_input = modality_row(model, "input", "text")
    PriceEntry.objects.create(
        model=model,
        modality=text_input,
        price_type="cached_prompt",
        unit="token",
        cost_usd=Decimal("0.00000003"),
        ttl_seconds=300,
    )
    row = {"scope": "input text", "price_type": "cached_prompt", "unit": "token"}

    response = editor_client.post(
        change_url(model), with_rows(form_data(model), "prices", [{**row, "cost_usd": "0.01"}])
    )

    assert non_form_errors(response, "prices") == [
        "These rows would change the Cached input price (USD per million tokens) set on the "
        "main form; change it there."
    ]
    assert PriceEntry.objects.filter(model=model, price_type="cached_prompt").count() == 1


def test_a_scope_the_model_does_not_have_is_refused(editor_client, model):
    row = {"scope": "input image", "price_type": "prompt", "unit": "image", "cost_usd": "0.001"}
    data = with_rows(form_data(model, name="Renamed"), "prices", [row])

    response = editor_client.post(change_url(model), data)

    assert formset_errors(response, "prices") == [
        {"scope": ["The model has no input image modality: tick it above, or delete this row."]}
    ]
    model.refresh_from_db()
    assert (model.name, further_prices(model)) == ("chat", [])


def test_a_scope_ticked_in_the_same_save_is_accepted(editor_client, model):
    data = form_data(model, input_modalities=["text", "audio"])
    row = {"scope": "input audio", "price_type": "prompt", "unit": "second", "cost_usd": "0.0001"}

    response = editor_client.post(change_url(model), with_rows(data, "prices", [row]))

    assert response.status_code == 302
    (price,) = further_prices(model)
    assert (row_scope(price)[1], price.unit) == ("audio", "second")


@pytest.mark.parametrize(
    ("row", "errors"),
    [
        (
            {"scope": "input text", "price_type": "completion", "unit": "token"},
            {"price_type": ["An input modality has prompt, cached_prompt, cache_write entries."]},
        ),
        (
            {"scope": "request", "price_type": "web_search", "unit": "request"},
            {"unit": ["A web_search entry of the request is per search."]},
        ),
        (
            {**WINDOW_PRICE, "utc_end": ""},
            {"utc_end": ["A window needs both its start and its end."]},
        ),
        (
            {**WINDOW_PRICE, "utc_start": "2260"},
            {"utc_start": ["A UTC clock time written HHMM, 0 to 2359 (2200 is 22:00)."]},
        ),
        (
            {
                "scope": "output text",
                "price_type": "completion",
                "unit": "token",
                "ttl_seconds": "60",
            },
            {"ttl_seconds": ["Only cache prices have this."]},
        ),
        (
            {**WINDOW_PRICE, "cost_usd": "0." + "1" * 19},
            {"cost_usd": ["A price per million tokens has at most 18 decimal places."]},
        ),
    ],
)
def test_a_price_row_that_does_not_fit_its_scope_is_refused_by_field(
    editor_client, model, row, errors
):
    data = with_rows(form_data(model), "prices", [{"cost_usd": "1", **row}])

    response = editor_client.post(change_url(model), data)

    assert formset_errors(response, "prices") == [errors]
    assert further_prices(model) == []


def test_an_implausible_further_price_is_refused_in_the_unit_typed(editor_client, model, settings):
    settings.CATALOG_MAX_PRICE_PER_TOKEN = Decimal("0.00005")
    data = with_rows(form_data(model), "prices", [{**WINDOW_PRICE, "cost_usd": "60"}])

    response = editor_client.post(change_url(model), data)

    assert formset_errors(response, "prices") == [
        {
            "cost_usd": [
                "60 USD per million tokens is above the ceiling of 50 USD per million tokens; "
                "check the price and its unit."
            ]
        }
    ]


def test_overrides_are_validated_as_the_official_pricing_overrides(editor_client, model):
    overrides = [{"when": {"prompt_tokens": {"gte": "many"}}, "cost_usd": "0.0000003"}]
    data = with_rows(
        form_data(model), "prices", [{**WINDOW_PRICE, "overrides": json.dumps(overrides)}]
    )

    response = editor_client.post(change_url(model), data)

    (errors,) = formset_errors(response, "prices")
    assert list(errors) == ["overrides"]
    assert errors["overrides"][0].startswith("[0].when")
    assert further_prices(model) == []


def test_a_further_price_is_changed_and_deleted_in_place(editor_client, model):
    editor_client.post(change_url(model), with_rows(form_data(model), "prices", [WINDOW_PRICE]))
    (price,) = further_prices(model)
    stored = {**WINDOW_PRICE, "id": price.pk, "model": model.pk}

    editor_client.post(
        change_url(model),
        with_rows(form_data(model), "prices", [{**stored, "cost_usd": "0.4"}], initial=1),
    )
    (changed,) = further_prices(model)
    # The admin log names the row in plain notation, per token as stored.
    assert LogEntry.objects.latest("pk").get_change_message() == (
        "Changed Cost (USD) for price “completion per token: 0.0000004”."
    )
    editor_client.post(
        change_url(model),
        with_rows(form_data(model), "prices", [{**stored, "DELETE": "on"}], initial=1),
    )

    assert (changed.pk, changed.cost_usd) == (price.pk, Decimal("0.0000004"))
    assert further_prices(model) == []


def test_a_new_model_is_added_with_a_further_price_in_one_save(editor_client, model):
    data = with_rows(form_data(model, model_id="acme/new"), "prices", [WINDOW_PRICE])

    response = editor_client.post(reverse("admin:catalog_servedmodel_add"), data)

    assert response.status_code == 302
    added = ServedModel.objects.get(model_id="acme/new")
    ((price,), (created,)) = further_prices(added), records_of(added)
    assert (price.utc_start, price.cost_usd) == (2200, Decimal("0.0000006"))
    assert created.history_type == "+"
    assert Offering.from_json(created.offering) == Offering.of_rows(added)


# --- Capacities -----------------------------------------------------------------------------


def test_a_capacity_is_added_and_checked(editor_client, model):
    capacity = {"scope": "input text", "capacity_type": "prompt", "unit": "token", "per": "minute"}
    concurrency = {
        "scope": "request",
        "capacity_type": "concurrency",
        "unit": "request",
        "per": "hour",
    }

    refused = editor_client.post(
        change_url(model),
        with_rows(form_data(model), "capacities", [{**concurrency, "value": "8"}]),
    )
    accepted = editor_client.post(
        change_url(model),
        with_rows(
            form_data(model),
            "capacities",
            [{**capacity, "value": "2000000"}, {**concurrency, "per": "", "value": "8"}],
        ),
    )

    assert formset_errors(refused, "capacities") == [{"per": ["Concurrency has no window."]}]
    assert accepted.status_code == 302
    assert sorted(
        CapacityEntry.objects.filter(model=model).values_list("capacity_type", "per", "value")
    ) == [("concurrency", None, 8), ("prompt", "minute", 2000000)]


# The official schema's largest integer (JSON numbers are doubles): a capacity's column holds
# up to 2^63 - 1, the typed body says at most this.
TYPED_MAX_INTEGER = 2**53 - 1
CAPACITY_RANGE = (
    "A whole number from 1 to 9007199254740991 (2^53 - 1), the most the typed format takes."
)


def test_a_capacity_above_the_typed_formats_largest_integer_is_refused(editor_client, model):
    capacity = {"scope": "input text", "capacity_type": "prompt", "unit": "token", "per": "minute"}
    records = len(records_of(model))

    refused = editor_client.post(
        change_url(model),
        with_rows(
            form_data(model, name="Renamed"),
            "capacities",
            [{**capacity, "value": str(TYPED_MAX_INTEGER + 1)}],
        ),
    )

    assert formset_errors(refused, "capacities") == [{"value": [CAPACITY_RANGE]}]
    model.refresh_from_db()
    assert (model.name, len(records_of(model))) == ("chat", records)
    assert not CapacityEntry.objects.filter(model=model).exists()
    accepted = editor_client.post(
        change_url(model),
        with_rows(form_data(model), "capacities", [{**capacity, "value": str(TYPED_MAX_INTEGER)}]),
    )
    assert accepted.status_code == 302
    (document,) = assert_valid_typed(published_typed_catalog().body)
    assert document["input_modalities"][0]["capacity"] == [
        {"type": "prompt", "unit": "token", "per": "minute", "value": TYPED_MAX_INTEGER}
    ]


def test_save_model_refuses_a_capacity_above_the_typed_formats_largest_integer(model):
    offering = stored_offering(model)
    too_large = Capacity(("input", "text"), "prompt", "token", "minute", TYPED_MAX_INTEGER + 1)

    with pytest.raises(InvalidOffering) as caught:
        save_model(model, offering.replacing(capacities=(too_large,)))

    assert str(caught.value) == (
        "The offering of acme/chat is not valid: input text prompt capacity per token: "
        f"{CAPACITY_RANGE}"
    )
    assert not CapacityEntry.objects.filter(model=model).exists()
    assert_valid_typed(published_typed_catalog().body)


# --- Modality details and descriptors -------------------------------------------------------


def modality_rows(model: ServedModel, **changes: dict) -> list[dict]:
    """The modality forms as the page posts them untouched; ``changes`` by "input_text"."""
    rows = []
    for row in Modality.objects.filter(model=model):
        shown = {
            name: descriptor
            for name, descriptor in row.supported_parameters.items()
            if descriptor not in ({"type": "unknown"}, {"type": "boolean"})
        }
        rows.append(
            {
                "id": row.pk,
                "model": model.pk,
                "supported_inputs": json.dumps(row.supported_inputs),
                "supported_parameters": json.dumps(shown),
                "passthrough_parameters": json.dumps(row.passthrough_parameters),
                "streaming": {None: "unknown", True: "true", False: "false"}[row.streaming],
                **changes.get(f"{row.direction}_{row.kind}", {}),
            }
        )
    return rows


def post_modalities(client, model, data=None, **changes):
    rows = modality_rows(model, **changes)
    data = with_rows(data or form_data(model), "modalities", rows, initial=len(rows))
    return client.post(change_url(model), data)


def test_a_descriptor_with_details_is_kept_beside_the_ticked_names(editor_client, model):
    temperature = {"type": "range", "min": 0, "max": 2, "default": 1}
    descriptors = {"temperature": temperature, "parallel_tool_calls": {"type": "boolean"}}

    response = post_modalities(
        editor_client,
        model,
        output_text={"supported_parameters": json.dumps(descriptors), "streaming": "true"},
    )

    assert response.status_code == 302
    text_output = modality_row(model, "output", "text")
    assert text_output.supported_parameters == {
        "temperature": temperature,
        "parallel_tool_calls": {"type": "boolean"},
        "top_p": {"type": "unknown"},
        "tools": {"type": "boolean"},
    }
    assert text_output.streaming is True
    model.refresh_from_db()
    # The flat lists say the same as before: the ticks are unchanged.
    assert flat(model)["supported_sampling_parameters"] == ["temperature", "top_p"]
    assert flat(model)["supported_features"] == ["tools"]


def test_a_bad_descriptor_is_refused_by_field_and_nothing_is_saved(editor_client, model):
    bad = {"temperature": {"type": "range", "min": "zero", "max": 2}}
    records = len(records_of(model))

    response = post_modalities(
        editor_client,
        model,
        form_data(model, name="Renamed", price_prompt="0.2"),
        output_text={"supported_parameters": json.dumps(bad)},
    )

    errors = formset_errors(response, "modalities")
    assert errors[0] == {}
    assert list(errors[1]) == ["supported_parameters"]
    assert errors[1]["supported_parameters"][0].startswith("temperature")
    model.refresh_from_db()
    assert (model.name, flat(model)["price_prompt"]) == ("chat", Decimal("0.00000015"))
    assert len(records_of(model)) == records


def test_a_descriptor_of_an_unticked_name_is_refused(editor_client, model):
    response = post_modalities(
        editor_client,
        model,
        output_text={"supported_parameters": json.dumps({"seed": {"type": "integer"}})},
    )

    assert formset_errors(response, "modalities")[1] == {
        "supported_parameters": [
            "seed: tick it under Sampling parameters or Features above, or remove it here."
        ]
    }


def test_supported_inputs_are_for_inputs_only(editor_client, model):
    limits = json.dumps({"max_context_length": 131072})

    response = post_modalities(editor_client, model, output_text={"supported_inputs": limits})

    assert formset_errors(response, "modalities")[1] == {
        "supported_inputs": ["Only an input modality has supported inputs."]
    }


# Each input kind takes the supported_inputs keys of its own variant of the official schema's
# InputModality; the typed body says what is stored, so what the schema refuses is refused here.
@pytest.mark.parametrize(
    ("kind", "supported_inputs", "message"),
    [
        ("text", {"foo": 1}, "unknown key: 'foo'"),
        ("text", {"sources": {"type": "enum", "values": ["url"]}}, "unknown key: 'sources'"),
        (
            "text",
            {"max_prompt_length": {"value": 0}},
            "max_prompt_length.value: 0 is less than the minimum of 1",
        ),
        ("text", {"max_context_length": {"unit": "tokens"}}, "max_context_length.unit: 'tokens'"),
        ("image", {"max_prompt_length": {"value": 8}}, "unknown key: 'max_prompt_length'"),
        ("image", {"sources": ["url"]}, "sources: ['url'] is not of type 'object'"),
        (
            "image",
            {"max_content_size_bytes": {"value": 2**53}},
            "max_content_size_bytes.value: 9007199254740992 is greater than the maximum of "
            "9007199254740991",
        ),
        ("text", {"max_context_length": 131072}, "max_context_length: 131072 is not of type"),
        ("text", ["max_prompt_length"], "['max_prompt_length'] is not of type 'object'"),
    ],
)
def test_supported_inputs_a_kind_does_not_take_are_refused_by_field(
    editor_client, make_model, kind, supported_inputs, message
):
    model = make_model("acme/seer", input_modalities=["text", "image"])
    before = modality_row(model, "input", kind).supported_inputs
    records = len(records_of(model))

    response = post_modalities(
        editor_client,
        model,
        form_data(model, name="Renamed"),
        **{f"input_{kind}": {"supported_inputs": json.dumps(supported_inputs)}},
    )

    refused = [errors for errors in formset_errors(response, "modalities") if errors]
    assert len(refused) == 1
    assert list(refused[0]) == ["supported_inputs"]
    assert refused[0]["supported_inputs"][0].startswith(message)
    model.refresh_from_db()
    assert (model.name, len(records_of(model))) == ("seer", records)
    assert modality_row(model, "input", kind).supported_inputs == before
    assert_valid_typed(published_typed_catalog().body)


@pytest.mark.parametrize(
    ("kind", "supported_inputs"),
    [
        (
            "image",
            {
                "sources": {"type": "enum", "values": ["url", "base64"]},
                "max_content_size_bytes": {"value": 2**53 - 1, "unit": "byte"},
            },
        ),
        ("text", {"max_prompt_length": {"value": 4096, "unit": "token"}}),
        # The text input's max_context_length is the context length column when rendered
        # (a stored unit kept): a limit without its value, or with another, says it validly.
        ("text", {"max_context_length": {"unit": "token"}}),
        ("text", {"max_context_length": {"value": 1}}),
    ],
)
def test_supported_inputs_of_its_kind_are_saved_and_rendered_validly(
    editor_client, make_model, kind, supported_inputs
):
    model = make_model("acme/seer", input_modalities=["text", "image"])

    response = post_modalities(
        editor_client,
        model,
        **{f"input_{kind}": {"supported_inputs": json.dumps(supported_inputs)}},
    )

    assert response.status_code == 302
    assert modality_row(model, "input", kind).supported_inputs == supported_inputs
    (document,) = assert_valid_typed(published_typed_catalog().body)
    (rendered,) = [m for m in document["input_modalities"] if m["type"] == kind]
    if kind == "text":
        limit = {**supported_inputs.get("max_context_length", {}), "value": model.context_length}
        assert rendered["supported_inputs"] == {**supported_inputs, "max_context_length": limit}
    else:
        assert rendered["supported_inputs"] == supported_inputs


def test_a_context_length_the_main_form_refuses_is_named_there_only(editor_client, model):
    response = post_modalities(editor_client, model, form_data(model, context_length="0"))

    assert list(response.context["adminform"].form.errors) == [
        "context_length",
        "max_output_length",
    ]
    assert not any(formset_errors(response, "modalities"))


def test_unticking_a_modality_drops_its_details_without_an_error(editor_client, model):
    data = form_data(model, input_modalities=["text", "image"])
    editor_client.post(change_url(model), data)
    sources = json.dumps({"sources": ["url"]})

    response = post_modalities(
        editor_client,
        model,
        form_data(model, input_modalities=["text"]),
        input_image={"supported_inputs": sources},
    )

    assert response.status_code == 302
    assert not Modality.objects.filter(model=model, kind="image").exists()


# --- The model's own fields -----------------------------------------------------------------


def test_the_model_level_fields_are_saved(editor_client, model):
    data = form_data(
        model,
        description="A chat model.",
        is_free="on",
        discount_to_user="0.1",
        openrouter_slug="acme/chat",
        tokenizer="Llama3",
        deployment_region="us-east-1",
        compliance=json.dumps({"zdr": True}),
        deprecation_date="2027-01-31",
        deprecation_hour="9",
    )
    del data["is_ready"]

    response = editor_client.post(change_url(model), data)

    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.description, model.is_ready, model.is_free, model.discount_to_user) == (
        "A chat model.",
        False,
        True,
        Decimal("0.1"),
    )
    assert (model.tokenizer, model.compliance, model.deprecation_hour) == (
        "Llama3",
        {"zdr": True},
        9,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("compliance", {"zdr": "yes"}),
        ("passthrough_parameters", {"seed": {"type": "dice"}}),
    ],
)
def test_typed_json_fields_are_refused_by_field(editor_client, model, field, value):
    response = editor_client.post(change_url(model), form_data(model, **{field: json.dumps(value)}))

    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert errors[field][0].startswith("zdr" if field == "compliance" else "seed")


def test_the_page_marks_what_only_the_typed_format_carries(editor_client, model):
    page = editor_client.get(change_url(model)).content.decode()

    assert "Carried only by the typed format (schema 2.4)" in page
    assert "Further prices (typed format only)" in page
    assert "Capacity (typed format only)" in page


# --- Who may do what ------------------------------------------------------------------------


@pytest.fixture
def window_price(model):
    return PriceEntry.objects.create(
        model=model,
        modality=modality_row(model, "output", "text"),
        price_type="completion",
        unit="token",
        cost_usd=Decimal("0.0000006"),
        utc_start=2200,
        utc_end=600,
    )


def test_viewer_sees_the_inlines_read_only_per_million(viewer_client, model, window_price):
    page = viewer_client.get(change_url(model)).content.decode()

    assert "0.6 per 1M tokens" in page
    assert 'name="prices-0-cost_usd"' not in page
    assert 'name="modalities-0-supported_parameters"' not in page


def test_viewer_cannot_post_inline_changes(viewer_client, model, window_price):
    stored = {**WINDOW_PRICE, "id": window_price.pk, "model": model.pk, "cost_usd": "9"}
    data = with_rows(form_data(model), "prices", [stored], initial=1)
    data = with_rows(
        data,
        "capacities",
        [
            {
                "scope": "request",
                "capacity_type": "concurrency",
                "unit": "request",
                "per": "",
                "value": "1",
            }
        ],
    )

    response = viewer_client.post(change_url(model), data)

    assert response.status_code == 403
    window_price.refresh_from_db()
    assert window_price.cost_usd == Decimal("0.0000006")
    assert not CapacityEntry.objects.filter(model=model).exists()


# --- History --------------------------------------------------------------------------------


def test_a_save_of_the_form_and_inlines_is_one_record_with_the_whole_offering(editor_client, model):
    before = len(records_of(model))
    data = with_rows(form_data(model, price_prompt="0.2"), "prices", [WINDOW_PRICE])

    editor_client.post(change_url(model), data)

    records = records_of(model)
    assert len(records) == before + 1
    snapshot = Offering.from_json(records[-1].offering)
    assert snapshot == Offering.of_rows(ServedModel.objects.get(pk=model.pk))
    assert {(p.price_type, p.utc_start, p.cost_usd) for p in snapshot.prices} == {
        ("prompt", None, Decimal("0.0000002")),
        ("completion", None, Decimal("0.0000006")),
        ("completion", 2200, Decimal("0.0000006")),
    }


def test_an_inline_only_save_is_one_record(editor_client, model):
    before = len(records_of(model))

    editor_client.post(change_url(model), with_rows(form_data(model), "prices", [WINDOW_PRICE]))

    assert len(records_of(model)) == before + 1


def test_history_shows_an_inline_price_change_per_million(editor_client, model):
    editor_client.post(change_url(model), with_rows(form_data(model), "prices", [WINDOW_PRICE]))
    (price,) = further_prices(model)
    stored = {**WINDOW_PRICE, "id": price.pk, "model": model.pk}
    editor_client.post(
        change_url(model),
        with_rows(form_data(model), "prices", [{**stored, "cost_usd": "0.4"}], initial=1),
    )

    history = editor_client.get(reverse("admin:catalog_servedmodel_history", args=[model.pk]))
    recent = editor_client.get(RECENT_CHANGES_URL)

    line = (
        "<li><strong>output text completion per token (window 22:00-06:00)</strong>: "
        "$0.6 per 1M tokens &rarr; $0.4 per 1M tokens</li>"
    )
    added = (
        "<li><strong>output text completion per token (window 22:00-06:00)</strong>: "
        "none &rarr; $0.6 per 1M tokens</li>"
    )
    for page in (history.content.decode(), recent.content.decode()):
        assert line in page
        assert added in page


@pytest.mark.parametrize("edits", [1, 8])
def test_history_page_makes_the_same_queries_whatever_the_price_changes(
    editor_client, model, window_price, django_assert_num_queries, edits
):
    model.refresh_from_db()  # with the window price
    for number in range(edits):
        offering = stored_offering(model)
        prices = tuple(
            replace(price, cost_usd=Decimal(number + 1).scaleb(-7)) if price.windowed else price
            for price in offering.prices
        )
        model_offering = offering.replacing(prices=prices)
        save_model(model, model_offering)
    url = reverse("admin:catalog_servedmodel_history", args=[model.pk])
    editor_client.get(url)  # the user model's content type, cached for the process

    # As tests/test_history.py counts: the offerings come with the records, no query each.
    with django_assert_num_queries(11):
        response = editor_client.get(url)

    page = response.content.decode()
    # Each edit of the window price, and the datacenters set when the model was made.
    assert page.count("&rarr;") == edits + 1
    # Written with the ORM, the window price had no record before the first edit.
    assert "(window 22:00-06:00)</strong>: none &rarr; $0.1 per 1M tokens" in page


@pytest.mark.parametrize("rows", [1, 10])
def test_change_page_makes_the_same_queries_whatever_the_rows(
    editor_client, model, django_assert_num_queries, rows
):
    text_output = modality_row(model, "output", "text")
    PriceEntry.objects.bulk_create(
        PriceEntry(
            model=model,
            modality=text_output,
            price_type="completion",
            unit="token",
            cost_usd=Decimal("0.0000004"),
            utc_start=100 * hour,
            utc_end=100 * hour + 30,
        )
        for hour in range(rows)
    )
    CapacityEntry.objects.bulk_create(
        CapacityEntry(
            model=model,
            modality=text_output,
            capacity_type="completion",
            unit="token",
            per=per,
            value=1000,
        )
        for per in ("minute", "hour", "day")[: min(rows, 3)]
    )
    editor_client.get(change_url(model))  # content types, cached for the process

    # session, user, the user's permissions, their groups' permissions, the model (with its
    # offering), the datacenters' choices, the model's datacenters, the modality rows, the
    # price rows (with their modalities), the further ones among them, the capacity rows (with
    # theirs), the preview's model (with its offering) and its datacenters, its scheduled price
    # changes.
    with django_assert_num_queries(14):
        response = editor_client.get(change_url(model))

    assert response.status_code == 200
    assert response.content.decode().count("0.4 per 1M") == 0  # typed, not shown as text
    assert response.content.decode().count('value="0.4"') == rows


# --- The diff of two offerings --------------------------------------------------------------

TEXT_IN = ModalitySpec("input", "text")
TEXT_OUT = ModalitySpec("output", "text", supported_parameters={"tools": {"type": "boolean"}})
BASE = (
    Price(("input", "text"), "prompt", "token", Decimal("0.00000015")),
    Price(("output", "text"), "completion", "token", Decimal("0.0000006")),
)


def offering(*prices: Price, capacities=(), modalities=(TEXT_IN, TEXT_OUT)) -> Offering:
    return Offering(modalities=modalities, prices=(*BASE, *prices), capacities=capacities)


def window(cost: str) -> Price:
    return Price(
        ("output", "text"), "completion", "token", Decimal(cost), utc_start=2200, utc_end=600
    )


def test_offering_changes_name_a_further_price_old_and_new_per_million():
    changes = offering_changes(offering(window("0.0000006")), offering(window("0.0000004")))

    assert changes == [
        ChangeLine(
            "output text completion per token (window 22:00-06:00)",
            "$0.6 per 1M tokens",
            "$0.4 per 1M tokens",
        )
    ]


def test_offering_changes_name_added_and_removed_entries_and_leave_the_flat_prices_out():
    cache_write = Price(
        ("input", "text"), "cache_write", "token", Decimal("0.00000375"), ttl_seconds=300
    )
    request = Price(ROOT, "web_search", "search", Decimal("0.01"))
    before = offering(cache_write)
    after = Offering(
        modalities=(TEXT_IN, TEXT_OUT),
        prices=(
            Price(("input", "text"), "prompt", "token", Decimal("0.0000002")),  # flat: named there
            BASE[1],
            request,
        ),
    )

    assert offering_changes(before, after) == [
        ChangeLine(
            "input text cache write per token (cache lifetime 300 s)", "$3.75 per 1M tokens", "none"
        ),
        ChangeLine("request web search per search", "none", "$0.01 per search"),
    ]


def test_offering_changes_name_capacities_and_modality_details_briefly():
    per_minute = Capacity(("input", "text"), "prompt", "token", "minute", 1000)
    ranged = ModalitySpec(
        "output",
        "text",
        supported_parameters={
            "tools": {"type": "boolean"},
            "temperature": {"type": "range", "min": 0, "max": 2},
        },
    )
    before = offering(capacities=(per_minute,))
    after = offering(
        capacities=(Capacity(("input", "text"), "prompt", "token", "minute", 5000),),
        modalities=(TEXT_IN, ranged),
    )

    assert offering_changes(before, after) == [
        ChangeLine("capacity: input text prompt per minute", "1000 tokens", "5000 tokens"),
        ChangeLine(
            "output text descriptors",
            "none",
            '{"temperature": {"max": 2, "min": 0, "type": "range"}}',
        ),
    ]


def test_offering_changes_of_equal_offerings_are_none():
    assert offering_changes(offering(window("0.0000006")), offering(window("0.0000006"))) == []


def test_a_save_that_changes_only_a_further_price_is_found_by_the_history_filter(
    editor_client, model
):
    row = {"scope": "input text", "price_type": "cache_write", "unit": "token"}
    data = with_rows(
        form_data(model), "prices", [{**row, "cost_usd": "3.75", "ttl_seconds": "300"}]
    )

    editor_client.post(change_url(model), data)

    record = HistoricalServedModel.objects.filter(id=model.pk).latest()
    assert record.changed_fields == ["typed"]
    found = editor_client.get("/admin/catalog/historicalservedmodel/?field=typed")
    assert "Offering rows or typed-format fields" in found.content.decode()
    assert found.context["cl"].result_count == 1
