"""The API's throttle: requests per client address, counted in Django's "throttle" cache."""

from __future__ import annotations

import logging

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from router.client_address import client_ip_address

logger = logging.getLogger(__name__)


class ClientAddressThrottle(SimpleRateThrottle):
    """``PUBLIC_API_THROTTLE_RATE`` per client address, as sign-in counts it (the peer, or the
    address our own ``TRUSTED_PROXY_COUNT`` proxies vouch for); none when the rate is 0."""

    scope = "public_api"
    _failing = False  # whether the last count failed: an outage is logged once, not per request

    def __init__(self):
        super().__init__()
        self.cache = caches["throttle"]  # per request: tests and settings may change it

    def allow_request(self, request, view) -> bool:
        # The throttle protects the API; it must never take it down. A Redis that fails or
        # hangs (REDIS_TIMEOUT_MS) lets the request through.
        try:
            allowed = super().allow_request(request, view)
        except RedisError as error:
            if not ClientAddressThrottle._failing:
                logger.warning("API throttle not counted, Redis failed: %s", error)
            ClientAddressThrottle._failing = True
            return True
        if ClientAddressThrottle._failing:
            logger.warning("API throttle counted again")
            ClientAddressThrottle._failing = False
        return allowed

    def get_rate(self) -> str | None:
        # Read per request, not once at import as DRF's class attribute is: settings may change.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate is None else str(rate)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip_address(request)}
