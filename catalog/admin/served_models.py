"""Served models: the list page with its filters and bulk actions, and the edit page."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.http import Http404
from django.template.defaultfilters import pluralize
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from catalog.actions import publication, served_models
from catalog.admin.history import (
    changed_by,
    changes_html,
    load_schedules,
    page_bounds,
    verbose_name,
    with_took_effect,
)
from catalog.admin.schedules import model_page_context
from catalog.choices import Direction, Feature, weekday_names
from catalog.formats.flat.encode import dumps, model_record
from catalog.formats.flat.offering import PER_TOKEN_PRICE_FIELDS, PRICE_FIELDS, flat_view
from catalog.formats.typed.encode import SCHEMA_VERSION, model_document
from catalog.forms import (
    CapacityEntryForm,
    CapacityEntryFormSet,
    CatalogActionForm,
    ModalityForm,
    ModalityFormSet,
    PriceEntryForm,
    PriceEntryFormSet,
    ServedModelForm,
    offering_of_page,
    row_scope,
)
from catalog.history import load_previous, with_previous
from catalog.models import (
    CapacityEntry,
    Modality,
    PriceEntry,
    PriceSchedule,
    ServedModel,
)
from catalog.offering import scope_text, stored_offering, typed_omissions, with_offering
from catalog.presentation import omission_text, shown_cost, shown_price

DRAFT_NOTE = (
    "Draft: this model is not published, so the public endpoint does not serve it yet. "
    "Once published, it serves this record."
)


def _models(count: int) -> str:
    return f"{count} model{pluralize(count)}"


def _price_column(field_name: str):
    """A price as staff type it; per-token prices per million tokens, under a short header."""
    name = PRICE_NAMES[field_name]  # "prompt price"
    if field_name in PER_TOKEN_PRICE_FIELDS:
        description = name.removesuffix(" price") + " per 1M tokens"
    else:
        description = name

    @admin.display(description=description)
    def column(self, obj):
        # The list's query reads each offering in its own row (``with_offering``).
        return shown_price(field_name, flat_view(stored_offering(obj))[field_name])

    return column


PRICE_NAMES = {
    "price_prompt": "prompt price",
    "price_completion": "completion price",
    "price_image": "image price",
    "price_request": "request price",
    "price_input_cache_read": "cached input price",
}

# A column per price, named after its field: price_prompt -> prompt_price. The list shows two;
# staff who may only look see all five as read-only fields, which Django would otherwise show
# per token with 24 decimal places.
PRICE_COLUMNS = {field: field.removeprefix("price_") + "_price" for field in PRICE_FIELDS}


class _PriceColumns:
    """The price columns below, one per price field."""


for _field, _column in PRICE_COLUMNS.items():
    setattr(_PriceColumns, _column, _price_column(_field))


class FeatureFilter(admin.SimpleListFilter):
    title = "feature"
    parameter_name = "feature"

    def lookups(self, request, model_admin):
        return Feature.choices

    def queryset(self, request, queryset):
        if self.value():
            # A feature is a descriptor of an output modality (catalog.formats.flat.offering).
            return queryset.filter(
                pk__in=Modality.objects.filter(
                    direction=Direction.OUTPUT, supported_parameters__has_key=self.value()
                ).values("model_id")
            )
        return queryset


TYPED_ONLY = "typed format only"


class _OfferingInline(admin.TabularInline):
    """A part of the offering, editable by whoever may change the served model (the staff
    groups hold permissions on served models, not on their rows)."""

    extra = 0

    def _served_models(self):
        return self.admin_site.get_model_admin(ServedModel)

    def has_view_permission(self, request, obj=None):
        return self._served_models().has_view_or_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self._served_models().has_add_permission(request)
        return self._served_models().has_change_permission(request, obj)

    def has_add_permission(self, request, obj):  # type: ignore[override]  # as InlineModelAdmin's stub: it takes the parent
        return self.has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return super().get_readonly_fields(request, obj)
        # All of them, so that the form leaves out the columns that stand in for fields.
        return self.get_fields(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.model is Modality:
            return queryset
        return queryset.select_related("modality")  # each row's scope, in the same query

    @admin.display(description="scope")
    def scope(self, row):
        return scope_text(row_scope(row))


class ModalityInline(_OfferingInline):
    model = Modality
    form = ModalityForm
    formset = ModalityFormSet
    verbose_name = "modality detail"
    verbose_name_plural = (
        f"Modality details ({TYPED_ONLY}; tick the modalities themselves under Capabilities)"
    )
    fields = (
        "direction",
        "kind",
        "supported_inputs",
        "supported_parameters",
        "passthrough_parameters",
        "streaming",
    )
    readonly_fields = ("direction", "kind")

    def has_add_permission(self, request, obj):  # type: ignore[override]  # as InlineModelAdmin's stub: it takes the parent
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PriceEntryInline(_OfferingInline):
    model = PriceEntry
    form = PriceEntryForm
    formset = PriceEntryFormSet
    verbose_name = "further price"
    verbose_name_plural = (
        f"Further prices ({TYPED_ONLY}): cache writes and lifetimes, time windows, per image, "
        "megapixel or second, conditional prices; the five prices above are not repeated here"
    )
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

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        # Read-only, Django would show the stored per-token cost with 24 decimal places, and
        # the weekdays as their bits.
        shown = {"cost_usd": "cost", "utc_days": "weekdays"}
        return [shown.get(name, name) if isinstance(name, str) else name for name in fields]

    @admin.display(description="cost (USD)")
    def cost(self, row):
        return shown_cost(row.cost_usd, row.unit)

    @admin.display(description="weekdays (UTC)")
    def weekdays(self, row):
        return "every day" if row.utc_days is None else ", ".join(weekday_names(row.utc_days))


class CapacityEntryInline(_OfferingInline):
    model = CapacityEntry
    form = CapacityEntryForm
    formset = CapacityEntryFormSet
    verbose_name = "capacity"
    verbose_name_plural = f"Capacity ({TYPED_ONLY})"
    fields = ("scope", "capacity_type", "unit", "per", "value")


@admin.register(ServedModel)
class ServedModelAdmin(_PriceColumns, SimpleHistoryAdmin):
    form = ServedModelForm
    inlines = (ModalityInline, PriceEntryInline, CapacityEntryInline)
    action_form = CatalogActionForm
    list_display = (
        "model_id",
        "name",
        "quantization",
        "prompt_price",
        "completion_price",
        "is_published",
        "deprecation_date",
        "datacenter_codes",
    )
    list_filter = (
        "quantization",
        FeatureFilter,
        # Only the datacenters that serve a model: a filter that lists nothing is no help.
        ("datacenters", admin.RelatedOnlyFieldListFilter),
        "is_published",
        ("deprecation_date", admin.EmptyFieldListFilter),
    )
    search_fields = ("model_id", "name", "hugging_face_id")
    actions = ("publish", "unpublish", "set_deprecation_date", "clear_deprecation_date")
    readonly_fields = ("updated_at", "public_record")
    fieldsets = (
        ("Identity", {"fields": ("model_id", "name", "hugging_face_id", "created")}),
        (
            "Capabilities",
            {
                "fields": (
                    "input_modalities",
                    "output_modalities",
                    "quantization",
                    "supported_sampling_parameters",
                    "supported_features",
                )
            },
        ),
        ("Limits", {"fields": ("context_length", "max_output_length")}),
        (
            "Pricing",
            {
                "description": "Token prices are entered per million tokens and stored exactly "
                "per token: 0.15 here is 0.00000015 USD per token.",
                "fields": (
                    "price_prompt",
                    "price_completion",
                    "price_input_cache_read",
                    "price_image",
                    "price_request",
                ),
            },
        ),
        ("Datacenters", {"fields": ("datacenters",)}),
        (
            "OpenRouter listing (current flat revision)",
            {
                "description": "Optional fields that OpenRouter's current flat revision (and "
                "the typed format) show.",
                "fields": (
                    "description",
                    "is_ready",
                    "is_free",
                    "discount_to_user",
                    "openrouter_slug",
                    "deprecation_hour",
                ),
            },
        ),
        (
            "Carried only by the typed format (schema 2.4)",
            {
                "classes": ("collapse",),
                "description": "The flat format has no place for these: only the typed "
                "documents show them.",
                "fields": (
                    "tokenizer",
                    "deployment_region",
                    "compliance",
                    "passthrough_parameters",
                ),
            },
        ),
        (
            "Publication",
            {
                "fields": (
                    "is_published",
                    "deprecation_date",
                    "updated_at",
                    "public_record",
                )
            },
        ),
    )

    object_history_list_template = "catalog/servedmodel_history_list.html"
    change_form_template = "catalog/servedmodel_change_form.html"

    def get_queryset(self, request):
        return with_offering(super().get_queryset(request).prefetch_related("datacenters"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        # The inlines judge their rows in the offering the main form leaves: they find the
        # form through the request (``catalog.forms._WithMainForm``).
        return type(form.__name__, (form,), {"request": request})

    def get_formset_kwargs(self, request, obj, inline, prefix):
        return {**super().get_formset_kwargs(request, obj, inline, prefix), "request": request}

    def save_model(self, request, obj, form, change):
        # Saved in save_related, with its offering, datacenters and inline rows, as one action.
        pass

    def save_related(self, request, form, formsets, change):
        # The page's whole offering (the main form's, the inlines' rows), judged by its rules
        # while the forms were cleaned, is written by the action, rows and all, with the
        # datacenters (``save_m2m``) and one history record.
        served_models.save_model(
            form.instance,
            offering_of_page(form, formsets),
            stored=form.stored,
            related=form.save_m2m,
            record=not change
            or form.has_changed()
            or any(formset.has_changed() for formset in formsets),
        )
        for formset in formsets:
            formset.written()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # A save held by the price guard (PriceEntryFormSet): its changes and the confirmation,
        # at the top of the page.
        for inline in context.get("inline_admin_formsets", ()):
            if isinstance(inline.formset, PriceEntryFormSet) and inline.formset.large_price_changes:
                context["large_price_changes"] = inline.formset.large_price_changes
                context["confirm_large_price_changes"] = context["adminform"].form[
                    "confirm_large_price_changes"
                ]
        if obj is not None:
            context.update(model_page_context(request, obj, self.admin_site))
            # Staff see what the typed documents leave out of this model (as stored), and why.
            for omission in typed_omissions(stored_offering(obj)):
                self.message_user(request, omission_text(omission), messages.WARNING)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        return with_previous(
            super().get_history_queryset(request, history_manager, pk_name, object_id)
        )

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # The library diffs each pair of records with queries of its own, in per-token units.
        records = list(historical_records)
        load_previous(records)
        load_schedules(records)
        for record in records:
            record.changes_html = changes_html(record)
            record.changed_by = changed_by(record)
        if records:
            # The page lists scheduled changes as they took effect, at their moments.
            page = historical_records
            bounds = page_bounds(
                page.paginator.object_list,
                records,
                page.number,
                page.paginator.per_page,
                not page.has_next(),
            )
            page.object_list = with_took_effect(
                records, PriceSchedule.objects.filter(model_id=records[0].id), *bounds
            )

    def revert_disabled(self, request, obj=None):
        return True

    def history_view(self, request, object_id, extra_context=None):
        # The library turns the id into an integer unguarded: a mistyped URL would be a 500.
        if not str(object_id).isdigit():
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # No past version as an editable form: it would show today's datacenters, and saving it
        # would bypass save_related, so leave no history record.
        raise Http404

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": [PRICE_COLUMNS.get(f, f) for f in options["fields"]],
                },
            )
            for name, options in fieldsets
        ]

    @admin.display(description="datacenters")
    def datacenter_codes(self, obj):
        return ", ".join(datacenter.country_code for datacenter in obj.datacenters.all())

    @admin.display(description="public record")
    def public_record(self, obj):
        if obj.pk is None:
            return "Shown once the model is saved."
        # As saved: after a refused edit the form's instance holds the values it refused.
        saved = with_offering(ServedModel.objects.prefetch_related("datacenters")).get(pk=obj.pk)
        places = [
            (datacenter.country_code, datacenter.region) for datacenter in saved.datacenters.all()
        ]
        offering = stored_offering(saved)
        preview = format_html(
            "<p>Flat format (the endpoint without <code>schema_version</code>):</p><pre>{}</pre>"
            "<p>Typed format (<code>?schema_version={}</code>):</p><pre>{}</pre>",
            dumps(model_record(saved, offering), indent=2),
            SCHEMA_VERSION,
            dumps(model_document(saved, places, offering), indent=2),
        )
        if saved.is_published:
            return preview
        return format_html("<p><strong>{}</strong></p>{}", DRAFT_NOTE, preview)

    @admin.action(description="Publish the selected models", permissions=["change"])
    def publish(self, request, queryset):
        done = publication.publish(queryset, user=request.user)
        self._log(request, done, "is_published")
        self._report(request, f"Published {_models(len(done.changed))}", done)

    @admin.action(description="Unpublish the selected models", permissions=["change"])
    def unpublish(self, request, queryset):
        done = publication.unpublish(queryset, user=request.user)
        self._log(request, done, "is_published")
        self._report(request, f"Unpublished {_models(len(done.changed))}", done)

    @admin.action(
        description="Set the deprecation date of the selected models", permissions=["change"]
    )
    def set_deprecation_date(self, request, queryset):
        form = self.action_form(request.POST)
        cast(forms.ChoiceField, form.fields["action"]).choices = self.get_action_choices(request)
        day = form.cleaned_data["deprecation_date"] if form.is_valid() else None
        if day is None:
            self.message_user(
                request,
                "Choose a deprecation date next to the action, then run it again. "
                "Nothing was changed.",
                messages.ERROR,
            )
            return
        done = publication.set_deprecation_date(queryset, day, user=request.user)
        self._log(request, done, "deprecation_date")
        self._report(
            request,
            f"Set the deprecation date of {_models(len(done.changed))} to {day.isoformat()}",
            done,
        )

    @admin.action(
        description="Clear the deprecation date of the selected models", permissions=["change"]
    )
    def clear_deprecation_date(self, request, queryset):
        done = publication.clear_deprecation_date(queryset, user=request.user)
        self._log(request, done, "deprecation_date")
        self._report(request, f"Cleared the deprecation date of {_models(len(done.changed))}", done)

    def response_action(self, request, queryset):
        # A date Django cannot read makes the whole action bar invalid, which Django reports
        # as "No action selected."; say what is wrong instead.
        date_errors = self.action_form(request.POST).errors.get("deprecation_date")
        if date_errors:
            self.message_user(
                request,
                f"Deprecation date: {' '.join(str(error) for error in date_errors)} Nothing was "
                "changed.",
                messages.ERROR,
            )
            return None
        return super().response_action(request, queryset)

    def _log(self, request, done: publication.BulkChange, field: str) -> None:
        """One admin log entry per changed model, as an edit would leave, in one statement."""
        if done.changed:
            label = verbose_name(field)
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=done.changed,
                action_flag=CHANGE,
                change_message=[{"changed": {"fields": [label]}}],
            )

    def _report(self, request, message: str, done: publication.BulkChange) -> None:
        suffix = f" ({done.unchanged} unchanged)." if done.unchanged else "."
        level = messages.SUCCESS if done.changed else messages.INFO
        self.message_user(request, message + suffix, level)
