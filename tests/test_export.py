"""manage.py export_models: exactly what the endpoint serves, to stdout or atomically to a file."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Datacenter, ServedModel
from tests.helpers import ENDPOINT

ENDPOINT = ENDPOINT


def export() -> bytes:
    """The bytes export_models writes to a binary standard output."""
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def test_export_writes_exactly_the_bytes_the_endpoint_serves(catalog, client):
    body = export()
    assert body == client.get(ENDPOINT).content
    assert "Reranker ✓".encode() in body  # UTF-8, not \u escapes
    assert b"acme/secret-draft" not in body


def test_export_of_an_empty_catalog_is_an_empty_list(db):
    assert export() == b'{"data":[]}'


def test_export_then_import_into_an_empty_database_then_export_is_identical(db, tmp_path):
    call_command("load_demo_catalog", verbosity=0)
    ServedModel.objects.filter(model_id="BAAI/bge-m3").update(is_published=False)
    path = tmp_path / "catalog.json"
    call_command("export_models", "-o", str(path), verbosity=0)
    ServedModel.objects.all().delete()
    Datacenter.objects.all().delete()

    call_command("import_models", str(path), verbosity=0)

    assert export() == path.read_bytes()
    assert ServedModel.objects.count() == 13  # the draft was not exported


def test_export_to_a_file_replaces_it_whole_and_leaves_no_temporary_file(catalog, tmp_path):
    path = tmp_path / "catalog.json"
    path.write_bytes(b"an older, longer export " * 100)
    stdout = io.StringIO()

    call_command("export_models", "-o", str(path), stdout=stdout)

    body = export()
    assert path.read_bytes() == body
    assert list(tmp_path.iterdir()) == [path]
    assert stdout.getvalue() == (f"Wrote the published catalog to {path} ({len(body)} bytes).\n")


def test_export_to_a_missing_directory_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot write .*: No such file or directory"):
        call_command("export_models", "-o", str(tmp_path / "missing" / "catalog.json"))
