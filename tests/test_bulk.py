"""The cyclic garbage collector is paused while the whole catalog is rendered or imported, and
always switched back on after (``catalog.bulk``)."""

from __future__ import annotations

import gc

import pytest

from catalog.bulk import gc_paused
from catalog.formats.problems import CatalogFileInvalid
from catalog.formats.published import in_snapshot
from catalog.importer import import_catalog
from catalog.models import ServedModel
from tests.helpers import catalog_file, record


def test_paused_inside_and_restored_after_even_on_an_error():
    states = []

    @gc_paused()
    def fail():
        states.append(gc.isenabled())
        raise RuntimeError

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        fail()
    assert states == [False]
    assert gc.isenabled()


def test_a_nested_pause_leaves_the_collector_to_the_outermost():
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_render_runs_paused(db):
    states = []

    def read(at):
        states.append(gc.isenabled())
        return b"{}"

    assert in_snapshot(read).body == b"{}"
    assert states == [False]
    assert gc.isenabled()


def test_an_import_runs_paused_and_a_refused_file_restores_the_collector(db, monkeypatch):
    import catalog.importer as importer

    states = []
    plan = importer._plan

    def watched_plan(*args, **kwargs):
        states.append(gc.isenabled())
        return plan(*args, **kwargs)

    monkeypatch.setattr(importer, "_plan", watched_plan)
    import_catalog(catalog_file(record()))
    assert states == [False]
    assert gc.isenabled()
    assert ServedModel.objects.count() == 1

    with pytest.raises(CatalogFileInvalid):
        import_catalog(catalog_file(record(context_length="many")))
    assert gc.isenabled()
