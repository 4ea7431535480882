"""Schemathesis drives the WSGI app from its own /api/schema/: every response conforms to it."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from tests.helpers import ENDPOINT


def test_every_response_conforms_to_the_published_schema(transactional_db, catalog, settings):
    # transactional_db: the WSGI handler closes the connection after each request, as in
    # production, which would end the transaction that `db` wraps the test in.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis' WSGI host
    # Loaded inside the test rather than with schemathesis.pytest.from_fixture, whose lazy
    # loader fails on pytest 9 (it sets Function._nodeid, which pytest 9 no longer has).
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    # An Err (an operation schemathesis cannot load) has no ok(): the test fails on it.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert sorted((op.method.upper(), op.path) for op in operations) == [
        ("GET", "/api/v1/changes"),
        ("GET", "/api/v1/changes.atom"),
        ("GET", "/api/v1/models/{model_id}/prices"),
        ("GET", "/api/v1/prices"),
        ("GET", ENDPOINT),
        ("POST", "/api/v1/prices/lookup"),
    ]

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=20,
            deadline=None,
            # The catalog fixture is the same for every example: nothing to reset between them.
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        def conforms(case):
            # All of schemathesis' response checks: not_a_server_error, status_code_conformance,
            # content_type_conformance, response_headers_conformance, response_schema_conformance…
            # requests' default "Accept-Encoding: gzip, deflate" would be sent, and schemathesis'
            # WSGI transport does not decode gzip; test_endpoint checks that the gzip body
            # decompresses to exactly this identity body.
            api = case.path.startswith("/api/v1/")
            response = case.call_and_validate(
                headers={"Accept-Encoding": "identity"},
                # The price API refuses what a schema cannot say is wrong (a future moment, a
                # cursor it never sent) with its documented 400s and 404s.
                excluded_checks=[positive_data_acceptance] if api else None,
            )
            assert response.status_code == 200 or api

        conforms()
