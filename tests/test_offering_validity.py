"""The offering owns its rules (issue 19, items 2 and 3): ``Offering.problems()`` names each
problem, the admin, both decoders and the write path ask it; what the typed format cannot say is
named, not dropped silently; the admin's inline rows go through the one write path."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.actions.served_models import save_model
from catalog.formats.problems import CatalogFileInvalid
from catalog.formats.typed import schema as typed_schema
from catalog.importer import import_catalog
from catalog.models import Modality, PriceEntry, ServedModel
from catalog.offering import (
    ROOT,
    Capacity,
    InvalidOffering,
    ModalitySpec,
    Offering,
    Price,
    stored_offering,
    typed_omissions,
)
from tests.helpers import (
    build_model,
    build_offering,
    catalog_file,
    change_url,
    create_model,
    form_data,
    modality_row,
    record,
    records_of,
    with_rows,
)

TEXT_IN, TEXT_OUT = ("input", "text"), ("output", "text")
TEXT = (ModalitySpec(*TEXT_IN), ModalitySpec(*TEXT_OUT))
WEEK = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def price(scope=TEXT_IN, price_type="prompt", unit="token", cost="0.000001", **qualifiers):
    return Price(scope, price_type, unit, Decimal(cost), **qualifiers)


# The official schema's integers go up to 2^53 - 1 (JSON numbers are doubles).
CAPACITY_RANGE = (
    "A whole number from 1 to 9007199254740991 (2^53 - 1), the most the typed format takes."
)


def problems(*entries, modalities=TEXT) -> list[tuple[str, str | None, str]]:
    prices = tuple(entry for entry in entries if isinstance(entry, Price))
    capacities = tuple(entry for entry in entries if isinstance(entry, Capacity))
    offering = Offering(modalities, prices, capacities)
    return [(problem.code, problem.field, problem.message) for problem in offering.problems()]


# --- The one rule ---------------------------------------------------------------------------


def test_a_valid_offering_has_no_problems():
    assert problems(price(), price(TEXT_OUT, "completion")) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            price(TEXT_IN, "completion"),
            (
                "scope",
                "price_type",
                "An input modality has prompt, cached_prompt, cache_write entries.",
            ),
        ),
        (
            price(TEXT_OUT, "internal_reasoning", "search"),
            (
                "scope",
                "unit",
                "An output modality is priced per token, image, megapixel, "
                "second, character, request.",
            ),
        ),
        (
            price(ROOT, "web_search", "request"),
            ("scope", "unit", "A web_search entry of the request is per search."),
        ),
        (
            price(ROOT, "prompt", "request"),
            ("scope", "price_type", "The request scope has only request and web_search entries."),
        ),
        (price(ttl_seconds=60), ("not_cache", "ttl_seconds", "Only cache prices have this.")),
        (price(implicit=True), ("not_cache", "implicit", "Only cache prices have this.")),
        (
            price(price_type="cache_write", ttl_seconds=0),
            ("min_value", "ttl_seconds", "At least 1 second."),
        ),
        (
            price(utc_start=2260, utc_end=600),
            ("hhmm", "utc_start", "A UTC clock time written HHMM, 0 to 2359 (2200 is 22:00)."),
        ),
        (
            price(utc_start=2200),
            ("half_window", "utc_end", "A window needs both its start and its end."),
        ),
        (
            price(utc_start=2200, utc_end=2200),
            ("empty_window", "utc_end", "The window must end when it does not start."),
        ),
        (
            price(utc_days=128),
            ("weekdays", "utc_days", "Weekdays are bits 1 (Monday) to 64 (Sunday), at least one."),
        ),
        (
            Capacity(TEXT_OUT, "concurrency", "token", None, 4),
            ("scope", "unit", "Concurrency is counted in requests."),
        ),
        (
            Capacity(TEXT_OUT, "concurrency", "request", "minute", 4),
            ("window", "per", "Concurrency has no window."),
        ),
        (
            Capacity(TEXT_IN, "prompt", "token", None, 4),
            ("required_window", "per", "Per minute, hour or day."),
        ),
        (
            price(("input", "audio"), unit="second"),
            ("unknown_scope", "scope", "The model has no input audio modality."),
        ),
        (Capacity(TEXT_IN, "prompt", "token", "minute", 0), ("value", "value", CAPACITY_RANGE)),
        (
            Capacity(ROOT, "concurrency", "request", None, 2**53),
            ("value", "value", CAPACITY_RANGE),
        ),
    ],
)
def test_each_rule_of_an_entry_is_a_problem_named_by_field(entry, expected):
    assert problems(price(TEXT_OUT, "completion"), entry) == [expected]


def test_an_identity_held_twice_is_a_problem_of_the_second_entry():
    first, second = price(cost="0.000001"), price(cost="0.000002")
    offering = Offering(TEXT, (first, second))

    (problem,) = offering.problems()

    assert (problem.code, problem.entry, problem.other) == ("duplicate", second, first)


def test_a_second_unit_of_a_typed_identity_is_a_problem_of_both_entries():
    image = (ModalitySpec("input", "image"), *TEXT)
    per_image = price(("input", "image"), unit="image")
    per_megapixel = price(("input", "image"), unit="megapixel")
    offering = Offering(image, (per_image, per_megapixel))

    found = [(p.code, p.field, p.entry, p.other) for p in offering.problems()]

    assert found == [
        ("second_unit", "unit", per_image, per_megapixel),
        ("second_unit", "unit", per_megapixel, per_image),
    ]


@pytest.mark.parametrize("inputs", [["text"], ["audio"], ["image"]])
def test_a_flat_prompt_per_token_and_per_image_on_one_input_is_valid_and_named(inputs):
    # A flat file prices both on whatever input the model has: valid, so that flat files
    # round-trip, and named as what the typed format leaves out.
    offering = build_offering(
        input_modalities=inputs, price_prompt=Decimal("0.000001"), price_image=Decimal("0.01")
    )

    (omission,) = typed_omissions(offering)

    assert offering.problems() == []
    assert isinstance(omission.entry, Price)
    left_out = "token" if inputs == ["image"] else "image"
    kept = "image" if inputs == ["image"] else "token"
    assert (omission.entry.scope, omission.entry.unit) == (("input", inputs[0]), left_out)
    assert omission.reason == (
        f"the typed format has one prompt price per modality and qualifiers; it says the one "
        f"per {kept}."
    )


def test_what_else_the_typed_format_cannot_say_is_named():
    windowed_request = price(ROOT, "request", "request", utc_start=100, utc_end=200)
    concurrency = Capacity(TEXT_IN, "concurrency", "request", None, 8)
    offering = Offering(TEXT, (windowed_request,), (concurrency,))

    assert offering.problems() == []
    assert [(o.entry, o.reason) for o in typed_omissions(offering)] == [
        (
            windowed_request,
            "the request scope has no time windows or weekdays in the typed format.",
        ),
        (concurrency, "an input has no concurrency in the typed format."),
    ]


@pytest.mark.parametrize("kind", ["embeddings", "rerank"])
@pytest.mark.parametrize("streaming", [True, False])
def test_streaming_on_an_output_without_it_is_named(kind, streaming):
    # Not refused: the admin lets staff set it on any output, and a flat re-import keeps it.
    output = ModalitySpec("output", kind, streaming=streaming)
    offering = Offering((ModalitySpec(*TEXT_IN), output))

    assert offering.problems() == []
    assert [(o.entry, o.field, str(o)) for o in typed_omissions(offering)] == [
        (
            output,
            "streaming",
            f"output {kind} streaming: {kind} outputs have no streaming in the typed format.",
        )
    ]


@pytest.mark.parametrize(
    ("kind", "streaming"), [("text", True), ("audio", False), ("embeddings", None)]
)
def test_streaming_the_typed_format_says_or_that_is_unset_is_not_named(kind, streaming):
    offering = Offering((ModalitySpec(*TEXT_IN), ModalitySpec("output", kind, streaming=streaming)))

    assert typed_omissions(offering) == []


# --- All seven weekdays are every day (D) ---------------------------------------------------


def test_all_seven_weekdays_are_every_day():
    every_day = price(utc_start=100, utc_end=200, utc_days=127)

    assert every_day.utc_days is None
    assert every_day.identity == price(utc_start=100, utc_end=200).identity


def _weekday_document(*pricing: dict) -> dict:
    document = json.loads(
        (Path(__file__).parent / "data" / "typed" / "text-model.json").read_text()
    )["data"][0]
    document["input_modalities"][0]["pricing"] = list(pricing)
    return document


def test_a_typed_entry_on_all_seven_days_is_stored_as_every_day(db):
    entry = {"type": "prompt", "unit": "token", "cost_usd": "0.000001", "utc_days": WEEK[::-1]}
    document = _weekday_document(entry)

    import_catalog(catalog_file(document))

    row = PriceEntry.objects.get(
        model__model_id=document["id"], modality__direction="input", modality__kind="text"
    )
    assert (row.price_type, row.utc_days) == ("prompt", None)


def test_a_typed_entry_on_all_seven_days_repeats_the_one_without_weekdays(db):
    entry = {"type": "prompt", "unit": "token", "cost_usd": "0.000001"}
    document = _weekday_document(entry, {**entry, "cost_usd": "0.000002", "utc_days": WEEK})

    with pytest.raises(CatalogFileInvalid) as caught:
        import_catalog(catalog_file(document))

    (problem,) = caught.value.problems
    assert problem.field == "input_modalities[0].pricing[1]"
    assert problem.reason.startswith("repeats the identity of input_modalities[0].pricing[0]")


def test_all_seven_days_ticked_in_the_admin_are_every_day(editor_client, make_model):
    model = make_model("acme/chat")
    row = {
        "scope": "output text",
        "price_type": "completion",
        "unit": "token",
        "cost_usd": "0.6",
        "utc_start": "2200",
        "utc_end": "600",
        "utc_days": WEEK,
    }

    response = editor_client.post(change_url(model), with_rows(form_data(model), "prices", [row]))

    assert response.status_code == 302
    stored = PriceEntry.objects.get(model=model, utc_start=2200)
    assert stored.utc_days is None


# --- The decoders word the rule's problems at their paths -----------------------------------


def test_the_typed_decoder_names_a_window_problem_at_its_path(db):
    entry = {"type": "prompt", "unit": "token", "cost_usd": "0.000001"}
    document = _weekday_document(entry, {**entry, "utc_start": 2200, "utc_end": 2200})

    with pytest.raises(CatalogFileInvalid) as caught:
        import_catalog(catalog_file(document))

    assert [(p.field, p.value, p.reason) for p in caught.value.problems] == [
        ("input_modalities[0].pricing[1].utc_end", 2200, "must differ from utc_start.")
    ]


def test_the_largest_capacity_is_the_official_schemas_largest_integer():
    schemas = json.loads(typed_schema.SCHEMA_PATH.read_bytes())["components"]["schemas"]
    maximum = schemas["InputCapacityEntry"]["properties"]["value"]["maximum"]
    assert problems(Capacity(TEXT_IN, "prompt", "token", "minute", maximum)) == []
    assert problems(Capacity(TEXT_IN, "prompt", "token", "minute", maximum + 1)) == [
        ("value", "value", CAPACITY_RANGE)
    ]


def test_the_decoders_name_a_capacity_too_large_for_the_typed_format_at_its_path(db):
    typed = _weekday_document({"type": "prompt", "unit": "token", "cost_usd": "0.000001"})
    typed["capacity"] = [{"type": "concurrency", "unit": "request", "value": 2**53}]
    flat_record = record(capacity_tpm=2**53)

    with pytest.raises(CatalogFileInvalid) as typed_caught:
        import_catalog(catalog_file(typed))
    with pytest.raises(CatalogFileInvalid) as flat_caught:
        import_catalog(catalog_file(flat_record))

    assert [(p.field, p.value) for p in typed_caught.value.problems] == [
        ("capacity[0].value", 2**53)
    ]
    assert [(p.field, p.value, p.reason) for p in flat_caught.value.problems] == [
        ("capacity_tpm", 2**53, CAPACITY_RANGE)
    ]
    assert not ServedModel.objects.exists()


def test_a_flat_update_that_breaks_the_rules_with_kept_rows_is_a_problem(db):
    # The image input prices prompts per megapixel (typed only, kept by a flat re-import); a
    # flat image price would add prompt per image beside it: two units of one typed identity.
    model = create_model("acme/seer", input_modalities=["text", "image"])
    offering = stored_offering(model)
    per_megapixel = price(("input", "image"), unit="megapixel", cost="0.002")
    save_model(model, offering.replacing(prices=(*offering.prices, per_megapixel)))
    flat_record = record(
        {"image": "0.01"}, id="acme/seer", name="seer", input_modalities=["text", "image"]
    )

    with pytest.raises(CatalogFileInvalid) as caught:
        import_catalog(catalog_file(flat_record))

    problems = [(p.id, p.reason) for p in caught.value.problems if p.field == "pricing"]
    kept = "beside the prices the file cannot say (kept from the stored model)"
    assert problems == [
        (
            "acme/seer",
            f"input image prompt per megapixel, {kept}: The model already has this price per "
            "image: a price type takes one unit in a modality.",
        ),
        (
            "acme/seer",
            f"input image prompt per image, {kept}: The model already has this price per "
            "megapixel: a price type takes one unit in a modality.",
        ),
    ]


# --- The write path refuses an invalid offering ---------------------------------------------


def test_save_model_refuses_an_invalid_offering_before_writing(db):
    model = build_model("acme/broken")
    offering = build_offering().replacing(
        prices=(*build_offering().prices, price(("input", "audio"), unit="second"))
    )

    with pytest.raises(InvalidOffering) as caught:
        save_model(model, offering)

    assert str(caught.value) == (
        "The offering of acme/broken is not valid: input audio prompt per second: The model "
        "has no input audio modality."
    )
    assert not ServedModel.objects.filter(model_id="acme/broken").exists()


# --- The admin's inline rows through the write path (C) -------------------------------------

WINDOW = {
    "scope": "output text",
    "price_type": "completion",
    "unit": "token",
    "cost_usd": "0.6",
    "utc_start": "2200",
    "utc_end": "600",
}
MORNING = {**WINDOW, "cost_usd": "0.3", "utc_start": "600", "utc_end": "900"}


def test_an_inline_edit_keeps_the_ids_of_rows_and_is_one_record(editor_client, make_model):
    model = make_model("acme/chat")
    editor_client.post(change_url(model), with_rows(form_data(model), "prices", [WINDOW, MORNING]))
    rows = {row.utc_start: row.pk for row in PriceEntry.objects.filter(model=model)}
    text_output = modality_row(model, "output", "text")
    before = len(records_of(model))
    stored = [
        {**WINDOW, "id": rows[2200], "model": model.pk},
        {**MORNING, "id": rows[600], "model": model.pk, "cost_usd": "0.2"},
    ]

    response = editor_client.post(
        change_url(model), with_rows(form_data(model), "prices", stored, initial=2)
    )

    assert response.status_code == 302
    after = {
        row.utc_start: (row.pk, row.cost_usd) for row in PriceEntry.objects.filter(model=model)
    }
    assert after[2200] == (rows[2200], Decimal("0.0000006"))  # unchanged, untouched
    assert after[600] == (rows[600], Decimal("0.0000002"))  # changed in place
    assert modality_row(model, "output", "text").pk == text_output.pk
    records = records_of(model)
    assert len(records) == before + 1
    assert Offering.from_json(records[-1].offering) == stored_offering(
        ServedModel.objects.get(pk=model.pk)
    )


def test_a_modality_detail_is_written_through_the_write_path(editor_client, make_model):
    model = make_model("acme/chat")
    text_input = modality_row(model, "input", "text")
    data = form_data(model)
    rows = [
        {
            "id": row.pk,
            "model": model.pk,
            "supported_inputs": json.dumps(
                {"max_context_length": {"value": 1}} if row.pk == text_input.pk else {}
            ),
            "supported_parameters": json.dumps({}),
            "passthrough_parameters": json.dumps({}),
            "streaming": "unknown",
        }
        for row in Modality.objects.filter(model=model).order_by("pk")
    ]
    data = with_rows(data, "modalities", rows, initial=len(rows))

    response = editor_client.post(change_url(model), data)

    assert response.status_code == 302
    text_input.refresh_from_db()
    assert text_input.supported_inputs == {"max_context_length": {"value": 1}}


# --- Not silent: staff and the export are told (B) ------------------------------------------


@pytest.fixture
def flat_image_on_text(db):
    return create_model(
        "acme/two-units", price_prompt=Decimal("0.000001"), price_image=Decimal("0.01")
    )


def test_the_typed_export_names_each_model_it_leaves_a_price_of_on_stderr(flat_image_on_text):
    create_model("acme/plain")
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("export_models", "--schema-version", "2.4", stdout=stdout, stderr=stderr)

    assert stderr.getvalue() == (
        "acme/two-units: the typed format leaves out input text prompt per image: the typed "
        "format has one prompt price per modality and qualifiers; it says the one per token.\n"
    )
    (document,) = [d for d in json.loads(stdout.getvalue())["data"] if d["id"] == "acme/two-units"]
    assert document["input_modalities"][0]["pricing"] == [
        {"type": "prompt", "unit": "token", "cost_usd": "0.000001"}
    ]


@pytest.fixture
def streaming_embedder(db):
    model = create_model("acme/embedder", output_modalities=["embeddings"])
    Modality.objects.filter(model=model, kind="embeddings").update(streaming=True)
    return model


def typed_export() -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("export_models", "--schema-version", "2.4", stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_the_typed_export_names_streaming_it_leaves_out_and_writes_the_same_body(
    streaming_embedder,
):
    body, stderr = typed_export()

    assert stderr == (
        "acme/embedder: the typed format leaves out output embeddings streaming: embeddings "
        "outputs have no streaming in the typed format.\n"
    )
    (document,) = json.loads(body)["data"]
    assert [output.get("streaming") for output in document["output_modalities"]] == [None]
    # Byte for byte the body of the same model without the flag.
    Modality.objects.filter(model=streaming_embedder).update(streaming=None)
    assert typed_export() == (body, "")


def test_the_change_page_warns_of_streaming_the_typed_format_leaves_out(
    editor_client, streaming_embedder
):
    page = editor_client.get(change_url(streaming_embedder)).content.decode()

    assert (
        "The typed format (schema_version 2.4) leaves out output embeddings streaming (yes): "
        "embeddings outputs have no streaming in the typed format."
    ) in page


def test_the_flat_export_says_nothing_on_stderr(flat_image_on_text):
    stderr = io.StringIO()

    call_command("export_models", stdout=io.StringIO(), stderr=stderr)

    assert stderr.getvalue() == ""


def test_the_change_page_warns_of_what_the_typed_format_leaves_out(
    editor_client, flat_image_on_text
):
    page = editor_client.get(change_url(flat_image_on_text)).content.decode()

    assert (
        "The typed format (schema_version 2.4) leaves out input text prompt per image ($0.01 "
        "per image): the typed format has one prompt price per modality and qualifiers; it "
        "says the one per token."
    ) in page


def test_a_page_without_omissions_has_no_such_warning(editor_client, make_model):
    page = editor_client.get(change_url(make_model("acme/chat"))).content.decode()

    assert "leaves out" not in page
