"""Deterministic catalogs of N valid models in the flat format (``catalog.formats.flat.encode``).

The same size, seed and revision always give the same bytes, so every run imports and serves
the same catalog. The records look like a real provider's list: Hugging Face style ids with
fine-tunes, per-token prices as plain decimals, a few datacenters, and some deprecation dates.

Two revisions of the format (``REVISIONS``): ``original`` uses only what the original contract
knows (the bytes every bench before issue 13 imported); ``current`` adds what the current flat
revision does (../shared/docs/CONTRACTS.md section 1) in realistic shares: cache-read prices on
~60% of the models, long-context tiers (``pricing.overrides`` with ``min_prompt_tokens``) on
~10%, time-of-day windows on ~5%, descriptions, staged and free variants, discounts, capacities,
OpenRouter slugs, deprecations at an hour, and the new list values. New keys follow the order
CONTRACTS.md gives, each only when set.

    python -m bench.generate 1000 [original|current] > catalog-1000.json
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
# The current revision's lists: the new values in their canonical places.
CURRENT_QUANTIZATIONS = ("int4", "int8", "fp4", "mxfp4", "nvfp4", "fp6", "fp8", "mxfp8", "fp16")
CURRENT_QUANTIZATIONS += ("bf16", "fp32")
CONTEXT_LENGTHS = (8192, 32768, 65536, 131072, 262144)
OUTPUT_LENGTHS = (1024, 4096, 8192, 16384, 32768)
# USD per million tokens, as people quote them; stored and served per token.
PRICES_PER_MILLION = ("0.02", "0.05", "0.1", "0.15", "0.2", "0.35", "0.6", "0.9", "1.2", "2.5")
SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "frequency_penalty")
SAMPLING += ("presence_penalty", "stop", "seed")
FEATURES = ("tools", "json_mode", "structured_outputs", "web_search", "reasoning")
CURRENT_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "top_a", "repetition_penalty")
CURRENT_SAMPLING += ("frequency_penalty", "presence_penalty", "stop", "seed", "max_tokens")
CURRENT_SAMPLING += ("logit_bias",)
CURRENT_FEATURES = ("tools", "json_mode", "structured_outputs", "logprobs", "web_search")
CURRENT_FEATURES += ("reasoning",)
COUNTRIES = ("US", "DE", "FR", "GB", "NL", "SE", "FI", "CA", "JP", "SG")
FIRST_CREATED = datetime(2023, 1, 1, tzinfo=UTC)
MILLION = Decimal(1_000_000)
# The bulk price update: every prompt price up 10%.
PRICE_RISE = Decimal("1.1")

ORIGINAL, CURRENT = "original", "current"
REVISIONS = (ORIGINAL, CURRENT)
# The record keys the current revision adds, in the order they follow ``deprecation_date``.
CURRENT_RECORD_KEYS = (
    "description",
    "is_ready",
    "is_free",
    "discount_to_user",
    "capacity_tpm",
    "openrouter",
)
# Above this prompt length a long-context tier applies (strictly greater, as OpenRouter reads it).
LONG_CONTEXT_TOKENS = 128000
DISCOUNTS = (0.05, 0.1, 0.2, -0.05)  # a negative discount is a markup
CAPACITIES_TPM = (200_000, 1_000_000, 5_000_000, 20_000_000)
# Off-peak windows (HHMM, UTC, half-open): one wrapping midnight, or two with the same prices.
WINDOWS = (((2200, 600),), ((0, 600), (1200, 1400)))


def _subset(rng: random.Random, values: tuple[str, ...], low: int, high: int) -> list[str]:
    """A random subset of ``values`` in their canonical (listed) order."""
    chosen = set(rng.sample(values, rng.randint(low, high)))
    return [value for value in values if value in chosen]


def _per_token(rng: random.Random, factor: int = 1) -> str:
    from catalog.formats.flat.encode import plain_decimal

    return plain_decimal(Decimal(rng.choice(PRICES_PER_MILLION)) * factor / MILLION)


def _record(
    rng: random.Random, model_id: str, family: str, size: str, variant: str, revision: str
) -> dict:
    current = revision == CURRENT
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
        "quantization": rng.choice(CURRENT_QUANTIZATIONS if current else QUANTIZATIONS),
        "context_length": context,
        "max_output_length": min(context, rng.choice(OUTPUT_LENGTHS)),
        "pricing": {
            "prompt": prompt,
            "completion": _per_token(rng, factor=rng.randint(1, 4)),
            "image": "0",
            "request": "0",
            "input_cache_read": _per_token(rng)
            if rng.random() < (0.6 if current else 0.3)
            else "0",
        },
        "supported_sampling_parameters": _subset(
            rng, *((CURRENT_SAMPLING, 0, 9) if current else (SAMPLING, 0, len(SAMPLING)))
        ),
        "supported_features": _subset(rng, CURRENT_FEATURES if current else FEATURES, 0, 3),
        "datacenters": [{"country_code": code} for code in sorted(_subset(rng, COUNTRIES, 0, 3))],
    }
    if rng.random() < 0.1:
        retired = date(2026, 1, 1) + timedelta(days=rng.randrange(730))
        record["deprecation_date"] = retired.isoformat()
        if current and rng.random() < 0.5:
            record["deprecation_date"] += f"T{rng.randrange(24):02d}:00:00Z"
    if current:
        _current_fields(rng, record)
    return record


def _current_fields(rng: random.Random, record: dict) -> None:
    """The current revision's optional fields, each on a share of the models, in key order."""
    pricing = record["pricing"]
    price_kind = rng.random()
    if price_kind < 0.25 and record["context_length"] > LONG_CONTEXT_TOKENS:
        # Long prompts cost more (a quarter of the models that take them, 2 of 5 do): one
        # tier, of both prices or of the prompt alone.
        tier = {"min_prompt_tokens": LONG_CONTEXT_TOKENS, "prompt": _scaled(pricing["prompt"], 2)}
        if rng.random() < 0.7:
            tier["completion"] = _scaled(pricing["completion"], Decimal("1.5"))
        pricing["overrides"] = [tier]
    elif price_kind >= 0.95:
        # Off-peak prices, half the base.
        prices = {key: _scaled(pricing[key], Decimal("0.5")) for key in ("prompt", "completion")}
        pricing["overrides"] = [
            {"utc_start": start, "utc_end": end, **prices} for start, end in rng.choice(WINDOWS)
        ]
    if rng.random() < 0.5:
        record["description"] = (
            f"{record['name']}, served in {record['quantization'].upper()} with a context of "
            f"{record['context_length']:,} tokens."
        )
    if rng.random() < 0.03:
        record["is_ready"] = False
    if rng.random() < 0.03:
        record["is_free"] = True
    if rng.random() < 0.05:
        record["discount_to_user"] = rng.choice(DISCOUNTS)
    if rng.random() < 0.2:
        record["capacity_tpm"] = rng.choice(CAPACITIES_TPM)
    if rng.random() < 0.3:
        record["openrouter"] = {"slug": record["id"].lower()}


def _scaled(price: str, factor: Decimal | int) -> str:
    from catalog.formats.flat.encode import plain_decimal

    return plain_decimal(Decimal(price) * factor)


def catalog_records(size: int, seed: int = 6, revision: str = ORIGINAL) -> list[dict]:
    """``size`` valid wire records with distinct ids, the same for the same seed and revision."""
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
        records.append(_record(rng, model_id, family, size_label, variant, revision))
    return records


def catalog_bytes(size: int, seed: int = 6, revision: str = ORIGINAL) -> bytes:
    """The catalog file of ``size`` models: what the endpoint serves once imported (of the
    current revision, once the importer reads all of it)."""
    from catalog.formats.flat.encode import render

    return render(catalog_records(size, seed, revision))


def repriced_catalog_bytes(size: int, seed: int = 6, revision: str = ORIGINAL) -> bytes:
    """The same catalog with every model's base prompt price raised: an update of every model
    (its tiers and windows, priced apart, stay)."""
    from catalog.formats.flat.encode import plain_decimal, render

    records = catalog_records(size, seed, revision)
    for record in records:
        pricing = record["pricing"]
        pricing["prompt"] = plain_decimal(Decimal(pricing["prompt"]) * PRICE_RISE)
    return render(records)


def contents(records: list[dict]) -> dict[str, int]:
    """How many of ``records`` use each part of the current revision (for the report)."""
    overrides = [record["pricing"].get("overrides", []) for record in records]
    deprecations = [record.get("deprecation_date", "") for record in records]
    new_values = set(CURRENT_QUANTIZATIONS + CURRENT_SAMPLING + CURRENT_FEATURES)
    new_values -= set(QUANTIZATIONS + SAMPLING + FEATURES)
    return {
        "models": len(records),
        "input_cache_read": sum(record["pricing"]["input_cache_read"] != "0" for record in records),
        "long-context tiers": sum(
            any("min_prompt_tokens" in entry for entry in entries) for entries in overrides
        ),
        "time-of-day windows": sum(
            any("utc_start" in entry for entry in entries) for entries in overrides
        ),
        "deprecation_date": sum(bool(day) for day in deprecations),
        "deprecation_date with an hour": sum("T" in day for day in deprecations),
        "description": sum("description" in record for record in records),
        "is_ready false": sum(record.get("is_ready") is False for record in records),
        "is_free true": sum(record.get("is_free") is True for record in records),
        "discount_to_user": sum("discount_to_user" in record for record in records),
        "capacity_tpm": sum("capacity_tpm" in record for record in records),
        "openrouter.slug": sum("openrouter" in record for record in records),
        "new list values": sum(
            not new_values.isdisjoint(
                [
                    record["quantization"],
                    *record["supported_sampling_parameters"],
                    *record["supported_features"],
                ]
            )
            for record in records
        ),
    }


if __name__ == "__main__":
    from bench import setup_django

    setup_django()
    revision = sys.argv[2] if len(sys.argv) > 2 else ORIGINAL
    if revision not in REVISIONS:
        sys.exit(f"python -m bench.generate: the revision is one of {', '.join(REVISIONS)}")
    sys.stdout.buffer.write(catalog_bytes(int(sys.argv[1]), revision=revision))
