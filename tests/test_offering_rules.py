"""The offering's rules said once: "in force at a moment" has one Python definition
(``catalog.offering.in_force``), and the SQL that mirrors it for speed agrees with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from catalog.models import Modality, PriceEntry
from catalog.offering import Offering, in_force, next_start

T1 = datetime(2030, 1, 1, tzinfo=UTC)
T2 = datetime(2030, 2, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
# Open, ended, scheduled, a span, and a span that is over: every shape a row's validity takes.
VALIDITIES = [(None, None), (None, T1), (T1, None), (T1, T2), (None, T2), (T2, None)]
# Each end, a tick either side of it, and between.
MOMENTS = [T1 - TICK, T1, T1 + TICK, T1 + timedelta(days=3), T2 - TICK, T2, T2 + TICK]


def _snapshot_prices(model_pk: int, moment: datetime) -> set[int | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT catalog_offering_snapshot(%s, %s)", [model_pk, moment])
        (snapshot,) = cursor.fetchone()
    data = json.loads(snapshot) if isinstance(snapshot, str) else snapshot
    return {price.ttl_seconds for price in Offering.from_json(data, moment).prices}


def test_the_sql_mirrors_of_in_force_agree_with_the_python_definition(make_model):
    model = make_model()
    text = Modality.objects.get(model=model, direction="input", kind="text")
    # One identity per row (its cache lifetime), so that no two rows of one identity overlap.
    rows = {60 * (number + 1): validity for number, validity in enumerate(VALIDITIES)}
    PriceEntry.objects.bulk_create(
        PriceEntry(
            model=model,
            modality=text,
            price_type="cached_prompt",
            unit="token",
            cost_usd=Decimal("0.00000001"),
            ttl_seconds=ttl,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        for ttl, (valid_from, valid_until) in rows.items()
    )
    for moment in MOMENTS:
        python = {ttl for ttl, (start, end) in rows.items() if in_force(start, end, moment)}
        orm = set(
            PriceEntry.objects.filter(PriceEntry.in_force_at(moment), model=model)
            .exclude(ttl_seconds=None)
            .values_list("ttl_seconds", flat=True)
        )
        snapshot = _snapshot_prices(model.pk, moment) - {None}
        assert (moment, orm, snapshot) == (moment, python, python)


def test_the_next_start_is_the_first_start_after_the_moment():
    assert next_start([T2, None, T1, T1 - TICK], T1 - TICK) == T1
    assert next_start([T2, None, T1], T1) == T2
    assert next_start([None, T1], T2) is None
