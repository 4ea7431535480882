"""Reading a catalog's bytes from a file path, standard input or an http(s) URL.

Whatever the format, an import starts from bytes; this is where they come from, and where the
limits on what a source may cost belong (``max_bytes`` of memory, ``timeout`` per network
read). ``read_source`` raises ``CatalogSourceError`` with a one-line message for anything that
stops a source being read, never a traceback.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from typing import BinaryIO

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30


class CatalogSourceError(Exception):
    """The catalog could not be read (missing file, HTTP error, unreachable host, too large)."""


def read_source(
    source: str,
    *,
    stdin: BinaryIO,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> bytes:
    """The bytes of a catalog file path, ``-`` (``stdin``) or an http(s) URL.

    Raises ``CatalogSourceError`` when it cannot be read or holds more than ``max_bytes``.
    """
    if source == "-":
        return _read_capped(stdin, max_bytes, "standard input")
    if source.startswith(("http://", "https://")):
        return _fetch(source, max_bytes, timeout)
    try:
        with open(source, "rb") as file:
            return _read_capped(file, max_bytes, source)
    except OSError as error:
        raise CatalogSourceError(f"Cannot read {source}: {error.strerror or error}.") from None


def _read_capped(stream: BinaryIO, max_bytes: int, name: str) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CatalogSourceError(
            f"{name} is larger than {max_bytes} bytes; raise --max-bytes to import it."
        )
    return data


def _fetch(url: str, max_bytes: int, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _read_capped(response, max_bytes, url)
    except urllib.error.HTTPError as error:
        raise CatalogSourceError(f"{url} answered HTTP {error.code} {error.reason}.") from None
    except urllib.error.URLError as error:
        raise CatalogSourceError(f"Cannot reach {url}: {error.reason}.") from None
    except TimeoutError:
        raise CatalogSourceError(f"{url} sent nothing for {timeout} seconds.") from None
    except (OSError, http.client.HTTPException) as error:
        raise CatalogSourceError(f"Cannot read {url}: {error}.") from None
