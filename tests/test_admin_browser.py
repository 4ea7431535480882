"""End to end in headless Chromium: an editor signs in and changes a price per million tokens."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.urls import reverse

from tests.helpers import CHROMIUM_ARGS, flat
from tests.helpers import chromium_path as find_chromium


@pytest.fixture
def staff_groups(transactional_db):
    """The staff groups, made by migration 0003 as it made them.

    Transactional tests end by emptying every table, so the data that migrations wrote is gone
    for the transactional tests that follow; this puts the groups back, idempotently.
    """
    migration = importlib.import_module("catalog.migrations.0003_staff_groups")
    state = MigrationLoader(connection).project_state(("catalog", "0003_staff_groups"))
    migration.create_groups(state.apps, schema_editor=None)


@pytest.fixture
def chromium_path():
    return find_chromium()


@pytest.mark.browser
def test_editor_changes_a_price_per_million_in_the_browser(
    live_server, chromium_path, staff_groups, editor, make_model
):
    from playwright.sync_api import expect, sync_playwright

    model = make_model("acme/chat", price_prompt=Decimal("0.00000015"))
    change_page = live_server.url + reverse("admin:catalog_servedmodel_change", args=[model.pk])

    # Playwright's sync API runs an event loop in this thread while it is open, and Django
    # refuses ORM calls under a running loop: the database is only touched outside this block.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(change_page)
        page.fill("#id_username", "editor")
        page.fill("#id_password", "pw")
        page.click("input[type=submit]")
        expect(page.locator("#id_price_prompt")).to_have_value("0.15")

        page.fill("#id_price_prompt", "0.0208333333333333")
        page.click("input[name=_save]")

        expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
        browser.close()

    model.refresh_from_db()
    assert flat(model)["price_prompt"] == Decimal("0.0000000208333333333333")
