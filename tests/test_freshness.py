"""Freshness pushed, not polled: the revision trigger notifies, each process listens, and a
process without a healthy listener asks PostgreSQL until it listens again."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from catalog.actions.served_models import save_model
from catalog.formats.flat.encode import plain_decimal
from catalog.revision import current_revision
from router.cache import CatalogCache, catalog_cache
from router.listener import RETRY_SECONDS
from tests import processes
from tests.helpers import ENDPOINT, RAW_PROMPT_PRICE_UPDATE, FakeClock, with_flat

pytestmark = pytest.mark.django_db(transaction=True)  # notifications are sent on commit

URL = ENDPOINT
MODEL_ID = "acme/model-1"
OLD_PRICE, NEW_PRICE, NEWER_PRICE = (
    Decimal("0.00000015"),
    Decimal("0.00000099"),
    Decimal("0.00000077"),
)


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


class HeldClose:
    """A relay to PostgreSQL that passes every byte both ways but holds back the server's close:
    the moment between a session's last message and the end of its socket, made to last."""

    def __init__(self, host: str, port: int):
        self.upstream: tuple[socket.AddressFamily, str | tuple[str, int]]
        if host.startswith("/"):  # a socket directory, as libpq names it
            self.upstream = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
        else:
            self.upstream = (socket.AF_INET, (host, port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.server_closed = threading.Event()  # every byte before the close is passed on
        self.release = threading.Event()
        self.sockets: list[socket.socket] = [self.server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            client, _ = self.server.accept()
        except OSError:
            return
        # As PostgreSQL does: without it a message may wait for the ACK of the one before.
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        family, address = self.upstream
        upstream = socket.socket(family, socket.SOCK_STREAM)
        upstream.connect(address)
        self.sockets += [client, upstream]
        threading.Thread(target=self._pass, args=(client, upstream), daemon=True).start()
        self._pass(upstream, client)
        self.server_closed.set()
        self.release.wait()

    @staticmethod
    def _pass(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.release.set()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def held_close() -> Iterator[HeldClose]:
    connection.ensure_connection()
    info = connection.connection.info
    relay = HeldClose(info.host, info.port)
    yield relay
    relay.close()


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
        assert Decimal(processes.receive(other)) == OLD_PRICE
        raw_update(NEW_PRICE)
        processes.send(other, "committed")
        fresh, queries = json.loads(processes.receive(other))
    finally:
        processes.stop(other)

    assert Decimal(fresh) == NEW_PRICE
    # Only the render of the new revision, in its own snapshot: no revision asked before it
    # (BEGIN, SET TRANSACTION, the revision, the models, their modalities, prices, COMMIT).
    assert queries[0] == "BEGIN"
    assert len(queries) == 7, queries


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
    assert revision_before is not None  # listening since the first request

    # On commit, catalog_changed: the next request asks.
    save_model(model, with_flat(model, price_prompt=NEW_PRICE))

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


def test_the_freshness_mode_read_once_is_read_again_when_it_changes(make_model, push, settings):
    make_model(MODEL_ID)
    cache = CatalogCache(clock=FakeClock())
    cache.current()
    assert cache.pushed_revision() is not None  # push: the mode is read, then kept

    settings.CATALOG_FRESHNESS = "strict"
    assert cache.pushed_revision() is None
    cache.clear()


def test_a_forked_child_forgets_the_listener_and_leaves_the_parents_session(make_model, push):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    cache = CatalogCache(clock=FakeClock())
    assert price_in(cache.current()) == OLD_PRICE
    listener = cache.listener
    backend = listener.backend_pid
    assert backend is not None

    reader, writer = os.pipe()
    pid = os.fork()  # as gunicorn forks a worker from a master that has listened
    if pid == 0:
        try:
            forgotten = not listener.healthy and listener.backend_pid is None
            listener.close()  # a child that closes what it holds must not end the parent's session
            os.write(writer, b"forgotten" if forgotten else b"inherited")
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        assert answer.read() == b"forgotten"
    os.waitpid(pid, 0)

    assert listener.backend_pid == backend
    revision = listener.revision()
    assert revision is not None
    raw_update(NEW_PRICE)
    assert listener.wait(timeout=30)
    assert (listener.revision() or 0) > revision  # told by its session, still listening
    assert price_in(cache.current()) == NEW_PRICE
    cache.clear()


def test_a_session_the_server_ends_is_distrusted_on_its_last_message_not_its_close(
    make_model, push, held_close, monkeypatch, caplog
):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    cache = CatalogCache(clock=FakeClock())
    with monkeypatch.context() as patch:  # only the listener's connection goes through the relay
        settings_dict = connections["default"].settings_dict
        patch.setitem(settings_dict, "HOST", "127.0.0.1")
        patch.setitem(settings_dict, "PORT", str(held_close.port))
        assert cache.listener.revision() is not None
    assert price_in(cache.current()) == OLD_PRICE

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [cache.listener.backend_pid])
    # The server has said why it ends the session and closed its end; the socket the listener
    # reads holds that message and stays open, as it does until the close arrives.
    assert held_close.server_closed.wait(timeout=30)
    assert cache.listener.wait(timeout=30)
    raw_update(NEW_PRICE)  # announced to nobody: the ended session no longer listens

    assert price_in(cache.current()) == NEW_PRICE  # the old body would be served as current
    assert not cache.listener.healthy
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("terminating connection due to administrator command" in m for m in warnings)
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
