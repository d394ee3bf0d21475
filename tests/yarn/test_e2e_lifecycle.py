"""A run's life on ``--deployer yarn`` through the real CLI: stopping an execution (its
applications KILLED, its processes gone), failures carrying the job's exit code, retries as one
application per attempt, an application killed from outside, a NodeManager lost mid-job (the
attempt fails, the retry runs on the other node), and following a job's log while it writes.

The workflows here are small ones of the tests' own, written so that each behaviour is
deterministic (jobs that sleep until stopped or killed, one that exits 3, one that waits for a
file before its last line); the shipped example's outputs are test_e2e_wine.py's. Every test
uses ``hadoop_nodes``: whatever it kills or leaves running, the next test gets the full cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Cli
from tests.k8s.test_e2e_lifecycle import Lines, runtime_processes
from tests.k8s.test_e2e_wine import execution_row, jobs_by_name, stop_if_running, write_project
from tests.services import alive, wait_for
from tests.yarn import test_e2e_wine as wine_tests
from tests.yarn.cluster import HadoopCluster
from tests.yarn.test_e2e_wine import (
    TAG_ATTEMPT,
    Yarn,
    run_on_yarn,
    tag_number,
    yarn_on,
)

pytestmark = pytest.mark.slow
ycli = wine_tests.ycli  # the CLI configured for the test cluster (a fixture)


@pytest.fixture
def yarn(hadoop_nodes: HadoopCluster, monkeypatch: pytest.MonkeyPatch) -> Yarn:
    """``test_e2e_wine.yarn`` on ``hadoop_nodes``: these tests kill and stop things."""
    return yarn_on(hadoop_nodes, monkeypatch)


def run_detached(cli: Cli, workflow: Path, request: pytest.FixtureRequest) -> int:
    """``aiflow run WORKFLOW --deployer yarn --detach``; the execution is stopped after the
    test if it still runs then."""
    execution = int(run_on_yarn(cli, workflow, "--detach")["execution"])
    request.addfinalizer(lambda: stop_if_running(cli, execution))
    return execution


def wait_running_app(yarn: Yarn, execution: int, job: int, attempt: int = 1) -> dict[str, Any]:
    """The report of the job's application for ``attempt`` once the RM says it RUNNING."""
    found: list[dict[str, Any]] = []

    def running() -> bool:
        found[:] = [
            app
            for app in yarn.apps(execution, job)
            if tag_number(app, TAG_ATTEMPT) == attempt and app["state"] == "RUNNING"
        ]
        return bool(found)

    wait_for(running, 60, f"job {job}'s application (attempt {attempt}) to run")
    return found[0]


def wait_log_has(cli: Cli, job: int, text: str) -> None:
    """Until ``aiflow job logs JOB`` shows ``text``: the job's code is running."""
    wait_for(
        lambda: text in cli.run("job", "logs", str(job), check=False).stdout,
        60,
        f"'{text}' logged",
        0.5,
    )


def wait_ended(cli: Cli, execution: int, timeout: float = 120) -> dict[str, Any]:
    ended = ("succeeded", "failed", "killed")
    wait_for(
        lambda: execution_row(cli, execution)["status"] in ended,
        timeout,
        f"execution {execution} to end",
        0.5,
    )
    return execution_row(cli, execution)


# -- stop an execution ----------------------------------------------------------------------------

STOP_WORKFLOW = """
import time
import aiflow as af

numbers = af.Example("yarn_numbers", schema={"x": "int"}, batch_uri="in.csv")


def sleep_a(batch):
    print("sleep_a started", flush=True)
    time.sleep(600)


def sleep_b(batch):
    print("sleep_b started", flush=True)
    time.sleep(600)


with af.workflow("yarn_stop") as wf:
    af.user_operation(sleep_a, af.read_example(numbers))
    af.user_operation(sleep_b, af.read_example(numbers))
"""


def test_stop_kills_the_executions_applications_and_their_processes(
    ycli: Cli, yarn: Yarn, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    workflow = write_project(tmp_path / "stop", STOP_WORKFLOW)
    execution = run_detached(ycli, workflow, request)
    jobs = jobs_by_name(ycli, execution)
    apps = {name: wait_running_app(yarn, execution, job["id"]) for name, job in jobs.items()}
    for name, job in jobs.items():
        wait_log_has(ycli, job["id"], f"{name} started")
    processes = runtime_processes(ycli)
    assert len(processes) == 2
    driver = execution_row(ycli, execution)["driver_pid"]

    stopped = ycli.run("execution", "stop", str(execution))

    assert stopped.stdout == f"execution {execution}: killed\n"
    for app in apps.values():  # stop returns once the RM reports the kill done
        assert yarn.app(app["id"])["state"] == "KILLED"
    assert {app["id"] for app in yarn.apps(execution)} == {app["id"] for app in apps.values()}
    wait_for(lambda: not any(map(alive, processes)), 30, "the job processes to end", 0.05)
    wait_for(lambda: not alive(driver), 30, "the detached driver to end", 0.05)
    assert {j["status"] for j in jobs_by_name(ycli, execution).values()} == {"killed"}
    assert execution_row(ycli, execution)["status"] == "killed"
    for name, job in jobs.items():  # the log outlives the container (the HDFS copy)
        assert f"{name} started" in ycli.run("job", "logs", str(job["id"])).stdout


# -- failures and retries -----------------------------------------------------------------------

FAILING_WORKFLOW = """
import os
import time
import aiflow as af

first = af.Example("yarn_first", schema={"x": "int"}, batch_uri="in.csv")
second = af.Example("yarn_second", schema={"x": "int"}, batch_uri="in.csv")


def exit_3(batch):
    print(f"exit_3 attempt {os.environ['AIFLOW_ATTEMPT']}", flush=True)
    os._exit(3)  # no exception, nothing recorded: the exit code is all there is


def wait_for_kill(batch):
    print("waiting to be killed", flush=True)
    time.sleep(600)


with af.workflow("yarn_failing") as wf:
    af.user_operation(exit_3, af.read_example(first, retries=2), retries=2)
    af.user_operation(wait_for_kill, af.read_example(second))
"""


def test_failed_and_killed_applications_fail_their_jobs_and_retries_are_new_applications(
    ycli: Cli, yarn: Yarn, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    workflow = write_project(tmp_path / "failing", FAILING_WORKFLOW)
    execution = run_detached(ycli, workflow, request)
    jobs = jobs_by_name(ycli, execution)
    exited, waiting = jobs["exit_3"]["id"], jobs["wait_for_kill"]["id"]

    app = wait_running_app(yarn, execution, waiting)
    wait_log_has(ycli, waiting, "waiting to be killed")
    killed = httpx.put(
        f"{yarn.cluster.resource_manager}/ws/v1/cluster/apps/{app['id']}/state",
        json={"state": "KILLED"},
        timeout=10,
    )
    assert killed.status_code in (200, 202), killed.text

    row = wait_ended(ycli, execution)
    assert row["status"] == "failed"
    jobs = jobs_by_name(ycli, execution)
    assert (jobs["exit_3"]["status"], jobs["exit_3"]["attempt"]) == ("failed", 3)
    assert (jobs["exit_3"]["exit_code"], jobs["exit_3"]["error"]) == (3, "exited with code 3")
    assert jobs["wait_for_kill"]["status"] == "failed"
    assert "killed" in jobs["wait_for_kill"]["error"], jobs["wait_for_kill"]
    assert "exited with code 3" in row["error"] and "killed" in row["error"]

    yarn.wait_apps_ended(execution, 4)
    attempts = yarn.apps(execution, exited)
    assert [tag_number(a, TAG_ATTEMPT) for a in attempts] == [1, 2, 3]
    assert len({a["id"] for a in attempts}) == 3
    assert [(a["state"], a["finalStatus"]) for a in attempts] == [("FINISHED", "FAILED")] * 3
    assert all("aiflow exit code: 3" in a["diagnostics"] for a in attempts)
    assert yarn.app(app["id"])["state"] == "KILLED"
    logs = ycli.run("job", "logs", str(exited)).stdout  # the latest attempt's
    assert "exit_3 attempt 3" in logs and "exit_3 attempt 2" not in logs
    retries = [e for e in ycli.json("event", "list") if e["type"] == "JOB_RETRY"]
    assert [e["value"] for e in retries] == ["exit_3", "exit_3"]


# -- a lost node --------------------------------------------------------------------------------

LOST_NODE_WORKFLOW = """
import os
import time
import aiflow as af

numbers = af.Example("yarn_numbers", schema={"x": "int"}, batch_uri="in.csv")


def on_a_node(batch):
    \"\"\"The first attempt runs until its node is lost; a retry just finishes.\"\"\"
    attempt = int(os.environ["AIFLOW_ATTEMPT"])
    print(f"attempt {attempt} running", flush=True)
    if attempt == 1:
        time.sleep(600)
    return batch


with af.workflow("yarn_lost_node") as wf:
    out = af.user_operation(on_a_node, af.read_example(numbers, retries=1), retries=1)
    af.write_example(out, af.Example("yarn_numbers_out", batch_uri="out.csv"), retries=1)
"""


def test_a_lost_nodemanager_fails_the_attempt_and_the_retry_runs_on_the_other_node(
    ycli: Cli, yarn: Yarn, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    workflow = write_project(tmp_path / "lost", LOST_NODE_WORKFLOW)
    execution = run_detached(ycli, workflow, request)
    (job,) = jobs_by_name(ycli, execution).values()
    first = wait_running_app(yarn, execution, job["id"])
    wait_log_has(ycli, job["id"], "attempt 1 running")
    (process,) = runtime_processes(ycli)
    host = yarn.node_of(first)
    assert first["amContainerLogs"].startswith(host.http)

    killed = yarn.cluster.kill_nodemanager(host.index)
    assert process in killed  # the job's process went with its host

    row = wait_ended(ycli, execution)  # the RM notices after its 10 s expiry
    assert row["status"] == "succeeded", row
    (job,) = jobs_by_name(ycli, execution).values()
    assert (job["status"], job["attempt"]) == ("succeeded", 2)
    assert (tmp_path / "lost" / "out.csv").read_text() == "x\n0\n1\n2\n"

    yarn.wait_apps_ended(execution, 2)
    lost, retry = yarn.apps(execution, job["id"])
    assert [tag_number(a, TAG_ATTEMPT) for a in (lost, retry)] == [1, 2]
    assert lost["id"] == first["id"] and lost["state"] == "FAILED", lost
    assert (retry["state"], retry["finalStatus"]) == ("FINISHED", "SUCCEEDED")
    assert yarn.node_of(retry) is not host and yarn.node_of(retry).running
    assert "attempt 2 running" in ycli.run("job", "logs", str(job["id"])).stdout
    driver_log = (ycli.home / "logs" / str(execution) / "driver.log").read_text()
    failed = f"job {job['name']} attempt 1 failed (YARN application {first['id']} failed"
    assert failed in driver_log, driver_log


# -- follow a job's log ---------------------------------------------------------------------------

FOLLOW_WORKFLOW = """
import os
import time
import aiflow as af

numbers = af.Example("yarn_numbers", schema={{"x": "int"}}, batch_uri="in.csv")
GO = {go!r}


def ticker(batch):
    \"\"\"A burst of lines, a quiet wait until the test allows more, then a last line.\"\"\"
    for i in (1, 2, 3):
        print(f"tick {{i}} of 3", flush=True)
    while not os.path.exists(GO):
        time.sleep(0.1)
    print("tock: done", flush=True)
    return batch


with af.workflow("yarn_follow") as wf:
    af.user_operation(ticker, af.read_example(numbers))
"""


def test_follow_streams_a_running_jobs_lines_and_ends_with_the_job(
    ycli: Cli, yarn: Yarn, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Each line shows while the job runs, the last one of a burst too: the job then writes
    nothing until the test creates GO, so a line is only seen if the log is flushed without
    waiting for the job's next write."""
    go = tmp_path / "go"
    workflow = write_project(tmp_path / "follow", FOLLOW_WORKFLOW.format(go=str(go)))
    execution = run_detached(ycli, workflow, request)
    (job,) = jobs_by_name(ycli, execution).values()
    wait_running_app(yarn, execution, job["id"])

    follower = ycli.popen("job", "logs", str(job["id"]), "--follow")
    followed = Lines(follower)
    try:
        wait_log_has(ycli, job["id"], "tick 3 of 3")  # written (the NodeManager's copy has it)
        wait_for(lambda: followed.has("tick 3 of 3"), 30, "the burst's last line, followed")
        assert follower.poll() is None, "still following a running job"
        assert not followed.has("tock")
        go.touch()
        wait_for(lambda: followed.has("tock: done"), 60, "the last line, followed")
        assert follower.wait(timeout=60) == 0, "following ends when the job does"
    finally:
        if follower.poll() is None:
            follower.kill()
    ticks = [line for line in followed.lines if line.startswith(("tick", "tock"))]
    assert ticks == ["tick 1 of 3", "tick 2 of 3", "tick 3 of 3", "tock: done"]
    assert wait_ended(ycli, execution)["status"] == "succeeded"
