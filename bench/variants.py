"""Variants of the real app that show where a warm request's time goes (not for production).

Each is the project's own WSGI application, view and cached bytes with one more cost taken
away, for ``bench.serving`` (under gunicorn) and ``bench.breakdown`` (in-process):

- ``revision_in_memory``: a warm request trusts the revision its process already holds and
  makes no round trip (neither PostgreSQL nor Redis). This is the warm path of a design where
  the revision is pushed to each process (PostgreSQL ``LISTEN/NOTIFY``, Redis pub/sub) rather
  than asked for on each request; the listener is idle between changes, so it is left out.
  It never sees a change: it measures, it does not serve.
- ``no_middleware``: the same, with the endpoint's path served by a Django handler without
  any middleware, whatever ``MIDDLEWARE`` holds (the body is the same, the headers that
  middleware adds are missing); every other path keeps the configured stack.
- ``without_drf``: the same again, with a plain Django function view in place of the DRF
  ``APIView``, sending the same response (``router.http.catalog_response``).

What is left in ``without_drf`` is Django's own handler: the request, URL resolution, the
response.
"""

from __future__ import annotations

from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings
from django.urls import path

from bench import ENDPOINT
from config.wsgi import application as full_application
from router.cache import catalog_cache
from router.http import catalog_response

_ask_for_revision = catalog_cache.current


def _current_without_round_trip():
    return catalog_cache._local or _ask_for_revision()


catalog_cache.current = _current_without_round_trip
revision_in_memory = full_application


class _Handler(WSGIHandler):
    """Django's WSGI handler with its own middleware list instead of ``MIDDLEWARE``."""

    def __init__(self, middleware: list[str]):
        self.middleware = middleware
        super().__init__()

    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=self.middleware):
            super().load_middleware(is_async)


def _endpoint_through(handler: WSGIHandler):
    def application(environ, start_response):
        if environ.get("PATH_INFO") == ENDPOINT:
            return handler(environ, start_response)
        return full_application(environ, start_response)

    return application


no_middleware = _endpoint_through(_Handler([]))


def plain_view(request):
    return catalog_response(request, catalog_cache.current())


urlpatterns = [path(ENDPOINT.removeprefix("/"), plain_view)]


class PlainViewUrls:
    """Resolves the request against this module's ``urlpatterns`` (the plain view)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.urlconf = __name__
        return self.get_response(request)


without_drf = _endpoint_through(_Handler([f"{__name__}.PlainViewUrls"]))
