"""Staff sign-in is throttled per account and per address (django-axes, issue #12 item 1)."""

from __future__ import annotations

import io

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from router.client_address import client_ip_address
from tests.helpers import ENDPOINT

LOGIN_URL = reverse("admin:login")
ADMIN_URL = reverse("admin:index")
LOCKOUT_WORDS = "Too many failed sign-in attempts"


@pytest.fixture
def limit(settings):
    """The configured number of failures that locks an account or an address."""
    assert settings.AXES_FAILURE_LIMIT >= 2
    return settings.AXES_FAILURE_LIMIT


def sign_in(client, username, password, address="192.0.2.10", **headers):
    return client.post(
        LOGIN_URL,
        {"username": username, "password": password, "next": ADMIN_URL},
        REMOTE_ADDR=address,
        **headers,
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_settings_lock_per_account_and_per_address_with_a_cool_off(settings):
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_FAILURE_LIMIT == 5


def test_right_password_signs_in_after_fewer_failures_than_the_limit(client, editor, limit):
    for _ in range(limit - 1):
        assert sign_in(client, "editor", "wrong").status_code == 200

    response = sign_in(client, "editor", "pw")

    assert response.status_code == 302
    assert signed_in(client)


def test_account_is_locked_after_the_limit_even_for_the_right_password(client, editor, limit):
    # Each guess from another address: the account's own count stops them.
    for attempt in range(limit):
        sign_in(client, "editor", "wrong", address=f"192.0.2.{attempt + 1}")

    response = sign_in(client, "editor", "pw", address="198.51.100.7")

    assert response.status_code == 429
    assert not signed_in(client)
    assert LOCKOUT_WORDS in response.content.decode()


def test_address_is_locked_after_the_limit_even_for_the_right_password(client, editor, limit):
    # Each guess for another account: the address's own count stops them.
    for attempt in range(limit):
        sign_in(client, f"someone-{attempt}", "wrong", address="203.0.113.5")

    refused = sign_in(client, "editor", "pw", address="203.0.113.5")
    assert refused.status_code == 429
    assert not signed_in(client)

    # The account itself is not locked: from elsewhere its owner still signs in.
    assert sign_in(client, "editor", "pw", address="198.51.100.7").status_code == 302
    assert signed_in(client)


def test_lockout_page_is_the_sign_in_page_with_a_clear_message(client, editor, limit):
    for _ in range(limit):
        response = sign_in(client, "editor", "wrong")

    # The limit-th failure already answers with the lockout page.
    assert response.status_code == 429
    html = response.content.decode()
    assert (
        "Too many failed sign-in attempts for this account or from this address: signing in "
        "is locked. Try again in 15 minutes, or ask an administrator to lift the lock."
    ) in html
    assert 'id="login-form"' in html
    assert "Model catalog" in html
    # The same page for an account that does not exist: it tells a guesser nothing.
    for _ in range(limit):
        other = sign_in(client, "nobody", "wrong", address="198.51.100.99")
    assert other.status_code == 429
    assert LOCKOUT_WORDS in other.content.decode()


def test_failed_attempts_keep_no_password(client, editor):
    sign_in(client, "editor", "hunter2-secret")

    attempt = AccessAttempt.objects.get()
    assert attempt.username == "editor"
    assert "hunter2-secret" not in attempt.post_data


def test_command_lifts_an_account_lock(client, editor, limit):
    for _ in range(limit):
        sign_in(client, "editor", "wrong")
    assert sign_in(client, "editor", "pw").status_code == 429

    out = io.StringIO()
    call_command("axes_reset_username", "editor", stdout=out)

    assert "attempts removed" in out.getvalue()
    assert sign_in(client, "editor", "pw").status_code == 302
    assert signed_in(client)


def test_command_lifts_an_address_lock(client, editor, limit):
    for attempt in range(limit):
        sign_in(client, f"someone-{attempt}", "wrong", address="203.0.113.5")
    assert sign_in(client, "editor", "pw", address="203.0.113.5").status_code == 429

    call_command("axes_reset_ip", "203.0.113.5", stdout=io.StringIO())

    assert sign_in(client, "editor", "pw", address="203.0.113.5").status_code == 302


def test_public_endpoint_is_served_to_a_locked_out_address(client, editor, catalog, limit):
    for _ in range(limit):
        sign_in(client, "editor", "wrong", address="127.0.0.1")
    assert sign_in(client, "editor", "pw", address="127.0.0.1").status_code == 429

    response = client.get(ENDPOINT, REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    assert response.json()["data"]
    # Still the lean path, which stops before the sessions, auth and axes middleware.
    assert "X-Frame-Options" not in response.headers


def test_endpoint_requests_never_count_as_sign_in_attempts(client, editor, catalog, limit):
    with CaptureQueriesContext(connection) as queries:
        for _ in range(limit * 10):
            assert client.get(ENDPOINT).status_code == 200
            assert client.head(ENDPOINT).status_code == 200
    assert client.post(ENDPOINT).status_code == 405

    assert not any("axes_" in query["sql"] for query in queries.captured_queries)
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "editor", "pw", address="127.0.0.1").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_address_lock(client, editor, limit):
    # Without a trusted proxy (TRUSTED_PROXY_COUNT=0) X-Forwarded-For is anyone's to write.
    for attempt in range(limit):
        sign_in(
            client,
            f"someone-{attempt}",
            "wrong",
            address="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}",
        )

    response = sign_in(
        client, "editor", "pw", address="203.0.113.5", HTTP_X_FORWARDED_FOR="10.9.9.9"
    )

    assert response.status_code == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (1, "198.51.100.1", "198.51.100.1"),
        # The client may send its own header; our one proxy appends the address it saw.
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        # Fewer addresses than proxies, or a malformed one: the peer's address.
        (2, "198.51.100.1", "10.0.0.2"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_address_reads_forwarded_for_only_from_trusted_proxies(
    settings, proxies, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post(
        LOGIN_URL, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for
    )
    assert client_ip_address(request) == expected
