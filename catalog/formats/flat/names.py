"""The names of the flat format: its keys, in the order served, and the model field of each."""

from __future__ import annotations

# The keys of one record, in the order they are served: the original contract's, then the
# current revision's (../shared/docs/CONTRACTS.md section 1), each omitted when unset or at its
# default.
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
    "description",
    "is_ready",
    "is_free",
    "discount_to_user",
    "capacity_tpm",
    "openrouter",
)
# The current revision's keys, all optional (as is ``deprecation_date``).
CURRENT_RECORD_KEYS = RECORD_KEYS[RECORD_KEYS.index("description") :]
PRICING_KEYS = ("prompt", "completion", "image", "request", "input_cache_read")
# The conditional prices, after the five prices (omitted when there are none).
OVERRIDES = "overrides"
OPTIONAL_RECORD_KEYS = frozenset({"deprecation_date", *CURRENT_RECORD_KEYS})
OPTIONAL_PRICING_KEYS = frozenset({OVERRIDES})
# The keys of an override: a long-context tier or a time-of-day window, with prices.
TIER_KEYS = ("min_prompt_tokens", *PRICING_KEYS)
WINDOW_KEYS = ("utc_start", "utc_end", *PRICING_KEYS)
OPENROUTER_KEYS = ("slug",)
# Wire pricing key -> ServedModel field.
PRICING_FIELDS = {key: f"price_{key}" for key in PRICING_KEYS}
# ServedModel field -> wire field, for the fields whose names differ (the others are the same).
WIRE_NAMES = {
    "model_id": "id",
    **{model_field: f"pricing.{key}" for key, model_field in PRICING_FIELDS.items()},
    "openrouter_slug": "openrouter.slug",
    # A problem of the hour is one of the date that carries it.
    "deprecation_hour": "deprecation_date",
}

# The name of a change of ``is_published`` (not a wire field: drafts are not served).
PUBLISHED = "published"
# Every name of a change (``diff.changed_fields``, the importer's report, a history record's
# ``changed_fields``), in the order of a record: the wire fields, prices as ``pricing.<key>``
# (then ``pricing.overrides``), then ``published``.
CHANGE_NAMES = (
    *(
        name
        for key in RECORD_KEYS
        for name in (
            [*(f"pricing.{price}" for price in PRICING_KEYS), f"pricing.{OVERRIDES}"]
            if key == "pricing"
            else [key]
        )
    ),
    PUBLISHED,
)
# The names the history's "field changed" filter offers.
FIELD_NAMES = CHANGE_NAMES
# Name of a change -> ServedModel field, where they differ (``datacenters`` is the m2m).
MODEL_FIELDS = {
    wire: model_field
    for model_field, wire in WIRE_NAMES.items()
    if model_field != "deprecation_hour"
} | {"openrouter": "openrouter_slug", PUBLISHED: "is_published"}
# Name of a change -> the ServedModel columns it writes, where more than its field.
CHANGED_COLUMNS = {"deprecation_date": ("deprecation_date", "deprecation_hour")}
# The names of a change of the model's offering (its rows), not of its columns.
OFFERING_CHANGES = frozenset(
    {
        "input_modalities",
        "output_modalities",
        "supported_sampling_parameters",
        "supported_features",
        "capacity_tpm",
        *(f"pricing.{key}" for key in (*PRICING_KEYS, OVERRIDES)),
    }
)
