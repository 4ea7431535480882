"""Freshness pushed, not polled: the revision trigger notifies, each process listens, and a
process without a healthy listener asks PostgreSQL until it listens again."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.formats.flat.encode import plain_decimal
from catalog.revision import current_revision
from router.cache import CatalogCache, catalog_cache
from router.listener import RETRY_SECONDS
from tests import processes
from tests.helpers import RAW_PROMPT_PRICE_UPDATE

pytestmark = pytest.mark.django_db(transaction=True)  # notifications are sent on commit

URL = "/inference/router/openrouter/models"
MODEL_ID = "acme/model-1"
OLD_PRICE, NEW_PRICE, NEWER_PRICE = (
    Decimal("0.00000015"),
    Decimal("0.00000099"),
    Decimal("0.00000077"),
)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def push(settings):
    settings.CATALOG_FRESHNESS = "push"
    settings.REDIS_URL = ""


def price_in(rendered) -> Decimal:
    return Decimal(json.loads(rendered.body)["data"][0]["pricing"]["prompt"])


def raw_update(price: Decimal) -> None:
    """A write that no Django signal announces: only the notification tells of it."""
    with connection.cursor() as cursor:
        cursor.execute(RAW_PROMPT_PRICE_UPDATE, [price])


def revision_queries(queries) -> int:
    return sum("catalog_catalogrevision" in query["sql"] for query in queries)


def test_a_notification_reaches_another_process(make_model, push):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    other = processes.start(
        """
from django.db import connection
from django.test.utils import CaptureQueriesContext
print(price(), flush=True)                      # warm, listening
sys.stdin.readline()                            # the test has committed
assert catalog_cache.listener.wait(timeout=30)  # the notification, not a query, tells it
with CaptureQueriesContext(connection) as queries:
    fresh = price()
    price()                                     # warm again: no query at all
print(json.dumps([fresh, [q["sql"] for q in queries]]), flush=True)
""",
        processes.database_url(),
    )
    try:
        assert Decimal(other.stdout.readline()) == OLD_PRICE
        raw_update(NEW_PRICE)
        other.stdin.write("committed\n")
        other.stdin.flush()
        fresh, queries = json.loads(other.stdout.readline())
    finally:
        processes.stop(other)

    assert Decimal(fresh) == NEW_PRICE
    # Only the render of the new revision, in its own snapshot: no revision asked before it.
    assert queries[0] == "BEGIN"
    assert len(queries) == 5, queries


def test_a_warm_request_makes_no_query_when_the_revision_is_pushed(
    client, make_model, push, django_assert_num_queries
):
    make_model(MODEL_ID)
    client.get(URL)

    with django_assert_num_queries(0):
        response = client.get(URL)
    assert response.status_code == 200
    assert catalog_cache.listener.healthy


def test_the_committing_process_sees_its_change_on_its_very_next_request(client, make_model, push):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    client.get(URL)
    listener = catalog_cache.listener
    revision_before = listener.revision()

    model.price_prompt = NEW_PRICE
    model.save()  # on commit, catalog_changed: the next request asks

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert json.loads(response.content)["data"][0]["pricing"]["prompt"] == plain_decimal(NEW_PRICE)
    assert revision_queries(queries) >= 1
    assert revision_before < current_revision()


def test_a_dropped_listener_falls_back_to_asking_and_recovers(make_model, push, caplog):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    clock = FakeClock()
    cache = CatalogCache(clock=clock)
    assert price_in(cache.current()) == OLD_PRICE
    listener = cache.listener
    assert listener.healthy
    assert listener.generation == 1

    # The database ends the listening session (a restart, an operator, a network cut)...
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [listener.backend_pid])
    assert listener.wait(timeout=30)
    # ...and a change commits while nobody listens: its notification is lost to this process.
    raw_update(NEW_PRICE)

    with CaptureQueriesContext(connection) as queries:
        assert price_in(cache.current()) == NEW_PRICE  # never the stale body
    assert revision_queries(queries) >= 1
    assert not listener.healthy

    # Until the retry is due it keeps asking on every call...
    with CaptureQueriesContext(connection) as queries:
        assert price_in(cache.current()) == NEW_PRICE
    assert revision_queries(queries) == 1

    # ...then it listens again, re-reads the revision on its own connection, and stops asking.
    clock.now += RETRY_SECONDS
    with CaptureQueriesContext(connection) as queries:
        assert price_in(cache.current()) == NEW_PRICE
        assert price_in(cache.current()) == NEW_PRICE
    assert len(queries) == 0
    assert listener.healthy
    assert listener.generation == 2

    raw_update(NEWER_PRICE)
    assert listener.wait(timeout=30)
    assert price_in(cache.current()) == NEWER_PRICE
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("Stopped listening" in message for message in warnings) == 1
    assert "Listening for catalog changes again" in warnings
    cache.clear()


def test_strict_mode_asks_every_time_and_never_listens(
    client, make_model, settings, django_assert_num_queries
):
    settings.CATALOG_FRESHNESS = "strict"
    settings.REDIS_URL = ""
    make_model(MODEL_ID)
    generation = catalog_cache.listener.generation
    client.get(URL)

    for _ in range(3):
        # 1. SELECT number FROM catalog_catalogrevision
        with django_assert_num_queries(1):
            assert client.get(URL).status_code == 200
    assert catalog_cache.listener.generation == generation  # never opened
    assert not catalog_cache.listener.healthy
