"""A lean path for the public endpoint through the middleware stack."""

from router.urls import ENDPOINT_PATH
from router.views import OpenRouterModelsView


class CatalogEndpointMiddleware:
    """Hand GET and HEAD requests for the endpoint straight to its view.

    The endpoint is public and sessionless, so the middleware after this one (static files,
    sessions, CSRF, authentication, history, messages, framing) has nothing to do for it, yet it
    cost a warm request more than any other step (docs/PERFORMANCE.md). Placed right after
    SecurityMiddleware, this calls the same DRF view the URLconf routes to, and its response
    goes back out through SecurityMiddleware only. Other methods take the normal path, where
    the view answers 405.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.path = "/" + ENDPOINT_PATH
        self.view = OpenRouterModelsView.as_view()

    def __call__(self, request):
        if request.path_info == self.path and request.method in {"GET", "HEAD"}:
            # ALLOWED_HOSTS is still enforced: CommonMiddleware would have done it.
            request.get_host()
            return self.view(request)
        return self.get_response(request)
