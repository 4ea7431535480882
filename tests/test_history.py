"""The change history (issue #7): who changed what and when, in the admin, and the catalog as of
a past moment (export_models --as-of).

Moments come from the records themselves (their history_date), never from the clock.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from catalog.actions.served_models import save_model
from catalog.formats.flat.offering import flat_view
from catalog.formats.flat.published import catalog_as_of, published_catalog
from catalog.formats.published import state_of
from catalog.history import HistoricalServedModel
from catalog.importer import import_catalog
from catalog.management.commands.export_models import moment
from catalog.models import Datacenter, ServedModel
from tests.helpers import (
    ENDPOINT,
    NEW_RECORD,
    catalog_file,
    change_url,
    form_data,
    record,
    with_flat,
)

RECENT_CHANGES_URL = reverse("admin:catalog_historicalservedmodel_changelist")


def history_url(model: ServedModel) -> str:
    return reverse("admin:catalog_servedmodel_history", args=[model.pk])


def records_of(model_id: str) -> list:
    """The model's history records, oldest first."""
    return list(HistoricalServedModel.objects.filter(model_id=model_id).reverse())


def codes_of(history_record) -> list[str]:
    return sorted(history_record.datacenters.values_list("country_code", flat=True))


def last_moment() -> datetime:
    return HistoricalServedModel.objects.latest().history_date


def export(*args: str) -> bytes:
    """The bytes export_models writes to a binary standard output."""
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", *args, stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def export_as_of(when: datetime) -> bytes:
    return export("--as-of", when.isoformat())


@pytest.fixture
def run_import(db, tmp_path, monkeypatch):
    """Run import_models on ``data`` written to catalog.json."""
    monkeypatch.chdir(tmp_path)

    def run(data: bytes, *args: str) -> None:
        (tmp_path / "catalog.json").write_bytes(data)
        call_command("import_models", "catalog.json", *args, stdout=io.StringIO())

    return run


@pytest.fixture
def model(make_model):
    return make_model("acme/chat", price_prompt=Decimal("0.00000015"), countries=("US",))


# --- The admin ------------------------------------------------------------------------------


def test_admin_edit_records_the_editor_and_the_old_and_new_prices(editor_client, editor, model):
    before = len(records_of("acme/chat"))

    editor_client.post(change_url(model), form_data(model, price_prompt="0.2"))

    *_, previous, change = records_of("acme/chat")
    assert len(records_of("acme/chat")) == before + 1
    assert (change.history_type, change.history_user, change.history_change_reason) == (
        "~",
        editor,
        None,
    )
    assert change.changed_fields == ["pricing.prompt"]
    assert (prompt_of(state_of(previous)), prompt_of(state_of(change))) == (
        Decimal("0.00000015"),
        Decimal("0.0000002"),
    )


def test_an_admin_edit_of_fields_and_datacenters_is_one_record_with_the_new_datacenters(
    editor_client, model, datacenters
):
    before = len(records_of("acme/chat"))
    germany, france = datacenters("DE", "FR")

    editor_client.post(
        change_url(model),
        form_data(model, price_prompt="0.2", datacenters=[germany.pk, france.pk]),
    )

    records = records_of("acme/chat")
    assert len(records) == before + 1
    assert records[-1].changed_fields == ["pricing.prompt", "datacenters"]
    assert codes_of(records[-1]) == ["DE", "FR"]
    assert codes_of(records[-2]) == ["US"]


def test_admin_add_records_one_creation_with_its_datacenters(editor_client, editor, model):
    (usa,) = Datacenter.objects.filter(country_code="US")

    editor_client.post(
        reverse("admin:catalog_servedmodel_add"),
        form_data(model, model_id="acme/new", datacenters=[usa.pk]),
    )

    (created,) = records_of("acme/new")
    assert (created.history_type, created.history_user) == ("+", editor)
    assert codes_of(created) == ["US"]


def test_an_admin_save_without_changes_records_nothing(editor_client, model):
    before = len(records_of("acme/chat"))

    response = editor_client.post(change_url(model), form_data(model))

    assert response.status_code == 302
    assert len(records_of("acme/chat")) == before


def test_bulk_actions_record_each_changed_model_with_the_user(editor_client, editor, catalog):
    llama, _, draft = catalog
    data = {
        "action": "publish",
        "_selected_action": [llama.pk, draft.pk],
    }

    editor_client.post(reverse("admin:catalog_servedmodel_changelist"), data)

    change = records_of("acme/secret-draft")[-1]
    assert (change.history_user, change.changed_fields) == (editor, ["published"])
    # The model already published was not saved, so it has no new record.
    assert len(records_of(llama.model_id)) == 2  # created, then its datacenters set


def test_history_page_shows_each_change_per_million_with_who_made_it(
    editor_client, model, run_import
):
    editor_client.post(change_url(model), form_data(model, price_prompt="0.2"))
    run_import(catalog_file(record(id="acme/chat", hugging_face_id="acme/chat", name="chat")))

    page = editor_client.get(history_url(model)).content.decode()

    assert (
        "<li><strong>Prompt price (USD per million tokens)</strong>: 0.15 &rarr; 0.2</li>"
    ) in page
    assert "<td>editor</td>" in page
    # The import set it back.
    assert (
        "<li><strong>Prompt price (USD per million tokens)</strong>: 0.2 &rarr; 0.15</li>"
    ) in page
    assert "<td>import_models: catalog.json</td>" in page


@pytest.mark.parametrize("edits", [1, 8])
def test_history_page_makes_the_same_queries_whatever_the_records(
    editor_client, model, django_assert_num_queries, edits
):
    for number in range(edits):
        save_model(model, with_flat(model, price_prompt=Decimal(number + 1).scaleb(-7)))

    # Once before: the page looks up the user model's content type, which Django then caches
    # for the life of the process (the first page in a test process would count one more).
    editor_client.get(history_url(model))
    # session, user, the user's permissions, their groups' permissions, the model (with its
    # offering), its datacenters, the count of records, the page of records, their previous
    # records, the datacenters of both, the scheduled price changes that took effect among them.
    with django_assert_num_queries(11):
        response = editor_client.get(history_url(model))

    assert response.status_code == 200
    # Each edit, and the datacenters set when the model was made.
    assert response.content.decode().count("&rarr;") == edits + 1


def test_viewer_sees_the_history_and_recent_changes_but_cannot_change_them(viewer_client, model):
    assert viewer_client.get(history_url(model)).status_code == 200
    assert viewer_client.get(RECENT_CHANGES_URL).status_code == 200
    record_id = records_of("acme/chat")[-1].history_id
    for url in (
        reverse("admin:catalog_historicalservedmodel_add"),
        reverse("admin:catalog_historicalservedmodel_change", args=[record_id]),
        reverse("admin:catalog_historicalservedmodel_delete", args=[record_id]),
        reverse("admin:catalog_servedmodel_simple_history", args=[model.pk, record_id]),
    ):
        assert viewer_client.get(url).status_code in (403, 404), url


# --- Recent changes -------------------------------------------------------------------------


@pytest.fixture
def dated_changes(editor_client, model, make_model, run_import):
    """Changes on known days of one week: prices by the editor and by an import, a name by the
    editor; and a price change in the shell long before. Returns the week's first day."""
    week = datetime(2026, 3, 2, tzinfo=UTC)
    other = make_model("acme/other")
    save_model(model, with_flat(model, price_completion=Decimal("0.000001")))
    editor_client.post(change_url(model), form_data(model, price_prompt="0.2"))
    editor_client.post(change_url(other), form_data(other, name="Other, renamed"))
    records = [records_of("acme/chat")[-1], records_of("acme/other")[-1]]
    run_import(
        catalog_file(
            record(
                {"completion": "0.000001"},
                id="acme/other",
                hugging_face_id="acme/other",
                name="Other, renamed",
            )
        )
    )
    records.append(records_of("acme/other")[-1])
    for day, change in enumerate(records, start=1):
        HistoricalServedModel.objects.filter(pk=change.pk).update(
            history_date=week + timedelta(days=day)
        )
    # Everything else, creations included, happened long before.
    HistoricalServedModel.objects.exclude(pk__in=[change.pk for change in records]).update(
        history_date=week - timedelta(days=60)
    )
    return week


def _listed(response) -> list[tuple[str, str]]:
    return [
        (change.model_id, change.history_user.username if change.history_user else "")
        for change in response.context["cl"].result_list
    ]


def test_recent_changes_answers_which_prices_changed_that_week_and_who_changed_them(
    editor_client, dated_changes
):
    week = dated_changes
    every_price_change = editor_client.get(RECENT_CHANGES_URL, {"field": "pricing"})

    response = editor_client.get(
        RECENT_CHANGES_URL,
        {
            "field": "pricing",
            "history_date__gte": week.isoformat(),
            "history_date__lt": (week + timedelta(days=7)).isoformat(),
        },
    )

    assert _listed(response) == [("acme/other", ""), ("acme/chat", "editor")]
    assert len(_listed(every_price_change)) == 3
    page = response.content.decode()
    assert "<h1>Recent changes</h1>" in page
    assert "import_models: catalog.json" in page
    assert (
        "<li><strong>Prompt price (USD per million tokens)</strong>: 0.15 &rarr; 0.2</li>"
    ) in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"field": "name"}, [("acme/other", "editor")]),
        ({"field": "pricing.prompt"}, [("acme/chat", "editor")]),
        ({"by": "none", "field": "name"}, []),
        ({"by": "none", "field": "pricing.completion"}, [("acme/other", ""), ("acme/chat", "")]),
        ({"q": "acme/chat", "field": "pricing"}, [("acme/chat", "editor"), ("acme/chat", "")]),
    ],
)
def test_recent_changes_filters_by_field_user_and_model(
    editor_client, editor, dated_changes, query, expected
):
    response = editor_client.get(RECENT_CHANGES_URL, query)

    assert _listed(response) == expected


@pytest.mark.parametrize("models", [2, 20])
def test_recent_changes_makes_the_same_queries_whatever_the_rows(
    editor_client, make_model, django_assert_num_queries, models
):
    for number in range(models):
        changed = make_model(f"acme/model-{number:02}")
        changed.name = "renamed"
        changed.save()

    # session, user, the user's permissions, their groups' permissions, the users of the
    # "changed by" filter, the filtered count, the total count, the page of records, their
    # previous records, the datacenters of both, the scheduled price changes that took effect
    # among them, the date hierarchy's first and last dates, its days.
    with django_assert_num_queries(13):
        response = editor_client.get(RECENT_CHANGES_URL)

    # Each rename, and the datacenters set when each model was made.
    assert response.content.decode().count("&rarr;") == 2 * models


# --- Imports --------------------------------------------------------------------------------


def test_an_import_records_its_source_and_the_old_and_new_prices(run_import):
    run_import(catalog_file(NEW_RECORD))
    run_import(catalog_file(record({"prompt": "0.0000002"})))

    created, change = records_of("acme/new-model")
    assert (created.history_type, change.history_type) == ("+", "~")
    for entry in (created, change):
        assert entry.history_user is None
        assert entry.history_change_reason == "import_models: catalog.json"
    assert (created.changed_fields, change.changed_fields) == ([], ["pricing.prompt"])
    assert (prompt_of(state_of(created)), prompt_of(state_of(change))) == (
        Decimal("0.00000015"),
        Decimal("0.0000002"),
    )
    assert codes_of(created) == codes_of(change) == ["US"]


def test_an_unchanged_reimport_records_nothing(run_import):
    run_import(catalog_file(NEW_RECORD))
    count = HistoricalServedModel.objects.count()

    run_import(catalog_file(NEW_RECORD))

    assert HistoricalServedModel.objects.count() == count


def test_an_import_from_standard_input_says_so(db):
    call_command(
        "import_models", "-", stdin=io.BytesIO(catalog_file(NEW_RECORD)), stdout=io.StringIO()
    )

    assert records_of("acme/new-model")[0].history_change_reason == "import_models: stdin"


def test_pruning_records_each_unpublished_model(model, run_import):
    run_import(catalog_file(NEW_RECORD), "--prune")

    change = records_of("acme/chat")[-1]
    assert (change.is_published, change.changed_fields) == (False, ["published"])


@pytest.mark.parametrize(("count", "batches"), [(10, 1), (100, 1), (250, 3)])
def test_import_history_costs_a_statement_per_batch_not_per_model(
    db, count, batches, django_assert_num_queries
):
    records = [
        record(id=f"bulk/model-{number:04}", hugging_face_id=f"bulk/model-{number:04}")
        for number in range(count)
    ]
    # SAVEPOINT, the import lock, SELECT the file's models, SELECT the datacenters, INSERT the
    # missing datacenter, then per batch of 100: INSERT the models, INSERT their modalities,
    # INSERT their prices, INSERT their datacenter links, INSERT their history records with
    # their datacenters; RELEASE.
    with django_assert_num_queries(6 + 5 * batches):
        import_catalog(catalog_file(*records), batch_size=100)

    assert HistoricalServedModel.objects.filter(history_type="+").count() == count
    assert (
        HistoricalServedModel.datacenters.model.objects.filter(country_code="US").count() == count
    )


def test_with_history_off_an_import_records_nothing(run_import, settings):
    settings.SIMPLE_HISTORY_ENABLED = False

    run_import(catalog_file(NEW_RECORD))

    assert ServedModel.objects.filter(model_id="acme/new-model").exists()
    assert not HistoricalServedModel.objects.exists()


# --- Other writers --------------------------------------------------------------------------


def test_a_save_in_the_shell_records_what_it_changed(model, datacenters):
    save_model(model, with_flat(model, price_completion=Decimal("0.000001")))
    model.datacenters.add(*datacenters("SE"))

    price_change, link_change = records_of("acme/chat")[-2:]
    assert price_change.changed_fields == ["pricing.completion"]
    assert (link_change.changed_fields, codes_of(link_change)) == (["datacenters"], ["SE", "US"])


def test_a_save_reads_the_offering_its_record_keeps_in_one_query(model, django_assert_num_queries):
    model.name = "Renamed"

    # The model's update; the record's offering (catalog_offering_snapshot, as record_bulk);
    # the previous record, its datacenters and the model's; the record; the links and their
    # records.
    with django_assert_num_queries(8):
        save_model(model)

    assert records_of("acme/chat")[-1].changed_fields == ["name"]


def test_a_deletion_in_the_shell_is_recorded_and_the_past_still_serves_the_model(model):
    served = published_catalog()[1]
    before = last_moment()

    ServedModel.objects.get(pk=model.pk).delete()

    assert records_of("acme/chat")[-1].history_type == "-"
    assert catalog_as_of(before) == served
    assert b"acme/chat" not in catalog_as_of(last_moment())


def test_links_changed_from_the_datacenter_side_are_recorded_for_each_model(
    model, make_model, datacenters
):
    other = make_model("acme/other", countries=())
    (sweden,) = datacenters("SE")

    sweden.models.add(model, other)
    sweden.models.remove(other)

    assert codes_of(records_of("acme/chat")[-1]) == ["SE", "US"]
    added, removed = records_of("acme/other")[-2:]
    assert (codes_of(added), codes_of(removed)) == (["SE"], [])
    assert removed.changed_fields == ["datacenters"]


def test_deleting_a_datacenter_records_each_model_that_lost_it(editor_client, editor, model):
    (usa,) = Datacenter.objects.filter(country_code="US")
    before_deletion = last_moment()
    served_before = published_catalog()[1]

    editor_client.post(reverse("admin:catalog_datacenter_delete", args=[usa.pk]), {"post": "yes"})

    change = records_of("acme/chat")[-1]
    assert (change.history_user, change.history_change_reason) == (editor, "datacenter US deleted")
    assert codes_of(change) == []
    # The earlier records keep the code of the datacenter that no longer exists.
    assert export_as_of(before_deletion) == served_before
    assert export_as_of(last_moment()) == published_catalog()[1]
    assert b'"datacenters":[]' in published_catalog()[1]


def test_correcting_a_datacenter_code_records_each_model_linked_to_it(model):
    (usa,) = Datacenter.objects.filter(country_code="US")

    usa.country_code = "CA"
    usa.save()

    change = records_of("acme/chat")[-1]
    assert (change.history_change_reason, codes_of(change)) == ("datacenter US became CA", ["CA"])
    assert codes_of(records_of("acme/chat")[-2]) == ["US"]


# --- The catalog as of a past moment --------------------------------------------------------


def test_export_as_of_between_two_imports_reproduces_the_first_catalog_byte_for_byte(
    run_import, client
):
    other = record(id="acme/other", hugging_face_id="acme/other", name="other")
    run_import(catalog_file(NEW_RECORD, other))
    first_catalog = client.get(ENDPOINT).content
    between = last_moment()

    changed = record(
        {"prompt": "0.0000002"}, datacenters=[{"country_code": "DE"}, {"country_code": "FR"}]
    )
    third = record(id="acme/third", hugging_face_id="acme/third", name="third")
    run_import(catalog_file(changed, third), "--prune")  # acme/other is unpublished
    assert last_moment() > between

    assert export_as_of(between) == first_catalog
    assert export_as_of(last_moment()) == client.get(ENDPOINT).content != first_catalog


def test_export_as_of_follows_publishing_unpublishing_and_deprecation(
    editor_client, client, catalog
):
    llama, reranker, draft = catalog
    served = {last_moment(): client.get(ENDPOINT).content}
    changelist = reverse("admin:catalog_servedmodel_changelist")
    steps = [
        {"action": "publish", "_selected_action": [draft.pk]},
        {"action": "unpublish", "_selected_action": [llama.pk]},
        {
            "action": "set_deprecation_date",
            "_selected_action": [draft.pk],
            "deprecation_date": "2027-06-30",
        },
        {"action": "clear_deprecation_date", "_selected_action": [reranker.pk]},
    ]
    for step in steps:
        editor_client.post(changelist, step)
        served[last_moment()] = client.get(ENDPOINT).content

    assert len(set(served.values())) == len(steps) + 1, "each step changes the catalog"
    for when, body in served.items():
        assert export_as_of(when) == body
    # Between two changes, the earlier one holds.
    first, second = sorted(served)[:2]
    assert export_as_of(first + (second - first) / 2) == served[first]


@pytest.mark.parametrize("count", [1, 30])
def test_as_of_costs_three_queries_whatever_the_catalog_size(db, count, django_assert_num_queries):
    records = [
        record(id=f"bulk/model-{number:02}", hugging_face_id=f"bulk/model-{number:02}")
        for number in range(count)
    ]
    import_catalog(catalog_file(*records))
    when = last_moment()

    # The first record's date, each model's latest record, their datacenters.
    with django_assert_num_queries(3):
        body = catalog_as_of(when)

    assert body == published_catalog()[1]


def test_export_as_of_writes_to_a_file(run_import, tmp_path):
    run_import(catalog_file(NEW_RECORD))
    path = tmp_path / "then.json"

    stdout = io.StringIO()
    call_command(
        "export_models", "--as-of", last_moment().isoformat(), "-o", str(path), stdout=stdout
    )

    assert path.read_bytes() == published_catalog()[1]
    assert " as of " in stdout.getvalue()


def test_export_as_of_before_the_first_record_names_the_earliest_moment(run_import):
    run_import(catalog_file(NEW_RECORD))
    first = HistoricalServedModel.objects.earliest().history_date
    earliest = first.isoformat().replace("+00:00", "Z")

    with pytest.raises(CommandError, match=f"The history starts at {earliest};"):
        export_as_of(first - timedelta(seconds=1))


def test_export_as_of_without_any_history_says_so(db):
    with pytest.raises(CommandError, match=r"The catalog has no recorded history yet\."):
        export("--as-of", "2026-11-01T12:00:00Z")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-01T12:00:00", "has no time zone; add Z for UTC"),
        ("2026-11-01", "has no time zone"),
        ("yesterday", "is not an ISO 8601 date and time"),
        ("2026-13-01T12:00:00Z", "is not an ISO 8601 date and time"),
    ],
)
def test_export_as_of_refuses_a_moment_without_time_zone_or_malformed(db, text, message):
    with pytest.raises(CommandError, match=message):
        export("--as-of", text)


@pytest.mark.parametrize(
    "text", ["2026-11-01T12:00:00Z", "2026-11-01T12:00:00+00:00", "2026-11-01T13:00:00+01:00"]
)
def test_as_of_reads_iso_8601_with_z_or_an_offset(text):
    assert moment(text) == datetime(2026, 11, 1, 12, tzinfo=UTC)


# --- The endpoint ---------------------------------------------------------------------------


def test_history_adds_no_query_to_a_warm_request(
    client, run_import, settings, django_assert_num_queries
):
    settings.REDIS_URL = ""
    run_import(catalog_file(NEW_RECORD))
    client.get(ENDPOINT)

    # 1. SELECT number FROM catalog_catalogrevision
    with django_assert_num_queries(1):
        response = client.get(ENDPOINT)
    assert response.content == published_catalog()[1]


def test_a_mistyped_history_url_is_a_404_not_a_server_error(editor_client, model):
    url = f"/admin/catalog/servedmodel/{model.pk}/change/history/"
    assert editor_client.get(url).status_code == 404


def prompt_of(state) -> Decimal:
    return flat_view(state.offering)["price_prompt"]
