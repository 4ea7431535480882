"""What several test modules share: the one model factory, URLs, and files in the wire format."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from catalog.models import ServedModel

ENDPOINT = "/inference/router/openrouter/models"


def build_model(model_id: str = "acme/model-1", **fields) -> ServedModel:
    """An unsaved, valid served model, published; keyword arguments override any field."""
    values = {
        "name": model_id.rsplit("/", 1)[-1],
        "hugging_face_id": model_id if "/" in model_id else "",
        "created": datetime(2025, 1, 15, 12, 0, 0, tzinfo=UTC),
        "input_modalities": ["text"],
        "output_modalities": ["text"],
        "quantization": "fp8",
        "context_length": 131072,
        "max_output_length": 8192,
        "price_prompt": Decimal("0.00000015"),
        "price_completion": Decimal("0.0000006"),
        "supported_sampling_parameters": ["temperature", "top_p"],
        "supported_features": ["tools"],
        "is_published": True,
    }
    values.update(fields)
    return ServedModel(model_id=model_id, **values)
