"""The Kubernetes deployer without a cluster: names, labels, the Job and Secret it would create,
and how it reads Job and pod states (``status.assess``), from the objects as the API returns
them. What the API server does with them is tests/deployers/test_kubernetes_deployer.py."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aiflow.config import get_settings, reset_settings
from aiflow.deployers.base import JobLaunch
from aiflow.deployers.kubernetes import naming, objects
from aiflow.deployers.kubernetes.settings import KubernetesSettings
from aiflow.deployers.kubernetes.status import assess, refusal
from aiflow.deployers.remote import secret_values
from aiflow.errors import DeploymentError
from aiflow.translators.job_store import NO_DIRECT_STORE

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def launch(env: dict[str, str] | None = None, **fields: Any) -> JobLaunch:
    values: dict[str, Any] = {
        "job_id": 42,
        "execution_id": 7,
        "job_name": "train model",
        "attempt": 2,
        "command": [sys.executable, "-P", "-m", "aiflow.runtime", "--job-id", "42"],
        "env": env if env is not None else {"AIFLOW_JOB_ID": "42"},
        "log_path": Path("/logs/7/train model/attempt-2.log"),
        "workdir": Path("/somewhere/local"),
    }
    return JobLaunch(**(values | fields))


def manifest(settings: KubernetesSettings | None = None, **fields: Any) -> dict[str, Any]:
    return objects.job_manifest(launch(**fields), settings or KubernetesSettings(), "af-7-x-42-a2")


def container(job: dict[str, Any]) -> dict[str, Any]:
    (main,) = [c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == "job"]
    return dict(main)


# -- names and labels -----------------------------------------------------------------------------


def test_job_names_are_dns_labels_unique_per_attempt() -> None:
    assert naming.job_name(7, "train model", 42, 2) == "af-7-train-model-42-a2"
    assert naming.job_name(7, "train model", 42, 3) != naming.job_name(7, "train model", 42, 2)
    # Names that slug alike stay apart through the job id.
    assert naming.job_name(7, "Train_Model", 43, 1) != naming.job_name(7, "train-model", 44, 1)
    for name in ["x" * 300, "évaluer à 100%", "---", "", "UPPER..dots", "a" * 62 + "-b"]:
        job = naming.job_name(123456789, name, 987654321, 12)
        assert DNS_LABEL.match(job) and len(job) <= 63, job
        assert job.startswith("af-123456789-") and job.endswith("-987654321-a12")


def test_label_values_are_valid_and_the_exact_name_is_an_annotation() -> None:
    for text in ["train model", "-x-", "é" * 80, "a/b:c", "", "ok_name.v1"]:
        value = naming.label_value(text)
        assert LABEL_VALUE.match(value) and len(value) <= 63, value
    job = manifest(job_name="évaluer le modèle")
    assert job["metadata"]["annotations"][naming.JOB_NAME] == "évaluer le modèle"
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "aiflow",
        "aiflow.dev/execution": "7",
        "aiflow.dev/job": "42",
        "aiflow.dev/attempt": "2",
        "aiflow.dev/job-name": "valuer-le-mod-le",
    }


def test_log_uris_name_only_a_namespace_and_a_job() -> None:
    uri = naming.log_uri("ml", "af-7-train-42-a2")
    assert naming.parse_log_uri(uri) == ("ml", "af-7-train-42-a2")
    for bad in [
        "kubernetes://ml/../etc",
        "kubernetes://ml",
        "kubernetes://ML/x",
        "/tmp/x.log",
        "kubernetes://ml/a/b",
        "kubernetes:///x",
    ]:
        assert naming.parse_log_uri(bad) is None, bad


# -- the Job ------------------------------------------------------------------------------------


def test_a_job_is_one_suspended_attempt_the_driver_retries() -> None:
    job = manifest()
    spec = job["spec"]
    assert spec["suspend"] is True, "no pod before its Secret exists"
    assert (spec["backoffLimit"], spec["template"]["spec"]["restartPolicy"]) == (0, "Never")
    assert "ttlSecondsAfterFinished" not in spec and "activeDeadlineSeconds" not in spec
    assert job["metadata"] == job["metadata"] | {"name": "af-7-x-42-a2", "namespace": "default"}
    pod_labels = spec["template"]["metadata"]["labels"]
    assert pod_labels[naming.JOB] == "42", "the watch selects pods by this label"
    assert spec["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_driver_interpreter_becomes_the_image_one() -> None:
    settings = KubernetesSettings(python="/opt/venv/bin/python")
    assert container(manifest(settings))["command"][:2] == ["/opt/venv/bin/python", "-P"]
    other = ["/usr/bin/env", "bash", "-c", "echo $HOME $(date)"]
    command = container(manifest(settings, command=other))["command"]
    assert command == ["/usr/bin/env", "bash", "-c", "echo $$HOME $$(date)"], (
        "Kubernetes would expand $(VAR): every $ is doubled so the command runs as given"
    )


def test_credentials_go_to_the_secret_never_inline() -> None:
    env = {
        "AIFLOW_JOB_ID": "42",
        "AIFLOW_JOB_API": "http://aiflow:8080",
        "AIFLOW_JOB_TOKEN": "afj_secret",
        "AIFLOW__METASTORE__URI": NO_DIRECT_STORE,
        "AIFLOW__SERVER__SECRET_KEY": "s" * 40,
    }
    job = manifest(env=env)
    text = repr(job)
    assert "afj_secret" not in text and "s" * 40 not in text
    variables = {e["name"]: e for e in container(job)["env"]}
    assert variables["AIFLOW_JOB_ID"] == {"name": "AIFLOW_JOB_ID", "value": "42"}
    assert variables["AIFLOW_JOB_API"]["value"] == "http://aiflow:8080"
    for secret in ("AIFLOW_JOB_TOKEN", "AIFLOW__METASTORE__URI", "AIFLOW__SERVER__SECRET_KEY"):
        ref = {"secretKeyRef": {"name": "af-7-x-42-a2", "key": secret}}
        assert variables[secret] == {"name": secret, "valueFrom": ref}
    values = secret_values(launch(env=env))
    assert set(values) == {
        "AIFLOW_JOB_TOKEN",
        "AIFLOW__METASTORE__URI",
        "AIFLOW__SERVER__SECRET_KEY",
    }

    created = job | {"metadata": job["metadata"] | {"uid": "u-1"}}
    secret = objects.secret_manifest(created, values)
    assert secret["stringData"] == values and secret["metadata"]["name"] == "af-7-x-42-a2"
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "batch/v1", "kind": "Job", "name": "af-7-x-42-a2", "uid": "u-1"}


def test_the_drivers_settings_reach_the_pod_but_not_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pod inherits nothing from the driver: the settings its job reads (a Flink session
    cluster's URL) are passed on; credentials and the driver's own kubeconfig are not."""
    monkeypatch.setenv("AIFLOW__FLINK__REST_URL", "http://flink-rest:8081")
    monkeypatch.setenv("AIFLOW__SERVER__SECRET_KEY", "k" * 40)
    monkeypatch.setenv("AIFLOW__METASTORE__URI", "postgresql://u:pw@db/aiflow")
    monkeypatch.setenv("AIFLOW__KUBERNETES__KUBECONFIG", "/home/me/.kube/config")
    monkeypatch.setenv("AIFLOW__FLINK__PARALLELISM", "1")
    job = manifest(env={"AIFLOW__FLINK__PARALLELISM": "4"})  # the job's own value wins
    variables = {e["name"]: e for e in container(job)["env"]}
    assert variables["AIFLOW__FLINK__REST_URL"]["value"] == "http://flink-rest:8081"
    assert variables["AIFLOW__FLINK__PARALLELISM"]["value"] == "4"
    text = repr(job)
    assert "k" * 40 not in text and "pw@db" not in text and ".kube/config" not in text


def test_a_store_url_with_a_password_is_refused() -> None:
    env = {"AIFLOW__METASTORE__URI": "postgresql+psycopg://aiflow:hunter2@db:5432/aiflow"}
    with pytest.raises(DeploymentError, match="run the workflow under an aiflow server") as info:
        manifest(env=env)
    assert "hunter2" not in str(info.value) and "db:5432" in str(info.value)
    manifest(env={"AIFLOW__METASTORE__URI": "sqlite:////data/aiflow.db"})  # no password: fine
    manifest(env={"AIFLOW__METASTORE__URI": "postgresql://aiflow@db/aiflow"})  # peer/IAM auth


def test_settings_shape_the_pod_and_aiflow_labels_win() -> None:
    settings = KubernetesSettings(
        namespace="ml",
        image="registry.example/aiflow:1.2",
        image_pull_policy="IfNotPresent",
        service_account="aiflow-jobs",
        resources={"requests": {"cpu": "500m"}, "limits": {"memory": "1Gi"}},
        node_selector={"pool": "cpu"},
        tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        labels={"team": "ml", naming.JOB: "spoofed"},
        annotations={"owner": "ml@example.com"},
        working_dir="/work",
        active_deadline=3600,
        ttl_after_finished=600,
    )
    job = manifest(settings)
    pod, main = job["spec"]["template"], container(job)
    assert job["metadata"]["namespace"] == "ml"
    assert (job["spec"]["activeDeadlineSeconds"], job["spec"]["ttlSecondsAfterFinished"]) == (
        3600,
        600,
    )
    assert main["image"] == "registry.example/aiflow:1.2"
    assert (main["imagePullPolicy"], main["workingDir"]) == ("IfNotPresent", "/work")
    assert main["resources"] == {"requests": {"cpu": "500m"}, "limits": {"memory": "1Gi"}}
    assert pod["spec"]["serviceAccountName"] == "aiflow-jobs"
    assert "automountServiceAccountToken" not in pod["spec"]
    assert pod["spec"]["nodeSelector"] == {"pool": "cpu"}
    assert pod["spec"]["tolerations"] == settings.tolerations
    for meta in (job["metadata"], pod["metadata"]):
        assert meta["labels"]["team"] == "ml" and meta["labels"][naming.JOB] == "42"
        assert meta["annotations"]["owner"] == "ml@example.com"


def test_the_pod_template_file_is_the_base(tmp_path: Path) -> None:
    template = tmp_path / "pod.yaml"
    template.write_text(
        textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: ignored
          labels: {team: ml, aiflow.dev/job: spoofed}
        spec:
          restartPolicy: Always
          nodeSelector: {disk: ssd}
          volumes: [{name: data, emptyDir: {}}]
          containers:
            - name: sidecar
              image: busybox
            - name: job
              image: registry.example/custom:7
              args: [ignored]
              env: [{name: FROM_TEMPLATE, value: "1"}, {name: AIFLOW_JOB_ID, value: "0"}]
              volumeMounts: [{name: data, mountPath: /data}]
    """)
    )
    job = manifest(KubernetesSettings(pod_template_file=template, node_selector={"pool": "a"}))
    pod = job["spec"]["template"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["sidecar", "job"]
    main = container(job)
    assert main["image"] == "registry.example/custom:7", "the default image does not override"
    assert main["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert "args" not in main
    assert main["env"] == [
        {"name": "FROM_TEMPLATE", "value": "1"},
        {"name": "AIFLOW_JOB_ID", "value": "42"},
    ]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd", "pool": "a"}
    assert pod["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert pod["metadata"]["labels"]["team"] == "ml"
    assert pod["metadata"]["labels"][naming.JOB] == "42" and "name" not in pod["metadata"]
    explicit = KubernetesSettings(pod_template_file=template, image="mine:1")
    assert container(manifest(explicit))["image"] == "mine:1"

    template.write_text("- not a pod\n")
    with pytest.raises(DeploymentError, match=re.escape(str(template))):
        manifest(KubernetesSettings(pod_template_file=template))
    with pytest.raises(DeploymentError, match=r"missing\.yaml"):
        manifest(KubernetesSettings(pod_template_file=tmp_path / "missing.yaml"))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFLOW__KUBERNETES__NAMESPACE", "ml")
    monkeypatch.setenv("AIFLOW__KUBERNETES__NODE_SELECTOR", '{"pool": "gpu"}')
    reset_settings()
    section = get_settings().section("kubernetes", KubernetesSettings)
    assert (section.namespace, section.node_selector) == ("ml", {"pool": "gpu"})
    assert "image" not in section.model_fields_set


def test_importing_the_deployer_package_does_not_load_the_client() -> None:
    code = "import sys, aiflow.deployers.kubernetes.settings; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- reading states ----------------------------------------------------------------------------


def pod(phase: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "af-1-x-1-a1-abcde", "uid": "p1"},
        "status": {"phase": phase, **status},
    }


def terminated(code: int, reason: str = "Error") -> list[dict[str, Any]]:
    return [{"name": "job", "state": {"terminated": {"exitCode": code, "reason": reason}}}]


def job(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    status = [{"type": t, "status": "True", "reason": r, "message": m} for t, r, m in conditions]
    return {"metadata": {"name": "af-1-x-1-a1", "uid": "j1"}, "status": {"conditions": status}}


def test_pending_and_running_attempts_run() -> None:
    assert assess(job(), []).state.running
    running = [{"name": "job", "state": {"running": {"startedAt": "now"}}}]
    assert assess(job(), [pod("Running", containerStatuses=running)]).state.running


def test_exit_codes_and_reasons_come_from_the_pod() -> None:
    state = assess(job(), [pod("Succeeded", containerStatuses=terminated(0, "Completed"))]).state
    assert (state.running, state.exit_code, state.error) == (False, 0, None)
    state = assess(job(), [pod("Failed", containerStatuses=terminated(3))]).state
    assert (state.running, state.exit_code, state.error) == (False, 3, "exited with code 3")
    state = assess(job(), [pod("Failed", containerStatuses=terminated(137, "OOMKilled"))]).state
    assert state.exit_code == 137 and state.error == "exited with code 137 (OOMKilled)"


def test_an_evicted_pod_explains_the_failed_job() -> None:
    evicted = pod(
        "Running",
        conditions=[
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting",
            }
        ],
    )
    failed = job(("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    state = assess(failed, [], gone_pods=[evicted]).state
    assert not state.running and state.error is not None
    assert "was evicted (EvictionByEvictionAPI: Eviction API: evicting)" in state.error
    assert "BackoffLimitExceeded" in state.error
    kubelet = pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
    state = assess(job(), [kubelet]).state
    assert (
        state.error == f"pod {kubelet['metadata']['name']} failed: Evicted: The node was low "
        "on resource: memory."
    )


def test_a_deadline_fails_the_attempt() -> None:
    deadline = job(("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"))
    state = assess(deadline, []).state
    assert not state.running
    assert (
        state.error == "Kubernetes Job DeadlineExceeded: Job was active longer than specified "
        "deadline"
    )


def test_an_image_that_cannot_be_pulled_is_abandoned() -> None:
    waiting = [
        {
            "name": "job",
            "state": {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": 'failed to pull image "does-not-exist:1"',
                }
            },
        }
    ]
    verdict = assess(job(), [pod("Pending", containerStatuses=waiting)])
    assert verdict.abandon and not verdict.state.running
    assert verdict.state.error is not None and "ImagePullBackOff" in verdict.state.error
    assert "does-not-exist:1" in verdict.state.error


def test_a_refused_pod_is_abandoned_and_transient_failures_are_not() -> None:
    quota = {
        "reason": "FailedCreate",
        "message": 'Error creating: pods "af-1" is forbidden: '
        "exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1",
    }
    verdict = assess(job(), [], [quota])
    assert verdict.abandon and verdict.state.error is not None
    assert "exceeded quota: q" in verdict.state.error
    timeout = {"reason": "FailedCreate", "message": "Timeout: request did not complete"}
    assert refusal([timeout]) is None and assess(job(), [], [timeout]).state.running


def test_a_deleted_job_has_ended() -> None:
    state = assess(None, []).state
    assert not state.running and state.error == "its Kubernetes Job was deleted"
    done = pod("Succeeded", containerStatuses=terminated(0, "Completed"))
    assert assess(None, [], gone_pods=[done]).state.exit_code == 0


def test_a_pod_killed_by_a_deletion_waits_for_the_jobs_reason() -> None:
    killed = pod("Failed", containerStatuses=terminated(143))
    killed["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert assess(job(), [killed]).state.running, "the Job controller will say why"
    deadline = job(("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"))
    state = assess(deadline, [killed]).state
    assert state.exit_code == 143 and state.error is not None
    assert state.error.startswith("Kubernetes Job DeadlineExceeded") and "143" in state.error
    stopping = job()
    stopping["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert assess(stopping, [killed]).state == assess(None, [killed]).state
    assert assess(None, [killed]).state.exit_code == 143
