"""Scheduled prices served on time (issue 15, item 2): until the moment the old price, from the
moment the new one, in every process, with no write, notification or restart at that moment.

The clock is driven (``time_machine``), never waited for: a rendered body knows until when it is
true (``Rendered.valid_until``), and the first request at or after that moment renders again,
under the same revision, while the next ones are warm.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

import router.cache as router_cache
from catalog.actions.schedule import ModelChanges, cancel_schedule, prices_before, schedule_changes
from catalog.choices import Direction, PriceType
from catalog.formats.registry import FORMATS
from catalog.offering import Price
from catalog.revision import current_revision, database_identity
from config.wsgi import application
from router.cache import FLAT, CatalogCache, catalog_cache
from router.http import STALE_HEADER
from tests import processes
from tests.helpers import ENDPOINT, wsgi_call

# Committed data: the revision is pushed (LISTEN/NOTIFY) only for committed changes, and warm
# requests ask PostgreSQL nothing only then.
pytestmark = pytest.mark.django_db(transaction=True)

URL = ENDPOINT
TYPED = "2.4"
MODEL_ID = "acme/model-1"
OLD_PRICE, NEW_PRICE, NEWER_PRICE = (
    Decimal("0.00000015"),
    Decimal("0.00000099"),
    Decimal("0.00000077"),
)
# Far from the machine's own clock: only the traveled clock can make these moments come.
START = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
MOMENT = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2031, 3, 2, 0, 0, tzinfo=UTC)
JUST_BEFORE = MOMENT - timedelta(seconds=1)
WRITES = ("INSERT", "UPDATE", "DELETE", "NOTIFY", "PG_NOTIFY")


@pytest.fixture
def push(settings):
    settings.CATALOG_FRESHNESS = "push"
    settings.REDIS_URL = ""
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.fixture
def clock_start():
    return START


def schedule_prompt(model, price: Decimal, moment: datetime):
    """Schedule ``model``'s prompt price per token to become ``price`` at ``moment``."""
    before = prices_before([model], moment)[model.pk]
    prompt = next(p for p in before.values() if (p.price_type, p.unit) == ("prompt", "token"))
    [schedule] = schedule_changes(
        [ModelChanges(model, {prompt.identity: replace(prompt, cost_usd=price)})],
        moment,
        source="tests",
    )
    return schedule


def prompt_price(body: bytes, representation: str = FLAT) -> Decimal:
    """The first model's prompt price per token, as either representation shows it."""
    record = json.loads(body)["data"][0]
    if representation == FLAT:
        return Decimal(record["pricing"]["prompt"])
    text = next(m for m in record["input_modalities"] if m["type"] == "text")
    return Decimal(
        next(
            p["cost_usd"] for p in text["pricing"] if (p["type"], p["unit"]) == ("prompt", "token")
        )
    )


def query_string(representation: str) -> str:
    return "" if representation == FLAT else f"schema_version={representation}"


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]


@pytest.mark.parametrize("representation", [FLAT, TYPED])
def test_the_new_price_is_served_from_the_moment_with_no_write(
    client, make_model, push, clock, representation
):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    query = query_string(representation)
    revision = current_revision()

    before = client.get(URL, QUERY_STRING=query)
    clock.move_to(JUST_BEFORE)
    with CaptureQueriesContext(connection) as warm_before:
        just_before = client.get(URL, QUERY_STRING=query)
    clock.move_to(MOMENT)
    with CaptureQueriesContext(connection) as first:
        at_moment = client.get(URL, QUERY_STRING=query)
    with CaptureQueriesContext(connection) as warm_after:
        after = client.get(URL, QUERY_STRING=query)

    assert prompt_price(before.content, representation) == OLD_PRICE
    assert prompt_price(just_before.content, representation) == OLD_PRICE
    assert just_before["ETag"] == before["ETag"]
    assert len(warm_before) == 0
    assert prompt_price(at_moment.content, representation) == NEW_PRICE
    assert at_moment["ETag"] != before["ETag"]
    # The first request at the moment renders in its own snapshot (BEGIN, SET TRANSACTION, the
    # revision with the next moment, the models, their modalities, prices [, capacities],
    # COMMIT), asks no revision before it (none was announced) and writes nothing.
    assert first[0]["sql"] == "BEGIN"
    assert len(first) == (7 if representation == FLAT else 8), [q["sql"] for q in first]
    assert not writes(first)
    assert sum("catalog_catalogrevision" in q["sql"] for q in first) == 1  # in the snapshot
    assert len(warm_after) == 0
    assert after.content == at_moment.content
    assert after["ETag"] == at_moment["ETag"]
    assert current_revision() == revision  # the same revision: nothing was written
    assert catalog_cache.listener.healthy


def test_a_cached_copy_of_the_old_body_is_not_revalidated_after_the_moment(
    client, make_model, push, clock
):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    old = client.get(URL, HTTP_ACCEPT_ENCODING="gzip")
    assert client.get(URL, HTTP_IF_NONE_MATCH=old["ETag"]).status_code == 200  # identity's tag
    assert (
        client.get(URL, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=old["ETag"]).status_code
        == 304
    )

    clock.move_to(MOMENT)
    response = client.get(URL, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=old["ETag"])
    assert response.status_code == 200
    assert response["ETag"] != old["ETag"]
    new = client.get(URL, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=response["ETag"])
    assert new.status_code == 304


@pytest.mark.parametrize("representation", [FLAT, TYPED])
def test_the_fast_path_renders_once_at_the_moment_then_serves_warm(
    make_model, push, clock, representation
):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    query = query_string(representation)
    status, headers, body = wsgi_call(application, query=query)
    assert (status, prompt_price(body, representation)) == ("200 OK", OLD_PRICE)
    assert catalog_cache.warm(representation) is not None

    clock.move_to(MOMENT)
    assert catalog_cache.warm(representation) is None  # past its moment: not warm any more
    with CaptureQueriesContext(connection) as first:
        status, new_headers, new_body = wsgi_call(application, query=query)
    with CaptureQueriesContext(connection) as warm:
        again = wsgi_call(application, query=query)

    assert (status, prompt_price(new_body, representation)) == ("200 OK", NEW_PRICE)
    assert new_headers["etag"] != headers["etag"]
    assert len(first) > 0
    assert not writes(first)
    assert len(warm) == 0
    assert again == ("200 OK", new_headers, new_body)


def test_strict_mode_serves_the_new_price_from_the_moment(
    client, make_model, settings, clock, django_assert_num_queries
):
    settings.CATALOG_FRESHNESS = "strict"
    settings.REDIS_URL = ""
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    assert prompt_price(client.get(URL).content) == OLD_PRICE

    clock.move_to(MOMENT)
    # 1. the revision (strict mode asks), 2.-8. the render (as in push mode)
    with django_assert_num_queries(8):
        assert prompt_price(client.get(URL).content) == NEW_PRICE
    with django_assert_num_queries(1):  # the revision only: warm
        assert prompt_price(client.get(URL).content) == NEW_PRICE


def test_validity_moves_from_one_scheduled_change_to_the_next(make_model, push, clock):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    schedule_prompt(model, NEWER_PRICE, LATER)
    cache = CatalogCache()
    try:
        served = []
        for moment in (START, MOMENT, LATER - timedelta(minutes=1), LATER):
            clock.move_to(moment)
            rendered = cache.current()
            served.append((prompt_price(rendered.body), rendered.valid_until))
        assert served == [
            (OLD_PRICE, MOMENT.timestamp()),
            (NEW_PRICE, LATER.timestamp()),
            (NEW_PRICE, LATER.timestamp()),
            (NEWER_PRICE, None),  # nothing scheduled after: true until the next revision
        ]
    finally:
        cache.clear()


def test_a_cancelled_schedule_leaves_the_body_valid_past_its_moment(
    client, make_model, push, clock
):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule = schedule_prompt(model, NEW_PRICE, MOMENT)
    assert catalog_cache.current().valid_until == MOMENT.timestamp()

    cancel_schedule(schedule)  # a write: a new revision, whose body has no moment to end at
    assert prompt_price(client.get(URL).content) == OLD_PRICE
    assert catalog_cache.current().valid_until is None
    clock.move_to(MOMENT)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert prompt_price(response.content) == OLD_PRICE
    assert len(queries) == 0  # still warm: the cancelled moment no longer ends it


def test_a_schedule_of_an_unpublished_model_does_not_shorten_validity(
    client, make_model, push, clock
):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    draft = make_model("acme/secret-draft", price_prompt=OLD_PRICE, is_published=False)
    schedule_prompt(draft, NEW_PRICE, MOMENT)
    client.get(URL)
    assert catalog_cache.current().valid_until is None
    assert catalog_cache.current("2.4").valid_until is None

    clock.move_to(MOMENT)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert [record["id"] for record in json.loads(response.content)["data"]] == [MODEL_ID]
    assert len(queries) == 0


def test_a_typed_only_price_change_leaves_the_flat_body_current(client, make_model, push, clock):
    # A price per reasoning token shows only in the typed format: its start at the moment must
    # not make the flat body expire and be rendered again into the same bytes.
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    reasoning = Price((Direction.OUTPUT, "text"), PriceType.INTERNAL_REASONING, "token", NEW_PRICE)
    schedule_changes([ModelChanges(model, {reasoning.identity: reasoning})], MOMENT, source="t")
    flat = client.get(URL)
    typed = client.get(URL, QUERY_STRING=query_string(TYPED))
    assert catalog_cache.current().valid_until is None
    assert catalog_cache.current(TYPED).valid_until == MOMENT.timestamp()

    clock.move_to(MOMENT)
    with CaptureQueriesContext(connection) as queries:
        flat_after = client.get(URL)
    typed_after = client.get(URL, QUERY_STRING=query_string(TYPED))

    assert len(queries) == 0  # still warm: nothing rendered
    assert (flat_after.content, flat_after["ETag"]) == (flat.content, flat["ETag"])
    assert typed_after["ETag"] != typed["ETag"]
    assert b'"internal_reasoning"' in typed_after.content
    assert b'"internal_reasoning"' not in typed.content


def test_a_body_past_its_moment_is_served_stale_while_postgres_fails(
    client, make_model, push, clock, settings, monkeypatch
):
    """Past its moment, the body is no longer current; with PostgreSQL down it is still the
    last one known, served as stale (``Catalog-Stale``, ``no-store``) for the usual bound."""
    settings.CATALOG_STALE_IF_ERROR = 300
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    fresh = client.get(URL)
    assert STALE_HEADER not in fresh

    def unreachable(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setitem(FORMATS, FLAT, replace(FORMATS[FLAT], published=unreachable))
    clock.move_to(MOMENT)
    stale = client.get(URL)
    assert stale.status_code == 200
    assert stale.content == fresh.content
    assert stale[STALE_HEADER] == "0"
    assert stale["Cache-Control"] == "no-store"

    monkeypatch.undo()
    router_cache.catalog_cache._retry_database_at = 0.0  # the retry is due: no waiting for it
    recovered = client.get(URL)
    assert STALE_HEADER not in recovered
    assert prompt_price(recovered.content) == NEW_PRICE


def redis_value(cache: CatalogCache, url: str, revision: int) -> bytes:
    value = redis.Redis.from_url(url).get(cache.shared._key(revision))
    assert isinstance(value, bytes)
    return value


def test_redis_hands_out_no_body_past_its_moment_and_the_next_render_replaces_it(
    make_model, push, redis_url, clock
):
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    first, second, third = CatalogCache(), CatalogCache(), CatalogCache()
    try:
        old = first.current()
        assert redis_value(first, redis_url, old.revision).startswith(
            repr(MOMENT.timestamp()).encode() + b"\n"
        )
        with CaptureQueriesContext(connection) as queries:
            assert second.current().body == old.body  # found in Redis: not rendered
        assert not any("catalog_priceentry" in q["sql"] for q in queries)

        clock.move_to(MOMENT)
        # The old body is still in Redis under the same revision, but past its moment: a
        # process that finds it renders and writes the new body over it.
        with CaptureQueriesContext(connection) as queries:
            new = third.current()
        assert any("catalog_priceentry" in q["sql"] for q in queries)
        assert (new.revision, prompt_price(new.body)) == (old.revision, NEW_PRICE)
        assert redis_value(third, redis_url, new.revision) == b"\n" + new.body

        # A process that served the old body finds the new one in Redis: no render.
        with CaptureQueriesContext(connection) as queries:
            assert second.current() == new
        assert len(queries) == 0
    finally:
        for cache in (first, second, third):
            cache.listener.close()


def test_a_release_before_scheduled_prices_and_this_one_never_share_a_redis_key(
    make_model, push, redis_url, settings
):
    """That release stored the body alone under ``…:body:<revision>``; this one stores the
    moment first. During a rolling deploy both share Redis and the revision: neither may read
    the other's value as its own."""
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    earlier_release = f"{settings.REDIS_KEY_PREFIX}:{database_identity()}:body:{current_revision()}"
    client = redis.Redis.from_url(redis_url)
    client.set(earlier_release, b'{"data":[]}')

    rendered = catalog_cache.current()
    assert prompt_price(rendered.body) == OLD_PRICE  # rendered, not that value misread
    assert client.get(earlier_release) == b'{"data":[]}'  # that release still finds its own


ANOTHER_PROCESS = """
import time_machine
from datetime import datetime
from django.db import connection
from django.test.utils import CaptureQueriesContext
for line in sys.stdin:                          # a moment: this process's clock is there
    with time_machine.travel(datetime.fromisoformat(line.strip()), tick=False):
        with CaptureQueriesContext(connection) as queries:
            served = price()
        pending = catalog_cache.listener.wait(timeout=0)
    print(json.dumps([served, [q["sql"] for q in queries], pending]), flush=True)
"""


@pytest.mark.parametrize("shared", ["database", "redis"])
def test_another_process_changes_price_at_the_moment_on_its_own_clock(
    make_model, push, clock, request, shared
):
    """A second process, told nothing but what time it is: no notification reaches it at the
    moment (none is sent), and it serves the new price from the moment on its own clock."""
    if shared == "redis":
        request.getfixturevalue("redis_url")
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    schedule_prompt(model, NEW_PRICE, MOMENT)
    # A Redis on a busy machine may take longer than the 5 ms a request allows it.
    other = processes.start(ANOTHER_PROCESS, processes.database_url(), REDIS_TIMEOUT_MS="1000")

    def at(moment: datetime) -> tuple[Decimal, list[str], bool]:
        processes.send(other, moment.isoformat())
        served, queries, pending = json.loads(processes.receive(other))
        return Decimal(served), queries, pending

    try:
        assert at(START)[0] == OLD_PRICE  # renders (or finds in Redis) and listens
        assert at(JUST_BEFORE) == (OLD_PRICE, [], False)  # warm
        if shared == "redis":
            clock.move_to(MOMENT)
            assert prompt_price(catalog_cache.current().body) == NEW_PRICE  # into Redis
        price, queries, pending = at(MOMENT)
        assert (price, pending) == (NEW_PRICE, False)
        if shared == "redis":
            assert queries == []  # the body this process rendered, from Redis
        else:
            assert queries[0] == "BEGIN"
            assert len(queries) == 7, queries
            assert not any(q.lstrip().upper().startswith(WRITES) for q in queries)
        assert at(LATER) == (NEW_PRICE, [], False)  # warm again
    finally:
        processes.stop(other)
