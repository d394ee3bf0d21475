"""The fast read path keeps its guarantees: serving reads are never stale (whoever moves the
alias), revocation through the API is immediate, and with ``token_cache_seconds = 0`` a
revocation by another process is too. Real servers; nothing here measures time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.store import db
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import (
    ApiServer,
    HttpFactory,
    assert_problem,
    create_role_tokens,
    running_server,
    server_env,
)

API = "/api/v1"


def serving(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.get(f"{API}/models/{name}/serving")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_change_through_the_api_is_served_by_the_next_read(
    api: ApiServer, http: HttpFactory
) -> None:
    store = MetaStore(api.store_uri)
    name = seed.model(store, versions=3)[0].model_name
    viewer, editor = http("viewer"), http("editor")
    assert serving(viewer, name)["version"] == 3  # warm whatever could be warmed

    editor.put(f"{API}/models/{name}/aliases/deployed", json={"version": 1}).raise_for_status()
    assert (serving(viewer, name)["version"], serving(viewer, name)["deployed"]) == (1, True)
    editor.post(
        f"{API}/models/{name}/versions/2/promote", json={"stage": "validated"}
    ).raise_for_status()
    editor.put(f"{API}/models/{name}/aliases/deployed", json={"version": 2}).raise_for_status()
    assert (serving(viewer, name)["version"], serving(viewer, name)["stage"]) == (2, "deployed")
    editor.post(f"{API}/models/{name}/rollback").raise_for_status()
    assert serving(viewer, name)["version"] == 1
    editor.delete(f"{API}/models/{name}/aliases/deployed").raise_for_status()
    assert (serving(viewer, name)["version"], serving(viewer, name)["deployed"]) == (3, False)


def test_changes_by_another_process_are_served_by_the_next_read(
    api: ApiServer, http: HttpFactory
) -> None:
    """Serving data is never cached in the server: a trainer registering a version or a CLI
    moving the alias (other processes, straight to the store) is seen at once."""
    store = MetaStore(api.store_uri)
    name = seed.model(store, versions=2)[0].model_name
    viewer = http("viewer")
    assert serving(viewer, name)["version"] == 2
    api.cli("model", "alias", name, "deployed", "1")
    assert serving(viewer, name)["version"] == 1
    store.delete_model_alias(name, "deployed")
    store.register_model_version(name, f"/artifacts/{name}/new", "sklearn")
    assert serving(viewer, name)["version"] == 3


def test_a_token_revoked_through_the_api_fails_at_once_though_remembered(
    http: HttpFactory,
) -> None:
    created = http("admin").post(f"{API}/tokens", json={"name": seed.unique("hot")})
    secret = created.json()["token"]
    client = http(token=secret)
    for _ in range(3):  # verified, then answered from the server's cache
        assert client.get("/ready").status_code == 200
    name = created.json()["name"]
    assert http("admin").delete(f"{API}/tokens/{name}").status_code == 200
    assert_problem(client.get("/ready"), 401, "unauthorized")


@pytest.fixture
def uncached_server(tmp_path: Path) -> Any:
    uri = f"sqlite:///{tmp_path / 'aiflow.db'}"
    tokens = create_role_tokens(uri)
    env = server_env(tmp_path, uri, AIFLOW__SERVER__TOKEN_CACHE_SECONDS="0")
    try:
        with running_server(env, log=tmp_path / "server.log") as url:
            yield ApiServer(url=url, home=tmp_path, store_uri=uri, tokens=tokens)
    finally:
        db.dispose_engine(uri)


def test_without_the_cache_a_revocation_by_another_process_fails_at_once(
    uncached_server: ApiServer,
) -> None:
    secret = uncached_server.tokens["viewer"]
    with httpx.Client(
        base_url=uncached_server.url, headers={"Authorization": f"Bearer {secret}"}
    ) as client:
        assert client.get("/ready").status_code == 200
        uncached_server.cli("token", "revoke", "fixture-viewer")
        assert_problem(client.get("/ready"), 401, "unauthorized")
