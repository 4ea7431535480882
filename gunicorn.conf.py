"""gunicorn's configuration for the service, used by `make run`, the Docker image and the README's
production command (`gunicorn -c gunicorn.conf.py config.wsgi --bind ...`).

Every value comes from the environment (README, "Configuration"); a malformed one, or a setting
Django refuses (such as a missing DATABASE_URL outside DEBUG), stops start-up here with one line
naming it, before any worker is forked. Flags on gunicorn's command line still win.
"""

import os
import sys

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_str
from config.serve import web_concurrency


def _check_settings() -> None:
    """Read Django's settings once in the master: each worker would otherwise fail to boot with
    two tracebacks, and gunicorn would retry them."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 (loads the settings)


def _default_workers() -> int:
    # gunicorn's rule of thumb: two per core, plus one. The cores this process may run on; in a
    # container limited by a CPU quota rather than a cpuset, set WEB_CONCURRENCY.
    return 2 * len(os.sched_getaffinity(0)) + 1


try:
    _check_settings()
    # Sync workers, each with its own rendered catalog in memory (docs/architecture/serving.md).
    workers = env_int(
        "GUNICORN_WORKERS",
        web_concurrency(_default_workers()),
        minimum=1,
    )
    # A worker silent for this long is killed and replaced (a request stuck that long too).
    timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
    # On SIGTERM, requests in progress get this long to finish before their workers are killed.
    graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
    # Headers that set the request's scheme (X-Forwarded-Proto and kin) are believed only from
    # these addresses (gunicorn refuses a malformed list itself, in one line). gunicorn's own
    # default believes them from 127.0.0.1, so a local client claiming https got past
    # SECURE_SSL_REDIRECT, and from any peer on a unix socket: unset, none is believed at all.
    forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS").strip()
    # One line per request on standard output (GUNICORN_ACCESS_LOG= turns it off): the client
    # (and, behind the proxy, the address it reports), the request, status, bytes, time taken.
    accesslog = env_str("GUNICORN_ACCESS_LOG", "-") or None
except ImproperlyConfigured as error:
    sys.exit(f"ImproperlyConfigured: {error}")  # as manage.py says it

if not forwarded_allow_ips:
    secure_scheme_headers: dict[str, str] = {}
    forwarder_headers = ""
access_log_format = (
    '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
)
# gunicorn's control socket (gunicornc) is one path per user, $HOME/.gunicorn/gunicorn.ctl, which
# every instance on a host would take over from the last; nothing here uses it.
control_socket_disable = True
# The workers' heartbeat files in memory: on a container's overlay file system a slow write can
# make a busy worker look dead.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
