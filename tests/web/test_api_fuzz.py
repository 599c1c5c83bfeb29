"""Schemathesis over the JSON API's own description: no 5xx, no answer outside the schema."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import start_campaigns
from web import create_app, store

VOLUNTEER = "volontaria@example.org"
# No 5xx, and every answer as the schema declares it: status, media type, body and headers.
# (Schemathesis' "valid data accepted" check is left out: a schema-valid named gift without
# privacy consent is rightly refused with 422 by a rule no schema can express.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api_app(sqlite_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "fuzz",
            "LEDGER_DATABASE_URL": sqlite_url,
            "STRIPE_SECRET_KEY": None,
            "STRIPE_WEBHOOK_SECRET": None,
        }
    )
    with app.app_context():
        start_campaigns(store())
        store().app.add_user(VOLUNTEER, "volunteer", "una password lunga abbastanza")
        app.config["FUZZ_TOKEN"] = store().app.issue_token(VOLUNTEER)
    yield app
    app.extensions["ledger_store"].close()


def fuzz(app: Flask, headers: dict[str, str]) -> int:
    """Every operation of /api/openapi.json, a bounded number of generated requests each."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=80,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_within_schema(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_within_schema()
        operations += 1
    return operations


@pytest.mark.slow
def test_api_answers_within_its_schema_anonymously(api_app: Flask) -> None:
    assert fuzz(api_app, {}) >= 1


@pytest.mark.slow
def test_api_answers_within_its_schema_with_a_volunteer_token(api_app: Flask) -> None:
    assert fuzz(api_app, {"Authorization": f"Bearer {api_app.config['FUZZ_TOKEN']}"}) >= 1
