"""The endpoint's lean path through the middleware (router.middleware)."""

import pytest

from tests.helpers import ENDPOINT

URL = ENDPOINT


@pytest.mark.django_db
def test_endpoint_skips_the_middleware_it_does_not_use(client, catalog):
    response = client.get(URL)
    assert response.status_code == 200
    # XFrameOptionsMiddleware and SessionMiddleware sit below the lean path: their marks are
    # absent, while SecurityMiddleware above it still sets its headers.
    assert "X-Frame-Options" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_other_pages_still_take_the_whole_stack(client):
    response = client.get("/admin/login/")
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_endpoint_still_refuses_hosts_outside_allowed_hosts(client, settings, catalog):
    settings.ALLOWED_HOSTS = ["catalog.example.com"]
    assert client.get(URL, HTTP_HOST="evil.example.net").status_code == 400
    assert client.get(URL, HTTP_HOST="catalog.example.com").status_code == 200


@pytest.mark.django_db
def test_other_methods_take_the_normal_path_and_get_405(client):
    response = client.post(URL)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    # DRF names the view's methods; the GET answered before the view names the same.
    assert client.get(URL).headers["Allow"] == response.headers["Allow"]
    assert response.headers["X-Frame-Options"] == "DENY"
