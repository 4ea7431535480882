"""Rendered API bodies kept in memory, and how they are sent (ETag, 304, Cache-Control).

A timeline or the feed's first page is a function of the catalog's revision and of the clock:
it changes with a commit, and at the next moment a published price starts or ends (an
announced change taking effect, or a confidential one appearing). ``RevisionBodies`` keeps
each body with the revision and that moment, read in the same snapshot as its data
(``catalog.formats.published``), so a warm answer asks nothing when the revision is pushed
(``router.cache``). The moment stays inside the process: no header tells when a body expires,
as it could tell of a confidential change to come.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from catalog.formats.published import in_snapshot
from router.cache import catalog_cache
from router.http import not_modified

JSON = "application/json"
REVALIDATE = "public, no-cache"


@dataclass(frozen=True)
class Body:
    revision: int
    content: bytes
    valid_until: float | None = None  # Unix time; None: until the next revision

    @cached_property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.content).hexdigest()[:32]}"'


class RevisionBodies:
    """The most recently used bodies, at most ``size``, each current while the revision is
    the one it was rendered at and its moment has not come."""

    def __init__(self, size: int = 512, wall_clock: Callable[[], float] = time.time):
        self.size = size
        self.wall_clock = wall_clock
        self._bodies: OrderedDict[Hashable, Body] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[datetime], bytes]) -> Body:
        """The body of ``key``; rendered by ``render(now)`` when the one kept is not current."""
        revision = catalog_cache.revision()
        body = self._bodies.get(key)
        if body is not None and self._current(body, revision):
            with self._lock:
                if key in self._bodies:
                    self._bodies.move_to_end(key)
            return body
        published = in_snapshot(render)
        until = published.valid_until
        body = Body(
            published.revision, published.body, None if until is None else until.timestamp()
        )
        with self._lock:
            self._bodies[key] = body
            self._bodies.move_to_end(key)
            while len(self._bodies) > self.size:
                self._bodies.popitem(last=False)
        return body

    def _current(self, body: Body, revision: int) -> bool:
        return body.revision == revision and (
            body.valid_until is None or self.wall_clock() < body.valid_until
        )

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()

    def __len__(self) -> int:
        return len(self._bodies)


def send(
    request: HttpRequest,
    content: bytes,
    etag: str,
    *,
    content_type: str = JSON,
    cache_control: str = REVALIDATE,
) -> HttpResponse:
    """``content`` with its ETag, or a 304 when the client holds it already."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if not_modified(request, etag):
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(content, content_type=content_type, headers=headers)


bodies = RevisionBodies()
