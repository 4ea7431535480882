"""python -m bench: run every section, print the tables, rewrite them in docs/PERFORMANCE.md.

Sections, in order (each printed as it goes):
1. a migrated template database and the generated catalog files (``bench.generate``, of the
   flat revision ``--data`` names);
2. import of the largest catalog: the import service into an empty database, a re-import of
   the same file (a no-op) and a price update of every model, each with the change history
   (as the app runs) and without it (``bench.settings_without_history``), the two sides
   taking turns; then the naive one-model-at-a-time import, on a sample of the same file
   unless ``--naive-sample`` covers it all (``bench.importing``, a process per run);
3. for each catalog size, a fresh database loaded by the import service, then
   queries and times of the real views (``bench.inprocess``) and the warm endpoint under load
   side by side with the bare limit (``bench.serving``), plus, at the target size, the
   microseconds of a warm request in-process (``bench.breakdown``) and how long a commit takes
   to reach another process (``bench.freshness``). The typed representation
   (``?schema_version=2.4``) is measured beside the flat one: its cold render and queries at
   every size, and at the target size its warm request in-process and under load (pushed app
   beside the bare app replaying its bytes, in ``--typed-rounds`` rounds);
4. last on each size's database, the moment a scheduled price change starts
   (``bench.scheduled``): the render at the moment and the warm requests after it, flat and
   typed. ``--scheduled-only`` runs only this (and the loading it needs), prints its table and
   writes no report. ``--load-only`` runs only the pushed app beside the bare app under load,
   the typed representation too at the target size.

The bench installs nothing and needs wrk. It creates databases named ``<prefix>_*`` (by
default ``<DATABASE_URL's database>_bench_*``) on the PostgreSQL server of ``DATABASE_URL`` (or
the embedded one) and drops them at the end, and uses Redis keys under ``bench-<pid>-*`` in the
database of ``--redis-url``, deleted at the end too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import ENDPOINT, ROOT, TYPED_QUERY, report, serving, setup_django
from bench.databases import Databases, server_url
from bench.generate import CURRENT, CURRENT_RECORD_KEYS, ORIGINAL, REVISIONS
from bench.load import Server, wrk_path

DEFAULT_SIZES = (100, 1000, 10000)
BREAKDOWN_ROUNDS = 3
# The import measured as the app runs it (history on) and with the history switched off.
HISTORY_SETTINGS = {
    "with": {},
    "without": {"DJANGO_SETTINGS_MODULE": "bench.settings_without_history"},
}


def placement_parser() -> argparse.ArgumentParser:
    """The options that say where the bench runs and writes, not what it measures."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--db-prefix",
        default=None,
        help="prefix of the databases the bench creates "
        "(default: the name of DATABASE_URL's database, then _bench)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the shared-cache figures; empty to skip them "
        "(default BENCH_REDIS_URL or %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "PERFORMANCE.md",
        help="the report to rewrite (default docs/PERFORMANCE.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; keep the report")
    return parser


def parse_args() -> argparse.Namespace:
    placement = placement_parser()
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n")[0], parents=[placement]
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="catalog sizes, comma-separated (default %(default)s)",
    )
    parser.add_argument(
        "--target-size",
        type=int,
        default=1000,
        help="the size the load target (bench/report.py) applies to; the variants run there",
    )
    parser.add_argument(
        "--duration", type=float, default=2.0, help="seconds per load run (default %(default)s)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=6,
        help="load rounds per server and encoding at the target size (default %(default)s)",
    )
    parser.add_argument(
        "--other-rounds",
        type=int,
        default=2,
        help="load rounds at the other sizes, whose ratios no target judges (default %(default)s)",
    )
    parser.add_argument(
        "--typed-rounds",
        type=int,
        default=4,
        help="load rounds of the typed representation, at the target size (default %(default)s)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=4,
        help="concurrent connections of the load client (default %(default)s)",
    )
    parser.add_argument(
        "--import-runs",
        type=int,
        default=2,
        help="runs of each import, with and without history (default %(default)s)",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=1000,
        help="models the naive import runs on, spread over the largest file; "
        "its time is scaled to the whole file (default %(default)s)",
    )
    parser.add_argument(
        "--data",
        choices=REVISIONS,
        default=None,
        help="the flat revision of the generated catalogs: original (the original contract "
        "only) or current (its new fields and values too, bench/generate.py); default: current "
        "when the importer reads the current revision's keys, else original",
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=300,
        help="commits timed from commit to notification in another process (default %(default)s)",
    )
    parser.add_argument(
        "--http-changes",
        type=int,
        default=40,
        help="commits timed from commit to the first fresh response (default %(default)s)",
    )
    parser.add_argument(
        "--scheduled-only",
        action="store_true",
        help="measure only the moment a scheduled price change starts, at each size; print its "
        "table and write no report",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="measure only the warm endpoint under load, the pushed app beside the bare app, at "
        "each size; print its table and write no report",
    )
    parser.add_argument(
        "--lookup-only",
        action="store_true",
        help="measure only the price API's batch lookup at a year of daily changes, at the "
        "target size (bench/lookup.py); print its figures and write no report",
    )
    args = parser.parse_args()
    if args.data is None:
        args.data = CURRENT if reads_current_revision() else ORIGINAL
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    # The report names the options that change the figures, not where they were measured.
    args.measuring = placement.parse_known_args()[1]
    return args


def reads_current_revision() -> bool:
    """Whether the flat format's names hold the current revision's new record keys (before
    they do, the importer ignores them, and refuses a deprecation date with an hour)."""
    from catalog.formats.flat.names import RECORD_KEYS

    return set(CURRENT_RECORD_KEYS) <= set(RECORD_KEYS)


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def run_task(module: str, *args: str, env: dict[str, str]) -> dict:
    """Run ``python -m bench.<module>`` in a process of its own; its last line is JSON."""
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.{module} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def app_environment() -> dict[str, str]:
    """The environment every process of the bench runs with: production settings, on loopback."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env |= {
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": str(ROOT),
    }
    return env


def redis_problem(url: str) -> str | None:
    """Why the Redis figures cannot be measured, or None when they can."""
    if not url:
        return "no Redis URL given (--redis-url)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return f"Redis at {url} does not answer ({error})"
    return None


def redis_prefix() -> str:
    """This run's Redis key prefix: keys of other runs and of the app are never touched."""
    return f"bench-{os.getpid()}"


def delete_redis_keys(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    keys = list(client.scan_iter(match=f"{redis_prefix()}-*"))
    if keys:
        client.delete(*keys)


def import_section(args, databases: Databases, env: dict, files, repriced: Path) -> dict:
    from catalog.formats.flat.encode import render

    size = args.sizes[-1]
    steps = {"service": files[size], "reimport": files[size], "update": repriced}
    figures: dict = {"size": size}
    figures |= {side: {step: [] for step in steps} for side in HISTORY_SETTINGS}
    for run in range(args.import_runs):
        # The two sides take turns, the first changing each run, so that noise hits both.
        sides = list(HISTORY_SETTINGS)[:: -1 if run % 2 else 1]
        for side in sides:
            database = databases.create("import", template="template")
            run_env = env | HISTORY_SETTINGS[side] | {"DATABASE_URL": database}
            for step, path in steps.items():
                figures[side][step].append(run_task("importing", "service", str(path), env=run_env))
            seconds = {step: figures[side][step][-1]["seconds"] for step in steps}
            progress(
                f"import {size} run {run + 1}/{args.import_runs}, {side} history: "
                f"{seconds['service']:.2f} s, re-import {seconds['reimport']:.2f} s, "
                f"price update {seconds['update']:.2f} s"
            )
    databases.drop("import")

    records = json.loads(files[size].read_bytes())["data"]
    stride = max(1, len(records) // min(args.naive_sample, len(records)))
    sample = files[size].with_name(f"naive-sample-{size}.json")
    sample.write_bytes(render(records[::stride]))
    sample_size = len(records[::stride])
    progress(f"naive import of {sample_size} of the {size} models, one at a time…")
    naive_env = env | {"DATABASE_URL": databases.create("naive", template="template")}
    figures["naive"] = run_task("importing", "naive", str(sample), env=naive_env)
    figures["naive"] |= {
        "models": sample_size,
        "scaled_seconds": figures["naive"]["seconds"] * size / sample_size,
    }
    databases.drop("naive")
    progress(f"naive: {figures['naive']['seconds']:.1f} s for {sample_size} models")
    return figures


def breakdown(env: dict, redis_url: str, prefix: str) -> dict:
    """Microseconds per warm request of each app, in-process: the fastest of rounds taken in
    turn, so that a burst of the machine's other work cannot single out one app. The typed
    representation, on the pushed app, is keyed ``typed``."""
    fastest: dict[str, dict[str, float]] = {}
    runs = [(app.key, app, ()) for app in serving.APPS if redis_url or not app.redis]
    typed_app = next(app for app in serving.APPS if app.key == serving.TYPED_APP)
    runs.append(("typed", typed_app, (TYPED_QUERY,)))
    for _ in range(BREAKDOWN_ROUNDS):
        for key, app, query in runs:
            app_env = serving.app_environment(app, env, redis_url, prefix)
            times = run_task("breakdown", app.wsgi, *query, env=app_env)
            best = fastest.setdefault(key, times)
            for encoding, microseconds in times.items():
                best[encoding] = min(best[encoding], microseconds)
    return fastest


def freshness(args, env: dict, work: Path) -> dict:
    """Commit to notification in another process, and to the first fresh response of a server."""
    server = Server("freshness", "config.wsgi:application", env, 1, work)
    server.start(ready_path="/healthz")
    try:
        return run_task(
            "freshness",
            str(args.changes),
            str(args.http_changes),
            server.url(ENDPOINT),
            env=env,
        )
    finally:
        server.stop()


def size_section(args, size: int, databases: Databases, env: dict, files, redis_url, work):
    catalog_env = env | {"DATABASE_URL": databases.create(str(size), template="template")}
    loaded = run_task("importing", "service", str(files[size]), env=catalog_env)
    progress(f"{size} models imported in {loaded['seconds']:.2f} s; measuring the views…")
    prefix = f"{redis_prefix()}-{size}"
    inprocess_env = catalog_env | {
        "BENCH_REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"{prefix}-inprocess",
    }
    figures = {"loaded": loaded, "inprocess": run_task("inprocess", env=inprocess_env)}
    progress(f"{size}: {json.dumps(figures['inprocess'])}")

    apps = tuple(app for app in serving.APPS if redis_url or not app.redis)
    if size == args.target_size:
        figures["breakdown"] = breakdown(catalog_env, redis_url, prefix)
        progress(f"{size}: µs per warm request, in-process: {json.dumps(figures['breakdown'])}")
        figures["freshness"] = freshness(args, catalog_env, work)
        progress(f"{size}: commit to another process: {json.dumps(figures['freshness'])}")
    load, typed_rounds = load_settings(args, size)
    figures["load"] = serving.measure(
        apps, catalog_env, redis_url, prefix, load, work / str(size), progress, typed_rounds
    )
    figures["scheduled"] = scheduled(size, catalog_env)
    databases.drop(str(size))
    return figures


def load_settings(args, size: int) -> tuple[serving.LoadSettings, int]:
    """The load runs of one size, and its typed rounds: the rounds go where a target judges the
    ratio (the target size), as a loaded machine's single rounds range widely."""
    target = size == args.target_size
    rounds = args.rounds if target else args.other_rounds
    load = serving.LoadSettings(args.duration, rounds, args.connections, workers=2)
    return load, args.typed_rounds if target else 0


def scheduled(size: int, catalog_env: dict) -> dict:
    """The moment a scheduled change starts: last on a database, as it leaves its schedules."""
    figures = run_task("scheduled", env=catalog_env)
    progress(f"{size}: at a scheduled change: {json.dumps(figures)}")
    return figures


def scheduled_only(args, databases: Databases, env: dict, files) -> list[str]:
    """``--scheduled-only``: each size loaded and measured at a scheduled change, nothing else."""
    results: dict = {"sizes": {}}
    for size in args.sizes:
        catalog_env = env | {"DATABASE_URL": databases.create(str(size), template="template")}
        run_task("importing", "service", str(files[size]), env=catalog_env)
        results["sizes"][size] = {"scheduled": scheduled(size, catalog_env)}
        databases.drop(str(size))
    return report.scheduled_section(results)


def load_only(args, databases: Databases, env: dict, files, work: Path) -> list[str]:
    """``--load-only``: each size loaded and its pushed app loaded beside the bare app."""
    results: dict = {
        "settings": vars(args),
        "machine": report.machine(server_url(), ""),
        "sizes": {},
    }
    apps = tuple(app for app in serving.APPS if app.key == serving.TYPED_APP)
    for size in args.sizes:
        catalog_env = env | {"DATABASE_URL": databases.create(str(size), template="template")}
        run_task("importing", "service", str(files[size]), env=catalog_env)
        settings, typed_rounds = load_settings(args, size)
        figures = serving.measure(
            apps, catalog_env, "", "", settings, work / str(size), progress, typed_rounds
        )
        results["sizes"][size] = {"load": figures}
        databases.drop(str(size))
    return report.load_section(results)


def lookup_only(args, env: dict, url: str) -> None:
    """``--lookup-only``: the target size loaded, a year of history added, the lookup timed."""
    from bench.generate import catalog_bytes

    databases = Databases(url, args.db_prefix or f"{urlsplit(url).path.lstrip('/')}_bench")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        progress("migrating the template database…")
        databases.create_template(env)
        catalog = work / "catalog.json"
        catalog.write_bytes(catalog_bytes(args.target_size, revision=args.data))
        catalog_env = env | {
            "DATABASE_URL": databases.create("lookup", template="template"),
            "PUBLIC_API_THROTTLE_RATE": "0",
        }
        run_task("importing", "service", str(catalog), env=catalog_env)
        progress(f"{args.target_size} models imported; adding a year of history…")
        figures = run_task("lookup", env=catalog_env)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        options = [option for option in args.measuring if option != "--lookup-only"]
        command = " ".join(["python -m bench --lookup-only", *options])
        section = report.lookup_section(figures, command, load)
        print("\n".join(section))
        if not args.no_write:
            args.output.write_text(report.merged(args.output.read_text(), "\n".join(section)))
            progress(f"wrote its section into {args.output}")
    finally:
        databases.drop_all()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    # `kill` and Ctrl-C both unwind through the finally blocks: no server or database is left.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = app_environment()
    url = server_url()
    os.environ |= {"DATABASE_URL": url, "DEBUG": "0", "SECRET_KEY": env["SECRET_KEY"]}
    setup_django()
    from bench.generate import catalog_bytes, catalog_records, contents, repriced_catalog_bytes

    if args.lookup_only:
        lookup_only(args, env, url)
        return
    if not wrk_path():
        sys.exit("python -m bench: wrk is not installed (Debian: apt-get install wrk).")
    problem = redis_problem(args.redis_url)
    redis_url = "" if problem else args.redis_url
    if problem:
        progress(f"Redis figures skipped: {problem}")

    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench"
        + (f" BENCH_ARGS='{' '.join(args.measuring)}'" if args.measuring else ""),
        "machine": report.machine(url, redis_url),
        "settings": {
            key: value for key, value in vars(args).items() if key not in ("output", "measuring")
        },
        "redis_skipped": problem,
        "data": {
            "revision": args.data,
            "contents": contents(catalog_records(args.sizes[-1], revision=args.data)),
        },
        "sizes": {},
    }
    prefix = args.db_prefix or f"{urlsplit(url).path.lstrip('/') or 'catalog'}_bench"
    databases = Databases(url, prefix)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        progress("migrating the template database…")
        databases.create_template(env)
        files = {}
        for size in args.sizes:
            files[size] = work / f"catalog-{size}.json"
            files[size].write_bytes(catalog_bytes(size, revision=args.data))
        if args.scheduled_only:
            print("\n".join(scheduled_only(args, databases, env, files)))
            return
        if args.load_only:
            print("\n".join(load_only(args, databases, env, files, work)))
            return
        repriced = work / f"repriced-{args.sizes[-1]}.json"
        repriced.write_bytes(repriced_catalog_bytes(args.sizes[-1], revision=args.data))
        results["imports"] = import_section(args, databases, env, files, repriced)
        for size in args.sizes:
            results["sizes"][size] = size_section(
                args, size, databases, env, files, redis_url, work
            )
    finally:
        databases.drop_all()
        if redis_url:
            delete_redis_keys(redis_url)
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.monotonic() - started

    previous = args.output.read_text() if args.output.exists() else ""
    text = report.merged(previous, report.markdown(results))
    print(text)
    raw = ROOT / "bench" / "results" / "latest.json"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(json.dumps(results, indent=2))
    if not args.no_write:
        args.output.write_text(text)
        progress(f"wrote {args.output} (raw figures: {raw})")


if __name__ == "__main__":
    main()
