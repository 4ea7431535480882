"""The committed catalog revision, pushed to this process by PostgreSQL (LISTEN/NOTIFY).

One connection per process, of its own (not Django's: it must stay outside any transaction and
is never handed to a request), in autocommit, listening on ``catalog.revision.CHANNEL``. It is
opened lazily by the first request that wants it, so after gunicorn has forked, and it is read
without blocking at the start of a request: one ``poll()`` of its socket with a zero timeout,
and only when bytes are waiting does psycopg read the notifications. No thread, no round trip.

``revision()`` answers None whenever the connection is not known to be healthy (not opened yet,
the server ended or closed it, an error), and the caller then asks PostgreSQL itself. A server
that ends the session (a shutdown, ``pg_terminate_backend``, ``idle_session_timeout``) first
sends why, as an error outside any query, and only then closes the socket: the listener stops
trusting its revision on that message, not on the close that follows it, since a request may
read the one before the other has arrived (and a change committed meanwhile is announced to
nobody). A connection dropped without a word shows up as a readable socket whose read fails, so
either way the next request notices.
A forked child (a gunicorn worker) forgets what it inherited (``os.register_at_fork``), so
that a request checks no process id.
Reopening is rate-limited (``RETRY_SECONDS``) so that a database that is down costs one attempt
per process per interval, not one per request. On (re)opening, LISTEN comes first and the
revision is read after it, on the same connection: a commit before the read is in the number
read, a commit after it sends a notification this connection will receive, so no change can
fall between the two.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Callable

import psycopg
from django.db import connections

from catalog.revision import CHANNEL, REVISION_SQL

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
MAX_READS = 8
# An error outside any query is how a server says it is ending the session (FATAL); libpq hands
# it to the notice handler and reports the connection as usable until the socket closes.
ENDING_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})
CONNECT_TIMEOUT_SECONDS = 2
# A listener whose peer vanished without closing (a network partition) is noticed by TCP
# keepalives within about idle + interval * count seconds.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class RevisionListener:
    def __init__(self, using: str = "default", clock: Callable[[], float] = time.monotonic):
        self.using = using
        self.clock = clock
        self._connection: psycopg.Connection | None = None
        self._poll: select.poll | None = None
        self._revision: int | None = None
        self._retry_at = 0.0
        self._failing = False
        self._farewell: str | None = None  # why the server is ending the session, once it said
        self.generation = 0  # how many times it has started listening
        self._lock = threading.Lock()
        # Connections opened before a fork: the parent's, which the child must never close.
        self._inherited: list[psycopg.Connection] = []
        _LISTENERS.add(self)

    @property
    def healthy(self) -> bool:
        return self._revision is not None  # reset in a forked child (_forget_inherited)

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend listening for this process (operators, tests)."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None and self.healthy else None

    def revision(self) -> int | None:
        """The latest committed revision this process has been told of, or None when unsure."""
        if not self._lock.acquire(blocking=False):
            return None  # another thread is opening or reading it: ask instead of waiting
        try:
            if self._revision is None:
                self._open_if_due()
            elif self._poll.poll(0):  # type: ignore[union-attr]  # set whenever _revision is
                self._drain()
            return self._revision
        finally:
            self._lock.release()

    def wait(self, timeout: float) -> bool:
        """Block until a notification (or the end of the session) is waiting, at most ``timeout``
        seconds; True if one is (bytes to read: not yet read, so not yet acted on). For tests and
        the bench, never the request path."""
        connection = self._connection
        if connection is None:
            return False
        return bool(select.select([connection.fileno()], [], [], timeout)[0])

    def close(self) -> None:
        with self._lock:
            self._drop()
            self._retry_at = 0.0

    # --- internals --------------------------------------------------------------------------
    def _forget_inherited(self) -> None:
        """In a forked child: the parent's connection is not this process's to read or close
        (kept referenced, as its finalizer would close it too), and a lock another thread held
        at the fork would never be released here."""
        if self._connection is not None:
            self._inherited.append(self._connection)
        self._connection = None
        self._revision = None
        self._poll = None
        self._farewell = None
        self._lock = threading.Lock()

    def _open_if_due(self) -> None:
        if self.clock() < self._retry_at:
            return
        self._drop()
        params = connections[self.using].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        for name, value in KEEPALIVES.items():
            params.setdefault(name, value)
        try:
            connection = psycopg.connect(**params, autocommit=True)
            connection.add_notice_handler(weak_handler(self._on_notice))
            try:
                connection.execute(f"LISTEN {CHANNEL}")
                row = connection.execute(REVISION_SQL).fetchone()
            except BaseException:
                connection.close()
                raise
        except psycopg.Error as error:
            self._failed("could not listen for catalog changes", error)
            return
        self._connection = connection
        self._poll = select.poll()
        self._poll.register(connection.fileno(), select.POLLIN)
        self._revision = row[0] if row else 0
        self.generation += 1
        try:  # notifications that arrived with the answers above (psycopg kept them)
            for notify in connection.notifies(timeout=0):
                self._raise_to(notify.payload)
            self._check_session(connection.pgconn)
        except (psycopg.Error, ValueError) as error:
            self._failed("stopped listening for catalog changes", error)
            return
        if self._revision is not None and self._failing:
            self._failing = False
            logger.warning("Listening for catalog changes again")

    def _drain(self) -> None:
        """Read what the socket holds, without waiting: notifications, or the end of the session
        (the server's farewell, or consume_input raising when the server has gone), which makes
        the listener unhealthy."""
        connection, poll = self._connection, self._poll
        if connection is None or poll is None:
            return
        pgconn = connection.pgconn
        try:
            for _ in range(MAX_READS):  # a burst of notifications may not fit in one read
                pgconn.consume_input()
                while (notify := pgconn.notifies()) is not None:
                    self._raise_to(notify.extra)
                if not poll.poll(0):
                    break
            self._check_session(pgconn)
        except (psycopg.Error, ValueError) as error:
            self._failed("stopped listening for catalog changes", error)

    def _on_notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        severity = diagnostic.severity_nonlocalized or diagnostic.severity
        if severity in ENDING_SEVERITIES:
            self._farewell = diagnostic.message_primary or severity

    def _check_session(self, pgconn: psycopg.pq.abc.PGconn) -> None:
        if self._farewell is not None:
            raise psycopg.OperationalError(self._farewell)
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            raise psycopg.OperationalError("the connection is not usable")

    def _raise_to(self, payload: bytes | str) -> None:
        number = int(payload)
        # Only a listening connection reads notifications, and it always holds a revision.
        if self._revision is not None and number > self._revision:
            self._revision = number

    def _failed(self, what: str, error: Exception) -> None:
        self._drop()
        self._retry_at = self.clock() + RETRY_SECONDS
        if not self._failing:  # once per outage, one line: retries every second stay quiet
            self._failing = True
            logger.warning(
                "%s (%s); asking PostgreSQL on each request until listening again",
                what.capitalize(),
                one_line(error),
            )

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._revision = None
        self._poll = None
        self._farewell = None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()


# Every listener of this process, for the fork hook below (weakly: a test's listener may go).
_LISTENERS: weakref.WeakSet[RevisionListener] = weakref.WeakSet()


def _forget_inherited() -> None:
    for listener in list(_LISTENERS):
        listener._forget_inherited()


os.register_at_fork(after_in_child=_forget_inherited)


def weak_handler(
    method: Callable[[psycopg.errors.Diagnostic], None],
) -> Callable[[psycopg.errors.Diagnostic], None]:
    """``method``, held weakly: a connection must not keep its listener alive, or a listener
    nobody references (a test's, a replaced one) would keep its session open until the cyclic
    garbage collector runs, instead of closing it at once."""
    reference = weakref.WeakMethod(method)

    def handle(diagnostic: psycopg.errors.Diagnostic) -> None:
        bound = reference()
        if bound is not None:
            bound(diagnostic)

    return handle


def one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
