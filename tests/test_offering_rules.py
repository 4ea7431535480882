"""The offering's rules said once: "in force at a moment" has one Python definition
(``catalog.offering.in_force``), and the SQL that mirrors it for speed agrees with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from catalog.importer import import_catalog
from catalog.models import Modality, PriceEntry, ServedModel
from catalog.offering import Offering, in_force, next_start, offering_snapshot
from tests.helpers import schedule_prices

DATA = Path(__file__).parent / "data"

T1 = datetime(2030, 1, 1, tzinfo=UTC)
T2 = datetime(2030, 2, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
# Open, ended, scheduled, a span, and a span that is over: every shape a row's validity takes.
VALIDITIES = [(None, None), (None, T1), (T1, None), (T1, T2), (None, T2), (T2, None)]
# Each end, a tick either side of it, and between.
MOMENTS = [T1 - TICK, T1, T1 + TICK, T1 + timedelta(days=3), T2 - TICK, T2, T2 + TICK]


def _snapshot_prices(model_pk: int, moment: datetime) -> set[int | None]:
    return {
        price.ttl_seconds
        for price in Offering.from_json(offering_snapshot(model_pk, moment), moment).prices
    }


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


def test_the_snapshot_history_keeps_is_the_offering_as_python_spells_it(db, clock):
    """Every history record's offering is written in SQL (``catalog_offering_snapshot()``);
    ``Offering.as_json()`` is the same snapshot in Python, which tests build records with."""
    import_catalog((DATA / "golden_catalog.json").read_bytes())
    for path in sorted((DATA / "typed").glob("*.json")):  # windows, weekdays, capacities
        import_catalog(path.read_bytes())
    schedule_prices("acme/tide-32b", T2, prompt="0.0000003")

    snapshots = {}
    for model in ServedModel.objects.all():
        snapshots[model.model_id] = offering_snapshot(model.pk, timezone.now())
        # The same values; SQL spells a cost as a plain decimal, Python's str() may not.
        sql = Offering.from_json(snapshots[model.model_id]).as_json()
        assert sql == Offering.of_rows(model).as_json(), model.model_id

    prices = [price for snapshot in snapshots.values() for price in snapshot["prices"]]
    assert len(snapshots) == 14
    assert all(any(key in price for price in prices) for key in ("utc_days", "valid_from"))
    assert any(price["utc_start"] is not None for price in prices)
    assert any(snapshot["capacities"] for snapshot in snapshots.values())
