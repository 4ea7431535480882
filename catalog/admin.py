"""The staff side of the catalog (../shared/docs/PRODUCT.md, "Staff editing").

Editors change the catalog; viewers (the "Catalog viewers" group, view permission only) see the
same pages read-only. Prices appear per million tokens everywhere staff see them.
"""

from __future__ import annotations

import json

import pycountry
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html

from catalog.choices import Feature
from catalog.forms import CatalogActionForm, ServedModelForm, shown_price
from catalog.models import Datacenter, ServedModel
from catalog.wire import model_record

DRAFT_NOTE = (
    "Draft: this model is not published, so the public endpoint does not serve it yet. "
    "Once published, it serves this record."
)


def _models(count: int) -> str:
    return f"{count} model{pluralize(count)}"


def _price_column(field_name: str, description: str):
    @admin.display(description=description, ordering=field_name)
    def column(self, obj):
        return shown_price(field_name, getattr(obj, field_name))

    return column


class FeatureFilter(admin.SimpleListFilter):
    title = "feature"
    parameter_name = "feature"

    def lookups(self, request, model_admin):
        return Feature.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(supported_features__contains=[self.value()])
        return queryset


class DeprecatedFilter(admin.SimpleListFilter):
    title = "deprecated"
    parameter_name = "deprecated"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deprecation_date__isnull=False)
        if self.value() == "no":
            return queryset.filter(deprecation_date__isnull=True)
        return queryset


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    form = ServedModelForm
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
        "datacenters",
        "is_published",
        DeprecatedFilter,
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
            "Publication",
            {"fields": ("is_published", "deprecation_date", "updated_at", "public_record")},
        ),
    )

    # Short headers, so that the list fits beside its filters.
    prompt_price = _price_column("price_prompt", "prompt per 1M tokens")
    completion_price = _price_column("price_completion", "completion per 1M tokens")
    input_cache_read_price = _price_column("price_input_cache_read", "cached input per 1M tokens")
    image_price = _price_column("price_image", "image price")
    request_price = _price_column("price_request", "request price")
    # Staff who may only look get read-only fields, which Django would show per token with
    # 24 decimal places; these show the prices as the form does.
    read_only_prices = {
        "price_prompt": "prompt_price",
        "price_completion": "completion_price",
        "price_input_cache_read": "input_cache_read_price",
        "price_image": "image_price",
        "price_request": "request_price",
    }

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("datacenters")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": [self.read_only_prices.get(f, f) for f in options["fields"]],
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
        saved = ServedModel.objects.prefetch_related("datacenters").get(pk=obj.pk)
        preview = format_html(
            "<pre>{}</pre>", json.dumps(model_record(saved), indent=2, ensure_ascii=False)
        )
        if saved.is_published:
            return preview
        return format_html("<p><strong>{}</strong></p>{}", DRAFT_NOTE, preview)

    @admin.action(description="Publish the selected models", permissions=["change"])
    def publish(self, request, queryset):
        changed, unchanged = self._save_each(request, queryset, is_published=True)
        self._report(request, f"Published {_models(changed)}", changed, unchanged)

    @admin.action(description="Unpublish the selected models", permissions=["change"])
    def unpublish(self, request, queryset):
        changed, unchanged = self._save_each(request, queryset, is_published=False)
        self._report(request, f"Unpublished {_models(changed)}", changed, unchanged)

    @admin.action(
        description="Set the deprecation date of the selected models", permissions=["change"]
    )
    def set_deprecation_date(self, request, queryset):
        form = self.action_form(request.POST)
        form.fields["action"].choices = self.get_action_choices(request)
        day = form.cleaned_data["deprecation_date"] if form.is_valid() else None
        if day is None:
            self.message_user(
                request,
                "Choose a deprecation date next to the action, then run it again. "
                "Nothing was changed.",
                messages.ERROR,
            )
            return
        changed, unchanged = self._save_each(request, queryset, deprecation_date=day)
        self._report(
            request,
            f"Set the deprecation date of {_models(changed)} to {day.isoformat()}",
            changed,
            unchanged,
        )

    @admin.action(
        description="Clear the deprecation date of the selected models", permissions=["change"]
    )
    def clear_deprecation_date(self, request, queryset):
        changed, unchanged = self._save_each(request, queryset, deprecation_date=None)
        self._report(
            request, f"Cleared the deprecation date of {_models(changed)}", changed, unchanged
        )

    def response_action(self, request, queryset):
        # A date Django cannot read makes the whole action bar invalid, which Django reports
        # as "No action selected."; say what is wrong instead.
        date_errors = self.action_form(request.POST).errors.get("deprecation_date")
        if date_errors:
            self.message_user(
                request,
                f"Deprecation date: {' '.join(date_errors)} Nothing was changed.",
                messages.ERROR,
            )
            return None
        return super().response_action(request, queryset)

    def _save_each(self, request, queryset, **values) -> tuple[int, int]:
        """Set ``values`` on each selected model, all or none; return (changed, unchanged).

        Each model is saved on its own rather than through ``queryset.update()``, so that
        model signals and the admin's history see every change.
        """
        changed = unchanged = 0
        labels = [str(ServedModel._meta.get_field(field).verbose_name) for field in values]
        with transaction.atomic():
            for model in queryset:
                if all(getattr(model, field) == value for field, value in values.items()):
                    unchanged += 1
                    continue
                for field, value in values.items():
                    setattr(model, field, value)
                model.save(update_fields=[*values, "updated_at"])
                self.log_change(request, model, [{"changed": {"fields": labels}}])
                changed += 1
        return changed, unchanged

    def _report(self, request, done: str, changed: int, unchanged: int) -> None:
        suffix = f" ({unchanged} unchanged)." if unchanged else "."
        level = messages.SUCCESS if changed else messages.INFO
        self.message_user(request, done + suffix, level)


@admin.register(Datacenter)
class DatacenterAdmin(admin.ModelAdmin):
    list_display = ("country_code", "country_name", "served_models")
    search_fields = ("country_code",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(model_count=Count("models"))

    def get_search_results(self, request, queryset, search_term):
        # Staff look for "Germany" as often as for "DE"; only pycountry knows the names.
        by_code, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().casefold()
        if not term:
            return by_code, may_have_duplicates
        codes = [c.alpha_2 for c in pycountry.countries if term in c.name.casefold()]
        return by_code | queryset.filter(country_code__in=codes), may_have_duplicates

    @admin.display(description="served models", ordering="model_count")
    def served_models(self, obj):
        return format_html(
            '<a href="{}?datacenters__id__exact={}">{}</a>',
            reverse("admin:catalog_servedmodel_changelist"),
            obj.pk,
            obj.model_count,
        )
