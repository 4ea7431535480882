"""Queries and times of the real views, in-process with Django's test client, for one catalog.

    DATABASE_URL=... [BENCH_REDIS_URL=redis://... REDIS_KEY_PREFIX=...] python -m bench.inprocess

- the endpoint, cold: the first request after a committed change, which renders the catalog;
- the endpoint, warm: the requests after it, which serve the cached bytes;
  with the revision pushed (the default), without a shared cache and with Redis;
- the same two for the typed representation (``?schema_version=2.4``), without a shared cache;
- the admin's list page of served models, signed in as a superuser, plain and with a search.

Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import time

from bench import ENDPOINT, TYPED_ENDPOINT, setup_django

ADMIN_LIST = "/admin/catalog/servedmodel/"
ADMIN_SEARCH = ADMIN_LIST + "?q=Instruct"
COLD_RUNS = 5
WARM_RUNS = 20
ADMIN_RUNS = 5
# The bench database has no collectstatic manifest; the admin's pages need only the URLs.
PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _measure(client, path: str, **headers) -> tuple[float, int]:
    """(milliseconds, queries) of one GET, which must succeed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return elapsed * 1000, len(queries)


def touch_catalog() -> None:
    """A committed change that alters nothing served: the revision moves, as on any edit."""
    from django.utils import timezone

    from catalog.models import ServedModel

    first = ServedModel.objects.order_by("pk").values("pk")[:1]
    ServedModel.objects.filter(pk__in=first).update(updated_at=timezone.now())


def endpoint_figures(client, path: str = ENDPOINT) -> dict:
    cold = []
    for _ in range(COLD_RUNS):
        touch_catalog()
        cold.append(_measure(client, path, accept_encoding="gzip"))
    warm = [_measure(client, path, accept_encoding="gzip") for _ in range(WARM_RUNS)]
    return {
        "cold_ms": statistics.median(ms for ms, _ in cold),
        "cold_queries": sorted({queries for _, queries in cold}),
        "warm_queries": sorted({queries for _, queries in warm}),
    }


def admin_figures(client) -> dict:
    from django.contrib import admin
    from django.contrib.auth.models import User

    from catalog.models import ServedModel

    if not admin.site.is_registered(ServedModel):
        return {"skipped": "the admin registers no ServedModel yet"}
    user = User.objects.create_superuser("bench-admin", "bench@example.invalid", None)
    client.force_login(user)
    figures = {}
    for name, path in (("list", ADMIN_LIST), ("search", ADMIN_SEARCH)):
        _measure(client, path)  # templates loaded and compiled once, as in a running worker
        runs = [_measure(client, path) for _ in range(ADMIN_RUNS)]
        figures[name] = {
            "ms": statistics.median(ms for ms, _ in runs),
            "queries": sorted({queries for _, queries in runs}),
        }
    return figures


def main() -> None:
    setup_django()
    from django.test import Client
    from django.test.utils import override_settings

    from router.cache import catalog_cache

    client = Client()
    figures: dict = {}
    with override_settings(REDIS_URL=""):
        figures["db"] = endpoint_figures(client)
        figures["typed"] = endpoint_figures(client, TYPED_ENDPOINT)
    redis_url = os.environ.get("BENCH_REDIS_URL", "")
    if redis_url:
        with override_settings(REDIS_URL=redis_url):
            catalog_cache.clear()
            try:
                figures["redis"] = endpoint_figures(client)
            finally:
                catalog_cache.clear()
    else:
        figures["redis"] = {"skipped": "no Redis"}
    with override_settings(STORAGES=PLAIN_STATIC):
        figures["admin"] = admin_figures(client)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
