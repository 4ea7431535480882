"""``python -m config.serve ARGS`` is ``gunicorn ARGS``, with a malformed WEB_CONCURRENCY said in
one line: gunicorn reads that variable as it is imported, before any configuration file, and a
value that is not a whole number stops it with a traceback (a negative one, with a line that
does not name it). Every start command goes through here (README, "Docker")."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int


def web_concurrency(default: int) -> int:
    """Worker processes from WEB_CONCURRENCY: also read by gunicorn.conf.py."""
    return env_int("WEB_CONCURRENCY", default, minimum=1)


def main() -> None:
    try:
        web_concurrency(1)
    except ImproperlyConfigured as error:
        sys.exit(f"ImproperlyConfigured: {error}")  # as manage.py says it
    if not os.environ.get("WEB_CONCURRENCY", "unset").strip():
        # Blank is unset, as config.env reads every variable; gunicorn would fail on it.
        del os.environ["WEB_CONCURRENCY"]
    from gunicorn.app.wsgiapp import run

    # gunicorn re-executes its command line on SIGUSR2 (a binary upgrade): its own script then,
    # beside this Python (its bin/ need not be on PATH, as under `make run`).
    script = Path(sys.executable).with_name("gunicorn")
    sys.argv[0] = str(script) if script.exists() else shutil.which("gunicorn") or sys.argv[0]
    run(prog="gunicorn")


if __name__ == "__main__":
    main()
