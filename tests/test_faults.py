"""The endpoint stays up: PostgreSQL unreachable (stale-if-error), Redis hung or refused (a
circuit breaker), two deployments sharing one Redis (keys bound to their database)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from decimal import Decimal

import psycopg
import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.db import DatabaseError, close_old_connections, connection, connections
from psycopg import sql

from catalog.formats.flat.encode import plain_decimal
from config.wsgi import application
from router.cache import DATABASE_RETRY_SECONDS, catalog_cache
from router.http import STALE_HEADER
from tests import processes
from tests.helpers import (
    ENDPOINT,
    RAW_PROMPT_PRICE_UPDATE,
    REDIS_KEY_PREFIX,
    FakeClock,
    update_prompt_price,
    wsgi_call,
)

URL = ENDPOINT
MODEL_ID = "acme/model-1"
OLD_PRICE, NEW_PRICE = Decimal("0.00000015"), Decimal("0.00000099")


@pytest.fixture
def cache_clock(monkeypatch):
    """The cache's clock (stale ages, retry intervals, the Redis breaker), moved by hand."""
    fake = FakeClock()
    monkeypatch.setattr(catalog_cache, "clock", fake)
    monkeypatch.setattr(catalog_cache.shared, "clock", fake)
    return fake


def warnings(caplog, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


# --- PostgreSQL unreachable -------------------------------------------------------------------


class Outage:
    """PostgreSQL unreachable for this process: Django's connection and the listener's."""

    def __enter__(self):
        self.original = connections["default"].settings_dict
        connections["default"].close()
        catalog_cache.listener.close()  # as a restart ends its session
        connections["default"].settings_dict = {
            **self.original,
            "HOST": "127.0.0.1",
            "PORT": "1",
            "OPTIONS": {"connect_timeout": 1},
        }

    def __exit__(self, *exc):
        connections["default"].close()
        connections["default"].settings_dict = self.original


def test_stale_if_error_serves_the_last_body_with_a_header_then_recovers(
    client, transactional_db, make_model, settings, cache_clock, caplog
):
    settings.REDIS_URL = ""
    settings.CATALOG_STALE_IF_ERROR = 300
    make_model(MODEL_ID)
    fresh = client.get(URL, HTTP_ACCEPT_ENCODING="gzip")
    assert STALE_HEADER not in fresh

    with Outage():
        cache_clock.now += 10
        stale = client.get(URL, HTTP_ACCEPT_ENCODING="gzip")
        cache_clock.now += 0.5  # before the retry is due: served without trying PostgreSQL
        again = client.get(URL)
        cache_clock.now += 289.5  # 300 s after it was last known current: the limit
        last = client.get(URL)
        cache_clock.now += DATABASE_RETRY_SECONDS  # past the limit
        gone = client.get(URL)

    assert stale.status_code == 200
    assert stale.content == fresh.content
    assert stale["ETag"] == fresh["ETag"]
    assert stale[STALE_HEADER] == "10"
    assert stale["Cache-Control"] == "no-store"
    assert (again.status_code, again[STALE_HEADER]) == (200, "10")
    assert (last.status_code, last[STALE_HEADER]) == (200, "300")
    assert gone.status_code == 503
    assert len(warnings(caplog, "PostgreSQL unavailable")) == 1  # once, not per request

    cache_clock.now += DATABASE_RETRY_SECONDS
    recovered = client.get(URL)
    assert recovered.status_code == 200
    assert STALE_HEADER not in recovered
    assert recovered["Cache-Control"] == "public, no-cache"
    assert warnings(caplog, "PostgreSQL available again")


def test_the_public_pages_serve_their_last_catalog_while_postgresql_is_unreachable(
    client, transactional_db, make_model, settings, cache_clock
):
    settings.REDIS_URL = ""
    settings.CATALOG_STALE_IF_ERROR = 300
    make_model(MODEL_ID, name="Model one")
    fresh = client.get("/models/")

    with Outage():
        cache_clock.now += 10
        stale = client.get("/models/")
        searched = client.get("/models/", {"q": "one"})  # a view not seen yet: from memory
        cache_clock.now += 291  # more than 300 s after it was last known current
        with pytest.raises(DatabaseError):
            client.get("/models/")

    assert stale.status_code == 200
    assert stale.content == fresh.content
    assert stale["Cache-Control"] == "no-store"  # no cache downstream may keep it
    assert f"/models/{MODEL_ID}/" in searched.content.decode()
    cache_clock.now += DATABASE_RETRY_SECONDS
    assert client.get("/models/")["Cache-Control"] == "public, no-cache"


def test_stale_if_error_zero_answers_503_at_once(
    client, transactional_db, make_model, settings, cache_clock
):
    settings.REDIS_URL = ""
    settings.CATALOG_STALE_IF_ERROR = 0
    make_model(MODEL_ID)
    assert client.get(URL).status_code == 200

    with Outage():
        assert client.get(URL).status_code == 503


@pytest.mark.parametrize(
    ("stale_if_error", "status"), [(0, "503 Service Unavailable"), (300, "200 OK")]
)
def test_a_database_error_is_served_once_and_as_the_stack_serves_it(
    transactional_db, make_model, settings, cache_clock, monkeypatch, stale_if_error, status
):
    # The way in before Django's handler (config.wsgi) answers the failure itself: the catalog
    # is asked once, not once there and again by the view behind it.
    settings.REDIS_URL = ""
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.CATALOG_STALE_IF_ERROR = stale_if_error
    make_model(MODEL_ID)
    assert wsgi_call(application)[0] == "200 OK"
    serve, asked = catalog_cache.serve, []

    def counted(*args):
        asked.append(args)
        return serve(*args)

    monkeypatch.setattr(catalog_cache, "serve", counted)

    with Outage():
        cache_clock.now += 10
        answer = wsgi_call(application, accept_encoding="gzip")
        asked_once = len(asked)
        through_the_stack = wsgi_call(WSGIHandler(), accept_encoding="gzip")

    assert asked_once == 1
    assert answer[0] == status
    assert answer == through_the_stack


def test_a_connection_gone_stale_across_a_restart_fails_no_request(
    client, transactional_db, make_model, settings
):
    # CONN_HEALTH_CHECKS (on by default): a persistent connection the server has ended is
    # replaced before the request uses it, instead of failing it.
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]
    settings.CATALOG_FRESHNESS = "strict"
    settings.REDIS_URL = ""
    make_model(MODEL_ID)
    assert client.get(URL).status_code == 200
    ended = connection.connection.info.backend_pid

    with psycopg.connect(processes.database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])

    # What the WSGI handler does on request_started (Django's test client leaves it out).
    close_old_connections()
    response = client.get(URL)
    assert response.status_code == 200
    assert STALE_HEADER not in response
    assert connection.connection.info.backend_pid != ended


# --- Redis hung or refused --------------------------------------------------------------------


class HungRedis:
    """A TCP server that accepts connections and never answers (a hung Redis)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.server.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def hung_redis(settings):
    fake = HungRedis()
    settings.REDIS_URL = fake.url
    yield fake
    settings.REDIS_URL = ""  # before conftest's teardown clears the cache
    fake.close()


def change_catalog(price: Decimal) -> None:
    update_prompt_price(MODEL_ID, price)


def test_a_hung_redis_costs_one_request_a_few_milliseconds_then_is_skipped(
    client, make_model, hung_redis, settings, cache_clock, caplog
):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)

    started = time.monotonic()
    first = client.get(URL)
    elapsed = time.monotonic() - started

    assert first.status_code == 200
    assert len(hung_redis.accepted) == 1
    # One read timed out (REDIS_TIMEOUT_MS, no retries), the catalog was rendered locally. The
    # bound is loose for a shared machine; the design before this waited 0.5 s per try.
    assert settings.REDIS_TIMEOUT_MS / 1000 <= elapsed < 0.4

    # While the breaker is open, new revisions are rendered without trying Redis at all.
    for price in (NEW_PRICE, OLD_PRICE, NEW_PRICE):
        change_catalog(price)
        body = client.get(URL).content
        assert json.loads(body)["data"][0]["pricing"]["prompt"] == plain_decimal(price)
    assert len(hung_redis.accepted) == 1
    assert len(warnings(caplog, "Redis unavailable")) == 1
    assert all(record.exc_info is None for record in caplog.records)  # one line, no traceback

    # After REDIS_BREAKER_SECONDS it is tried again (and, still hung, logged once more).
    cache_clock.now += settings.REDIS_BREAKER_SECONDS
    change_catalog(OLD_PRICE)
    assert client.get(URL).status_code == 200
    assert len(warnings(caplog, "Redis unavailable")) == 2


def test_a_refused_redis_is_logged_once_not_per_request(
    client, make_model, settings, cache_clock, caplog
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    for price in (NEW_PRICE, OLD_PRICE, NEW_PRICE):
        change_catalog(price)
        assert client.get(URL).status_code == 200
    settings.REDIS_URL = ""

    assert len(warnings(caplog, "Redis unavailable")) == 1
    assert all(record.exc_info is None for record in caplog.records)


# --- Two deployments, one Redis ---------------------------------------------------------------


@pytest.fixture
def copy_of_test_database(transactional_db, settings):
    """A second database, copied from the test database (as a restore would make one)."""
    name = settings.DATABASES["default"]["NAME"] + "_copy"
    admin = processes.database_url("postgres")

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def create():
        connections.close_all()
        catalog_cache.listener.close()
        drop()
        with psycopg.connect(admin, autocommit=True) as conn:
            source = settings.DATABASES["default"]["NAME"]
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(source)
                )
            )
        return processes.database_url(name)

    yield create
    drop()


def test_two_databases_sharing_one_redis_never_serve_each_other(
    make_model, redis_url, copy_of_test_database
):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    copy = copy_of_test_database()
    # The copy gets other data under the very same revision number: only the database's
    # identity in the key can tell the two bodies apart.
    with psycopg.connect(copy, autocommit=True) as conn:
        row = conn.execute("SELECT number FROM catalog_catalogrevision").fetchone()
        assert row is not None
        revision = row[0]
        conn.execute(RAW_PROMPT_PRICE_UPDATE, [NEW_PRICE])
        conn.execute("UPDATE catalog_catalogrevision SET number = %s", [revision])

    script = "print(price(), catalog_cache.current().revision)"
    first = processes.run(script, processes.database_url()).split()
    second = processes.run(script, copy).split()

    assert Decimal(first[0]) == OLD_PRICE
    assert Decimal(second[0]) == NEW_PRICE
    assert first[1] == second[1] == str(revision)
    keys = redis.Redis.from_url(redis_url).keys(f"{REDIS_KEY_PREFIX}:*")
    # Bytes, as the client does not decode; its stubs also cover decode_responses=True.
    identities = {key.split(b":")[1] for key in keys if isinstance(key, bytes)}
    assert len(identities) == 2  # one identity per database
