"""The catalog: the models this provider serves, their prices, datacenters and capabilities."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pycountry
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from simple_history.models import HistoricalRecords

from catalog.choices import (
    Feature,
    InputModality,
    OutputModality,
    Quantization,
    SamplingParameter,
    canonical,
)
from catalog.validators import (
    HUGGING_FACE_ID_RE,
    INVISIBLE_CHARACTERS_PATTERN,
    validate_country_code,
    validate_display_name,
    validate_hugging_face_id,
    validate_model_id,
    validate_price_per_token,
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

PRICE_FIELDS = (
    "price_prompt",
    "price_completion",
    "price_image",
    "price_request",
    "price_input_cache_read",
)
# Prices charged per token; the others are per image and per request.
PER_TOKEN_PRICE_FIELDS = ("price_prompt", "price_completion", "price_input_cache_read")


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
    """A country where the provider runs the hardware that serves models."""

    country_code = models.CharField(
        "country code",
        max_length=2,
        unique=True,
        validators=[validate_country_code],
        help_text="ISO 3166-1 alpha-2, in capitals: US, DE, GB (not UK), FR.",
    )

    objects = CatalogQuerySet.as_manager()

    class Meta:
        ordering = ["country_code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(country_code__regex=r"^[A-Z]{2}$"),
                name="datacenter_country_code_alpha2",
            ),
        ]

    def __str__(self):
        return self.country_code

    @property
    def country_name(self) -> str:
        country = pycountry.countries.get(alpha_2=self.country_code)
        return country.name if country else ""


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
    bases=[ChangedFields],
    m2m_bases=[DatacenterSnapshot],
    history_id_field=models.BigAutoField(),
    # Long enough for an import's source, which may be a long URL.
    history_change_reason_field=models.TextField(null=True),
    verbose_name="served model change",
    verbose_name_plural="recent changes",
)


def _price_field(verbose_name: str, *, per_token: bool) -> models.DecimalField:
    validators: list[Callable[[Decimal], None]] = [MinValueValidator(Decimal(0))]
    if per_token:
        validators.append(validate_price_per_token)
    return models.DecimalField(
        verbose_name,
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        default=Decimal(0),
        validators=validators,
    )


class ServedModel(models.Model):
    """One model the provider serves, with everything OpenRouter's model list shows of it."""

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
    input_modalities = ArrayField(
        models.CharField(max_length=16, choices=InputModality.choices),
        default=list,
    )
    output_modalities = ArrayField(
        models.CharField(max_length=16, choices=OutputModality.choices),
        default=list,
    )
    quantization = models.CharField(max_length=8, choices=Quantization.choices)
    context_length = models.PositiveIntegerField(help_text="Input and output tokens together.")
    max_output_length = models.PositiveIntegerField(help_text="At most the context length.")
    price_prompt = _price_field("prompt price", per_token=True)
    price_completion = _price_field("completion price", per_token=True)
    price_image = _price_field("image price", per_token=False)
    price_request = _price_field("request price", per_token=False)
    price_input_cache_read = _price_field("cached input price", per_token=True)
    supported_sampling_parameters = ArrayField(
        models.CharField(max_length=32, choices=SamplingParameter.choices),
        default=list,
        blank=True,
    )
    supported_features = ArrayField(
        models.CharField(max_length=32, choices=Feature.choices),
        default=list,
        blank=True,
    )
    datacenters = models.ManyToManyField(Datacenter, blank=True, related_name="models")
    deprecation_date = models.DateField(
        null=True, blank=True, help_text="The day the model stops being served, if planned."
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
                condition=Q(input_modalities__len__gt=0)
                & Q(input_modalities__contained_by=InputModality.values),
                name="servedmodel_input_modalities_known",
            ),
            models.CheckConstraint(
                condition=Q(output_modalities__len__gt=0)
                & Q(output_modalities__contained_by=OutputModality.values),
                name="servedmodel_output_modalities_known",
            ),
            models.CheckConstraint(
                condition=Q(supported_sampling_parameters__contained_by=SamplingParameter.values),
                name="servedmodel_sampling_parameters_known",
            ),
            models.CheckConstraint(
                condition=Q(supported_features__contained_by=Feature.values),
                name="servedmodel_features_known",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{field}__gte": 0}), name=f"servedmodel_{field}_non_negative"
                )
                for field in PRICE_FIELDS
            ),
        ]

    def __str__(self):
        return self.model_id

    def clean(self):
        """Canonical list order and the rules that span fields, keyed by field."""
        self.input_modalities = canonical(self.input_modalities or [], InputModality)
        self.output_modalities = canonical(self.output_modalities or [], OutputModality)
        self.supported_sampling_parameters = canonical(
            self.supported_sampling_parameters or [], SamplingParameter
        )
        self.supported_features = canonical(self.supported_features or [], Feature)
        errors = {}
        # PositiveIntegerField accepts 0; the format needs at least one token. Checked here
        # too (not only by the constraints) for callers that skip the per-row constraint
        # queries, such as the importer.
        for field in ("context_length", "max_output_length"):
            value = getattr(self, field)
            if value is not None and value < 1:
                errors[field] = ValidationError("Must be at least 1 token.", code="min_value")
        if not self.input_modalities:
            errors["input_modalities"] = ValidationError(
                "Choose at least one input modality.", code="required"
            )
        if not self.output_modalities:
            errors["output_modalities"] = ValidationError(
                "Choose at least one output modality.", code="required"
            )
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
        if errors:
            raise ValidationError(errors)


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
