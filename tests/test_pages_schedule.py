"""The public pages and time: announced changes shown ahead, confidential ones nowhere until
their moment, the chart's steps from the history, and warm pages that ask nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.timeline import timelines
from router.pages import chart
from tests.helpers import ENDPOINT, import_prices, schedule_prices

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
M1 = T0 + timedelta(days=10)
M2 = M1 + timedelta(days=1)
CHAT, SECRET = "acme/chat", "acme/secret"
LIST = "/models/"
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def clock_start():
    return T0


@pytest.fixture
def two_models(clock, make_model):
    make_model(CHAT, name="Chat", price_prompt=Decimal("0.00000015"))
    make_model(SECRET, name="Secret", price_prompt=Decimal("0.00000015"))


def public_outputs(client) -> dict[str, str]:
    """Every public output: both pages of each model, both formats, the export."""
    export, typed_export = StringIO(), StringIO()
    call_command("export_models", stdout=export)
    call_command("export_models", "--schema-version", "2.4", stdout=typed_export)
    outputs = {
        "list": client.get(LIST).content.decode(),
        "flat": client.get(ENDPOINT).content.decode(),
        "typed": client.get(ENDPOINT, {"schema_version": "2.4"}).content.decode(),
        "export": export.getvalue(),
        "typed export": typed_export.getvalue(),
    }
    for model_id in (CHAT, SECRET):
        outputs[model_id] = client.get(f"/models/{model_id}/").content.decode()
    return outputs


def test_an_announced_change_shows_ahead_and_a_confidential_one_nowhere(client, two_models, clock):
    before = public_outputs(client)
    # (Each call imports the whole catalog with one model changed; a second file for the same
    # moment would amend the first.)
    schedule_prices(SECRET, M2, announced=False, prompt="0.0000009")
    schedule_prices(CHAT, M1, prompt="0.0000002")
    clock.move_to(T1)
    after = public_outputs(client)

    notice = "From 11 Jan 2030 12:00 UTC: $0.2 per 1M input tokens (was $0.15)"
    assert notice in after["list"]
    assert notice in after[CHAT]
    assert "<strong>Announced:</strong> $0.2 per 1M input tokens (was $0.15)" in after[CHAT]
    # The confidential change leaves every public output as it was, byte for byte.
    assert after[SECRET] == before[SECRET]
    for name in ("flat", "typed", "export", "typed export"):
        assert after[name] == before[name], name
    for text in after.values():
        assert "0.9" not in text
        assert "0.0000009" not in text

    clock.move_to(M2)  # nothing is written at the moment; every output shows it from then
    with CaptureQueriesContext(connection) as queries:
        at_moment = public_outputs(client)
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith(WRITES)]
    assert "$0.9 per 1M input tokens (was $0.15)" in at_moment[SECRET]
    assert '<td class="num" data-label="Input per 1M">$0.9</td>' in at_moment["list"]
    assert '"prompt":"0.0000009"' in at_moment["flat"]


def test_the_chart_and_its_list_follow_the_history(client, two_models, clock):
    clock.move_to(T1)
    import_prices(CHAT, prompt="0.0000002")
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(T1 + timedelta(hours=1))

    page = client.get(f"/models/{CHAT}/").content.decode()
    changes = re.findall(r'<th scope="row">([^<]+)</th><td>(.*?)</td></tr>', page)
    assert changes[-3:] == [
        ("1 Jan 2030 12:00 UTC", "listed: $0.15 per 1M input tokens; $0.6 per 1M output tokens"),
        ("2 Jan 2030 12:00 UTC", "$0.2 per 1M input tokens (was $0.15)"),
        ("11 Jan 2030 12:00 UTC",
         "<strong>Announced:</strong> $0.3 per 1M input tokens (was $0.2)"),
    ]  # fmt: skip
    # The input price's line: solid with one step (at T1), then dashed from M1.
    now = T1 + timedelta(hours=1)
    pk = _pk(CHAT)
    svg = chart.svg(timelines([pk], now=now)[pk])
    assert svg in page
    input_colour = found(r'fill="(#[0-9a-f]+)">input per 1M tokens<', svg)[0]
    solid, dashed = re.findall(
        rf'<path d="([^"]+)" fill="none" stroke="{input_colour}"[^>]*?/>', svg
    )
    assert solid.count("V") == 1
    assert dashed.count("V") == 1
    x_step, y_before, y_after = map(float, found(r"M([\d.]+),([\d.]+)V([\d.]+)", solid))
    x_announced = float(found(r"^M([\d.]+)", dashed)[0])
    assert x_step < x_announced  # T1 before M1
    assert y_after < y_before  # the price went up: the line goes up
    assert float(found(r"V([\d.]+)", dashed)[0]) < y_after


def found(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.groups()


def _pk(model_id: str) -> int:
    from catalog.models import ServedModel

    return ServedModel.objects.get(model_id=model_id).pk


@pytest.mark.django_db(transaction=True)
def test_a_warm_page_and_a_new_view_of_it_ask_nothing(client, make_model, settings,
                                                       django_assert_num_queries):  # fmt: skip
    settings.CATALOG_FRESHNESS = "push"
    settings.REDIS_URL = ""
    make_model(CHAT, name="Chat")
    make_model("acme/other", name="Other", input_modalities=["text", "image"])
    client.get(LIST)
    client.get(f"/models/{CHAT}/")

    with django_assert_num_queries(0):
        warm = client.get(LIST)
        # A search, filter or sort not seen before: selected from the catalog in memory.
        searched = client.get(LIST, {"q": "oth", "in": "image", "sort": "newest"})
        page = client.get(f"/models/{CHAT}/")
        calculated = client.get(f"/models/{CHAT}/", {"prompt": "1000", "completion": "10"})
    assert warm.status_code == page.status_code == calculated.status_code == 200
    assert "acme/other" in searched.content.decode()
    assert f"/models/{CHAT}/" not in searched.content.decode()


def test_the_list_of_changes_shows_a_gap_while_the_model_was_not_public(client, two_models, clock):
    from catalog.actions.publication import publish, unpublish
    from catalog.models import ServedModel

    clock.move_to(T1)
    unpublish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T1 + timedelta(days=1))
    publish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T1 + timedelta(days=2))

    page = client.get(f"/models/{CHAT}/").content.decode()
    changes = re.findall(r'<th scope="row">([^<]+)</th><td>(.*?)</td></tr>', page)
    listed = "listed: $0.15 per 1M input tokens; $0.6 per 1M output tokens"
    assert changes[-3:] == [
        ("1 Jan 2030 12:00 UTC", listed),
        ("2 Jan 2030 12:00 UTC", "not listed"),
        ("3 Jan 2030 12:00 UTC", listed),
    ]
