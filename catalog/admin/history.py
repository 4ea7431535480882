"""The change history as staff read it: each model's history page and "Recent changes"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Field, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from catalog.actions.schedule import SCHEDULED
from catalog.admin.schedules import changes_list, scheduled_by, when
from catalog.formats.flat.diff import changed_fields
from catalog.formats.flat.encode import deprecation, plain_decimal
from catalog.formats.flat.names import CHANGED_COLUMNS, FIELD_NAMES, MODEL_FIELDS, OVERRIDES
from catalog.formats.flat.offering import (
    FLAT_FIELDS,
    FLAT_LIST_FIELDS,
    PRICE_FIELDS,
    PRICE_SOURCES,
    base_price,
    flat_view,
    offering_flat_fields,
    tier_threshold,
)
from catalog.formats.published import State, state_of
from catalog.forms import said_by_ticks
from catalog.history import TYPED_ONLY, HistoricalServedModel, load_previous, with_previous
from catalog.models import PriceSchedule, ServedModel
from catalog.offering import Capacity, ModalitySpec, Offering, Price, scope_text
from catalog.presentation import PRICE_LABELS, cost_text, price_label, shown_price


def verbose_name(field_name: str) -> str:
    """The verbose name of a field of ServedModel ("prompt price")."""
    field = ServedModel._meta.get_field(field_name)
    assert isinstance(field, Field), field_name  # a field of the model, not a relation's far end
    return str(field.verbose_name)


# The names of changes that no ServedModel field holds: flat fields of the offering's rows,
# whose changes ``offering_changes`` lists entry by entry (per million, like the five prices).
_ROW_LABELS = {
    f"pricing.{OVERRIDES}": "Conditional prices (long-context tiers or time-of-day windows)",
    "capacity_tpm": "Capacity (input tokens per minute)",
    TYPED_ONLY: "Offering rows or typed-format fields (any price, capacity, modality detail)",
    SCHEDULED: "Scheduled price changes (scheduled or cancelled)",
}


def _field_label(name: str) -> str:
    """The label of a name in ``changed_fields``, as on the edit form."""
    if name == "datacenters":
        return "Datacenters"
    if name in _ROW_LABELS:
        return _ROW_LABELS[name]
    field_name = MODEL_FIELDS.get(name, name)
    if field_name in PRICE_LABELS:
        return str(PRICE_LABELS[field_name])
    if field_name in FLAT_LIST_FIELDS:
        return capfirst(field_name.replace("_", " "))
    return capfirst(verbose_name(field_name))


def _shown_value(state: State, codes: list[str], name: str) -> str:
    """A field of a model as a record left it (``state_of``), with the datacenters it saw, as the
    edit form shows it (prices per million tokens)."""
    model = state.model
    if name == "datacenters":
        return ", ".join(codes) or "none"
    if name == "deprecation_date" and model.deprecation_date is not None:
        return deprecation(model.deprecation_date, model.deprecation_hour)
    field_name = MODEL_FIELDS.get(name, name)
    if field_name in FLAT_FIELDS:
        value = flat_view(state.offering)[field_name]
    else:
        value = getattr(model, field_name)
    if field_name in PRICE_FIELDS:
        return shown_price(field_name, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return "none" if value is None else str(value)


# The model's fields of the current flat revision and the typed format: listed after the flat
# diff's names, those it names (``description``, ``openrouter``...) left out.
MODEL_LEVEL_FIELDS = (
    "description",
    "is_ready",
    "is_free",
    "discount_to_user",
    "openrouter_slug",
    "deprecation_hour",
    "tokenizer",
    "deployment_region",
    "compliance",
    "passthrough_parameters",
)


@dataclass(frozen=True)
class ChangeLine:
    """One line of a history record: what, and its value before and after ("none": absent)."""

    label: str
    old: str
    new: str


def _cost(price: Price | None) -> str:
    return "none" if price is None else cost_text(price.cost_usd, price.unit)


def _overrides_text(price: Price, overrides) -> str:
    """Conditional prices as staff read them: a long-context tier as "over N prompt tokens:
    $X per 1M tokens", any other predicate as its JSON."""
    if not overrides:
        return "none"
    parts = []
    for override in overrides:
        threshold = tier_threshold(override)
        if threshold is None:
            parts.append(_json(override))
        else:
            cost = _cost(replace(price, cost_usd=Decimal(override["cost_usd"]), overrides=()))
            parts.append(f"over {threshold} prompt tokens: {cost}")
    return "; ".join(parts)


def _capacity_label(entry: Capacity) -> str:
    per = f" per {entry.per}" if entry.per else " at once"
    return f"capacity: {scope_text(entry.scope)} {entry.capacity_type.replace('_', ' ')}{per}"


def _capacity_value(entry: Capacity | None) -> str:
    return "none" if entry is None else f"{entry.value} {entry.unit}s"


def _details(spec: ModalitySpec) -> dict:
    """What the typed format says of a modality beyond its kind and the ticked names."""
    return {
        "supported inputs": spec.supported_inputs,
        "descriptors": {
            name: descriptor
            for name, descriptor in spec.supported_parameters.items()
            if not said_by_ticks(name, descriptor)
        },
        "passthrough parameters": spec.passthrough_parameters,
        "streaming": spec.streaming,
    }


def _json(value) -> str:
    if value in (None, {}, []):
        return "none"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def offering_changes(before: Offering, after: Offering) -> list[ChangeLine]:
    """What differs between two offerings beyond the flat format's lists and five prices (which
    ``changed_fields`` names): each further price (per million tokens or characters, as staff
    type it), each capacity, and each modality's details, in the offerings' canonical order."""
    flat = {
        entry.identity
        for offering in (before, after)
        for key in PRICE_SOURCES
        if (entry := base_price(offering, key)) is not None
    }
    changes = []
    old_prices = {price.identity: price for price in before.prices}
    new_prices = {price.identity: price for price in after.prices}
    for identity in dict.fromkeys([*old_prices, *new_prices]):
        old, new = old_prices.get(identity), new_prices.get(identity)
        either = old or new
        assert either is not None
        label = price_label(either)
        if identity not in flat and _cost(old) != _cost(new):
            changes.append(ChangeLine(label, _cost(old), _cost(new)))
        old_overrides = old.overrides if old else ()
        new_overrides = new.overrides if new else ()
        if old_overrides != new_overrides:
            changes.append(
                ChangeLine(
                    f"{label}, conditional prices",
                    _overrides_text(either, old_overrides),
                    _overrides_text(either, new_overrides),
                )
            )
    old_capacities = {entry.identity: entry for entry in before.capacities}
    new_capacities = {entry.identity: entry for entry in after.capacities}
    for identity in dict.fromkeys([*old_capacities, *new_capacities]):
        old_capacity, new_capacity = old_capacities.get(identity), new_capacities.get(identity)
        if old_capacity != new_capacity:
            either_capacity = old_capacity or new_capacity
            assert either_capacity is not None
            changes.append(
                ChangeLine(
                    _capacity_label(either_capacity),
                    _capacity_value(old_capacity),
                    _capacity_value(new_capacity),
                )
            )
    for spec in after.modalities:
        old_spec = before.modality(spec.direction, spec.kind)
        if old_spec is None:  # a new modality: the flat lists name it
            continue
        old_details, new_details = _details(old_spec), _details(spec)
        for name, value in new_details.items():
            if old_details[name] != value:
                changes.append(
                    ChangeLine(
                        f"{scope_text(spec.scope)} {name}", _json(old_details[name]), _json(value)
                    )
                )
    return changes


def _model_level_changes(
    before: ServedModel, after: ServedModel, names: list[str]
) -> list[ChangeLine]:
    named = {
        column
        for name in names
        for column in CHANGED_COLUMNS.get(name, (MODEL_FIELDS.get(name, name),))
    }
    changes = []
    for field_name in MODEL_LEVEL_FIELDS:
        if field_name in named:
            continue
        old, new = getattr(before, field_name), getattr(after, field_name)
        if old != new:
            changes.append(
                ChangeLine(capfirst(verbose_name(field_name)), _plain_value(old), _plain_value(new))
            )
    return changes


def _plain_value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return _json(value)
    if value is None or value == "":
        return "none"
    return plain_decimal(value) if isinstance(value, Decimal) else str(value)


def changes_html(record) -> str:
    """What a record (prepared by ``load_previous`` and ``load_schedules``) changed: each
    field, old -> new; a scheduling or cancellation says what it schedules, and for when."""
    if isinstance(record, TookEffect):
        return record.changes_html
    if record.history_type != "~":
        return record.get_history_type_display()
    note = _schedule_note(record)
    previous = record.previous
    if previous is None:  # the model's first record: no values to compare with
        if note:
            return note
        labels = ", ".join(_field_label(name) for name in record.changed_fields)
        return f"Changed {labels or 'the model'} (no earlier record to compare with)"
    # The previous record's model as it stood when this one was made: a scheduled change that
    # took effect in between is an entry of its own (``TookEffect``), not this record's author's.
    before, after = state_of(previous, record.history_date), state_of(record)
    names = changed_fields(
        before.model,
        previous.country_codes,
        after.model,
        record.country_codes,
        before_flat=offering_flat_fields(before.offering),
        after_flat=offering_flat_fields(after.offering),
    )
    changes = [
        ChangeLine(
            _field_label(name),
            _shown_value(before, previous.country_codes, name),
            _shown_value(after, record.country_codes, name),
        )
        for name in names
        if name not in _ROW_LABELS
    ]
    changes += _model_level_changes(before.model, after.model, names)
    changes += offering_changes(before.offering, after.offering)
    if not changes:
        return note or "No change"
    return format_html(
        "{}<ul>{}</ul>",
        note,
        format_html_join(
            "",
            "<li><strong>{}</strong>: {} &rarr; {}</li>",
            ((change.label, change.old, change.new) for change in changes),
        ),
    )


# --- Scheduled price changes in the history ------------------------------------------------------
def load_schedules(records: Sequence) -> None:
    """Give each record that scheduled or cancelled a price change (changed field
    ``SCHEDULED``) its ``schedule_event``: ("scheduled" or "cancelled", the schedule), else None.
    A schedule is dated with the record it wrote (``catalog.actions.schedule``). One query."""
    marked = [
        record
        for record in records
        if not isinstance(record, TookEffect) and SCHEDULED in (record.changed_fields or ())
    ]
    events = {}
    if marked:
        dates = [record.history_date for record in marked]
        for schedule in PriceSchedule.objects.filter(
            Q(created_at__in=dates) | Q(cancelled_at__in=dates),
            model_id__in={record.id for record in marked},
        ):
            events[schedule.model_id, schedule.created_at] = ("scheduled", schedule)
            if schedule.cancelled_at is not None:
                events[schedule.model_id, schedule.cancelled_at] = ("cancelled", schedule)
    for record in records:
        if not isinstance(record, TookEffect):
            record.schedule_event = events.get((record.id, record.history_date))


def _schedule_note(record) -> str:
    if SCHEDULED not in (record.changed_fields or ()):
        return ""
    event = getattr(record, "schedule_event", None)
    if event is None:  # a change added to one already pending for that moment
        return capfirst(record.history_change_reason or "scheduled prices changed")
    what, schedule = event
    verb = "Scheduled a price change" if what == "scheduled" else "Cancelled the price change"
    return format_html(
        "{} for {}:{}",
        verb,
        when(schedule.effective_at),
        changes_list(schedule),
    )


class TookEffect:
    """A scheduled price change whose moment has passed. No record is written at that moment
    (nothing is: readers take the prices in force), so the history pages show this entry there,
    among the records, read as one."""

    history_type = "took effect"
    _meta = HistoricalServedModel._meta  # read by the admin's list for each column's field

    def __init__(self, schedule: PriceSchedule):
        self.schedule = schedule
        self.history_date = schedule.effective_at
        self.id = schedule.model_id
        self.model_id = schedule.model.model_id
        self.changed_by = f"scheduled by {scheduled_by(schedule)} at {when(schedule.created_at)}"
        self.changes_html = format_html(
            'Took effect: <a href="{}">the price change scheduled for {}</a>{}',
            reverse("admin:catalog_priceschedule_change", args=[schedule.pk]),
            when(schedule.effective_at),
            changes_list(schedule),
        )

    def get_history_type_display(self) -> str:
        return "Scheduled prices took effect"


def page_bounds(
    queryset: QuerySet, records: Sequence, number: int, per_page: int, last: bool
) -> tuple[datetime | None, datetime | None]:
    """The span of time a page of records (newest first) covers: after the previous page's last
    record (None on the first page: until now) and from this page's last (None on the last page:
    since ever). One query, on pages after the first."""
    upper = None if number <= 1 else queryset[(number - 1) * per_page - 1].history_date
    lower = None if last or not records else records[-1].history_date
    return upper, lower


def with_took_effect(
    records: Sequence, schedules: QuerySet, upper: datetime | None, lower: datetime | None
) -> list:
    """``records`` (newest first) with a ``TookEffect`` entry for each schedule of ``schedules``
    that took effect in the span ``page_bounds`` gives, placed at its moment. One query."""
    found = schedules.filter(cancelled_at__isnull=True, effective_at__lte=timezone.now())
    if upper is not None:
        found = found.filter(effective_at__lt=upper)
    if lower is not None:
        found = found.filter(effective_at__gte=lower)
    entries = [TookEffect(schedule) for schedule in found.select_related("model", "created_by")]
    # Stable: records keep their order, an entry comes after the records of its very moment.
    return sorted([*records, *entries], key=lambda entry: entry.history_date, reverse=True)


def changed_by(record) -> str:
    """The staff user, or what wrote the change (an import names its source)."""
    if isinstance(record, TookEffect):
        return record.changed_by
    user = record.history_user
    reason = record.history_change_reason
    if user is None:
        return reason or "unknown (no user, no reason recorded)"
    return f"{user.get_username()} ({reason})" if reason else user.get_username()


class ChangedFieldFilter(admin.SimpleListFilter):
    title = "field changed"
    parameter_name = "field"
    ANY_PRICE = "pricing"
    PRICES = [*(name for name in FIELD_NAMES if name.startswith("pricing.")), SCHEDULED]

    def lookups(self, request, model_admin):
        return [
            (self.ANY_PRICE, "Any price"),
            *((name, _field_label(name)) for name in (*FIELD_NAMES, TYPED_ONLY, SCHEDULED)),
        ]

    def queryset(self, request, queryset):
        if self.value() == self.ANY_PRICE:
            return queryset.filter(changed_fields__overlap=self.PRICES)
        if self.value():
            return queryset.filter(changed_fields__contains=[self.value()])
        return queryset


class ChangedByFilter(admin.SimpleListFilter):
    title = "changed by"
    parameter_name = "by"
    NO_USER = "none"

    def lookups(self, request, model_admin):
        User = get_user_model()
        users = User.objects.filter(
            pk__in=HistoricalServedModel.objects.values("history_user")
        ).order_by(User.USERNAME_FIELD)
        return [
            (self.NO_USER, "No user: imports and scripts"),
            *((str(user.pk), user.get_username()) for user in users),
        ]

    def queryset(self, request, queryset):
        if self.value() == self.NO_USER:
            return queryset.filter(history_user__isnull=True)
        if self.value():
            return queryset.filter(history_user_id=self.value())
        return queryset


@admin.register(HistoricalServedModel)
class RecentChangesAdmin(admin.ModelAdmin):
    """Every recorded change across the catalog, newest first, read-only.

    "Which prices changed last week, and who changed them" is one page: field changed "Any
    price", date "Past 7 days". Whoever may see the served models may see their history.
    """

    list_display = ("date", "served_model", "change", "who", "changes")
    list_display_links = None
    list_filter = (ChangedFieldFilter, ChangedByFilter, "history_date")
    list_select_related = ("history_user",)
    date_hierarchy = "history_date"
    search_fields = ("model_id",)
    search_help_text = "Search by model ID."
    actions = None

    def get_queryset(self, request):
        return with_previous(super().get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        # Django would title it "Select served model change to view"; nothing here is selected.
        return super().changelist_view(
            request, {"title": "Recent changes", **(extra_context or {})}
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        records = list(changelist.result_list)
        load_previous(records)
        load_schedules(records)
        changelist.result_list = records
        found = self.took_effect(request)
        if found is not None:
            last = changelist.show_all or changelist.page_num >= changelist.paginator.num_pages
            bounds = page_bounds(
                changelist.queryset, records, changelist.page_num, changelist.list_per_page, last
            )
            changelist.result_list = with_took_effect(records, found, *bounds)
        return changelist

    def took_effect(self, request) -> QuerySet | None:
        """The scheduled changes to list among the records as they took effect: those of the
        models searched for, within the dates chosen; none when the page is filtered by who
        changed what (other than prices), or sorted other than newest first."""
        params = request.GET
        field = params.get(ChangedFieldFilter.parameter_name)
        if (
            params.get("o")
            or params.get(ChangedByFilter.parameter_name)
            or field not in (None, ChangedFieldFilter.ANY_PRICE, SCHEDULED)
        ):
            return None
        found = PriceSchedule.objects.all()
        if params.get("q"):
            found = found.filter(model__model_id__icontains=params["q"])
        for name, value in params.items():
            if name.startswith("history_date__"):  # the date filter and the date hierarchy
                found = found.filter(
                    **{"effective_at__" + name.removeprefix("history_date__"): value}
                )
        return found

    @admin.display(description="date", ordering="history_date")
    def date(self, record):
        return record.history_date

    @admin.display(description="change", ordering="history_type")
    def change(self, record):
        return record.get_history_type_display()

    @admin.display(description="model", ordering="model_id")
    def served_model(self, record):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:catalog_servedmodel_history", args=[record.id]),
            record.model_id,
        )

    @admin.display(description="changed by")
    def who(self, record):
        return changed_by(record)

    @admin.display(description="changes")
    def changes(self, record):
        return changes_html(record)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        served_models = self.admin_site.get_model_admin(ServedModel)
        return obj is None and served_models.has_view_or_change_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
