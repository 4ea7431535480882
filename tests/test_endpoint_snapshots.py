"""The endpoint against the database as in production: its own transactions, or none at all.

These tests need ``transactional_db``, so they live apart from tests/test_endpoint.py, whose
tests share one golden catalog in a transaction of their module.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from catalog.actions.rows import write_offerings
from catalog.models import Datacenter, ServedModel
from router.cache import CatalogCache
from tests.helpers import ENDPOINT as URL
from tests.helpers import build_model, build_offering


def _cold_render_queries(count: int) -> list[str]:
    datacenters = Datacenter.objects.bulk_create(
        [Datacenter(country_code=code) for code in ("DE", "FR", "US")]
    )
    models = ServedModel.objects.bulk_create(
        build_model(f"acme/model-{index:04}", name=f"Model {index}") for index in range(count)
    )
    write_offerings(
        {model.pk: build_offering() for model in models}, created=True
    )  # modalities and prices: rows of their own
    ServedModel.datacenters.through.objects.bulk_create(
        ServedModel.datacenters.through(servedmodel=model, datacenter=datacenter)
        for model in models
        for datacenter in datacenters
    )
    with CaptureQueriesContext(connection) as queries:
        body = CatalogCache().current().body
    assert len(json.loads(body)["data"]) == count
    return [query["sql"] for query in queries]


@pytest.mark.parametrize("count", [10, 200])
def test_cold_render_runs_the_same_queries_whatever_the_catalog_size(
    transactional_db, no_shared_cache, settings, count
):
    # transactional_db: published_catalog opens its own snapshot, as it does in production.
    # Strict: the revision is asked for on Django's connection, where it is counted.
    settings.CATALOG_FRESHNESS = "strict"
    queries = _cold_render_queries(count)

    # 1. the revision, to compare with the (empty) process cache; then one REPEATABLE READ
    # snapshot: 2. BEGIN, 3. SET TRANSACTION, 4. the revision again, 5. the published models
    # with their datacenters' codes (a subquery), 6. their modalities, 7. their prices a flat
    # record can show, 8. COMMIT.
    assert len(queries) == 8, queries
    assert "catalog_catalogrevision" in queries[0]
    assert queries[1] == "BEGIN"
    assert "REPEATABLE READ" in queries[2]
    assert "catalog_catalogrevision" in queries[3]
    assert "ARRAY(" in queries[4]
    assert 'FROM "catalog_modality"' in queries[5]
    assert 'FROM "catalog_priceentry"' in queries[6]
    assert queries[7] == "COMMIT"


@pytest.fixture(params=["without Redis", "with Redis"])
def any_cache_mode(request, settings):
    if request.param == "with Redis":
        request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""


def test_503_in_json_when_the_database_is_unreachable_and_nothing_is_cached(
    client, transactional_db, settings, any_cache_mode, caplog
):
    unreachable = {
        **settings.DATABASES["default"],
        "HOST": "127.0.0.1",
        "PORT": "1",
        "OPTIONS": {"connect_timeout": 1},
    }
    original = connections["default"].settings_dict
    connections["default"].close()
    connections["default"].settings_dict = unreachable
    try:
        response = client.get(URL)
    finally:
        connections["default"].close()
        connections["default"].settings_dict = original

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The catalog is temporarily unavailable."}
    assert response["Cache-Control"] == "no-store"
    assert "Redis unavailable" not in caplog.text  # a database error is not blamed on Redis
    assert client.get(URL).content == b'{"data":[]}'  # the error was not cached
