"""Other processes of the app, for tests that need more than one: Python scripts with Django set
up on a given database, talking to the test over their standard input and output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import django, json, sys
django.setup()
from router.cache import catalog_cache
def price():
    return json.loads(catalog_cache.current().body)["data"][0]["pricing"]["prompt"]
"""


def database_url(name: str | None = None) -> str:
    """The URL of the test database (or of ``name`` on the same server)."""
    parts = urlsplit(settings.DATABASE_URL)
    name = name or settings.DATABASES["default"]["NAME"]
    return urlunsplit(parts._replace(path="/" + name))


def environment(database: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database,
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CATALOG_FRESHNESS": settings.CATALOG_FRESHNESS,
        "SECRET_KEY": "test-only-secret-key",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start(script: str, database: str, **extra: str) -> subprocess.Popen[str]:
    """A Python process running ``PRELUDE`` + ``script``, lines in and out."""
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + script],
        cwd=ROOT,
        env=environment(database, **extra),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def run(script: str, database: str, **extra: str) -> str:
    """Run ``PRELUDE`` + ``script`` to the end; its standard output."""
    completed = subprocess.run(
        [sys.executable, "-c", PRELUDE + script],
        cwd=ROOT,
        env=environment(database, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def send(process: subprocess.Popen[str], line: str) -> None:
    """Write ``line`` to the standard input of a process from ``start``."""
    assert process.stdin is not None  # start() opens it as a pipe
    process.stdin.write(line + "\n")
    process.stdin.flush()


def receive(process: subprocess.Popen[str]) -> str:
    """The next line a process from ``start`` printed."""
    assert process.stdout is not None  # start() opens it as a pipe
    return process.stdout.readline()


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream:
            stream.close()


@contextmanager
def serving(env: dict[str, str]) -> Iterator[int]:
    """gunicorn with the shipped configuration, one worker on a loopback port; the port.

    The socket is bound here and handed over (fd://), so a request made before the worker is up
    waits in the listen queue instead of failing: no polling, no sleeping.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.serve",
                "-c",
                "gunicorn.conf.py",
                "config.wsgi",
                "--bind",
                f"fd://{listener.fileno()}",
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=subprocess.DEVNULL,
        )
        try:
            yield listener.getsockname()[1]
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
