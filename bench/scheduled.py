"""The moment a scheduled price change starts, in-process, for one loaded catalog (issue 15).

    DATABASE_URL=... python -m bench.scheduled

Schedules, as staff do (``catalog.actions.schedule.schedule_changes``), a change of every non-zero
price of one published model in ``SHARE`` at each of ``MOMENTS`` moments a minute apart, a day
ahead. Then it drives the wall clock (``time_machine``) to each moment and calls the WSGI
application as gunicorn does (the fast path in front of Django), flat and typed:

- at the moment, the first request: nothing was written or announced, the body's own moment
  has passed, so it renders (milliseconds and queries); beside it, taking turns with it, the
  render of the first request after a commit (``bench.inprocess.touch_catalog``) half a minute
  before;
- after it, warm requests (queries);
- the microseconds of a warm request (as ``bench.breakdown``) while a change is pending (before
  each moment but the last), and when none is (before the changes are scheduled and after the
  last one), the fastest of each: all under the driven clock, so they compare.

It leaves its schedules behind: ``python -m bench`` runs it last on a size's database, which
it drops next. Prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from bench import TYPED_QUERY, setup_django
from bench.breakdown import request, warm_microseconds
from bench.inprocess import touch_catalog

MOMENTS = 3
SHARE = 100  # one published model in a hundred has a change at each moment
FACTOR = Decimal("1.1")
WARM_RUNS = 10
# More batches than bench.breakdown takes in one process: the two figures are compared with each
# other, in one process, on a machine that others use.
WARM_BATCHES = 30


def schedule(moments: list[datetime]) -> int:
    """Schedule the changes; the number of models that have one at each moment."""
    from catalog.actions.schedule import ModelChanges, prices_before, schedule_changes
    from catalog.models import ServedModel

    published = ServedModel.objects.filter(is_published=True).order_by("pk")
    models = list(published.filter(pk__in=list(published.values_list("pk", flat=True))[::SHARE]))
    for moment in moments:
        before = prices_before(models, moment)
        plans = [
            ModelChanges(
                model,
                {
                    identity: replace(price, cost_usd=price.cost_usd * FACTOR)
                    for identity, price in before[model.pk].items()
                    if price.cost_usd
                },
            )
            for model in models
        ]
        schedule_changes(plans, moment, source="bench")
    return len(models)


def timed(application, query: str) -> tuple[float, int]:
    """(milliseconds, queries) of one gzip request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        request(application, "gzip", query)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, len(queries)


def representation_figures(
    application, query: str, moments: list[datetime], unscheduled_us: float
) -> dict:
    """The figures of one representation; ``unscheduled_us``: its warm request's microseconds
    before anything was scheduled."""
    import time_machine

    from router.cache import FLAT, SCHEMA_VERSIONS, catalog_cache

    wanted = SCHEMA_VERSIONS[0] if query else FLAT

    def served() -> bytes:
        rendered = catalog_cache.warm(wanted)
        if rendered is None:
            raise RuntimeError("the body after a request is not warm")
        return rendered.body

    with time_machine.travel(moments[0] - timedelta(minutes=1), tick=False):
        pending_us = warm_microseconds(application, "gzip", query, WARM_BATCHES)
    after_commit, cold, warm = [], [], []
    for moment in moments:
        # Taking turns with the render at the moment, so that the machine's noise hits both.
        with time_machine.travel(moment - timedelta(seconds=30), tick=False):
            touch_catalog()
            after_commit.append(timed(application, query))
            body = served()
        with time_machine.travel(moment, tick=False):
            cold.append(timed(application, query))
            warm += [timed(application, query) for _ in range(WARM_RUNS)]
            if served() == body:
                raise RuntimeError(f"the change scheduled for {moment} is not served")
            if moment != moments[-1]:  # later changes are still pending
                pending_us = min(
                    pending_us, warm_microseconds(application, "gzip", query, WARM_BATCHES)
                )
    with time_machine.travel(moments[-1], tick=False):
        none_pending_us = warm_microseconds(application, "gzip", query, WARM_BATCHES)
    return {
        "cold_ms": statistics.median(ms for ms, _ in cold),
        "cold_queries": sorted({queries for _, queries in cold}),
        "after_commit_ms": statistics.median(ms for ms, _ in after_commit),
        "after_commit_queries": sorted({queries for _, queries in after_commit}),
        "warm_queries": sorted({queries for _, queries in warm}),
        "warm_us_pending": pending_us,
        # The faster of before the schedules and after them: the order does not favour either.
        "warm_us_none_pending": min(unscheduled_us, none_pending_us),
    }


def main() -> None:
    setup_django()
    import time_machine
    from django.utils import timezone

    from config.wsgi import application

    first = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    moments = [first + timedelta(minutes=number) for number in range(MOMENTS)]
    queries = {"flat": "", "typed": TYPED_QUERY}
    with time_machine.travel(first - timedelta(minutes=2), tick=False):
        unscheduled = {
            name: warm_microseconds(application, "gzip", query, WARM_BATCHES)
            for name, query in queries.items()
        }
    figures: dict = {"models_changed": schedule(moments), "moments": MOMENTS}
    for name, query in queries.items():
        figures[name] = representation_figures(application, query, moments, unscheduled[name])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
