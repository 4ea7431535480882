"""The one way into the public endpoint's GET and HEAD."""

from router.urls import ENDPOINT_PATH
from router.views import answer


class CatalogEndpointMiddleware:
    """Answer GET and HEAD of the endpoint (``router.views.answer``), right after
    SecurityMiddleware, whichever handler runs it.

    The endpoint is public and sessionless: the middleware after this one (static files,
    sessions, CSRF, authentication, history, messages, framing) has nothing to do for it.
    Django's handler runs it as any middleware (the test client, ASGI, any server that bypasses
    ``config.wsgi``); in front of that handler, ``router.wsgi`` runs SecurityMiddleware and this
    itself. Other methods go on to the view, which answers 405 (and OPTIONS).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = "/" + ENDPOINT_PATH

    def __call__(self, request):
        if request.path_info == self.path and request.method in {"GET", "HEAD"}:
            # ALLOWED_HOSTS is still enforced: CommonMiddleware would have done it.
            request.get_host()
            return answer(request)
        return self.get_response(request)
