"""The formats the catalog is published in, by name: the one place that chooses one.

The flat list has no name (``FLAT``, the endpoint without ``schema_version``); each typed
version is named by its schema version. A next format is a package beside ``flat/`` and
``typed/`` plus one line in ``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from catalog.formats.flat.published import catalog_as_of, published_catalog
from catalog.formats.published import Published
from catalog.formats.typed.encode import SCHEMA_VERSION
from catalog.formats.typed.published import published_typed_catalog, typed_catalog_as_of

FLAT = ""


@dataclass(frozen=True)
class Format:
    """How one format reads the published catalog now, and as it was at a moment."""

    published: Callable[[], Published]
    as_of: Callable[[datetime], bytes]


FORMATS: dict[str, Format] = {
    FLAT: Format(published_catalog, catalog_as_of),
    SCHEMA_VERSION: Format(published_typed_catalog, typed_catalog_as_of),
}
# The typed versions, as ``?schema_version=`` and ``--schema-version`` name them.
SCHEMA_VERSIONS = tuple(name for name in FORMATS if name != FLAT)
