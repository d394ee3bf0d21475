"""A killed driver on ``--deployer kubernetes``, through the real CLI: its Kubernetes Jobs run
on, and the scheduler's next pass starts a driver that adopts them (``aiflow scheduler``, as
beside a server; the next ``aiflow run`` or a server start does the same). Also the narrow
window where the driver died after creating a Job but before recording it: the adopting
driver finds that Job by the execution's label and replaces it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import Cli
from tests.k8s import test_e2e_wine as wine_tests
from tests.k8s.test_e2e_wine import (
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

GATED_WORKFLOW = """
import time
from pathlib import Path
import aiflow as af

HERE = Path(__file__).parent  # at plan time: the project; params carry the paths to the pod
numbers = af.Example("k8s_gated", schema={"x": "int"}, batch_uri="in.csv")


def gate(batch, started: str, release: str):
    \"\"\"Says it started, then holds the job until the test releases it.\"\"\"
    Path(started).write_text("started")
    while not Path(release).exists():
        time.sleep(0.05)
    print("released", flush=True)
    return batch


with af.workflow("k8s_gated") as wf:
    paths = {"started": str(HERE / "started"), "release": str(HERE / "release")}
    out = af.user_operation(gate, af.read_example(numbers), params=paths)
    af.write_example(out, af.Example("k8s_gated_out", batch_uri="out.csv"))
"""


def test_a_killed_driver_is_replaced_by_one_that_adopts_the_running_kubernetes_job(
    kcli: Cli, cluster: Cluster, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """kill -9 of a detached run's driver: the Kubernetes Job runs on; the scheduler's next
    pass starts a driver that adopts it (same Job, same attempt) and completes the run."""
    workflow = write_project(tmp_path / "gated", GATED_WORKFLOW)
    project = workflow.parent
    execution = run_on_kubernetes(kcli, workflow, "--detach")["execution"]
    request.addfinalizer(lambda: stop_if_running(kcli, execution))
    wait_for((project / "started").exists, 60, "the job to start in its pod")
    (job,) = jobs_by_name(kcli, execution).values()
    assert (job["status"], job["attempt"]) == ("running", 1)
    driver = execution_row(kcli, execution)["driver_pid"]
    os.kill(driver, signal.SIGKILL)
    wait_for(lambda: not alive(driver), 10, "the driver to die", 0.05)
    (k8s_job,) = cluster.jobs(execution)
    assert k8s_job.metadata.uid == job["handle"]["uid"] and k8s_job.status.active == 1

    scheduler = kcli.popen("scheduler", "--interval", "0.5")
    try:

        def adopted() -> bool:
            pid = execution_row(kcli, execution)["driver_pid"]
            return pid not in (None, driver) and alive(pid)

        wait_for(adopted, 60, "a new driver to adopt the execution")
        assert execution_row(kcli, execution)["status"] == "running"
        (running,) = jobs_by_name(kcli, execution).values()
        assert (running["status"], running["handle"]) == ("running", job["handle"])  # untouched

        (project / "release").write_text("go")
        wait_for(lambda: execution_row(kcli, execution)["status"] == "succeeded", 60, "the end")
    finally:
        scheduler.send_signal(signal.SIGINT)
        scheduler.wait(timeout=30)
    (done,) = jobs_by_name(kcli, execution).values()
    assert (done["status"], done["attempt"], done["handle"]) == ("succeeded", 1, job["handle"])
    assert [j.metadata.uid for j in cluster.jobs(execution)] == [job["handle"]["uid"]]
    assert pd.read_csv(project / "out.csv")["x"].tolist() == [0, 1, 2]
    assert "released" in kcli.run("job", "logs", str(job["id"])).stdout


HANDOFF_WORKFLOW = """
import os
import time
from pathlib import Path
import aiflow as af

HERE = Path(__file__).parent
numbers = af.Example("k8s_handoff", schema={"x": "int"}, batch_uri="in.csv")


def hold(root: str, role: str) -> None:
    \"\"\"Say which process started (a file named after its pid), then wait for the test.\"\"\"
    Path(root, f"{role}-{os.getpid()}").write_text("started")
    while not Path(root, f"{role}.release").exists():
        time.sleep(0.05)


class Mean(af.Trainer):
    def __init__(self, root: str = "") -> None:
        self.root = root

    def fit(self, batch, base_model=None):
        hold(self.root, "train")
        return {"mean": float(batch["x"].mean())}


class Above(af.Predictor):
    def __init__(self, root: str = "") -> None:
        self.root = root

    def predict(self, batch, model):
        hold(self.root, "predict")
        return batch.assign(prediction=(batch["x"] > model["mean"]).astype(int))


with af.workflow("k8s_handoff") as wf:
    raw = af.read_example(numbers)
    model = af.train(raw, Mean(root=str(HERE)), model=af.Model("k8s_mean"))
    preds = af.predict(raw, model, Above(root=str(HERE)))
    af.write_example(preds, af.Example("k8s_out", batch_uri="out.csv"))
"""


def started(project: Path, role: str) -> list[int]:
    """Pids of the processes that started ``role`` (train, predict), oldest first."""
    marks = sorted(project.glob(f"{role}-*"), key=lambda p: p.stat().st_mtime)
    return [int(p.name.rpartition("-")[2]) for p in marks]


def test_an_attempt_the_dead_driver_never_recorded_is_replaced_not_left_running(
    kcli: Cli,
    cluster: Cluster,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The driver died between creating a Job and recording it: the store says the job is
    queued while its Kubernetes Job runs. The adopting driver finds that Job by the
    execution's label (``find_attempts``) and stops it before it starts the job itself, so the
    orphan neither runs beside the new attempt nor blocks it with its name."""
    from aiflow.config import get_settings, reset_settings
    from aiflow.deployers.base import JobLaunch
    from aiflow.deployers.kubernetes import KubernetesDeployer
    from aiflow.scheduler.launch import default_command, job_env, job_log_path
    from aiflow.store.sql_store import MetaStore

    workflow = write_project(tmp_path / "handoff", HANDOFF_WORKFLOW)
    project = workflow.parent
    execution = run_on_kubernetes(kcli, workflow, "--detach")["execution"]
    request.addfinalizer(lambda: stop_if_running(kcli, execution))
    wait_for(lambda: started(project, "train"), 60, "the trainer to start in its pod")
    driver = execution_row(kcli, execution)["driver_pid"]
    os.kill(driver, signal.SIGKILL)
    wait_for(lambda: not alive(driver), 10, "the driver to die", 0.05)
    (project / "train.release").write_text("go")
    wait_for(lambda: any(j.status.succeeded for j in cluster.jobs(execution)), 60, "training")

    # What the dead driver did last: it started the next job, and died before recording it.
    for key, value in cluster.settings.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    store = MetaStore()
    try:
        (queued,) = [j for j in store.list_jobs(execution) if j.depends_on]
        assert (queued.status.value, queued.attempt) == ("queued", 0)
        launch = JobLaunch(
            job_id=queued.id,
            execution_id=execution,
            job_name=queued.name,
            attempt=1,
            command=default_command(queued),
            env=job_env(store.uri, queued, 1, get_settings()),
            log_path=job_log_path(execution, queued.name, 1),
            workdir=project,
        )
        deployer = KubernetesDeployer()
        orphan = deployer.submit(launch)
        deployer.close()
    finally:
        store.dispose()
    wait_for(lambda: started(project, "predict"), 60, "the orphan to run")
    (orphan_pid,) = started(project, "predict")

    scheduler = kcli.popen("scheduler", "--interval", "0.5")
    try:
        wait_for(lambda: len(started(project, "predict")) == 2, 60, "the job's relaunch")
        assert not alive(orphan_pid), "the orphan was stopped before the relaunch"
        (project / "predict.release").write_text("go")
        wait_for(
            lambda: execution_row(kcli, execution)["status"] in ("succeeded", "failed"),
            60,
            "the adopted execution to end",
        )
    finally:
        scheduler.send_signal(signal.SIGINT)
        scheduler.wait(timeout=30)
    final = execution_row(kcli, execution)
    assert final["status"] == "succeeded", final["error"]
    done = jobs_by_name(kcli, execution)[queued.name]
    assert (done["status"], done["attempt"]) == ("succeeded", 1)
    assert done["handle"]["uid"] != orphan["uid"]
    ours = [
        j for j in cluster.jobs(execution) if j.metadata.labels["aiflow.dev/job"] == str(queued.id)
    ]
    assert [j.metadata.uid for j in ours] == [done["handle"]["uid"]]  # the orphan's is gone
    assert pd.read_csv(project / "out.csv")["prediction"].tolist() == [0, 0, 1]
