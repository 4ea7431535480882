"""The pages' catalog and rendered pages, kept per catalog revision and price validity.

The revision comes from the endpoint's cache (``catalog_cache.revision()``: pushed by the
listener, so a warm page asks PostgreSQL nothing), the validity from the snapshot the catalog
was read in (the next moment a published price starts or ends: a scheduled change shows on
time with nothing written). Rendered pages are kept by their normalized query string in a small
LRU, emptied when the catalog is read anew.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property

from django.conf import settings
from django.db import DatabaseError

from router.cache import DATABASE_RETRY_SECONDS, catalog_cache
from router.pages.catalog import PageCatalog, read_catalog

# Distinct views kept at once (each a few hundred KB at most at 1,000 models).
PAGES_KEPT = 128


@dataclass(frozen=True)
class Page:
    body: bytes

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @cached_property
    def etag(self) -> str:
        # From the body alone: it says nothing of when the page will change.
        return f'"p-{hashlib.sha256(self.body).hexdigest()[:32]}"'

    @cached_property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'


class PagesCache:
    def __init__(self, read: Callable[[], PageCatalog] = read_catalog):
        self._read = read
        self._catalog: PageCatalog | None = None
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._lock = threading.Lock()
        self._confirmed_at = 0.0  # when the catalog was last known current (catalog_cache.clock)
        self._retry_at = 0.0  # while PostgreSQL fails, when to try it again

    def catalog(self) -> PageCatalog:
        """The pages' catalog at the latest revision, true now; while PostgreSQL is unreachable,
        the last one read here, marked stale, for up to ``CATALOG_STALE_IF_ERROR`` seconds after
        it was last known current (as the endpoint does), trying PostgreSQL once a second."""
        now = catalog_cache.clock()
        if now < self._retry_at and (stale := self._stale(now)) is not None:
            return stale
        try:
            catalog = self._current()
        except DatabaseError:
            self._retry_at = now + DATABASE_RETRY_SECONDS
            stale = self._stale(now)
            if stale is None:
                raise
            return stale
        self._retry_at = 0.0
        self._confirmed_at = now
        return catalog

    def _current(self) -> PageCatalog:
        revision = catalog_cache.revision()
        catalog = self._catalog
        if catalog is not None and catalog.current_at(revision, catalog_cache.wall_clock()):
            return catalog
        with self._lock:
            catalog = self._catalog
            if catalog is None or not catalog.current_at(revision, catalog_cache.wall_clock()):
                catalog = self._read()
                self._catalog = catalog
                self._pages = OrderedDict()
            return catalog

    def _stale(self, now: float) -> PageCatalog | None:
        catalog, limit = self._catalog, settings.CATALOG_STALE_IF_ERROR
        if catalog is None or not limit or now - self._confirmed_at > limit:
            return None
        return replace(catalog, stale=True)

    def page(
        self, key: str, render: Callable[[PageCatalog], bytes], catalog: PageCatalog | None = None
    ) -> Page:
        """The page ``key`` of ``catalog`` (default: the current one), rendered by ``render``
        on a miss."""
        catalog = catalog or self.catalog()
        with self._lock:
            if self._holds(catalog) and key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        page = Page(render(catalog))
        with self._lock:
            if self._holds(catalog):
                self._pages[key] = page
                while len(self._pages) > PAGES_KEPT:
                    self._pages.popitem(last=False)
        return page

    def _holds(self, catalog: PageCatalog) -> bool:
        # A stale copy is the same catalog: its pages are the ones kept.
        held = self._catalog
        return held is not None and held.stamp == catalog.stamp

    def clear(self) -> None:
        with self._lock:
            self._catalog = None
            self._pages = OrderedDict()
            self._confirmed_at = self._retry_at = 0.0


pages_cache = PagesCache()
