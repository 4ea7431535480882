"""One import, measured in a process of its own: time, queries and peak memory.

    DATABASE_URL=... python -m bench.importing service|naive FILE

``service`` runs the real import service (``catalog.importer.import_catalog``), as
``manage.py import_models`` does. ``naive`` is the obvious one-model-at-a-time way it is
measured against: the same parsing (``_parse_catalog``, shared by both), then, in one
transaction, ``full_clean()``, ``save()`` and ``datacenters.set()`` for each model.
Under ``DJANGO_SETTINGS_MODULE=bench.settings_without_history`` either runs without history.

A process per measurement keeps peak memory (``ru_maxrss``) to one import; the file is read
and Django set up before the clock starts. ``checked_seconds`` is when the service had compared
every record with the catalog and validated those that change it (it says so through its
``progress`` callback), and when the naive import had parsed the file;
``history_records`` how many history records the import wrote, counted outside the clock.
Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from bench import setup_django


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def import_with_service(data: bytes, started: float) -> dict:
    from catalog.importer import import_catalog

    checked = {}

    def progress(stage: str, done: int, total: int) -> None:
        # The service reports "checked" as it compares and validates, then "written".
        if stage == "checked" and done == total:
            checked["seconds"] = time.perf_counter() - started

    counts = import_catalog(data, progress=progress).counts
    return {"counts": counts, "checked_seconds": checked.get("seconds")}


def import_one_at_a_time(data: bytes, started: float) -> dict:
    from django.db import transaction

    # The service's own first step (parse); then each model is validated and written alone.
    from catalog.formats.flat.decode import decode_catalog
    from catalog.models import Datacenter

    entries, _ = decode_catalog(data)
    parsed = time.perf_counter() - started
    with transaction.atomic():
        for entry in entries:
            entry.model.full_clean()
            entry.model.save()
            entry.model.datacenters.set(
                [Datacenter.objects.get_or_create(country_code=code)[0] for code in entry.codes]
            )
    return {"counts": {"created": len(entries)}, "checked_seconds": parsed}


IMPORTS = {"service": import_with_service, "naive": import_one_at_a_time}


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    setup_django()
    from django.db import connection

    from catalog.models import ServedModel

    history = ServedModel.history.model.objects
    data = Path(path).read_bytes()
    records_before = history.count()  # connected, too, before the clock starts
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    baseline = _rss_mib()
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        figures = IMPORTS[kind](data, started)
        figures["seconds"] = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures |= {
        "queries": queries,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak,
        "history_records": history.count() - records_before,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
