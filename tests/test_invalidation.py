"""Every committed change is visible on the very next request of the process that made it, and
of every process in strict mode; in push mode other processes see it once its notification
arrives (tests/test_freshness.py). A reader racing a writer never sees stale or mismatched data."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, transaction
from django.test import Client

from catalog.actions.served_models import save_model
from catalog.formats.flat import published
from catalog.formats.flat.encode import plain_decimal
from catalog.formats.registry import FLAT, FORMATS
from catalog.models import ServedModel
from catalog.revision import current_revision
from router.cache import CatalogCache, catalog_cache
from tests.helpers import (
    ENDPOINT,
    RAW_PROMPT_PRICE_UPDATE,
    build_model,
    change_url,
    form_data,
    update_prompt_price,
    with_flat,
)

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: on_commit runs as in prod

ROOT = Path(__file__).resolve().parent.parent
URL = ENDPOINT
MODEL_ID = "acme/model-1"
OLD_PRICE, NEW_PRICE = Decimal("0.00000015"), Decimal("0.00000099")


@pytest.fixture(params=["push", "strict", "push+redis"])
def cache_mode(request, settings):
    """The revision pushed (LISTEN/NOTIFY) or asked for on every request; bodies shared in
    Redis or not."""
    if request.param.endswith("redis"):
        request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    settings.CATALOG_FRESHNESS = "strict" if request.param == "strict" else "push"
    return request.param


@pytest.fixture
def served_model(make_model, cache_mode, client):
    """A committed, published model, with the endpoint already warm."""
    model = make_model(MODEL_ID, price_prompt=OLD_PRICE)
    assert served(client)[MODEL_ID]["pricing"]["prompt"] == plain_decimal(OLD_PRICE)
    return model


def served(client) -> dict[str, dict]:
    response = client.get(URL)
    assert response.status_code == 200
    return {record["id"]: record for record in json.loads(response.content)["data"]}


def served_price(client) -> str:
    return served(client)[MODEL_ID]["pricing"]["prompt"]


def countries(client) -> list[str]:
    return [dc["country_code"] for dc in served(client)[MODEL_ID]["datacenters"]]


def in_another_thread(function):
    """Run ``function`` on its own database connection (another client of PostgreSQL)."""

    def run():
        try:
            return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


# --- Each kind of write -----------------------------------------------------------------------


def test_save_is_visible_on_the_next_request(client, served_model):
    save_model(served_model, with_flat(served_model, price_prompt=NEW_PRICE))

    assert served_price(client) == plain_decimal(NEW_PRICE)


def test_admin_save_is_visible_on_the_next_request(client, served_model, admin_client):
    response = admin_client.post(
        change_url(served_model),
        form_data(served_model, price_prompt="0.99"),  # per million
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert served_price(client) == plain_decimal(NEW_PRICE)


def test_delete_is_visible_on_the_next_request(client, served_model):
    served_model.delete()

    assert MODEL_ID not in served(client)


def test_datacenter_add_remove_clear_are_visible_on_the_next_request(
    client, served_model, datacenters
):
    served_model.datacenters.add(*datacenters("DE"))
    assert countries(client) == ["DE", "US"]

    served_model.datacenters.remove(*datacenters("US"))
    assert countries(client) == ["DE"]

    served_model.datacenters.clear()
    assert countries(client) == []

    # From the datacenter's side of the relation, and by deleting the datacenter.
    germany = datacenters("DE")[0]
    germany.models.add(served_model)
    assert countries(client) == ["DE"]
    germany.delete()
    assert countries(client) == []


def test_queryset_update_is_visible_on_the_next_request(client, served_model):
    update_prompt_price(MODEL_ID, NEW_PRICE)

    assert served_price(client) == plain_decimal(NEW_PRICE)


def test_unpublishing_by_bulk_update_is_visible_on_the_next_request(client, served_model):
    served_model.is_published = False
    ServedModel.objects.bulk_update([served_model], ["is_published"])

    assert MODEL_ID not in served(client)


def test_bulk_create_is_visible_on_the_next_request(client, served_model):
    ServedModel.objects.bulk_create([build_model("acme/bulk", name="Bulk")])

    assert "acme/bulk" in served(client)


def test_raw_sql_update_is_visible_once_notified(client, served_model, cache_mode):
    with connection.cursor() as cursor:
        cursor.execute(
            RAW_PROMPT_PRICE_UPDATE
            + " AND model_id = (SELECT id FROM catalog_servedmodel WHERE model_id = %s)",
            [NEW_PRICE, MODEL_ID],
        )

    if cache_mode != "strict":
        # Raw SQL sends no Django signal: even this process learns of it by notification.
        assert catalog_cache.listener.wait(timeout=10)
    assert served_price(client) == plain_decimal(NEW_PRICE)


def test_write_is_invisible_until_commit_and_announced_only_after_it(client, served_model):
    with transaction.atomic():
        update_prompt_price(MODEL_ID, NEW_PRICE)
        # Another connection (another request, another process) still sees the old catalog.
        assert in_another_thread(lambda: served_price(Client())) == plain_decimal(OLD_PRICE)
        assert not catalog_cache.listener.wait(timeout=0)  # nothing announced yet

    assert in_another_thread(lambda: served_price(Client())) == plain_decimal(NEW_PRICE)


def test_rolled_back_write_changes_nothing(client, served_model, cache_mode):
    etag = client.get(URL)["ETag"]

    def abandoned_edit():
        with transaction.atomic():
            update_prompt_price(MODEL_ID, NEW_PRICE)
            raise RuntimeError("abandon the edit")

    with pytest.raises(RuntimeError):
        abandoned_edit()

    assert client.get(URL)["ETag"] == etag
    assert not catalog_cache.listener.wait(timeout=0)  # a rollback notifies no one


# --- Several processes ------------------------------------------------------------------------


def test_a_write_in_one_process_is_seen_by_another_on_its_next_call(served_model, cache_mode):
    # catalog_cache is this process's (it hears catalog_changed); `other` stands for another
    # process sharing only PostgreSQL, and Redis when configured.
    other = CatalogCache()
    assert price_in(catalog_cache.current()) == price_in(other.current()) == OLD_PRICE

    update_prompt_price(MODEL_ID, NEW_PRICE)

    if cache_mode != "strict":  # its next call after the notification has arrived
        assert other.listener.wait(timeout=10)
    assert price_in(other.current()) == NEW_PRICE
    assert price_in(catalog_cache.current()) == NEW_PRICE


def price_in(rendered) -> Decimal:
    records = {record["id"]: record for record in json.loads(rendered.body)["data"]}
    return Decimal(records[MODEL_ID]["pricing"]["prompt"])


def test_body_is_stored_under_the_revision_of_its_snapshot_when_a_commit_lands_mid_render(
    served_model, monkeypatch
):
    # A commit lands after the render has read the revision and before it reads the models.
    old_revision = current_revision()
    read_models = published.published_records

    def commit_then_read_models(at):
        in_another_thread(lambda: update_prompt_price(MODEL_ID, NEW_PRICE))
        return read_models(at)

    monkeypatch.setattr(published, "published_records", commit_then_read_models)
    catalog_cache.clear()
    rendered = catalog_cache.current()
    monkeypatch.setattr(published, "published_records", read_models)

    # Old data under the old revision (one snapshot), never old data under the new one...
    assert (rendered.revision, price_in(rendered)) == (old_revision, OLD_PRICE)
    # ...so the next request sees the new revision and renders the new data.
    fresh = catalog_cache.current()
    assert fresh.revision > old_revision
    assert price_in(fresh) == NEW_PRICE


def test_commit_between_revision_check_and_render_is_rendered_with_its_own_revision(
    served_model, monkeypatch
):
    render = FORMATS[FLAT].published

    def commit_then_render():
        in_another_thread(lambda: update_prompt_price(MODEL_ID, NEW_PRICE))
        return render()

    monkeypatch.setitem(FORMATS, FLAT, replace(FORMATS[FLAT], published=commit_then_render))
    catalog_cache.clear()
    rendered = catalog_cache.current()
    monkeypatch.setitem(FORMATS, FLAT, replace(FORMATS[FLAT], published=render))

    assert price_in(rendered) == NEW_PRICE
    assert rendered.revision == current_revision()
    assert catalog_cache.current() is rendered  # stored under the revision it was read at


def test_readers_racing_a_writer_see_every_commit_at_once_and_never_a_mismatch(
    served_model, cache_mode
):
    prices = [OLD_PRICE + Decimal(step) * Decimal("1E-9") for step in range(12)]
    revision_prices = {current_revision(): OLD_PRICE}  # what each revision must serve
    committed = [0]  # index in `prices` of the last commit that has returned
    writer_done = threading.Event()

    def write():
        try:
            for index in range(1, len(prices)):
                with transaction.atomic():
                    update_prompt_price(MODEL_ID, prices[index])
                    revision_prices[current_revision()] = prices[index]
                committed[0] = index
        finally:
            writer_done.set()

    def read(through_http: bool):
        cache, client, seen = CatalogCache(), Client(), []
        for _ in range(5000):
            floor, done = committed[0], writer_done.is_set()
            if through_http:
                response = client.get(URL)
                revision = None
                price = Decimal(json.loads(response.content)["data"][0]["pricing"]["prompt"])
            else:
                rendered = cache.current()
                revision, price = rendered.revision, price_in(rendered)
            seen.append((floor, revision, price))
            if done:
                break
        return seen

    with ThreadPoolExecutor(6) as pool:
        readers = [pool.submit(in_another_thread, lambda h=bool(n % 2): read(h)) for n in range(5)]
        pool.submit(in_another_thread, write).result()
        observations = [seen for reader in readers for seen in reader.result()]

    assert committed[0] == len(prices) - 1
    for floor, revision, price in observations:
        # Fresh: a read that began after commit number `floor` returned sees it or a later one;
        # in push mode, that holds for this process (HTTP through catalog_cache, which hears its
        # commits), while a CatalogCache of its own stands for another process.
        if cache_mode == "strict" or revision is None:
            assert prices.index(price) >= floor, (floor, price)
        if revision is not None:
            assert revision_prices[revision] == price  # the body is its revision's data
    assert len(observations) > 5
    assert {floor for floor, _, _ in observations} != {0}  # reads overlapped the writes


@pytest.fixture
def two_servers(cache_mode, settings):
    """Two gunicorn servers (one worker each) on the test database, shut down whatever happens.

    Each listens on a socket bound here and handed over (fd://), so a request made before the
    worker is up waits in the listen queue instead of failing: no polling, no sleeping.
    """
    database = urlsplit(settings.DATABASE_URL)._replace(
        path="/" + settings.DATABASES["default"]["NAME"]
    )
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(database),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CATALOG_FRESHNESS": settings.CATALOG_FRESHNESS,
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    listeners, servers = [], []
    try:
        for _ in range(2):
            listener = socket.create_server(("127.0.0.1", 0))
            listeners.append(listener)
            servers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "config.wsgi",
                        "--workers",
                        "1",
                        "--bind",
                        f"fd://{listener.fileno()}",
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env=env,
                    pass_fds=[listener.fileno()],
                    stdout=subprocess.DEVNULL,
                )
            )
        yield [listener.getsockname()[1] for listener in listeners]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for listener in listeners:
            listener.close()


def request_server(port: int, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, URL)
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def price_from_server(port: int) -> Decimal:
    response, body = request_server(port)
    assert response.status == 200
    records = {record["id"]: record for record in json.loads(body)["data"]}
    return Decimal(records[MODEL_ID]["pricing"]["prompt"])


def first_fresh(port: int, deadline: float) -> list[Decimal]:
    """Prices a server sends until it sends NEW_PRICE (its notification has arrived)."""
    seen = [price_from_server(port)]
    while seen[-1] != NEW_PRICE and time.monotonic() < deadline:
        seen.append(price_from_server(port))
    return seen


def test_every_server_process_serves_a_commit_and_never_goes_back(
    make_model, cache_mode, two_servers
):
    make_model(MODEL_ID, price_prompt=OLD_PRICE)
    for port in two_servers:  # both warm: the second request of each is a cache hit
        assert [price_from_server(port) for _ in range(2)] == [OLD_PRICE, OLD_PRICE]

    update_prompt_price(MODEL_ID, NEW_PRICE)  # commits

    for port in two_servers:
        if cache_mode == "strict":
            assert price_from_server(port) == NEW_PRICE  # on its very next request
        else:  # as soon as PostgreSQL has delivered the notification, and from then on
            assert first_fresh(port, time.monotonic() + 10)[-1] == NEW_PRICE
        assert [price_from_server(port) for _ in range(3)] == [NEW_PRICE] * 3

    # HEAD through a real server: the full body's length, no body.
    get, body = request_server(two_servers[0])
    head, nothing = request_server(two_servers[0], "HEAD")
    assert (head.status, nothing) == (200, b"")
    assert head.getheader("Content-Length") == str(len(body))
    assert head.getheader("ETag") == get.getheader("ETag")
