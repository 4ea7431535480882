"""The public pages in headless Chromium, with JavaScript on and off: search, a filter, a
sort, a model's page with its chart, and the calculator."""

from __future__ import annotations

import re

import pytest

from catalog.importer import import_catalog
from tests.helpers import CHROMIUM_ARGS, catalog_file, chromium_path, record


@pytest.fixture
def browser_catalog(transactional_db):
    import_catalog(
        catalog_file(
            record(
                id="acme/small",
                name="Small chat",
                hugging_face_id="",
                context_length=8192,
                max_output_length=4096,
                datacenters=[{"country_code": "DE"}],
            ),
            record(
                id="acme/large",
                name="Large chat",
                hugging_face_id="",
                datacenters=[{"country_code": "US"}],
            ),
            record(
                id="acme/vision",
                name="Vision",
                hugging_face_id="",
                input_modalities=["text", "image"],
                datacenters=[{"country_code": "US"}],
            ),
        )
    )


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_search_filter_sort_open_a_model_and_calculate(live_server, browser_catalog, javascript):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    rows = "table.models tbody tr:visible"
    # The database is touched only outside this block (Playwright runs an event loop here).
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_context(java_script_enabled=javascript).new_page()
        page.goto(live_server.url + "/models/")
        expect(page.locator(rows)).to_have_count(3)

        page.fill("#q", "chat")
        if javascript:  # the rows narrow while typing, before anything is sent
            expect(page.locator(rows)).to_have_count(2)
        page.press("#q", "Enter")
        expect(page).to_have_url(live_server.url + "/models/?q=chat&in=&out=&feature=&quant="
                                 "&country=&sort=name")  # fmt: skip
        expect(page.locator(rows)).to_have_count(2)

        page.select_option("#sort", "context")  # with JavaScript, a choice applies at once
        if not javascript:
            page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"sort=context"))
        expect(page.locator(f"{rows} th a")).to_have_text(["Large chat", "Small chat"])

        page.select_option("#country", "DE")
        if not javascript:
            page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"country=DE"))
        expect(page.locator(f"{rows} th a")).to_have_text(["Small chat"])

        page.click("text=Small chat")
        expect(page.locator("h1")).to_have_text("Small chat")
        expect(page.locator("figure.chart svg")).to_be_visible()

        # 1,000 x $0.15 + 200 x $0.6 per 1M = $0.00015 + $0.00012
        page.fill("#prompt", "1000")
        page.fill("#completion", "200")
        page.click("text=Calculate")
        expect(page.locator("#total")).to_have_text("$0.00027")
        browser.close()
