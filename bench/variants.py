"""Variants of the real app that show where a warm request's time goes (not for production).

Each is the project's own WSGI application, middleware, view and cached bytes with one more
cost taken away, for ``bench.serving`` (under gunicorn) and ``bench.breakdown`` (in-process).
The app itself already serves the endpoint's GET and HEAD through the lean middleware path
(``router.middleware.CatalogEndpointMiddleware``, right after ``SecurityMiddleware``):

- ``revision_in_memory``: the app, except that a warm request trusts the revision its process
  already holds and makes no round trip (neither PostgreSQL nor Redis). This is the warm path
  of a design where the revision is pushed to each process (PostgreSQL ``LISTEN/NOTIFY``,
  Redis pub/sub) rather than asked for on each request; the listener is idle between changes,
  so it is left out. It never sees a change: it measures, it does not serve.
- ``without_drf``: the same again, with the lean path handing the request to a plain Django
  function view in place of the DRF ``APIView``, sending the same response
  (``router.http.catalog_response``).

What is left in ``without_drf`` is Django's handler, ``SecurityMiddleware``, the lean path and
the response.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from config.wsgi import application
from router.cache import catalog_cache
from router.http import catalog_response
from router.middleware import CatalogEndpointMiddleware

LEAN_PATH = "router.middleware.CatalogEndpointMiddleware"

_ask_for_revision = catalog_cache.current


def _current_without_round_trip():
    return catalog_cache._local or _ask_for_revision()


# Every app of this module (one per process) holds the revision in memory.
catalog_cache.current = _current_without_round_trip
revision_in_memory = application


def plain_view(request):
    return catalog_response(request, catalog_cache.current())


class PlainViewPath(CatalogEndpointMiddleware):
    """The app's lean path for the endpoint, ending in ``plain_view`` instead of DRF's view."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self.view = plain_view


class _Handler(WSGIHandler):
    """Django's WSGI handler with its own middleware list instead of ``MIDDLEWARE``."""

    def __init__(self, middleware: list[str]):
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=self.middleware):
            super().load_middleware(is_async)


if LEAN_PATH not in settings.MIDDLEWARE:
    raise RuntimeError(f"{LEAN_PATH} is not in MIDDLEWARE: without_drf would not be the app")
without_drf = _Handler(
    [f"{__name__}.PlainViewPath" if name == LEAN_PATH else name for name in settings.MIDDLEWARE]
)
