"""Whose address a request is: what staff sign-in (django-axes, ``AXES_CLIENT_IP_CALLABLE``)
and the price API's throttle (``router.api.throttling``) count a client by."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip_address(request) -> str:
    """The address a client is counted by: a sign-in attempt, a request to the price API.

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
