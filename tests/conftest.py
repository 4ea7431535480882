"""Fixtures shared by the whole suite, chained: datacenters -> make_model -> catalog -> clients.

Plain helpers (the model factory, form data, wire files) are in tests/helpers.py.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from catalog.models import Datacenter, ServedModel
from router.cache import catalog_cache
from router.pages.cache import pages_cache
from tests.helpers import REDIS_KEY_PREFIX, clock, clock_start, create_model, require_service  # noqa: F401  # fixtures of the whole suite


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    """The fast password hasher, and no rendered catalog carried over from another test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests serve static files straight from the apps, without a collectstatic manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    catalog_cache.clear()
    pages_cache.clear()
    _clear_local_throttle()
    yield
    catalog_cache.clear()
    pages_cache.clear()


def _clear_local_throttle() -> None:
    """The API's request counts start at zero (a Redis-backed throttle cache is left alone)."""
    throttle = caches["throttle"]
    if isinstance(throttle, LocMemCache):
        throttle.clear()


@pytest.fixture
def datacenters(db):
    """Datacenters by country code, created on first use."""

    def get(*codes: str) -> list[Datacenter]:
        return [Datacenter.objects.get_or_create(country_code=code)[0] for code in codes]

    return get


@pytest.fixture
def make_model(db, datacenters):
    """Create a valid, published served model; keyword arguments override any field."""

    def make(model_id: str = "acme/model-1", *, countries=("US",), **fields) -> ServedModel:
        model = create_model(model_id, **fields)
        model.datacenters.set(datacenters(*countries))
        return model

    return make


@pytest.fixture
def catalog(make_model):
    """A small fixed catalog: two published models (one deprecated) and a draft."""
    return [
        make_model(
            "meta-llama/Llama-3.3-70B-Instruct",
            name="Llama 3.3 70B Instruct",
            countries=("US", "DE"),
            price_input_cache_read=Decimal("0.00000006"),
            supported_features=["structured_outputs", "tools", "json_mode"],
        ),
        make_model(
            "acme/reranker",
            hugging_face_id="",
            name="Reranker ✓",
            output_modalities=["rerank"],
            quantization="int8",
            context_length=8192,
            max_output_length=1,
            price_prompt=Decimal("0.0000000208333333333333"),
            price_completion=Decimal(0),
            price_request=Decimal("0.0001"),
            supported_sampling_parameters=[],
            supported_features=[],
            countries=(),
            deprecation_date=date(2027, 3, 31),
        ),
        make_model("acme/secret-draft", is_published=False),
    ]


def _user_in_group(username: str, group_name: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def editor(db):
    return _user_in_group("editor", "Catalog editors")


@pytest.fixture
def viewer(db):
    return _user_in_group("viewer", "Catalog viewers")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def no_shared_cache(settings):
    settings.REDIS_URL = ""


@pytest.fixture
def redis_url(settings):
    """A real Redis for the shared-cache tests (TEST_REDIS_URL, default db 15 on localhost)."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        require_service(f"no Redis at {url}")
    settings.REDIS_URL = url
    settings.REDIS_KEY_PREFIX = REDIS_KEY_PREFIX
    # These tests are about sharing bodies, not a slow Redis (tests/test_faults.py is): on a
    # busy machine a local Redis can take longer than the 5 ms a request allows it.
    settings.REDIS_TIMEOUT_MS = 1000
    catalog_cache.clear()
    yield url
    catalog_cache.clear()
