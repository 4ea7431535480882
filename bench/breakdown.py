"""Microseconds per warm request, in-process: a WSGI app called directly, without sockets.

    DATABASE_URL=... [REDIS_URL=...] python -m bench.breakdown MODULE:APP [QUERY_STRING]

Run once per configuration of ``bench.serving.APPS``: the difference between strict and push
is what asking PostgreSQL for the revision costs a warm request (the fallback path's cost).
With a query string (``schema_version=2.4``), the typed representation's warm request.
The time includes waiting for PostgreSQL, on this machine's loopback. Prints one JSON line.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import time

from bench import ENDPOINT, setup_django

# The fastest batch is the estimate: the machine's other work only ever adds time.
BATCHES = 5
REQUESTS_PER_BATCH = 200


def _environ(accept_encoding: str, query: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": ENDPOINT,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT_ENCODING": accept_encoding,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }


def _start_response(status, headers, exc_info=None):
    if not status.startswith("200"):
        raise RuntimeError(f"the endpoint answered {status}")


def request(application, accept_encoding: str, query: str) -> None:
    """One GET of the endpoint, straight into the WSGI ``application``; it must answer 200."""
    response = application(_environ(accept_encoding, query), _start_response)
    try:
        for _ in response:
            pass
    finally:
        if hasattr(response, "close"):  # the fast path answers with a plain list
            response.close()


def warm_microseconds(application, encoding: str, query: str = "", batches: int = BATCHES) -> float:
    """Microseconds per warm request: the fastest of ``batches``, after one request that renders
    (or fetches) the body, as in a warm worker."""
    request(application, encoding, query)
    times = []
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(REQUESTS_PER_BATCH):
            request(application, encoding, query)
        times.append((time.perf_counter() - started) / REQUESTS_PER_BATCH * 1e6)
    return min(times)


def main() -> None:
    module, name = sys.argv[1].split(":")
    query = sys.argv[2] if len(sys.argv) > 2 else ""
    setup_django()
    application = getattr(importlib.import_module(module), name)
    figures = {
        encoding: warm_microseconds(application, encoding, query)
        for encoding in ("identity", "gzip")
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
