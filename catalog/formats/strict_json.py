"""JSON read strictly, as every catalog format needs it.

Python's ``json`` accepts what JSON does not (NaN, Infinity) and silently keeps the last of
repeated keys; a catalog file must be UTF-8 (a byte-order mark is allowed). These readers report
each of those as a ``Problem`` of the file, with its line and column or byte offset.

Hostile input is bounded here too, before it can cost more than the file's size: arrays and
objects nested deeper than ``MAX_DEPTH`` are refused before parsing (Python's parser recurses
once per level), an integer longer than ``MAX_INTEGER_DIGITS`` is kept unconverted as a
``LongInteger`` (Python refuses to convert more than 4,300 digits, and the conversion is
quadratic), and a lone surrogate (``"\\ud800"``, half of a UTF-16 pair, which UTF-8 cannot
encode) is found by ``lone_surrogate`` so that the decoder can name its record and field.
"""

from __future__ import annotations

import functools
import json
import math
import re

from catalog.formats.problems import CatalogFileInvalid, LongInteger, file_problem

_UTF8_BOM = b"\xef\xbb\xbf"

# A catalog nests 5 levels deep (file, data, record, datacenters, datacenter); 100 is Ruby's
# default limit, and leaves Python's recursion limit (1,000) far away for every reader and
# writer of the parsed document, the messages' JSON included.
MAX_DEPTH = 100
# No catalog value comes near (a PostgreSQL bigint has 19 digits); longer integers are only
# reported, with their length.
MAX_INTEGER_DIGITS = 100

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Once escapes are gone, a string runs to the next quote (or, truncated, to the end).
_STRING = re.compile(rb'"[^"]*(?:"|\Z)')
_NOT_QUOTE_OR_BRACKET = bytes(range(256)).translate(None, b'"[]{}')
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
# For the error message only: one match per string, opening or closing bracket.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\(?:.|\Z)[^"\\]*)*(?:"|\Z)|[\[{]|[\]}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
# UTF-8 cannot encode a surrogate: one in a decoded text comes from an escape.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
# The reason of a problem about a value with a lone surrogate.
LONE_SURROGATE = (
    "holds a lone surrogate (half of a UTF-16 pair, such as \\ud800), which is not Unicode "
    "text and cannot be stored."
)


class JSONObject(dict):
    """A JSON object that remembers the keys it held more than once (the last one wins).

    ``may_hold_lone_surrogates`` is true in a document whose text has a surrogate's escape
    (usually none has): only then is it worth looking for one with ``lone_surrogate``.
    """

    repeated_keys: tuple[str, ...] = ()
    may_hold_lone_surrogates = False


class JSONFloat(float):
    """A JSON number with a fraction or exponent, which keeps its text: a reader that needs the
    number exactly (``Decimal(number.text)``) never goes through the binary float."""

    text: str

    def __new__(cls, text: str) -> JSONFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number


class _SurrogateEscapesJSONObject(JSONObject):
    may_hold_lone_surrogates = True


def _object(pairs: list[tuple[str, object]], cls: type[JSONObject] = JSONObject) -> JSONObject:
    obj = cls(pairs)
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


def lone_surrogate(value: object, *, into_objects: bool = True) -> bool:
    """Whether a lone surrogate hides in a string (or key) of ``value``.

    Python's ``json`` reads ``"\\ud800"`` into a string that no UTF-8 text (a database row, a
    terminal) can hold. ``into_objects=False`` looks into lists but not into objects, for a
    reader that checks each object itself.
    """
    if isinstance(value, str):
        # isascii() is O(1): the catalog's usual ASCII strings cost no search.
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(lone_surrogate(item, into_objects=into_objects) for item in value)
    if isinstance(value, dict) and into_objects:
        return any(lone_surrogate(key) or lone_surrogate(item) for key, item in value.items())
    return False


def _integer(digits: str) -> int | LongInteger:
    if len(digits) > MAX_INTEGER_DIGITS + (digits[0] == "-"):
        return LongInteger(digits)
    return int(digits)


def nesting_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in the JSON text ``data`` (valid or not), quickly.

    Outside strings only brackets count (braces are brackets here); every pass removes the
    innermost empty pairs, so the passes count the depth. Counting stops past ``MAX_DEPTH``.
    Brackets left unmatched (a truncated file) count as the depth a parser would reach.
    """
    if b"\\" in data:
        data = _ESCAPE.sub(b"", data)
    quotes_and_brackets = data.translate(_BRACES_AS_BRACKETS, _NOT_QUOTE_OR_BRACKET)
    # Two quotes in a row are an empty string or two strings with no bracket between them;
    # dropping them keeps every bracket outside strings, and leaves few strings for the regex.
    brackets = _STRING.sub(b"", quotes_and_brackets.replace(b'""', b""))
    depth = 0
    while brackets and depth <= MAX_DEPTH:
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            break
        brackets = inner
        depth += 1
    return depth + brackets.count(b"[")


def _too_deep(data: bytes) -> CatalogFileInvalid:
    """The problem of a file nested deeper than ``MAX_DEPTH``, with where it first is."""
    depth = 0
    where = ""
    for match in _TOKEN.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                start = data.rfind(b"\n", 0, match.start()) + 1
                line = data.count(b"\n", 0, start) + 1
                column = len(data[start : match.start()].decode("utf-8", "replace")) + 1
                where = f" at line {line}, column {column}"
                break
        elif token in (b"]", b"}"):
            depth -= 1
    return CatalogFileInvalid(
        [
            file_problem(
                f"arrays and objects are nested more than {MAX_DEPTH} levels deep{where}; "
                "a catalog needs 5."
            )
        ]
    )


def decode_utf8(data: bytes) -> str:
    bom = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        # str() of a memoryview: the BOM is skipped without copying the file.
        return str(memoryview(data)[bom:], "utf-8")
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
    hook = _object
    if _SURROGATE_ESCAPE.search(text):
        hook = functools.partial(_object, cls=_SurrogateEscapesJSONObject)
    try:
        return json.loads(text, object_pairs_hook=hook, parse_int=_integer, parse_float=JSONFloat)
    except RecursionError:
        # Not reached through load_document, which measures the depth first.
        raise CatalogFileInvalid(
            [file_problem(f"arrays and objects are nested more than {MAX_DEPTH} levels deep.")]
        ) from None
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
    """The JSON document in the bytes ``data``, or ``CatalogFileInvalid`` saying why not.

    A ``bytearray`` is emptied once decoded, so that its memory is free before the document
    is built (the caller has no further use for the raw bytes).
    """
    if nesting_depth(data) > MAX_DEPTH:
        raise _too_deep(data)
    text = decode_utf8(data)
    if isinstance(data, bytearray):
        data.clear()
    return load_json(text)
