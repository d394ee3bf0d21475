"""The chart's RBAC is enough for the Kubernetes deployer: the deployer itself, authenticated
with a token of the chart's ServiceAccount (issued by the API server's TokenRequest API, as a
pod's projected token is), runs, watches, reads the logs of, finds and stops a job in the
release's namespace. What it may *not* do is checked in ``test_apiserver.py``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aiflow.config import reset_settings
from aiflow.deployers.base import JobLaunch
from aiflow.deployers.kubernetes import KubernetesDeployer
from tests.helm.test_apiserver import FULLNAME, installed  # noqa: F401 (the module fixture)
from tests.services import alive, wait_for

if TYPE_CHECKING:
    from tests.k8s.controlplane import ControlPlane

SLEEPER = "import os, pathlib, sys, time; print('up', flush=True); " \
    "pathlib.Path(sys.argv[1], 'pid').write_text(str(os.getpid())); time.sleep(600)"  # fmt: skip


@pytest.fixture
def deployer_as_chart(
    installed: tuple[str, str],  # noqa: F811
    k8s: ControlPlane,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[KubernetesDeployer]:
    from kubernetes import client

    namespace, _ = installed
    with k8s.api_client() as api:
        core: Any = client.CoreV1Api(api)
        token = core.create_namespaced_service_account_token(
            FULLNAME, namespace, {"spec": {"expirationSeconds": 3600}}
        ).status.token
    kubeconfig = k8s.token_kubeconfig(token, tmp_path / "chart-sa.kubeconfig")
    for key, value in {
        "KUBECONFIG": str(kubeconfig), "NAMESPACE": namespace, "PYTHON": sys.executable,
        "SERVICE_ACCOUNT": f"{FULLNAME}-job",  # what the chart gives job pods
    }.items():  # fmt: skip
        monkeypatch.setenv(f"AIFLOW__KUBERNETES__{key}", value)
    reset_settings()
    deployer = KubernetesDeployer()
    yield deployer
    deployer.close()


def _launch(tmp_path: Path, name: str, code: str, attempt: int = 1) -> JobLaunch:
    return JobLaunch(
        job_id=7, execution_id=31, job_name=name, attempt=attempt,
        command=[sys.executable, "-c", code, str(tmp_path)],
        env={"AIFLOW_JOB_TOKEN": "aifj_not-a-real-one"},
        log_path=tmp_path / "logs" / name / f"attempt-{attempt}.log", workdir=tmp_path,
    )  # fmt: skip


def test_the_deployer_runs_with_the_charts_service_account(
    deployer_as_chart: KubernetesDeployer, tmp_path: Path
) -> None:
    d = deployer_as_chart
    done = d.submit(_launch(tmp_path, "hello", "print('hello from a pod')"))
    deadline_turns = 600
    while d.poll(done).running and deadline_turns:
        d.wait_for_change(0.2)
        deadline_turns -= 1
    state = d.poll(done)
    assert not state.running and state.exit_code == 0, state
    assert list(d.logs(done)) == ["hello from a pod"]
    assert [h["job"] for h in d.find_attempts(31)] == [done["job"]]

    sleeper = d.submit(_launch(tmp_path, "sleeper", SLEEPER))
    wait_for((tmp_path / "pid").exists, 60, "the sleeper to start", 0.05)
    pid = int((tmp_path / "pid").read_text())
    assert next(iter(d.logs(sleeper, follow=True))) == "up"  # live logs through pods/log
    d.stop(sleeper, grace=1)
    assert not d.poll(sleeper).running
    wait_for(lambda: not alive(pid), 10, "the stopped job's process to end", 0.05)
