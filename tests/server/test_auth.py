"""Authentication and the token lifecycle through the API and the CLI, on real servers."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from aiflow.config import ServerSettings
from aiflow.schemas.entities import Role
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store import db
from aiflow.store.orm import SqlApiToken
from aiflow.store.sql_store import MetaStore
from aiflow.store.tokens import hash_token
from tests.server import seed
from tests.server.conftest import ApiServer, HttpFactory, assert_problem, check_access, unique

TOKENS = "/api/v1/tokens"
TRIGGERS = "/api/v1/triggers"


def stored_hash(api: ApiServer, name: str) -> str:
    with db.get_engine(api.store_uri).connect() as connection:
        value = connection.scalar(select(SqlApiToken.token_hash).where(SqlApiToken.name == name))
    assert value is not None
    return value


def token_named(http: HttpFactory, name: str) -> dict[str, Any]:
    listed = http("admin").get(TOKENS, params={"limit": 500})  # a shared server: one page
    assert listed.status_code == 200, listed.text
    return next(t for t in listed.json()["data"] if t["name"] == name)


# -- who may call what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", TOKENS, None),
        ("POST", TOKENS, "new"),
        ("DELETE", f"{TOKENS}/never-created", None),
    ],
)
def test_token_routes_are_for_admins_only(
    http: HttpFactory, method: str, path: str, body: str | None
) -> None:
    request = {"json": {"name": unique("matrix"), "role": "viewer"}} if body else {}
    responses = check_access(http, method, path, Role.ADMIN, **request)
    expected = {"GET": 200, "POST": 201, "DELETE": 404}[method]
    assert responses["admin"].status_code == expected, responses["admin"].text


@pytest.mark.parametrize(
    ("method", "path", "least", "expected"),
    [
        ("GET", TRIGGERS, Role.VIEWER, 200),
        ("GET", f"{TRIGGERS}/{{name}}", Role.VIEWER, 200),
        ("GET", f"{TRIGGERS}/{{name}}/executions", Role.VIEWER, 200),
        ("POST", TRIGGERS, Role.EDITOR, 201),
        ("PATCH", f"{TRIGGERS}/{{name}}", Role.EDITOR, 200),
        ("DELETE", f"{TRIGGERS}/{{name}}", Role.EDITOR, 200),
    ],
)
def test_trigger_routes_need_an_editor_to_change_anything(
    api: ApiServer, http: HttpFactory, method: str, path: str, least: Role, expected: int
) -> None:
    """No token is 401, a viewer may read but not change (403); editors and admins may."""
    store = MetaStore(api.store_uri)
    workflow = seed.workflow(store)[0].workflow_name
    name = unique("matrix")
    request: dict[str, Any] = {}
    if method == "POST":
        request["json"] = {"name": name, "workflow": workflow, "interval": 60}
    else:
        store.create_trigger(TriggerCreate(name=name, workflow=workflow, interval=60))
    if method == "PATCH":
        request["json"] = {"enabled": False}
    responses = check_access(http, method, path.format(name=name), least, **request)
    first_allowed = "viewer" if least is Role.VIEWER else "editor"
    assert responses[first_allowed].status_code == expected, responses[first_allowed].text


def test_metrics_are_for_any_role(http: HttpFactory) -> None:
    responses = check_access(http, "GET", "/metrics", Role.VIEWER)
    assert {response.status_code for response in responses.values()} == {401, 200}


def test_ready_answers_a_probe_without_a_token_but_tells_it_nothing_more(
    http: HttpFactory,
) -> None:
    """A kubelet's readiness probe carries no token; what the server runs is for viewers."""
    anonymous = http(None).get("/ready")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}
    viewer = http("viewer").get("/ready").json()
    assert viewer["status"] == "ready" and viewer["version"] and viewer["revision"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer aif_not-a-real-token", "Bearer not-even-the-prefix", "Bearer"],
)
def test_invalid_tokens_are_401_and_say_so(http: HttpFactory, authorization: str) -> None:
    response = http(None).get("/ready", headers={"Authorization": authorization})
    assert_problem(response, 401, "unauthorized")
    expected = "Bearer" if authorization == "Bearer" else 'Bearer error="invalid_token"'
    assert response.headers["www-authenticate"] == expected


def test_other_schemes_are_not_accepted(api: ApiServer, http: HttpFactory) -> None:
    basic = http(None).get("/ready", headers={"Authorization": f"Basic {api.tokens['admin']}"})
    assert_problem(basic, 401, "unauthorized")
    query = http(None).get("/metrics", params={"token": api.tokens["admin"]})
    assert_problem(query, 401, "unauthorized")


def test_forbidden_names_the_role_needed(http: HttpFactory) -> None:
    body = assert_problem(http("editor").get(TOKENS), 403, "forbidden")
    assert "role editor" in body["detail"] and "needs admin" in body["detail"]


# -- tokens through the API ---------------------------------------------------------------------


def test_token_lifecycle_through_the_api(api: ApiServer, http: HttpFactory) -> None:
    name = unique("api")
    created = http("admin").post(TOKENS, json={"name": name, "role": "editor"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret = body.pop("token")
    assert secret.startswith("aif_")
    assert body["name"] == name and body["role"] == "editor"
    assert body["last_used_at"] is None and body["revoked_at"] is None

    assert stored_hash(api, name) == hash_token(secret) != secret
    listed = http("admin").get(TOKENS, params={"limit": 500}).text
    assert secret not in listed and hash_token(secret) not in listed and "token_hash" not in listed

    # the new token works with its role, and its use is recorded
    assert http(token=secret).get("/ready").status_code == 200
    assert_problem(http(token=secret).get(TOKENS), 403, "forbidden")
    assert token_named(http, name)["last_used_at"] is not None

    duplicate = http("admin").post(TOKENS, json={"name": name, "role": "viewer"})
    assert "already exists" in assert_problem(duplicate, 409, "already_exists")["detail"]

    revoked = http("admin").delete(f"{TOKENS}/{name}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_problem(http(token=secret).get("/ready"), 401, "unauthorized")
    again = http("admin").delete(f"{TOKENS}/{name}")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]

    missing = http("admin").delete(f"{TOKENS}/{unique('missing')}")
    assert_problem(missing, 404, "not_found")


def test_role_defaults_to_viewer(http: HttpFactory) -> None:
    created = http("admin").post(TOKENS, json={"name": unique("default")})
    assert created.status_code == 201 and created.json()["role"] == "viewer"


# -- tokens through the CLI ---------------------------------------------------------------------


def test_token_lifecycle_through_the_cli(api: ApiServer, http: HttpFactory) -> None:
    name = unique("cli")
    created = api.cli("token", "create", "--name", name, "--role", "admin")
    secret = created.stdout.strip()
    assert secret.startswith("aif_") and created.stdout == secret + "\n"  # alone, for scripts
    assert "cannot be shown again" in created.stderr

    assert http(token=secret).get(TOKENS).status_code == 200

    listed = api.cli("token", "list", "--json").stdout
    entry = next(t for t in json.loads(listed) if t["name"] == name)
    assert entry["role"] == "admin" and entry["last_used_at"] is not None
    assert set(entry) == {"id", "name", "role", "created_at", "last_used_at", "revoked_at"}
    assert secret not in listed and hash_token(secret) not in listed

    revoked = api.cli("token", "revoke", name)
    assert f"revoked token '{name}'" in revoked.stdout
    # Revoked by another process: the server may still answer from the token it verified
    # for up to server.token_cache_seconds (tests/server/test_read_path.py: with 0, at once).
    assert_problem(refused_soon(http(token=secret), TOKENS), 401, "unauthorized")
    assert token_named(http, name)["revoked_at"] is not None


def refused_soon(client: httpx.Client, path: str) -> httpx.Response:
    """The first answer to ``GET path`` that is not a 200, polling for the token cache's
    lifetime (plus ample slack for a loaded machine): the bound a revocation by another
    process is documented to take effect within. Not a timing test."""
    deadline = time.monotonic() + ServerSettings().token_cache_seconds + 30
    while True:
        response = client.get(path)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_cli_errors_are_one_line(api: ApiServer) -> None:
    missing = api.cli("token", "revoke", unique("missing"), check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad_role = api.cli("token", "create", "--name", unique("x"), "--role", "root", check=False)
    assert bad_role.returncode == 2 and "root" in bad_role.stderr  # a usage error (typer)
