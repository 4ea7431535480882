"""A lean path for the public pages through the middleware stack, as the endpoint has
(``router.middleware``)."""

from django.http import Http404
from django.urls import Resolver404, resolve

from router.pages import views

_PAGE_VIEWS = {views.model_list, views.model_page}


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
        if request.method in {"GET", "HEAD"} and request.path_info.startswith("/models/"):
            try:
                match = resolve(request.path_info)
            except Resolver404:
                return self.get_response(request)
            if match.func in _PAGE_VIEWS:
                # ALLOWED_HOSTS is still enforced: CommonMiddleware would have done it.
                request.get_host()
                try:
                    return match.func(request, *match.args, **match.kwargs)
                except Http404:
                    pass  # the site's own 404 page, through the whole stack
        return self.get_response(request)
