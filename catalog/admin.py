"""The staff side of the catalog (../shared/docs/PRODUCT.md, "Staff editing").

Editors change the catalog; viewers (the "Catalog viewers" group, view permission only) see the
same pages read-only. Prices appear per million tokens everywhere staff see them, the change
history included: each model's history page, and "Recent changes" across the catalog.
"""

from __future__ import annotations

import json

import pycountry
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from catalog.choices import Feature
from catalog.forms import PRICE_LABELS, CatalogActionForm, ServedModelForm, shown_price
from catalog.history import (
    FIELD_NAMES,
    MODEL_FIELDS,
    HistoricalServedModel,
    changed_fields,
    load_previous,
    record_admin_save,
    with_previous,
)
from catalog.models import PRICE_FIELDS, Datacenter, ServedModel
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


# --- The history, as staff read it --------------------------------------------------------------
def _field_label(name: str) -> str:
    """The label of a name in ``changed_fields``, as on the edit form."""
    if name == "datacenters":
        return "Datacenters"
    field_name = MODEL_FIELDS.get(name, name)
    return PRICE_LABELS.get(field_name) or capfirst(
        ServedModel._meta.get_field(field_name).verbose_name
    )


def _shown_value(record, name: str) -> str:
    """A field of a history record as the edit form shows it (prices per million tokens)."""
    if name == "datacenters":
        return ", ".join(record.country_codes) or "none"
    field_name = MODEL_FIELDS.get(name, name)
    value = getattr(record, field_name)
    if field_name in PRICE_FIELDS:
        return shown_price(field_name, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return "none" if value is None else str(value)


def changes_html(record) -> str:
    """What a record (prepared by ``load_previous``) changed: each field, old -> new."""
    if record.history_type != "~":
        return record.get_history_type_display()
    previous = record.previous
    if previous is None:  # the model's first record: no values to compare with
        names = ", ".join(_field_label(name) for name in record.changed_fields)
        return f"Changed {names or 'the model'} (no earlier record to compare with)"
    names = changed_fields(previous, previous.country_codes, record, record.country_codes)
    if not names:
        return "No change"
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            "<li><strong>{}</strong>: {} &rarr; {}</li>",
            (
                (_field_label(name), _shown_value(previous, name), _shown_value(record, name))
                for name in names
            ),
        ),
    )


def changed_by(record) -> str:
    """The staff user, or what wrote the change (an import names its source)."""
    user = record.history_user
    reason = record.history_change_reason
    if user is None:
        return reason or "unknown (no user, no reason recorded)"
    return f"{user.get_username()} ({reason})" if reason else user.get_username()


@admin.register(ServedModel)
class ServedModelAdmin(SimpleHistoryAdmin):
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

    object_history_list_template = "catalog/servedmodel_history_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("datacenters")

    def save_model(self, request, obj, form, change):
        # One history record per save, written once the datacenters are saved (save_related).
        obj.skip_history_when_saving = True
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        del form.instance.skip_history_when_saving
        if form.has_changed() or not change:
            record_admin_save(form.instance, created=not change)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        return with_previous(
            super().get_history_queryset(request, history_manager, pk_name, object_id)
        )

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # The library diffs each pair of records with queries of its own, in per-token units.
        records = list(historical_records)
        load_previous(records)
        for record in records:
            record.changes_html = changes_html(record)
            record.changed_by = changed_by(record)

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


class ChangedFieldFilter(admin.SimpleListFilter):
    title = "field changed"
    parameter_name = "field"
    ANY_PRICE = "pricing"
    PRICES = [name for name in FIELD_NAMES if name.startswith("pricing.")]

    def lookups(self, request, model_admin):
        return [
            (self.ANY_PRICE, "Any price"),
            *((name, _field_label(name)) for name in FIELD_NAMES),
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
        changelist.result_list = list(changelist.result_list)
        load_previous(changelist.result_list)
        return changelist

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
