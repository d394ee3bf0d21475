"""What the resource routes must refuse: log reads outside the logs directory, and changes by
callers without the editor role (or without a token at all).

A job's ``log_uri`` is a database row that user code can write, so the log endpoint is tested
with crafted rows: relative and absolute paths out of the logs directory, a symlinked log, a
symlinked directory, a directory, a FIFO. Each must be the same 404 as a missing log, without
any of the target's content.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiflow.schemas.entities import JobStatus
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store.sql_store import MetaStore
from tests.server import seed
from tests.server.conftest import assert_problem

API = "/api/v1"
Http = Callable[[str], httpx.Client]
SECRET = "top-secret-content"


@pytest.fixture
def store(api: Any) -> MetaStore:
    return MetaStore(api.store_uri)


@pytest.fixture
def job_id(store: MetaStore) -> int:
    execution = seed.execution(store, seed.workflow(store)[0])
    return store.list_jobs(execution.id)[0].id


# -- logs -----------------------------------------------------------------------------------------


def crafted_log_uris(home: Path, tmp_path: Path) -> list[str]:
    """``log_uri`` values that point outside ``home/logs`` one way or another."""
    logs = home / "logs" / seed.unique("crafted")
    logs.mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (logs / "link.log").symlink_to(secret)
    (logs / "dir-link").symlink_to(tmp_path, target_is_directory=True)
    (logs / "a-directory").mkdir()
    os.mkfifo(logs / "fifo.log")
    inside = logs.relative_to(home / "logs")
    return [
        "../../../../../../etc/passwd",
        "/etc/passwd",
        f"file://{secret}",
        str(secret),
        str(home / "aiflow.toml"),  # absent, next to the logs directory: still refused
        f"{inside}/../../../{secret.name}",
        str(logs / "link.log"),
        f"{inside}/link.log",
        str(logs / "dir-link" / "secret.txt"),
        str(logs / "a-directory"),
        str(logs / "fifo.log"),
        str(home / "logs"),
    ]


def test_logs_outside_the_logs_directory_are_not_found(
    api: Any, store: MetaStore, http: Http, job_id: int, tmp_path: Path
) -> None:
    viewer = http("viewer")
    for uri in crafted_log_uris(api.home, tmp_path):
        store.update_job(job_id, log_uri=uri)
        for params in ({}, {"tail": 5}, {"offset": 0, "length": 100}, {"follow": "true"}):
            response = viewer.get(f"{API}/jobs/{job_id}/logs", params=params, timeout=5)
            assert response.status_code == 404, (uri, params, response.text)
            assert response.json()["code"] == "not_found"
            assert SECRET not in response.text and "root:" not in response.text
            assert uri not in response.json()["detail"] or not uri  # says nothing of the path


def test_a_log_inside_the_logs_directory_is_served(
    api: Any, store: MetaStore, http: Http, job_id: int
) -> None:
    path = seed.log_file(api.home, job_id, "hello\n")
    for uri in (str(path), f"file://{path}", str(path.relative_to(api.home / "logs"))):
        store.update_job(job_id, log_uri=uri)
        assert http("viewer").get(f"{API}/jobs/{job_id}/logs").text == "hello\n"


def test_follow_streams_until_the_job_ends_and_across_attempts(
    api: Any, store: MetaStore, http: Http, job_id: int
) -> None:
    first = seed.log_file(api.home, job_id, "start\n")
    second = first.with_name("attempt-2.log")
    store.transition_job(job_id, JobStatus.RUNNING, log_uri=str(first))
    received: list[str] = []

    def follow() -> None:
        with http("viewer").stream(
            "GET", f"{API}/jobs/{job_id}/logs", params={"follow": "true"}, timeout=20
        ) as response:
            assert response.status_code == 200
            received.extend(response.iter_lines())

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.3)
    with first.open("a") as f:
        f.write("more\n")
    time.sleep(0.3)
    second.write_text("retry\n")  # a retry: the driver starts attempt 2 with a new log
    store.update_job(job_id, attempt=2, log_uri=str(second))
    time.sleep(0.8)
    with second.open("a") as f:
        f.write("done\n")
    store.transition_job(job_id, JobStatus.SUCCEEDED)
    reader.join(timeout=10)
    assert not reader.is_alive(), "the stream did not end with the job"
    assert received == ["start", "more", "retry", "done"]


# -- roles ----------------------------------------------------------------------------------------


def mutations(store: MetaStore) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route of the resource modules that changes or runs something, with valid
    arguments, so that only the role can be why it is refused."""
    version = seed.workflow(store)[0]
    execution = seed.execution(store, version)
    trigger = store.create_trigger(
        TriggerCreate(name=seed.unique("t"), workflow=version.workflow_name, interval=60)
    ).name
    model = seed.model(store, versions=2)[0].model_name
    store.set_model_alias(model, "deployed", 1)
    store.set_model_alias(model, "deployed", 2)
    form = {"source_hash": "0" * 64, "entrypoint": "workflow.py", "workflow": "w"}
    return [
        ("POST", "/executions", {"data": form, "files": {"snapshot": ("s.tar.gz", b"x")}}),
        ("POST", f"/executions/{execution.id}/stop", {}),
        ("POST", f"/executions/{execution.id}/rerun", {}),
        ("PUT", f"/models/{model}/aliases/champion", {"json": {"version": 1}}),
        ("DELETE", f"/models/{model}/aliases/deployed", {}),
        ("POST", f"/models/{model}/versions/1/promote", {"json": {"stage": "validated"}}),
        ("POST", f"/models/{model}/rollback", {}),
        ("POST", "/triggers", {"json": {"name": "t", "workflow": "w", "interval": 60}}),
        ("PATCH", f"/triggers/{trigger}", {"json": {"enabled": False}}),
        ("DELETE", f"/triggers/{trigger}", {}),
    ]


def test_viewers_cannot_change_anything(api: Any, store: MetaStore, http: Http) -> None:
    routes = mutations(store)
    before = snapshot_of(store)
    anonymous = httpx.Client(base_url=api.url, timeout=10)
    for method, path, kwargs in routes:
        assert_problem(http("viewer").request(method, API + path, **kwargs), 403, "forbidden")
        unauthenticated = anonymous.request(method, API + path, **kwargs)
        assert_problem(unauthenticated, 401, "unauthorized")
        assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert snapshot_of(store) == before


READS = [
    "/workflows",
    "/workflows/w",
    "/workflows/w/versions",
    "/workflows/w/versions/1/graph",
    "/executions",
    "/executions/1",
    "/executions/1/jobs",
    "/executions/1/metrics",
    "/jobs/1",
    "/jobs/1/logs",
    "/models",
    "/models/m",
    "/models/m/versions",
    "/models/m/versions/1",
    "/models/m/versions/1/metrics",
    "/models/m/serving",
    "/examples",
    "/examples/e",
    "/events",
    "/events/stream",
    "/triggers",
    "/triggers/t",
    "/triggers/t/executions",
]


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token(api: Any, path: str) -> None:
    assert_problem(httpx.get(api.url + API + path, timeout=10), 401, "unauthorized")
    bad = httpx.get(api.url + API + path, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert_problem(bad, 401, "unauthorized")


def snapshot_of(store: MetaStore) -> tuple[Any, ...]:
    """What the mutating routes would change, to show a refused request changed nothing."""
    executions = store.page_executions(limit=500)
    models = store.page_models(limit=500)
    return (
        [(e.id, e.status) for e in executions],
        [(v.model_name, v.version, v.stage, v.aliases) for m in models
         for v in store.list_model_versions(m.name)],
        store.list_triggers(),
    )  # fmt: skip
