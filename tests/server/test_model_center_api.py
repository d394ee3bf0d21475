"""The model center over REST and through ``Client``: promote, rollback with a reason, stages,
tags, history (whose actor is the calling token, never a name the caller sends), lineage and
comparison; 404s naming the missing model or version, and the editor role on every change.

Rows are seeded straight into the server's store (``seed``); every model name is unique, the
server being shared by the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from aiflow.client import Client
from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import ModelChange, ModelComparison, ModelLineage, ModelVersion, Role
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import ApiServer, assert_problem, check_access

API = "/api/v1"
Http = Callable[..., httpx.Client]
EDITOR = "token:fixture-editor"  # the history's actor for the editor token (conftest's name)


@pytest.fixture
def store(api: ApiServer) -> MetaStore:
    return MetaStore(api.store_uri)


@pytest.fixture
def editor(http: Http) -> httpx.Client:
    return http("editor")


@pytest.fixture
def client(api: ApiServer) -> Iterator[Client]:
    with Client(api.url, api.tokens["editor"]) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def detail(response: httpx.Response, status: int, code: str = "invalid_input") -> str:
    return str(assert_problem(response, status, code)["detail"])


def test_promote_deploys_retires_and_records_the_token(
    store: MetaStore, editor: httpx.Client
) -> None:
    name = seed.model(store, versions=3)[0].model_name
    promote = f"{API}/models/{name}/versions/{{}}/promote"

    first = ok(editor.post(promote.format(1), json={"reason": "passed review"}))
    assert (first["version"], first["stage"], first["aliases"]) == (1, "deployed", ["deployed"])
    second = ok(editor.post(promote.format(2)))  # no body: alias deployed, no reason
    assert (second["stage"], second["aliases"]) == ("deployed", ["deployed"])
    assert store.get_model_version(name, 1).stage == "retired"
    assert store.serving_version(name).version == 2  # type: ignore[union-attr]
    ok(editor.post(promote.format(3), json={"alias": "champion"}))  # any alias; not served
    assert store.get_model_version(name, 3).stage == "generated"

    changes = ok(editor.get(f"{API}/models/{name}/history", params={"version": 2}))["data"]
    moves = [c for c in changes if c["kind"] == "alias"]
    assert [(c["field"], c["from_value"], c["to_value"]) for c in moves] == [("deployed", "1", "2")]
    assert {c["actor"] for c in moves} == {EDITOR}
    first = [c for c in store.model_history(name, version=1) if c.kind == "alias"]
    assert [(c.field, c.reason, c.actor) for c in first] == [("deployed", "passed review", EDITOR)]
    retired = [c for c in store.model_history(name, version=1) if c.to_value == "retired"]
    assert len(retired) == 1 and retired[0].actor == EDITOR


def test_promote_refuses_what_cannot_be_served_and_bad_bodies(
    store: MetaStore, editor: httpx.Client
) -> None:
    name = seed.model(store, versions=2)[0].model_name
    path = f"{API}/models/{name}"
    rejected = ok(editor.put(f"{path}/versions/1/stage", json={"stage": "rejected"}))
    assert rejected["stage"] == "rejected"
    assert "rejected" in detail(editor.post(f"{path}/versions/1/promote"), 422)
    assert store.get_model_version(name, 1).aliases == []

    both = editor.post(f"{path}/versions/2/promote", json={"alias": "a", "stage": "validated"})
    assert "not both" in detail(both, 422)
    unknown = editor.post(f"{path}/versions/2/promote", json={"version": 1})
    detail(unknown, 422)
    assert "version 9" in detail(editor.post(f"{path}/versions/9/promote"), 404, "not_found")
    missing = editor.post(f"{API}/models/no-such-model/versions/1/promote")
    assert "'no-such-model'" in detail(missing, 404, "not_found")
    assert store.get_model_version(name, 2).aliases == []


def test_the_older_stage_body_still_sets_the_stage(store: MetaStore, editor: httpx.Client) -> None:
    name = seed.model(store, versions=1)[0].model_name
    promote = f"{API}/models/{name}/versions/1/promote"
    body = {"stage": "validated", "reason": "offline metrics ok"}
    assert ok(editor.post(promote, json=body))["stage"] == "validated"
    assert store.get_model_version(name, 1).aliases == []  # a stage only: no alias moved
    stage = [c for c in store.model_history(name) if c.kind == "stage"][-1]
    assert (stage.to_value, stage.reason) == ("validated", "offline metrics ok")
    assert stage.actor == EDITOR
    detail(editor.post(promote, json={"stage": "gold"}), 422)
    renamed = editor.put(f"{API}/models/{name}/versions/1/stage", json={"stage": "production"})
    assert "now called 'deployed'" in detail(renamed, 422)


def test_rollback_records_its_reason(store: MetaStore, editor: httpx.Client) -> None:
    name = seed.model(store, versions=2)[0].model_name
    for version in (1, 2):
        store.promote_model_version(name, version)
    back = ok(editor.post(f"{API}/models/{name}/rollback", json={"reason": "p99 latency doubled"}))
    assert (back["version"], back["stage"]) == (1, "deployed")
    move = [c for c in store.model_history(name, version=1) if c.kind == "alias"][-1]
    assert (move.from_value, move.to_value) == ("2", "1")
    assert (move.reason, move.actor) == ("p99 latency doubled", EDITOR)
    assert ok(editor.post(f"{API}/models/{name}/rollback"))["version"] == 2  # no body: fine
    too_long = editor.post(f"{API}/models/{name}/rollback", json={"reason": "x" * 1001})
    assert detail(too_long, 422)


def test_tags_set_replace_and_remove(store: MetaStore, editor: httpx.Client) -> None:
    name = seed.model(store, versions=1)[0].model_name
    tags = f"{API}/models/{name}/versions/1/tags"
    assert ok(editor.put(f"{tags}/owner", json={"value": "search"}))["tags"] == {"owner": "search"}
    assert ok(editor.put(f"{tags}/owner", json={"value": "ads"}))["tags"] == {"owner": "ads"}
    ok(editor.put(f"{tags}/ticket", json={"value": "ML-42 = done"}))
    assert ok(editor.delete(f"{tags}/owner"), 204) is None
    assert ok(editor.delete(f"{tags}/owner"), 204) is None  # idempotent, as in the store
    assert store.get_model_version(name, 1).tags == {"ticket": "ML-42 = done"}
    history = [(c.field, c.from_value, c.to_value, c.actor) for c in store.model_history(name)
               if c.kind == "tag"]  # fmt: skip
    assert history == [
        ("owner", None, "search", EDITOR),
        ("owner", "search", "ads", EDITOR),
        ("ticket", None, "ML-42 = done", EDITOR),
        ("owner", "ads", None, EDITOR),
    ]
    detail(editor.put(f"{tags}/-bad", json={"value": "x"}), 422)
    detail(editor.put(f"{tags}/owner", json={"value": ""}), 422)
    detail(editor.put(f"{tags}/owner", json={"value": "a\nb"}), 422)
    missing = editor.put(f"{API}/models/{name}/versions/7/tags/k", json={"value": "v"})
    assert "version 7" in detail(missing, 404, "not_found")


def test_lineage_and_compare(store: MetaStore, editor: httpx.Client) -> None:
    workflow = seed.workflow(store)[0]
    execution = seed.execution(store, workflow)
    name = seed.unique("lineage")
    data = {"data": [{"example": "clicks", "uri": "/d/a.csv", "fingerprint": "sha256:aa"}]}
    first = store.register_model_version(name, "/a/1", "sklearn", lineage=data, checksum="ab" * 32)
    newer = {"data": [{"example": "clicks", "uri": "/d/b.csv", "fingerprint": "sha256:bb"}]}
    second = store.register_model_version(
        name, "/a/2", "sklearn", execution_id=execution.id, parent_version=1, lineage=newer
    )
    store.register_model_version(name, "/a/3", "sklearn", parent_version=2)
    store.log_metrics({"auc": 0.8, "loss": 0.3}, model_version_id=first.id)
    store.log_metrics({"auc": 0.9}, model_version_id=second.id)

    lineage = ok(editor.get(f"{API}/models/{name}/versions/3/lineage"))
    assert (lineage["parent_version"], lineage["ancestors"]) == (2, [2, 1])
    two = ok(editor.get(f"{API}/models/{name}/versions/2/lineage"))
    assert (two["workflow"], two["workflow_version"]) == (workflow.workflow_name, workflow.version)
    assert (two["execution_id"], two["data"]) == (execution.id, newer)

    compared = ok(editor.get(f"{API}/models/{name}/compare", params={"a": 1, "b": 2}))
    assert compared["versions"] == [1, 2]
    assert compared["metrics"] == {"auc": [0.8, 0.9], "loss": [0.3, None]}
    assert compared["lineage_diff"]["parent_version"] == [None, 1]
    assert compared["lineage_diff"]["lineage.data"] == [data["data"], newer["data"]]

    detail(editor.get(f"{API}/models/{name}/compare", params={"a": 1}), 422)
    assert "version 9" in detail(
        editor.get(f"{API}/models/{name}/compare", params={"a": 1, "b": 9}), 404, "not_found"
    )
    assert "version 9" in detail(
        editor.get(f"{API}/models/{name}/versions/9/lineage"), 404, "not_found"
    )
    assert "'no-model'" in detail(editor.get(f"{API}/models/no-model/history"), 404, "not_found")
    assert "version 9" in detail(
        editor.get(f"{API}/models/{name}/history", params={"version": 9}), 404, "not_found"
    )


def test_changes_need_an_editor_and_reads_a_viewer(store: MetaStore, http: Http) -> None:
    name = seed.model(store, versions=2)[0].model_name
    store.promote_model_version(name, 1)
    store.promote_model_version(name, 2)
    version = f"{API}/models/{name}/versions/1"
    changes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{version}/promote", {"json": {"alias": "champion"}}),
        ("PUT", f"{version}/stage", {"json": {"stage": "validated"}}),
        ("PUT", f"{version}/tags/owner", {"json": {"value": "x"}}),
        ("DELETE", f"{version}/tags/owner", {}),
    ]
    for method, path, kwargs in changes:
        check_access(http, method, path, Role.EDITOR, **kwargs)
    check_access(http, "POST", f"{API}/models/{name}/rollback", Role.EDITOR)
    for path, params in [
        (f"{API}/models/{name}/history", {}),
        (f"{version}/lineage", {}),
        (f"{API}/models/{name}/compare", {"a": 1, "b": 2}),
    ]:
        responses = check_access(http, "GET", path, Role.VIEWER, params=params)
        assert responses["viewer"].status_code == 200, responses["viewer"].text


def test_the_client_speaks_the_store_s_names(store: MetaStore, client: Client) -> None:
    name = seed.model(store, versions=3)[0].model_name
    promoted = client.promote_model_version(name, 2, reason="better auc")
    assert isinstance(promoted, ModelVersion) and promoted.stage == "deployed"
    assert client.set_model_alias(name, "deployed", 3, reason="newer").version == 3
    back = client.roll_back_alias(name, reason="regression")
    assert (back.version, back.aliases) == (2, ["deployed"])
    assert client.set_model_version_stage(name, 1, "validated", reason="ok").stage == "validated"
    assert client.tag_model_version(name, 2, "owner", "ml").tags == {"owner": "ml"}
    assert client.tag_model_version(name, 2, "owner", None).tags == {}

    history = client.model_history(name)
    assert all(isinstance(c, ModelChange) for c in history)
    assert history == store.model_history(name)
    assert [c.reason for c in history if c.kind == "alias"] == ["better auc", "newer", "regression"]
    assert {c.actor for c in history if c.kind != "stage" or c.to_value != "generated"} == {EDITOR}
    assert client.model_history(name, version=1) == store.model_history(name, version=1)
    lineage = client.model_lineage(name, 3)
    assert isinstance(lineage, ModelLineage) and lineage == store.model_lineage(name, 3)
    compared = client.compare_model_versions(name, 1, 3)
    assert isinstance(compared, ModelComparison)
    assert compared == store.compare_model_versions(name, 1, 3)

    with pytest.raises(NotFound, match="version 9"):
        client.promote_model_version(name, 9)
    with pytest.raises(InvalidInput, match="tag key"):  # refused before any request
        client.tag_model_version(name, 1, "../x", "v")
    with pytest.raises(InvalidInput, match="alias"):
        client.promote_model_version(name, 1, alias="../x")
