"""Production configuration and small leaks (issue #12 items 2, 3 and 6)."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.embedded_postgres import use_embedded_server
from config.env import env_proxy_ssl_header
from tests.helpers import ENDPOINT, PRODUCTION_ENV, ROOT, run_python

# --- Item 2: the embedded PostgreSQL is for local use only -----------------------------------


def test_production_settings_without_database_url_stop_with_one_line_naming_it():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DEBUG", "EMBEDDED_POSTGRES"}
    }
    result = run_python(["manage.py", "check"], {**env, **PRODUCTION_ENV})

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "ImproperlyConfigured: DATABASE_URL must be set (postgres://user:password@host:5432/name); "
        "the embedded PostgreSQL starts only for local use, with DEBUG=1 or EMBEDDED_POSTGRES=1."
    ]


@pytest.mark.parametrize(
    ("database_url", "debug", "opted_in", "embedded"),
    [
        ("", True, False, True),
        ("", False, True, True),
        ("", True, True, True),
        ("postgres://db.internal/catalog", False, False, False),
        # A configured server wins, even for local use.
        ("postgres://db.internal/catalog", True, True, False),
    ],
)
def test_embedded_server_starts_only_without_a_database_url_and_for_local_use(
    database_url, debug, opted_in, embedded
):
    assert use_embedded_server(database_url, debug=debug, opted_in=opted_in) is embedded


def test_embedded_server_is_refused_outside_local_use():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must be set"):
        use_embedded_server("", debug=False, opted_in=False)


def test_images_start_command_does_not_migrate_and_compose_migrates_once():
    import yaml

    dockerfile = (ROOT / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "gunicorn" in command
    assert "migrate" not in command

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "migrate" in services["migrate"]["command"]
    assert services["migrate"]["restart"] == "no"
    assert services["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }


# --- Item 3: proxy headers are trusted only when configured ----------------------------------


def test_proxy_ssl_header_is_not_trusted_by_default(settings):
    # make test sets no SECURE_PROXY_SSL_HEADER, as production does not unless configured.
    assert settings.SECURE_PROXY_SSL_HEADER is None


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", ENDPOINT])
def test_forwarded_proto_is_ignored_unless_configured(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = None

    response = client.get(path, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response.headers["Location"] == f"https://testserver{path}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", ENDPOINT])
def test_forwarded_proto_is_trusted_when_configured(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert client.get(path, HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get(path).status_code == 301


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("X-Forwarded-Proto: https", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("x-forwarded-ssl:on", ("HTTP_X_FORWARDED_SSL", "on")),
        ("", None),
    ],
)
def test_proxy_ssl_header_is_read_from_its_header_form(monkeypatch, value, expected):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", value)
    assert env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER") == expected


@pytest.mark.parametrize("value", ["https", "X-Forwarded-Proto:", "X Forwarded: https"])
def test_malformed_proxy_ssl_header_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", value)
    with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER"):
        env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")


def test_deploy_check_is_clean_behind_a_configured_proxy():
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {
            **os.environ,
            **PRODUCTION_ENV,
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
            "TRUSTED_PROXY_COUNT": "1",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


# --- Item 6: small leaks ---------------------------------------------------------------------


def test_bogus_host_is_logged_as_one_short_line():
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "client = Client()\n"
        f"print(client.get({ENDPOINT!r}, HTTP_HOST='evil.example').status_code)\n"
        "print(client.get('/admin/', HTTP_HOST='evil-' + 'x' * 5000 + '.example').status_code)\n"
    )
    result = run_python(
        # whitenoise warns that there is no STATIC_ROOT, which only collectstatic creates.
        ["-W", "ignore:No directory at:UserWarning", "-c", script],
        {
            **os.environ,
            **PRODUCTION_ENV,
            "SECURE_SSL_REDIRECT": "0",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["400", "400"]
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0] == (
        "Invalid HTTP_HOST header: 'evil.example'. "
        "You may need to add 'evil.example' to ALLOWED_HOSTS."
    )
    assert lines[1].startswith("Invalid HTTP_HOST header: 'evil-xxx")
    assert lines[1].endswith("… (shortened)")
    assert len(lines[1]) < 400


@pytest.mark.django_db
def test_options_answers_with_the_allowed_methods_only(client, catalog):
    response = client.options(ENDPOINT)

    assert response.status_code == 200
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.content == b""
    # Not DRF's default metadata, which quotes the view's docstring.
    assert b"pre-rendered" not in response.content
