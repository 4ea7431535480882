"""Staff sign-in throttling with django-axes: whose address a request is, and the lockout page."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.shortcuts import render


def client_ip_address(request) -> str:
    """The address a sign-in attempt is counted against (``AXES_CLIENT_IP_CALLABLE``).

    ``X-Forwarded-For`` is anyone's to write, so it is read only when ``TRUSTED_PROXY_COUNT``
    says how many proxies of ours append to it: the address the outermost of them saw is the
    client's. Without a proxy, or with a header that does not hold that many addresses, the
    peer's address is used; behind a proxy that is the proxy's, which locks every client out
    together rather than letting one pick the address it is counted under.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


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
