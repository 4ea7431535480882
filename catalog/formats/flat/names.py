"""The names of the flat format: its keys, in the order served, and the model field of each."""

from __future__ import annotations

# The keys of one record, in the order they are served.
RECORD_KEYS = (
    "id",
    "hugging_face_id",
    "name",
    "created",
    "input_modalities",
    "output_modalities",
    "quantization",
    "context_length",
    "max_output_length",
    "pricing",
    "supported_sampling_parameters",
    "supported_features",
    "datacenters",
    "deprecation_date",
)
OPTIONAL_RECORD_KEYS = frozenset({"deprecation_date"})
PRICING_KEYS = ("prompt", "completion", "image", "request", "input_cache_read")
# Wire pricing key -> ServedModel field.
PRICING_FIELDS = {key: f"price_{key}" for key in PRICING_KEYS}
# ServedModel field -> wire field, for the fields whose names differ (the others are the same).
WIRE_NAMES = {
    "model_id": "id",
    **{model_field: f"pricing.{key}" for key, model_field in PRICING_FIELDS.items()},
}

# The name of a change of ``is_published`` (not a wire field: drafts are not served).
PUBLISHED = "published"
# Every name of a change (``diff.changed_fields``, the history's "field changed"), in the order
# of a record: the wire fields, prices as ``pricing.<key>``, then ``published``.
FIELD_NAMES = (
    *(
        name
        for key in RECORD_KEYS
        for name in ([f"pricing.{price}" for price in PRICING_KEYS] if key == "pricing" else [key])
    ),
    PUBLISHED,
)
# Name of a change -> ServedModel field, where they differ (``datacenters`` is the m2m).
MODEL_FIELDS = {wire: model_field for model_field, wire in WIRE_NAMES.items()} | {
    PUBLISHED: "is_published"
}
