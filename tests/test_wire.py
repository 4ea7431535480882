"""The wire format's own guarantees, whatever wrote the rows."""

import json

import pytest
from django.db import connection

from catalog.formats.flat.published import published_catalog
from catalog.models import Modality
from catalog.revision import current_revision


def test_lists_are_served_in_canonical_order_even_when_stored_otherwise(make_model):
    model = make_model("acme/unordered")
    # Rows written around the model (a shell, the typed format's order) in another order.
    Modality.objects.filter(model=model).delete()
    Modality.objects.create(model=model, direction="input", kind="image", position=0)
    Modality.objects.create(model=model, direction="input", kind="text", position=1)
    Modality.objects.create(
        model=model,
        direction="output",
        kind="text",
        supported_parameters={
            "seed": {"type": "integer"},
            "reasoning": {"type": "boolean"},
            "temperature": {"type": "range", "min": 0, "max": 2},
            "tools": {"type": "boolean"},
            "json_mode": {"type": "boolean"},
        },
    )
    (record,) = json.loads(published_catalog()[1])["data"]
    assert record["input_modalities"] == ["text", "image"]
    assert record["supported_sampling_parameters"] == ["temperature", "seed"]
    assert record["supported_features"] == ["tools", "json_mode", "reasoning"]


@pytest.mark.django_db(transaction=True)
def test_revision_is_never_reused_after_the_catalog_is_emptied(make_model):
    make_model("acme/one")
    before = current_revision()
    with connection.cursor() as cursor:
        # A restore or flush empties the revision row too; the next write must still get a
        # number no earlier state had, or a body cached under that number would be served.
        cursor.execute(
            "TRUNCATE catalog_catalogrevision, catalog_servedmodel_datacenters, "
            "catalog_servedmodel CASCADE"
        )
    make_model("acme/two")
    assert current_revision() > before
