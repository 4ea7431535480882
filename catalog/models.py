"""The catalog: the models this provider serves, their prices, datacenters and capabilities."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce
from django.dispatch import Signal
from django.utils import timezone
from simple_history.models import HistoricalRecords

from catalog.choices import (
    ALL_WEEKDAYS,
    CACHE_TYPES,
    INPUT_TYPES,
    INPUT_UNITS,
    OUTPUT_TYPES,
    OUTPUT_UNITS,
    REQUEST_UNITS,
    CapacityType,
    CapacityWindow,
    Direction,
    InputModality,
    OutputModality,
    PriceType,
    PriceUnit,
    Quantization,
)
from catalog.validators import (
    HUGGING_FACE_ID_RE,
    INVISIBLE_CHARACTERS_PATTERN,
    country_name,
    validate_country_code,
    validate_display_name,
    validate_hugging_face_id,
    validate_model_id,
)

# Prices are stored exactly, in USD per token (per image, per request). 24 decimal places hold
# the smallest prices in use (0.0000000208333333333333 has 22); 10 integer digits hold any
# per-image or per-request price.
PRICE_MAX_DIGITS = 34
PRICE_DECIMAL_PLACES = 24
MODEL_ID_MAX_LENGTH = 200

# The database's own spelling of the ID rule: no whitespace, no control characters.
_MODEL_ID_SQL_RE = r"^[^[:space:][:cntrl:]]+$"
_NO_CONTROL_CHARACTERS_SQL_RE = r"^[^[:cntrl:]]*$"


# Sent after a bulk write through CatalogQuerySet changed rows (sender: the model class,
# ``using``: the database), as post_save is after a save: bulk writes send no model signals.
# catalog.signals turns it into ``catalog_changed`` once the transaction commits.
written_in_bulk = Signal()


class CatalogQuerySet(models.QuerySet):
    """Announces bulk writes (``written_in_bulk``), which send no model signals.

    The revision in PostgreSQL moves with every write (a trigger, see the migrations); this
    announcement is what tells a shared cache at once.
    """

    def _announce(self):
        written_in_bulk.send(sender=self.model, using=self.db)

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        if rows:
            self._announce()
        return rows

    def delete(self):
        result = super().delete()
        if result[0]:
            self._announce()
        return result

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            self._announce()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        rows = super().bulk_update(objs, fields, *args, **kwargs)
        if rows:
            self._announce()
        return rows


class Datacenter(models.Model):
    """A place where the provider runs the hardware that serves models: a country, or a region
    of one (the typed format's ``region``, such as ``us-east-1``; the flat format lists only
    countries)."""

    country_code = models.CharField(
        "country code",
        max_length=2,
        validators=[validate_country_code],
        help_text="ISO 3166-1 alpha-2, in capitals: US, DE, GB (not UK), FR.",
    )
    region = models.CharField(
        max_length=64,
        blank=True,
        help_text="Optional, such as us-east-1; only the typed format shows it.",
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["country_code", "region"]
        constraints = [
            models.CheckConstraint(
                condition=Q(country_code__regex=r"^[A-Z]{2}$"),
                name="datacenter_country_code_alpha2",
            ),
            models.UniqueConstraint(
                fields=["country_code", "region"], name="datacenter_one_per_country_region"
            ),
            models.CheckConstraint(
                condition=Q(region__regex=_NO_CONTROL_CHARACTERS_SQL_RE),
                name="datacenter_region_no_control",
            ),
        ]

    def __str__(self):
        return f"{self.country_code} {self.region}" if self.region else self.country_code

    @property
    def country_name(self) -> str:
        return country_name(self.country_code)


class ChangedFields(models.Model):
    """What each history record of a served model changed, stored so that staff can filter on it.

    The names are the wire fields (``pricing.prompt``, ``datacenters``, ...) and ``published``,
    as ``import_models`` reports them; empty for a creation, a deletion, or a change to a model
    with no earlier record to compare with.
    """

    changed_fields = ArrayField(
        models.CharField(max_length=40), default=list, blank=True, verbose_name="changed fields"
    )

    class Meta:
        abstract = True


class DatacenterSnapshot(models.Model):
    """The country code of each datacenter link a history record saw, kept with the record.

    The copied link only holds the datacenter's id, which says nothing once the datacenter is
    deleted (the copy has no database constraint and survives it) or its code corrected.
    """

    country_code = models.CharField("country code", max_length=2)
    region = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        abstract = True


class OfferingSnapshot(models.Model):
    """A history record's copy of the model's modalities, prices and capacities, as JSON.

    The child rows change and disappear; the record must still rebuild the catalog as it was
    (``--as-of``) from its own row, in the same three queries as before. The shape is
    ``catalog.offering.Offering.as_json()``, written in SQL by ``catalog_offering_snapshot()``
    (migration 0010, redefined by 0012 and 0016) for every record, bulk or one at a time.
    """

    offering = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class _ServedModelHistory(HistoricalRecords):
    """simple-history's records, except for links changed from the datacenter's side.

    For ``datacenter.models.add(model)`` the library would record the datacenter, which has no
    history (and fail); catalog.history records each served model whose links changed instead.
    """

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        return None


# Named, so that catalog.history can write an admin save (fields and datacenters) as one record.
SERVED_MODEL_HISTORY = _ServedModelHistory(
    m2m_fields=["datacenters"],
    bases=[ChangedFields, OfferingSnapshot],
    m2m_bases=[DatacenterSnapshot],
    history_id_field=models.BigAutoField(),
    # Long enough for an import's source, which may be a long URL.
    history_change_reason_field=models.TextField(null=True),
    verbose_name="served model change",
    verbose_name_plural="recent changes",
)


def _price_decimal(verbose_name: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(
        verbose_name, max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES, **kwargs
    )


# A clock time written HHMM (the typed and flat formats' utc_start/utc_end): 0-2359, minutes < 60.
def _hhmm(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | (
        Q(**{f"{field}__gte": 0}, **{f"{field}__lte": 2359})
        & Q(**{f"{field}__lt": models.F(field) - models.F(field) % 100 + 60})
    )


class ServedModel(models.Model):
    """One model the provider serves: the root of everything OpenRouter's formats show of it.

    Its modalities, prices and capacities are rows of their own (``Modality``, ``PriceEntry``,
    ``CapacityEntry``), read and written as one structure (``catalog.offering.Offering``) by
    ``catalog.offering.stored_offering`` and ``catalog.actions``.
    """

    model_id = models.CharField(
        "ID",
        max_length=MODEL_ID_MAX_LENGTH,
        unique=True,
        validators=[validate_model_id],
        help_text="Exactly the identifier the router sends to our API, e.g. "
        "meta-llama/Llama-3.3-70B-Instruct. Case-sensitive; no spaces.",
    )
    hugging_face_id = models.CharField(
        "Hugging Face ID",
        max_length=MODEL_ID_MAX_LENGTH,
        blank=True,
        validators=[validate_hugging_face_id],
        help_text="owner/name on Hugging Face; empty when the model is not there.",
    )
    name = models.CharField(max_length=200, validators=[validate_display_name])
    created = models.DateTimeField(help_text="When the model was added (published as Unix time).")
    quantization = models.CharField(max_length=8, choices=Quantization.choices)
    context_length = models.PositiveIntegerField(help_text="Input and output tokens together.")
    max_output_length = models.PositiveIntegerField(help_text="At most the context length.")
    datacenters = models.ManyToManyField(Datacenter, blank=True, related_name="models")
    deprecation_date = models.DateField(
        null=True, blank=True, help_text="The day the model stops being served, if planned."
    )
    deprecation_hour = models.PositiveSmallIntegerField(
        "deprecation hour (UTC)",
        null=True,
        blank=True,
        help_text="0-23; empty means the bare date, which OpenRouter reads as 13:00 UTC.",
    )
    description = models.TextField(blank=True)
    tokenizer = models.CharField(max_length=200, blank=True)
    is_ready = models.BooleanField(
        "ready",
        default=True,
        help_text="Unticked keeps the model listed but hidden on OpenRouter (staged).",
    )
    is_free = models.BooleanField(
        "free variant", default=False, help_text="OpenRouter ignores the prices of a free variant."
    )
    discount_to_user = _price_decimal(
        "discount to user",
        null=True,
        blank=True,
        help_text="Below 1: user price = price x (1 - discount); negative is a markup. "
        "Empty means none.",
    )
    openrouter_slug = models.CharField(
        "OpenRouter slug",
        max_length=MODEL_ID_MAX_LENGTH,
        blank=True,
        help_text="The model on OpenRouter this one maps to; empty when unknown.",
    )
    deployment_region = models.CharField(max_length=64, blank=True)
    compliance = models.JSONField(
        default=dict, blank=True, help_text='Flags such as {"zdr": true, "hipaa": false}.'
    )
    passthrough_parameters = models.JSONField(
        "request passthrough parameters", default=dict, blank=True
    )
    is_published = models.BooleanField(
        "published",
        default=False,
        help_text="Only published models appear on the public endpoint.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogQuerySet.as_manager()
    # Every change, with who made it and the datacenters as they were (see catalog.history).
    history = SERVED_MODEL_HISTORY

    class Meta:
        ordering = ["model_id"]
        verbose_name = "served model"
        constraints = [
            models.CheckConstraint(
                condition=Q(model_id__regex=_MODEL_ID_SQL_RE),
                name="servedmodel_model_id_no_space_or_control",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=_NO_CONTROL_CHARACTERS_SQL_RE),
                name="servedmodel_name_no_control",
            ),
            # The Hugging Face ID needs none: its owner/name pattern is ASCII only.
            models.CheckConstraint(
                condition=~Q(model_id__regex=INVISIBLE_CHARACTERS_PATTERN),
                name="servedmodel_model_id_no_invisible",
            ),
            models.CheckConstraint(
                condition=~Q(name__regex=INVISIBLE_CHARACTERS_PATTERN),
                name="servedmodel_name_no_invisible",
            ),
            models.CheckConstraint(
                # PostgreSQL reads this pattern as Python's fullmatch() does.
                condition=Q(hugging_face_id="")
                | Q(hugging_face_id__regex=HUGGING_FACE_ID_RE.pattern),
                name="servedmodel_hugging_face_id_owner_name",
            ),
            models.CheckConstraint(
                condition=Q(context_length__gt=0), name="servedmodel_context_length_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_output_length__gt=0),
                name="servedmodel_max_output_length_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_output_length__lte=models.F("context_length")),
                name="servedmodel_max_output_within_context",
            ),
            models.CheckConstraint(
                condition=Q(quantization__in=Quantization.values),
                name="servedmodel_quantization_known",
            ),
            models.CheckConstraint(
                condition=Q(deprecation_hour__isnull=True)
                | (
                    Q(deprecation_date__isnull=False)
                    & Q(deprecation_hour__gte=0)
                    & Q(deprecation_hour__lte=23)
                ),
                name="servedmodel_deprecation_hour_of_a_date",
            ),
            models.CheckConstraint(
                condition=Q(discount_to_user__isnull=True) | Q(discount_to_user__lt=1),
                name="servedmodel_discount_below_one",
            ),
            models.CheckConstraint(
                condition=Q(openrouter_slug__regex=r"^[^[:space:][:cntrl:]]*$"),
                name="servedmodel_openrouter_slug_no_space_or_control",
            ),
        ]

    def __str__(self):
        return self.model_id

    def clean(self):
        """The rules that span fields, keyed by field; the offering's own in ``Offering``."""
        errors = {}
        # PositiveIntegerField accepts 0; the format needs at least one token. Checked here
        # too (not only by the constraints) for callers that skip the per-row constraint
        # queries, such as the importer.
        for field in ("context_length", "max_output_length"):
            value = getattr(self, field)
            if value is not None and value < 1:
                errors[field] = ValidationError("Must be at least 1 token.", code="min_value")
        if (
            self.context_length is not None
            and self.max_output_length is not None
            and self.max_output_length > self.context_length
        ):
            errors["max_output_length"] = ValidationError(
                "The maximum output length (%(max)s) must not exceed the context length "
                "(%(context)s).",
                code="above_context_length",
                params={"max": self.max_output_length, "context": self.context_length},
            )
        if self.deprecation_hour is not None:
            if not 0 <= self.deprecation_hour <= 23:
                errors["deprecation_hour"] = ValidationError(
                    "An hour of the day, 0 to 23 (UTC).", code="invalid_hour"
                )
            elif self.deprecation_date is None:
                errors["deprecation_hour"] = ValidationError(
                    "An hour needs a deprecation date.", code="hour_without_date"
                )
        if self.discount_to_user is not None and self.discount_to_user >= 1:
            errors["discount_to_user"] = ValidationError(
                "A discount must be below 1 (1 would make the model free; use the free "
                "variant flag).",
                code="discount_too_large",
            )
        if self.openrouter_slug and any(
            char.isspace() or not char.isprintable() for char in self.openrouter_slug
        ):
            errors["openrouter_slug"] = ValidationError(
                "The slug must not contain whitespace or control characters.",
                code="invalid_characters",
            )
        if errors:
            raise ValidationError(errors)


# The history's records (``ServedModel.history``) and their datacenter links: simple-history
# builds these classes with ServedModel, so a type checker sees neither them nor their fields
# (``HistoryRecord`` names a record in annotations).
HistoricalServedModel = ServedModel.history.model
HistoricalDatacenterLink = HistoricalServedModel.datacenters.model
HistoryRecord = Any


class Modality(models.Model):
    """A kind of input or output a model takes or gives, with what the typed format says of it.

    The flat ``input_modalities``/``output_modalities`` are the kinds. Descriptor maps and
    ``supported_inputs`` are JSON validated against the official schema's components.
    """

    model = models.ForeignKey(ServedModel, on_delete=models.CASCADE, related_name="modalities")
    direction = models.CharField(max_length=6, choices=Direction.choices)
    kind = models.CharField(
        max_length=16,
        choices=sorted(
            set(InputModality.choices) | set(OutputModality.choices), key=lambda c: c[0]
        ),
    )
    # The order of the typed document's list; the flat format lists kinds in canonical order.
    position = models.PositiveSmallIntegerField(default=0)
    supported_inputs = models.JSONField(
        default=dict, blank=True, help_text="Input only: sources, formats, limits."
    )
    supported_parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Output only: parameter -> descriptor, such as "
        '{"temperature": {"type": "range", "min": 0, "max": 2}, "tools": {"type": "boolean"}}.',
    )
    passthrough_parameters = models.JSONField(default=dict, blank=True)
    streaming = models.BooleanField(null=True, blank=True, help_text="Output only.")

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["model", "direction", "position", "kind"]
        verbose_name_plural = "modalities"
        constraints = [
            models.UniqueConstraint(
                fields=["model", "direction", "kind"], name="modality_one_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(direction=Direction.INPUT, kind__in=InputModality.values)
                | Q(direction=Direction.OUTPUT, kind__in=OutputModality.values),
                name="modality_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(direction=Direction.OUTPUT)
                | (Q(supported_parameters={}) & Q(streaming__isnull=True)),
                name="modality_output_fields_on_outputs",
            ),
            models.CheckConstraint(
                condition=Q(direction=Direction.INPUT) | Q(supported_inputs={}),
                name="modality_supported_inputs_on_inputs",
            ),
        ]

    def __str__(self):
        return f"{self.direction} {self.kind}"

    def clean(self):
        errors = {}
        if self.direction == Direction.INPUT and self.supported_parameters:
            errors["supported_parameters"] = ValidationError(
                "Only an output modality has supported parameters.", code="input_parameters"
            )
        if self.direction == Direction.OUTPUT and self.supported_inputs:
            errors["supported_inputs"] = ValidationError(
                "Only an input modality has supported inputs.", code="output_inputs"
            )
        if errors:
            raise ValidationError(errors)


def _price_scope_rules(type_field: str, unit_field: str, *, with_concurrency: bool) -> Q:
    """Each type in its own scope (root = no modality) with the units that scope allows."""
    root = Q(modality__isnull=True) & (
        Q(**{type_field: "request", unit_field: REQUEST_UNITS["request"]})
        | Q(**{type_field: "web_search", unit_field: REQUEST_UNITS["web_search"]})
    )
    on_modality = Q(modality__isnull=False) & (
        Q(**{f"{type_field}__in": INPUT_TYPES, f"{unit_field}__in": INPUT_UNITS})
        | Q(**{f"{type_field}__in": OUTPUT_TYPES, f"{unit_field}__in": OUTPUT_UNITS})
    )
    rule = root | on_modality
    if with_concurrency:
        rule |= Q(**{type_field: "concurrency", unit_field: "request"})
    return rule


# Where a price's identity has a NULL column, a value no row holds in it, so that the exclusion
# constraint (where NULL equals nothing) finds two NULLs equal, as the unique one does
# (nulls_distinct=False): no modality (the root), no lifetime (> 0), no caching flag, no window.
_IDENTITY_WITHOUT_NULLS = (
    Coalesce("modality", models.Value(0)),
    "price_type",
    "unit",
    Coalesce("ttl_seconds", models.Value(0)),
    Coalesce(Cast("implicit", models.IntegerField()), models.Value(-1)),
    Coalesce("utc_start", models.Value(-1)),
    Coalesce("utc_end", models.Value(-1)),
    Coalesce("utc_days", models.Value(0)),
)


class PriceEntry(models.Model):
    """One price: what it charges for (type, unit), in which scope, and its qualifiers.

    The scope is a modality, or none for the request as a whole (``request``, ``web_search``).
    The identity is the scope, the type and the qualifiers (cache lifetime, implicit caching,
    time window, weekdays): two entries with one identity are refused. ``overrides`` are the
    conditional prices (``PricingOverride``: ``{"when": predicate, "cost_usd": "…"}``), the
    later winning.
    A row holds its price for a span of time: from ``valid_from`` (NULL: ever since it was
    written) until ``valid_until`` (NULL: until further notice). A scheduled change
    (``PriceSchedule``, ``catalog.actions.schedule``) ends the row in force at its moment and
    starts the new price there, so every reader picks the rows in force at the moment it reads
    (``PriceEntry.in_force_at``) and nothing is written when the moment comes.
    """

    model = models.ForeignKey(ServedModel, on_delete=models.CASCADE, related_name="prices")
    modality = models.ForeignKey(
        Modality, on_delete=models.CASCADE, null=True, blank=True, related_name="prices"
    )
    price_type = models.CharField("type", max_length=20, choices=PriceType.choices)
    unit = models.CharField(max_length=12, choices=PriceUnit.choices)
    cost_usd = _price_decimal("cost (USD per unit)", validators=[MinValueValidator(Decimal(0))])
    ttl_seconds = models.PositiveIntegerField("cache lifetime (seconds)", null=True, blank=True)
    implicit = models.BooleanField("implicit caching", null=True, blank=True)
    utc_start = models.PositiveSmallIntegerField("window start (HHMM UTC)", null=True, blank=True)
    utc_end = models.PositiveSmallIntegerField("window end (HHMM UTC)", null=True, blank=True)
    # The UTC weekdays the entry applies on, as bits (``catalog.choices.weekday_bits``); NULL:
    # every day. With a window it limits the window, without one it covers those whole days.
    utc_days = models.PositiveSmallIntegerField("weekdays (UTC)", null=True, blank=True)
    overrides = models.JSONField(default=list, blank=True)
    valid_from = models.DateTimeField("in force from", null=True, blank=True, editable=False)
    valid_until = models.DateTimeField("in force until", null=True, blank=True, editable=False)

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["model", "modality", "price_type", "utc_start", "ttl_seconds"]
        verbose_name = "price"
        verbose_name_plural = "prices"
        constraints = [
            # One row per identity and start: a price and its scheduled successors.
            models.UniqueConstraint(
                fields=[
                    "model",
                    "modality",
                    "price_type",
                    "unit",
                    "ttl_seconds",
                    "implicit",
                    "utc_start",
                    "utc_end",
                    "utc_days",
                    "valid_from",
                ],
                name="priceentry_one_per_identity_and_start",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lt=models.F("valid_until")),
                name="priceentry_valid_from_before_until",
            ),
            # Never two rows of one identity in force at once, whoever writes (btree_gist: the
            # identity's columns in a GiST index beside the time range; NULL ends are open).
            ExclusionConstraint(
                name="priceentry_one_in_force_per_identity",
                expressions=[
                    ("model", RangeOperators.EQUAL),
                    *((expression, RangeOperators.EQUAL) for expression in _IDENTITY_WITHOUT_NULLS),
                    (
                        models.Func(
                            "valid_from",
                            "valid_until",
                            models.Value("[)"),
                            function="tstzrange",
                            output_field=DateTimeRangeField(),
                        ),
                        RangeOperators.OVERLAPS,
                    ),
                ],
            ),
            models.CheckConstraint(
                condition=Q(cost_usd__gte=0), name="priceentry_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=_price_scope_rules("price_type", "unit", with_concurrency=False),
                name="priceentry_type_unit_scope",
            ),
            models.CheckConstraint(
                condition=Q(utc_start__isnull=True, utc_end__isnull=True)
                | (
                    Q(utc_start__isnull=False, utc_end__isnull=False)
                    & ~Q(utc_start=models.F("utc_end"))
                ),
                name="priceentry_window_both_ends_differ",
            ),
            models.CheckConstraint(
                condition=_hhmm("utc_start") & _hhmm("utc_end"), name="priceentry_window_hhmm"
            ),
            models.CheckConstraint(
                condition=Q(ttl_seconds__isnull=True) | Q(ttl_seconds__gt=0),
                name="priceentry_ttl_positive",
            ),
            models.CheckConstraint(
                # All seven days is every day: NULL, one identity (migration 0019).
                condition=Q(utc_days__isnull=True) | Q(utc_days__gte=1, utc_days__lt=ALL_WEEKDAYS),
                name="priceentry_weekdays_bits",
            ),
            models.CheckConstraint(
                condition=Q(ttl_seconds__isnull=True, implicit__isnull=True)
                | Q(price_type__in=CACHE_TYPES),
                name="priceentry_cache_qualifiers_on_cache_prices",
            ),
        ]

        indexes = [
            # The next moment a price starts or ends (how long a rendered body stays valid).
            models.Index(
                fields=["valid_from"],
                condition=Q(valid_from__isnull=False),
                name="priceentry_starts",
            ),
            models.Index(
                fields=["valid_until"],
                condition=Q(valid_until__isnull=False),
                name="priceentry_ends",
            ),
        ]

    def __str__(self):
        # Plain notation: staff read it on the edit page and in the admin log (4E-7 otherwise).
        return f"{self.price_type} per {self.unit}: {self.cost_usd.normalize():f}"

    @staticmethod
    def in_force_at(moment) -> Q:
        """The rows in force at ``moment``."""
        return (Q(valid_from__isnull=True) | Q(valid_from__lte=moment)) & (
            Q(valid_until__isnull=True) | Q(valid_until__gt=moment)
        )


class CapacityEntry(models.Model):
    """How much of a priced quantity the provider can take per minute, hour or day, or how many
    requests at once (``concurrency``, which has no window). Identity: scope, type, unit, per."""

    model = models.ForeignKey(ServedModel, on_delete=models.CASCADE, related_name="capacities")
    modality = models.ForeignKey(
        Modality, on_delete=models.CASCADE, null=True, blank=True, related_name="capacities"
    )
    capacity_type = models.CharField("type", max_length=20, choices=CapacityType.choices)
    unit = models.CharField(max_length=12, choices=PriceUnit.choices)
    # NULL, not "", for concurrency, which has no window: the typed format omits ``per`` there,
    # and the identity constraint reads NULLs as equal (nulls_distinct=False).
    per = models.CharField(  # noqa: DJ001
        max_length=6, choices=CapacityWindow.choices, null=True, blank=True
    )
    value = models.PositiveBigIntegerField()

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["model", "modality", "capacity_type", "unit", "per"]
        verbose_name = "capacity"
        verbose_name_plural = "capacities"
        constraints = [
            models.UniqueConstraint(
                fields=["model", "modality", "capacity_type", "unit", "per"],
                name="capacityentry_one_per_identity",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="capacityentry_value_positive"),
            models.CheckConstraint(
                condition=_price_scope_rules("capacity_type", "unit", with_concurrency=True),
                name="capacityentry_type_unit_scope",
            ),
            models.CheckConstraint(
                condition=Q(capacity_type="concurrency", per__isnull=True)
                | (~Q(capacity_type="concurrency") & Q(per__in=CapacityWindow.values)),
                name="capacityentry_window_unless_concurrency",
            ),
        ]

    def __str__(self):
        per = f" per {self.per}" if self.per else " at once"
        return f"{self.capacity_type}: {self.value} {self.unit}{per}"


class PriceSchedule(models.Model):
    """A change of some of a model's prices, scheduled for a moment (UTC, to the minute).

    The prices themselves are ``PriceEntry`` rows, in force from ``effective_at``
    (``catalog.actions.schedule`` writes them and ends the rows they replace); this row says who
    scheduled the change, from what, and what it changes (``changes``: each price's identity
    label with its cost before and after, per unit, as text), and whether it was cancelled
    before it started. It is kept after it took effect: the history reads it.
    """

    model = models.ForeignKey(ServedModel, on_delete=models.CASCADE, related_name="schedules")
    effective_at = models.DateTimeField("takes effect at")
    created_at = models.DateTimeField("scheduled at", default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="scheduled by",
    )
    source = models.CharField(max_length=200, blank=True, editable=False)
    changes = models.JSONField(default=list, editable=False)
    # Customers must hear of a price change ahead; a confidential one is in no public output
    # (pages, API, feed) before its moment.
    announced = models.BooleanField(
        default=True,
        editable=False,
        help_text="Shown to the public ahead of its moment; a confidential change is not.",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["effective_at", "model"]
        verbose_name = "scheduled price change"
        verbose_name_plural = "scheduled price changes"
        constraints = [
            # One pending change per model and moment (a second one at that moment joins it).
            models.UniqueConstraint(
                fields=["model", "effective_at"],
                condition=Q(cancelled_at__isnull=True),
                name="priceschedule_one_per_model_and_moment",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True)
                | Q(cancelled_at__lt=models.F("effective_at")),
                name="priceschedule_cancelled_before_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["effective_at"], name="priceschedule_effective_at")]

    def __str__(self):
        return f"{self.model.model_id} from {self.effective_at:%Y-%m-%d %H:%M} UTC"

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


class CatalogRevision(models.Model):
    """A single row whose number moves with every committed change to the catalog.

    Statement-level triggers on the catalog tables (migration 0002) bump it inside the writing
    transaction, so it becomes visible at commit together with the data it describes: a reader
    that sees the new data sees the new number, whatever wrote it (admin, import, shell, SQL).
    """

    number = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"catalog revision {self.number}"
