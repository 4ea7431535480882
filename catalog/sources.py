"""Reading a catalog's bytes from a file path, standard input or an http(s) URL.

Whatever the format, an import starts from bytes; this is where they come from, and where the
limits on what a source may cost belong. ``read_source`` raises ``CatalogSourceError`` with a
one-line message for anything that stops a source being read, never a traceback.

- ``max_bytes`` bounds the bytes read, and so the memory they take: they are read in chunks
  into one buffer, sized up front when the size is known (a file's, a ``Content-Length``), so
  a source that announces too much is refused before a byte of it is read, and one that sends
  too much is refused at the first byte over. ``MAX_BYTES_LIMIT`` caps the cap: an import
  holds the parsed records too, many times the file's size (README, import options).
- ``timeout`` bounds a download as a whole: connecting, redirects, headers and body must all
  be done by one deadline, however slowly the server trickles its bytes. Only the name lookup
  (the system resolver's own timeouts) is outside it.
- A URL must be http(s) with a host and no credentials (the source is recorded in the
  history); a redirect may only lead to another such URL.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import re
import socket
import ssl
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Protocol

from catalog.formats.problems import shorten


class Readable(Protocol):
    """A file, standard input's buffer or an HTTP response: what is read in place."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# An import holds the parsed records too, many times the file's size: this bounds what
# --max-bytes may allow (docs/PERFORMANCE.md).
MAX_BYTES_LIMIT = 256 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30

_OTHER_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# The first read of a source of unknown size; the buffer doubles from there.
_FIRST_CHUNK = 1024 * 1024


class CatalogSourceError(Exception):
    """The catalog could not be read (missing file, HTTP error, unreachable host, too large)."""


def read_source(
    source: str,
    *,
    stdin: Readable,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> bytearray:
    """The bytes of a catalog file path, ``-`` (``stdin``) or an http(s) URL.

    Raises ``CatalogSourceError`` when it cannot be read, holds more than ``max_bytes``, or (a
    URL) is not read completely within ``timeout`` seconds.
    """
    if not 0 < max_bytes <= MAX_BYTES_LIMIT:
        raise CatalogSourceError(f"--max-bytes must be between 1 and {MAX_BYTES_LIMIT}.")
    if source == "-":
        return _read_capped(stdin, max_bytes, "standard input")
    if source.startswith(("http://", "https://")):
        return _fetch(source, max_bytes, timeout)
    if _OTHER_URL.match(source):
        raise CatalogSourceError(f"{source}: only http(s) URLs are read.")
    try:
        with open(source, "rb", buffering=0) as file:
            info = os.fstat(file.fileno())
            size = info.st_size if stat.S_ISREG(info.st_mode) else None
            return _read_capped(file, max_bytes, source, size=size)
    except OSError as error:
        raise CatalogSourceError(f"Cannot read {source}: {error.strerror or error}.") from None


def _too_large(name: str, max_bytes: int) -> CatalogSourceError:
    return CatalogSourceError(
        f"{name} is larger than {max_bytes} bytes; raise --max-bytes to import it."
    )


def _read_capped(
    stream: Readable, max_bytes: int, name: str, *, size: int | None = None
) -> bytearray:
    """All of ``stream``, read into one buffer; ``size`` is what it says it holds, if known.

    One byte more than ``max_bytes`` is asked for, to tell a source of exactly ``max_bytes``
    from a larger one.
    """
    if size is not None and size > max_bytes:
        raise _too_large(name, max_bytes)
    limit = max_bytes + 1
    buffer = bytearray(min(size + 1, limit) if size is not None else min(_FIRST_CHUNK, limit))
    filled = 0
    while True:
        if filled == len(buffer):
            if filled >= limit:
                raise _too_large(name, max_bytes)
            # Grown in place (doubling): pieces joined at the end would need twice the memory.
            buffer.extend(bytes(min(len(buffer), limit - len(buffer))))
        with memoryview(buffer) as view, view[filled:] as free:
            count = stream.readinto(free)
        if not count:
            break
        filled += count
    del buffer[filled:]
    return buffer


def check_url(url: str) -> None:
    """Refuse (``CatalogSourceError``) anything but an http(s) URL with a host, no credentials."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - reading it checks the port (a number, 0-65535)
    except ValueError as error:
        raise CatalogSourceError(f"{url} is not a valid URL: {error}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CatalogSourceError(f"{url} is not an http(s) URL with a host name.")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise CatalogSourceError(f"{url!r} holds spaces or control characters; encode them.")
    if parts.username is not None or parts.password is not None:
        # The source is recorded in the history of every model imported.
        raise CatalogSourceError(f"{url} holds credentials; they are not supported in a URL.")


class _Deadline:
    """One deadline for a whole download: when it passes, every socket opened for it is shut.

    A socket timeout bounds each read, so a server sending a byte now and then keeps a read
    going forever; shutting the socket ends whichever read is waiting, from another thread.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._end = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    deadline: _Deadline

    def connect(self) -> None:
        # Connecting gives up at the deadline; reads after it end when the socket is shut.
        self.timeout = self.deadline.remaining()
        super().connect()
        self.deadline.watch(self.sock)


# HTTPSConnection.connect() calls the connect() above before the TLS handshake, so the
# handshake is under the deadline too.
class _DeadlineHTTPSConnection(http.client.HTTPSConnection, _DeadlineHTTPConnection):
    pass


def _connection(cls: type, deadline: _Deadline, *args: object, **kwargs: object):
    connection = cls(*args, **kwargs)
    connection.deadline = deadline
    return connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(
            functools.partial(_connection, _DeadlineHTTPConnection, self.deadline), req
        )


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline
        # urllib's own default: certificates and host names verified.
        self.context = ssl.create_default_context()

    def https_open(self, req):
        return self.do_open(
            functools.partial(_connection, _DeadlineHTTPSConnection, self.deadline),
            req,
            context=self.context,
        )


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        # urllib would follow a redirect to ftp:// as well.
        try:
            check_url(urllib.parse.urljoin(req.full_url, newurl))
        except CatalogSourceError as error:
            raise CatalogSourceError(
                f"{req.full_url} redirects to a URL that is refused: {shorten(str(error))}"
            ) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _announced_length(response: http.client.HTTPResponse) -> int | None:
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isascii() and length.isdigit() else None


def _fetch(url: str, max_bytes: int, timeout: float) -> bytearray:
    check_url(url)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    timed_out = CatalogSourceError(
        f"{url} was not read within {timeout} seconds (--timeout bounds the whole download)."
    )
    with _Deadline(timeout) as deadline:
        opener = urllib.request.build_opener(
            _HTTPHandler(deadline), _HTTPSHandler(deadline), _RedirectHandler()
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                data = _read_capped(response, max_bytes, url, size=_announced_length(response))
        except CatalogSourceError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as error:
            if deadline.expired or isinstance(error, TimeoutError):
                raise timed_out from None
            if isinstance(error, urllib.error.HTTPError):
                raise CatalogSourceError(
                    f"{url} answered HTTP {error.code} {error.reason}."
                ) from None
            if isinstance(error, urllib.error.URLError):
                if isinstance(error.reason, TimeoutError):
                    raise timed_out from None
                raise CatalogSourceError(f"Cannot reach {url}: {error.reason}.") from None
            raise CatalogSourceError(f"Cannot read {url}: {error}.") from None
        # A read the deadline cut short can look like the end of the body.
        if deadline.expired:
            raise timed_out
    return data
