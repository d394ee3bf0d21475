"""The scheduler service starts drivers for orphaned queued executions (their submitter died
before starting one), and two services racing still run each job once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aiflow.deployers import get_deployer
from aiflow.scheduler.service import SchedulerService
from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore
from tests.chain import chain_workflow

pytestmark = pytest.mark.slow


def test_two_services_pick_up_an_orphaned_execution_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    wf = chain_workflow(tmp_path / "wf", "orphan", runs, steps=1)
    store = MetaStore()
    execution, _ = submit_workflow(wf, mode="batch", store=store)  # recorded, no driver started

    young = SchedulerService(store, get_deployer, orphan_after=3600)
    assert young.tick() == []  # too young: its submitter may still be starting a driver

    services = [SchedulerService(store, get_deployer, orphan_after=0) for _ in range(2)]
    assert [s.tick() for s in services] == [[execution.id], [execution.id]]  # both try
    deadline = time.monotonic() + 60
    while not store.get_execution(execution.id).status.finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert store.get_execution(execution.id).status.value == "succeeded"
    assert runs.read_text() == "s0\n"  # the claim let exactly one driver run the job
    assert services[0].tick() == []  # nothing left to do
