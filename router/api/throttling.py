"""The API's throttle: requests per client address, counted in Django's cache."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from config.signin import client_ip_address


class ClientAddressThrottle(SimpleRateThrottle):
    """``PUBLIC_API_THROTTLE_RATE`` per client address, as sign-in counts it (the peer, or the
    address our own ``TRUSTED_PROXY_COUNT`` proxies vouch for); none when the rate is 0."""

    scope = "public_api"

    def get_rate(self) -> str | None:
        # Read per request, not once at import as DRF's class attribute is: settings may change.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip_address(request)}
