"""import_models --effective-at (issue #15, item 1): a flat or typed file's price changes
scheduled for a moment, through catalog.actions.schedule; any other difference from the catalog,
a model the catalog lacks or a bad moment is a named problem and nothing is written; --dry-run shows
each change; the guard holds against the prices before the moment; the same file twice writes
nothing.

The clock is driven by time_machine (never slept on), in the future of the database's own clock,
whose now() decides which ended rows a history snapshot leaves out.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.actions.schedule import SCHEDULED
from catalog.formats.flat.published import published_catalog
from catalog.formats.typed.published import published_typed_catalog
from catalog.history import HistoricalServedModel
from catalog.models import Datacenter, PriceEntry, PriceSchedule, ServedModel
from catalog.revision import current_revision
from tests.helpers import NEW_RECORD, catalog_file

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MOMENT = datetime(2030, 1, 2, 0, 0, tzinfo=UTC)
EFFECTIVE_AT = "2030-01-02T00:00:00Z"
CHAT = "acme/chat"
OTHER = "acme/other"


@pytest.fixture
def clock_start():
    return NOW


@pytest.fixture
def models(clock, make_model):
    """Two published models and a draft, made at NOW."""
    return [
        make_model(CHAT, price_prompt=Decimal("0.00000015"), countries=("US", "DE")),
        make_model(OTHER, price_prompt=Decimal("0.000001"), countries=("FR",)),
        make_model("acme/draft", is_published=False),
    ]


@pytest.fixture
def run(tmp_path, monkeypatch):
    """import_models on ``data`` written to catalog.json: its standard output."""
    monkeypatch.chdir(tmp_path)

    def run_command(data: bytes, *args: str) -> str:
        (tmp_path / "catalog.json").write_bytes(data)
        stdout = io.StringIO()
        call_command("import_models", "catalog.json", *args, stdout=stdout)
        return stdout.getvalue()

    return run_command


def flat_records() -> list[dict]:
    return json.loads(published_catalog().body)["data"]


def typed_documents() -> list[dict]:
    return json.loads(published_typed_catalog().body)["data"]


def flat_file(**prices: dict[str, str]) -> bytes:
    """The catalog as served now, with ``prices`` (by model ID) set in its records."""
    records = flat_records()
    for one in records:
        one["pricing"].update(prices.get(one["id"], {}))
    return catalog_file(*records)


def by_id(records: list[dict]) -> dict[str, dict]:
    return {one["id"]: one for one in records}


def state() -> tuple:
    """Everything a scheduled import could write."""
    return (
        sorted(
            PriceEntry.objects.values_list(
                "pk", "model_id", "price_type", "unit", "cost_usd", "valid_from", "valid_until"
            )
        ),
        list(PriceSchedule.objects.values_list("pk", "changes", "cancelled_at")),
        HistoricalServedModel.objects.count(),
        current_revision(),
    )


def served_at(clock, moment: datetime) -> dict[str, dict]:
    clock.move_to(moment)
    return by_id(flat_records())


# --- scheduling -------------------------------------------------------------------------------


def test_a_flat_file_schedules_its_price_changes_for_the_moment_and_nothing_before(
    clock, models, run
):
    data = flat_file(**{CHAT: {"prompt": "0.0000002", "completion": "0.0000008"}})
    history_before = HistoricalServedModel.objects.count()

    output = run(data, "--effective-at", EFFECTIVE_AT)

    assert output == (
        "Scheduled catalog.json for 2030-01-02 00:00 UTC: 1 model with a price change, "
        "1 unchanged.\n"
    )
    (schedule,) = PriceSchedule.objects.all()
    assert (schedule.model.model_id, schedule.effective_at, schedule.source) == (
        CHAT,
        MOMENT,
        "import_models: catalog.json",
    )
    assert sorted(
        (c["price_type"], Decimal(c["before"]), Decimal(c["after"])) for c in schedule.changes
    ) == [
        ("completion", Decimal("0.0000006"), Decimal("0.0000008")),
        ("prompt", Decimal("0.00000015"), Decimal("0.0000002")),
    ]
    # One history record, for the model whose prices change, named as a scheduling.
    assert HistoricalServedModel.objects.count() == history_before + 1
    latest = HistoricalServedModel.objects.latest()
    assert (latest.model_id, latest.changed_fields) == (CHAT, [SCHEDULED])
    # Served as before until the moment, changed from it; the other model as it was.
    before = served_at(clock, MOMENT - timedelta(minutes=1))
    after = served_at(clock, MOMENT)
    assert before[CHAT]["pricing"]["prompt"] == "0.00000015"
    assert before[CHAT]["pricing"]["completion"] == "0.0000006"
    assert after[CHAT]["pricing"]["prompt"] == "0.0000002"
    assert after[CHAT]["pricing"]["completion"] == "0.0000008"
    assert before[OTHER] == after[OTHER]


def test_models_absent_from_the_file_are_left_alone(clock, models, run):
    (chat,) = [one for one in flat_records() if one["id"] == CHAT]
    chat["pricing"]["prompt"] = "0.0000002"

    output = run(catalog_file(chat), "--effective-at", EFFECTIVE_AT)

    assert "1 model with a price change, 0 unchanged." in output
    assert served_at(clock, MOMENT)[OTHER]["pricing"]["prompt"] == "0.000001"
    assert PriceSchedule.objects.get().model.model_id == CHAT


def test_a_typed_file_schedules_its_price_changes_too(clock, models, run):
    documents = typed_documents()
    chat = by_id(documents)[CHAT]
    (text_input,) = chat["input_modalities"]
    (prompt,) = [entry for entry in text_input["pricing"] if entry["type"] == "prompt"]
    prompt["cost_usd"] = "0.0000003"

    output = run(catalog_file(*documents), "--effective-at", EFFECTIVE_AT)

    assert output.startswith("Scheduled catalog.json for 2030-01-02 00:00 UTC: 1 model")
    clock.move_to(MOMENT - timedelta(minutes=1))
    assert by_id(typed_documents())[CHAT] != chat
    clock.move_to(MOMENT)
    assert by_id(typed_documents())[CHAT] == chat
    assert served_at(clock, MOMENT)[CHAT]["pricing"]["prompt"] == "0.0000003"


def test_a_typed_file_ends_a_price_it_no_longer_lists(clock, models, run):
    documents = typed_documents()
    chat = by_id(documents)[CHAT]
    (output_modality,) = chat["output_modalities"]
    del output_modality["pricing"]  # the completion price

    run(catalog_file(*documents), "--effective-at", EFFECTIVE_AT, "--allow-large-price-changes")

    assert served_at(clock, MOMENT - timedelta(minutes=1))[CHAT]["pricing"]["completion"] != "0"
    assert served_at(clock, MOMENT)[CHAT]["pricing"]["completion"] == "0"


def test_a_second_schedule_builds_on_the_first_and_the_guard_holds_against_it(clock, models, run):
    later = "2030-01-03T00:00:00Z"
    run(flat_file(**{CHAT: {"prompt": "0.000001"}}), "--effective-at", EFFECTIVE_AT)

    # 0.15 -> 10 per 1M tokens would be 66 times; from the 1.00 in force before, 10 times.
    output = run(flat_file(**{CHAT: {"prompt": "0.00001"}}), "--effective-at", later, "--dry-run")

    assert output == (
        "  acme/chat\n"
        "    input text prompt per token: $1 per 1M tokens -> $10 per 1M tokens\n"
        "Dry run of catalog.json for 2030-01-03 00:00 UTC, nothing scheduled: would schedule "
        "1 model with a price change, 1 unchanged.\n"
    )


def test_a_price_scheduled_earlier_is_the_base_of_a_later_file(clock, models, run):
    first = flat_file(**{CHAT: {"prompt": "0.000001"}})
    run(first, "--effective-at", EFFECTIVE_AT)
    # The same prices for a later moment: what is in force before it already, so no change.
    output = run(first, "--effective-at", "2030-01-03T00:00:00Z")

    assert output.endswith(": 0 models with a price change, 2 unchanged.\n")
    assert PriceSchedule.objects.count() == 1


def test_the_same_file_again_for_the_same_moment_writes_nothing(clock, models, run):
    data = flat_file(**{CHAT: {"prompt": "0.0000002"}})
    run(data, "--effective-at", EFFECTIVE_AT)
    before = state()

    output = run(data, "--effective-at", EFFECTIVE_AT)

    assert output.endswith(": 0 models with a price change, 2 unchanged.\n")
    assert state() == before


def test_a_corrected_file_for_the_same_moment_changes_the_pending_schedule(clock, models, run):
    run(flat_file(**{CHAT: {"prompt": "0.0000002"}}), "--effective-at", EFFECTIVE_AT)

    run(flat_file(**{CHAT: {"prompt": "0.0000003"}}), "--effective-at", EFFECTIVE_AT)

    (schedule,) = PriceSchedule.objects.all()
    assert [(Decimal(c["before"]), Decimal(c["after"])) for c in schedule.changes] == [
        (Decimal("0.00000015"), Decimal("0.0000003"))
    ]
    assert served_at(clock, MOMENT)[CHAT]["pricing"]["prompt"] == "0.0000003"
    assert served_at(clock, MOMENT - timedelta(minutes=1))[CHAT]["pricing"]["prompt"] == (
        "0.00000015"
    )


def test_the_dry_run_lists_each_change_per_million_tokens_and_writes_nothing(clock, models, run):
    data = flat_file(
        **{CHAT: {"prompt": "0.0000002", "completion": "0"}, OTHER: {"request": "0.001"}}
    )
    before = state()

    output = run(data, "--effective-at", EFFECTIVE_AT, "--dry-run", "--allow-large-price-changes")

    assert output == (
        "  acme/chat\n"
        "    input text prompt per token: $0.15 per 1M tokens -> $0.2 per 1M tokens\n"
        "    output text completion per token: $0.6 per 1M tokens -> none\n"
        "  acme/other\n"
        "    request request per request: none -> $0.001 per request\n"
        "Dry run of catalog.json for 2030-01-02 00:00 UTC, nothing scheduled: would schedule "
        "2 models with a price change, 0 unchanged.\n"
    )
    assert state() == before


def test_the_json_summary_names_each_change(clock, models, run):
    data = flat_file(**{CHAT: {"prompt": "0.0000002"}})

    summary = json.loads(run(data, "--effective-at", EFFECTIVE_AT, "--format", "json"))

    assert summary == {
        "dry_run": False,
        "effective_at": "2030-01-02T00:00:00+00:00",
        "announced": True,
        "counts": {"scheduled": 1, "unchanged": 1},
        "scheduled": {
            CHAT: ["input text prompt per token: $0.15 per 1M tokens -> $0.2 per 1M tokens"]
        },
        "unchanged": [OTHER],
        "ignored_keys": {},
    }


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        ("2030-01-02T00:00:00", r"has no time zone; add Z for UTC"),
        ("2030-01-02", r"has no time zone"),
        ("next tuesday", r"is not an ISO 8601 date and time"),
        (
            "2030-01-02T00:00:30Z",
            r"Prices change on the minute: 2030-01-02 00:00 UTC has seconds; use "
            r"2030-01-02 00:00 UTC\.",
        ),
        (
            "2030-01-01T12:00:00Z",
            r"2030-01-01 12:00 UTC is not in the future \(it is now 2030-01-01 12:00 UTC\)\.",
        ),
        ("2029-06-01T00:00:00+02:00", r"is not in the future"),
    ],
)
def test_a_moment_not_aware_on_the_minute_and_in_the_future_is_refused(
    clock, models, run, moment, message
):
    data = flat_file(**{CHAT: {"prompt": "0.0000002"}})
    before = state()

    with pytest.raises(CommandError, match=message):
        run(data, "--effective-at", moment)

    assert state() == before


def test_every_difference_but_prices_is_named_by_record_id_and_field(clock, models, run):
    records = flat_records()
    records[0]["pricing"]["prompt"] = "0.0000002"  # a price change: allowed, but not alone
    records[0]["name"] = "Renamed"
    records[0]["context_length"] = 4096
    records[0]["supported_features"] = ["json_mode"]
    records[0]["datacenters"] = [{"country_code": "DE"}, {"country_code": "JP"}]
    records[1]["capacity_tpm"] = 50000
    records[1]["description"] = "Now described."
    before = state()

    with pytest.raises(CommandError) as raised:
        run(catalog_file(*records), "--effective-at", EFFECTIVE_AT)

    only_prices = (
        "differs from the catalog; a file scheduled with --effective-at may change only prices "
        "(import it without --effective-at to change this now)."
    )
    assert str(raised.value).splitlines() == [
        "catalog.json: 6 problems, nothing was scheduled.",
        f'record 0, id "acme/chat", name, value "Renamed": {only_prices}',
        f'record 0, id "acme/chat", context_length, value 4096: {only_prices}',
        # Named where they differ: the first feature, the second datacenter (DE stays).
        f'record 0, id "acme/chat", supported_features[0], value "json_mode": {only_prices}',
        f'record 0, id "acme/chat", datacenters[1].country_code, value "JP": {only_prices}',
        f'record 1, id "acme/other", description, value "Now described.": {only_prices}',
        f'record 1, id "acme/other", capacity_tpm, value 50000: {only_prices}',
    ]
    assert state() == before


def test_every_difference_but_prices_in_a_typed_file_is_named_by_its_path(clock, models, run):
    datacenter = Datacenter.objects.create(country_code="US", region="us-east-1")
    ServedModel.objects.get(model_id=OTHER).datacenters.add(datacenter)
    documents = typed_documents()
    chat, other = documents
    chat["input_modalities"][0]["pricing"][0]["cost_usd"] = "0.0000002"
    del chat["output_modalities"][0]["supported_parameters"]["tools"]
    chat["tokenizer"] = "llama3"
    other["datacenters"][1]["region"] = "us-west-2"
    before = state()

    with pytest.raises(CommandError) as raised:
        run(catalog_file(*documents), "--effective-at", EFFECTIVE_AT)

    lines = str(raised.value).splitlines()
    assert lines[0] == "catalog.json: 3 problems, nothing was scheduled."
    assert sorted(line.split(":")[0] for line in lines[1:]) == [
        'record 0, id "acme/chat", output_modalities[0].supported_parameters.tools',
        'record 0, id "acme/chat", tokenizer, value "llama3"',
        'record 1, id "acme/other", datacenters[1].region, value "us-west-2"',
    ]
    assert state() == before


def test_a_model_the_catalog_lacks_is_refused_and_nothing_is_written(clock, models, run):
    records = flat_records()
    records[0]["pricing"]["prompt"] = "0.0000002"
    before = state()

    with pytest.raises(CommandError) as raised:
        run(catalog_file(*records, NEW_RECORD), "--effective-at", EFFECTIVE_AT)

    assert str(raised.value).splitlines()[1:] == [
        'record 2, id "acme/new-model", id, value "acme/new-model": is not in the catalog; '
        "--effective-at schedules price changes of stored models only (import the model "
        "without it first)."
    ]
    assert state() == before
    assert not ServedModel.objects.filter(model_id="acme/new-model").exists()


def test_a_draft_is_refused_as_scheduling_would_publish_it(clock, models, run):
    draft = json.loads(json.dumps({**flat_records()[0], "id": "acme/draft", "name": "draft"}))
    draft["pricing"]["prompt"] = "0.0000002"
    draft["datacenters"] = [{"country_code": "US"}]

    with pytest.raises(CommandError, match=r'record 0, id "acme/draft": is a draft'):
        run(catalog_file(draft), "--effective-at", EFFECTIVE_AT)

    assert not PriceSchedule.objects.exists()


def test_prune_is_refused_with_effective_at(clock, models, run):
    with pytest.raises(CommandError, match=r"^--prune cannot be used with --effective-at"):
        run(flat_file(), "--effective-at", EFFECTIVE_AT, "--prune")


def test_a_large_change_is_refused_unless_allowed(clock, models, run):
    data = flat_file(**{CHAT: {"prompt": "0.000003"}})  # 0.15 -> 3.00 per 1M: 20 times
    before = state()

    for options in ([], ["--dry-run"]):
        with pytest.raises(CommandError) as raised:
            run(data, "--effective-at", EFFECTIVE_AT, *options)
        assert str(raised.value).splitlines()[1:] == [
            'record 0, id "acme/chat", pricing.prompt: Prompt price from $0.15 per 1M tokens to '
            "$3 per 1M tokens is more than ten times up or down, or to or from zero; use "
            "--allow-large-price-changes if intended."
        ]
    assert state() == before

    output = run(data, "--effective-at", EFFECTIVE_AT, "--allow-large-price-changes")

    assert "1 model with a price change" in output
    assert served_at(clock, MOMENT)[CHAT]["pricing"]["prompt"] == "0.000003"


def test_a_price_breaking_a_rule_is_a_problem(clock, models, run):
    data = flat_file(**{CHAT: {"prompt": "5"}})  # five dollars a token: over the ceiling

    with pytest.raises(CommandError, match=r'record 0, id "acme/chat", pricing\.prompt'):
        run(data, "--effective-at", EFFECTIVE_AT, "--allow-large-price-changes")

    assert not PriceSchedule.objects.exists()


@pytest.mark.parametrize("count", [2, 6])
def test_planning_costs_the_same_queries_whatever_the_file_size(
    clock, make_model, run, count, django_assert_num_queries
):
    for number in range(count):
        make_model(f"acme/model-{number}")
    data = catalog_file(*({**one, "name": one["name"]} for one in flat_records()))

    # The models with their offerings, the prices before and at the moment, the datacenter
    # links; and the savepoint's two statements.
    with django_assert_num_queries(6):
        run(data, "--effective-at", EFFECTIVE_AT, "--dry-run")


def test_a_verbose_run_lists_the_changes_it_scheduled(clock, models, run):
    data = flat_file(**{CHAT: {"prompt": "0.0000002"}})

    output = run(data, "--effective-at", EFFECTIVE_AT, "-v", "2")

    assert output.splitlines()[:2] == [
        "  acme/chat",
        "    input text prompt per token: $0.15 per 1M tokens -> $0.2 per 1M tokens",
    ]
    assert PriceSchedule.objects.count() == 1


def test_a_scheduled_file_is_announced_unless_no_announce(clock, models, run):
    announced = run(flat_file(**{CHAT: {"prompt": "0.0000002"}}), "--effective-at", EFFECTIVE_AT)
    later = "2030-01-03T00:00:00Z"
    confidential = run(
        flat_file(**{CHAT: {"prompt": "0.0000003"}}), "--effective-at", later, "--no-announce"
    )

    assert announced.splitlines()[-1] == (
        "Scheduled catalog.json for 2030-01-02 00:00 UTC: 1 model with a price change, 1 unchanged."
    )
    assert confidential.splitlines()[-1] == (
        "Scheduled catalog.json for 2030-01-03 00:00 UTC, confidential until then: 1 model "
        "with a price change, 1 unchanged."
    )
    assert list(PriceSchedule.objects.order_by("effective_at").values_list("announced")) == [
        (True,),
        (False,),
    ]


def test_announce_without_effective_at_is_refused_in_one_line(clock, models, run):
    before = state()

    with pytest.raises(CommandError) as raised:
        run(flat_file(**{CHAT: {"prompt": "0.0000002"}}), "--no-announce")

    assert str(raised.value) == (
        "--no-announce applies only to a change scheduled with --effective-at; an import "
        "without it changes prices now."
    )
    assert state() == before
