"""``?as_of=`` on the OpenRouter endpoint: the catalog exactly as it was served at a past
moment, the bytes ``export_models --as-of`` writes (``catalog.formats.published``).

A past moment's body never changes once the moment is settled (a change is recorded at the
moment it was made, a little before it commits), so it is sent with a long-lived
``Cache-Control`` and an ETag, and the most recent few are kept in memory
(``PUBLIC_API_AS_OF_BODIES``). A moment of the last ``SETTLING`` may still gain a record from a
transaction under way: it is answered, but neither kept nor cached downstream. A future moment
is refused: the future is what has been announced (``/api/v1/models/<id>/prices``).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.exceptions import Throttled

from catalog.formats.published import HistoryUnavailable
from catalog.formats.registry import FORMATS
from router.api.errors import error_body, iso, moment_or_problem
from router.api.throttling import ClientAddressThrottle
from router.cache import FLAT, SCHEMA_VERSIONS, Rendered
from router.http import (
    SCHEMA_VERSION_PARAMETER,
    catalog_response,
    unknown_schema_version_response,
)

AS_OF = "as_of"
# Longer than any transaction that writes the catalog (an import of 10,000 models: seconds).
SETTLING = timedelta(minutes=5)
IMMUTABLE = "public, max-age=31536000, immutable"


class PastBodies:
    """The most recently asked bodies of past moments, per representation, bounded."""

    def __init__(self):
        self._bodies: OrderedDict[tuple[datetime, str], Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, moment: datetime, wanted: str) -> Rendered | None:
        with self._lock:
            rendered = self._bodies.get((moment, wanted))
            if rendered is not None:
                self._bodies.move_to_end((moment, wanted))
            return rendered

    def put(self, moment: datetime, rendered: Rendered) -> None:
        size = settings.PUBLIC_API_AS_OF_BODIES
        with self._lock:
            self._bodies[moment, rendered.representation] = rendered
            self._bodies.move_to_end((moment, rendered.representation))
            while len(self._bodies) > size:
                self._bodies.popitem(last=False)

    def __len__(self) -> int:
        return len(self._bodies)

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()


past_bodies = PastBodies()


def past_catalog_response(request: HttpRequest) -> HttpResponse | None:
    """The answer to ``?as_of=``, or None when the query does not ask for it."""
    values = request.GET.getlist(AS_OF)
    if not values:
        return None
    if not settings.PUBLIC_API:
        return JsonResponse(error_body(AS_OF, "as_of is not served here.", "disabled"), status=404)
    # The price API's own use of the endpoint (OpenRouter never asks a past moment): each
    # request counts against the API's throttle, since any new moment is a whole render.
    throttle = ClientAddressThrottle()
    if not throttle.allow_request(request, None):
        wait = throttle.wait() or 1
        refused = Throttled(wait)  # worded as DRF answers the API's views
        return JsonResponse(
            {"detail": str(refused.detail)},
            status=refused.status_code,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    # As router.http.representation reads schema_version: absent, or one served version.
    versions = set(request.GET.getlist(SCHEMA_VERSION_PARAMETER))
    if versions and (len(versions) > 1 or not versions <= set(SCHEMA_VERSIONS)):
        return unknown_schema_version_response(request)
    wanted = versions.pop() if versions else FLAT
    if len(values) > 1:
        return _bad("Give one as_of.", "repeated")
    moment = moment_or_problem(values[0])
    if isinstance(moment, str):
        return _bad(f"as_of: {moment}", "invalid_moment")
    now = timezone.now()
    if moment > now:
        return _bad(
            f"as_of {iso(moment)} is in the future (it is now {iso(now)}): the catalog's "
            "future is what has been announced, in /api/v1/models/<id>/prices.",
            "future",
        )
    settled = moment <= now - SETTLING
    rendered = past_bodies.get(moment, wanted) if settled else None
    if rendered is None:
        try:
            rendered = Rendered(0, _body(moment, wanted), wanted)
        except DatabaseError:
            return JsonResponse(
                {"detail": "The catalog is temporarily unavailable."},
                status=503,
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        if settled:
            past_bodies.put(moment, rendered)
    response = catalog_response(request, rendered)
    response["Cache-Control"] = IMMUTABLE if settled else "public, no-cache"
    return response


def _body(moment: datetime, wanted: str) -> bytes:
    """What ``export_models --as-of`` writes for ``moment``: an empty catalog before the
    history's first record."""
    written = FORMATS[wanted]
    try:
        return written.as_of(moment)
    except HistoryUnavailable:
        return written.render([])


def _bad(message: str, code: str) -> JsonResponse:
    return JsonResponse(error_body(AS_OF, message, code), status=400)
