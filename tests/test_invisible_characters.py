"""IDs, Hugging Face IDs and names refuse invisible characters, in the admin, the importer and
the database alike (issue #12 item 5; the set is catalog.validators.INVISIBLE_CHARACTER_RANGES)."""

from __future__ import annotations

import copy
import importlib
import io
import json
import re
import sys
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from catalog.models import ServedModel
from catalog.validators import (
    INVISIBLE_CHARACTER_RANGES,
    INVISIBLE_CHARACTERS_PATTERN,
    validate_display_name,
    validate_hugging_face_id,
    validate_model_id,
)
from tests.helpers import ADD_URL, change_url, form_data
from tests.helpers import NEW_RECORD as RECORD

# What a look-alike is made with: zero-width, bidirectional, filler, selector, tag characters.
INVISIBLES = {
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "byte-order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "combining grapheme joiner": "\u034f",
    "Hangul filler": "\u3164",
    "Hangul choseong filler": "\u115f",
    "halfwidth Hangul filler": "\uffa0",
    "variation selector 16": "\ufe0f",
    "variation selector 17": "\U000e0100",
    "tag latin small a": "\U000e0061",
    "line separator": "\u2028",
    "blank Braille pattern": "\u2800",
}
FIELD_CHECKS = {
    "model_id": validate_model_id,
    "hugging_face_id": validate_hugging_face_id,
    "name": validate_display_name,
}
# Where each field's database rule is named (the Hugging Face ID's pattern is ASCII only).
CONSTRAINTS = {
    "model_id": "servedmodel_model_id_no_invisible",
    "hugging_face_id": "servedmodel_hugging_face_id_owner_name",
    "name": "servedmodel_name_no_invisible",
}
LOOK_ALIKE = "meta-llama/Llama-3.1-8B-Instruct"


def hidden_in(field: str, char: str) -> str:
    """A plausible value for ``field`` with ``char`` inside it (not at an end, where forms strip
    whitespace)."""
    if field == "name":
        return f"Llama 3.1{char} 8B Instruct"
    return LOOK_ALIKE.replace("/", "/" + char, 1)


def _invisible_params():
    return [
        pytest.param(field, char, id=f"{field}-{label}")
        for field in FIELD_CHECKS
        for label, char in INVISIBLES.items()
    ]


# --- The set ---------------------------------------------------------------------------------


def test_every_format_character_is_in_the_set():
    in_set = {
        code_point
        for low, high in INVISIBLE_CHARACTER_RANGES
        for code_point in range(low, high + 1)
    }
    format_characters = {
        code_point
        for code_point in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code_point)) == "Cf"
    }
    assert format_characters
    assert format_characters <= in_set
    # Beyond Cf, the named invisibles of the issue.
    assert {0x115F, 0x1160, 0x3164, 0xFFA0, 0xFE0F, 0xE0100, 0x2028, 0x2029, 0x2800} <= in_set


def test_python_and_postgresql_read_the_pattern_alike(db):
    # Each range's edges and their neighbours, asked of both regular expression engines.
    code_points = sorted(
        {
            point
            for low, high in INVISIBLE_CHARACTER_RANGES
            for point in (low - 1, low, high, high + 1)
            if not 0xD800 <= point <= 0xDFFF
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT point, chr(point) ~ %s FROM unnest(%s::int[]) AS point",
            [INVISIBLE_CHARACTERS_PATTERN, code_points],
        )
        postgresql = dict(cursor.fetchall())
    python = {
        point: bool(re.search(INVISIBLE_CHARACTERS_PATTERN, chr(point))) for point in code_points
    }
    assert postgresql == python
    assert python[0x200B]
    assert not python[0x200A]


@pytest.mark.parametrize(
    "name",
    [
        "Llama 3.3 70B Instruct",
        "Reranker ✓",
        "Qwen2.5 — 通义千问",
        "Mistral Large (2411)",
        "Ĉefa modelo «Ŝtormo»",
        "نموذج عربي",
        "Llama 🦙",
        "Modèle\u00a0français",
    ],
)
def test_visible_names_are_accepted(name):
    validate_display_name(name)


@pytest.mark.parametrize(("field", "char"), _invisible_params())
def test_validator_names_the_invisible_character_by_code_point(field, char):
    with pytest.raises(ValidationError) as raised:
        FIELD_CHECKS[field](hidden_in(field, char))
    message = raised.value.messages[0]
    if field == "model_id" and char.isspace():
        # Whitespace in an ID has its own rule and words.
        assert raised.value.error_list[0].code == "invalid_characters"
    else:
        assert raised.value.error_list[0].code == "invisible_characters"
        assert f"U+{ord(char):04X}" in message
        assert "invisible characters" in message


# --- The admin ---------------------------------------------------------------------------------


@pytest.fixture
def model(make_model):
    return make_model("acme/chat")


@pytest.mark.parametrize("view", ["add", "change"])
@pytest.mark.parametrize(
    ("field", "char"),
    [
        (field, INVISIBLES[label])
        for field in FIELD_CHECKS
        for label in ("zero-width space", "right-to-left override", "Hangul filler")
    ],
)
def test_admin_form_refuses_an_invisible_character_on_its_field(
    editor_client, model, view, field, char
):
    before = ServedModel.objects.values().get()
    typed = {field: hidden_in(field, char)}
    if view == "add":
        data = form_data(model, **{"model_id": "acme/new", **typed})
        response = editor_client.post(ADD_URL, data)
    else:
        response = editor_client.post(change_url(model), form_data(model, **typed))

    assert response.status_code == 200, "the form was accepted"
    errors = response.context["adminform"].form.errors
    assert set(errors) == {field}
    assert f"U+{ord(char):04X}" in errors[field][0]
    assert ServedModel.objects.values().get() == before


# --- The importer ------------------------------------------------------------------------------

WIRE_NAMES = {"model_id": "id", "hugging_face_id": "hugging_face_id", "name": "name"}


@pytest.mark.parametrize(
    ("field", "char"),
    [
        (field, INVISIBLES[label])
        for field in FIELD_CHECKS
        for label in ("zero-width space", "right-to-left override", "variation selector 16")
    ],
)
def test_import_names_the_problem_and_writes_nothing(model, tmp_path, monkeypatch, field, char):
    monkeypatch.chdir(tmp_path)
    record = copy.deepcopy(RECORD)
    record[WIRE_NAMES[field]] = hidden_in(field, char)
    (tmp_path / "catalog.json").write_text(json.dumps({"data": [record]}), encoding="utf-8")
    before = list(ServedModel.objects.values())

    with pytest.raises(CommandError) as raised:
        call_command("import_models", "catalog.json", stdout=io.StringIO())

    message = str(raised.value)
    assert "nothing was imported" in message
    assert f"record 0, id {json.dumps(record['id'], ensure_ascii=False)}" in message
    assert f", {WIRE_NAMES[field]}, value " in message
    assert f"U+{ord(char):04X}" in message
    assert list(ServedModel.objects.values()) == before


# --- The database ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "char"),
    [
        (field, INVISIBLES[label])
        for field in FIELD_CHECKS
        for label in (
            "zero-width space",
            "right-to-left override",
            "Hangul filler",
            "tag latin small a",
        )
    ],
)
def test_database_refuses_an_invisible_character_written_around_the_form(model, field, char):
    with pytest.raises(IntegrityError, match=CONSTRAINTS[field]), transaction.atomic():
        ServedModel.objects.filter(pk=model.pk).update(**{field: hidden_in(field, char)})


# --- Rows stored before the rule (migration 0007) ---------------------------------------------

BEFORE_RULE = ("catalog", "0006_choice_labels")
MIGRATION = importlib.import_module("catalog.migrations.0007_no_invisible_characters")


@pytest.fixture
def before_the_rule(transactional_db):
    """The catalog's schema as it was before migration 0007; the latest again afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE_RULE])
    state = executor.loader.project_state([BEFORE_RULE])
    yield state.apps.get_model("catalog", "ServedModel")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _stored(model_class, model_id: str, name: str):
    return model_class.objects.create(
        model_id=model_id,
        name=name,
        created="2025-01-15T12:00:00Z",
        input_modalities=["text"],
        output_modalities=["text"],
        quantization="fp8",
        context_length=8192,
        max_output_length=1024,
    )


def _migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_migration_removes_invisible_characters_from_stored_ids_and_names(before_the_rule):
    clean = _stored(before_the_rule, "acme/clean", "Clean")
    spoof = _stored(before_the_rule, "acme/chat\u200b", "Chat\u202e model")
    blank = _stored(before_the_rule, "acme/blank", "\u3164")

    _migrate_to_latest()

    stored = dict(ServedModel.objects.values_list("pk", "model_id"))
    names = dict(ServedModel.objects.values_list("pk", "name"))
    assert stored == {clean.pk: "acme/clean", spoof.pk: "acme/chat", blank.pk: "acme/blank"}
    assert names == {clean.pk: "Clean", spoof.pk: "Chat model", blank.pk: "blank"}


def test_migration_stops_on_an_invisible_look_alike_of_another_id(before_the_rule):
    _stored(before_the_rule, LOOK_ALIKE, "Llama")
    look_alike = _stored(before_the_rule, LOOK_ALIKE + "\u200b", "Llama (copy)")

    with pytest.raises(CommandError) as raised:
        _migrate_to_latest()

    assert str(raised.value) == (
        f"Served model {LOOK_ALIKE + chr(0x200B)!r} (pk {look_alike.pk}) has invisible "
        f"characters in its ID, and without them it would be {LOOK_ALIKE!r}, another model's "
        "ID: rename or delete one of them in the admin, then migrate again."
    )
    # Nothing changed; once staff settle it, the migration goes through.
    assert before_the_rule.objects.get(pk=look_alike.pk).model_id == LOOK_ALIKE + "\u200b"
    before_the_rule.objects.filter(pk=look_alike.pk).delete()
    _migrate_to_latest()
    assert list(ServedModel.objects.values_list("model_id", flat=True)) == [LOOK_ALIKE]


def test_migration_holds_the_same_pattern_as_the_validators():
    assert MIGRATION.INVISIBLE_CHARACTERS_PATTERN == INVISIBLE_CHARACTERS_PATTERN
