"""The public endpoint's GET and HEAD answered in front of Django's WSGI handler.

A warm request needs only the cached bytes (``router.cache``), yet Django's handler costs it
more than everything else together. Like WhiteNoise in front of static files, this answers the
endpoint before Django's handler, by running the two middleware the handler would run for it,
``SecurityMiddleware`` then ``router.middleware.CatalogEndpointMiddleware`` (the one way in):
the same bytes (a test compares them), with ``request_started`` and ``request_finished`` sent
around it as the handler sends them. Only a disallowed host goes on to Django's handler (which
logs it and answers 400), found before the catalog is looked at: a request is served once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.security import SecurityMiddleware

from router.middleware import CatalogEndpointMiddleware
from router.urls import ENDPOINT_PATH

_METHODS = frozenset({"GET", "HEAD"})


def _never_called(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("CatalogEndpointMiddleware answers every request it is given here")


class CatalogFastPath:
    def __init__(self, application: WSGIApplication):
        self.application = application
        self.path = "/" + ENDPOINT_PATH
        self.middleware = SecurityMiddleware(CatalogEndpointMiddleware(_never_called))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") not in _METHODS:
            return self.application(environ, start_response)
        request = WSGIRequest(environ)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            response = cast(HttpResponse, self.middleware(request))  # sync middleware
        except DisallowedHost:
            return self.application(environ, start_response)  # logged there, and a 400
        finally:
            signals.request_finished.send(sender=self.__class__)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]
