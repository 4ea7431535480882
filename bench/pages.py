"""The public list page (issue 20): warm under load beside the bare limit, and its cold render.

    DATABASE_URL=... python -m bench.pages [--sizes 1000,10000] [--load-size 1000]
                                           [--rounds 3] [--duration 3] [--connections 4]

For each size, a fresh database copied from a migrated template is loaded with the generated
catalog (``bench.importing service``, the current revision: tiers, windows, cache prices...);
then, in a process of its own, the cold render: what the first request for ``/models/`` after a
change does (``read_catalog``: the snapshot, each model's row; then the page), ``--renders``
times, median in wall-clock and CPU seconds. At ``--load-size``, the app (``config.wsgi``
under gunicorn, as ``python -m bench`` runs it) serves ``/models/`` beside ``bench.bare_wsgi``
replaying the page's own bytes, in alternating rounds (``bench.serving``); the figure is the
median of each round's ratio to the bare app. Prints the table, then one JSON line. Databases
are named ``<DATABASE_URL's database>_bench_pages_*`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench import ROOT, serving, setup_django

PAGE = "/models/"


def cold_in_process(renders: int) -> None:
    """The cold render of the list page ``renders`` times, in this process; one JSON line."""
    setup_django()
    from django.test import RequestFactory

    from router.pages.cache import pages_cache
    from router.pages.views import model_list

    factory = RequestFactory()
    seconds, cpu_seconds, sizes = [], [], set()
    for _ in range(renders):
        pages_cache.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = model_list(factory.get(PAGE))
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        sizes.add(len(response.content))
    print(
        json.dumps(
            {
                "seconds": statistics.median(seconds),
                "cpu_seconds": statistics.median(cpu_seconds),
                "body_bytes": sizes.pop(),
            }
        )
    )


def main() -> None:
    from bench.__main__ import app_environment, progress, run_task
    from bench.databases import Databases, server_url
    from bench.load import wrk_path

    env = app_environment()
    url = server_url()
    os.environ |= {"DATABASE_URL": url, "DEBUG": "0", "SECRET_KEY": env["SECRET_KEY"]}
    setup_django()  # the generator reads the catalog's choices
    from bench.generate import CURRENT, catalog_bytes

    parser = argparse.ArgumentParser(prog="python -m bench.pages")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--load-size", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.load_size and not wrk_path():
        sys.exit("python -m bench.pages: wrk is not installed (Debian: apt-get install wrk).")

    databases = Databases(url, f"{urlsplit(url).path.lstrip('/') or 'catalog'}_bench_pages")
    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    results: dict = {"sizes": {}}
    try:
        databases.create_template(env)
        # The app runs with DEBUG off: the stylesheet's URL comes from the static manifest.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        for size in sizes:
            catalog = work / f"catalog-{size}.json"
            catalog.write_bytes(catalog_bytes(size, revision=CURRENT))
            size_env = env | {"DATABASE_URL": databases.create(str(size), template="template")}
            run_task("importing", "service", str(catalog), env=size_env)
            cold = run_task("pages", "cold", str(args.renders), env=size_env)
            progress(f"{size}: cold render of {PAGE}: {json.dumps(cold)}")
            results["sizes"][size] = {"cold": cold}
            if size == args.load_size:
                load = serving.LoadSettings(
                    args.duration, args.rounds, args.connections, args.workers
                )
                results["sizes"][size]["warm"] = warm(size_env, load, work, progress)
            databases.drop(str(size))
    finally:
        for suffix in list(databases.created):
            databases.drop(suffix)
    print(table(results, args))
    print(json.dumps(results))


def warm(env: dict, load, work: Path, progress) -> dict:
    """The app's warm /models/ beside the bare app replaying its bytes, round after round."""
    from bench.load import Server

    servers: dict = {}
    responses = work / "responses-pages"
    responses.mkdir()
    try:
        servers["pages"] = Server("pages", "config.wsgi:application", env, load.workers, work)
        servers["pages"].start(ready_path=PAGE)
        sizes = serving.save_responses(servers["pages"], responses, PAGE)
        bare_env = env | {"BENCH_RESPONSES": str(responses)}
        servers[serving.BARE] = Server(
            serving.BARE, "bench.bare_wsgi:application", bare_env, load.workers, work
        )
        servers[serving.BARE].start(ready_path=PAGE)
        return {"body_bytes": sizes} | {
            encoding: serving.rounds(servers, PAGE, encoding == "gzip", load, progress)
            for encoding in serving.ENCODINGS
        }
    finally:
        for server in servers.values():
            server.stop()


def table(results: dict, args) -> str:
    lines = [
        "| models | cold render of /models/ (wall, CPU) | body | warm /models/ vs bare WSGI "
        "(identity; gzip) |",
        "|---|---|---|---|",
    ]
    for size, figures in results["sizes"].items():
        cold = figures["cold"]
        warm_text = "—"
        if "warm" in figures:
            warm = figures["warm"]
            warm_text = "; ".join(
                f"{warm[e]['pages']['rps']:.0f}/s vs {warm[e][serving.BARE]['rps']:.0f}/s = "
                f"**{warm[e]['pages']['ratio']:.2f}**"
                for e in serving.ENCODINGS
            )
        lines.append(
            f"| {size:,} | {cold['seconds'] * 1000:.0f} ms, {cold['cpu_seconds'] * 1000:.0f} ms "
            f"| {cold['body_bytes'] / 1024:.0f} KiB | {warm_text} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["cold"]:
        cold_in_process(int(sys.argv[2]))
    else:
        main()
