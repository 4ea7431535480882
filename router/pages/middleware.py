"""A lean path for the public pages through the middleware stack, as the endpoint has
(``router.middleware``)."""

from django.http import Http404

from router.pages import views

LIST_PATH = "/models/"
# Where a page's "not found" waits for the rest of the stack, in the request's WSGI environ
# (which router.wsgi hands on to Django's handler with it): the stack answers the site's 404
# without running the view again.
NOT_FOUND = "router.pages.not_found"


class PublicPagesMiddleware:
    """Hand GET and HEAD requests for /models/... straight to the pages' views.

    The pages are public, sessionless and send no form that needs a CSRF token, so the
    middleware after this one (static files, sessions, CSRF, authentication, history,
    messages, axes) has nothing to do for them, yet it was most of a warm page's time
    (docs/PERFORMANCE.md). The views set ``X-Frame-Options`` themselves. A 404, another
    method or a URL that is not a page (``/models`` without its slash) takes the normal path;
    a 404 with the view run once, here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        # The URLconf's two patterns (router/pages/urls.py), matched here without resolve(),
        # which cost a warm page a quarter of its time.
        if (
            request.method in {"GET", "HEAD"}
            and path.startswith(LIST_PATH)
            and path[-1] == "/"
            and NOT_FOUND not in request.META
        ):
            # ALLOWED_HOSTS is still enforced: CommonMiddleware would have done it.
            request.get_host()
            try:
                if path == LIST_PATH:
                    return views.model_list(request)
                return views.model_page(request, path[len(LIST_PATH) : -1])
            except Http404 as missing:
                request.META[NOT_FOUND] = missing  # the site's own 404 page, through the stack
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        """The URLconf's view of a page found missing above: say so again, without running it."""
        missing = request.META.get(NOT_FOUND)
        if missing is not None:
            raise missing
        return None
