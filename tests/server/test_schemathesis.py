"""Property-based API tests: schemathesis generates requests from the committed OpenAPI document
and checks that the live server never fails with a 5xx and answers as documented.

It runs against a server of its own (SQLite): fuzzing creates tokens, stops and reruns
executions, moves model aliases -- nothing another test should ever see. Bounded to stay well
under 90 s: 25 examples per operation, derandomized (the same cases every run, so a failure
reproduces), no deadline (a request's latency is not a property of the schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.server.conftest import create_role_tokens, running_server, server_env

pytestmark = pytest.mark.slow

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

# Server-Sent Events never end by design: nothing to validate, and a call would not return.
schema = schemathesis.openapi.from_path(DOCUMENT).exclude(path="/api/v1/events/stream")


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(URL, admin token) of a fresh SQLite server."""
    home = tmp_path_factory.mktemp("fuzz")
    store_uri = f"sqlite:///{home / 'aiflow.db'}"
    admin = create_role_tokens(store_uri)["admin"]
    with running_server(server_env(home, store_uri), log=home / "server.log") as url:
        yield url, admin


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, fuzz_target: tuple[str, str]) -> None:
    url, admin = fuzz_target
    case.call_and_validate(
        base_url=url,
        headers={"Authorization": f"Bearer {admin}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=10,
    )
