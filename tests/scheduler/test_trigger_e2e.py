"""End to end: a new model version fires an event rule, whose execution of a real workflow is
started by the scheduler service (a detached driver) and completes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.submit import run_workflow
from aiflow.schemas.inputs import TriggerCreate
from aiflow.store.sql_store import MetaStore
from tests.chain import chain_workflow

pytestmark = pytest.mark.slow


def test_new_model_version_runs_the_validation_workflow(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    store = MetaStore()
    wf = chain_workflow(tmp_path / "validate", "validate", runs, steps=2)
    first = run_workflow(wf, store=store)  # the run a fire repeats
    rule = store.create_trigger(
        TriggerCreate(
            name="validate-new", workflow="validate", event_type="MODEL_GENERATED", event_key="m"
        )
    )
    scheduler = SchedulerService(store, get_deployer)
    assert scheduler.tick() == []

    store.register_model_version("m", "/artifacts/m/1", "sklearn")  # what training records
    [execution_id] = scheduler.tick()
    deadline = time.monotonic() + 60
    while not (execution := store.get_execution(execution_id)).status.finished:
        assert time.monotonic() < deadline, "the triggered execution did not finish"
        time.sleep(0.1)
    assert execution.status.value == "succeeded", execution.error
    assert execution.trigger_id == rule.id
    assert execution.workflow_version_id == first.workflow_version_id
    assert runs.read_text() == "s0\ns1\n" * 2  # the first run, then the triggered one
    assert scheduler.tick() == []  # that event is done with
