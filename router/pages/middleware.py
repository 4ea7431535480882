"""A lean path for the public pages through the middleware stack, as the endpoint has
(``router.middleware``)."""

from django.http import Http404

from router.pages import views

LIST_PATH = "/models/"


class PublicPagesMiddleware:
    """Hand GET and HEAD requests for /models/... straight to the pages' views.

    The pages are public, sessionless and send no form that needs a CSRF token, so the
    middleware after this one (static files, sessions, CSRF, authentication, history,
    messages, axes) has nothing to do for them, yet it was most of a warm page's time
    (docs/PERFORMANCE.md). The views set ``X-Frame-Options`` themselves. A 404, another
    method or a URL that is not a page (``/models`` without its slash) takes the normal path.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        # The URLconf's two patterns (router/pages/urls.py), matched here without resolve(),
        # which cost a warm page a quarter of its time.
        if request.method in {"GET", "HEAD"} and path.startswith(LIST_PATH) and path[-1] == "/":
            # ALLOWED_HOSTS is still enforced: CommonMiddleware would have done it.
            request.get_host()
            try:
                if path == LIST_PATH:
                    return views.model_list(request)
                return views.model_page(request, path[len(LIST_PATH) : -1])
            except Http404:
                pass  # the site's own 404 page, through the whole stack
        return self.get_response(request)
