"""Two drivers (schedulers) on one PostgreSQL meta store race for the same execution: the
compare-and-set claim lets exactly one drive it, and every job runs exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aiflow.scheduler.submit import submit_workflow
from aiflow.store.sql_store import MetaStore
from tests.chain import chain_workflow

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_drivers_race_and_one_wins(tmp_path: Path, migrated_postgres_url: str) -> None:
    runs = tmp_path / "runs.txt"
    # Each step takes a second: warm jobs end a bare chain in ~0.5 s, sooner than a second
    # interpreter starts, and a driver that finds the execution finished just exits 0.
    wf = chain_workflow(tmp_path / "race", "race", runs, sleep=1.0)
    store = MetaStore(migrated_postgres_url)
    execution, _ = submit_workflow(wf, mode="batch", store=store)

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW__")}
    env["AIFLOW__METASTORE__URI"] = migrated_postgres_url
    command = [sys.executable, "-m", "aiflow.scheduler", "--execution-id", str(execution.id)]
    drivers = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [d.communicate(timeout=120)[0] for d in drivers]
    codes = sorted(d.returncode for d in drivers)

    assert codes == [0, 1], outputs
    loser = outputs[[d.returncode for d in drivers].index(1)]
    assert "only a queued execution can be run" in loser
    assert store.get_execution(execution.id).status.value == "succeeded"
    assert sorted(runs.read_text().split()) == ["s0", "s1", "s2"]  # each job exactly once
    assert {job.attempt for job in store.list_jobs(execution.id)} == {1}
