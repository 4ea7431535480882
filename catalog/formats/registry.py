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
from catalog.formats.published import Published
from catalog.formats.typed.decode import TypedEntry, read_typed
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
    the flat list, which reads any file (and names what is wrong with one in no format)."""
    for name, format in FORMATS.items():
        if name != FLAT and (decoded := format.decode(data)) is not None:
            return decoded
    decoded = FORMATS[FLAT].decode(data)
    assert decoded is not None  # the flat decoder reads or raises CatalogFileInvalid
    return decoded
