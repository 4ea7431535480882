"""How long a commit takes to reach another process, for one catalog database.

    DATABASE_URL=... python -m bench.freshness CHANGES HTTP_CHANGES SERVER_URL

- ``notified``: a process of its own (``listen`` below) holds the app's listener
  (``router.listener``) and writes down when each revision reaches it; this process commits a
  change that alters nothing served and notes when its commit returned. Both read the same
  system-wide monotonic clock, so the delay is a difference of two readings (it can be
  negative: PostgreSQL may deliver before the committing client has read its reply).
- ``fresh_response``: after each commit, HEAD requests to the app's server (``SERVER_URL``, one
  gunicorn worker in push mode) until the ETag changes: the delay to the first fresh response,
  which includes rendering the new revision.

Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal

import psycopg

from bench import ROOT, setup_django

# A change that moves the revision and alters nothing served (updated_at is not in the format).
FIRST = "(SELECT min(id) FROM catalog_servedmodel)"
TOUCH = f"UPDATE catalog_servedmodel SET updated_at = now() WHERE id = {FIRST}"
# The first model's base prompt price (per token, no time window).
PROMPT_PRICE_STEP = (
    "UPDATE catalog_priceentry SET cost_usd = cost_usd + %s "
    f"WHERE model_id = {FIRST} AND price_type = 'prompt' AND unit = 'token' AND utc_start IS NULL"
)
REVISION = "SELECT number FROM catalog_catalogrevision"
STEP = Decimal("0.000000000001")


def listen() -> None:
    """The other process: print "<revision> <monotonic>" for each revision as it arrives."""
    setup_django()
    from router.listener import RevisionListener

    listener = RevisionListener()
    last = listener.revision()
    print(f"{last} {time.monotonic()}", flush=True)
    while True:
        listener.wait(timeout=1)
        revision = listener.revision()
        if revision != last:
            print(f"{revision} {time.monotonic()}", flush=True)
            last = revision


def summary(delays_ms: list[float]) -> dict:
    delays_ms = sorted(delays_ms)
    return {
        "changes": len(delays_ms),
        "median_ms": statistics.median(delays_ms),
        "p99_ms": delays_ms[min(len(delays_ms) - 1, round(0.99 * (len(delays_ms) - 1)))],
        "max_ms": delays_ms[-1],
    }


def notified(database: psycopg.Connection, changes: int) -> dict:
    other = subprocess.Popen(
        [sys.executable, "-m", "bench.freshness", "listen"],
        cwd=ROOT,
        env=os.environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        other.stdout.readline()  # listening
        delays = []
        for _ in range(changes):
            database.execute(TOUCH)
            committed = time.monotonic()
            revision = database.execute(REVISION).fetchone()[0]
            while True:
                seen, at = other.stdout.readline().split()
                if int(seen) >= revision:
                    break
            delays.append((float(at) - committed) * 1000)
    finally:
        other.kill()
        other.wait()
    return summary(delays)


def head_etag(url: str) -> str:
    request = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["ETag"]


def fresh_response(database: psycopg.Connection, changes: int, url: str) -> dict:
    """Each change alters a price, so that the body and its ETag change."""
    delays = []
    for step in range(changes):
        before = head_etag(url)
        updated = database.execute(PROMPT_PRICE_STEP, [STEP if step % 2 == 0 else -STEP])
        if updated.rowcount != 1:  # else the ETag never changes and the wait below never ends
            raise RuntimeError(f"model {FIRST} has no base prompt price to change")
        committed = time.monotonic()
        while head_etag(url) == before:
            pass
        delays.append((time.monotonic() - committed) * 1000)
    return summary(delays)


def main() -> None:
    if sys.argv[1] == "listen":
        listen()
        return
    changes, http_changes, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as database:
        figures = {
            "notified": notified(database, changes),
            "fresh_response": fresh_response(database, http_changes, url),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
