"""manage.py export_models: exactly what the endpoint serves, to stdout or atomically to a file."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.formats.registry import FORMATS
from catalog.models import Datacenter, ServedModel
from tests.helpers import ENDPOINT, create_model


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


@pytest.mark.django_db(transaction=True)
def test_what_the_typed_export_leaves_out_is_read_in_the_body_s_snapshot(monkeypatch):
    """A model unpublished by another connection between the two reads: both still see it."""
    create_model("acme/two-units", price_prompt=Decimal("0.000001"), price_image=Decimal("0.01"))
    typed = FORMATS["2.4"]

    def published_then_unpublished():
        published = typed.published()
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute("UPDATE catalog_servedmodel SET is_published = false")
        return published

    monkeypatch.setitem(
        FORMATS, "2.4", dataclasses.replace(typed, published=published_then_unpublished)
    )
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("export_models", "--schema-version", "2.4", stdout=stdout, stderr=stderr)

    assert '"id":"acme/two-units"' in stdout.getvalue()
    assert stderr.getvalue().startswith("acme/two-units: the typed format leaves out input text")
    assert not ServedModel.objects.filter(is_published=True).exists()  # the commit happened
