"""The closed value lists of the wire format, in their canonical (rendering) order.

Labels are what staff see in the admin: quantizations in capitals as the industry writes them,
sampling parameters as the API spells them (staff know them by those names).
"""

from functools import cache, lru_cache

from django.db import models


class Quantization(models.TextChoices):
    INT4 = "int4", "INT4"
    INT8 = "int8", "INT8"
    FP4 = "fp4", "FP4"
    MXFP4 = "mxfp4", "MXFP4"
    NVFP4 = "nvfp4", "NVFP4"
    FP6 = "fp6", "FP6"
    FP8 = "fp8", "FP8"
    MXFP8 = "mxfp8", "MXFP8"
    FP16 = "fp16", "FP16"
    BF16 = "bf16", "BF16"
    FP32 = "fp32", "FP32"


class InputModality(models.TextChoices):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    AUDIO = "audio"
    VIDEO = "video"


class OutputModality(models.TextChoices):
    TEXT = "text"
    IMAGE = "image"
    EMBEDDINGS = "embeddings"
    AUDIO = "audio"
    VIDEO = "video"
    RERANK = "rerank"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"


class SamplingParameter(models.TextChoices):
    TEMPERATURE = "temperature", "temperature"
    TOP_P = "top_p", "top_p"
    TOP_K = "top_k", "top_k"
    MIN_P = "min_p", "min_p"
    TOP_A = "top_a", "top_a"
    REPETITION_PENALTY = "repetition_penalty", "repetition_penalty"
    FREQUENCY_PENALTY = "frequency_penalty", "frequency_penalty"
    PRESENCE_PENALTY = "presence_penalty", "presence_penalty"
    STOP = "stop", "stop"
    SEED = "seed", "seed"
    MAX_TOKENS = "max_tokens", "max_tokens"
    LOGIT_BIAS = "logit_bias", "logit_bias"


class Feature(models.TextChoices):
    TOOLS = "tools", "Tools"
    JSON_MODE = "json_mode", "JSON mode"
    STRUCTURED_OUTPUTS = "structured_outputs", "Structured outputs"
    LOGPROBS = "logprobs", "Log probabilities"
    WEB_SEARCH = "web_search", "Web search"
    REASONING = "reasoning", "Reasoning"


class Direction(models.TextChoices):
    """Which side of a request a modality is on."""

    INPUT = "input"
    OUTPUT = "output"


class PriceType(models.TextChoices):
    """What a price entry charges for; each type belongs to one scope (``INPUT_TYPES``,
    ``OUTPUT_TYPES``, ``REQUEST_TYPES``)."""

    PROMPT = "prompt"
    CACHED_PROMPT = "cached_prompt", "Cached prompt"
    CACHE_WRITE = "cache_write", "Cache write"
    COMPLETION = "completion"
    INTERNAL_REASONING = "internal_reasoning", "Internal reasoning"
    REQUEST = "request"
    WEB_SEARCH = "web_search", "Web search"


class PriceUnit(models.TextChoices):
    TOKEN = "token"
    IMAGE = "image"
    MEGAPIXEL = "megapixel"
    SECOND = "second"
    CHARACTER = "character"
    REQUEST = "request"
    SEARCH = "search"


class CapacityType(models.TextChoices):
    """A capacity is counted in a priced quantity of its scope, or in requests at once."""

    PROMPT = "prompt"
    CACHED_PROMPT = "cached_prompt", "Cached prompt"
    CACHE_WRITE = "cache_write", "Cache write"
    COMPLETION = "completion"
    INTERNAL_REASONING = "internal_reasoning", "Internal reasoning"
    REQUEST = "request"
    WEB_SEARCH = "web_search", "Web search"
    CONCURRENCY = "concurrency"


class CapacityWindow(models.TextChoices):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class Weekday(models.TextChoices):
    """A UTC weekday of a price entry's ``utc_days``, in the typed format's order."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


# ``PriceEntry.utc_days`` is a set of weekdays held as bits (Monday 1, Tuesday 2, ... Sunday 64):
# one small integer that an exclusion constraint compares with ``=`` (btree_gist has no arrays).
WEEKDAY_NAMES = tuple(Weekday.values)
ALL_WEEKDAYS = 2 ** len(WEEKDAY_NAMES) - 1


def weekday_bits(names) -> int:
    """The bits of a set of weekday names (``WEEKDAY_NAMES``)."""
    return sum(1 << WEEKDAY_NAMES.index(name) for name in set(names))


def weekday_names(bits: int) -> list[str]:
    """The weekday names of ``bits``, Monday first (the order the typed format lists them)."""
    return [name for position, name in enumerate(WEEKDAY_NAMES) if bits >> position & 1]


# The scope of each type: "input" and "output" are modalities, None the request (the root).
# The typed format's components say it: InputPricingType, OutputPricingType, RequestPricingType.
INPUT_TYPES = ("prompt", "cached_prompt", "cache_write")
OUTPUT_TYPES = ("completion", "internal_reasoning")
REQUEST_TYPES = ("request", "web_search")
# Units a modality's price (and capacity) may use; the request scope pairs request/request and
# web_search/search (RequestPricingEntry).
INPUT_UNITS = ("token", "image", "megapixel", "second", "character")
OUTPUT_UNITS = (*INPUT_UNITS, "request")
REQUEST_UNITS = {"request": "request", "web_search": "search"}
# Only cache prices carry a lifetime or the implicit flag.
CACHE_TYPES = ("cached_prompt", "cache_write")
# Units whose prices staff read per million (tokens, characters).
PER_MILLION_UNITS = ("token", "character")


@cache
def positions(choices: type[models.TextChoices]) -> dict[str, int]:
    # Built once per class: canonical() runs for every list of every record rendered or
    # imported (docs/PERFORMANCE.md).
    return {value: index for index, value in enumerate(choices.values)}


def canonical(values, choices: type[models.TextChoices]) -> list[str]:
    """The distinct ``values`` in the order ``choices`` lists them; unknown values go last.

    Unknown values are kept (not dropped) so that validation can name them.
    """
    return list(_canonical(tuple(values), choices))


@lru_cache(maxsize=4096)
def _canonical(values: tuple, choices: type[models.TextChoices]) -> tuple[str, ...]:
    # A catalog has few distinct lists: each is sorted once, not once per record.
    order = positions(choices)
    distinct = list(dict.fromkeys(values))
    return tuple(sorted(distinct, key=lambda value: (order.get(value, len(order)), value)))
