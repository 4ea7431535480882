"""Datacenters: the countries where the provider runs hardware, with their served models."""

from __future__ import annotations

import pycountry
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import Datacenter


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
