"""The public model pages: content against the catalog, filters, caching, the calculator."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib import admin

from catalog.formats.flat.offering import FlatFields
from catalog.importer import import_catalog
from router.pages import prices
from router.pages.catalog import PageCatalog
from router.pages.views import selected
from tests.helpers import ROOT, catalog_file, record

LIST = "/models/"
TIERS = [
    {"min_prompt_tokens": 128000, "prompt": "0.0000003", "completion": "0.0000012"},
    {"min_prompt_tokens": 200000, "prompt": "0.0000004"},
]
WINDOWS = [{"utc_start": 2200, "utc_end": 600, "prompt": "0.0000001", "completion": "0.0000003"}]


@pytest.fixture
def pages_catalog(db, make_model):
    """Every kind of model the pages treat apart, imported as the endpoint would serve them."""
    import_catalog(
        catalog_file(
            record({"overrides": TIERS}, id="acme/tiered", name="Tiered", hugging_face_id=""),
            record(
                {"overrides": WINDOWS},
                id="acme/windowed",
                name="Windowed",
                hugging_face_id="",
                datacenters=[{"country_code": "DE"}],
            ),
            record(id="acme/free", name="Free one", is_free=True, hugging_face_id=""),
            record(
                id="acme/old",
                name="Old one",
                hugging_face_id="",
                deprecation_date="2027-03-31",
                description="First line\n<b>second</b> line",
            ),
            record(id="acme/staged", name="Staged", is_ready=False, hugging_face_id=""),
            record(
                id="acme/xss",
                name="<script>alert(1)</script>",
                hugging_face_id="",
                quantization="int8",
            ),
        )
    )
    make_model("acme/draft", name="Draft", is_published=False)


def html(response) -> str:
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def row_ids(page: str) -> list[str]:
    return re.findall(r'<th scope="row" data-label="Model"><a href="/models/([^"]+)/"', page)


def test_the_list_shows_published_ready_models_only(client, pages_catalog):
    page = html(client.get(LIST))

    assert row_ids(page) == [
        "acme/xss", "acme/free", "acme/old", "acme/tiered", "acme/windowed",
    ]  # fmt: skip
    assert "acme/staged" not in page
    assert "acme/draft" not in page


def test_the_list_says_tiers_windows_free_and_deprecation_in_words(client, pages_catalog):
    page = html(client.get(LIST))

    assert "Above 128K prompt tokens: $0.3 per 1M input tokens; $1.2 per 1M output tokens" in page
    assert "Above 200K prompt tokens: $0.4 per 1M input tokens" in page
    assert "22:00-06:00 UTC: $0.1 per 1M input tokens; $0.3 per 1M output tokens" in page
    assert '<span class="mark free">Free</span>' in page
    # A bare date: 13:00 UTC, as OpenRouter reads it.
    assert "Deprecated 31 Mar 2027 13:00 UTC" in page
    assert '<td class="num" data-label="Input per 1M">$0.15</td>' in page
    assert "Germany" in page
    assert "United States" in page


def test_names_and_descriptions_are_escaped(client, pages_catalog):
    page = html(client.get(LIST))
    detail = html(client.get("/models/acme/old/"))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "First line<br>&lt;b&gt;second&lt;/b&gt; line" in detail


def test_search_filters_and_sort_are_done_by_the_server(client, pages_catalog):
    assert row_ids(html(client.get(LIST, {"q": "TIER"}))) == ["acme/tiered"]
    assert row_ids(html(client.get(LIST, {"q": "acme/wind"}))) == ["acme/windowed"]
    assert row_ids(html(client.get(LIST, {"country": "DE"}))) == ["acme/windowed"]
    assert row_ids(html(client.get(LIST, {"quant": "int8"}))) == ["acme/xss"]
    assert row_ids(html(client.get(LIST, {"free": "1"}))) == ["acme/free"]
    assert row_ids(html(client.get(LIST, {"feature": "reasoning"}))) == []
    # Empty values (a form's "Any") select everything.
    assert len(row_ids(html(client.get(LIST, {"in": "", "out": "", "q": " "})))) == 5


def test_sorting_by_price_keeps_name_order_among_equals(pages_catalog):
    from router.pages.catalog import read_catalog

    catalog: PageCatalog = read_catalog()
    by_input = [m.model_id for m in selected(catalog, {"sort": "input"})]
    # Every base prompt price is the same: the stable sort leaves them by name.
    assert by_input == [m.model_id for m in catalog.models]


def test_a_bad_parameter_is_a_400_that_names_it(client, pages_catalog):
    response = client.get(LIST, {"sort": "price"})

    assert response.status_code == 400
    assert "sort: &#x27;price&#x27; is not one of" in response.content.decode()
    assert client.get(LIST, {"country": "ZZ"}).status_code == 400


def test_a_model_page_lists_every_price_in_words(client, pages_catalog):
    page = html(client.get("/models/acme/tiered/"))

    assert "<h1>Tiered</h1>" in page
    assert "text input, prompt: $0.15 per 1M tokens" in page
    assert "when prompt tokens ≥ 128,001: $0.3 per 1M tokens" in page
    assert client.get("/models/acme/staged/").status_code == 404
    assert client.get("/models/acme/draft/").status_code == 404
    assert client.get("/models/nobody/none/").status_code == 404


def test_the_calculator_applies_the_tier_the_prompt_exceeds(client, pages_catalog):
    # 200,000 > 128,000 (the first tier), not > 200,000: prompt $0.3, completion $1.2 per 1M.
    page = html(client.get("/models/acme/tiered/", {"prompt": "200000", "completion": "1000"}))

    # 200,000 x 0.0000003 = 0.06; 1,000 x 0.0000012 = 0.0012
    assert "<strong>$0.0612</strong>" in page
    assert "Applied: Above 128K prompt tokens" in page


@pytest.mark.parametrize(
    ("moment", "total"),
    [
        # In the window (22:00-06:00): 1,000 x 0.0000001 + 1,000 x 0.0000003 = 0.0004
        (datetime(2030, 1, 1, 23, 30, tzinfo=UTC), "$0.0004"),
        # Out of it: 1,000 x 0.00000015 + 1,000 x 0.0000006 = 0.00075
        (datetime(2030, 1, 1, 6, 0, tzinfo=UTC), "$0.00075"),
    ],
)
def test_the_calculator_applies_the_window_of_the_moment(client, pages_catalog, moment, total):
    with time_machine.travel(moment, tick=False):
        page = html(client.get("/models/acme/windowed/", {"prompt": "1000", "completion": "1000"}))
    assert f"<strong>{total}</strong>" in page


def test_cached_tokens_cost_the_cache_read_price_and_a_free_model_costs_nothing():
    flat: FlatFields = {
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "supported_sampling_parameters": [],
        "supported_features": [],
        "capacity_tpm": None,
        "prices": {
            "prompt": Decimal("0.000001"),
            "completion": Decimal("0.000002"),
            "input_cache_read": Decimal("0.0000001"),
            "image": Decimal(0),
            "request": Decimal("0.001"),
        },
        "overrides": [],
    }
    now = datetime(2030, 1, 1, tzinfo=UTC)
    # 900 x 0.000001 + 100 x 0.0000001 + 10 x 0.000002 + 0.001 = 0.0009 + 0.00001 + 0.00002
    # + 0.001 = 0.00193; with 10% off: 0.001737
    cost = prices.cost_of(flat, is_free=False, discount=Decimal("0.1"), prompt_tokens=1000,
                          cached_tokens=100, completion_tokens=10, now=now)  # fmt: skip
    assert cost.total == Decimal("0.001737")
    free = prices.cost_of(flat, is_free=True, discount=None, prompt_tokens=1000,
                          cached_tokens=0, completion_tokens=10, now=now)  # fmt: skip
    assert free.total == 0


def test_the_calculator_refuses_bad_counts_with_a_message(client, pages_catalog):
    response = client.get("/models/acme/tiered/", {"prompt": "ten", "completion": "1"})
    assert response.status_code == 400
    assert "Input tokens: &#x27;ten&#x27; is not a whole number." in response.content.decode()
    response = client.get("/models/acme/tiered/", {"prompt": "10", "cached": "20"})
    assert response.status_code == 400


def test_pages_have_etag_304_and_gzip(client, pages_catalog):
    first = client.get(LIST)
    again = client.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"])
    zipped = client.get(LIST, HTTP_ACCEPT_ENCODING="gzip")

    assert again.status_code == 304
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == first.content
    assert zipped["ETag"] != first["ETag"]
    assert "Accept-Encoding" in first["Vary"]
    # The lean path skips the middleware that would frame-protect it: the view does.
    assert first["X-Frame-Options"] == "DENY"


def test_the_lean_path_still_refuses_a_host_not_allowed(client, pages_catalog, settings):
    settings.ALLOWED_HOSTS = ["catalog.example.com"]
    assert client.get(LIST, HTTP_HOST="evil.example.com").status_code == 400


def test_the_root_and_view_site_lead_to_the_list(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == LIST
    assert admin.site.site_url == LIST


def test_public_pages_off_is_a_404(client, pages_catalog, settings):
    settings.PUBLIC_PAGES = False
    assert client.get("/").status_code == 404
    assert client.get(LIST).status_code == 404
    assert client.get("/models/acme/tiered/").status_code == 404


def test_a_deprecation_hour_is_shown(client, make_model):
    make_model("acme/hourly", deprecation_date=date(2027, 1, 2), deprecation_hour=18)
    assert "Deprecated 2 Jan 2027 18:00 UTC" in html(client.get(LIST))


def test_a_filter_no_model_matches_still_shows_as_chosen(client, pages_catalog):
    page = html(client.get(LIST, {"country": "JP"}))

    assert row_ids(page) == []
    assert '<option value="JP" selected>Japan</option>' in page


def test_a_model_page_words_the_typed_parameter_descriptors(client, db):
    typed = ROOT / "tests" / "data" / "typed"
    import_catalog((typed / "text-model.json").read_bytes())
    import_catalog((typed / "transcription.json").read_bytes())

    page = html(client.get("/models/acme/atlas-70b-instruct/"))
    facts = page[page.index('<dl class="facts">') : page.index("</dl>")]
    assert re.findall(r"<li><code>(\w+)</code>(?::? ?)([^<]*)</li>", facts) == [
        ("temperature", "a number from 0 to 2, default 1"),
        ("top_p", "a number from 0 to 1, default 1"),
        ("seed", ""),  # "unknown": taken, nothing more said
        ("reasoning", "on or off, default off"),
        ("reasoning_effort", "one of low, medium, high, default medium"),
    ]
    # Ticked as a flat catalog ticks them: under Features, not again among the parameters.
    assert "<dt>Features</dt><dd>Tools, Structured outputs, Reasoning</dd>" in facts

    page = html(client.get("/models/acme/scribe-large/"))
    assert (
        "<li><code>timestamp_granularities</code>: a list, each one of word, segment</li>" in page
    )


def test_a_parameter_descriptor_in_words():
    assert prices.descriptor_text({"type": "integer", "min": 0}) == "a whole number from 0 up"
    assert (
        prices.descriptor_text({"type": "range", "max": 30.0, "unit": "second"})
        == "a number up to 30 (seconds)"
    )
    assert (
        prices.descriptor_text({"type": "array", "max_items": 4, "items": {"type": "unknown"}})
        == "a list of up to 4 items"
    )
    assert (
        prices.descriptor_text({"type": "object", "properties": {"a": {}, "b": {}}})
        == "an object with a, b"
    )
    assert prices.descriptor_text({"type": "unknown", "default": "auto"}) == "default auto"
