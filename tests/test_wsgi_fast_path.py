"""The endpoint answered in front of Django's handler (router.wsgi): the same response as the
stack, where router.middleware answers it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler

from config.wsgi import application
from router.cache import catalog_cache
from router.pages.cache import pages_cache
from router.pages.catalog import PageCatalog
from router.wsgi import MAX_KEPT, CatalogFastPath
from tests.helpers import ENDPOINT, update_prompt_price, wsgi_call

# Committed data: the fast path sends request_started, which (as in production) may close a
# connection, so no test transaction could span it.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stack():
    """Django's own handler, without the fast path in front."""
    return WSGIHandler()


@pytest.fixture
def fast(stack):
    """The fast path in front of it, as config.wsgi builds it (after the settings of a test,
    which, like Django's middleware, it reads when built)."""
    return CatalogFastPath(stack)


def test_the_wsgi_application_has_the_fast_path_in_front(settings):
    assert isinstance(application, CatalogFastPath)
    # What the fast path runs of the stack: the stack must run the same, in the same order.
    assert settings.MIDDLEWARE[:3] == [
        "django.middleware.security.SecurityMiddleware",
        "router.middleware.CatalogEndpointMiddleware",
        "router.pages.middleware.PublicPagesMiddleware",
    ]


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),
        ("GET", {"accept_encoding": "gzip"}),
        ("HEAD", {"accept_encoding": "gzip"}),
        ("GET", {"if_none_match": "*"}),
    ],
)
def test_fast_path_sends_exactly_what_the_stack_sends(
    catalog, settings, stack, fast, method, headers
):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    answer = wsgi_call(fast, method, **headers)  # renders (asks PostgreSQL, then listens)
    assert answer == wsgi_call(stack, method, **headers)
    assert answer[0] in {"200 OK", "304 Not Modified"}
    assert catalog_cache.warm() is not None
    assert wsgi_call(fast, method, **headers) == answer  # warm: from memory, nothing asked


def test_fast_path_leaves_a_disallowed_host_to_django(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["catalog.example.com"]
    status, _, _ = wsgi_call(fast, host="evil.example.net")
    assert status.startswith("400")
    assert wsgi_call(fast, host="catalog.example.com")[0] == "200 OK"


def test_fast_path_leaves_the_https_redirect_to_django(catalog, settings, stack):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.SECURE_SSL_REDIRECT = True
    status, headers, _ = wsgi_call(CatalogFastPath(WSGIHandler()))
    assert status.startswith("301")
    assert headers["location"] == "https://testserver" + ENDPOINT


def test_fast_path_leaves_other_methods_and_paths_to_django(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    status, headers, _ = wsgi_call(fast, "POST")
    assert status.startswith("405")
    assert headers["x-frame-options"] == "DENY"  # through the whole stack
    assert wsgi_call(fast, path=ENDPOINT + "/")[0].startswith("404")


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {}),
        ("GET", {"accept_encoding": "gzip"}),
        ("HEAD", {"accept_encoding": "gzip"}),
        ("GET", {"if_none_match": "*"}),
    ],
)
def test_fast_path_sends_the_typed_format_exactly_as_the_stack(
    catalog, settings, stack, fast, method, headers
):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    query = "schema_version=2.4"
    answer = wsgi_call(fast, method, query=query, **headers)
    assert answer == wsgi_call(stack, method, query=query, **headers)
    assert answer[0] in {"200 OK", "304 Not Modified"}
    assert answer[1]["etag"].startswith('"v2.4-')
    assert catalog_cache.warm("2.4") is not None
    assert wsgi_call(fast, method, query=query, **headers) == answer  # warm
    assert wsgi_call(fast, method, **headers)[1]["etag"] != answer[1]["etag"]  # the flat one


@pytest.mark.parametrize("query", ["schema_version=", "schema_version=1.0", "a=1&schema_version=x"])
def test_fast_path_leaves_an_unsupported_schema_version_to_the_view(
    catalog, settings, stack, fast, query
):
    settings.ALLOWED_HOSTS = ["testserver"]
    answer = wsgi_call(fast, query=query)

    assert answer == wsgi_call(stack, query=query)
    assert answer[0] == "400 Bad Request"
    assert b'"supported_schema_versions": ["2.4"]' in answer[2]


def test_fast_path_serves_the_flat_format_for_other_query_strings(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    flat = wsgi_call(fast)

    assert wsgi_call(fast, query="utm_source=x") == flat
    assert b"schema_version" not in flat[2]


def test_the_test_client_gets_what_the_fast_path_sends(client, catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    status, headers, body = wsgi_call(fast, accept_encoding="gzip")
    response = client.get(ENDPOINT, HTTP_ACCEPT_ENCODING="gzip")

    assert f"{response.status_code} {response.reason_phrase}" == status
    assert {name.lower(): value for name, value in response.items()} == headers
    assert response.content == body


def test_a_response_is_sent_again_only_while_its_body_is_current(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    first = wsgi_call(fast)
    assert wsgi_call(fast) == first  # kept

    update_prompt_price(catalog[0].model_id, Decimal("0.00000099"))  # a committed change
    changed = wsgi_call(fast)

    assert changed[1]["etag"] != first[1]["etag"]
    assert b"0.00000099" in changed[2]
    assert wsgi_call(fast) == changed


def test_varied_request_headers_cannot_grow_what_is_kept(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REDIS_URL = ""
    for n in range(MAX_KEPT + 5):
        assert wsgi_call(fast, accept_encoding=f"gzip, x-{n}")[1]["content-encoding"] == "gzip"
    assert len(fast._kept) == MAX_KEPT


# --- The public pages, answered the same way ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "headers"),
    [
        ("/models/", "", {}),
        ("/models/", "", {"accept_encoding": "gzip"}),
        ("/models/", "q=llama&sort=context", {}),
        ("/models/meta-llama/Llama-3.3-70B-Instruct/", "", {"accept_encoding": "gzip"}),
    ],
)
def test_a_page_is_sent_exactly_as_the_stack_sends_it(
    catalog, settings, stack, fast, path, query, headers
):
    settings.ALLOWED_HOSTS = ["testserver"]
    answer = wsgi_call(fast, path=path, query=query, **headers)

    assert answer[0] == "200 OK"
    assert answer == wsgi_call(stack, path=path, query=query, **headers)
    assert wsgi_call(fast, path=path, query=query, **headers) == answer  # warm


@pytest.mark.parametrize("path", ["/models/acme/no-such-model/", "/models/acme/reranker"])
def test_what_the_pages_leave_to_the_stack_goes_to_django(catalog, settings, stack, fast, path):
    settings.ALLOWED_HOSTS = ["testserver"]
    answer = wsgi_call(fast, path=path)

    assert answer == wsgi_call(stack, path=path)
    assert answer[0].startswith(("404", "301"))  # the site's 404 page; the slash appended


def test_a_page_not_found_runs_its_view_once(catalog, settings, stack, fast, monkeypatch):
    """Through the stack alone the view ran twice (the middleware, then the URLconf), through
    the front three times; the stack now answers the 404 the view raised, without it."""
    settings.ALLOWED_HOSTS = ["testserver"]
    runs = []
    catalog_of = pages_cache.catalog

    def counted() -> PageCatalog:
        runs.append(1)  # every page view starts by asking for the catalog
        return catalog_of()

    monkeypatch.setattr(pages_cache, "catalog", counted)
    path = "/models/acme/no-such-model/"
    answers = []
    for app in (stack, fast):
        runs.clear()
        answers.append(wsgi_call(app, path=path))
        assert len(runs) == 1, app

    assert answers[0] == answers[1]
    status, headers, body = answers[0]
    assert status == "404 Not Found"
    assert headers["x-frame-options"] == "DENY"  # the rest of the stack still ran on it
    assert b"<h1>Not Found</h1>" in body


def test_pages_turned_off_are_not_found_through_the_front_too(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PUBLIC_PAGES = False

    assert wsgi_call(fast, path="/models/")[0].startswith("404")


def test_a_page_of_a_warm_catalog_sends_no_request_signals(catalog, settings, fast):
    settings.ALLOWED_HOSTS = ["testserver"]
    started = []

    def count(**kwargs):
        started.append(kwargs)

    signals.request_started.connect(count)
    try:
        assert wsgi_call(fast, path="/models/")[0] == "200 OK"  # reads the catalog: signalled
        cold = len(started)
        assert wsgi_call(fast, path="/models/", query="sort=context")[0] == "200 OK"
        warm = len(started) - cold
    finally:
        signals.request_started.disconnect(count)

    assert (cold, warm) == (1, 0)
