"""The closed value lists of the wire format, in their canonical (rendering) order."""

from django.db import models


class Quantization(models.TextChoices):
    INT4 = "int4"
    INT8 = "int8"
    FP4 = "fp4"
    FP6 = "fp6"
    FP8 = "fp8"
    FP16 = "fp16"
    BF16 = "bf16"
    FP32 = "fp32"


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
    TEMPERATURE = "temperature"
    TOP_P = "top_p"
    TOP_K = "top_k"
    REPETITION_PENALTY = "repetition_penalty"
    FREQUENCY_PENALTY = "frequency_penalty"
    PRESENCE_PENALTY = "presence_penalty"
    STOP = "stop"
    SEED = "seed"


class Feature(models.TextChoices):
    TOOLS = "tools"
    JSON_MODE = "json_mode"
    STRUCTURED_OUTPUTS = "structured_outputs"
    WEB_SEARCH = "web_search"
    REASONING = "reasoning"


def canonical(values, choices: type[models.TextChoices]) -> list[str]:
    """The distinct ``values`` in the order ``choices`` lists them; unknown values go last.

    Unknown values are kept (not dropped) so that validation can name them.
    """
    order = {value: index for index, value in enumerate(choices.values)}
    distinct = list(dict.fromkeys(values))
    return sorted(distinct, key=lambda value: (order.get(value, len(order)), value))
