"""``aiflow.client.Client`` against a real server: entity types, the same error classes the
server raised, and ``af.run(wf, server=...)`` end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiflow as af
from aiflow.client import ApiError, Client, _checked
from aiflow.errors import InvalidInput, NotFound
from aiflow.scheduler.submit import ExecutionFailed
from aiflow.schemas.entities import (
    Event,
    Execution,
    ExecutionStatus,
    Job,
    ModelVersion,
    ServingVersion,
)
from aiflow.server.problems import Forbidden, Unauthorized
from aiflow.store.sql_store import MetaStore
from aiflow.translators.usercode import load_workflow_file
from tests.server import seed


@pytest.fixture
def store(api: Any) -> MetaStore:
    return MetaStore(api.store_uri)


@pytest.fixture
def client(api: Any) -> Iterator[Client]:
    with Client(api.url, api.tokens["editor"]) as client:
        yield client


def test_errors_are_the_classes_the_server_raised(api: Any, client: Client) -> None:
    with pytest.raises(NotFound, match="model 'no-such-model' not found"):
        client.get_model("no-such-model")
    with pytest.raises(NotFound, match="execution 987654"):
        client.get_execution(987654)
    with pytest.raises(InvalidInput, match="tail or offset"):
        client.get_job_logs(1, tail=1, offset=0)
    with pytest.raises(InvalidInput, match=r"query\.limit"):
        client.page_executions(limit=0)
    with Client(api.url, "not-a-token") as stranger, pytest.raises(Unauthorized):
        stranger.page_models()
    with Client(api.url, api.tokens["viewer"]) as viewer, pytest.raises(Forbidden, match="editor"):
        viewer.roll_back_alias("any")
    with pytest.raises(ApiError) as raised:  # a problem code with no aiflow class
        _checked(client._http.put("/workflows"))
    assert (raised.value.status, raised.value.problem_code) == (405, "method_not_allowed")


def test_answers_are_store_entities(api: Any, store: MetaStore, client: Client) -> None:
    version = seed.workflow(store)[0]
    made = [seed.execution(store, version) for _ in range(3)]
    name = seed.model(store, versions=2)[0].model_name
    key = seed.unique("key")
    store.emit_event(key, "HELLO", "world")

    first = client.page_executions(workflow=version.workflow_name, limit=2, count=True)
    assert all(isinstance(e, Execution) for e in first.data) and first.total == 3
    rest = client.page_executions(
        workflow=version.workflow_name, cursor=int(first.next_cursor or 0)
    )
    assert [e.id for e in first.data + rest.data] == [e.id for e in reversed(made)]
    assert client.get_execution(made[0].id).status is ExecutionStatus.QUEUED
    assert all(isinstance(j, Job) for j in client.list_jobs(made[0].id))
    assert isinstance(client.get_model_version(name, 1), ModelVersion)
    assert client.serving_pointer(name) == ServingVersion.model_validate(
        client._get(f"/models/{name}/serving")
    )
    assert client.set_model_version_stage(name, 1, "validated").stage == "validated"
    assert client.set_model_alias(name, "deployed", 1).aliases == ["deployed"]
    client.set_model_alias(name, "deployed", 2)
    assert client.roll_back_alias(name).version == 1
    client.delete_model_alias(name, "deployed")
    assert client.serving_pointer(name).version == 2
    events = client.stream_events(key=key)
    assert next(events) == client.page_events(key=key).data[0]
    assert isinstance(client.page_events(key=key).data[0], Event)
    events.close()


def test_token_defaults_to_the_environment(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFLOW__CLIENT__TOKEN", api.tokens["viewer"])
    with Client(api.url) as client:
        assert client.page_workflows(limit=1).data is not None


@pytest.mark.slow
def test_af_run_with_a_server_runs_there(api: Any, tmp_path: Path) -> None:
    wf = load_workflow_file(seed.wine_copy(tmp_path / "wine")).wf
    token = api.tokens["editor"]

    final = af.run(wf, server=api.url, token=token, progress=False)
    assert final is not None and final.status is ExecutionStatus.SUCCEEDED
    with Client(api.url, token) as client:
        assert client.get_execution(final.id).workflow_name == "wine_sgd"
        trained = [
            v for v in client.page_model_versions("wine_sgd").data if v.execution_id == final.id
        ]
        assert len(trained) == 1

    detached = af.run(wf, server=api.url, token=token, detach=True, progress=False)
    assert detached is not None and not detached.status.finished
    with Client(api.url, token) as client:
        client.stop_execution(detached.id, wait=30)


@pytest.mark.slow
def test_af_run_with_a_server_raises_when_the_execution_failed(api: Any, tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("x\n1\n2\n")
    (tmp_path / "workflow.py").write_text(
        "import aiflow as af\n\n"
        "class Boom(af.Transformer):\n"
        "    def transform(self, batch):\n"
        "        raise ValueError('boom')\n\n"
        f"source = af.Example('in', schema={{'x': 'int'}}, batch_uri={str(data)!r})\n"
        f"sink = af.Example('out', batch_uri={str(tmp_path / 'out.csv')!r})\n"
        f"with af.workflow({seed.unique('boom')!r}) as wf:\n"
        "    af.write_example(af.transform(af.read_example(source), Boom()), sink)\n"
    )
    wf = load_workflow_file(tmp_path / "workflow.py").wf
    with pytest.raises(ExecutionFailed, match="failed on"):
        af.run(wf, server=api.url, token=api.tokens["editor"], progress=False)
