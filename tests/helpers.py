"""What several test modules share: the one model factory, the admin's form data, files in the
wire format, the contract, the typed format's schema, the endpoint called at the WSGI level,
the state a refused write must leave as it was, and how a test asks for a service (Redis, a
browser). No test module imports another: what two of them need lives here."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml
from django.conf import settings
from django.urls import reverse
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from catalog.actions.served_models import save_model
from catalog.formats.flat.offering import FLAT_FIELDS, flat_view, offering_of_flat_values
from catalog.formats.flat.published import published_catalog
from catalog.formats.typed import schema as typed_schema
from catalog.history import HistoricalServedModel
from catalog.models import CapacityEntry, Datacenter, Modality, PriceEntry, ServedModel
from catalog.offering import Offering, stored_offering
from catalog.revision import current_revision

ENDPOINT = "/inference/router/openrouter/models"
# The shared cache's keys, per run: two suites on one machine may share a Redis database, and
# each clears its own keys.
REDIS_KEY_PREFIX = f"catalog-test-{os.getpid()}"
ROOT = Path(__file__).resolve().parent.parent

# The environment of a production start: DEBUG off, a real secret, a host name, https.
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "catalog.example.com",
    "SECURE_SSL_REDIRECT": "1",
}


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the project's folder with exactly ``env``, as a new process starts."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def require_service(reason: str) -> None:
    """Skip a test whose service (Redis, a browser) is missing, except in CI, where it fails."""
    if os.environ.get("REQUIRE_ALL_SERVICES"):
        pytest.fail(f"{reason} (REQUIRE_ALL_SERVICES is set)")
    pytest.skip(reason)


# The contract as published with the brief (../shared/spec/), and the copy the suite reads, so
# that a clone on its own still tests against it; a test below keeps the two identical.
SHARED_CONTRACT = (
    Path(settings.BASE_DIR).parent / "shared" / "spec" / "openrouter-models.openapi.yaml"
)
CONTRACT = Path(__file__).parent / "data" / "openrouter-models.openapi.yaml"


# Headless Chromium for the browser tests: Debian's, driven by Playwright.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Chromium's path; skips the test without it (fails it under REQUIRE_ALL_SERVICES)."""
    if not CHROMIUM.exists():
        require_service(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return str(CHROMIUM)


@cache
def load_contract() -> dict:
    return yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))


# --- The admin's edit form ------------------------------------------------------------------
# A model's prompt price (its text input's prompt per token) written around the models, as
# ``QuerySet.update()`` and raw SQL do: no signal, no history; only the triggers hear of it.
RAW_PROMPT_PRICE_UPDATE = (
    "UPDATE catalog_priceentry SET cost_usd = %s WHERE price_type = 'prompt' AND unit = 'token'"
)


def update_prompt_price(model_id: str, price: Decimal) -> int:
    """Set ``model_id``'s prompt price with ``QuerySet.update()``: the model must have one."""
    updated = PriceEntry.objects.filter(
        model__model_id=model_id, price_type="prompt", unit="token"
    ).update(cost_usd=price)
    assert updated == 1, f"{model_id} has no prompt price to update"
    return updated


# The formsets of the change page's inlines, by prefix.
INLINE_PREFIXES = ("modalities", "prices", "capacities")
LIST_URL = reverse("admin:catalog_servedmodel_changelist")
ADD_URL = reverse("admin:catalog_servedmodel_add")


def change_url(model: ServedModel) -> str:
    return reverse("admin:catalog_servedmodel_change", args=[model.pk])


def form_data(model: ServedModel, **overrides) -> dict:
    """What the change form submits for ``model`` untouched, with ``overrides`` typed in.

    Prices are written per million tokens (per image, per request), as staff type them.
    """
    values = flat(model)
    data = {
        "model_id": model.model_id,
        "name": model.name,
        "hugging_face_id": model.hugging_face_id,
        "created_0": model.created.date().isoformat(),
        "created_1": model.created.time().isoformat(),
        "input_modalities": values["input_modalities"],
        "output_modalities": values["output_modalities"],
        "quantization": model.quantization,
        "supported_sampling_parameters": values["supported_sampling_parameters"],
        "supported_features": values["supported_features"],
        "context_length": model.context_length,
        "max_output_length": model.max_output_length,
        "price_prompt": _typed(values["price_prompt"].scaleb(6)),
        "price_completion": _typed(values["price_completion"].scaleb(6)),
        "price_input_cache_read": _typed(values["price_input_cache_read"].scaleb(6)),
        "price_image": _typed(values["price_image"]),
        "price_request": _typed(values["price_request"]),
        "datacenters": [datacenter.pk for datacenter in model.datacenters.all()],
        "deprecation_date": model.deprecation_date.isoformat() if model.deprecation_date else "",
        "deprecation_hour": "" if model.deprecation_hour is None else model.deprecation_hour,
        "description": model.description,
        "discount_to_user": ""
        if model.discount_to_user is None
        else _typed(model.discount_to_user),
        "openrouter_slug": model.openrouter_slug,
        "tokenizer": model.tokenizer,
        "deployment_region": model.deployment_region,
        "compliance": json.dumps(model.compliance),
        "passthrough_parameters": json.dumps(model.passthrough_parameters),
        # The inlines (modality details, further prices, capacities), left untouched.
        **{
            f"{prefix}-{count}": 0
            for prefix in INLINE_PREFIXES
            for count in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
    }
    for flag in ("is_published", "is_ready", "is_free"):
        if getattr(model, flag):
            data[flag] = "on"
    data.update(overrides)
    return data


def _typed(value: Decimal) -> str:
    return format(value.normalize(), "f")


def with_rows(data: dict, prefix: str, rows: list[dict], *, initial: int = 0) -> dict:
    """``data`` with the inline ``prefix`` holding ``rows`` (the first ``initial`` stored ones).

    Fields a row leaves out are posted empty, as a browser posts an empty input; JSON fields
    of a price default to ``[]``.
    """
    defaults = {"prices": {"overrides": "[]"}}.get(prefix, {})
    data = {**data, f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": initial}
    for index, row in enumerate(rows):
        for name, value in {**defaults, **row}.items():
            data[f"{prefix}-{index}-{name}"] = value
    return data


def records_of(model: ServedModel) -> list:
    """The history records of ``model``, oldest first."""
    return list(HistoricalServedModel.objects.filter(id=model.pk).order_by("history_id"))


def modality_row(model: ServedModel, direction: str, kind: str) -> Modality:
    """The stored modality of ``model`` that an inline price or capacity row points at."""
    return Modality.objects.get(model=model, direction=direction, kind=kind)


# --- Files in the wire format ---------------------------------------------------------------
DELETE = object()

# A valid record for a model the `catalog` fixture does not have.
NEW_RECORD: dict[str, Any] = {
    "id": "acme/new-model",
    "hugging_face_id": "acme/new-model",
    "name": "New model",
    "created": 1736942400,
    "input_modalities": ["text"],
    "output_modalities": ["text"],
    "quantization": "fp8",
    "context_length": 131072,
    "max_output_length": 8192,
    "pricing": {
        "prompt": "0.00000015",
        "completion": "0.0000006",
        "image": "0",
        "request": "0",
        "input_cache_read": "0",
    },
    "supported_sampling_parameters": ["temperature", "top_p"],
    "supported_features": ["tools"],
    "datacenters": [{"country_code": "US"}],
}


def record(prices: dict | None = None, **changes) -> dict:
    """NEW_RECORD with some keys and prices changed (or removed with DELETE)."""
    result = copy.deepcopy(NEW_RECORD)
    for key, value in changes.items():
        if value is DELETE:
            del result[key]
        else:
            result[key] = value
    for key, value in (prices or {}).items():
        if value is DELETE:
            del result["pricing"][key]
        else:
            result["pricing"][key] = value
    return result


def catalog_file(*records: dict) -> bytes:
    # Python writes NaN and Infinity as bare literals (not JSON), which some cases need.
    return json.dumps({"data": list(records)}, ensure_ascii=False).encode()


# --- What a refused write must leave as it was ----------------------------------------------
def catalog_state() -> tuple:
    """Everything an import or an admin save could change, drafts and the revision included:
    compared before and after, it shows that nothing was written."""
    through = ServedModel.datacenters.through
    return (
        current_revision(),
        published_catalog()[1],
        list(ServedModel.objects.order_by("pk").values()),
        list(Modality.objects.order_by("pk").values()),
        list(PriceEntry.objects.order_by("pk").values()),
        list(CapacityEntry.objects.order_by("pk").values()),
        list(Datacenter.objects.order_by("pk").values()),
        list(through.objects.order_by("pk").values()),
        list(ServedModel.history.order_by("pk").values_list("pk", flat=True)),
    )


# --- The typed format's official schema, read by a plain 2020-12 validator ------------------
SCHEMA_URI = "urn:test:openrouter-provider-2.4"


@cache
def document_validator() -> Draft202012Validator:
    """``ModelDocumentV2`` of the app's copy of the official file (a test in test_openapi.py
    holds it identical to ../shared/spec), unchanged, through a referencing registry."""
    contents = json.loads(typed_schema.SCHEMA_PATH.read_bytes())
    registry = Registry().with_resource(
        SCHEMA_URI, Resource.from_contents(contents, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{SCHEMA_URI}#/components/schemas/ModelDocumentV2"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def assert_valid_typed(body: bytes) -> list[dict]:
    """Every document of the typed ``body`` is valid; the documents."""
    payload = json.loads(body)
    assert list(payload) == ["data"]
    for document in payload["data"]:
        errors = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in document_validator().iter_errors(document)
        ]
        assert not errors, (document["id"], errors)
    return payload["data"]


# --- The endpoint called at the WSGI level (router.wsgi) ------------------------------------
# Set per response by the server or the moment, not by the app.
VOLATILE = {"date"}


def wsgi_call(app, method="GET", path=ENDPOINT, host="testserver", query="", **headers):
    """Call the WSGI ``app`` as a server does; its status, headers (but VOLATILE) and body."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = status
        answer["headers"] = {
            name.lower(): value for name, value in response_headers if name.lower() not in VOLATILE
        }

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return answer["status"], answer["headers"], body


# --- The one model factory ------------------------------------------------------------------
# The columns of a valid, published model, and the flat fields of its offering.
_COLUMNS = {
    "created": datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC),
    "quantization": "fp8",
    "context_length": 131072,
    "max_output_length": 8192,
    "is_published": True,
}
_FLAT = {
    "input_modalities": ["text"],
    "output_modalities": ["text"],
    "price_prompt": Decimal("0.00000015"),
    "price_completion": Decimal("0.0000006"),
    "supported_sampling_parameters": ["temperature", "top_p"],
    "supported_features": ["tools"],
}


def build_model(model_id: str = "acme/model-1", **fields) -> ServedModel:
    """An unsaved, valid served model, published: its columns, which keyword arguments
    override (the flat names among them are ``build_offering``'s, and ignored here)."""
    values = {
        "name": model_id.rsplit("/", 1)[-1],
        "hugging_face_id": model_id if "/" in model_id else "",
        **_COLUMNS,
        **{name: value for name, value in fields.items() if name not in FLAT_FIELDS},
    }
    return ServedModel(model_id=model_id, **values)


def build_offering(**fields) -> Offering:
    """The offering of ``build_model``'s model: its flat fields (``price_prompt``,
    ``input_modalities``, ...), which keyword arguments override (other names are ignored)."""
    flat = {**_FLAT, **{name: value for name, value in fields.items() if name in FLAT_FIELDS}}
    return offering_of_flat_values(flat)


def create_model(model_id: str = "acme/model-1", **fields) -> ServedModel:
    """``build_model`` with ``build_offering``, saved through the write path (no datacenters)."""
    model = build_model(model_id, **fields)
    save_model(model, build_offering(**fields))
    return model


def flat(model: ServedModel) -> dict:
    """The flat fields of ``model``'s offering as saved (``price_prompt``, ...), read anew."""
    return flat_view(stored_offering(ServedModel.objects.get(pk=model.pk)))


def with_flat(model: ServedModel, **values) -> Offering:
    """``model``'s saved offering with these flat values (``price_prompt=...``) over it."""
    return offering_of_flat_values(values, base=stored_offering(model))


# --- The clocks tests drive ---------------------------------------------------------------------
class FakeClock:
    """A clock read as ``time.time`` is (seconds), moved by hand: ``clock.now += 5``."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock_start() -> datetime:
    """Where ``clock`` stops the wall clock; a module that needs its own moment overrides it."""
    return datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock(clock_start):
    """The wall clock (``timezone.now()``, ``time.time()``) stopped at ``clock_start``;
    ``clock.move_to`` moves every reader of it at once."""
    with time_machine.travel(clock_start, tick=False) as traveller:
        yield traveller


# --- Prices changed at the clock's moment, as an import does (the price API's tests) ---------
def _records_with_prices(model_id: str, prices: dict[str, str]) -> bytes:
    records = json.loads(published_catalog().body)["data"]
    for one in records:
        if one["id"] == model_id:
            one["pricing"].update(prices)
    return json.dumps({"data": records}).encode()


def import_prices(model_id: str, **prices: str) -> None:
    """Change ``model_id``'s flat prices now, by importing the published catalog with them."""
    from catalog.importer import import_catalog

    import_catalog(_records_with_prices(model_id, prices))


def schedule_prices(model_id: str, moment: datetime, *, announced: bool = True, **prices: str):
    """Schedule ``model_id``'s flat prices for ``moment``, as ``import_models --effective-at``."""
    from catalog.importer import schedule_import

    return schedule_import(
        _records_with_prices(model_id, prices), moment, source="test", announced=announced
    )
