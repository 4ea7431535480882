"""Move the five price columns and the four lists into the offering tables, history included.

Live models get modality and price rows; each history record gets its offering as JSON
(``offering``, the shape of ``catalog.offering.Offering.as_json()``), computed from the columns
it recorded, so ``--as-of`` before this migration renders the same bytes. The mapping is the
flat format's (catalog.formats.flat.offering), spelled out here as it stands today, since a
migration must not change with the code:

- every listed modality kind becomes a modality row, in canonical order;
- sampling parameters become ``{"type": "unknown"}`` and features ``{"type": "boolean"}``
  descriptors on the text output (else the first output in canonical order);
- a non-zero price becomes an entry: prompt and input_cache_read (cached_prompt) per token on
  the text input, completion per token on the text output, image (prompt per image) on the
  image input, request per request at the root; a model without that modality uses the first
  of its direction in canonical order. A zero price becomes no entry (it renders "0").

Backwards, the columns are rebuilt from the rows and the snapshots by the same rules. Also:
``catalog_offering_snapshot()``, which history records written in SQL use, and the revision
triggers of migration 0002 on the new tables.
"""

from decimal import Decimal

from django.db import migrations

INPUTS = ("text", "image", "file", "audio", "video")
OUTPUTS = ("text", "image", "embeddings", "audio", "video", "rerank", "speech", "transcription")
SAMPLING = (
    "temperature", "top_p", "top_k", "min_p", "top_a", "repetition_penalty",
    "frequency_penalty", "presence_penalty", "stop", "seed", "max_tokens", "logit_bias",
)  # fmt: skip
FEATURES = ("tools", "json_mode", "structured_outputs", "logprobs", "web_search", "reasoning")
# column -> (direction, preferred kind, type, unit)
PRICES = {
    "price_prompt": ("input", "text", "prompt", "token"),
    "price_completion": ("output", "text", "completion", "token"),
    "price_image": ("input", "image", "prompt", "image"),
    "price_request": (None, None, "request", "request"),
    "price_input_cache_read": ("input", "text", "cached_prompt", "token"),
}
TABLES = ("catalog_modality", "catalog_priceentry", "catalog_capacityentry")


def _canonical(values, order):
    return sorted(set(values), key=lambda value: (order.index(value), value))


def _scope(kinds, direction, preferred):
    if direction is None:
        return (None, None)
    if preferred in kinds:
        return (direction, preferred)
    return (direction, kinds[0]) if kinds else None


def offering_of(columns: dict) -> dict:
    """The offering snapshot (Offering.as_json()) of a model's old columns."""
    inputs = _canonical(columns["input_modalities"], INPUTS)
    outputs = _canonical(columns["output_modalities"], OUTPUTS)
    carrier = _scope(outputs, "output", "text")
    parameters = {name: {"type": "unknown"} for name in
                  _canonical(columns["supported_sampling_parameters"], SAMPLING)}  # fmt: skip
    parameters.update(
        {name: {"type": "boolean"} for name in _canonical(columns["supported_features"], FEATURES)}
    )
    modalities = [
        {"direction": "input", "kind": kind, "position": position, "supported_inputs": {},
         "supported_parameters": {}, "passthrough_parameters": {}, "streaming": None}
        for position, kind in enumerate(inputs)
    ] + [
        {"direction": "output", "kind": kind, "position": position, "supported_inputs": {},
         "supported_parameters": parameters if ("output", kind) == carrier else {},
         "passthrough_parameters": {}, "streaming": None}
        for position, kind in enumerate(outputs)
    ]  # fmt: skip
    prices = []
    for column, (direction, preferred, price_type, unit) in PRICES.items():
        cost = columns[column]
        kinds = inputs if direction == "input" else outputs
        scope = _scope(kinds, direction, preferred)
        if cost is None or cost == 0 or scope is None:
            continue
        prices.append(
            {"direction": scope[0], "kind": scope[1], "price_type": price_type, "unit": unit,
             "cost_usd": str(cost), "ttl_seconds": None, "implicit": None, "utc_start": None,
             "utc_end": None, "overrides": []}
        )  # fmt: skip
    return {"modalities": modalities, "prices": prices, "capacities": []}


def columns_of(offering: dict) -> dict:
    """The old columns of an offering snapshot: the flat view, as the flat format renders it."""
    modalities = offering.get("modalities", [])
    inputs = _canonical([m["kind"] for m in modalities if m["direction"] == "input"], INPUTS)
    outputs = _canonical([m["kind"] for m in modalities if m["direction"] == "output"], OUTPUTS)
    names = {n for m in modalities if m["direction"] == "output" for n in m["supported_parameters"]}
    columns = {
        "input_modalities": inputs,
        "output_modalities": outputs,
        "supported_sampling_parameters": [name for name in SAMPLING if name in names],
        "supported_features": [name for name in FEATURES if name in names],
    }
    for column, (direction, preferred, price_type, unit) in PRICES.items():
        scope = _scope(inputs if direction == "input" else outputs, direction, preferred)
        costs = [
            Decimal(p["cost_usd"])
            for p in offering.get("prices", [])
            if (p["direction"], p["kind"]) == scope
            and p["price_type"] == price_type
            and p["unit"] == unit
            and p["utc_start"] is None
        ]
        columns[column] = costs[0] if costs else Decimal(0)
    return columns


_COLUMNS = ("input_modalities", "output_modalities", "supported_sampling_parameters",
            "supported_features", *PRICES)  # fmt: skip


def forward(apps, schema_editor):
    ServedModel = apps.get_model("catalog", "ServedModel")
    Historical = apps.get_model("catalog", "HistoricalServedModel")
    Modality = apps.get_model("catalog", "Modality")
    PriceEntry = apps.get_model("catalog", "PriceEntry")
    modalities, pending_prices = [], []
    for row in ServedModel.objects.order_by("pk").values("pk", *_COLUMNS).iterator(2000):
        offering = offering_of(row)
        by_scope = {}
        for spec in offering["modalities"]:
            modality = Modality(model_id=row["pk"], **spec)
            by_scope[(spec["direction"], spec["kind"])] = modality
            modalities.append(modality)
        for price in offering["prices"]:
            scope = (price.pop("direction"), price.pop("kind"))
            price["cost_usd"] = Decimal(price["cost_usd"])
            pending_prices.append((row["pk"], by_scope.get(scope), price))
    Modality.objects.bulk_create(modalities, batch_size=1000)
    PriceEntry.objects.bulk_create(
        [
            PriceEntry(model_id=pk, modality_id=modality.pk if modality else None, **price)
            for pk, modality, price in pending_prices
        ],
        batch_size=1000,
    )
    batch = []
    for record in (
        Historical.objects.order_by("history_id").only("history_id", *_COLUMNS).iterator(2000)
    ):
        record.offering = offering_of({column: getattr(record, column) for column in _COLUMNS})
        batch.append(record)
        if len(batch) == 1000:
            Historical.objects.bulk_update(batch, ["offering"])
            batch = []
    Historical.objects.bulk_update(batch, ["offering"])


def backward(apps, schema_editor):
    from collections import defaultdict

    ServedModel = apps.get_model("catalog", "ServedModel")
    Historical = apps.get_model("catalog", "HistoricalServedModel")
    Modality = apps.get_model("catalog", "Modality")
    PriceEntry = apps.get_model("catalog", "PriceEntry")
    offerings = defaultdict(lambda: {"modalities": [], "prices": []})
    scope_of = {}
    for m in Modality.objects.values():
        scope_of[m["id"]] = (m["direction"], m["kind"])
        offerings[m["model_id"]]["modalities"].append(m)
    for p in PriceEntry.objects.values():
        direction, kind = scope_of.get(p["modality_id"], (None, None))
        offerings[p["model_id"]]["prices"].append(
            {**p, "direction": direction, "kind": kind, "cost_usd": str(p["cost_usd"])}
        )
    models = list(ServedModel.objects.only("pk"))
    for model in models:
        for column, value in columns_of(offerings[model.pk]).items():
            setattr(model, column, value)
    ServedModel.objects.bulk_update(models, _COLUMNS, batch_size=1000)
    batch = []
    for record in (
        Historical.objects.order_by("history_id").only("history_id", "offering").iterator(2000)
    ):
        for column, value in columns_of(record.offering or {}).items():
            setattr(record, column, value)
        batch.append(record)
        if len(batch) == 1000:
            Historical.objects.bulk_update(batch, _COLUMNS)
            batch = []
    Historical.objects.bulk_update(batch, _COLUMNS)


SNAPSHOT = """
CREATE OR REPLACE FUNCTION catalog_offering_snapshot(served_model bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT jsonb_build_object(
    'modalities', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'direction', m.direction, 'kind', m.kind, 'position', m.position,
            'supported_inputs', m.supported_inputs,
            'supported_parameters', m.supported_parameters,
            'passthrough_parameters', m.passthrough_parameters, 'streaming', m.streaming
        ) ORDER BY m.direction, m.position, m.kind)
        FROM catalog_modality m WHERE m.model_id = served_model), '[]'::jsonb),
    'prices', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'direction', m.direction, 'kind', m.kind, 'price_type', p.price_type,
            'unit', p.unit, 'cost_usd', p.cost_usd::text, 'ttl_seconds', p.ttl_seconds,
            'implicit', p.implicit, 'utc_start', p.utc_start, 'utc_end', p.utc_end,
            'overrides', p.overrides
        ) ORDER BY p.id)
        FROM catalog_priceentry p LEFT JOIN catalog_modality m ON m.id = p.modality_id
        WHERE p.model_id = served_model), '[]'::jsonb),
    'capacities', COALESCE((
        SELECT jsonb_agg(jsonb_build_object(
            'direction', m.direction, 'kind', m.kind, 'capacity_type', c.capacity_type,
            'unit', c.unit, 'per', c.per, 'value', c.value
        ) ORDER BY c.id)
        FROM catalog_capacityentry c LEFT JOIN catalog_modality m ON m.id = c.modality_id
        WHERE c.model_id = served_model), '[]'::jsonb)
)
$$;
"""

# The function of migration 0002 (another migration may redefine it; the name stays).
TRIGGER = """
CREATE TRIGGER {table}_bump_revision
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION catalog_bump_revision();
"""


class Migration(migrations.Migration):
    dependencies = [("catalog", "0009_offering_tables")]

    operations = [
        # The old columns' constraints first (the columns go in 0011): backwards, they come
        # back once the columns are filled again.
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_input_modalities_known",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_output_modalities_known",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_sampling_parameters_known",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_features_known",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_price_prompt_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_price_completion_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_price_image_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_price_request_non_negative",
        ),
        migrations.RemoveConstraint(
            model_name="servedmodel",
            name="servedmodel_price_input_cache_read_non_negative",
        ),
        migrations.RunSQL(
            sql=[SNAPSHOT, *(TRIGGER.format(table=table) for table in TABLES)],
            reverse_sql=[
                *(f"DROP TRIGGER IF EXISTS {table}_bump_revision ON {table};" for table in TABLES),
                "DROP FUNCTION IF EXISTS catalog_offering_snapshot(bigint);",
            ],
        ),
        migrations.RunPython(forward, backward),
    ]
