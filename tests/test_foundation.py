"""The service's foundation: settings from the environment, health check, docs pages."""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, parse_database_url, parse_redis_url
from tests.helpers import PRODUCTION_ENV, run_python


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("DEBUG", "maybe", lambda: env_bool("DEBUG")),
        ("CATALOG_CACHE_MAX_AGE", "ten", lambda: env_int("CATALOG_CACHE_MAX_AGE", 0)),
        ("CATALOG_CACHE_MAX_AGE", "-5", lambda: env_int("CATALOG_CACHE_MAX_AGE", 0)),
        ("LOG_LEVEL", "verbose", lambda: env_choice("LOG_LEVEL", ("DEBUG", "INFO"), "INFO")),
    ],
)
def test_malformed_variable_is_refused_with_its_name(monkeypatch, name, value, reader):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader()


def test_database_url_is_parsed_including_a_socket_directory():
    tcp = parse_database_url("DATABASE_URL", "postgres://app:s%40cret@db.internal:6543/catalog")
    assert (tcp["HOST"], tcp["PORT"], tcp["NAME"], tcp["USER"], tcp["PASSWORD"]) == (
        "db.internal",
        "6543",
        "catalog",
        "app",
        "s@cret",
    )
    socket = parse_database_url("DATABASE_URL", "postgresql://postgres:@/postgres?host=/tmp/pg")
    assert (socket["HOST"], socket["NAME"], socket["OPTIONS"]) == ("/tmp/pg", "postgres", {})


@pytest.mark.parametrize("url", ["mysql://x/y", "postgres://host", "not a url"])
def test_malformed_database_url_is_refused_with_its_name(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        parse_database_url("DATABASE_URL", url)


def test_malformed_redis_url_is_refused_with_its_name():
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        parse_redis_url("REDIS_URL", "localhost:6379")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "sometimes"),
        ("DATABASE_URL", "mysql://db/catalog"),
        ("REDIS_URL", "nope"),
        ("LOG_LEVEL", "verbose"),
    ],
)
def test_start_up_stops_on_a_malformed_variable_and_names_it(variable, value):
    result = run_python(["manage.py", "check"], {**os.environ, "SECRET_KEY": "x", variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_start_up_requires_a_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    result = run_python(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_deploy_check_is_clean_with_production_settings():
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**os.environ, **PRODUCTION_ENV},
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(client, settings, django_db_blocker):
    from django.db import connections

    unreachable = {
        **settings.DATABASES["default"],
        "HOST": "127.0.0.1",
        "PORT": "1",
        "OPTIONS": {"connect_timeout": 1},
    }
    with django_db_blocker.unblock():
        original = connections["default"].settings_dict
        connections["default"].close()
        connections["default"].settings_dict = unreachable
        try:
            response = client.get("/healthz")
        finally:
            connections["default"].close()
            connections["default"].settings_dict = original
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db
def test_api_docs_are_served_from_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def test_database_pool_option_serves_queries_through_psycopgs_pool(db, settings):
    # The subprocess connects to this test run's database, whatever server holds it.
    url = urlsplit(settings.DATABASE_URL)._replace(path="/" + settings.DATABASES["default"]["NAME"])
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor: cursor.execute('SELECT 1'); print(cursor.fetchone())\n"
        "print(type(connection.pool).__name__, connection.settings_dict['CONN_MAX_AGE'])\n"
    )
    result = run_python(
        ["-c", script],
        {
            **os.environ,
            "SECRET_KEY": "x",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_POOL": "1",
            "DATABASE_URL": urlunsplit(url),
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(1,)", "ConnectionPool", "0"]
