"""The public endpoint's GET and HEAD answered at the WSGI level, in front of Django's handler.

A warm request needs only the cached bytes (``router.cache``), yet Django's handler, the
middleware chain and DRF's dispatch cost it more than everything else together
(docs/PERFORMANCE.md). Like WhiteNoise in front of static files, this wraps the WSGI
application and answers the endpoint itself, with the same response the view would send:
the same ``catalog_response``, the same ``SecurityMiddleware`` headers, the host checked against
``ALLOWED_HOSTS``, and, whenever the request may touch the database, ``request_started`` and
``request_finished`` sent as Django sends them (so persistent connections are checked and
recycled as on any request). Anything it would answer differently from the stack (a
disallowed host, an https redirect, other methods, a database error with nothing to serve)
goes to Django's handler, which answers as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.security import SecurityMiddleware

from router.cache import Rendered, catalog_cache
from router.http import catalog_response, representation
from router.urls import ENDPOINT_PATH
from router.views import OpenRouterModelsView


def _never_called(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("only SecurityMiddleware's process_request and process_response are used")


class CatalogFastPath:
    def __init__(self, application: WSGIApplication):
        self.application = application
        self.path = "/" + ENDPOINT_PATH
        self.security = SecurityMiddleware(get_response=_never_called)
        # DRF's APIView names the allowed methods on every response; so does this. (setup()
        # is where Django's View adds HEAD beside GET; the request is not looked at.)
        view = OpenRouterModelsView()
        view.setup(HttpRequest())
        self.allow = ", ".join(view.allowed_methods)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") not in {
            "GET",
            "HEAD",
        }:
            return self.application(environ, start_response)
        request = WSGIRequest(environ)
        wanted = representation(request)
        if wanted is None:
            return self.application(environ, start_response)  # the view answers 400
        rendered = catalog_cache.warm(wanted)
        if rendered is not None:
            # Nothing touches the database: request_started and request_finished, whose work
            # is checking and recycling database connections, have nothing to do.
            response = self._respond(request, lambda: (rendered, None))
        else:
            signals.request_started.send(sender=self.__class__, environ=environ)
            try:
                response = self._respond(request, lambda: catalog_cache.serve(wanted))
            finally:
                signals.request_finished.send(sender=self.__class__)
        if response is None:
            return self.application(environ, start_response)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]

    def _respond(
        self, request: WSGIRequest, serve: Callable[[], tuple[Rendered, float | None]]
    ) -> HttpResponse | None:
        try:
            request.get_host()
        except DisallowedHost:
            return None  # Django's handler logs it and answers 400
        if self.security.process_request(request) is not None:
            return None  # an https redirect: Django's handler sends it
        try:
            rendered, stale_seconds = serve()
        except DatabaseError:
            return None  # the view answers 503
        response = catalog_response(request, rendered, stale_seconds)
        response["Allow"] = self.allow
        self.security.process_response(request, response)  # sets its headers on this response
        return response
