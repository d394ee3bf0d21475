"""The online-learning example as the issue runs it on YARN: ``aiflow run
examples/online_learning/workflow.py --deployer yarn`` in batch mode (the deployed base model),
then ``--mode stream``: the stream jobs run as YARN applications that the ApplicationMaster
keeps alive (heartbeating) while they run, score every arriving record once, train and push new
versions that the scoring job switches to, and ``aiflow execution stop`` kills their
applications."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.k8s.test_e2e_online import online_project, scored_rids, stream_then_stop
from tests.k8s.test_e2e_wine import execution_row, stop_if_running
from tests.services import wait_for
from tests.yarn.cluster import HadoopCluster
from tests.yarn.test_e2e_wine import Yarn, run_on_yarn, yarn_on

pytestmark = pytest.mark.slow


def test_online_learning_streams_on_yarn(
    aiflow_home: Path, tmp_path: Path, hadoop_nodes: HadoopCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    yarn: Yarn = yarn_on(hadoop_nodes, monkeypatch)
    ycli = Cli(aiflow_home, tmp_path, dict(yarn.settings))
    project, clicks = online_project(tmp_path)
    workflow = project / "workflow.py"

    batch = run_on_yarn(ycli, workflow, "--mode", "batch")
    assert batch["status"] == "succeeded", batch
    assert ycli.json("model", "show", "ctr")["version"] == 1  # deployed

    started = run_on_yarn(ycli, workflow, "--mode", "stream", "--detach")
    execution = int(started["execution"])
    try:

        def all_running() -> bool:
            jobs = ycli.json("job", "list", str(execution))
            return bool(jobs) and all(job["status"] == "running" for job in jobs)

        wait_for(all_running, 120, "every stream job running as a YARN application", 0.5)
        jobs = len(ycli.json("job", "list", str(execution)))

        def apps_running() -> bool:  # a job is "running" from its submission, ACCEPTED on YARN
            apps = yarn.apps(execution)
            return len(apps) == jobs and all(app["state"] == "RUNNING" for app in apps)

        wait_for(apps_running, 120, "an application RUNNING on YARN for each stream job", 0.5)
        expected = stream_then_stop(ycli, project, clicks, execution)
    finally:
        stop_if_running(ycli, execution)
    rids = scored_rids(project / "out" / "scores")
    assert sorted(r for r in rids if r in expected) == sorted(expected)  # each record once
    assert execution_row(ycli, execution)["status"] == "killed"
    assert all(app["state"] == "KILLED" for app in yarn.apps(execution))
