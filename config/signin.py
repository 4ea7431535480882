"""Staff sign-in throttling with django-axes: the lockout page (the address it counts is
``router.client_address``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, saying why it refused and when to try again.

    django-axes calls it (``AXES_LOCKOUT_CALLABLE``) instead of answering with plain text.

    The same words whether the account exists or not, so the page tells a guesser nothing.
    """
    cool_off = settings.AXES_COOLOFF_TIME
    if cool_off:
        minutes = max(1, round(cool_off.total_seconds() / 60))
        when = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask"
    else:
        when = "Ask"
    message = (
        "Too many failed sign-in attempts for this account or from this address: signing in "
        f"is locked. {when} an administrator to lift the lock."
    )
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "app_path": request.get_full_path(),
        "form": AdminAuthenticationForm(request),
        "next": request.POST.get("next", request.GET.get("next", "")),
        "lockout_message": message,
    }
    return render(
        request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
