"""The resource routes against a real server on SQLite and PostgreSQL: shapes, pagination
(cursor and total), filters, sorting, and 404s that name what is missing.

Rows are written straight into the server's store (``seed``); the routes that run workflows
are exercised end to end in ``test_submit.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, get_args

import httpx
import pytest

from aiflow.schemas.api import StageUpdate
from aiflow.schemas.entities import ExecutionStatus
from aiflow.store.sql_store import STAGES, MetaStore
from tests.server import seed

API = "/api/v1"
Http = Callable[[str], httpx.Client]


@pytest.fixture
def store(api: Any) -> MetaStore:
    """The server's own meta store, opened from the test process."""
    return MetaStore(api.store_uri)


@pytest.fixture
def viewer(http: Http) -> httpx.Client:
    return http("viewer")


@pytest.fixture
def editor(http: Http) -> httpx.Client:
    return http("editor")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """Assert an error response: problem JSON with ``status`` whose detail names ``words``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for word in words:
        assert word in body["detail"], body
    return body


def walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated collection, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor is not None else {})}
        page = ok(client.get(path, params=query))
        items += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# -- workflows ----------------------------------------------------------------------------------


def test_workflows_pages_by_name(store: MetaStore, viewer: httpx.Client) -> None:
    names = sorted(seed.unique("wf") for _ in range(3))
    for name in names:
        seed.workflow(store, name)

    listed = walk(viewer, f"{API}/workflows", limit=2)
    listed_names = [w["name"] for w in listed]
    assert listed_names == sorted(listed_names)
    assert len(set(listed_names)) == len(listed_names)  # no page repeats a row
    assert set(names) <= set(listed_names)
    first = ok(viewer.get(f"{API}/workflows", params={"limit": 1, "count": "true"}))
    assert first["total"] == len(listed) and len(first["data"]) == 1
    assert first["next_cursor"] == first["data"][0]["name"]
    assert ok(viewer.get(f"{API}/workflows"))["total"] is None  # only counted on request

    got = ok(viewer.get(f"{API}/workflows/{names[0]}"))
    assert got == {"id": got["id"], "name": names[0], "created_at": got["created_at"]}
    problem(viewer.get(f"{API}/workflows/no-such-wf"), 404, "workflow 'no-such-wf'")


def test_workflow_versions_newest_first_without_plans(
    store: MetaStore, viewer: httpx.Client
) -> None:
    versions = seed.workflow(store, versions=3)
    name = versions[0].workflow_name

    page = ok(viewer.get(f"{API}/workflows/{name}/versions", params={"limit": 2, "count": 1}))
    assert [v["version"] for v in page["data"]] == [3, 2]
    assert page["total"] == 3 and page["next_cursor"] == "2"
    assert set(page["data"][0]) == {
        "id", "workflow_id", "workflow_name", "version", "plan_hash", "source_hash", "created_at"
    }  # fmt: skip
    rest = ok(viewer.get(f"{API}/workflows/{name}/versions", params={"cursor": 2}))
    assert [v["version"] for v in rest["data"]] == [1] and rest["next_cursor"] is None
    problem(viewer.get(f"{API}/workflows/nope-x/versions"), 404, "workflow 'nope-x'")


def test_workflow_graph_has_nodes_and_typed_edges(store: MetaStore, viewer: httpx.Client) -> None:
    name = seed.workflow(store)[0].workflow_name

    graph = ok(viewer.get(f"{API}/workflows/{name}/versions/1/graph"))
    assert (graph["workflow"], graph["version"], graph["engine"]) == (name, 1, "local")
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["train"] == {
        "id": "train", "kind": "train", "component": "Train", "engine": "other", "model": "m",
        "example": None, "properties": {}, "retries": 0, "timeout": None,
    }  # fmt: skip
    assert nodes["read"]["engine"] == "local"  # the workflow's, where the node sets none
    assert nodes["read"]["example"] == f"{name}-data"
    edges = {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}
    assert edges == {
        ("read", "train", "data"),
        ("train", "predict", "model"),
        ("read", "predict", "data"),
        ("train", "write", "control"),
    }
    problem(viewer.get(f"{API}/workflows/{name}/versions/7/graph"), 404, f"'{name}' version 7")


# -- executions and jobs --------------------------------------------------------------------------


def test_executions_filter_sort_and_page(store: MetaStore, viewer: httpx.Client) -> None:
    version = seed.workflow(store)[0]
    name = version.workflow_name
    made = [seed.execution(store, version, mode) for mode in ("batch", "stream") * 3]
    store.transition_execution(made[0].id, ExecutionStatus.RUNNING)
    store.transition_execution(made[2].id, ExecutionStatus.FAILED, error="boom")
    ids = [e.id for e in made]

    newest_first = walk(viewer, f"{API}/executions", workflow=name, limit=4)
    assert [e["id"] for e in newest_first] == ids[::-1]
    oldest_first = walk(viewer, f"{API}/executions", workflow=name, order="asc", limit=4)
    assert [e["id"] for e in oldest_first] == ids
    page = ok(viewer.get(f"{API}/executions", params={"workflow": name, "limit": 4, "count": 1}))
    assert page["total"] == 6 and page["next_cursor"] == str(ids[2])

    def listed(**params: Any) -> list[int]:
        return [e["id"] for e in walk(viewer, f"{API}/executions", workflow=name, **params)]

    assert listed(mode="stream") == ids[5:0:-2]
    assert listed(status="failed") == [ids[2]]
    assert listed(status="running", mode="batch") == [ids[0]]
    assert listed(status="succeeded") == []
    counted = viewer.get(
        f"{API}/executions", params={"workflow": name, "mode": "batch", "count": 1}
    )
    assert ok(counted)["total"] == 3
    assert set(newest_first[0]) >= {"id", "workflow_name", "mode", "status", "created_at"}
    assert "jobs" not in newest_first[0]  # lists are summaries; the detail has the jobs

    problem(viewer.get(f"{API}/executions", params={"workflow": "nope-wf"}), 404, "'nope-wf'")
    problem(viewer.get(f"{API}/executions", params={"status": "bogus"}), 422)
    problem(viewer.get(f"{API}/executions", params={"order": "sideways"}), 422)


def test_execution_detail_jobs_and_metrics(store: MetaStore, viewer: httpx.Client) -> None:
    execution = seed.execution(store, seed.workflow(store)[0])
    jobs = store.list_jobs(execution.id)
    store.log_metrics({"loss": 0.25}, execution_id=execution.id, job_id=jobs[1].id, step=3)

    detail = ok(viewer.get(f"{API}/executions/{execution.id}"))
    assert detail["status"] == "queued" and detail["workflow_name"] == execution.workflow_name
    assert [(j["name"], j["depends_on"]) for j in detail["jobs"]] == [
        ("a", []),
        ("b", [jobs[0].id]),
    ]
    listed = ok(viewer.get(f"{API}/executions/{execution.id}/jobs"))
    assert listed["data"] == detail["jobs"] and listed["total"] == 2
    job = ok(viewer.get(f"{API}/jobs/{jobs[1].id}"))
    assert (job["name"], job["max_retries"], job["spec"]) == ("b", 2, {"name": "b"})
    metrics = ok(viewer.get(f"{API}/executions/{execution.id}/metrics"))["data"]
    assert [(m["name"], m["value"], m["step"]) for m in metrics] == [("loss", 0.25, 3)]

    problem(viewer.get(f"{API}/executions/987654"), 404, "execution 987654")
    problem(viewer.get(f"{API}/executions/987654/jobs"), 404, "execution 987654")
    problem(viewer.get(f"{API}/executions/987654/metrics"), 404, "execution 987654")
    problem(viewer.get(f"{API}/jobs/987654"), 404, "job 987654")


def test_stop_ends_an_execution_without_a_driver(store: MetaStore, editor: httpx.Client) -> None:
    execution = seed.execution(store, seed.workflow(store)[0])

    stopped = ok(editor.post(f"{API}/executions/{execution.id}/stop", params={"wait": 0}))
    assert stopped["status"] == "killed"
    assert {j["status"] for j in stopped["jobs"]} == {"killed"}
    again = ok(editor.post(f"{API}/executions/{execution.id}/stop", params={"wait": 0}))
    assert again["status"] == "killed" and again["ended_at"] == stopped["ended_at"]
    problem(editor.post(f"{API}/executions/987654/stop"), 404, "execution 987654")
    problem(editor.post(f"{API}/executions/987654/rerun"), 404, "execution 987654")


def test_job_logs_whole_tail_and_ranges(store: MetaStore, viewer: httpx.Client, api: Any) -> None:
    execution = seed.execution(store, seed.workflow(store)[0])
    job = store.list_jobs(execution.id)[0]
    problem(viewer.get(f"{API}/jobs/{job.id}/logs"), 404, f"job {job.id} has no log")
    path = seed.log_file(api.home, execution.id, "one\ntwo\nthree\n")
    store.update_job(job.id, log_uri=str(path))
    logs = f"{API}/jobs/{job.id}/logs"

    whole = viewer.get(logs)
    assert whole.text == "one\ntwo\nthree\n"
    assert whole.headers["content-type"].startswith("text/plain")
    assert whole.headers["x-log-size"] == whole.headers["x-next-offset"] == "14"
    assert viewer.get(logs, params={"tail": 2}).text == "two\nthree\n"
    ranged = viewer.get(logs, params={"offset": 4, "length": 5})
    assert ranged.text == "two\nt" and ranged.headers["x-next-offset"] == "9"
    assert viewer.get(logs, params={"offset": 9}).text == "hree\n"
    assert viewer.get(logs, params={"offset": 99}).text == ""
    problem(viewer.get(logs, params={"tail": 1, "offset": 0}), 422, "tail or offset")
    problem(viewer.get(logs, params={"tail": 0}), 422)


# -- models ---------------------------------------------------------------------------------------


def test_models_and_versions_page(store: MetaStore, viewer: httpx.Client) -> None:
    versions = seed.model(store, versions=5)
    name = versions[0].model_name

    models = walk(viewer, f"{API}/models", limit=3)
    assert name in [m["name"] for m in models]
    assert ok(viewer.get(f"{API}/models", params={"count": "true"}))["total"] == len(models)
    assert ok(viewer.get(f"{API}/models/{name}"))["name"] == name

    listed = walk(viewer, f"{API}/models/{name}/versions", limit=2)
    assert [v["version"] for v in listed] == [5, 4, 3, 2, 1]
    assert listed[0]["metrics"] == {"accuracy": pytest.approx(0.54)}
    assert listed[0]["artifact_uri"] == f"/artifacts/{name}/4"
    counted = ok(viewer.get(f"{API}/models/{name}/versions", params={"limit": 2, "count": 1}))
    assert counted["total"] == 5 and counted["next_cursor"] == "4"
    one = ok(viewer.get(f"{API}/models/{name}/versions/2"))
    assert (one["version"], one["stage"], one["aliases"]) == (2, "generated", [])
    metrics = ok(viewer.get(f"{API}/models/{name}/versions/2/metrics"))["data"]
    assert [(m["name"], m["value"]) for m in metrics] == [("accuracy", pytest.approx(0.51))]

    problem(viewer.get(f"{API}/models/no-model"), 404, "model 'no-model'")
    problem(viewer.get(f"{API}/models/no-model/versions"), 404, "model 'no-model'")
    problem(viewer.get(f"{API}/models/{name}/versions/9"), 404, f"'{name}' version 9")
    problem(viewer.get(f"{API}/models/{name}/versions/9/metrics"), 404, "version 9")


def test_serving_follows_the_deployed_alias(
    store: MetaStore, viewer: httpx.Client, editor: httpx.Client
) -> None:
    name = seed.model(store, versions=3)[0].model_name
    serving = f"{API}/models/{name}/serving"
    newest = ok(viewer.get(serving))
    assert (newest["version"], newest["deployed"], newest["flavor"]) == (3, False, "sklearn")
    assert set(newest) == {
        "id", "model_name", "version", "artifact_uri", "flavor", "stage", "deployed", "created_at",
        "checksum",
    }  # fmt: skip

    moved = ok(editor.put(f"{API}/models/{name}/aliases/deployed", json={"version": 2}))
    assert moved["aliases"] == ["deployed"] and moved["version"] == 2
    assert (ok(viewer.get(serving))["version"], ok(viewer.get(serving))["deployed"]) == (2, True)
    ok(editor.put(f"{API}/models/{name}/aliases/champion", json={"version": 3}))
    assert ok(viewer.get(f"{API}/models/{name}/versions/3"))["aliases"] == ["champion"]

    assert ok(editor.delete(f"{API}/models/{name}/aliases/deployed"), 204) is None
    assert ok(viewer.get(serving))["version"] == 3
    problem(editor.delete(f"{API}/models/{name}/aliases/deployed"), 404, "alias 'deployed'")
    problem(editor.put(f"{API}/models/{name}/aliases/x", json={"version": 9}), 404, "version 9")
    problem(editor.put(f"{API}/models/{name}/aliases/42", json={"version": 1}), 422, "number")
    problem(editor.put(f"{API}/models/{name}/aliases/x", json={"version": "two"}), 422)
    problem(viewer.get(f"{API}/models/no-model/serving"), 404, "'no-model'")
    empty = store.create_model(seed.unique("empty")).name
    problem(viewer.get(f"{API}/models/{empty}/serving"), 404, "no versions")


def test_promote_sets_the_stage(store: MetaStore, editor: httpx.Client) -> None:
    name = seed.model(store, versions=1)[0].model_name
    promoted = ok(
        editor.post(f"{API}/models/{name}/versions/1/promote", json={"stage": "validated"})
    )
    assert promoted["stage"] == "validated"
    problem(editor.post(f"{API}/models/{name}/versions/1/promote", json={"stage": "gold"}), 422)
    problem(
        editor.post(f"{API}/models/{name}/versions/4/promote", json={"stage": "validated"}), 404
    )
    assert get_args(StageUpdate.model_fields["stage"].annotation) == STAGES
    # the stages renamed by the model center say their new name
    problem(
        editor.post(f"{API}/models/{name}/versions/1/promote", json={"stage": "production"}),
        422,
        "deployed",
    )


def test_rollback_undoes_the_last_alias_move(store: MetaStore, editor: httpx.Client) -> None:
    name = seed.model(store, versions=3)[0].model_name
    rollback = f"{API}/models/{name}/rollback"
    problem(editor.post(rollback), 422, "no 'deployed' alias")
    for version in (1, 1, 3):
        store.set_model_alias(name, "deployed", version)

    assert ok(editor.post(rollback))["version"] == 1
    assert store.serving_version(name).version == 1  # type: ignore[union-attr]
    assert ok(editor.post(rollback))["version"] == 3  # a second rollback undoes the first
    only_once = seed.model(store, versions=2)[0].model_name
    store.set_model_alias(only_once, "deployed", 2)
    problem(editor.post(f"{API}/models/{only_once}/rollback"), 422, "nothing to roll back")
    problem(editor.post(f"{API}/models/no-model/rollback"), 404, "'no-model'")
    for version in (1, 2):  # any alias rolls back, as in the store
        store.set_model_alias(only_once, "champion", version)
    champion = editor.post(f"{API}/models/{only_once}/rollback", params={"alias": "champion"})
    assert ok(champion)["version"] == 1 and ok(champion)["aliases"] == ["champion"]


# -- examples and events --------------------------------------------------------------------------


def test_examples(store: MetaStore, viewer: httpx.Client) -> None:
    name = seed.workflow(store)[0].workflow_name
    examples = ok(viewer.get(f"{API}/examples", params={"limit": 500}))  # a shared server
    assert f"{name}-data" in [e["name"] for e in examples["data"]]
    example = ok(viewer.get(f"{API}/examples/{name}-data"))
    assert (example["columns"], example["batch_uri"]) == ({"x": "double"}, "/data/x.csv")
    problem(viewer.get(f"{API}/examples/no-example"), 404, "example 'no-example'")


def test_events_poll_by_seq(store: MetaStore, viewer: httpx.Client) -> None:
    key = seed.unique("key")
    made = [store.emit_event(key, "PING", str(i)) for i in range(3)]
    store.emit_event(key, "PONG")

    page = ok(viewer.get(f"{API}/events", params={"key": key, "type": "PING", "limit": 2}))
    assert [e["value"] for e in page["data"]] == ["0", "1"]
    assert page["next_cursor"] == str(made[1].seq)
    rest = ok(viewer.get(f"{API}/events", params={"key": key, "after_seq": page["next_cursor"]}))
    assert [(e["type"], e["value"]) for e in rest["data"]] == [("PING", "2"), ("PONG", "")]
    assert rest["next_cursor"] is None


def test_event_stream_resumes_and_heartbeats(store: MetaStore, viewer: httpx.Client) -> None:
    key = seed.unique("key")
    made = [store.emit_event(key, "TICK", str(i)) for i in range(3)]

    def read(headers: dict[str, str], until: Callable[[list[str]], bool]) -> list[str]:
        params = {"key": key, "heartbeat": 0.2, "poll_interval": 0.05}
        lines: list[str] = []
        with viewer.stream(
            "GET", f"{API}/events/stream", params=params, headers=headers, timeout=10
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                lines.append(line)
                if until(lines):
                    return lines  # leaving the block disconnects; the server ends the stream
        raise AssertionError(f"the stream ended by itself: {lines}")

    first = sse_events(read({}, lambda lines: lines.count("") == 3))
    assert [(e["id"], e["event"]) for e in first] == [(str(e.seq), "TICK") for e in made]
    assert json.loads(first[2]["data"])["value"] == "2"

    resumed = read({"Last-Event-ID": str(made[1].seq)}, lambda lines: ": heartbeat" in lines)
    assert [e["id"] for e in sse_events(resumed)] == [str(made[2].seq)]
    problem(viewer.get(f"{API}/events/stream", headers={"Last-Event-ID": "abc"}), 422)


def sse_events(lines: list[str]) -> list[dict[str, str]]:
    """Server-Sent Events as field dicts; comments (heartbeats) are skipped."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if current:
                events.append(current)
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            current[field] = value
    return events


# -- parameter bounds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/workflows?limit=0",
        "/workflows?limit=501",
        "/executions/0",
        f"/executions/{2**40}",
        "/jobs/-1",
        "/models/a%00b",
        "/models/m/versions/0",
        "/events?after_seq=-1",
        "/executions?cursor=abc",
    ],
)
def test_out_of_bounds_parameters_are_422(viewer: httpx.Client, path: str) -> None:
    problem(viewer.get(API + path), 422)
