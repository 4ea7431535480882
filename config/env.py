"""Typed readers for the environment: each refuses a malformed value with the variable's name."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value: int | None = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        # One message for both: it names every value accepted.
        raise ImproperlyConfigured(f"{name} must be a whole number from {minimum} up, not {raw!r}.")
    return value


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices``, in any case, returned as ``choices`` spell it."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    by_folded = {choice.casefold(): choice for choice in choices}
    try:
        return by_folded[raw.strip().casefold()]
    except KeyError:
        raise ImproperlyConfigured(
            f"{name} must be one of {', '.join(choices)}, not {raw!r}."
        ) from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """Read ``X-Forwarded-Proto: https`` into Django's ``("HTTP_X_FORWARDED_PROTO", "https")``.

    Unset or empty means no header is trusted.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, colon, value = (part.strip() for part in raw.partition(":"))
    if not colon or not value or not re.fullmatch(r"[A-Za-z0-9-]+", header):
        raise ImproperlyConfigured(
            f"{name} must name a header and its value, like 'X-Forwarded-Proto: https', "
            f"not {raw!r}."
        )
    return "HTTP_" + header.upper().replace("-", "_"), value


def parse_database_url(name: str, url: str) -> dict:
    """Turn ``postgres://user:password@host:port/name?opt=value`` into a DATABASES entry.

    A unix-socket directory may be given as ``?host=/path`` (as libpq accepts).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// or postgresql:// URL, not {url!r}."
        )
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    host = options.pop("host", None) or parts.hostname or ""
    db_name = unquote(parts.path.lstrip("/"))
    if not db_name:
        raise ImproperlyConfigured(f"{name} must name a database, as in postgres://host/NAME.")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a malformed port: {url!r}.") from None
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db_name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(host),
        "PORT": str(port or ""),
        "OPTIONS": options,
    }


def parse_redis_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(f"{name} must be a redis:// URL, not {url!r}.")
    return url


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


def env_rate(name: str, default: str | None) -> str | None:
    """A request rate as DRF's throttles read it, such as ``120/minute`` (per second, minute,
    hour or day); ``0`` (or empty) is None: no limit."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip() in {"", "0"}:
        return None
    match = _RATE.match(raw)
    if match is None or int(match[1]) == 0:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 120/minute (per second, minute, hour or day), or 0 "
            f"for none, not {raw!r}."
        )
    return f"{int(match[1])}/{match[2]}"
