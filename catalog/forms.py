"""The admin's forms: the whole served model on one page, prices in the units staff think in.

Staff type prices per million tokens; the database keeps them per token, converted exactly
(``catalog.presentation``), so what is typed is what is stored. The rules themselves live in
``catalog.validators``, ``ServedModel.clean()``/``Modality.clean()`` and the offering's
(``Offering.problems()``); these forms convert units, word each problem on the field or row it
is about, and compose the page's offering (``offering_of_page``), which the write path saves.
What only this page knows stays here: the five prices belong to the main form, not to a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.formsets import DELETION_FIELD_NAME
from django.utils import timezone

from catalog.choices import (
    PER_MILLION_UNITS,
    Direction,
    Feature,
    InputModality,
    OutputModality,
    SamplingParameter,
    Weekday,
    weekday_bits,
    weekday_names,
)
from catalog.formats.flat.offering import (
    FEATURE_DESCRIPTOR,
    FLAT_FIELDS,
    PRICE_FIELDS,
    PRICE_SOURCES,
    SAMPLING_DESCRIPTOR,
    base_price,
    flat_errors,
    flat_prices,
    flat_view,
    offering_of_flat_values,
    plain_decimal,
)
from catalog.formats.typed.encode import typed_supported_inputs
from catalog.formats.typed.schema import field_errors, supported_inputs_component
from catalog.models import (
    PRICE_DECIMAL_PLACES,
    PRICE_MAX_DIGITS,
    CapacityEntry,
    Modality,
    PriceEntry,
    ServedModel,
)
from catalog.offering import (
    ROOT,
    ROOT_SCOPE,
    Capacity,
    Offering,
    OfferingProblem,
    Price,
    Scope,
    entry_problems,
    scope_text,
    stored_offering,
    weekday_set,
)
from catalog.presentation import (
    MILLION_EXPONENT,
    PRICE_LABELS,
    per_million,
    per_million_messages,
    per_unit,
    price_label,
)
from catalog.price_guard import large_changes
from catalog.validators import validate_price_per_token


class PriceField(forms.DecimalField):
    """A price in USD, shown in plain notation: "0.0001", not "0.000100000000000000000000"."""

    # Decimal places are checked on the server, with a message that names the unit; a step
    # would make the browser refuse long decimals with a message of its own.
    widget = forms.NumberInput(attrs={"step": "any"})

    def prepare_value(self, value):
        return plain_decimal(value) if isinstance(value, Decimal) else value


class PerMillionPriceField(PriceField):
    """A price stored in USD per unit (token, character), shown and typed per million units.

    The digits are checked on the number as typed (six decimal places fewer than stored);
    ``clean()`` returns the exact price per unit. Per token, it must be under the ceiling.
    """

    default_error_messages: ClassVar[dict[str, Any]] = per_million_messages("token")

    def __init__(self, *, decimal_places=PRICE_DECIMAL_PLACES, unit="token", **kwargs):
        super().__init__(decimal_places=decimal_places - MILLION_EXPONENT, **kwargs)
        self.unit = unit
        self.error_messages.update(per_million_messages(unit))

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
        price = per_unit(typed)
        if self.unit == "token":
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


def _compare_json_with_the_instance(form: forms.ModelForm) -> None:
    # A JSON field with a callable default would compare a change with a hidden copy of the
    # initial value posted along; the instance's own value is the one to compare with.
    for field in form.fields.values():
        if isinstance(field, forms.JSONField):
            field.show_hidden_initial = False


class ConfirmationField(forms.BooleanField):
    """A tick that confirms what a save does; not a value of the model, so never a change."""

    def has_changed(self, initial, data):
        return False


def _schema_checked(value, component: str):
    """``value`` if the typed format's ``component`` allows it, else its refusal."""
    messages = field_errors(value, component)
    if messages:
        raise ValidationError(messages, code="schema")
    return value


class ServedModelForm(forms.ModelForm):
    """Every field of the flat format on one page, validated by ``ServedModel.full_clean()``.

    The lists and the five prices are the flat view of the model's offering (its modality and
    price rows, ``catalog.formats.flat.offering``): ``offering`` is what a save writes of it
    (None: no flat value changed), ``composed`` the offering the inlines judge their rows in.
    The admin sets ``request``, through which the inline formsets find this form.
    """

    request = None

    input_modalities = _checkboxes(InputModality, "Input modalities")
    output_modalities = _checkboxes(OutputModality, "Output modalities")
    supported_sampling_parameters = _checkboxes(SamplingParameter, "Sampling parameters")
    supported_features = _checkboxes(Feature, "Features")
    price_prompt = _price(True, "price_prompt")
    price_completion = _price(True, "price_completion")
    price_input_cache_read = _price(True, "price_input_cache_read")
    price_image = _price(False, "price_image")
    price_request = _price(False, "price_request")
    # Not in the fieldsets: shown at the top of the page, with the changes it confirms, only
    # when a save changes prices far out of line (``PriceEntryFormSet``, ``catalog.price_guard``).
    confirm_large_price_changes = ConfirmationField(
        required=False, label="Confirm these large price changes"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _compare_json_with_the_instance(self)
        self.stored = stored_offering(self.instance)
        self.offering: Offering | None = None
        self.composed = self.stored
        if self.request is not None:
            self.request.served_model_form = self
        if self.instance.pk is not None:
            stored = flat_view(self.stored)
            for name in FLAT_FIELDS:
                if name in self.fields:
                    self.initial.setdefault(name, stored[name])

    def clean_compliance(self):
        return _schema_checked(self.cleaned_data["compliance"], "Compliance")

    def clean_passthrough_parameters(self):
        return _schema_checked(self.cleaned_data["passthrough_parameters"], "DescriptorMap")

    def _post_clean(self):
        super()._post_clean()  # type: ignore[misc]  # private, so not in django-stubs
        stored = flat_view(self.stored)
        assigned = {}
        for name in FLAT_FIELDS:
            if name in self.fields and name in self.cleaned_data:
                value = self.cleaned_data[name]
                if name in PRICE_FIELDS and value is None:
                    value = Decimal(0)
                if self.instance.pk is None or value != stored[name]:
                    assigned[name] = value
        for name, error in flat_errors(assigned).items():
            self.add_error(name, error)
        if assigned or self.instance.pk is None:
            self.offering = offering_of_flat_values(assigned, base=self.stored)
            self.composed = self.offering

    @property
    def large_price_changes_confirmed(self) -> bool:
        return bool(self.cleaned_data.get("confirm_large_price_changes"))

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
            "description",
            "is_ready",
            "is_free",
            "discount_to_user",
            "openrouter_slug",
            "tokenizer",
            "deployment_region",
            "compliance",
            "passthrough_parameters",
            "is_published",
            "deprecation_date",
            "deprecation_hour",
        )
        field_classes = {"datacenters": DatacenterChoiceField, "discount_to_user": PriceField}
        widgets = {"datacenters": forms.CheckboxSelectMultiple}


class CatalogActionForm(ActionForm):
    """The list page's action bar, with the date that "Set deprecation date" applies."""

    deprecation_date = forms.DateField(
        label="Deprecation date:", required=False, widget=AdminDateWidget
    )


# --- The offering's other rows: modality details, further prices, capacities ----------------
# The main form holds the common case (modalities ticked, five prices); the inlines hold every
# other row. The five prices are rows too (the base entries the flat keys map to), so the price
# inline leaves them out and refuses an entry that would take their place: no row is editable
# in two places on one page (docs/architecture/admin.md).


def parse_scope(value: str) -> Scope:
    if value == ROOT_SCOPE:
        return ROOT
    direction, kind = value.split(" ", 1)
    return (direction, kind)


SCOPE_CHOICES = [
    *((f"input {kind}", f"input {kind}") for kind in InputModality.values),
    *((f"output {kind}", f"output {kind}") for kind in OutputModality.values),
    (ROOT_SCOPE, "request (the model as a whole)"),
]


def row_scope(row: PriceEntry | CapacityEntry) -> Scope:
    modality = row.modality
    return ROOT if modality is None else (modality.direction, modality.kind)


def base_identities(offering: Offering) -> dict[tuple, str]:
    """The identity of each of the five flat prices' entries -> its label on the main form."""
    identities = {}
    for key in PRICE_SOURCES:
        entry = base_price(offering, key)
        if entry is not None:
            identities[entry.identity] = PRICE_LABELS[f"price_{key}"]
    return identities


class _ScopedRowForm(forms.ModelForm):
    """A price or capacity row with its scope picked from a list, checked against the modalities
    the model has once the main form is applied."""

    scope = forms.ChoiceField(
        choices=SCOPE_CHOICES,
        initial="input text",
        help_text="One of the model's modalities, or the request.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The row as stored (its identity is what this form stands for), None for a new row.
        self.stored_entry = None
        if self.instance.pk is not None:
            self.initial["scope"] = scope_text(row_scope(self.instance))
            self.stored_entry = self.entry_of(self.instance, row_scope(self.instance))

    @staticmethod
    def entry_of(row, scope: Scope):
        raise NotImplementedError

    def entry(self):
        return self.entry_of(self.instance, parse_scope(self.cleaned_data["scope"]))

    def add_rule_errors(self, entry) -> None:
        """The rules of the entry on its own (``catalog.offering.entry_problems``), each on its
        field."""
        for problem in entry_problems(entry):
            self.add_error(problem.field, ValidationError(problem.message, code=problem.code))


class PriceEntryForm(_ScopedRowForm):
    """One further price; per million where the unit is tokens or characters, else per unit."""

    cost_usd = PriceField(
        label="Cost (USD)",
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        min_value=Decimal(0),
        help_text="Per million tokens or characters; per one image, megapixel, second, "
        "request or search.",
    )
    utc_days = forms.MultipleChoiceField(
        label="Weekdays (UTC)",
        choices=Weekday.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only on these UTC days (with a window: the window on these days); none "
        "ticked: every day. The flat format has no weekdays: it never shows such a price.",
    )
    overrides = forms.JSONField(
        required=False,
        initial=list,
        help_text='Conditional prices, later ones winning: [{"when": {"prompt_tokens": '
        '{"gte": 128001}}, "cost_usd": "0.0000003"}]; cost_usd per unit (per token).',
    )

    class Meta:
        model = PriceEntry
        fields = (
            "scope",
            "price_type",
            "unit",
            "cost_usd",
            "ttl_seconds",
            "implicit",
            "utc_start",
            "utc_end",
            "utc_days",
            "overrides",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and self.instance.unit in PER_MILLION_UNITS:
            self.initial["cost_usd"] = per_million(self.instance.cost_usd)
        if self.instance.utc_days is not None:
            self.initial["utc_days"] = weekday_names(self.instance.utc_days)

    def clean_utc_days(self) -> int | None:
        # The column holds bits (catalog.choices.weekday_bits); none ticked, or all, is every day.
        return weekday_set(weekday_bits(self.cleaned_data["utc_days"]) or None)

    entry_of = staticmethod(Price.of_row)

    def clean_overrides(self):
        value = self.cleaned_data["overrides"]
        if value is None:
            return []
        messages = field_errors(value, "PricingOverrides")
        if messages:
            raise ValidationError(messages, code="schema")
        return value

    def clean(self):
        super().clean()
        data = self.cleaned_data
        price_type, unit = data.get("price_type"), data.get("unit")
        cost = data.get("cost_usd")
        if cost is not None and unit in PER_MILLION_UNITS:
            places = -int(cost.as_tuple().exponent)
            if places > PRICE_DECIMAL_PLACES - MILLION_EXPONENT:
                self.add_error(
                    "cost_usd",
                    ValidationError(
                        f"A price per million {unit}s has at most "
                        f"{PRICE_DECIMAL_PLACES - MILLION_EXPONENT} decimal places.",
                        code="max_decimal_places",
                    ),
                )
            else:
                data["cost_usd"] = per_unit(cost)
                if unit == "token":
                    try:
                        validate_price_per_token(data["cost_usd"])
                    except ValidationError as error:
                        ceiling = per_million((error.params or {})["ceiling"])
                        self.add_error(
                            "cost_usd",
                            ValidationError(
                                PerMillionPriceField.default_error_messages["implausible_price"],
                                code="implausible_price",
                                params={
                                    "value": plain_decimal(cost),
                                    "ceiling": plain_decimal(ceiling),
                                },
                            ),
                        )
        if data.get("scope") and price_type and unit:
            self.add_rule_errors(
                Price(
                    parse_scope(data["scope"]),
                    price_type,
                    unit,
                    Decimal(0),  # the cost has rules of its own, above
                    ttl_seconds=data.get("ttl_seconds"),
                    implicit=data.get("implicit"),
                    utc_start=data.get("utc_start"),
                    utc_end=data.get("utc_end"),
                    utc_days=data.get("utc_days"),
                )
            )
        return data


class CapacityEntryForm(_ScopedRowForm):
    class Meta:
        model = CapacityEntry
        fields = ("scope", "capacity_type", "unit", "per", "value")

    @staticmethod
    def entry_of(row, scope: Scope) -> Capacity:
        return Capacity(scope, row.capacity_type, row.unit, row.per or None, row.value)

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if not data.get("per"):
            data["per"] = None
        kind, unit = data.get("capacity_type"), data.get("unit")
        if data.get("scope") and kind and unit:
            scope = parse_scope(data["scope"])
            # A value the field refused is named by the field: 1 stands in for it here.
            value = data.get("value", 1)
            self.add_rule_errors(Capacity(scope, kind, unit, data["per"], value))
        return data


class _WithMainForm(forms.BaseInlineFormSet):
    """An inline formset that judges its rows in the offering the main form leaves (its flat
    values applied): the admin passes the request, through which the main form is found."""

    instance: ServedModel

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    @property
    def main_form(self) -> ServedModelForm | None:
        return getattr(self.request, "served_model_form", None)

    @property
    def parent_offering(self) -> Offering:
        form = self.main_form
        return form.composed if form is not None else stored_offering(self.instance)

    def written(self) -> None:
        """What Django's ``save()`` would have noted of the rows (``new_objects``,
        ``changed_objects``, ``deleted_objects``), for the admin's change message: the rows
        themselves are written with the whole offering (``actions.served_models.save_model``)."""
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form in self.forms:
            deleted = form.cleaned_data.get(DELETION_FIELD_NAME, False)
            if form.instance.pk is None:
                if form.has_changed() and not deleted:
                    self.new_objects.append(form.instance)
            elif deleted:
                self.deleted_objects.append(form.instance)
            elif form.has_changed():
                self.changed_objects.append((form.instance, form.changed_data))


class _ScopedRowFormSet(_WithMainForm):
    """Judges the rows in the offering the main form leaves, by the offering's rules
    (``Offering.problems()``: scopes among its modalities, one row per identity, one unit per
    price type), each problem on the row it is about; ``composed`` is that offering."""

    part = ""  # "prices" or "capacities"

    def others(self, offering: Offering, replaced: set) -> list:
        """The entries of ``offering`` of this part that no form here stands for."""
        return [entry for entry in getattr(offering, self.part) if entry.identity not in replaced]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        offering = self.parent_offering
        replaced, entries = set(), []
        for form in self.forms:
            if form.stored_entry is not None:
                replaced.add(form.stored_entry.identity)
            if not form.cleaned_data or form.cleaned_data.get(DELETION_FIELD_NAME):
                continue
            entries.append((form, form.entry()))
        said = set()  # the forms already told what is wrong with their row
        for form, entry in entries:
            identity_problem = self.identity_problem(offering, entry)
            if identity_problem:
                form.add_error(None, ValidationError(identity_problem, code="duplicate"))
                said.add(form)
        self.composed = replace(
            offering,
            **{self.part: (*self.others(offering, replaced), *(entry for _, entry in entries))},
        )
        form_of = {id(entry): form for form, entry in entries}
        ours = {id(entry) for entry in getattr(self.composed, self.part)}
        elsewhere = []
        for problem in self.composed.problems():
            if id(problem.entry) not in ours:
                continue  # the other inline's
            form = form_of.get(id(problem.entry))
            if form is None:
                elsewhere.append(str(problem))
            elif form not in said:
                form.add_error(problem.field, self.rule_error(problem))
        if elsewhere:
            raise ValidationError(elsewhere, code="offering")

    @staticmethod
    def rule_error(problem: OfferingProblem) -> ValidationError:
        """A problem of the offering's rules as the row's error, in staff's words."""
        if problem.code == "unknown_scope":
            return ValidationError(
                "The model has no %(scope)s modality: tick it above, or delete this row.",
                code=problem.code,
                params={"scope": scope_text(problem.entry.scope)},
            )
        if problem.code == "second_unit":
            other = problem.other
            assert isinstance(other, Price)  # second units are prices'
            return ValidationError(
                "The model already has this price per %(unit)s (%(label)s): a price type takes "
                "one unit in a modality.",
                code=problem.code,
                params={"unit": other.unit, "label": price_label(other)},
            )
        return ValidationError(problem.message, code=problem.code)

    def identity_problem(self, offering: Offering, entry) -> str | None:
        return None


class PriceEntryFormSet(_ScopedRowFormSet):
    """Every price but the five on the main form (whose entries it leaves out).

    Being last to see the whole offering (the main form's five prices and these rows), it also
    holds a save that changes prices far out of line until the main form's confirmation is
    ticked: ``large_price_changes`` lists them for the page.
    """

    part = "prices"
    large_price_changes: Sequence = ()

    def get_queryset(self):
        if not hasattr(self, "_other_rows"):
            # The prices in force now; scheduled ones are changed by scheduling or cancelling.
            rows = (
                super()
                .get_queryset()
                .filter(PriceEntry.in_force_at(timezone.now()))
                .select_related("modality")
            )
            base = base_identities(stored_offering(self.instance))
            self._other_rows = rows.exclude(
                pk__in=[
                    row.pk
                    for row in rows
                    if PriceEntryForm.entry_of(row, row_scope(row)).identity in base
                ]
            )
        return self._other_rows

    def identity_problem(self, offering: Offering, entry: Price) -> str | None:
        label = base_identities(offering).get(entry.identity)
        if label is not None:
            return f"This is the {label} of the main form; change it there."
        return None

    def clean(self):
        super().clean()
        if any(self.errors) or not hasattr(self, "composed"):
            return
        # A further price must never become one of the five (the lowest cache lifetime is the
        # flat cached input price, for one): the main form would show one value, the public
        # another.
        before, after = flat_prices(self.parent_offering), flat_prices(self.composed)
        moved = [key for key in PRICE_SOURCES if before[key] != after[key]]
        if moved:
            raise ValidationError(
                "These rows would change the %(labels)s set on the main form; change it there.",
                code="shadows_flat_price",
                params={"labels": ", ".join(PRICE_LABELS[f"price_{key}"] for key in moved)},
            )
        if self.instance.pk is None:
            return  # a new model: no price to change
        self.large_price_changes = large_changes(stored_offering(self.instance), self.composed)
        main_form = self.main_form
        if self.large_price_changes and not (
            main_form is not None and main_form.large_price_changes_confirmed
        ):
            raise ValidationError(
                "Some prices change more than ten times up or down, or to or from zero: check "
                "them at the top of the page, and confirm them there if they are intended.",
                code="large_price_change",
            )


class CapacityEntryFormSet(_ScopedRowFormSet):
    part = "capacities"


class ModalityForm(forms.ModelForm):
    """A modality's details; which modalities there are is ticked on the main form.

    The descriptors of the ticked sampling parameters and features, as the flat format writes
    them (``{"type": "unknown"}``, ``{"type": "boolean"}``), are not repeated here: the ticks
    say them. Described here: the other parameters, and details (a range) of ticked ones.
    """

    class Meta:
        model = Modality
        fields = ("supported_inputs", "supported_parameters", "passthrough_parameters", "streaming")
        help_texts = {
            "supported_parameters": "Output only: parameter -> descriptor, such as "
            '{"temperature": {"type": "range", "min": 0, "max": 2}}. Sampling parameters and '
            "features ticked above need no entry unless they have details.",
        }

    def __init__(self, *args, parent: ModalityFormSet, **kwargs):
        super().__init__(*args, **kwargs)
        _compare_json_with_the_instance(self)
        self.parent = parent  # the formset, which knows the offering the main form leaves
        self.initial["supported_parameters"] = {
            name: descriptor
            for name, descriptor in (self.instance.supported_parameters or {}).items()
            if not said_by_ticks(name, descriptor)
        }

    @property
    def scope(self) -> tuple[str, str]:
        return (self.instance.direction, self.instance.kind)

    def has_changed(self):
        # A modality unticked on the main form is gone, details and all: nothing to save.
        still = self.parent.parent_offering.modality(*self.scope) is not None
        return still and super().has_changed()

    def clean_supported_parameters(self):
        value = self.cleaned_data["supported_parameters"] or {}
        if not isinstance(value, dict):
            return _schema_checked(value, "DescriptorMap")
        ticked = flat_view(self.parent.parent_offering)
        unticked = [
            name
            for name in value
            if name in _FLAT_NAMES
            and name not in ticked["supported_sampling_parameters"]
            and name not in ticked["supported_features"]
        ]
        if unticked:
            raise ValidationError(
                "%(names)s: tick it under Sampling parameters or Features above, or remove it "
                "here.",
                code="unticked",
                params={"names": ", ".join(unticked)},
            )
        spec = self.parent.parent_offering.modality(*self.scope)
        said = {
            name: descriptor
            for name, descriptor in (spec.supported_parameters if spec else {}).items()
            if said_by_ticks(name, descriptor)
        }
        return _schema_checked({**said, **value}, "DescriptorMap")

    def clean_passthrough_parameters(self):
        return _schema_checked(self.cleaned_data["passthrough_parameters"], "DescriptorMap")

    def clean_supported_inputs(self):
        value = self.cleaned_data["supported_inputs"]
        direction, kind = self.scope
        # An output's are refused by Modality.clean(); an unticked modality's details go.
        still = self.parent.parent_offering.modality(*self.scope) is not None
        if direction != Direction.INPUT or not still:
            return value
        component = supported_inputs_component(kind)
        if not isinstance(value, dict):
            return _schema_checked(value, component)
        # Checked as the document says them: the text input's limit is the context length.
        _schema_checked(typed_supported_inputs(kind, value, self.parent.context_length), component)
        return value


_FLAT_NAMES = frozenset(SamplingParameter.values) | frozenset(Feature.values)


def said_by_ticks(name: str, descriptor) -> bool:
    """Whether a descriptor is what ticking a sampling parameter or feature writes."""
    if name in Feature.values:
        return descriptor == FEATURE_DESCRIPTOR
    return name in SamplingParameter.values and descriptor == SAMPLING_DESCRIPTOR


class ModalityFormSet(_WithMainForm):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "parent": self}

    @property
    def context_length(self) -> int:
        """The context length the page leaves (the text input's limit in the typed format):
        the stored one while the main form refuses the one typed, which it names."""
        form = self.main_form
        if form is not None and form.has_error("context_length"):
            return form.initial["context_length"]
        return self.instance.context_length

    def applied(self, offering: Offering) -> Offering:
        """``offering`` with the details edited here (of the modalities still ticked)."""
        specs = {spec.scope: spec for spec in offering.modalities}
        for form in self.forms:
            if form.has_changed() and form.scope in specs:
                row = form.instance  # the form's values (``ModelForm._post_clean``)
                specs[form.scope] = replace(
                    specs[form.scope],
                    **{name: getattr(row, name) for name in ModalityForm.Meta.fields},
                )
        return replace(offering, modalities=tuple(specs.values()))


def offering_of_page(form: ServedModelForm, formsets: Iterable) -> Offering:
    """The offering a valid admin page describes: the main form's (its flat values over the
    stored one), with the inlines' modality details, prices and capacities."""
    offering = form.composed
    for formset in formsets:
        if isinstance(formset, ModalityFormSet):
            offering = formset.applied(offering)
        elif isinstance(formset, _ScopedRowFormSet):
            offering = replace(offering, **{formset.part: getattr(formset.composed, formset.part)})
    return offering
