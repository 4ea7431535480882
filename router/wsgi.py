"""The public endpoint's GET and HEAD answered in front of Django's WSGI handler.

A warm request needs only the cached bytes (``router.cache``), yet Django's handler costs it
more than everything else together. Like WhiteNoise in front of static files, this answers the
endpoint before Django's handler, by running the two middleware the handler would run for it,
``SecurityMiddleware`` then ``router.middleware.CatalogEndpointMiddleware`` (the one way in):
the same bytes (a test compares them), with ``request_started`` and ``request_finished`` sent
around it as the handler sends them. Only a disallowed host goes on to Django's handler (which
logs it and answers 400), found before the catalog is looked at: a request is served once.

The public pages (``/models/...``) are answered the same way, by the next middleware of the
stack, ``router.pages.middleware.PublicPagesMiddleware``; a request it leaves to the rest of
the stack (a page not found, the pages turned off) goes on to Django's handler whole.

A warm request of the endpoint repeats a response already made: each response to a current
body is kept under the request values it depends on for as long as that body stays current
(``catalog_cache.warm``), and sent again without building a request; it skips the signals,
whose work, checking database connections, it has none of.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import NamedTuple, cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.security import SecurityMiddleware

from router.cache import Rendered, catalog_cache
from router.http import STALE_HEADER, representation
from router.middleware import CatalogEndpointMiddleware
from router.pages.cache import pages_cache
from router.pages.middleware import LIST_PATH, PublicPagesMiddleware
from router.urls import ENDPOINT_PATH

# Responses kept at once (one per variant asked: method, encoding, representation, host...);
# past it the oldest goes, so that varied headers cannot grow the memory.
MAX_KEPT = 64
_METHODS = frozenset({"GET", "HEAD"})
# What a response depends on besides the body and the settings: the method, the query string
# (the representation), the codings and validators accepted, what Django reads the host and
# the scheme from (``get_host``, ``is_secure``; the proxy's header is added from the settings).
_VARIES_WITH = (
    "REQUEST_METHOD",
    "QUERY_STRING",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_IF_NONE_MATCH",
    "HTTP_HOST",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
)


class Kept(NamedTuple):
    """A response as sent, and the body it was made of."""

    rendered: Rendered
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class _HandOn(Exception):
    """The front middleware left the request to the rest of the stack: Django's handler."""


def _hand_on(request: HttpRequest) -> HttpResponseBase:
    raise _HandOn


class CatalogFastPath:
    def __init__(self, application: WSGIApplication):
        self.application = application
        self.path = "/" + ENDPOINT_PATH
        self._kept: dict[tuple, Kept] = {}
        self._lock = threading.Lock()  # for threaded workers: _keep reads while it writes
        self._configure()
        # The middleware and the keys read the settings once, as Django's handler does; a test
        # that changes them has them read again.
        signals.setting_changed.connect(self._configure)

    def _configure(self, **kwargs) -> None:
        self.middleware = SecurityMiddleware(
            CatalogEndpointMiddleware(PublicPagesMiddleware(_hand_on))
        )
        proxy_header = settings.SECURE_PROXY_SSL_HEADER
        self._varies_with = _VARIES_WITH + ((proxy_header[0],) if proxy_header else ())
        self._kept.clear()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        endpoint = path == self.path
        key: tuple = ()
        if endpoint:
            # A response kept is looked up first, and nothing else: its key holds the method.
            # Only the endpoint's responses are kept: a page is in the pages' own cache.
            key = tuple(map(environ.get, self._varies_with))
            kept = self._kept.get(key)
            if (
                kept is not None
                and catalog_cache.warm(kept.rendered.representation) is kept.rendered
            ):
                start_response(kept.status, list(kept.headers))
                return [kept.body]
        if environ.get("REQUEST_METHOD") not in _METHODS or not (
            endpoint or path.startswith(LIST_PATH)
        ):
            return self.application(environ, start_response)
        request = WSGIRequest(environ)
        # A page of a warm catalog touches no database: the signals' connection checks
        # are for requests that may.
        signalled = endpoint or not pages_cache.warm()
        if signalled:
            signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            response = cast(HttpResponse, self.middleware(request))  # sync middleware
        except (DisallowedHost, _HandOn):
            # Django's handler logs a disallowed host and answers 400; and answers what
            # the pages leave to the stack (its 404 page).
            return self.application(environ, start_response)
        finally:
            if signalled:
                signals.request_finished.send(sender=self.__class__)
        status = f"{response.status_code} {response.reason_phrase}"
        headers, body = list(response.items()), response.content
        current = self._current_body(request, response) if endpoint else None
        if current is not None:
            self._keep(key, Kept(current, status, headers, body))
        start_response(status, list(headers))
        return [body]

    def _current_body(self, request: HttpRequest, response: HttpResponse) -> Rendered | None:
        """The body ``response`` was made of, if that is the current one."""
        wanted = representation(request)
        # None while the database fails; a response that went out stale as it came back is
        # marked so: neither is kept.
        current = catalog_cache.warm(wanted) if wanted is not None else None
        if current is None or response.has_header(STALE_HEADER):
            return None
        return current if response.get("ETag") in (current.etag, current.gzip_etag) else None

    def _keep(self, key: tuple, kept: Kept) -> None:
        with self._lock:
            # A new body makes the responses kept for its representation obsolete: forget them
            # all, so that no old body stays in memory.
            kind = kept.rendered.representation
            if any(
                other.rendered.representation == kind
                for other in self._kept.values()
                if other.rendered is not kept.rendered
            ):
                self._kept.clear()
            while len(self._kept) >= MAX_KEPT:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = kept
