"""Import and cold render of the largest catalog by an older checkout and this one, side by side.

    DATABASE_URL=... python -m bench.sidebyside OLD_CHECKOUT [--size 10000] [--runs 5]

Issue 13's target compares this code with the code before the reshape ("stay within 1.5x of
today's figures"), and the figures of two ``make bench`` runs hours apart on a shared machine
cannot be compared. This runs three sides in turn, the first changing each run, so that noise
hits them all:

- ``old``: the checkout at ``OLD_CHECKOUT`` (e.g. a worktree of the commit before the reshape),
  with its own generator's catalog, which must be this generator's ``original`` revision byte
  for byte (checked: else this one's is used, and the report says so);
- ``new``: this checkout with the ``current`` revision (tiers, windows, cache prices...);
- ``new original``: this checkout with the ``original`` revision, for reference.

Each run of a side copies that side's migrated template into a fresh database, imports the file
there with ``bench.importing service`` (the change history on, as the app runs), then, in
another process, renders the catalog ``--renders`` times with ``published_catalog()`` (the old
code's returns ``(revision, body)``); the render figures are the medians of those, in wall-clock
seconds and in CPU seconds of the rendering process (which a loaded machine disturbs less).
Each process runs the side's own code (its checkout on ``PYTHONPATH``); the render is
``render_in_process`` of this file, loaded by path, so that the old checkout needs nothing of
it. Prints the medians over the runs and the ratios to ``old``, then one JSON line. Databases
are named ``<DATABASE_URL's database>_sidebyside_*`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
RENDER = f"import runpy; runpy.run_path({str(HERE)!r})['render_in_process']()"


def render_in_process() -> None:
    """Render the published catalog ``BENCH_RENDERS`` times in this process; one JSON line.

    Runs in either checkout: Django and the checkout's flat published reader only.
    """
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    try:
        from catalog.formats.flat.published import published_catalog
    except ImportError:  # a checkout from before the reader moved into the flat package
        from catalog.published import published_catalog

    seconds, cpu_seconds, bodies = [], [], set()
    for _ in range(int(os.environ.get("BENCH_RENDERS", "5"))):
        started, cpu_started = time.perf_counter(), time.process_time()
        body = published_catalog()[1]
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        bodies.add(hashlib.sha256(body).hexdigest())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "sha256": sorted(bodies),
                "bytes": len(body),
            }
        )
    )


def run_json(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} in {cwd} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench import ROOT
    from bench.__main__ import app_environment, progress
    from bench.databases import Databases, server_url
    from bench.generate import CURRENT, ORIGINAL

    parser = argparse.ArgumentParser(prog="python -m bench.sidebyside", description=__doc__)
    parser.add_argument("old", type=Path, help="the older checkout (its own .venv or this one's)")
    parser.add_argument("--size", type=int, default=10000, help="models (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per side (default %(default)s)")
    parser.add_argument("--renders", type=int, default=5, help="renders per run (%(default)s)")
    args = parser.parse_args()
    old_root = args.old.resolve()

    env = app_environment()
    url = server_url()
    name = url.rsplit("/", 1)[-1].split("?")[0] or "catalog"
    databases = Databases(url, f"{name}_sidebyside")
    work = Path(tempfile.mkdtemp(prefix="sidebyside-"))

    def generate(root: Path, *revision: str) -> Path:
        path = work / f"{root.name}-{'-'.join(revision) or 'own'}.json"
        data = subprocess.run(
            [sys.executable, "-m", "bench.generate", str(args.size), *revision],
            cwd=root,
            env=env | {"PYTHONPATH": str(root)},
            capture_output=True,
            check=True,
        ).stdout
        path.write_bytes(data)
        return path

    original, current = generate(ROOT, ORIGINAL), generate(ROOT, CURRENT)
    old_file = generate(old_root)
    same = old_file.read_bytes() == original.read_bytes()
    if not same:
        old_file = original
    progress(f"the old generator's catalog is the original revision's: {same}")
    sides = {
        "old": (old_root, old_file),
        "new": (ROOT, current),
        "new original": (ROOT, original),
    }
    figures: dict = {side: {"import": [], "render": [], "cpu": [], "runs": []} for side in sides}
    try:
        templates = {old_root: "template_old", ROOT: "template_new"}
        for root, suffix in templates.items():
            template = databases.create(suffix)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
                cwd=root,
                env=env | {"PYTHONPATH": str(root), "DATABASE_URL": template},
                check=True,
            )
        for run in range(args.runs):
            order = list(sides)[run % len(sides) :] + list(sides)[: run % len(sides)]
            for side in order:
                root, path = sides[side]
                database = databases.create("run", template=templates[root])
                side_env = env | {"PYTHONPATH": str(root), "DATABASE_URL": database}
                imported = run_json(
                    [sys.executable, "-m", "bench.importing", "service", str(path)], root, side_env
                )
                rendered = run_json(
                    [sys.executable, "-c", RENDER],
                    root,
                    side_env | {"BENCH_RENDERS": str(args.renders)},
                )
                figures[side]["import"].append(imported["seconds"])
                figures[side]["render"].append(statistics.median(rendered["seconds"]))
                figures[side]["cpu"].append(statistics.median(rendered["cpu_seconds"]))
                figures[side]["runs"].append({"import": imported, "render": rendered})
                progress(
                    f"run {run + 1}/{args.runs} {side}: import {imported['seconds']:.2f} s, "
                    f"render median {statistics.median(rendered['seconds']):.3f} s "
                    f"({rendered['bytes']} bytes)"
                )
    finally:
        databases.drop_all()
    print(f"\n{args.size} models, medians of {args.runs} runs (render: median of {args.renders})")
    print("| side | import s | ratio | cold render s | ratio | its CPU s | ratio |")
    print("|---|---|---|---|---|---|---|")
    base = {
        figure: statistics.median(figures["old"][figure]) for figure in ("import", "render", "cpu")
    }
    for side in sides:
        medians = {figure: statistics.median(figures[side][figure]) for figure in base}
        print(
            f"| {side} | {medians['import']:.2f} | {medians['import'] / base['import']:.2f} "
            f"| {medians['render']:.3f} | {medians['render'] / base['render']:.2f} "
            f"| {medians['cpu']:.3f} | {medians['cpu'] / base['cpu']:.2f} |"
        )
    bodies = {side: figures[side]["runs"][0]["render"]["sha256"] for side in sides}
    print(f"old and new original render the same bytes: {bodies['old'] == bodies['new original']}")
    print(json.dumps({"same_original_file": same, "figures": figures}))


if __name__ == "__main__":
    main()
