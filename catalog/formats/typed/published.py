"""The published catalog as typed documents, with its revision: what the endpoint serves for
``?schema_version=2.4`` and ``export_models --schema-version 2.4`` writes."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef

from catalog.formats.typed.encode import model_document, render
from catalog.models import ServedModel
from catalog.offering import with_offering
from catalog.published import in_snapshot


def published_documents() -> list[dict[str, Any]]:
    """Every published model's typed document, in one query whatever the catalog's size: the
    models with their offerings (``with_offering``) and their datacenters' codes and regions
    (two arrays in the same order)."""
    links = ServedModel.datacenters.through.objects.filter(servedmodel_id=OuterRef("pk")).order_by(
        "datacenter__country_code", "datacenter__region"
    )
    models = with_offering(ServedModel.objects.filter(is_published=True)).annotate(
        datacenter_codes=ArraySubquery(links.values("datacenter__country_code")),
        datacenter_regions=ArraySubquery(links.values("datacenter__region")),
    )
    return [
        model_document(model, zip(model.datacenter_codes, model.datacenter_regions, strict=True))
        for model in models
    ]


def published_typed_catalog() -> tuple[int, bytes]:
    """The catalog revision and the rendered typed catalog, read in one snapshot."""
    return in_snapshot(lambda: render(published_documents()))
