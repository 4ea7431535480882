"""Scheduled price changes (issue #15): the catalog-wide list, scheduling one, cancelling one.

Nothing here writes a price: scheduling and cancelling go through ``catalog.actions.schedule``
(the one write path), which also leaves the model's history record. A scheduled change is never
edited: staff schedule another one, or cancel it before it starts. Editors schedule and cancel (the
scheduled price change's add and change permissions, migration 0013); viewers only look.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from catalog.actions.schedule import (
    ModelChanges,
    ScheduleError,
    cancel_schedule,
    check_moment,
    describe,
    prices_before,
    schedule_changes,
)
from catalog.choices import PER_MILLION_UNITS
from catalog.formats.flat.offering import PRICE_SOURCES, base_price, price_scope
from catalog.forms import (
    ConfirmationField,
    PerMillionPriceField,
    PriceField,
)
from catalog.models import PRICE_DECIMAL_PLACES, PRICE_MAX_DIGITS, PriceSchedule, ServedModel
from catalog.offering import Offering, Price, stored_offering
from catalog.presentation import PRICE_LABELS, price_label
from catalog.price_guard import LargeChange, large_changes

# How many changes that took effect the model's page lists under its upcoming ones.
RECENT_ON_MODEL_PAGE = 5


def when(moment: datetime) -> str:
    """A moment as staff read it, in UTC to the minute: "2026-12-01 00:00 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def changes_list(schedule: PriceSchedule) -> str:
    """What a schedule changes, one line per price (per million tokens for tokens)."""
    return format_html(
        "<ul>{}</ul>",
        format_html_join("", "<li>{}</li>", ((describe(c),) for c in schedule.changes)),
    )


def status_text(schedule: PriceSchedule, now: datetime) -> str:
    if schedule.cancelled_at is not None:
        who = schedule.cancelled_by.get_username() if schedule.cancelled_by else "unknown"
        return f"Cancelled by {who} at {when(schedule.cancelled_at)}"
    return "Upcoming" if schedule.effective_at > now else "Took effect"


def upcoming(queryset: QuerySet, now: datetime) -> QuerySet:
    return queryset.filter(cancelled_at__isnull=True, effective_at__gt=now)


def started(queryset: QuerySet, now: datetime) -> QuerySet:
    return queryset.filter(cancelled_at__isnull=True, effective_at__lte=now)


def _row(schedule: PriceSchedule) -> dict:
    return {
        "pk": schedule.pk,
        "takes_effect_at": when(schedule.effective_at),
        "what_changes": changes_list(schedule),
        "scheduled_by": scheduled_by(schedule),
    }


def scheduled_by(schedule: PriceSchedule) -> str:
    user = schedule.created_by
    return user.get_username() if user else f"no user ({schedule.source or 'unknown'})"


def _moment(schedule: PriceSchedule) -> datetime:
    return schedule.effective_at


def model_page_context(request, model: ServedModel, admin_site) -> dict:
    """For the model's page: its upcoming changes (soonest first) and the last ones that took
    effect, and the link that schedules one (for staff who may)."""
    schedules_admin = admin_site.get_model_admin(PriceSchedule)
    if model.pk is None or not schedules_admin.has_view_permission(request):
        return {}
    now = timezone.now()
    schedules = PriceSchedule.objects.filter(model=model).select_related("created_by")
    # One query: the upcoming ones and the last that took effect.
    found = list(
        upcoming(schedules, now)
        .order_by("effective_at")
        .union(started(schedules, now).order_by("-effective_at")[:RECENT_ON_MODEL_PAGE], all=True)
    )
    context: dict[str, Any] = {
        "price_schedules": {
            "list_url": reverse("admin:catalog_priceschedule_changelist")
            + f"?model__id__exact={model.pk}",
            "sections": [
                (
                    "Upcoming",
                    [_row(s) for s in sorted(found, key=_moment) if s.effective_at > now],
                    "None.",
                ),
                (
                    "Took effect recently",
                    [
                        _row(s)
                        for s in sorted(found, key=_moment, reverse=True)
                        if s.effective_at <= now
                    ],
                    "None.",
                ),
            ],
        }
    }
    if schedules_admin.has_add_permission(request):
        context["schedule_url"] = reverse("admin:catalog_priceschedule_add") + f"?model={model.pk}"
    return context


# --- The form: when, and the new value of each price --------------------------------------------
class UTCDateTimeField(forms.SplitDateTimeField):
    """A date and a time read in UTC, whatever time zone the server is set to."""

    widget = AdminSplitDateTime

    def compress(self, data_list):
        with timezone.override(UTC):
            return super().compress(data_list)


class ScheduleMomentForm(forms.Form):
    """Which model, and when its prices change: a moment in the future, on the minute."""

    effective_at = UTCDateTimeField(
        label="Takes effect at (UTC)",
        help_text="Date and time in UTC, to the minute (seconds must be 0): until then the old "
        "prices are served, from then on the new ones.",
    )
    announced = forms.TypedChoiceField(
        label="Visibility",
        choices=[
            (True, "Announced: customers see it on the public pages and feed ahead of its moment"),
            (False, "Confidential: in no public output until its moment"),
        ],
        coerce=lambda value: value in (True, "True"),
        required=False,
        initial=True,
        widget=forms.RadioSelect,
        help_text="Providers must tell customers of a price rise ahead: announce it unless "
        "there is a reason not to.",
    )
    field_order = ("model", "effective_at", "announced")

    def __init__(self, *args, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        # Searched by model ID, as on the models' list: a catalog may hold thousands.
        self.fields["model"] = forms.ModelChoiceField(
            ServedModel.objects.all(),
            label="Model",
            widget=AutocompleteSelect(PriceSchedule._meta.get_field("model"), admin_site),
        )
        self.order_fields(self.field_order)

    def clean_announced(self) -> bool:
        # Left unchosen (the radio is preset, so only a hand-made request can): announced.
        return self.cleaned_data["announced"] is not False

    def clean_effective_at(self):
        moment = self.cleaned_data["effective_at"]
        try:
            check_moment(moment)
        except ScheduleError as error:
            raise ValidationError(str(error), code="moment") from None
        return moment


def _price_field(unit: str, label: str) -> PriceField:
    """A price as staff type it: per million tokens or characters, else per unit."""
    if unit in PER_MILLION_UNITS:
        return PerMillionPriceField(
            label=label, max_digits=PRICE_MAX_DIGITS, min_value=Decimal(0), unit=unit
        )
    return PriceField(
        label=label,
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_DECIMAL_PLACES,
        min_value=Decimal(0),
    )


def offering_before(model: ServedModel, moment: datetime) -> Offering:
    """The model's offering with the prices in force just before ``moment`` (earlier scheduled
    changes included): what a change at ``moment`` starts from."""
    prices = prices_before([model], moment)[model.pk]
    return replace(stored_offering(model), prices=tuple(prices.values()), scheduled=())


def fingerprint(model: ServedModel, moment: datetime, before: Offering) -> str:
    """What the price fields were shown for: a new moment, model or earlier change shows them
    anew instead of scheduling values typed against other prices."""
    text = repr(
        (model.pk, moment.isoformat(), [(p.identity, str(p.cost_usd)) for p in before.prices])
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class SchedulePricesForm(forms.Form):
    """The new value of each price, shown with its value just before the moment: the five main
    prices as the model's form shows them, then every further price. A price left as it is does
    not change; conditional prices stay as they are."""

    shown = forms.CharField(widget=forms.HiddenInput)
    confirm_large_price_changes = ConfirmationField(
        required=False, label="Confirm these large price changes"
    )

    def __init__(self, before: Offering, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before = before
        self.large_price_changes: list[LargeChange] = []
        self.changes: dict[tuple, Price] = {}  # by identity, once the form is valid
        # Field name -> the price it changes (a main price without an entry: its entry at 0).
        self.prices: dict[str, Price] = {}
        main = set()
        for name in PRICE_LABELS:  # in the model form's order
            key = name.removeprefix("price_")
            _, _, price_type, unit = PRICE_SOURCES[key]
            scope = price_scope(before, key)
            if scope is None:  # no modality in that direction: nothing to price
                continue
            price = base_price(before, key) or Price(scope, price_type, unit, Decimal(0))
            main.add(price.identity)
            self._add(name, price, PRICE_LABELS[name])
        further = [price for price in before.prices if price.identity not in main]
        for index, price in enumerate(further):
            per = f"million {price.unit}s" if price.unit in PER_MILLION_UNITS else price.unit
            self._add(f"entry_{index}", price, f"{capfirst(price_label(price))} (USD per {per})")

    def _add(self, name: str, price: Price, label: str) -> None:
        self.fields[name] = _price_field(price.unit, label)
        self.initial[name] = price.cost_usd
        self.prices[name] = price

    @property
    def price_fields(self) -> list:
        return [self[name] for name in self.prices]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if any(name in self.errors for name in self.prices):
            return data
        self.changes = {
            price.identity: replace(price, cost_usd=data[name], valid_from=None, valid_until=None)
            for name, price in self.prices.items()
            if data[name] != price.cost_usd
        }
        if not self.changes:
            raise ValidationError(
                "No price differs from its value before this moment: type at least one new price.",
                code="no_change",
            )
        prices = {price.identity: price for price in self.before.prices} | self.changes
        after = replace(self.before, prices=tuple(prices.values()))
        self.large_price_changes = large_changes(self.before, after)
        if self.large_price_changes and not data.get("confirm_large_price_changes"):
            raise ValidationError(
                "Some prices change more than ten times up or down, or to or from zero: check "
                "them at the top of the page, and confirm them there if they are intended.",
                code="large_price_change",
            )
        return data


# --- The list and each change's page -----------------------------------------------------------
class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"
    UPCOMING, STARTED, CANCELLED = "upcoming", "started", "cancelled"

    def lookups(self, request, model_admin):
        return [
            (self.UPCOMING, "Upcoming"),
            (self.STARTED, "In effect (started)"),
            (self.CANCELLED, "Cancelled"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == self.UPCOMING:
            return upcoming(queryset, now)
        if self.value() == self.STARTED:
            return started(queryset, now)
        if self.value() == self.CANCELLED:
            return queryset.filter(cancelled_at__isnull=False)
        return queryset


@admin.register(PriceSchedule)
class PriceScheduleAdmin(admin.ModelAdmin):
    """Every scheduled price change, upcoming ones first (soonest first), then the others
    (latest first). Read-only: staff schedule another change, or cancel one before it starts."""

    list_display = (
        "served_model",
        "takes_effect_at",
        "what_changes",
        "scheduled_by",
        "scheduled_at",
        "visibility",
        "status",
    )
    list_filter = (StatusFilter, "announced", ("model", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("model", "created_by", "cancelled_by")
    search_fields = ("model__model_id",)
    search_help_text = "Search by model ID."
    fields = (*list_display[:-1], "source", "status")
    readonly_fields = fields
    actions = None
    add_form_template = "catalog/priceschedule_add.html"
    change_form_template = "catalog/priceschedule_change_form.html"

    def get_queryset(self, request):
        # Pending ones first, soonest first; then started or cancelled ones, latest first.
        now = timezone.now()
        pending = Q(cancelled_at__isnull=True, effective_at__gt=now)
        # Annotated before it is ordered (ModelAdmin.get_queryset orders it at once).
        return PriceSchedule.objects.annotate(
            done=Case(When(pending, then=Value(0)), default=Value(1), output_field=IntegerField()),
            distance=Case(
                When(pending, then=F("effective_at") - Value(now)),
                default=Value(now) - F("effective_at"),
            ),
        ).order_by(*self.get_ordering(request))

    def get_ordering(self, request):
        return ("done", "distance")

    def has_change_permission(self, request, obj=None):
        return False  # nothing is edited; cancelling is has_cancel_permission

    def has_delete_permission(self, request, obj=None):
        return False  # a deleted schedule would leave its prices scheduled, unexplained

    def has_cancel_permission(self, request) -> bool:
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    @admin.display(description="model", ordering="model__model_id")
    def served_model(self, schedule):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:catalog_servedmodel_change", args=[schedule.model_id]),
            schedule.model.model_id,
        )

    @admin.display(description="visibility", ordering="announced")
    def visibility(self, schedule):
        return "Announced" if schedule.announced else "Confidential until its moment"

    @admin.display(description="takes effect at (UTC)", ordering="effective_at")
    def takes_effect_at(self, schedule):
        return when(schedule.effective_at)

    @admin.display(description="what changes")
    def what_changes(self, schedule):
        return changes_list(schedule)

    @admin.display(description="scheduled by", ordering="created_by__username")
    def scheduled_by(self, schedule):
        return scheduled_by(schedule)

    @admin.display(description="scheduled at (UTC)", ordering="created_at")
    def scheduled_at(self, schedule):
        return when(schedule.created_at)

    @admin.display(description="status")
    def status(self, schedule):
        return status_text(schedule, timezone.now())

    def get_urls(self):
        return [
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="catalog_priceschedule_cancel",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {})}
        schedule = self.get_object(request, object_id)
        if (
            schedule is not None
            and not schedule.cancelled
            and schedule.effective_at > timezone.now()
            and self.has_cancel_permission(request)
        ):
            extra_context["cancel_url"] = reverse(
                "admin:catalog_priceschedule_cancel", args=[schedule.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def cancel_view(self, request, object_id):
        """A confirmation page; its POST cancels the change through ``cancel_schedule``."""
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        schedule = get_object_or_404(PriceSchedule.objects.select_related("model"), pk=object_id)
        page = reverse("admin:catalog_priceschedule_change", args=[schedule.pk])
        if request.method == "POST":
            try:
                with transaction.atomic():
                    # Read again, locked: two cancellations at once must not both pass.
                    schedule = PriceSchedule.objects.select_for_update().get(pk=schedule.pk)
                    cancel_schedule(schedule, user=request.user, source="admin")
            except ScheduleError as error:
                self.message_user(request, f"{error} Nothing was changed.", messages.ERROR)
                return HttpResponseRedirect(page)
            self.log_change(request, schedule, "Cancelled.")
            self.message_user(
                request,
                f"Cancelled the price change of {schedule.model.model_id} for "
                f"{when(schedule.effective_at)}: its old prices stay in force.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:catalog_priceschedule_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel this scheduled price change?",
            "opts": self.opts,
            "schedule": schedule,
            "takes_effect_at": when(schedule.effective_at),
            "changes": changes_list(schedule),
            "started": schedule.cancelled or schedule.effective_at <= timezone.now(),
            "status": status_text(schedule, timezone.now()),
            "page_url": page,
        }
        return TemplateResponse(request, "catalog/priceschedule_cancel.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Schedule a change: the model and moment, then the prices in force just before it,
        each with its new value; held by the price guard until confirmed."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        moment_form = ScheduleMomentForm(
            data, initial={"model": request.GET.get("model")}, admin_site=self.admin_site
        )
        prices_form = None
        moment = None
        if data is not None and moment_form.is_valid():
            model = moment_form.cleaned_data["model"]
            moment = moment_form.cleaned_data["effective_at"]
            before = offering_before(model, moment)
            shown = fingerprint(model, moment, before)
            if data.get("shown") == shown:
                prices_form = SchedulePricesForm(before, data, initial={"shown": shown})
                if prices_form.is_valid():
                    try:
                        schedules = schedule_changes(
                            [ModelChanges(model, prices_form.changes)],
                            moment,
                            user=request.user,
                            source="admin",
                            announced=moment_form.cleaned_data["announced"],
                        )
                    except ScheduleError as error:
                        prices_form.add_error(None, str(error))
                    else:
                        return self._scheduled(request, schedules[0])
            else:
                prices_form = SchedulePricesForm(before, initial={"shown": shown})
                if data.get("shown"):
                    self.message_user(
                        request,
                        "The prices in force before this moment are not the ones shown (the "
                        "model or moment changed, or another change was scheduled meanwhile): "
                        "they are shown anew; check them and schedule again.",
                        messages.WARNING,
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": "Schedule a price change",
            "opts": self.opts,
            "moment_form": moment_form,
            "prices_form": prices_form,
            "before": when(moment) if moment else "",
            "media": self.media + moment_form.media,
            "errors": [
                *moment_form.non_field_errors(),
                *(prices_form.non_field_errors() if prices_form else ()),
            ],
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.add_form_template, context)

    def _scheduled(self, request, schedule: PriceSchedule) -> HttpResponseRedirect:
        self.log_addition(request, schedule, [{"added": {}}])
        self.message_user(
            request,
            f"Scheduled for {when(schedule.effective_at)} on {schedule.model.model_id}: "
            + "; ".join(describe(change) for change in schedule.changes)
            + ".",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:catalog_priceschedule_change", args=[schedule.pk])
        )
