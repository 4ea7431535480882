"""The price API on committed data: warm answers that ask PostgreSQL nothing (the revision
pushed, as in production), and ?as_of= through the WSGI fast path (whose request_started may
close a connection, so no test transaction could span it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from config.wsgi import application
from router.api.as_of import past_bodies
from router.api.bodies import bodies
from router.cache import catalog_cache
from tests.helpers import ENDPOINT, import_prices, wsgi_call

pytestmark = pytest.mark.django_db(transaction=True)  # notifications are sent on commit

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
CHAT = "acme/chat"


@pytest.fixture(autouse=True)
def _fresh_api_caches(settings):
    settings.CATALOG_FRESHNESS = "push"
    settings.REDIS_URL = ""
    settings.ALLOWED_HOSTS = ["testserver"]
    bodies.clear()
    past_bodies.clear()
    cache.clear()
    yield
    bodies.clear()
    past_bodies.clear()


@pytest.fixture
def chat(make_model):
    with time_machine.travel(T0, tick=False) as clock:
        make_model(CHAT, price_prompt=Decimal("0.00000015"))
        clock.move_to(T0 + timedelta(days=1))
        import_prices(CHAT, prompt="0.0000002")
        clock.move_to(T0 + timedelta(days=2))
        yield clock


@pytest.mark.parametrize(
    "url", [f"/api/v1/models/{CHAT}/prices", "/api/v1/changes", "/api/v1/changes.atom"]
)
def test_a_warm_answer_makes_no_query_when_the_revision_is_pushed(
    client, chat, url, django_assert_num_queries
):
    first = client.get(url)

    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.status_code == 200
    assert again.content == first.content
    assert catalog_cache.listener.healthy


def test_a_commit_renders_the_timeline_anew(client, chat):
    url = f"/api/v1/models/{CHAT}/prices"
    client.get(url)
    import_prices(CHAT, prompt="0.0000003")

    assert client.get(url).json()["spans"][-1]["flat"]["prompt"] == "0.0000003"


def test_the_wsgi_fast_path_leaves_as_of_to_the_view(client, chat):
    moment = T0 + timedelta(hours=1)

    status, headers, body = wsgi_call(application, query=f"as_of={moment.isoformat()}")

    assert status == "200 OK"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b'"prompt":"0.00000015"' in body
    assert body == client.get(f"{ENDPOINT}?as_of={moment.isoformat()}").content
    assert b'"prompt":"0.0000002"' in wsgi_call(application)[2]
