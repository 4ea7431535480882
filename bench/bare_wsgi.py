"""The practical limit: a bare WSGI app that returns the endpoint's own response from memory.

``python -m bench`` fetches the real endpoint's response once per encoding (body and headers)
into ``BENCH_RESPONSES``; this app loads them at start-up and replays them, gzip when the
request's Accept-Encoding asks for it. It runs under the same gunicorn flags as the real app,
so the difference between the two is the cost of Django, DRF and the cache lookup.
Standard library only: importing Django here would blur what it measures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# gunicorn writes these itself; a WSGI app must not send hop-by-hop headers.
SERVER_HEADERS = {"connection", "date", "server", "transfer-encoding", "keep-alive"}


def load_response(directory: Path, encoding: str) -> tuple[list[tuple[str, str]], bytes]:
    headers = json.loads((directory / f"{encoding}.headers.json").read_text())
    body = (directory / f"{encoding}.body").read_bytes()
    return [(name, value) for name, value in headers if name.lower() not in SERVER_HEADERS], body


_directory = Path(os.environ.get("BENCH_RESPONSES", "."))
RESPONSES = {encoding: load_response(_directory, encoding) for encoding in ("identity", "gzip")}


def application(environ, start_response):
    encoding = "gzip" if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") else "identity"
    headers, body = RESPONSES[encoding]
    start_response("200 OK", headers)
    return [body]
