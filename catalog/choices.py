"""The closed value lists of the wire format, in their canonical (rendering) order.

Labels are what staff see in the admin: quantizations in capitals as the industry writes them,
sampling parameters as the API spells them (staff know them by those names).
"""

from functools import cache

from django.db import models


class Quantization(models.TextChoices):
    INT4 = "int4", "INT4"
    INT8 = "int8", "INT8"
    FP4 = "fp4", "FP4"
    FP6 = "fp6", "FP6"
    FP8 = "fp8", "FP8"
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
    REPETITION_PENALTY = "repetition_penalty", "repetition_penalty"
    FREQUENCY_PENALTY = "frequency_penalty", "frequency_penalty"
    PRESENCE_PENALTY = "presence_penalty", "presence_penalty"
    STOP = "stop", "stop"
    SEED = "seed", "seed"


class Feature(models.TextChoices):
    TOOLS = "tools", "Tools"
    JSON_MODE = "json_mode", "JSON mode"
    STRUCTURED_OUTPUTS = "structured_outputs", "Structured outputs"
    WEB_SEARCH = "web_search", "Web search"
    REASONING = "reasoning", "Reasoning"


@cache
def _positions(choices: type[models.TextChoices]) -> dict[str, int]:
    # Built once per class: canonical() runs for every list of every record rendered or
    # imported, and rebuilding this each time was a third of a cold render (10,000 models).
    return {value: index for index, value in enumerate(choices.values)}


def canonical(values, choices: type[models.TextChoices]) -> list[str]:
    """The distinct ``values`` in the order ``choices`` lists them; unknown values go last.

    Unknown values are kept (not dropped) so that validation can name them.
    """
    order = _positions(choices)
    distinct = list(dict.fromkeys(values))
    return sorted(distinct, key=lambda value: (order.get(value, len(order)), value))
