"""The registry chooses the format, for the importer as for the endpoint and the exporter: a
file is read by the format that recognises it, the flat list last; a next format is one more
entry in ``FORMATS``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from catalog.formats.flat.decode import Entry
from catalog.formats.problems import CatalogFileInvalid
from catalog.formats.registry import FLAT, FORMATS, Decoded, decode_file
from catalog.formats.typed.decode import TypedEntry

DATA = Path(__file__).parent / "data"
GOLDEN = (DATA / "golden_catalog.json").read_bytes()
GOLDEN_IDS = [record["id"] for record in json.loads(GOLDEN)["data"]]


def test_a_file_of_typed_documents_is_read_by_the_typed_format():
    data = bytearray((DATA / "typed" / "text-model.json").read_bytes())
    entries, ignored = decode_file(data)
    assert [(type(entry), entry.values["model_id"]) for entry in entries] == [
        (TypedEntry, "acme/atlas-70b-instruct")
    ]
    assert ignored == Counter()
    assert data == bytearray()  # emptied once read: the raw bytes no longer take memory


def test_a_flat_file_is_read_by_the_flat_list():
    entries, _ = decode_file(bytearray(GOLDEN))
    assert {type(entry) for entry in entries} == {Entry}
    assert [entry.values["model_id"] for entry in entries] == GOLDEN_IDS


def test_a_flat_file_that_names_schema_version_in_a_value_keeps_its_bytes_for_the_flat_list():
    # The typed format looks closer (the name is in the bytes) and declines: the flat decoder
    # still gets the whole file.
    catalog = json.loads(GOLDEN)
    catalog["data"][0]["description"] = "schema_version"
    entries, _ = decode_file(bytearray(json.dumps(catalog).encode()))
    assert {type(entry) for entry in entries} == {Entry}
    assert entries[0].values["description"] == "schema_version"


def test_a_file_in_no_format_is_refused_by_the_flat_list_naming_the_problem():
    with pytest.raises(CatalogFileInvalid) as refused:
        decode_file(b'{"models": []}')
    assert [problem.field for problem in refused.value.problems] == ["data"]


def test_a_next_format_is_one_entry_and_is_asked_before_the_flat_list(monkeypatch):
    read: Decoded = ([], Counter({"next": 1}))

    def decode_next(data: bytes):
        return read if data.startswith(b"NEXT") else None

    monkeypatch.setitem(FORMATS, "9.9", replace(FORMATS[FLAT], decode=decode_next))
    assert decode_file(b"NEXT format") is read
    entries, _ = decode_file(GOLDEN)  # a file it declines goes on to the others
    assert [entry.values["model_id"] for entry in entries] == GOLDEN_IDS


def test_a_next_typed_version_beside_2_4_is_asked_for_its_own_files(monkeypatch):
    # 2.4 is asked first and declines a file of another version rather than claiming it.
    read: Decoded = ([], Counter({"2.5": 1}))

    def decode_next(data: bytes):
        return read if json.loads(data)["data"][0]["schema_version"] == "2.5" else None

    monkeypatch.setitem(FORMATS, "2.5", replace(FORMATS[FLAT], decode=decode_next))
    document = json.loads((DATA / "typed" / "text-model.json").read_bytes())
    entries, _ = decode_file(json.dumps(document).encode())
    assert [type(entry) for entry in entries] == [TypedEntry]
    document["data"][0]["schema_version"] = "2.5"
    assert decode_file(json.dumps(document).encode()) is read
