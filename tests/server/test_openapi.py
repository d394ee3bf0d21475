"""The committed OpenAPI document (docs/openapi.json) is the code's, and a good one for clients."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from aiflow.server.app import openapi_document
from aiflow.server.problems import PROBLEM_MEDIA_TYPE
from tests.server.conftest import ApiServer

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "openapi.json"
REGENERATE = "regenerate it: `.venv/bin/aiflow openapi > docs/openapi.json`"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# Operations a browser calls without an API token: signing in is how it gets its session (the
# token comes in the body), and signing out only clears the cookie (nothing to authorize).
NO_TOKEN = {"create_session", "delete_session"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_committed_document_is_current() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aiflow", "openapi"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.endswith("}\n")
    assert COMMITTED.is_file(), f"docs/openapi.json is missing: {REGENERATE}"
    assert COMMITTED.read_text() == done.stdout, f"docs/openapi.json is stale: {REGENERATE}"


def test_committed_document_is_a_valid_openapi_document() -> None:
    """Generated clients and the dashboard's typed API read it: a schema error (an OpenAPI 3.2
    keyword in a 3.1 document, a dangling $ref) would break them, not this server."""
    document = json.loads(COMMITTED.read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises OpenAPIValidationError naming the offending part


def test_the_server_serves_the_same_document(api: ApiServer, document: dict[str, Any]) -> None:
    served = httpx.get(f"{api.url}/openapi.json")  # public: the document is in the repository
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(document))


def test_operation_ids_are_unique_function_names(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(i.isidentifier() and "api_v1" not in i for i in ids), ids
    assert {"health", "ready", "metrics", "list_tokens", "create_token", "revoke_token"} <= set(ids)


def test_errors_are_documented_as_problems(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(
        schemas["Problem"]["required"]
    )
    for method, path, operation in operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for status, response in responses.items():
            if status[0] in "45":
                content = response.get("content", {})
                assert list(content) == [PROBLEM_MEDIA_TYPE], (where, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
        if path == "/health":
            assert "security" not in operation and "401" not in responses
            continue
        if operation["operationId"] in NO_TOKEN:
            assert "security" not in operation, where
            continue
        assert operation["security"] == [{"bearer": []}], where
        assert {"401", "403", "503"} <= set(responses), where
        assert "WWW-Authenticate" in responses["401"]["headers"], where
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
