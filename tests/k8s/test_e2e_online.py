"""The online-learning example as the issue runs it on Kubernetes: ``aiflow run
examples/online_learning/workflow.py --deployer kubernetes`` in batch mode (the deployed base
model), then ``--mode stream``: the stream jobs run as Kubernetes Jobs with no deadline, score
every arriving record once, train and push new versions, and ``aiflow execution stop`` deletes
their Jobs."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from tests.e2e.conftest import REPO, Cli
from tests.k8s import test_e2e_wine as wine_tests
from tests.k8s.test_e2e_wine import Cluster, run_on_kubernetes, stop_if_running
from tests.services import wait_for

pytestmark = pytest.mark.slow
cluster, kcli = wine_tests.cluster, wine_tests.kcli  # fixtures: a fresh namespace, the CLI on it

PARTS, ROWS = 4, 200


def load_clicks(project: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("clicks", project / "clicks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scored_rids(scores: Path) -> list[int]:
    rids: list[int] = []
    for part in sorted(scores.glob("*.csv")):
        rids += pd.read_csv(part)["rid"].tolist()
    return rids


def online_project(tmp_path: Path) -> tuple[Path, ModuleType]:
    """A private copy of examples/online_learning with its history written and an empty
    stream directory, and its ``clicks`` module (which makes the stream's parts)."""
    project = tmp_path / "online_learning"
    project.mkdir()
    for name in ("workflow.py", "clicks.py"):
        shutil.copy(REPO / "examples" / "online_learning" / name, project / name)
    clicks = load_clicks(project)
    clicks.write_history(project / "data")
    (project / "data" / "stream").mkdir()
    return project, clicks


def stream_then_stop(cli: Cli, project: Path, clicks: ModuleType, execution: int) -> set[int]:
    """Drop the stream's parts into the running stream ``execution``, wait until every record
    is scored and a version was trained on the stream, then stop it; the streamed record ids."""
    expected: set[int] = set()
    for i in range(PARTS):
        frame = clicks.stream_part(i, PARTS, ROWS)
        expected |= set(frame["rid"])
        clicks.drop(project / "data" / "stream", f"clicks-{i:03d}.csv", frame)
        time.sleep(0.5)
    scores = project / "out" / "scores"
    wait_for(lambda: expected <= set(scored_rids(scores)), 180, "every streamed record scored", 1)
    wait_for(
        lambda: len(cli.json("model", "versions", "ctr")) >= 2,
        120,
        "a model version trained on the stream",
        1,
    )
    cli.run("execution", "stop", str(execution))
    return expected


def test_online_learning_streams_on_kubernetes(kcli: Cli, cluster: Cluster, tmp_path: Path) -> None:
    project, clicks = online_project(tmp_path)
    workflow = project / "workflow.py"

    batch = run_on_kubernetes(kcli, workflow, "--mode", "batch")
    assert batch["status"] == "succeeded", batch
    assert kcli.json("model", "show", "ctr")["version"] == 1  # deployed

    started = run_on_kubernetes(kcli, workflow, "--mode", "stream", "--detach")
    execution = int(started["execution"])
    try:

        def all_running() -> bool:
            jobs = kcli.json("job", "list", str(execution))
            return bool(jobs) and all(job["status"] == "running" for job in jobs)

        wait_for(all_running, 120, "every stream job running as a Kubernetes Job", 0.5)
        jobs = cluster.jobs(execution)
        assert jobs and all(j.spec.active_deadline_seconds is None for j in jobs)
        expected = stream_then_stop(kcli, project, clicks, execution)
    finally:
        stop_if_running(kcli, execution)
    rids = scored_rids(project / "out" / "scores")
    assert sorted(r for r in rids if r in expected) == sorted(expected)  # each record once
    assert wine_tests.execution_row(kcli, execution)["status"] == "killed"
    wait_for(lambda: not cluster.jobs(execution), 60, "the stopped execution's Jobs deleted", 0.5)
    assert not cluster.pods(execution)
