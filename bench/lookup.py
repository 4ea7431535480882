"""The price API's batch lookup at a year of daily price changes, in-process (issue 21).

    DATABASE_URL=... python -m bench.lookup

On a loaded catalog, gives every model a year of history: the import's record moved a year
back, then one record a day with every price of the model a little higher (written in SQL, as
``catalog.history.record_bulk`` writes records; 365 a model). Then it times, for ``PAIRS``
(model, moment) pairs drawn at random over that year:

- ``catalog.timeline.prices_at``, the lookup itself (queries counted);
- ``POST /api/v1/prices/lookup`` through Django's test client, JSON in and out: a batch of
  records never seen (a new batch each run, the lookup's caches emptied), and the same batch
  again;
- a cold ``GET /api/v1/models/<id>/prices`` and the feed's first page, for scale.

Each is the median of ``RUNS`` runs after one to warm up. Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import timedelta

from bench import setup_django

PAIRS = 1000
DAYS = 365
RUNS = 7


def add_a_year_of_daily_changes() -> int:
    """One record a day for each model, every price a thousandth higher each day; the number
    of records written."""
    from django.db import connection
    from django.utils import timezone

    from catalog.history import HistoricalServedModel

    quote = connection.ops.quote_name
    table = quote(HistoricalServedModel._meta.db_table)
    tracked = [quote(f.column) for f in HistoricalServedModel.tracked_fields]
    start = timezone.now() - timedelta(days=DAYS + 1)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET history_date = %s", [start])
        cursor.execute(
            f"""
            INSERT INTO {table} ({", ".join(tracked)}, history_date, history_type,
                history_change_reason, history_user_id, changed_fields, offering)
            SELECT {", ".join("h." + column for column in tracked)},
                %(start)s + day * interval '1 day', '~', 'bench', NULL, ARRAY['pricing.prompt'],
                jsonb_set(h.offering, '{{prices}}', COALESCE((
                    SELECT jsonb_agg(jsonb_set(p, '{{cost_usd}}',
                        to_jsonb(((p->>'cost_usd')::numeric * (1 + day / 1000.0))::text)))
                    FROM jsonb_array_elements(h.offering->'prices') p), '[]'::jsonb))
            FROM {table} h CROSS JOIN generate_series(1, %(days)s) AS day
            WHERE h.history_type = '+'
            """,
            {"start": start, "days": DAYS},
        )
        written = cursor.rowcount
        # As autovacuum would soon after a bulk load: the planner needs the tables' sizes.
        cursor.execute("ANALYZE")
    return written


def median_ms(call) -> float:
    call()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from catalog import timeline as lookup_path
    from catalog.models import ServedModel
    from catalog.timeline import prices_at
    from router.api import representation
    from router.api.bodies import bodies

    written = add_a_year_of_daily_changes()
    rng = random.Random(21)
    model_ids = list(
        ServedModel.objects.filter(is_published=True).values_list("model_id", flat=True)
    )
    now = timezone.now()

    def batch() -> list:
        return [
            (rng.choice(model_ids), now - timedelta(seconds=rng.randrange(DAYS * 86400)))
            for _ in range(PAIRS)
        ]

    pairs = batch()
    with CaptureQueriesContext(connection) as queries:
        answers = prices_at(pairs)
    assert all(answer.problem is None for answer in answers), "every pair has prices"

    client = Client()

    def json_of(pairs: list) -> str:
        return json.dumps({"lookups": [{"model": m, "at": at.isoformat()} for m, at in pairs]})

    body = json_of(pairs)
    fresh = [json_of(batch()) for _ in range(RUNS + 1)]
    cpu: list[float] = []

    def post(data: str | None = None) -> None:
        started = time.process_time()
        response = client.post(
            "/api/v1/prices/lookup", data or body, content_type="application/json"
        )
        cpu.append((time.process_time() - started) * 1000)
        assert response.status_code == 200, response.content[:300]

    def post_unseen() -> None:
        # Every cache of the lookup's path emptied: its shapes of prices, their texts, the
        # moments and costs read.
        lookup_path.clear_caches()
        representation.clear_caches()
        post(fresh.pop())

    def timeline() -> None:
        bodies.clear()
        assert client.get(f"/api/v1/models/{model_ids[0]}/prices").status_code == 200

    def first_page() -> None:
        bodies.clear()
        assert client.get("/api/v1/changes").status_code == 200

    print(
        json.dumps(
            {
                "models": len(model_ids),
                "records": written + len(model_ids),
                "pairs": PAIRS,
                "lookup_ms": median_ms(lambda: prices_at(pairs)),
                "lookup_queries": len(queries),
                "post_unseen_ms": median_ms(post_unseen),
                "post_unseen_cpu_ms": statistics.median(cpu[1:]),
                "post_ms": median_ms(post),
                "post_cpu_ms": statistics.median(cpu[RUNS + 2 :]),
                "timeline_cold_ms": median_ms(timeline),
                "feed_first_page_cold_ms": median_ms(first_page),
            }
        )
    )


if __name__ == "__main__":
    main()
