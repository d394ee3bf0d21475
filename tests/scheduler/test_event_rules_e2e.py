"""Event-driven jobs for real: the scheduler service starts drivers and jobs in processes of
their own, as ``test_trigger_e2e.py`` does; each job records the event it received."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.submit import run_workflow
from aiflow.schemas.entities import Execution, ExecutionStatus
from aiflow.store.sql_store import MetaStore
from tests.scheduler.event_workflows import TRAIN_AND_RULES, recorded, write_workflow

pytestmark = pytest.mark.slow


@pytest.fixture
def store() -> MetaStore:
    return MetaStore()


def wait_finished(store: MetaStore, ids: list[int], timeout: float = 90) -> list[Execution]:
    deadline = time.monotonic() + timeout
    runs = []
    for id in ids:
        while not (execution := store.get_execution(id)).status.finished:
            assert time.monotonic() < deadline, f"execution {id} did not finish"
            time.sleep(0.1)
        runs.append(execution)
    return runs


def test_rules_run_their_jobs_which_receive_the_event(tmp_path: Path, store: MetaStore) -> None:
    """Training registers a version and succeeds: the validate job gets the version, the
    notify job the train job's success (and sends an event), the final job that event."""
    out = tmp_path / "out.txt"
    wf = write_workflow(tmp_path / "w", TRAIN_AND_RULES, out=out)
    trained = run_workflow(wf, store=store)
    assert [j.name for j in store.list_jobs(trained.id)] == ["train_m"]
    scheduler = SchedulerService(store, get_deployer)
    first = scheduler.tick()
    assert all(e.status is ExecutionStatus.SUCCEEDED for e in wait_finished(store, first))
    second = scheduler.tick()  # the event the notify job sent
    assert all(e.status is ExecutionStatus.SUCCEEDED for e in wait_finished(store, second))
    assert scheduler.tick() == []

    generated = store.list_events(key="m", type="MODEL_GENERATED")[0]
    succeeded = store.list_events(key=f"execution/{trained.id}", type="JOB_SUCCEEDED")[0]
    done = store.list_events(key="w-done")[0]
    assert sorted(recorded(out)) == [
        f"final {done.seq} user w-done notify",
        f"notify {succeeded.seq} JOB_SUCCEEDED execution/{trained.id} train_m",
        f"validate {generated.seq} MODEL_GENERATED m 1",
    ]
    assert store.list_events(type="TRIGGER_FAILED") == []


def test_restart_and_stop_a_running_job(tmp_path: Path, store: MetaStore) -> None:
    out = tmp_path / "out.txt"
    body = """
    with af.workflow("w") as wf:
        serve = af.user_operation(record, params={"tag": "serve", "sleep": 600}, name="serve")
        af.action_on_event(serve, key="serve", event_type="start")
        af.action_on_event(serve, key="serve", event_type="restart", action="restart")
        af.action_on_event(serve, key="serve", event_type="stop", action="stop")
    """
    run_workflow(write_workflow(tmp_path / "w", body, out=out), store=store)  # no jobs: done
    scheduler = SchedulerService(store, get_deployer)
    store.emit_event("serve", "start")
    [first] = scheduler.tick()
    _wait_for(lambda: len(recorded(out)) == 1)  # its job is up
    restart = store.emit_event("serve", "restart", "v2")
    [second] = scheduler.tick()
    _wait_for(lambda: len(recorded(out)) == 2)
    assert recorded(out)[1] == f"serve {restart.seq} restart serve v2"
    store.emit_event("serve", "stop")
    assert scheduler.tick() == []
    runs = wait_finished(store, [first, second], timeout=60)
    assert [e.status for e in runs] == [ExecutionStatus.KILLED, ExecutionStatus.KILLED]
    assert store.count_executions(workflow="w") == 3  # the submission's (no jobs) + two


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
