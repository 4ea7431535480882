"""The guard against price mistakes (issue #15, item 4): a price change more than ten times up
or down, or to or from zero, is refused by the importer unless allowed, and held by the admin
until confirmed."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.formats.problems import CatalogFileInvalid
from catalog.importer import import_catalog
from catalog.models import PriceEntry, ServedModel
from catalog.offering import Offering, Price
from catalog.price_guard import LargeChange, is_large, large_changes
from tests.helpers import (
    build_offering,
    catalog_file,
    catalog_state,
    change_url,
    flat,
    form_data,
    modality_row,
    record,
    records_of,
    with_rows,
)

D = Decimal

# --- The rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "large"),
    [
        ("1", "10", False),  # exactly ten times: allowed
        ("1", "10.0001", True),
        ("10", "1", False),  # a tenth: allowed
        ("10", "0.9999", True),
        ("0", "0.000001", True),  # from zero
        ("0.000001", "0", True),  # to zero
        ("0", "0", False),
        ("0.15", "0.2", False),
        # 34 significant digits, more than arithmetic's default 28: compared exactly.
        ("1.000000000000000000000000000000001", "10.00000000000000000000000000000001", False),
        ("1.000000000000000000000000000000001", "10.00000000000000000000000000000002", True),
    ],
)
def test_a_change_is_large_beyond_ten_times_or_to_or_from_zero(old, new, large):
    assert is_large(D(old), D(new)) is large


def _offering(**prices) -> Offering:
    return build_offering(**prices)


# A completion price at night, per token.
WINDOW = Price(("output", "text"), "completion", "token", D(0), utc_start=2200, utc_end=600)
TIER_WHEN = {"prompt_tokens": {"gte": 128001}}


def test_large_changes_name_the_five_prices_per_million_zero_as_served():
    before = _offering(price_prompt=D("0.00000015"), price_request=D("0.0001"))
    after = _offering(price_prompt=D("0.000002"), price_completion=D("0.0000006"))

    assert large_changes(before, after) == [
        LargeChange("pricing.prompt", "Prompt price", "$0.15 per 1M tokens", "$2 per 1M tokens"),
        # A price set to "0" has no entry: a change to zero all the same.
        LargeChange("pricing.request", "Request price", "$0.0001 per request", "$0 per request"),
    ]
    assert str(large_changes(before, after)[0]) == (
        "Prompt price: $0.15 per 1M tokens -> $2 per 1M tokens"
    )


def _with(offering: Offering, tier_cost: str, *further: Price) -> Offering:
    """``offering`` with a long-context tier on its prompt price, and ``further`` prices."""
    prompt = offering.price(("input", "text"), "prompt", "token")
    assert prompt is not None
    tiered = replace(prompt, overrides=({"when": TIER_WHEN, "cost_usd": tier_cost},))
    others = (price for price in offering.prices if price != prompt)
    return offering.replacing(prices=(*others, tiered, *further))


def test_large_changes_match_further_entries_by_identity_and_conditions_by_when():
    base = _offering()
    before = _with(base, "0.0000003", replace(WINDOW, cost_usd=D("0.0000006")))
    after = _with(
        base,
        "0.0000031",
        replace(WINDOW, cost_usd=D("0.00000005")),
        # New: not a change of a price.
        replace(WINDOW, utc_start=600, utc_end=2200, cost_usd=D("0.006")),
    )

    assert large_changes(before, after) == [
        LargeChange(
            "pricing.overrides",
            "Prompt price, over 128000 prompt tokens",
            "$0.3 per 1M tokens",
            "$3.1 per 1M tokens",
        ),
        LargeChange(
            "pricing.overrides",
            "output text completion per token (window 22:00-06:00)",
            "$0.6 per 1M tokens",
            "$0.05 per 1M tokens",
        ),
    ]
    # Removed entries and conditions are no change either.
    assert large_changes(after, base) == []


# --- The importer -------------------------------------------------------------------------------

TIERS = [{"min_prompt_tokens": 128000, "prompt": "0.0000003"}]


@pytest.fixture
def imported(db):
    import_catalog(catalog_file(record({"overrides": TIERS})))
    return ServedModel.objects.get(model_id="acme/new-model")


def test_import_refuses_large_price_changes_naming_each_and_writes_nothing(imported):
    before = catalog_state()
    changed = record({"prompt": "0.000002", "overrides": [{**TIERS[0], "prompt": "0"}]})

    with pytest.raises(CatalogFileInvalid) as raised:
        import_catalog(catalog_file(changed))

    assert [str(problem) for problem in raised.value.problems] == [
        'record 0, id "acme/new-model", pricing.prompt: Prompt price from $0.15 per 1M tokens to '
        "$2 per 1M tokens is more than ten times up or down, or to or from zero; use "
        "--allow-large-price-changes if intended.",
        'record 0, id "acme/new-model", pricing.overrides: Prompt price, over 128000 prompt tokens '
        "from $0.3 per 1M tokens to $0 per 1M tokens is more than ten times up or down, or to or "
        "from zero; use --allow-large-price-changes if intended.",
    ]
    assert catalog_state() == before


def test_import_allows_large_price_changes_when_told(imported):
    result = import_catalog(
        catalog_file(record({"prompt": "0.000002"})), allow_large_price_changes=True
    )

    assert result.updated == {"acme/new-model": ["pricing.prompt", "pricing.overrides"]}
    imported.refresh_from_db()
    assert flat(imported)["price_prompt"] == D("0.000002")


def test_import_takes_ten_times_and_new_prices_without_asking(imported):
    # Ten times exactly; a second tier is new, not a change.
    tiers = [
        {**TIERS[0], "prompt": "0.000003"},
        {"min_prompt_tokens": 200000, "prompt": "0.000001"},
    ]
    result = import_catalog(catalog_file(record({"prompt": "0.0000015", "overrides": tiers})))

    assert result.updated == {"acme/new-model": ["pricing.prompt", "pricing.overrides"]}


def test_import_models_refuses_them_in_a_dry_run_too_and_takes_the_flag(
    imported, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "catalog.json").write_bytes(catalog_file(record({"prompt": "0"})))

    for options in (["--dry-run"], []):
        with pytest.raises(CommandError) as raised:
            call_command("import_models", "catalog.json", *options, stdout=io.StringIO())
        assert "1 problem, nothing was imported" in str(raised.value)
        assert "use --allow-large-price-changes if intended" in str(raised.value)
    stdout = io.StringIO()
    call_command("import_models", "catalog.json", "--allow-large-price-changes", stdout=stdout)

    assert (
        stdout.getvalue() == "Imported catalog.json: 0 created, 1 updated, 0 unchanged, 0 pruned.\n"
    )
    imported.refresh_from_db()
    assert flat(imported)["price_prompt"] == 0


# --- The admin ----------------------------------------------------------------------------------


@pytest.fixture
def model(make_model):
    return make_model("acme/chat", price_prompt=D("0.00000015"))


CONFIRM = 'name="confirm_large_price_changes"'


def test_admin_holds_a_large_change_until_confirmed_then_saves_once(editor_client, model):
    data = form_data(model, price_prompt="2")
    records = len(records_of(model))

    response = editor_client.post(change_url(model), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Prompt price: $0.15 per 1M tokens -&gt; $2 per 1M tokens" in page
    assert CONFIRM in page
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == D("0.00000015")
    assert len(records_of(model)) == records

    response = editor_client.post(change_url(model), {**data, "confirm_large_price_changes": "on"})

    assert response.status_code == 302
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == D("0.000002")
    assert len(records_of(model)) == records + 1


def test_admin_saves_a_small_change_at_once(editor_client, model):
    response = editor_client.get(change_url(model))
    assert CONFIRM not in response.content.decode()

    response = editor_client.post(change_url(model), form_data(model, price_prompt="0.2"))

    assert response.status_code == 302
    model.refresh_from_db()
    assert flat(model)["price_prompt"] == D("0.0000002")


def test_admin_holds_a_large_change_of_a_further_price(editor_client, model):
    row = PriceEntry.objects.create(
        model=model,
        modality=modality_row(model, "output", "text"),
        price_type="completion",
        unit="token",
        cost_usd=D("0.0000006"),
        utc_start=2200,
        utc_end=600,
    )
    stored = {"id": row.pk, "model": model.pk, "scope": "output text", "price_type": "completion",
              "unit": "token", "utc_start": "2200", "utc_end": "600"}  # fmt: skip
    data = with_rows(form_data(model), "prices", [{**stored, "cost_usd": "0.05"}], initial=1)

    response = editor_client.post(change_url(model), data)

    assert response.status_code == 200
    assert (
        "output text completion per token (window 22:00-06:00): $0.6 per 1M tokens -&gt; "
        "$0.05 per 1M tokens"
    ) in response.content.decode()
    row.refresh_from_db()
    assert row.cost_usd == D("0.0000006")

    response = editor_client.post(change_url(model), {**data, "confirm_large_price_changes": "on"})

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.cost_usd == D("0.00000005")


def test_viewers_see_no_confirmation(viewer_client, model):
    response = viewer_client.get(change_url(model))

    assert response.status_code == 200
    assert CONFIRM not in response.content.decode()
