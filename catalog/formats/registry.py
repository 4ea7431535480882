"""The formats the catalog is published and imported in, by name: the one place that chooses one.

The flat list has no name (``FLAT``, the endpoint without ``schema_version``); each typed
version is named by its schema version. A next format is a package beside ``flat/`` and
``typed/`` plus one line in ``FORMATS``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from catalog.formats.flat.decode import Entry, decode_catalog
from catalog.formats.flat.encode import render as render_flat
from catalog.formats.flat.published import catalog_as_of, published_catalog
from catalog.formats.problems import CatalogFileInvalid, Problem
from catalog.formats.published import Published
from catalog.formats.strict_json import load_document
from catalog.formats.typed.decode import (
    VERSION_KEY,
    TypedEntry,
    may_be_typed,
    read_typed,
    typed_records,
)
from catalog.formats.typed.encode import SCHEMA_VERSION
from catalog.formats.typed.encode import render as render_typed
from catalog.formats.typed.published import (
    published_omissions,
    published_typed_catalog,
    typed_catalog_as_of,
)

FLAT = ""

# A file's records and its unknown keys, as a format's decoder reads them.
Decoded = tuple[list[Entry], Counter] | tuple[list[TypedEntry], Counter]


@dataclass(frozen=True)
class Format:
    """How one format reads the published catalog now, and as it was at a moment, how it
    renders its records, and how it reads a file: its records, or None when the file is not in
    this format."""

    published: Callable[[], Published]
    as_of: Callable[[datetime], bytes]
    render: Callable[[list], bytes]
    decode: Callable[[bytes], Decoded | None]
    # What of the published catalog the format cannot say, a line per model (none: all of it).
    left_out: Callable[[], list[str]] | None = None


FORMATS: dict[str, Format] = {
    FLAT: Format(published_catalog, catalog_as_of, render_flat, decode_catalog),
    SCHEMA_VERSION: Format(
        published_typed_catalog, typed_catalog_as_of, render_typed, read_typed, published_omissions
    ),
}
# The typed versions, as ``?schema_version=`` and ``--schema-version`` name them.
SCHEMA_VERSIONS = tuple(name for name in FORMATS if name != FLAT)


def decode_file(data: bytes) -> Decoded:
    """A file's records, read by the format it is in: every other format is asked first, then
    the flat list, which reads any other file (and names what is wrong with one in no format);
    a file of typed documents that no format claimed is refused here."""
    for name, format in FORMATS.items():
        if name != FLAT and (decoded := format.decode(data)) is not None:
            return decoded
    _refuse_unread_version(data)
    decoded = FORMATS[FLAT].decode(data)
    assert decoded is not None  # the flat decoder reads or raises CatalogFileInvalid
    return decoded


def _refuse_unread_version(data: bytes) -> None:
    """Refuse a file of typed documents whose versions no format reads, naming the first: the
    flat list would name problems of keys a typed document never has."""
    if not may_be_typed(data):
        return
    records = typed_records(load_document(bytes(data)))  # a copy: the flat list reads the bytes
    if records:
        index, raw = records[0]
        model_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        reason = f"is not a version this service reads ({', '.join(SCHEMA_VERSIONS)})."
        raise CatalogFileInvalid([Problem(index, model_id, VERSION_KEY, raw[VERSION_KEY], reason)])
