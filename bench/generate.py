"""Deterministic catalogs of N valid models in the flat format (``catalog.formats.flat.encode``).

The same size and seed always give the same bytes, so every run imports and serves the same
catalog. The records look like a real provider's list: Hugging Face style ids with fine-tunes,
per-token prices as plain decimals, a few datacenters, and some deprecation dates.

    python -m bench.generate 1000 > catalog-1000.json
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

FAMILIES = {
    "meta-llama": ("Llama-3.1", "Llama-3.3", "Llama-4-Scout"),
    "Qwen": ("Qwen2.5", "Qwen3", "Qwen2.5-Coder"),
    "mistralai": ("Mistral", "Mixtral", "Ministral"),
    "deepseek-ai": ("DeepSeek-V3", "DeepSeek-R1-Distill"),
    "google": ("gemma-2", "gemma-3"),
    "microsoft": ("Phi-3.5", "Phi-4"),
    "NousResearch": ("Hermes-3",),
}
SIZES = ("0.5B", "1B", "3B", "7B", "8B", "14B", "32B", "70B", "72B", "235B-A22B", "405B")
VARIANTS = ("Instruct", "Chat", "Base", "Instruct-2507", "Vision-Instruct", "abliterated")
QUANTIZATIONS = ("int4", "int8", "fp4", "fp6", "fp8", "fp16", "bf16", "fp32")
CONTEXT_LENGTHS = (8192, 32768, 65536, 131072, 262144)
OUTPUT_LENGTHS = (1024, 4096, 8192, 16384, 32768)
# USD per million tokens, as people quote them; stored and served per token.
PRICES_PER_MILLION = ("0.02", "0.05", "0.1", "0.15", "0.2", "0.35", "0.6", "0.9", "1.2", "2.5")
SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "frequency_penalty")
SAMPLING += ("presence_penalty", "stop", "seed")
FEATURES = ("tools", "json_mode", "structured_outputs", "web_search", "reasoning")
COUNTRIES = ("US", "DE", "FR", "GB", "NL", "SE", "FI", "CA", "JP", "SG")
FIRST_CREATED = datetime(2023, 1, 1, tzinfo=UTC)
MILLION = Decimal(1_000_000)
# The bulk price update: every prompt price up 10%.
PRICE_RISE = Decimal("1.1")


def _subset(rng: random.Random, values: tuple[str, ...], low: int, high: int) -> list[str]:
    """A random subset of ``values`` in their canonical (listed) order."""
    chosen = set(rng.sample(values, rng.randint(low, high)))
    return [value for value in values if value in chosen]


def _per_token(rng: random.Random, factor: int = 1) -> str:
    from catalog.formats.flat.encode import plain_decimal

    return plain_decimal(Decimal(rng.choice(PRICES_PER_MILLION)) * factor / MILLION)


def _record(rng: random.Random, model_id: str, family: str, size: str, variant: str) -> dict:
    kind = rng.random()
    if kind < 0.9:
        inputs, outputs = ["text"], ["text"]
    elif kind < 0.95:
        inputs, outputs = ["text", "image"], ["text"]
    else:
        inputs, outputs = ["text"], ["embeddings"]
    context = rng.choice(CONTEXT_LENGTHS)
    prompt = _per_token(rng)
    record = {
        "id": model_id,
        "hugging_face_id": model_id if rng.random() < 0.95 else "",
        "name": f"{family} {size} {variant}".replace("-", " "),
        "created": int((FIRST_CREATED + timedelta(days=rng.randrange(1000))).timestamp()),
        "input_modalities": inputs,
        "output_modalities": outputs,
        "quantization": rng.choice(QUANTIZATIONS),
        "context_length": context,
        "max_output_length": min(context, rng.choice(OUTPUT_LENGTHS)),
        "pricing": {
            "prompt": prompt,
            "completion": _per_token(rng, factor=rng.randint(1, 4)),
            "image": "0",
            "request": "0",
            "input_cache_read": _per_token(rng) if rng.random() < 0.3 else "0",
        },
        "supported_sampling_parameters": _subset(rng, SAMPLING, 0, len(SAMPLING)),
        "supported_features": _subset(rng, FEATURES, 0, 3),
        "datacenters": [{"country_code": code} for code in sorted(_subset(rng, COUNTRIES, 0, 3))],
    }
    if rng.random() < 0.1:
        retired = date(2026, 1, 1) + timedelta(days=rng.randrange(730))
        record["deprecation_date"] = retired.isoformat()
    return record


def catalog_records(size: int, seed: int = 6) -> list[dict]:
    """``size`` valid wire records with distinct ids, the same for the same seed."""
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    records = []
    owners = sorted(FAMILIES)
    for _ in range(size):
        owner = rng.choice(owners)
        family = rng.choice(FAMILIES[owner])
        size_label, variant = rng.choice(SIZES), rng.choice(VARIANTS)
        base = f"{owner}/{family}-{size_label}-{variant}"
        # Fine-tunes of one base model get a version suffix, as on Hugging Face.
        seen[base] = seen.get(base, 0) + 1
        model_id = base if seen[base] == 1 else f"{base}-v{seen[base]}"
        records.append(_record(rng, model_id, family, size_label, variant))
    return records


def catalog_bytes(size: int, seed: int = 6) -> bytes:
    """The catalog file of ``size`` models: exactly what the endpoint serves once imported."""
    from catalog.formats.flat.encode import render

    return render(catalog_records(size, seed))


def repriced_catalog_bytes(size: int, seed: int = 6) -> bytes:
    """The same catalog with every model's prompt price raised: an update of every model."""
    from catalog.formats.flat.encode import plain_decimal, render

    records = catalog_records(size, seed)
    for record in records:
        pricing = record["pricing"]
        pricing["prompt"] = plain_decimal(Decimal(pricing["prompt"]) * PRICE_RISE)
    return render(records)


if __name__ == "__main__":
    from bench import setup_django

    setup_django()
    sys.stdout.buffer.write(catalog_bytes(int(sys.argv[1])))
