"""A run's life on ``--deployer kubernetes`` through the real CLI: stopping a detached stream
(its Jobs, pods and processes gone), following a job's log live, retries as one Job per attempt,
and failures carrying the pod's exit code and reason. A killed driver: test_e2e_reconcile.py.

The workflows here are small ones of the tests' own, written so that each behaviour is
deterministic (a job that fails on its first two attempts, one that exits without a word);
the shipped example's outputs are test_e2e_wine.py's.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest

from tests.e2e.conftest import Cli, drop
from tests.k8s import test_e2e_wine as wine_tests
from tests.k8s.test_e2e_wine import (
    EXECUTION_LABEL,
    Cluster,
    execution_row,
    jobs_by_name,
    run_on_kubernetes,
    stop_if_running,
    write_project,
)
from tests.services import alive, wait_for

pytestmark = pytest.mark.slow
cluster, kcli = wine_tests.cluster, wine_tests.kcli  # fixtures: a fresh namespace, the CLI on it


def runtime_processes(cli: Cli) -> list[int]:
    """Pids of this test's job processes (the node agent's children running the runtime)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "aiflow.runtime" in " ".join(proc.info["cmdline"] or []) and proc.environ().get(
                "AIFLOW_HOME"
            ) == str(cli.home):
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


class Lines:
    """A process's stdout read by a thread, so a test can wait for a line while it runs."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines, self._queue = proc, list[str](), queue.Queue[str]()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return any(text in line for line in self.lines)


# -- stop a detached stream run; follow its log -----------------------------------------------

STREAM_WORKFLOW = """
import aiflow as af

SCHEMA = {"id": "int"}
clicks = af.Example("k8s_clicks", schema=SCHEMA, stream_uri="clicks/", format="csv")
views = af.Example("k8s_views", schema=SCHEMA, stream_uri="views/", format="csv")


def announce(batch):
    \"\"\"One line per micro-batch, so that a follower of the job's log sees it live.\"\"\"
    print(f"micro-batch of ids {sorted(int(i) for i in batch['id'])}", flush=True)
    return None


with af.workflow("k8s_stream") as wf:
    raw = af.read_example(clicks, stream={"poll_interval": 0.1})
    af.user_operation(announce, raw)
    af.write_example(raw, af.Example("k8s_clicks_copy", stream_uri="clicks_out/", format="csv"))
    more = af.read_example(views, stream={"poll_interval": 0.1})
    af.write_example(more, af.Example("k8s_views_copy", stream_uri="views_out/", format="csv"))
"""


def test_stop_deletes_a_streams_jobs_and_pods_and_follow_shows_live_lines(
    kcli: Cli, cluster: Cluster, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    workflow = write_project(tmp_path / "stream", STREAM_WORKFLOW)
    project = workflow.parent
    (project / "clicks").mkdir()
    (project / "views").mkdir()
    started = run_on_kubernetes(kcli, workflow, "--mode", "stream", "--detach")
    execution = started["execution"]
    request.addfinalizer(lambda: stop_if_running(kcli, execution))

    def all_running() -> bool:
        jobs = jobs_by_name(kcli, execution)
        return len(jobs) == 2 and all(j["status"] == "running" for j in jobs.values())

    wait_for(all_running, 60, "both stream jobs running")
    announcer = jobs_by_name(kcli, execution)["write_k8s_clicks_copy"]  # with announce
    follower = kcli.popen("job", "logs", str(announcer["id"]), "--follow")
    followed = Lines(follower)
    try:
        batch = tmp_path / "batch_0.csv"
        pd.DataFrame({"id": [7, 8, 9]}).to_csv(batch, index=False)
        drop(batch, project / "clicks")
        wait_for(lambda: followed.has("micro-batch of ids [7, 8, 9]"), 60, "the line, followed")
        assert follower.poll() is None, "still following a running job"
        wait_for(lambda: len(runtime_processes(kcli)) == 2, 30, "both job processes")
        processes = runtime_processes(kcli)
        driver = execution_row(kcli, execution)["driver_pid"]
        assert len(cluster.jobs(execution)) == 2 and len(cluster.pods(execution)) == 2

        stopped = kcli.run("execution", "stop", str(execution))
        assert stopped.stdout == f"execution {execution}: killed\n"
        # Foreground deletion: the pods and Secrets went before their Jobs did.
        assert cluster.jobs(execution) == []
        assert cluster.pods(execution) == []
        selector = f"{EXECUTION_LABEL}={execution}"
        assert (
            cluster.core.list_namespaced_secret(cluster.namespace, label_selector=selector).items
            == []
        )
        wait_for(lambda: not any(map(alive, processes)), 30, "the job processes to end", 0.05)
        wait_for(lambda: not alive(driver), 30, "the detached driver to end", 0.05)
        assert follower.wait(timeout=30) == 0, "following ends when the job does"
    finally:
        if follower.poll() is None:
            follower.kill()
    assert {j["status"] for j in jobs_by_name(kcli, execution).values()} == {"killed"}
    assert pd.read_csv(project / "clicks_out" / "part-batch_0.csv")["id"].tolist() == [7, 8, 9]


# -- retries and failures ---------------------------------------------------------------------

RETRY_WORKFLOW = """
import os
import aiflow as af

numbers = af.Example("k8s_numbers", schema={"x": "int"}, batch_uri="in.csv")


def flaky(batch):
    \"\"\"Fails its first two attempts; the attempt comes from the pod's environment.\"\"\"
    attempt = int(os.environ["AIFLOW_ATTEMPT"])
    print(f"flaky attempt {attempt}", flush=True)
    if attempt < 3:
        raise RuntimeError(f"flaky failure on attempt {attempt}")
    return batch


with af.workflow("k8s_retries") as wf:
    raw = af.read_example(numbers, retries=2)
    out = af.user_operation(flaky, raw, retries=2)
    af.write_example(out, af.Example("k8s_numbers_out", batch_uri="out.csv"), retries=2)
"""


def test_a_job_that_fails_twice_is_three_kubernetes_jobs_and_succeeds(
    kcli: Cli, cluster: Cluster, tmp_path: Path
) -> None:
    workflow = write_project(tmp_path / "retries", RETRY_WORKFLOW)
    summary = run_on_kubernetes(kcli, workflow)
    assert summary["status"] == "succeeded", summary
    ((job),) = summary["jobs"]
    assert (job["status"], job["attempt"], job["error"]) == ("succeeded", 3, None)
    assert pd.read_csv(workflow.parent / "out.csv")["x"].tolist() == [0, 1, 2]

    def ended(k8s_job: Any) -> bool:
        return bool(k8s_job.status.succeeded or k8s_job.status.failed)

    def three_ended() -> bool:
        found = cluster.jobs(summary["execution"])
        return len(found) == 3 and all(map(ended, found))

    wait_for(three_ended, 30, "three ended Kubernetes Jobs")
    attempts = sorted(cluster.jobs(summary["execution"]), key=lambda j: j.metadata.name)
    assert [j.metadata.labels["aiflow.dev/attempt"] for j in attempts] == ["1", "2", "3"]
    assert {j.metadata.labels["aiflow.dev/job"] for j in attempts} == {str(job["id"])}
    assert [(j.status.failed, j.status.succeeded) for j in attempts] == [
        (1, None),
        (1, None),
        (None, 1),
    ]
    for number, k8s_job in enumerate(attempts, 1):
        assert f"flaky attempt {number}" in cluster.pod_log(k8s_job.metadata.name)
    logs = kcli.run("job", "logs", str(job["id"])).stdout  # the latest attempt's
    assert "flaky attempt 3" in logs and "flaky attempt 2" not in logs
    retries = [e for e in kcli.json("event", "list") if e["type"] == "JOB_RETRY"]
    assert len(retries) == 2


FAILING_WORKFLOW = """
import os
import time
import aiflow as af

first = af.Example("k8s_first", schema={"x": "int"}, batch_uri="in.csv")
second = af.Example("k8s_second", schema={"x": "int"}, batch_uri="in.csv")


def exit_3(batch):
    os._exit(3)  # no exception, nothing recorded: the pod's exit code is all there is


def hog(batch):
    blocks = []
    for _ in range(40):  # past the pod's memory limit (1Gi): the node kills it
        blocks.append(bytearray(64 << 20))
        time.sleep(0.05)
    time.sleep(120)


with af.workflow("k8s_failing") as wf:
    af.user_operation(exit_3, af.read_example(first))
    af.user_operation(hog, af.read_example(second))
"""


def test_failed_pods_fail_their_jobs_with_the_exit_code_and_reason(
    aiflow_home: Path, cluster: Cluster, tmp_path: Path
) -> None:
    limits = '{"limits": {"memory": "1Gi"}}'
    cli = Cli(aiflow_home, tmp_path, {**cluster.settings, "AIFLOW__KUBERNETES__RESOURCES": limits})
    workflow = write_project(tmp_path / "failing", FAILING_WORKFLOW)
    done = cli.run("run", str(workflow), "--deployer", "kubernetes", "--json", check=False)
    assert done.returncode == 1, done.stderr
    execution = execution_row(cli, 1)
    assert execution["status"] == "failed"
    jobs = jobs_by_name(cli, 1)
    exited, hogged = jobs["exit_3"], jobs["hog"]
    assert (exited["status"], exited["exit_code"], exited["error"]) == (
        "failed",
        3,
        "exited with code 3",
    )
    assert (hogged["status"], hogged["exit_code"]) == ("failed", 137)
    assert hogged["error"] == "exited with code 137 (OOMKilled)"
    assert "exited with code 3" in execution["error"] and "OOMKilled" in execution["error"]
