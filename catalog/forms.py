"""The admin's forms: the whole served model on one page, prices in the units staff think in.

Staff type prices per million tokens; the database keeps them per token. The conversion moves
the decimal point (``Decimal.scaleb``), never goes through a float, and never rounds, so what
is typed is what is stored. The rules themselves live in ``catalog.validators`` and
``ServedModel.clean()``; these forms only convert units and word messages in the unit typed.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db import models

from catalog.choices import Feature, InputModality, OutputModality, SamplingParameter
from catalog.formats.flat.encode import plain_decimal
from catalog.models import (
    FLAT_FIELDS,
    PER_TOKEN_PRICE_FIELDS,
    PRICE_DECIMAL_PLACES,
    PRICE_FIELDS,
    PRICE_MAX_DIGITS,
    ServedModel,
)
from catalog.validators import validate_price_per_token

# A price per million tokens is the price per token with the decimal point six places right.
MILLION_EXPONENT = 6
# Enough precision for every stored price, and a trap in case a conversion would ever round.
_EXACT = Context(prec=PRICE_MAX_DIGITS, traps=[Inexact])

PRICE_LABELS = {
    "price_prompt": "Prompt price (USD per million tokens)",
    "price_completion": "Completion price (USD per million tokens)",
    "price_input_cache_read": "Cached input price (USD per million tokens)",
    "price_image": "Image price (USD per image)",
    "price_request": "Request price (USD per request)",
}


def per_million(price_per_token: Decimal) -> Decimal:
    return price_per_token.scaleb(MILLION_EXPONENT, _EXACT)


def per_token(price_per_million: Decimal) -> Decimal:
    return price_per_million.scaleb(-MILLION_EXPONENT, _EXACT)


def shown_price(field_name: str, price: Decimal) -> str:
    """A stored price as staff see and type it: per-token prices per million tokens."""
    if field_name in PER_TOKEN_PRICE_FIELDS:
        price = per_million(price)
    return plain_decimal(price)


class PriceField(forms.DecimalField):
    """A price in USD, shown in plain notation: "0.0001", not "0.000100000000000000000000"."""

    # Decimal places are checked on the server, with a message that names the unit; a step
    # would make the browser refuse long decimals with a message of its own.
    widget = forms.NumberInput(attrs={"step": "any"})

    def prepare_value(self, value):
        return plain_decimal(value) if isinstance(value, Decimal) else value


class PerMillionPriceField(PriceField):
    """A price stored in USD per token, shown and typed in USD per million tokens.

    The digits are checked on the number as typed (six decimal places fewer than stored);
    ``clean()`` returns the exact per-token price.
    """

    default_error_messages = {
        "max_decimal_places": (
            "A price per million tokens has at most %(max)s decimal places "
            f"(that is {PRICE_DECIMAL_PLACES} per token)."
        ),
        "implausible_price": (
            "%(value)s USD per million tokens is above the ceiling of %(ceiling)s USD per "
            "million tokens; check the price and its unit."
        ),
    }

    def __init__(self, *, decimal_places=PRICE_DECIMAL_PLACES, **kwargs):
        super().__init__(decimal_places=decimal_places - MILLION_EXPONENT, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            value = per_million(value)
        return super().prepare_value(value)

    def has_changed(self, initial, data):
        return super().has_changed(None if initial is None else per_million(initial), data)

    def clean(self, value):
        typed = super().clean(value)
        if typed is None:
            return None
        price = per_token(typed)
        try:
            validate_price_per_token(price)
        except ValidationError as error:
            # The one refusal of validate_price_per_token, which names its ceiling per token.
            ceiling = (error.params or {})["ceiling"]
            raise ValidationError(
                self.error_messages["implausible_price"],
                code="implausible_price",
                params={
                    "value": plain_decimal(typed),
                    "ceiling": plain_decimal(per_million(ceiling)),
                },
            ) from None
        return price


class DatacenterChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.country_code} ({obj.country_name})"


def _checkboxes(choices: type[models.TextChoices], label: str) -> forms.MultipleChoiceField:
    # Not required here: ServedModel.clean() says which lists must not be empty, and in its
    # own words, which Django would replace with this field's "required" message.
    field = forms.MultipleChoiceField(
        label=label,
        choices=choices.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    del field.error_messages["required"]
    return field


def _price(per_token: bool, field_name: str) -> PriceField:
    field_class = PerMillionPriceField if per_token else PriceField
    return field_class(
        label=PRICE_LABELS[field_name],
        max_digits=PRICE_MAX_DIGITS,
        min_value=Decimal(0),
        initial=Decimal(0),
    )


class ServedModelForm(forms.ModelForm):
    """Every field of the flat format on one page, validated by ``ServedModel.full_clean()``.

    The lists and the five prices are the flat view of the model's offering (its modality and
    price rows): assigned to the model before it is validated, saved with it.
    """

    input_modalities = _checkboxes(InputModality, "Input modalities")
    output_modalities = _checkboxes(OutputModality, "Output modalities")
    supported_sampling_parameters = _checkboxes(SamplingParameter, "Sampling parameters")
    supported_features = _checkboxes(Feature, "Features")
    price_prompt = _price(True, "price_prompt")
    price_completion = _price(True, "price_completion")
    price_input_cache_read = _price(True, "price_input_cache_read")
    price_image = _price(False, "price_image")
    price_request = _price(False, "price_request")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name in FLAT_FIELDS:
                if name in self.fields:
                    self.initial.setdefault(name, getattr(self.instance, name))

    def _post_clean(self):
        for name in FLAT_FIELDS:
            if name in self.fields and name in self.cleaned_data:
                value = self.cleaned_data[name]
                if name in PRICE_FIELDS and value is None:
                    value = Decimal(0)
                if self.instance.pk is None or value != getattr(self.instance, name):
                    setattr(self.instance, name, value)
        super()._post_clean()  # type: ignore[misc]  # private, so not in django-stubs

    class Meta:
        model = ServedModel
        fields = (
            "model_id",
            "name",
            "hugging_face_id",
            "created",
            "input_modalities",
            "output_modalities",
            "quantization",
            "supported_sampling_parameters",
            "supported_features",
            "context_length",
            "max_output_length",
            "price_prompt",
            "price_completion",
            "price_input_cache_read",
            "price_image",
            "price_request",
            "datacenters",
            "is_published",
            "deprecation_date",
        )
        field_classes = {"datacenters": DatacenterChoiceField}
        widgets = {"datacenters": forms.CheckboxSelectMultiple}


class CatalogActionForm(ActionForm):
    """The list page's action bar, with the date that "Set deprecation date" applies."""

    deprecation_date = forms.DateField(
        label="Deprecation date:", required=False, widget=AdminDateWidget
    )
