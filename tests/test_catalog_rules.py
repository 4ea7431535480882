"""Each rule of the field table (../shared/docs/PRODUCT.md) holds twice: the admin form refuses
the bad value on its field, and the database refuses it when the form is bypassed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

import pytest
from django.db import DataError, IntegrityError, models, transaction
from django.db.models import Value
from django.db.models.functions import Cast
from django.urls import reverse

from catalog.models import Datacenter, Modality, PriceEntry, ServedModel
from tests.helpers import ADD_URL, change_url, form_data


class Rule(NamedTuple):
    name: str
    typed: dict  # what staff type into the admin form
    fields: set[str]  # the fields the form's errors name
    # The same value written around the form: a dict of ServedModel columns, or a function of
    # the model that writes the offering's rows (None: no constraint can hold it).
    stored: dict | Callable[[ServedModel], object] | None
    refusal: tuple[type[Exception], str] | None = None  # the database's error, and its words


def _constraint(name: str) -> tuple[type[Exception], str]:
    return IntegrityError, name


RULES = [
    Rule(
        "id with whitespace",
        {"model_id": "acme/with space"},
        {"model_id"},
        {"model_id": "acme/with space"},
        _constraint("servedmodel_model_id_no_space_or_control"),
    ),
    Rule(
        "id with a control character",
        {"model_id": "acme/bell\x07"},
        {"model_id"},
        {"model_id": "acme/bell\x07"},
        _constraint("servedmodel_model_id_no_space_or_control"),
    ),
    Rule(
        "id too long",
        {"model_id": "acme/" + "x" * 196},
        {"model_id"},
        {"model_id": "acme/" + "x" * 196},
        (DataError, "value too long"),
    ),
    Rule(
        "name with a control character",
        {"name": "Two\nlines"},
        {"name"},
        {"name": "Two\nlines"},
        _constraint("servedmodel_name_no_control"),
    ),
    Rule(
        "Hugging Face id as a URL",
        {"hugging_face_id": "https://huggingface.co/acme/chat"},
        {"hugging_face_id"},
        {"hugging_face_id": "https://huggingface.co/acme/chat"},
        _constraint("servedmodel_hugging_face_id_owner_name"),
    ),
    Rule(
        "Hugging Face id without an owner",
        {"hugging_face_id": "chat"},
        {"hugging_face_id"},
        {"hugging_face_id": "chat"},
        _constraint("servedmodel_hugging_face_id_owner_name"),
    ),
    Rule(
        "unknown quantization",
        {"quantization": "int3"},
        {"quantization"},
        {"quantization": "int3"},
        _constraint("servedmodel_quantization_known"),
    ),
    Rule(
        "no input modality",
        {"input_modalities": []},
        {"input_modalities"},
        # "At least one" spans rows, which no CHECK constraint can see; the form, the importer
        # and the model's clean() hold it.
        None,
    ),
    Rule(
        "no output modality",
        {"output_modalities": []},
        {"output_modalities"},
        None,
    ),
    Rule(
        "unknown input modality",
        {"input_modalities": ["text", "smell"]},
        {"input_modalities"},
        lambda model: _modalities(model, "input").update(kind="smell"),
        _constraint("modality_kind_known"),
    ),
    Rule(
        "unknown output modality",
        {"output_modalities": ["telepathy"]},
        {"output_modalities"},
        lambda model: _modalities(model, "output").update(kind="telepathy"),
        _constraint("modality_kind_known"),
    ),
    Rule(
        "unknown sampling parameter",
        {"supported_sampling_parameters": ["temperature", "mood"]},
        {"supported_sampling_parameters"},
        # Parameters are descriptors now, a map the typed format leaves open to new names; the
        # flat lists' names are checked by the form, the importer and clean().
        None,
    ),
    Rule(
        "unknown feature",
        {"supported_features": ["teleport"]},
        {"supported_features"},
        None,
    ),
    Rule(
        "context length 0",
        {"context_length": "0"},
        # No output length fits in a context of 0 tokens, so that field is refused too.
        {"context_length", "max_output_length"},
        {"context_length": 0},
        _constraint("servedmodel_context_length_positive"),
    ),
    Rule(
        "max output length 0",
        {"max_output_length": "0"},
        {"max_output_length"},
        {"max_output_length": 0},
        _constraint("servedmodel_max_output_length_positive"),
    ),
    Rule(
        "max output length above the context length",
        {"context_length": "8192", "max_output_length": "8193"},
        {"max_output_length"},
        {"context_length": 8192, "max_output_length": 8193},
        _constraint("servedmodel_max_output_within_context"),
    ),
    Rule(
        "negative token price",
        {"price_prompt": "-0.15"},
        {"price_prompt"},
        lambda model: _price_row(model, "token", Decimal("-0.00000015")),
        _constraint("priceentry_cost_non_negative"),
    ),
    Rule(
        "negative image price",
        {"price_image": "-1"},
        {"price_image"},
        lambda model: _price_row(model, "image", Decimal(-1)),
        _constraint("priceentry_cost_non_negative"),
    ),
    # The ceiling is a setting (CATALOG_MAX_PRICE_PER_TOKEN), which no constraint can follow.
    Rule(
        "implausibly high token price",
        {"price_completion": "1500"},
        {"price_completion"},
        None,
    ),
    Rule(
        "impossible deprecation date",
        {"deprecation_date": "2027-02-30"},
        {"deprecation_date"},
        # Django will not even send this date; PostgreSQL is asked to read the text itself.
        {"deprecation_date": Cast(Value("2027-02-30"), models.DateField())},
        (DataError, "out of range"),
    ),
]


def _modalities(model: ServedModel, direction: str):
    return Modality.objects.filter(model=model, direction=direction)


def _price_row(model: ServedModel, unit: str, cost: Decimal) -> PriceEntry:
    """A prompt price of the text input (per token or per image), written as a row."""
    PriceEntry.objects.filter(model=model, price_type="prompt", unit=unit).delete()
    return PriceEntry.objects.create(
        model=model,
        modality=_modalities(model, "input").get(kind="text"),
        price_type="prompt",
        unit=unit,
        cost_usd=cost,
    )


def _rule_params(rules: list[Rule]) -> list:
    return [pytest.param(rule, id=rule.name) for rule in rules]


@pytest.fixture
def model(make_model):
    return make_model("acme/chat")


@pytest.mark.parametrize("view", ["add", "change"])
@pytest.mark.parametrize("rule", _rule_params(RULES))
def test_admin_form_refuses_the_bad_value_on_its_field(editor_client, model, view, rule):
    before = ServedModel.objects.values().get()
    if view == "add":
        response = editor_client.post(
            ADD_URL, form_data(model, **{"model_id": "acme/new", **rule.typed})
        )
    else:
        response = editor_client.post(change_url(model), form_data(model, **rule.typed))

    assert response.status_code == 200, "the form was accepted"
    errors = response.context["adminform"].form.errors
    assert set(errors) == rule.fields
    assert all(errors[field] for field in rule.fields)
    assert ServedModel.objects.values().get() == before


@pytest.mark.parametrize("rule", _rule_params([rule for rule in RULES if rule.stored]))
def test_database_refuses_the_bad_value_written_around_the_form(model, rule):
    error, words = rule.refusal
    stored = rule.stored
    write = (
        stored
        if callable(stored)
        else lambda m: ServedModel.objects.filter(pk=m.pk).update(**stored)
    )
    with pytest.raises(error, match=words), transaction.atomic():
        write(model)


COUNTRY_CODE_RULES = [
    ("USA", (DataError, "value too long")),
    ("us", _constraint("datacenter_country_code_alpha2")),
    # Well-formed alpha-2 codes that no country has: the database checks the shape, only
    # pycountry knows the list.
    ("UK", None),
    ("EU", None),
]


@pytest.mark.parametrize(("code", "refusal"), COUNTRY_CODE_RULES)
def test_datacenter_form_refuses_what_is_not_an_alpha2_country_code(editor_client, code, refusal):
    response = editor_client.post(reverse("admin:catalog_datacenter_add"), {"country_code": code})

    assert response.status_code == 200, "the form was accepted"
    assert set(response.context["adminform"].form.errors) == {"country_code"}
    assert not Datacenter.objects.exists()


@pytest.mark.parametrize(
    ("code", "refusal"), [(code, refusal) for code, refusal in COUNTRY_CODE_RULES if refusal]
)
def test_database_refuses_a_malformed_country_code(datacenters, code, refusal):
    (united_states,) = datacenters("US")
    error, words = refusal
    with pytest.raises(error, match=words), transaction.atomic():
        Datacenter.objects.filter(pk=united_states.pk).update(country_code=code)
