"""``python -m config.serve ARGS`` is ``gunicorn ARGS``, with a malformed WEB_CONCURRENCY said in
one line: gunicorn reads that variable as it is imported, before any configuration file, and a
value that is not a whole number stops it with a traceback (a negative one, with a line that
does not name it). Every start command goes through here (README, "Docker")."""

from __future__ import annotations

import shutil
import sys

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
    from gunicorn.app.wsgiapp import run

    # gunicorn re-executes its command line on SIGUSR2 (a binary upgrade): its own script then.
    sys.argv[0] = shutil.which("gunicorn") or sys.argv[0]
    run(prog="gunicorn")


if __name__ == "__main__":
    main()
