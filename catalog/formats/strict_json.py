"""JSON read strictly, as every catalog format needs it.

Python's ``json`` accepts what JSON does not (NaN, Infinity) and silently keeps the last of
repeated keys; a catalog file must be UTF-8 (a byte-order mark is allowed). These readers report
each of those as a ``Problem`` of the file, with its line and column or byte offset.
"""

from __future__ import annotations

import json
import math

from catalog.formats.problems import CatalogFileInvalid, file_problem

_UTF8_BOM = b"\xef\xbb\xbf"


class JSONObject(dict):
    """A JSON object that remembers the keys it held more than once (the last one wins)."""

    repeated_keys: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, object]]) -> JSONObject:
    obj = JSONObject(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        repeated = []
        for key, _ in pairs:
            if key in seen:
                repeated.append(key)
            seen.add(key)
        obj.repeated_keys = tuple(repeated)
    return obj


def non_finite(value: object) -> bool:
    """Whether NaN or Infinity hides in ``value`` (Python's json reads them; JSON has none)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(non_finite(item) for item in value)
    if isinstance(value, dict):
        return any(non_finite(item) for item in value.values())
    return False


def decode_utf8(data: bytes) -> str:
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        raise CatalogFileInvalid(
            [
                file_problem(
                    f"not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset} "
                    f"({error.reason}). Save the file as UTF-8."
                )
            ]
        ) from None


def load_json(text: str) -> object:
    """The JSON document in ``text``; its objects are ``JSONObject``s."""
    try:
        return json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        at = text[error.pos : error.pos + 2]
        if not text.strip():
            reason = "the file is empty."
        else:
            message = error.msg.removesuffix(" starting at")  # "Unterminated string starting at"
            reason = f"not valid JSON at line {error.lineno}, column {error.colno}: {message}"
            if at in ("//", "/*") or at.startswith("#"):
                reason += " (JSON has no comments)."
            # An unterminated string runs to the end of the file.
            elif error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
                reason += " (the file ends too early: is it truncated?)."
            else:
                reason += "."
        raise CatalogFileInvalid([file_problem(reason)]) from None


def load_document(data: bytes) -> object:
    """The JSON document in the bytes ``data``, or ``CatalogFileInvalid`` saying why not."""
    return load_json(decode_utf8(data))
