"""The machine's description and the Markdown report (docs/PERFORMANCE.md) of one bench run."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.databases import server_version

SERVER_NAMES = {
    "push": "app, revision pushed",
    "push-redis": "app, revision pushed, Redis",
    "strict": "app, strict (the fallback path)",
    "bare": "bare WSGI (the limit)",
    "typed": "app, revision pushed, typed 2.4",
}
TYPED_SERVER_NAMES = {
    "push": "app, revision pushed",
    "bare": "bare WSGI, the typed bytes (the limit)",
}
# The servers the load target applies to.
TARGET_SERVERS = ("push", "push-redis")
ENCODINGS = ("identity", "gzip")
# Issue 19 item 5: the warm endpoint at the target size, each encoding, flat and typed.
LOAD_TARGET = 0.85
IMPORT_TARGET = 1 / 4
REIMPORT_TARGET = 1 / 3
HISTORY_TARGET = 1.5
RUNTIME_TARGET_SECONDS = 600


# --- the machine -----------------------------------------------------------------------------
def _first_line(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line
    except OSError:
        pass
    return "unknown"


def _redis_version(url: str) -> str:
    if not url:
        return "not used"
    import redis

    return redis.Redis.from_url(url).info("server")["redis_version"]


def _wrk_version() -> str:
    # wrk prints its version on an unknown option, and exits non-zero.
    output = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return output.split("[")[0].strip() or "installed"


def machine(database_url: str, redis_url: str) -> dict[str, str]:
    import django

    memory_kib = int(_first_line("/proc/meminfo", "MemTotal").split()[0])
    os_name = _first_line("/etc/os-release", "PRETTY_NAME=").split("=", 1)[-1].strip('"')
    return {
        "CPU": _first_line("/proc/cpuinfo", "model name"),
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "system": f"{os_name}, Linux {platform.release()}",
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "Django REST framework": version("djangorestframework"),
        "gunicorn": version("gunicorn"),
        "PostgreSQL": server_version(database_url),
        "Redis": _redis_version(redis_url),
        "load client": _wrk_version(),
    }


# --- formatting ------------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _mib(values: list[float]) -> str:
    return ", ".join(f"{value:.0f}" for value in values) or "–"


def _queries(values: list[int]) -> str:
    return " or ".join(str(value) for value in values)


# --- the figures the targets are judged on ---------------------------------------------------
def _load(results: dict, size: int, server: str, encoding: str) -> dict | None:
    figures = results["sizes"].get(size, {}).get("load", {}).get("servers", {})
    return figures.get(server, {}).get(encoding)


def _typed_load(results: dict, size: int, encoding: str) -> dict | None:
    figures = results["sizes"].get(size, {}).get("load", {}).get("typed", {}).get("servers", {})
    return figures.get("push", {}).get(encoding)


def targets(results: dict) -> list[list[str]]:
    rows = []
    target_size = results["settings"]["target_size"]
    for server in TARGET_SERVERS:
        for encoding in ENCODINGS:
            figures = _load(results, target_size, server, encoding)
            if figures is None:
                continue
            rows.append(
                [
                    f"warm endpoint at {target_size:,} models, {encoding}: "
                    f"{SERVER_NAMES[server]}, req/s ≥ {LOAD_TARGET} × bare",
                    f"{figures['ratio']:.2f} × bare",
                    _met(figures["ratio"] >= LOAD_TARGET),
                ]
            )
    for encoding in ENCODINGS:
        figures = _typed_load(results, target_size, encoding)
        if figures is None:
            continue
        rows.append(
            [
                f"typed warm endpoint at {target_size:,} models, {encoding}: "
                f"{SERVER_NAMES['push']}, req/s ≥ {LOAD_TARGET} × bare, as the flat one",
                f"{figures['ratio']:.2f} × bare",
                _met(figures["ratio"] >= LOAD_TARGET),
            ]
        )
    sizes = sorted(results["sizes"])
    smallest, largest = (results["sizes"][size]["inprocess"] for size in (sizes[0], sizes[-1]))
    warm_pg = max(
        max(figures["inprocess"]["db"]["warm_queries"]) for figures in results["sizes"].values()
    )
    rows.append(["queries per warm request, revision pushed: 0", str(warm_pg), _met(warm_pg == 0)])
    if "typed" in smallest:
        warm_typed = max(
            max(figures["inprocess"]["typed"]["warm_queries"])
            for figures in results["sizes"].values()
        )
        rows.append(
            [
                "queries per warm typed request, revision pushed: 0",
                str(warm_typed),
                _met(warm_typed == 0),
            ]
        )
    if "warm_queries" in smallest["redis"]:
        warm_redis = max(
            max(figures["inprocess"]["redis"]["warm_queries"])
            for figures in results["sizes"].values()
        )
        rows.append(
            ["queries per warm request, pushed, Redis: 0", str(warm_redis), _met(warm_redis == 0)]
        )
    rows.append(
        [
            f"cold render: the same queries at {sizes[0]:,} and {sizes[-1]:,} models",
            f"{_queries(smallest['db']['cold_queries'])} and "
            f"{_queries(largest['db']['cold_queries'])}",
            _met(smallest["db"]["cold_queries"] == largest["db"]["cold_queries"]),
        ]
    )
    if "typed" in smallest and "typed" in largest:
        rows.append(
            [
                f"typed cold render: the same queries at {sizes[0]:,} and {sizes[-1]:,} models",
                f"{_queries(smallest['typed']['cold_queries'])} and "
                f"{_queries(largest['typed']['cold_queries'])}",
                _met(smallest["typed"]["cold_queries"] == largest["typed"]["cold_queries"]),
            ]
        )
    rows += _scheduled_targets(results)
    imports = results["imports"]
    service = _median(imports["with"]["service"], "seconds")
    naive = imports["naive"]["scaled_seconds"]
    rows.append(
        [
            f"import of {imports['size']:,} models < 1/4 of the naive import",
            f"{service / naive:.3f} of it",
            _met(service / naive < IMPORT_TARGET),
        ]
    )
    reimport = _median(imports["with"]["reimport"], "seconds")
    rows.append(
        [
            "no-op re-import < 1/3 of the first import",
            f"{reimport / service:.2f} of it",
            _met(reimport / service < REIMPORT_TARGET),
        ]
    )
    without_history = _median(imports["without"]["service"], "seconds")
    rows.append(
        [
            f"{imports['size']:,}-model import with history ≤ {HISTORY_TARGET:g} × without",
            f"{service / without_history:.2f} × without",
            _met(service / without_history <= HISTORY_TARGET),
        ]
    )
    if "list" in smallest["admin"]:
        same = smallest["admin"]["list"]["queries"] == largest["admin"]["list"]["queries"]
        rows.append(
            [
                f"admin list page: the same queries at {sizes[0]:,} and {sizes[-1]:,} models",
                f"{_queries(smallest['admin']['list']['queries'])} and "
                f"{_queries(largest['admin']['list']['queries'])}",
                _met(same),
            ]
        )
    rows.append(
        [
            "`make bench` under 10 minutes",
            f"{results['seconds'] / 60:.1f} min",
            _met(results["seconds"] < RUNTIME_TARGET_SECONDS),
        ]
    )
    return rows


def _targets_where(results: dict) -> list[str]:
    return [
        'Measured in: the warm endpoint, "Warm endpoint under load" (at '
        f'{results["settings"]["target_size"]:,} models); the queries, "Queries per request, '
        'cold render" and "The moment a scheduled price change starts"; the imports, "Import '
        'of the largest catalog"; the admin page, "Admin list page". Targets measured on their '
        "own, outside a full run, are in the section after this one.",
        "",
    ]


def _scheduled_targets(results: dict) -> list[list[str]]:
    sizes = sorted(size for size, figures in results["sizes"].items() if "scheduled" in figures)
    if not sizes:  # figures of a run from before scheduled prices
        return []
    smallest, largest = (results["sizes"][size]["scheduled"] for size in (sizes[0], sizes[-1]))
    rows = []
    for representation, name in SCHEDULED_REPRESENTATIONS.items():
        at_moment = [
            smallest[representation]["cold_queries"],
            largest[representation]["cold_queries"],
        ]
        warm = max(
            max(results["sizes"][size]["scheduled"][representation]["warm_queries"])
            for size in sizes
        )
        rows += [
            [
                f"{name} render at the moment a scheduled change starts: the same queries at "
                f"{sizes[0]:,} and {sizes[-1]:,} models",
                " and ".join(_queries(queries) for queries in at_moment),
                _met(at_moment[0] == at_moment[1]),
            ],
            [
                f"queries per warm {name} request after a scheduled change starts: 0",
                str(warm),
                _met(warm == 0),
            ],
        ]
    return rows


# --- sections --------------------------------------------------------------------------------
def load_section(results: dict) -> list[str]:
    settings = results["settings"]
    lines = [
        "## Warm endpoint under load",
        "",
        "`gunicorn -w 2` (sync workers) per server on loopback; "
        f"{results['machine']['load client']} with {settings['connections']} connections, "
        f"{settings['duration']:g} s per run, "
        f"{_rounds(settings)} per server and encoding, the servers taking turns. "
        "Medians of the runs; the ratio is the median of each round's ratio to the bare app "
        "measured in the same round; CPU is the workers' CPU time per request during the runs.",
        "",
    ]
    for size, figures in sorted(results["sizes"].items()):
        load = figures["load"]
        body = load["body_bytes"]
        lines += [
            f"### {size:,} models (body {_kib(body['identity'])}, gzip {_kib(body['gzip'])})",
            "",
        ]
        rows = []
        for server, by_encoding in load["servers"].items():
            for encoding in ENCODINGS:
                run = by_encoding[encoding]
                rows.append(
                    [
                        SERVER_NAMES[server],
                        encoding,
                        f"{run['rps']:,.0f}",
                        f"{run['p99_ms']:.1f}",
                        f"{run['ratio']:.2f}",
                        _cpu(run),
                        str(run["errors"]) if run["errors"] else "0",
                    ]
                )
        lines += _table(LOAD_COLUMNS, rows)
        if "typed" in load:
            lines += _typed_load_section(size, load["typed"], settings)
    return lines


def _rounds(settings: dict) -> str:
    # Runs from before the other sizes had rounds of their own ran as many at every size.
    other = settings.get("other_rounds", settings["rounds"])
    if other == settings["rounds"]:
        return f"{settings['rounds']} rounds"
    return (
        f"{settings['rounds']} rounds at {settings['target_size']:,} models (the size the "
        f"targets judge), {other} at the others,"
    )


LOAD_COLUMNS = ["server", "encoding", "req/s", "p99 ms", "ratio to bare", "CPU µs/req", "errors"]


def _cpu(run: dict) -> str:
    # Figures of runs from before the CPU time was taken have none.
    return "–" if run.get("cpu_us") is None else f"{run['cpu_us']:.0f}"


def _typed_load_section(size: int, typed: dict, settings: dict) -> list[str]:
    body = typed["body_bytes"]
    rows = [
        [
            TYPED_SERVER_NAMES[server],
            encoding,
            f"{run['rps']:,.0f}",
            f"{run['p99_ms']:.1f}",
            f"{run['ratio']:.2f}",
            _cpu(run),
            str(run["errors"]) if run["errors"] else "0",
        ]
        for server, by_encoding in typed["servers"].items()
        for encoding in ENCODINGS
        for run in (by_encoding[encoding],)
    ]
    return [
        f"#### {size:,} models, typed 2.4: `?schema_version=2.4` (body {_kib(body['identity'])}, "
        f"gzip {_kib(body['gzip'])})",
        "",
        "After the runs above, the same way in "
        f"{settings.get('typed_rounds', 0)} rounds: the pushed app beside a bare app replaying "
        "the typed bytes, both asked the same URL.",
        "",
        *_table(LOAD_COLUMNS, rows),
    ]


def _queries_section(results: dict) -> list[str]:
    rows = []
    for size, figures in sorted(results["sizes"].items()):
        inprocess = figures["inprocess"]
        for mode, name in (
            ("db", "pushed, no Redis"),
            ("redis", "pushed, Redis"),
            ("typed", "typed 2.4, pushed, no Redis"),
        ):
            if mode not in inprocess:  # figures of a run from before the typed representation
                continue
            if "skipped" in inprocess[mode]:
                rows.append([f"{size:,}", name, "skipped", "", "", inprocess[mode]["skipped"]])
                continue
            rows.append(
                [
                    f"{size:,}",
                    name,
                    _queries(inprocess[mode]["warm_queries"]),
                    _queries(inprocess[mode]["cold_queries"]),
                    f"{inprocess[mode]['cold_ms']:.0f}",
                ]
            )
    return [
        "## Queries per request, cold render",
        "",
        "In-process with Django's test client (gzip requested). Cold is the first request after "
        "a committed change, which renders the catalog; warm is any request after it. Median of "
        "5 cold renders. The typed rows ask `?schema_version=2.4`, rendered on its own.",
        "",
        *_table(["models", "cache", "warm queries", "cold queries", "cold render ms"], rows),
    ]


SCHEDULED_REPRESENTATIONS = {"flat": "flat", "typed": "typed 2.4"}


def scheduled_section(results: dict) -> list[str]:
    """The moment a scheduled price change starts (``bench.scheduled``), beside the render
    after a commit."""
    rows = []
    for size, figures in sorted(results["sizes"].items()):
        scheduled = figures.get("scheduled")
        if scheduled is None:
            continue
        for representation, name in SCHEDULED_REPRESENTATIONS.items():
            moment = scheduled[representation]
            rows.append(
                [
                    f"{size:,}",
                    name,
                    f"{scheduled['models_changed']:,}",
                    f"{moment['cold_ms']:.0f}",
                    _queries(moment["cold_queries"]),
                    f"{moment['after_commit_ms']:.0f}",
                    _queries(moment["after_commit_queries"]),
                    _queries(moment["warm_queries"]),
                    f"{moment['warm_us_pending']:.0f}",
                    f"{moment['warm_us_none_pending']:.0f}",
                ]
            )
    if not rows:
        return []
    return [
        "## The moment a scheduled price change starts",
        "",
        "In-process through the WSGI application as gunicorn calls it (the fast path; gzip; "
        "revision pushed, no Redis; `bench/scheduled.py`), last on each size's database. A "
        "change of every non-zero price of one published model in 100 is scheduled for each of 3 "
        "moments a minute apart, and the wall clock is driven to each (`time_machine`). Nothing is "
        "written or announced at a moment: the first request finds its body past its moment and "
        "renders, asking no revision; the requests after it are warm. Beside it, taking turns "
        "with it, the first request after a commit half a minute before each moment, which asks "
        "the revision and renders. Medians of the 3. The warm microseconds (fastest of 30 batches "
        "of 200) are the fastest while a change is pending (before each moment but the last) and "
        "while none is (before the changes were scheduled, after the last one), all under the "
        "driven clock.",
        "",
        *_table(
            [
                "models",
                "format",
                "models changed",
                "render at the moment ms",
                "its queries",
                "render after a commit ms",
                "its queries",
                "warm queries after",
                "warm µs, change pending",
                "warm µs, none pending",
            ],
            rows,
        ),
    ]


def _import_row(name: str, runs: list[dict], scale: float = 1) -> list[str]:
    peak = _median(runs, "peak_rss_mib")
    return [
        name,
        f"{_median(runs, 'seconds') * scale:.2f}",
        f"{_median(runs, 'checked_seconds') * scale:.2f}",
        f"{_median(runs, 'queries'):,.0f}",
        f"{peak:.0f}",
        f"{peak - _median(runs, 'baseline_rss_mib'):.0f}",
    ]


def _import_notes(imports: dict) -> list[str]:
    first, again = imports["with"]["service"], imports["with"]["reimport"]
    seconds, checked = _median(again, "seconds"), _median(again, "checked_seconds")
    if seconds / _median(first, "seconds") < REIMPORT_TARGET:
        return []
    return [
        f"The no-op re-import misses its target: {checked:.2f} s of its {seconds:.2f} s went "
        "to reading the file and comparing every record with the catalog, "
        f"{seconds - checked:.2f} s to the rest.",
        "",
    ]


def _import_section(results: dict) -> list[str]:
    imports = results["imports"]
    naive = imports["naive"]
    size = imports["size"]
    sampled = naive["models"] < size
    naive_name = f"naive, one model at a time ({naive['models']:,} models" + (
        f", time scaled ×{size / naive['models']:g})" if sampled else ")"
    )
    rows = [
        _import_row("import service, empty database", imports["with"]["service"]),
        _import_row("import service, same file again (no-op)", imports["with"]["reimport"]),
        _import_row(naive_name, [naive], scale=size / naive["models"]),
    ]
    by_size = [
        [f"{size:,}", f"{figures['loaded']['seconds']:.2f}", str(figures["loaded"]["queries"])]
        for size, figures in sorted(results["sizes"].items())
    ]
    return [
        # One title whatever the size: a run writes over its own section, never beside it.
        "## Import of the largest catalog",
        "",
        f"{size:,} models. Each run in a process of its own, on a fresh database, recording "
        "the change history as the app does; medians of "
        f'{len(imports["with"]["service"])} runs. "Checked" is '
        "when the service had compared every record with the catalog and validated those "
        "that change it (for the naive import, when the file was parsed). Peak memory is the "
        "process's maximum resident set (`ru_maxrss`), growth is that minus the resident set "
        "before the import (Django loaded, file read). The naive import is the obvious loop: "
        "the same parsing, then "
        "`full_clean()`, `save()` and `datacenters.set()` per model in one transaction"
        + (
            f"; it runs on every {size // naive['models']}th model of the same file and its "
            "time is scaled to the whole file (every model costs it the same queries, so the "
            "scaling is linear, and if anything it flatters the naive import, whose indexes "
            "grow); its queries are those of the sample."
            if sampled
            else "."
        ),
        "",
        *_table(["import", "seconds", "checked at s", "queries", "peak MiB", "growth MiB"], rows),
        *_import_notes(imports),
        *_history_section(imports),
        "The import service loading each catalog of the other sections, into an empty database:",
        "",
        *_table(["models", "seconds", "queries"], by_size),
    ]


HISTORY_STEPS = (
    ("service", "into an empty database"),
    ("reimport", "same file again (no-op)"),
    ("update", "price update of every model"),
)


def _history_section(imports: dict) -> list[str]:
    rows = []
    for step, name in HISTORY_STEPS:
        runs = imports["with"][step], imports["without"][step]
        with_history, without = (_median(side, "seconds") for side in runs)
        rows.append(
            [
                name,
                f"{with_history:.2f}",
                f"{without:.2f}",
                f"{with_history / without:.2f}",
                *(f"{_median(side, 'queries'):,.0f}" for side in runs),
                " / ".join(f"{_median(side, 'history_records'):,.0f}" for side in runs),
            ]
        )
    headers = ["import", "s with history", "s without", "ratio", "queries with", "queries without"]
    return [
        "### The cost of history",
        "",
        "The import service with the change history as the app records it (one record per "
        "model written, copied in bulk by one statement per batch: `catalog/history.py`) and "
        "without it (`SIMPLE_HISTORY_ENABLED = False`: `bench/settings_without_history.py`). "
        "Each side, on a fresh database, imports the file, imports it again, then imports it "
        "with every model's prompt price 10% higher. The two sides take turns, the first "
        f"changing each run; medians of {len(imports['with']['service'])} runs each; the ratio "
        "is with history over without.",
        "",
        *_table([*headers, "history records with / without"], rows),
    ]


def _admin_section(results: dict) -> list[str]:
    rows = []
    for size, figures in sorted(results["sizes"].items()):
        admin = figures["inprocess"]["admin"]
        if "skipped" in admin:
            rows.append([f"{size:,}", "skipped", admin["skipped"], ""])
            continue
        for page, label in (("list", "list"), ("search", "list, search “Instruct”")):
            rows.append(
                [f"{size:,}", label, _queries(admin[page]["queries"]), f"{admin[page]['ms']:.0f}"]
            )
    return [
        "## Admin list page",
        "",
        "`/admin/catalog/servedmodel/` signed in as a superuser, in-process with Django's test "
        "client; median of 5 requests after a first one.",
        "",
        *_table(["models", "page", "queries", "ms"], rows),
    ]


def _memory_section(results: dict) -> list[str]:
    rows = []
    for size, figures in sorted(results["sizes"].items()):
        for server, load in figures["load"]["servers"].items():
            if server in SERVER_NAMES:
                rows.append(
                    [
                        f"{size:,}",
                        SERVER_NAMES[server],
                        _mib(load["idle_rss_mib"]),
                        _mib(load["rss_mib"]),
                    ]
                )
    return [
        "## Worker memory",
        "",
        "Resident set (VmRSS) of each gunicorn worker, MiB: after start-up (one health check, no "
        "catalog request) and after serving the load runs above.",
        "",
        *_table(["models", "server", "after start", "after serving"], rows),
    ]


def _analysis(results: dict) -> list[str]:
    size = results["settings"]["target_size"]
    figures = results["sizes"].get(size, {})
    breakdown = figures.get("breakdown")
    if not breakdown:
        return []
    load = dict(figures["load"]["servers"])
    if "typed" in figures["load"]:
        load["typed"] = figures["load"]["typed"]["servers"]["push"]
    rows = [
        [
            SERVER_NAMES[server],
            *(f"{times[encoding]:.0f}" for encoding in ENCODINGS),
            *(
                f"{load[server][encoding]['ratio']:.2f}" if server in load else "–"
                for encoding in ENCODINGS
            ),
        ]
        for server, times in breakdown.items()
    ]
    fallback = [
        f"{breakdown['strict'][encoding] - breakdown['push'][encoding]:.0f}"
        for encoding in ENCODINGS
    ]
    return [
        "## A warm request in-process",
        "",
        f"At {size:,} models, microseconds per warm request with the app called in-process (no "
        "sockets, no gunicorn; the fastest of 15 batches of 200, from 3 processes taken in turn); "
        "ratios are from the load runs above. Asking PostgreSQL for the revision, what strict "
        "mode does on every request and what a process does while its listener is down, costs "
        f"{fallback[0]} µs (identity) and {fallback[1]} µs (gzip). The typed row asks "
        "`?schema_version=2.4` of the pushed app; its ratios are to the bare app replaying the "
        "typed bytes.",
        "",
        *_table(["server", "µs identity", "µs gzip", "ratio identity", "ratio gzip"], rows),
    ]


def _freshness_section(results: dict) -> list[str]:
    size = results["settings"]["target_size"]
    figures = results["sizes"].get(size, {}).get("freshness")
    if not figures:
        return []
    rows = [
        [
            what,
            str(figures[key]["changes"]),
            *(f"{figures[key][stat]:.2f}" for stat in ("median_ms", "p99_ms", "max_ms")),
        ]
        for key, what in (
            ("notified", "commit → notification in another process's listener"),
            ("fresh_response", "commit → first fresh response of another process (HTTP)"),
        )
    ]
    return [
        "## From a commit to another process",
        "",
        f"At {size:,} models (`bench/freshness.py`). The notification: a process of its own "
        "holding the app's listener notes when each revision arrives, on the same monotonic "
        "clock as the committing process (negative: delivered before the commit call returned). "
        "The fresh response: HEAD requests to a one-worker gunicorn (push) until the ETag "
        "changes; it includes rendering the new revision.",
        "",
        *_table(["delay", "changes", "median ms", "p99 ms", "max ms"], rows),
    ]


def _data_section(results: dict) -> list[str]:
    data = results.get("data")
    if data is None:  # figures of a run from before the bench named its data
        return []
    contents = dict(data["contents"])
    models = contents.pop("models")
    if data["revision"] == "current":
        what = (
            "are of the current flat revision (`../shared/docs/CONTRACTS.md` section 1): "
            "besides the original contract's fields, they include its new fields and values"
        )
    else:
        what = (
            "use only what the original flat contract knows (`--data original`, the default "
            "until the importer reads the current revision): none of its new fields or values"
        )
    return [
        "## Data",
        "",
        f"The generated catalogs (`bench/generate.py`, the same bytes for the same size) {what}. "
        f"Of the {models:,} models of the largest:",
        "",
        *_table(
            ["models with", "count"], [[name, f"{count:,}"] for name, count in contents.items()]
        ),
    ]


def markdown(results: dict) -> str:
    lines = [
        "# Performance",
        "",
        f"Written by `{results['command']}` on {results['started']} (the bench took "
        f"{results['seconds'] / 60:.1f} minutes). `make bench` rewrites the sections it measures "
        "(the code is in `bench/`) and keeps every other section, written by hand or by a run of "
        "one section (`--lookup-only`), where it stands: edit only those. The machines here are "
        "shared and noisy: read ratios measured side by side in one run, not absolute times.",
        "",
        "## Machine",
        "",
        *_table(["", ""], [[key, value] for key, value in results["machine"].items()]),
        *_data_section(results),
        "## Targets",
        "",
        *_table(["target", "measured", ""], targets(results)),
        *_targets_where(results),
    ]
    if results.get("redis_skipped"):
        lines += [f"Redis figures skipped: {results['redis_skipped']}.", ""]
    lines += load_section(results)
    lines += _analysis(results)
    lines += _freshness_section(results)
    lines += _queries_section(results)
    lines += scheduled_section(results)
    lines += _import_section(results)
    lines += _admin_section(results)
    lines += _memory_section(results)
    return "\n".join(lines).rstrip() + "\n"


# --- The price API's batch lookup (``--lookup-only``, bench/lookup.py) -----------------------
LOOKUP_TITLE = "## The price API's batch lookup"


def lookup_section(figures: dict, command: str, load: str) -> list[str]:
    return [
        LOOKUP_TITLE,
        "",
        f"`{command}` (not part of a full run: it adds minutes). {figures['models']:,} models "
        f"with a year of daily price changes ({figures['records']:,} history records, written "
        f"in SQL by `bench/lookup.py`), {figures['pairs']:,} (model, moment) pairs drawn at "
        "random over the year; medians of 7 runs after one, in-process, wall clock (and the "
        "process's CPU, which the shared machine's load disturbs less). Load average during "
        f"the run: {load}.",
        "",
        *_table(
            ["what", "ms", "queries"],
            [
                [
                    "`catalog.timeline.prices_at`, the same batch again (the lookup alone)",
                    f"{figures['lookup_ms']:.0f}",
                    str(figures["lookup_queries"]),
                ],
                [
                    "`POST /api/v1/prices/lookup` of records never seen, JSON in and out "
                    "(target < 100 ms)",
                    f"{figures['post_unseen_ms']:.0f} (CPU {figures['post_unseen_cpu_ms']:.0f})",
                    str(figures["lookup_queries"]),
                ],
                [
                    "`POST /api/v1/prices/lookup`, the same batch again",
                    f"{figures['post_ms']:.0f} (CPU {figures['post_cpu_ms']:.0f})",
                    str(figures["lookup_queries"]),
                ],
                [
                    "`GET /api/v1/models/<id>/prices`, rendered anew (366 records)",
                    f"{figures['timeline_cold_ms']:.0f}",
                    "",
                ],
                [
                    "`GET /api/v1/changes` (first page of 100), rendered anew",
                    f"{figures['feed_first_page_cold_ms']:.0f}",
                    "",
                ],
            ],
        ),
        "A batch of records never seen reads one page of the history per record (about 900 "
        "of 1,000: `EXPLAIN (ANALYZE, BUFFERS)`), from the operating system's cache into "
        "PostgreSQL's; the same batch again finds them in PostgreSQL's buffers. No record is "
        "kept in the process: each is read from its JSON and written as text around its costs, "
        "by the shape of its prices (`catalog.timeline.Shape`, `router.api.representation."
        "answer_json`), of which a catalog has few; a batch of records never seen starts with "
        "those caches empty.",
        "",
    ]


def merged(previous: str, generated: str) -> str:
    """The report: ``generated``'s ``## `` sections, and every other ``## `` section of
    ``previous`` (written by hand, or by a partial run) kept as it is, in place and in order.

    A kept section stays after the section it followed in ``previous``; a generated section
    that ``previous`` lacks comes before the next one it has, in ``generated``'s order.
    ``generated``'s preamble (the text before its first section) replaces ``previous``'s, unless
    it has none.
    """
    old_preamble, old_sections = _sections(previous)
    new_preamble, new_sections = _sections(generated)
    written = dict(new_sections)
    pending = [title for title, _ in new_sections]
    parts = [new_preamble or old_preamble]
    for title, body in old_sections:
        if title not in written:
            parts.append(body)
        elif title in pending:
            upto = pending.index(title) + 1
            parts += [written[pending_title] for pending_title in pending[:upto]]
            del pending[:upto]
    parts += [written[title] for title in pending]
    return "\n\n".join(part for part in parts if part) + "\n"


def _sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text``'s preamble and its ``## `` sections as (heading line, text), each stripped of
    the blank lines that end it."""
    chunks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## "):
            chunks.append([])
        chunks[-1].append(line)
    preamble, *sections = ("\n".join(chunk).rstrip() for chunk in chunks)
    return preamble, [(section.split("\n", 1)[0], section) for section in sections]
