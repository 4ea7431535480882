"""Screenshots of the public pages for the README, from the demo catalog.

    DATABASE_URL=postgres://user@host:5432/catalog .venv/bin/python docs/screenshots/make.py

Makes a scratch database beside DATABASE_URL's (``<name>_screenshots``, dropped at the end),
migrates it, loads the demo catalog, announces a price change of one model for the first day of
the second month from now (``import_models --effective-at ... --announce``, so that its chart
has an upcoming step), serves it with ``manage.py runserver`` and captures the list and that
model's page, at 1200 px and at a phone's 390 px, with Playwright and Debian's chromium
(``apt-get install chromium``) into docs/screenshots/*.png.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
MODEL = "meta-llama/Llama-3.3-70B-Instruct"
SHOTS = {
    # name: (path, viewport width, height)
    "models": ("/models/", 1200, 760),
    "model": (f"/models/{MODEL}/?prompt=12000&cached=2000&completion=800#history", 1200, 1100),
    "models-phone": ("/models/?q=llama", 390, 844),
    "model-phone": (f"/models/{MODEL}/", 390, 844),
}


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def next_month_but_one(now: datetime) -> datetime:
    month = now.month + 2
    return datetime(now.year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def announce_a_price_change(env: dict[str, str], work: Path) -> None:
    catalog = json.loads(manage("export_models", env=env))
    [model] = [record for record in catalog["data"] if record["id"] == MODEL]
    model["pricing"]["prompt"] = "0.00000018"
    model["pricing"]["completion"] = "0.0000005"
    changes = work / "prices.json"
    changes.write_text(json.dumps({"data": [model]}))
    moment = next_month_but_one(datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manage("import_models", str(changes), "--effective-at", moment, "--announce", env=env)


def capture(base_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, (path, width, height) in SHOTS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(base_url + path)
            page.screenshot(path=str(HERE / f"{name}.png"))
            page.close()
        browser.close()


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (its database is left alone).")
    parts = urlsplit(url)
    scratch = parts.path.lstrip("/") + "_screenshots"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        connection.execute(f'CREATE DATABASE "{scratch}"')
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{scratch}")),
        "DEBUG": "1",  # runserver serves the stylesheet
        "REDIS_URL": "",
    }
    server = None
    try:
        manage("migrate", "--noinput", env=env)
        manage("load_demo_catalog", env=env)
        with tempfile.TemporaryDirectory() as work:
            announce_a_price_change(env, Path(work))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base_url + "/models/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)  # the server is starting
        capture(base_url)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
    print("\n".join(str(HERE / f"{name}.png") for name in SHOTS))


if __name__ == "__main__":
    main()
