"""The rendered catalog, cached per catalog revision until the next committed change.

Each process keeps the body of one revision in memory (with its gzip form and ETag, computed
once), per representation: the flat list, and the typed documents (``?schema_version=2.4``),
rendered on the first request for them at that revision. What decides whether a body is
current is the revision number, and where it comes from depends on ``CATALOG_FRESHNESS``:

- ``push`` (the default): PostgreSQL sends every committed revision to this process
  (``router.listener``), so a warm request makes no round trip at all. The process that
  commits a change through Django asks PostgreSQL on its next request (``on_catalog_changed``,
  after commit), so it sees its own change at once; other processes see it as soon as the
  notification arrives. While the listener is not healthy (not open yet, dropped, the database
  restarting), every request asks PostgreSQL, as in strict mode.
- ``strict``: every request asks PostgreSQL (one small query on a persistent connection):
  read-after-write across processes, and the mode for a transaction pooler, where LISTEN
  cannot work.

A request inside a transaction (tests; never the endpoint in production) always asks, through
that transaction: its own uncommitted writes are not announced to anyone yet.

With ``REDIS_URL``, rendered bodies are shared through Redis so that a new revision is rendered
once, not once per process. Redis is never asked about freshness; its keys name the database
they were rendered from (``catalog.revision.database_identity``) and the revision, so a key is
written once and never means two things. A Redis error or timeout skips Redis for
``REDIS_BREAKER_SECONDS`` and is logged once (``SharedBodies``).

A body is always stored under the revision read in the same snapshot as its data
(``catalog.formats.flat.published``), never under a revision read earlier. It also knows
until when it is true (``Rendered.valid_until``: the next moment a scheduled price starts or
ends): from then on the next request renders again, in every process, with no write or
notification at that moment; the body that replaces it differs, and so does its ETag. Redis
keeps that moment with the body (``"<valid_until>\n<body>"``, under keys of their own) and hands
out no body past it; the process that finds one renders and writes over it.

When PostgreSQL fails, ``serve()`` keeps sending the last body rendered here, with its age, for
up to ``CATALOG_STALE_IF_ERROR`` seconds after it was last known to be current, and tries the
database again at most once a second meanwhile, so an outage costs requests no waiting. A body
past its moment is no different: the prices it shows have ended, and it goes out marked stale.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import redis
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, connections
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from catalog.formats.registry import FLAT, FORMATS, SCHEMA_VERSIONS
from catalog.revision import current_revision, database_identity
from router.listener import RevisionListener, one_line

logger = logging.getLogger(__name__)

# A body is wanted in Redis only until every process has fetched it: seconds, in practice.
BODY_TTL_SECONDS = 3600
# While PostgreSQL fails, one request per interval tries it again; the others serve stale.
DATABASE_RETRY_SECONDS = 1.0

# The representations served (``catalog.formats.registry``): the flat list (FLAT, no
# ``schema_version``), and each typed version (SCHEMA_VERSIONS).
__all__ = ["FLAT", "SCHEMA_VERSIONS", "CatalogCache", "Rendered", "catalog_cache"]


@dataclass(frozen=True)
class Rendered:
    """The catalog at one revision in one representation (FLAT or a schema version), ready to
    send."""

    revision: int
    body: bytes
    representation: str = FLAT
    valid_until: float | None = None  # Unix time; None: until the next revision

    def current_at(self, revision: int | None, now: float) -> bool:
        """Whether this is the catalog at ``revision`` at wall-clock time ``now``."""
        return self.revision == revision and (self.valid_until is None or now < self.valid_until)

    @cached_property
    def gzipped(self) -> bytes:
        # mtime=0: the same body always compresses to the same bytes, on every host.
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @cached_property
    def etag(self) -> str:
        digest = hashlib.sha256(self.body).hexdigest()[:32]
        # Named by its representation too: an empty catalog is `{"data":[]}` in both formats,
        # and a strong ETag must never stand for two representations.
        return (
            f'"{digest}"' if self.representation == FLAT else f'"v{self.representation}-{digest}"'
        )

    @cached_property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation: the gzip form has its own.
        return self.etag[:-1] + '-gzip"'


class SharedBodies:
    """Rendered bodies in Redis, keyed by database and revision, behind a circuit breaker."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._client: redis.Redis | None = None
        self._made_for: tuple[str, int] | None = None  # the URL and timeout of _client
        self._skip_until = 0.0
        self._identity: str | None = None

    def get(self, revision: int, representation: str, now: float) -> Rendered | None:
        """The body of ``revision`` that is still true at ``now``, if Redis has it."""
        client = self._available()
        if client is None:
            return None
        try:
            value = client.get(self._key(revision, representation))
        except RedisError as error:
            self._trip(error)
            return None
        # Bytes, as the client does not decode; its stubs also cover decode_responses=True.
        if not isinstance(value, bytes):
            return None
        # "<valid until, Unix time, or empty>\n<body>": a body past its moment is not handed out.
        until, _, body = value.partition(b"\n")
        valid_until = float(until) if until else None
        rendered = Rendered(revision, body, representation, valid_until)
        return rendered if rendered.current_at(revision, now) else None

    def put(self, rendered: Rendered) -> None:
        client = self._available()
        if client is None:
            return
        until = b"" if rendered.valid_until is None else repr(rendered.valid_until).encode()
        try:
            client.set(
                self._key(rendered.revision, rendered.representation),
                until + b"\n" + rendered.body,
                ex=BODY_TTL_SECONDS,
            )
        except RedisError as error:
            self._trip(error)

    def clear(self) -> None:
        """Delete every key under the prefix and forget the breaker (tests)."""
        self._skip_until = 0.0
        self._identity = None
        client = self._available()
        if client is not None:
            keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*"))
            if keys:
                client.delete(*keys)

    def _available(self) -> redis.Redis | None:
        """The Redis client, or None without REDIS_URL or while the breaker is open."""
        url = settings.REDIS_URL
        if not url or self.clock() < self._skip_until:
            return None
        made_for = (url, settings.REDIS_TIMEOUT_MS)
        if self._client is None or self._made_for != made_for:
            timeout = settings.REDIS_TIMEOUT_MS / 1000
            # No retries: a second try at a hung server only doubles what the request waits.
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            self._made_for = made_for
        return self._client

    def _key(self, revision: int, representation: str = FLAT) -> str:
        if self._identity is None:
            self._identity = database_identity()
        # A typed body's key names its schema version. "timed": the value starts with the body's
        # moment, which the values of releases before scheduled prices ("body", "body-v2.4")
        # lack; in a rolling deploy neither release reads the other's values as its own.
        kind = "timed-body" if representation == FLAT else f"timed-body-v{representation}"
        return f"{settings.REDIS_KEY_PREFIX}:{self._identity}:{kind}:{revision}"

    def _trip(self, error: RedisError) -> None:
        seconds = settings.REDIS_BREAKER_SECONDS
        self._skip_until = self.clock() + seconds
        logger.warning("Redis unavailable (%s); not using it for %s s", one_line(error), seconds)


class CatalogCache:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.clock = clock
        # Scheduled prices start at a moment of the calendar: the wall clock decides when.
        self.wall_clock = wall_clock
        self.listener = RevisionListener(clock=clock)
        self.shared = SharedBodies(clock)
        # By representation: each is rendered on its first request at a revision.
        self._local: dict[str, Rendered] = {}
        self._lock = threading.Lock()
        # Commits this process announced, and how many of them a request had seen when it last
        # asked PostgreSQL: while they differ, requests ask.
        self._changes = self._asked = 0
        self._floor: tuple[int, int] = (0, 0)  # (listener generation, revision asked after it)
        # When each representation's body was last known to be current.
        self._confirmed_at: dict[str, float] = {}
        self._failing_since: float | None = None
        self._retry_database_at = 0.0
        # CATALOG_FRESHNESS == "push", read once (a warm request reads no setting); None: not
        # read yet, or changed (tests).
        self._push: bool | None = None
        setting_changed.connect(self._on_setting_changed)

    # --- the public API ---------------------------------------------------------------------
    def serve(self, representation: str = FLAT) -> tuple[Rendered, float | None]:
        """What to send: the current catalog and None, or, while PostgreSQL fails, the last one
        rendered here and how many seconds ago it was last known to be current. Raises
        ``DatabaseError`` when there is nothing recent enough to serve."""
        now = self.clock()
        if self._failing_since is not None and now < self._retry_database_at:
            stale = self._stale(now, representation)
            if stale is not None:
                return stale
        try:
            rendered = self.current(representation)
        except DatabaseError as error:
            self._retry_database_at = now + DATABASE_RETRY_SECONDS
            stale = self._stale(now, representation)
            if self._failing_since is None:
                self._failing_since = now
                logger.warning(
                    "PostgreSQL unavailable (%s); %s",
                    one_line(error),
                    "serving the last catalog rendered here"
                    if stale
                    else "nothing recent enough to serve",
                )
            if stale is None:
                raise
            return stale
        if self._failing_since is not None:
            self._failing_since = None
            logger.warning("PostgreSQL available again; serving the current catalog")
        self._confirmed_at[representation] = now
        return rendered, None

    def warm(self, representation: str = FLAT) -> Rendered | None:
        """The body, if this process knows it is current without asking anyone (the revision
        pushed, the listener healthy, no outage in progress); None when serving needs more.

        For ``router.wsgi``, before Django's handler: no transaction can be open there, so none
        is looked for (Django's thread-local lookup of the connection is not free)."""
        local = self._local.get(representation)
        if local is None or self._failing_since is not None:
            return None
        if not local.current_at(self._pushed_revision(in_transaction=False), self.wall_clock()):
            return None
        self._confirmed_at[representation] = self.clock()
        return local

    def current(self, representation: str = FLAT) -> Rendered:
        """The rendered catalog at the latest committed revision, in ``representation``."""
        local = self._local.get(representation)
        revision = self._pushed_revision()
        if revision is None:
            revision = self._ask()
        now = self.wall_clock()
        if local is not None and local.current_at(revision, now):
            return local
        with self._lock:
            local = self._local.get(representation)
            if local is not None and local.current_at(revision, now):
                return local
            rendered = self.shared.get(revision, representation, now) or self._render(
                representation
            )
            self._local[representation] = rendered
            return rendered

    def pushed_revision(self) -> int | None:
        """The revision pushed to this process, if it may be trusted without asking anyone (no
        outage in progress); for ``router.wsgi``, before Django's handler (no transaction)."""
        if self._failing_since is not None:
            return None
        return self._pushed_revision(in_transaction=False)

    def revision(self) -> int:
        """The latest committed revision, as ``current()`` knows it: pushed (no query), or
        asked of PostgreSQL. For other bodies bound to the revision (``router.api``, the
        public pages)."""
        revision = self._pushed_revision()
        return self._ask() if revision is None else revision

    def on_catalog_changed(self, **kwargs) -> None:
        """Receiver of ``catalog_changed`` (after commit): this process's next request asks
        PostgreSQL, so the change is visible to it even before its notification arrives."""
        self._changes += 1

    def clear(self) -> None:
        """Forget everything: the rendered bodies, Redis keys, the listener (tests)."""
        self._local = {}
        self._confirmed_at = {}
        self._failing_since = None
        self._retry_database_at = 0.0
        self._changes = self._asked = 0
        self._floor = (0, 0)
        self.listener.close()
        self.shared.clear()

    # --- internals --------------------------------------------------------------------------
    def _pushed_revision(self, in_transaction: bool | None = None) -> int | None:
        """The revision the listener holds, or None when this request must ask PostgreSQL
        (``in_transaction``: whether it runs in one, if known)."""
        push = self._push
        if push is None:
            push = self._push = settings.CATALOG_FRESHNESS == "push"
        if in_transaction is None:
            in_transaction = connections["default"].in_atomic_block
        if not push or in_transaction:
            return None
        revision = self.listener.revision()
        if revision is None or self._asked != self._changes:
            return None
        # What this process read itself after its own commit may be ahead of the notification;
        # a reopened listener (a restart, perhaps a restore) makes that reading obsolete.
        generation, floor = self._floor
        if generation == self.listener.generation and floor > revision:
            return floor
        return revision

    def _on_setting_changed(self, setting: str, **kwargs) -> None:
        if setting == "CATALOG_FRESHNESS":
            self._push = None

    def _ask(self) -> int:
        changes, generation = self._changes, self.listener.generation
        revision = current_revision()
        if self._floor[0] != generation or revision > self._floor[1]:
            self._floor = (generation, revision)
        # Only now: a request racing this one must not trust the listener before the floor is
        # set, or it could serve the body of the revision before this process's own commit.
        self._asked = changes
        return revision

    def _render(self, representation: str) -> Rendered:
        published = FORMATS[representation].published()
        until = published.valid_until
        rendered = Rendered(
            published.revision,
            published.body,
            representation,
            None if until is None else until.timestamp(),
        )
        self.shared.put(rendered)
        return rendered

    def _stale(self, now: float, representation: str) -> tuple[Rendered, float] | None:
        local = self._local.get(representation)
        confirmed_at = self._confirmed_at.get(representation)
        if local is None or confirmed_at is None or not settings.CATALOG_STALE_IF_ERROR:
            return None
        age = now - confirmed_at
        return (local, age) if age <= settings.CATALOG_STALE_IF_ERROR else None


catalog_cache = CatalogCache()
