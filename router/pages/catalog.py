"""What the public pages show, read once per catalog revision and price validity.

``read_catalog`` reads the published, ready models with their offerings in one snapshot (the
endpoint's: ``catalog.formats.published.in_snapshot``, which also gives the revision and the
next moment a price starts or ends) and turns each into a ``PageModel``: plain values to filter
and sort on, and the HTML of its table row, rendered here once. Requests then filter and sort
these in memory (``router.pages.views``): no query, no template per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.urls import reverse
from django.utils.html import escape

from catalog import validators
from catalog.choices import (
    Direction,
    Feature,
    InputModality,
    OutputModality,
    Quantization,
    SamplingParameter,
    canonical,
)
from catalog.formats.flat.offering import (
    FEATURE_DESCRIPTOR,
    FlatFields,
    offering_flat_fields,
    plain_decimal,
)
from catalog.formats.published import in_snapshot
from catalog.formats.typed.published import published_offerings
from catalog.models import PriceSchedule, ServedModel
from catalog.offering import Offering
from catalog.presentation import per_million
from catalog.timeline import announced_changes, announced_upcoming
from router.pages import prices
from router.pages.chart import announcement
from router.pages.prices import moment_text

_EMPTY = Offering()
FEATURE_LABELS = dict(Feature.choices)
QUANTIZATION_LABELS = dict(Quantization.choices)
_FIELDS = (
    "model_id",
    "hugging_face_id",
    "name",
    "created",
    "quantization",
    "context_length",
    "max_output_length",
    "deprecation_date",
    "deprecation_hour",
    "description",
    "is_free",
    "discount_to_user",
)


def country_name(code: str) -> str:
    """The country of ``code``, or the code itself when ISO 3166-1 lacks it."""
    return validators.country_name(code) or code


def deprecation_moment(day: date, hour: int | None) -> datetime:
    # A bare date is read by OpenRouter as 13:00 UTC that day (../shared/docs/CONTRACTS.md).
    return datetime(day.year, day.month, day.day, 13 if hour is None else hour, tzinfo=UTC)


@dataclass(frozen=True)
class PageModel:
    pk: int
    model_id: str
    name: str
    hugging_face_id: str
    description: str
    created: datetime
    quantization: str
    context_length: int
    max_output_length: int
    is_free: bool
    discount: Decimal | None
    deprecation: datetime | None
    countries: tuple[tuple[str, str], ...]  # (code, name), by name
    offering: Offering = field(repr=False)
    flat: FlatFields = field(repr=False)
    cache_write: Decimal | None
    # Announced price changes not yet in force, in words (never a confidential one).
    upcoming: tuple[str, ...] = ()
    row_html: str = field(default="", repr=False)

    @property
    def inputs(self) -> list[str]:
        return self.flat["input_modalities"]

    @property
    def outputs(self) -> list[str]:
        return self.flat["output_modalities"]

    @property
    def features(self) -> list[str]:
        return self.flat["supported_features"]

    def parameters(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Each output modality's parameters, by kind, each with its typed descriptor in words
        ("" where the catalog holds none). A feature as a flat catalog ticks it (a bare
        boolean) is left to ``feature_labels``."""
        shown = []
        for spec in self.offering.modalities:
            if spec.direction != Direction.OUTPUT:
                continue
            descriptors = spec.supported_parameters
            words = [
                (name, prices.descriptor_text(descriptors[name]))
                for name in canonical(descriptors, SamplingParameter)
                if not (name in FEATURE_LABELS and descriptors[name] == FEATURE_DESCRIPTOR)
            ]
            if words:
                shown.append((spec.kind, words))
        return shown

    @property
    def quantization_label(self) -> str:
        return QUANTIZATION_LABELS.get(self.quantization, self.quantization)

    @property
    def feature_labels(self) -> list[str]:
        return [FEATURE_LABELS.get(name, name) for name in self.features]

    @property
    def price(self) -> dict[str, Decimal]:
        return self.flat["prices"]

    @property
    def price_notes(self) -> list[str]:
        """Tiers or windows in words, as OpenRouter is told them."""
        return prices.override_lines(self.flat["overrides"])

    @property
    def deprecation_text(self) -> str:
        return moment_text(self.deprecation) if self.deprecation else ""

    @property
    def search_text(self) -> str:
        return f"{self.name}\n{self.model_id}".casefold()

    def per_million(self, key: str) -> str:
        """A flat token price per 1M tokens ("0.15"), "" when not set (zero)."""
        cost = self.price.get(key) or Decimal(0)
        return plain_decimal(per_million(cost)) if cost else ""

    @property
    def cache_write_per_million(self) -> str:
        return plain_decimal(per_million(self.cache_write)) if self.cache_write else ""


@dataclass(frozen=True)
class PageCatalog:
    revision: int
    valid_until: float | None  # Unix time of the next price start or end; None: open
    models: tuple[PageModel, ...]  # by name, then id
    by_id: dict[str, PageModel]
    # Served while PostgreSQL is unreachable, not known to be current (router.pages.cache).
    stale: bool = False

    @property
    def stamp(self) -> tuple[int, float | None]:
        return (self.revision, self.valid_until)

    def current_at(self, revision: int, now: float) -> bool:
        return self.revision == revision and (self.valid_until is None or now < self.valid_until)

    def choices(self) -> dict[str, list[tuple[str, str]]]:
        """The filters' options: only values some model has, in canonical order."""
        inputs = canonical({k for m in self.models for k in m.inputs}, InputModality)
        outputs = canonical({k for m in self.models for k in m.outputs}, OutputModality)
        features = canonical({f for m in self.models for f in m.features}, Feature)
        quants = canonical({m.quantization for m in self.models}, Quantization)
        countries = sorted({c for m in self.models for c in m.countries}, key=lambda c: c[1])
        return {
            "in": [(k, k) for k in inputs],
            "out": [(k, k) for k in outputs],
            "feature": [(f, FEATURE_LABELS.get(f, f)) for f in features],
            "quant": [(q, QUANTIZATION_LABELS.get(q, q)) for q in quants],
            "country": [(code, name) for code, name in countries],
        }


def read_catalog() -> PageCatalog:
    """The pages' catalog now: the published, ready models, their announced changes, the
    revision and the moment until which they hold, all read in one snapshot."""
    read: dict[str, list[PageModel]] = {}

    def snapshot(at: datetime) -> bytes:
        models = _page_models(at)
        notices = upcoming_notices(at)
        read["models"] = [
            replace(m, upcoming=notices.get(m.model_id, ()), row_html="") for m in models
        ]
        return b""  # in_snapshot wants a body; the pages keep their rows instead

    published = in_snapshot(snapshot)
    models = [replace(m, row_html=row_html(m)) for m in read["models"]]
    models.sort(key=lambda m: (m.name.casefold(), m.model_id))
    until = published.valid_until
    return PageCatalog(
        published.revision,
        None if until is None else until.timestamp(),
        tuple(models),
        {m.model_id: m for m in models},
    )


def upcoming_notices(at: datetime) -> dict[str, tuple[str, ...]]:
    """The announced changes to come of the public models, in words, by model id: the
    timeline's (``catalog.timeline``, where the announced rule is said), asked only for the
    models that have one (one query to find them)."""
    ids = set(
        PriceSchedule.objects.filter(announced_upcoming(at), model__is_published=True)
        .values_list("model__model_id", flat=True)
        .order_by()
    )
    if not ids:
        return {}
    return {
        model_id: tuple(announcement(c.effective_at, c.changes) for c in changes)
        for model_id, changes in announced_changes(ids, at).items()
    }


def _page_models(at: datetime) -> list[PageModel]:
    codes = ServedModel.datacenters.through.objects.filter(servedmodel_id=OuterRef("pk")).values(
        "datacenter__country_code"
    )
    rows = list(
        ServedModel.objects.filter(is_published=True, is_ready=True)
        .only(*_FIELDS)
        .annotate(datacenter_codes=ArraySubquery(codes))
        .order_by()
    )
    offerings = published_offerings(at)
    names: dict[str, str] = {}
    models = []
    for row in rows:
        offering = offerings.get(row.pk, _EMPTY)
        countries = []
        for code in sorted(set(row.datacenter_codes)):
            if code not in names:
                names[code] = country_name(code)
            countries.append((code, names[code]))
        models.append(
            PageModel(
                pk=row.pk,
                model_id=row.model_id,
                name=row.name,
                hugging_face_id=row.hugging_face_id,
                description=row.description,
                created=row.created,
                quantization=row.quantization,
                context_length=row.context_length,
                max_output_length=row.max_output_length,
                is_free=row.is_free,
                discount=row.discount_to_user or None,
                deprecation=deprecation_moment(row.deprecation_date, row.deprecation_hour)
                if row.deprecation_date
                else None,
                countries=tuple(sorted(countries, key=lambda c: c[1])),
                offering=offering,
                flat=offering_flat_fields(offering),
                cache_write=prices.cache_write(offering),
            )
        )
    return models


# --- one table row, rendered once per catalog -----------------------------------------------
def _cell(value: str, label: str, numeric: bool = False) -> str:
    # data-label: the column's name, shown beside the value where the table is stacked (phones).
    css = ' class="num"' if numeric else ""
    return f'<td{css} data-label="{label}">{value}</td>'


def _price_cell(text: str, label: str) -> str:
    return _cell(f"${text}" if text else '<span class="none">—</span>', label, numeric=True)


def row_html(model: PageModel) -> str:
    href = escape(reverse("model-page", args=[model.model_id]))
    marks = []
    if model.is_free:
        marks.append('<span class="mark free">Free</span>')
    if model.discount:
        marks.append(f'<span class="mark discount">{model.discount * 100:g}% off</span>')
    if model.deprecation:
        marks.append(
            f'<span class="mark deprecated">Deprecated {escape(model.deprecation_text)}</span>'
        )
    notes: list[str] = [escape(line) for line in model.price_notes]
    for key in ("image", "request"):
        if model.price.get(key):
            unit, _ = prices.FLAT_PRICES[key]
            notes.append(escape(prices.cost_text(model.price[key], unit)))
    notes += [f'<strong class="upcoming">{escape(line)}</strong>' for line in model.upcoming]
    name = (
        f'<th scope="row" data-label="Model"><a href="{href}">{escape(model.name)}</a>'
        f"<code>{escape(model.model_id)}</code>{''.join(marks)}</th>"
    )
    return "".join(
        (
            "<tr>",
            name,
            _cell(
                f"{escape(', '.join(model.inputs))} → {escape(', '.join(model.outputs))}",
                "Modalities",
            ),
            _cell(f"{model.context_length:,}", "Context", numeric=True),
            _cell(f"{model.max_output_length:,}", "Max output", numeric=True),
            _cell(escape(model.quantization_label), "Quantization"),
            _price_cell(model.per_million("prompt"), "Input per 1M"),
            _price_cell(model.per_million("completion"), "Output per 1M"),
            _price_cell(model.per_million("input_cache_read"), "Cache read per 1M"),
            _price_cell(model.cache_write_per_million, "Cache write per 1M"),
            _cell("<br>".join(notes), "Other prices"),
            _cell(escape(", ".join(name for _, name in model.countries)), "Countries"),
            "</tr>",
        )
    )
