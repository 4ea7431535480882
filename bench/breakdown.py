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


def _request(application, accept_encoding: str, query: str) -> None:
    response = application(_environ(accept_encoding, query), _start_response)
    try:
        for _ in response:
            pass
    finally:
        if hasattr(response, "close"):  # the fast path answers with a plain list
            response.close()


def main() -> None:
    module, name = sys.argv[1].split(":")
    query = sys.argv[2] if len(sys.argv) > 2 else ""
    setup_django()
    application = getattr(importlib.import_module(module), name)
    figures = {}
    for encoding in ("identity", "gzip"):
        _request(application, encoding, query)  # rendered (or fetched) once, as in a warm worker
        batches = []
        for _ in range(BATCHES):
            started = time.perf_counter()
            for _ in range(REQUESTS_PER_BATCH):
                _request(application, encoding, query)
            batches.append((time.perf_counter() - started) / REQUESTS_PER_BATCH * 1e6)
        figures[encoding] = min(batches)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
