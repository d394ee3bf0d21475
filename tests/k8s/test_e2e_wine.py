"""The shipped wine example end to end with ``--deployer kubernetes``, through the real CLI.

Each job attempt becomes a Kubernetes Job in a fresh namespace of the test control plane
(``k8s``); its pod runs on the node agent, which runs the job's command as a local process,
so these runs produce the example's real outputs and the logs read back are the job's real
output, fetched through the API server's pod log API. What is checked here is what a user sees:
outputs, model versions, ``aiflow job logs``, and the Jobs an administrator finds by label.
Lifecycle (stop, retries, failures) is in test_e2e_lifecycle.py, a killed driver in
test_e2e_reconcile.py.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Cli
from tests.k8s.controlplane import ControlPlane
from tests.services import unavailable, wait_for

pytestmark = pytest.mark.slow
wine = e2e.wine  # a private copy of examples/wine with its data prepared (a fixture)

EXECUTION_LABEL = "aiflow.dev/execution"


@dataclass
class Cluster:
    """A fresh namespace of the test control plane and an administrator's view of it, to
    check what the deployer left there (never to drive it)."""

    namespace: str
    settings: dict[str, str]  # the AIFLOW__KUBERNETES__* a CLI process gets
    core: Any
    batch: Any

    def jobs(self, execution: int) -> list[Any]:
        """The execution's Kubernetes Jobs, found by label as a user would, oldest first."""
        found = self.batch.list_namespaced_job(
            self.namespace, label_selector=f"{EXECUTION_LABEL}={execution}"
        ).items
        return sorted(found, key=lambda j: (j.metadata.creation_timestamp, j.metadata.name))

    def pods(self, execution: int) -> list[Any]:
        selector = f"{EXECUTION_LABEL}={execution}"
        return list(self.core.list_namespaced_pod(self.namespace, label_selector=selector).items)

    def secret(self, name: str) -> dict[str, str]:
        """The decoded values of the Secret ``name``."""
        data = self.core.read_namespaced_secret(name, self.namespace).data or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def pod_log(self, job: str) -> str:
        """The log of the Job's pod, read with the admin's credentials through the API."""
        (pod,) = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"job-name={job}"
        ).items
        return str(self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace))


@pytest.fixture
def cluster(k8s: ControlPlane) -> Iterator[Cluster]:
    from kubernetes import client

    namespace = k8s.namespace("e2e")
    settings = {
        "AIFLOW__KUBERNETES__KUBECONFIG": str(k8s.kubeconfig),
        "AIFLOW__KUBERNETES__NAMESPACE": namespace,
        # The node agent runs the pod's command here: the image's interpreter is this one.
        "AIFLOW__KUBERNETES__PYTHON": sys.executable,
    }
    with k8s.api_client() as admin:
        yield Cluster(namespace, settings, client.CoreV1Api(admin), client.BatchV1Api(admin))


@pytest.fixture
def kcli(aiflow_home: Path, tmp_path: Path, cluster: Cluster) -> Cli:
    """The CLI with the deployer configured through the environment, as a user would."""
    return Cli(aiflow_home, tmp_path, dict(cluster.settings))


def run_on_kubernetes(
    cli: Cli, workflow: Path, *args: str, server: str | None = None, timeout: float = 180
) -> Any:
    """``aiflow [--server URL] run WORKFLOW --deployer kubernetes ARGS --json``'s summary."""
    remote = ["--server", server] if server else []
    command = [*remote, "run", str(workflow), "--deployer", "kubernetes", *args, "--json"]
    return json.loads(cli.run(*command, timeout=timeout).stdout)


def assert_wine_outputs(summary: dict[str, Any], wine: Path, version: int = 1) -> None:
    """What tests/e2e/test_cli_batch.py asserts of a local run."""
    assert summary["status"] == "succeeded", summary
    assert summary["model_versions"][0]["model"] == "wine_sgd"
    assert summary["model_versions"][0]["version"] == version
    out = Path(summary["outputs"]["write_wine_preds"])
    assert out == wine.parent / "out" / "preds.csv"
    preds = pd.read_csv(out)
    assert len(preds) == len(pd.read_csv(wine.parent / "data" / "wine.csv")) == 140
    assert set(preds["model_version"]) == {version}
    assert (preds["prediction"] == preds["label"]).mean() > 0.9
    assert "phenol_ratio" in preds.columns  # the transformer ran before predict


def assert_labelled_jobs(cluster: Cluster, execution: int, jobs: list[dict[str, Any]]) -> None:
    """One succeeded Kubernetes Job per aiflow job (one attempt each), labelled with it.
    The deployer reads an attempt's end from its pod; the Job controller records it on the
    Job a moment later, hence the wait."""

    def complete() -> bool:
        found = cluster.jobs(execution)
        return len(found) == len(jobs) and all(j.status.succeeded == 1 for j in found)

    wait_for(complete, 30, f"the Kubernetes Jobs of execution {execution} to complete")
    found = cluster.jobs(execution)
    by_job = {j.metadata.labels["aiflow.dev/job"]: j for j in found}
    assert sorted(by_job) == sorted(str(j["id"]) for j in jobs), [j.metadata.name for j in found]
    for job in jobs:
        k8s_job = by_job[str(job["id"])]
        labels = k8s_job.metadata.labels
        assert labels["aiflow.dev/attempt"] == "1"
        assert labels["app.kubernetes.io/managed-by"] == "aiflow"
        assert k8s_job.metadata.annotations["aiflow.dev/job-name"] == job["name"]
        assert job["log_uri"] == f"kubernetes://{cluster.namespace}/{k8s_job.metadata.name}"


def write_project(root: Path, workflow: str, rows: int = 3) -> Path:
    """A project directory with ``workflow.py`` and an ``in.csv`` of ``rows`` numbers."""
    root.mkdir(parents=True)
    (root / "in.csv").write_text("x\n" + "".join(f"{i}\n" for i in range(rows)))
    (root / "workflow.py").write_text(workflow)
    return root / "workflow.py"


def jobs_by_name(cli: Cli, execution: int) -> dict[str, dict[str, Any]]:
    return {j["name"]: j for j in cli.json("job", "list", str(execution))}


def execution_row(cli: Cli, execution: int) -> dict[str, Any]:
    """The execution as ``execution list`` shows it (status, deployer, driver pid)."""
    return next(e for e in cli.json("execution", "list") if e["id"] == execution)


def stop_if_running(cli: Cli, execution: int) -> None:
    """A detached execution outlives a failed test: stop it, so nothing is left running."""
    if execution_row(cli, execution)["status"] not in ("succeeded", "failed", "killed"):
        cli.run("execution", "stop", str(execution), check=False)


def assert_wine_run(cli: Cli, summary: dict[str, Any], wine: Path, deployer: str) -> int:
    """What a user sees after a successful wine run on ``deployer``: its outputs, both jobs
    succeeded, the accuracy metric, the execution listed with its deployer, model version 1
    from it. Returns the execution's id."""
    assert_wine_outputs(summary, wine)
    assert [(j["name"], j["status"]) for j in summary["jobs"]] == [
        ("train_wine_sgd", "succeeded"),
        ("write_wine_preds", "succeeded"),
    ]
    assert summary["metrics"]["evaluate_accuracy"]["accuracy"] > 0.9
    execution = int(summary["execution"])
    (listed,) = cli.json("execution", "list")
    assert (listed["id"], listed["deployer"]) == (execution, deployer)
    versions = cli.json("model", "versions", "wine_sgd")
    assert [(v["version"], v["execution_id"]) for v in versions] == [(1, execution)]
    return execution


# -- batch on the local engine ----------------------------------------------------------------


def test_wine_batch_runs_as_kubernetes_jobs(kcli: Cli, wine: Path, cluster: Cluster) -> None:
    summary = run_on_kubernetes(kcli, wine)
    execution = assert_wine_run(kcli, summary, wine, "kubernetes")

    jobs = kcli.json("job", "list", str(execution))
    assert_labelled_jobs(cluster, execution, jobs)

    # The log is the deployer's: read through the pod log API, nothing written by the driver.
    train = next(j for j in jobs if j["name"] == "train_wine_sgd")
    assert train["log_uri"].startswith("kubernetes://")
    logs = kcli.run("job", "logs", str(train["id"])).stdout
    assert "job train_wine_sgd done" in logs
    assert logs == cluster.pod_log(train["log_uri"].rpartition("/")[2])
    assert not (kcli.home / "logs" / str(execution) / "train_wine_sgd").exists()
    tail = kcli.run("job", "logs", str(train["id"]), "--tail", "1").stdout
    assert tail.count("\n") == 1 and tail in logs


# -- Flink ------------------------------------------------------------------------------------


@pytest.fixture
def flink_available() -> None:
    """PyFlink and a Java runtime, checked as the Flink session fixture checks them."""
    from aiflow.errors import FlinkUnavailable
    from aiflow.translators.flink.tableenv import find_java_home, pyflink_home

    try:
        pyflink_home()
        find_java_home()
    except FlinkUnavailable as exc:
        unavailable(f"Flink not available: {exc}")


FLINK_ENGINES = {
    "add_ratios": "flink",
    "train_wine_sgd": "local",
    "evaluate_accuracy": "local",
    "write_wine_preds": "flink",
}


@pytest.mark.flink
@pytest.mark.usefixtures("flink_available")
def test_wine_on_flink_runs_its_mini_cluster_inside_the_pod(
    kcli: Cli, wine: Path, cluster: Cluster
) -> None:
    summary = run_on_kubernetes(kcli, wine, "--engine", "flink", timeout=600)
    assert_wine_outputs(summary, wine)
    jobs = kcli.json("job", "list", str(summary["execution"]))
    assert {j["name"]: j["engine"] for j in jobs} == FLINK_ENGINES
    assert all(j["status"] == "succeeded" for j in jobs)
    assert_labelled_jobs(cluster, summary["execution"], jobs)
    flink_job = next(j for j in jobs if j["name"] == "add_ratios")
    shown = kcli.json("job", "show", str(flink_job["id"]))
    assert "web_ui" not in shown["result"]["engine"].get("flink", {})  # no session cluster


@pytest.mark.flink
def test_wine_on_flink_submits_from_the_pods_to_the_session_cluster(
    aiflow_home: Path, tmp_path: Path, wine: Path, cluster: Cluster, flink_session: str
) -> None:
    """The driver's ``AIFLOW__FLINK__REST_URL`` is forwarded into the job pods, and their
    Flink jobs run on that cluster."""
    cli = Cli(aiflow_home, tmp_path, {**cluster.settings, "AIFLOW__FLINK__REST_URL": flink_session})
    summary = run_on_kubernetes(cli, wine, "--engine", "flink", timeout=600)
    assert_wine_outputs(summary, wine)
    execution = summary["execution"]
    jobs = {j["name"]: j for j in cli.json("job", "list", str(execution))}
    assert {name: j["engine"] for name, j in jobs.items()} == FLINK_ENGINES
    assert_labelled_jobs(cluster, execution, list(jobs.values()))

    (k8s_job,) = [j for j in cluster.jobs(execution) if j.metadata.name.endswith(
        f"-{jobs['add_ratios']['id']}-a1"
    )]  # fmt: skip
    env = {e.name: e.value for e in k8s_job.spec.template.spec.containers[0].env}
    assert env["AIFLOW__FLINK__REST_URL"] == flink_session
    assert not any(name.startswith("AIFLOW__KUBERNETES__") for name in env)

    shown = cli.json("job", "show", str(jobs["add_ratios"]["id"]))
    flink = shown["result"]["engine"]["flink"]
    assert flink["web_ui"].startswith(flink_session)
    info = httpx.get(f"{flink_session}/jobs/{flink['job_id']}", timeout=10).json()
    assert info["state"] == "FINISHED" and info["name"] == f"wine_sgd/add_ratios#{execution}"
    logs = cli.run("job", "logs", str(jobs["add_ratios"]["id"])).stdout
    assert f"--- Flink TaskManager log of {flink['job_id']}" in logs  # after the pod's own log
    assert logs.startswith(cluster.pod_log(k8s_job.metadata.name))


# -- under an aiflow server -------------------------------------------------------------------


def test_wine_under_a_server_gives_pods_a_job_token_and_no_store_url(
    tmp_path: Path, wine: Path, cluster: Cluster
) -> None:
    """``aiflow --server URL run --deployer kubernetes``: the server's driver (which has
    ``AIFLOW_JOB_API``) gives each pod a job token through the attempt's Secret and the job
    API's URL, never the meta store's; the token dies with the attempt."""
    from aiflow.translators.job_store import NO_DIRECT_STORE
    from tests.server.conftest import create_role_tokens, running_server, server_env

    home = tmp_path / "server"
    home.mkdir()
    store_uri = f"sqlite:///{home / 'aiflow.db'}"
    tokens = create_role_tokens(store_uri)
    server = server_env(home, store_uri, **cluster.settings)
    with running_server(server, log=home / "server.log") as url:
        client = Cli(
            tmp_path / "client-home", tmp_path, {"AIFLOW__CLIENT__TOKEN": tokens["editor"]}
        )
        summary = run_on_kubernetes(client, wine, server=url, timeout=240)
        assert_wine_outputs(summary, wine)
        execution = summary["execution"]
        jobs = client.json("--server", url, "job", "list", str(execution))
        assert_labelled_jobs(cluster, execution, jobs)

        train = next(j for j in jobs if j["name"] == "train_wine_sgd")
        logs = client.run("--server", url, "job", "logs", str(train["id"])).stdout
        assert "job train_wine_sgd done" in logs  # the pod log, read by the server's deployer

        for k8s_job in cluster.jobs(execution):
            name = k8s_job.metadata.name
            container = k8s_job.spec.template.spec.containers[0]
            env = {e.name: e for e in container.env}
            assert env["AIFLOW_JOB_API"].value.startswith(url)
            for secret in ("AIFLOW_JOB_TOKEN", "AIFLOW__METASTORE__URI"):
                assert env[secret].value is None  # never inline: from the attempt's Secret
                assert env[secret].value_from.secret_key_ref.name == name
            assert store_uri not in json.dumps(k8s_job.to_dict(), default=str)
            values = cluster.secret(name)
            assert values["AIFLOW__METASTORE__URI"] == NO_DIRECT_STORE
            assert values["AIFLOW_JOB_TOKEN"].startswith("afj_")
            job_id = k8s_job.metadata.labels["aiflow.dev/job"]
            revoked = httpx.get(
                f"{url}/api/v1/job-api/jobs/{job_id}",
                headers={"Authorization": f"Bearer {values['AIFLOW_JOB_TOKEN']}"},
                timeout=10,
            )
            assert revoked.status_code == 401, revoked.text  # ended with its attempt
