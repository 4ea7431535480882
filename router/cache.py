"""The rendered catalog, cached per catalog revision until the next committed change.

Each process keeps the body of one revision in memory (with its gzip form and ETag, computed
once). What decides whether that body is current is the revision number:

- without a shared cache, PostgreSQL is asked for it on every request (one small query on a
  persistent connection), which is correct across any number of processes and hosts;
- with Redis (``REDIS_URL``) the revision is read from Redis, so a warm request makes no
  database round trip. Every write through Django announces itself after commit
  (``catalog.signals.catalog_changed``) and this module then publishes the committed revision
  to Redis. Publishing only ever raises the number (a Lua script), so two writers committing
  in one order and publishing in the other cannot leave an older revision in place. The key
  expires after ``CATALOG_REVISION_TTL`` seconds, which bounds how long a write made outside
  Django (raw SQL), or one whose publication failed (Redis unreachable at that moment), can
  go unseen. Rendered bodies are shared through Redis too, so a new revision is rendered
  once, not once per process. Only Redis errors fall back to PostgreSQL; a database error
  reaches the view (a 503).

A body is always stored under the revision read in the same snapshot as its data
(``catalog.published.published_catalog``), never under a revision read earlier.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from redis.exceptions import RedisError

from catalog.published import published_catalog
from catalog.revision import current_revision

logger = logging.getLogger(__name__)

# Set KEYS[1] to ARGV[1] unless it already holds a higher number; (re)start its expiry.
_RAISE_REVISION = """
local current = tonumber(redis.call('GET', KEYS[1]))
local proposed = tonumber(ARGV[1])
if current == nil or proposed > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return proposed
end
return current
"""

# How long a rendered body stays in Redis: long enough for every process to pick it up.
_BODY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Rendered:
    """The catalog at one revision, ready to send."""

    revision: int
    body: bytes

    @cached_property
    def gzipped(self) -> bytes:
        # mtime=0: the same body always compresses to the same bytes, on every host.
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @cached_property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    @cached_property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation: the gzip form has its own.
        return self.etag[:-1] + '-gzip"'


class CatalogCache:
    def __init__(self):
        self._local: Rendered | None = None
        self._lock = threading.Lock()
        self._redis = None
        self._redis_url = None

    # --- Redis ------------------------------------------------------------------------------
    def _client(self):
        """The Redis client, or None without REDIS_URL (created lazily, after fork)."""
        url = settings.REDIS_URL
        if not url:
            return None
        if self._redis is None or self._redis_url != url:
            import redis

            self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._raise_script = self._redis.register_script(_RAISE_REVISION)
            self._redis_url = url
        return self._redis

    def _key(self, name: str) -> str:
        return f"{settings.REDIS_KEY_PREFIX}:{name}"

    def _publish_revision(self, client, revision: int) -> int:
        return int(
            self._raise_script(
                keys=[self._key("revision")],
                args=[revision, settings.CATALOG_REVISION_TTL],
                client=client,
            )
        )

    def _shared_revision(self, client) -> int:
        raw = client.get(self._key("revision"))
        if raw is not None:
            return int(raw)
        return self._publish_revision(client, current_revision())

    # --- the public API ---------------------------------------------------------------------
    def current(self) -> Rendered:
        """The rendered catalog at the latest committed revision."""
        client = self._client()
        revision = None
        if client is not None:
            try:
                revision = self._shared_revision(client)
            except RedisError:  # Redis down: PostgreSQL still knows the truth.
                logger.warning(
                    "Redis unavailable; reading the catalog revision from PostgreSQL", exc_info=True
                )
                client = None
        if revision is None:
            revision = current_revision()
        local = self._local
        if local is not None and local.revision == revision:
            return local
        with self._lock:
            local = self._local
            if local is not None and local.revision == revision:
                return local
            rendered = self._fetch_shared(client, revision) or self._render(client)
            self._local = rendered
            return rendered

    def on_catalog_changed(self, **kwargs) -> None:
        """Receiver of ``catalog_changed``: publish the committed revision to Redis at once."""
        client = self._client()
        if client is not None:
            self._publish_revision(client, current_revision())

    def clear(self) -> None:
        """Forget everything cached (tests; a process-wide reset)."""
        self._local = None
        client = self._client()
        if client is not None:
            keys = list(client.scan_iter(match=self._key("*")))
            if keys:
                client.delete(*keys)

    # --- misses -----------------------------------------------------------------------------
    def _fetch_shared(self, client, revision: int) -> Rendered | None:
        if client is None:
            return None
        try:
            body = client.get(self._key(f"body:{revision}"))
        except RedisError:
            logger.warning("Redis unavailable; rendering the catalog locally", exc_info=True)
            return None
        return Rendered(revision, body) if body is not None else None

    def _render(self, client) -> Rendered:
        revision, body = published_catalog()
        rendered = Rendered(revision, body)
        if client is not None:
            try:
                client.set(self._key(f"body:{revision}"), body, ex=_BODY_TTL_SECONDS)
                # The snapshot may be newer than what Redis holds (a commit since we read it).
                self._publish_revision(client, revision)
            except RedisError:
                logger.warning("Redis unavailable; the rendered catalog stays local", exc_info=True)
        return rendered


catalog_cache = CatalogCache()
