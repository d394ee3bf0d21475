"""KubernetesDeployer against the test control plane (``k8s``): what the API server, the Job
controller, the garbage collector, admission (ResourceQuota, RBAC) and a node make of its
Jobs. The node agent runs pods as local processes, so jobs here are real Python programs whose
pids and output the tests see. The shared contract (exit codes, stop, logs, retries through the
driver) is tests/contracts/test_deployer_contract.py; this file is what only Kubernetes has.
"""

from __future__ import annotations

import json
import socket
import sys
import textwrap
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiflow.config import reset_settings
from aiflow.deployers.base import Handle, JobLaunch, JobState
from aiflow.deployers.kubernetes import KubernetesDeployer
from aiflow.errors import DeploymentError, NotFound
from tests.k8s.controlplane import ControlPlane
from tests.services import alive, free_port, wait_for

TOKEN = "afj_not_for_the_pod_spec"

# A job that publishes its pid into the directory it is given, then sleeps.
PUBLISH_PID = """
    import os, pathlib, sys, time
    d = pathlib.Path(sys.argv[1]); (d / ".pid").write_text(str(os.getpid()))
    (d / ".pid").rename(d / "pid"); print("started", flush=True); time.sleep(3600)
"""


def configure(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """``[kubernetes]`` settings through the environment, as users (and driver subprocesses)
    get them."""
    for key, value in settings.items():
        monkeypatch.setenv(f"AIFLOW__KUBERNETES__{key}", value)
    reset_settings()


@pytest.fixture
def namespace(k8s: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh namespace, configured as the deployer's."""
    name = k8s.namespace("dep")
    configure(monkeypatch, KUBECONFIG=str(k8s.kubeconfig), NAMESPACE=name, PYTHON=sys.executable)
    return name


class Tracked(KubernetesDeployer):
    """Remembers what it submitted, so that a failed test leaves nothing running."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[Handle] = []

    def submit(self, launch: JobLaunch) -> Handle:
        handle = super().submit(launch)
        self.submitted.append(handle)
        return handle


@pytest.fixture
def deployer(namespace: str) -> Iterator[Tracked]:
    d = Tracked()
    yield d
    for handle in d.submitted:
        d.stop(handle, grace=0)
    d.close()


@dataclass
class Admin:
    """The cluster as its administrator sees it, to check what the deployer left there."""

    client: Any
    core: Any
    batch: Any


@pytest.fixture
def api(k8s: ControlPlane) -> Iterator[Admin]:
    from kubernetes import client

    with k8s.api_client() as admin:
        yield Admin(admin, client.CoreV1Api(admin), client.BatchV1Api(admin))


def submit(
    d: KubernetesDeployer, tmp_path: Path, code: str, *, name: str = "train", **env: str
) -> Handle:
    """Start ``code`` as attempt 1 of job 5 of execution 9; its first argument is tmp_path."""
    launch = JobLaunch(
        job_id=5,
        execution_id=9,
        job_name=name,
        attempt=1,
        command=[sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
        env={"AIFLOW_JOB_ID": "5", **env},
        log_path=tmp_path / "logs" / "attempt-1.log",
        workdir=tmp_path,
    )
    return d.submit(launch)


def wait_ended(d: KubernetesDeployer, handle: Handle, timeout: float = 60) -> JobState:
    deadline = time.monotonic() + timeout
    while (state := d.poll(handle)).running:
        assert time.monotonic() < deadline, f"{handle['job']} still running after {timeout}s"
        d.wait_for_change(0.5)
    return state


def read_pid(directory: Path) -> int:
    wait_for((directory / "pid").exists, 60, "the job to start and publish its pid", 0.05)
    return int((directory / "pid").read_text())


def pods_of(api: Admin, namespace: str, job: str) -> list[Any]:
    return list(api.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items)


def remaining(api: Admin, namespace: str, name: str) -> list[str]:
    """What of the attempt's objects still exists."""
    by_name = f"metadata.name={name}"
    left = []
    if api.batch.list_namespaced_job(namespace, field_selector=by_name).items:
        left.append("job")
    if pods_of(api, namespace, name):
        left.append("pods")
    if api.core.list_namespaced_secret(namespace, field_selector=by_name).items:
        left.append("secret")
    return left


# -- what it creates ------------------------------------------------------------------------------


def test_credentials_reach_the_pod_only_through_its_secret(
    deployer: Tracked, api: Admin, namespace: str, tmp_path: Path
) -> None:
    code = "import os, zlib; print('token', zlib.crc32(os.environ['AIFLOW_JOB_TOKEN'].encode()))"
    handle = submit(deployer, tmp_path, code, AIFLOW_JOB_TOKEN=TOKEN, AIFLOW_JOB_API="http://x")
    assert set(handle) >= {"namespace", "job", "uid", "attempt", "log_uri"}
    assert (handle["namespace"], handle["job"]) == (namespace, "af-9-train-5-a1")
    assert wait_ended(deployer, handle) == JobState(running=False, exit_code=0)
    assert list(deployer.logs(handle)) == [f"token {zlib.crc32(TOKEN.encode())}"]

    raw = api.client.sanitize_for_serialization
    job = raw(api.batch.read_namespaced_job(handle["job"], namespace))
    (pod,) = [raw(p) for p in pods_of(api, namespace, handle["job"])]
    ours = {
        "aiflow.dev/execution": "9",
        "aiflow.dev/job": "5",
        "aiflow.dev/attempt": "1",
        "aiflow.dev/job-name": "train",
    }
    for obj in (job, pod):
        assert TOKEN not in json.dumps(obj)
        assert obj["metadata"]["labels"] | ours == obj["metadata"]["labels"]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["AIFLOW_JOB_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == handle["job"]
    assert env["AIFLOW_JOB_API"]["value"] == "http://x"
    secret = api.core.read_namespaced_secret(handle["job"], namespace)
    (owner,) = secret.metadata.owner_references
    assert (owner.kind, owner.uid) == ("Job", handle["uid"])
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["suspend"] is False


def test_logs_from_the_log_uri_and_the_driver_log_path(
    deployer: Tracked, api: Admin, namespace: str, tmp_path: Path
) -> None:
    handle = submit(deployer, tmp_path, "print('one'); print('two')")
    wait_ended(deployer, handle)
    assert list(deployer.logs(handle["log_uri"], tail=1)) == ["two"]
    other = KubernetesDeployer()
    log_path = other.settings.logs_dir / "9" / "train" / "attempt-1.log"
    assert list(other.logs(str(log_path))) == ["one", "two"]
    # Log URIs come from the meta store: only aiflow's own Jobs are read.
    container = {"name": "c", "image": "x", "command": ["true"]}
    template = {"spec": {"restartPolicy": "Never", "containers": [container]}}
    api.batch.create_namespaced_job(
        namespace,
        {"metadata": {"name": "not-aiflow"}, "spec": {"suspend": True, "template": template}},
    )
    for uri in [
        f"kubernetes://{namespace}/not-aiflow",
        f"kubernetes://{namespace}/af-nope-a1",
        "kubernetes://kube-system/../x",
        str(tmp_path / "elsewhere.log"),
    ]:
        with pytest.raises(NotFound):
            other.logs(uri)
    assert [h["job"] for h in other.find_attempts(9)] == [handle["job"]]
    assert other.find_attempts(10) == []
    other.close()


def test_stop_deletes_the_job_its_pod_and_its_secret(
    deployer: Tracked, api: Admin, namespace: str, tmp_path: Path
) -> None:
    handle = submit(deployer, tmp_path, PUBLISH_PID, AIFLOW_JOB_TOKEN=TOKEN)
    pid = read_pid(tmp_path)
    assert deployer.poll(handle).running
    assert remaining(api, namespace, handle["job"]) == ["job", "pods", "secret"]
    started = time.monotonic()
    deployer.stop(handle, grace=2)
    assert time.monotonic() - started < 2 + 15
    assert not deployer.poll(handle).running
    assert not alive(pid)
    wait_for(lambda: remaining(api, namespace, handle["job"]) == [], 30, "nothing left behind")
    deployer.stop(handle, grace=0)  # idempotent


def test_job_logs_read_the_pod_log_through_the_stored_log_uri(
    namespace: str, tmp_path: Path
) -> None:
    """What ``aiflow job logs`` does after a run: the driver stored the handle's log URI."""
    from aiflow.scheduler.driver import run_execution
    from aiflow.scheduler.logs import job_logs
    from aiflow.schemas.inputs import JobCreate
    from aiflow.store.sql_store import MetaStore

    store = MetaStore()
    try:
        version = store.register_workflow_version("wf", {}, "plan", "src", "file:///s", [])
        spec = JobCreate.model_validate({"name": "hello", "engine": "local", "spec": {}})
        execution = store.create_execution(version.id, "batch", "local", "kubernetes", [spec])
        d = KubernetesDeployer()
        code = "import os; print('hello from', os.environ['AIFLOW_JOB_NAME'])"
        command = [sys.executable, "-c", code]
        final = run_execution(store, execution.id, d, command_for=lambda job: command)
        assert final.status.value == "succeeded", final.error
        (job,) = store.list_jobs(execution.id)
        assert job.log_uri == f"kubernetes://{namespace}/af-{execution.id}-hello-{job.id}-a1"
        assert list(job_logs(store, job.id)) == ["hello from hello"]
        assert list(job_logs(store, job.id, follow=True)) == ["hello from hello"]
        d.close()
    finally:
        store.dispose()


# -- failures, each with its reason ---------------------------------------------------------------


def test_an_oom_killed_pod_fails_with_its_reason(
    deployer: Tracked, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, RESOURCES='{"limits": {"memory": "64Mi"}}')
    handle = submit(deployer, tmp_path, "import time; x = bytearray(400 << 20); time.sleep(60)")
    state = wait_ended(deployer, handle)
    assert state.exit_code == 137 and state.error is not None and "OOMKilled" in state.error


def test_an_image_that_cannot_be_pulled_fails_the_attempt(
    deployer: Tracked,
    monkeypatch: pytest.MonkeyPatch,
    api: Admin,
    namespace: str,
    tmp_path: Path,
) -> None:
    configure(monkeypatch, IMAGE="registry.example/does-not-exist:1")
    handle = submit(deployer, tmp_path, "print('never')", AIFLOW_JOB_TOKEN=TOKEN)
    state = wait_ended(deployer, handle)
    assert state.error is not None and "does-not-exist" in state.error
    assert "ErrImagePull" in state.error or "ImagePullBackOff" in state.error
    wait_for(lambda: remaining(api, namespace, handle["job"]) == [], 30, "nothing left behind")
    assert deployer.poll(handle) == state, "the reason outlives the deleted Job"


def test_a_deadline_fails_the_attempt(
    deployer: Tracked, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, ACTIVE_DEADLINE="2")
    handle = submit(deployer, tmp_path, PUBLISH_PID)
    pid = read_pid(tmp_path)
    state = wait_ended(deployer, handle)
    assert state.error is not None and "DeadlineExceeded" in state.error
    wait_for(lambda: not alive(pid), 30, "the job's process to be killed", 0.05)


def test_an_evicted_pod_fails_the_attempt_with_the_reason(
    deployer: Tracked, api: Admin, namespace: str, tmp_path: Path
) -> None:
    handle = submit(deployer, tmp_path, PUBLISH_PID)
    pid = read_pid(tmp_path)
    (pod,) = pods_of(api, namespace, handle["job"])
    name = pod.metadata.name
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    api.core.create_namespaced_pod_eviction(name, namespace, eviction)
    state = wait_ended(deployer, handle)
    assert state.error is not None and "evicted" in state.error, state
    assert "EvictionByEvictionAPI" in state.error
    wait_for(lambda: not alive(pid), 30, "the evicted job's process to be gone", 0.05)


def add_quota(api: Admin, namespace: str, name: str, hard: dict[str, str]) -> None:
    quota = {"metadata": {"name": name}, "spec": {"hard": hard}}
    api.core.create_namespaced_resource_quota(namespace, quota)

    def in_force() -> bool:
        return bool(api.core.read_namespaced_resource_quota(name, namespace).status.hard)

    wait_for(in_force, 30, f"quota {name} to be in force")


def test_a_quota_refusal_fails_cleanly(
    deployer: Tracked, api: Admin, namespace: str, tmp_path: Path
) -> None:
    add_quota(api, namespace, "no-pods", {"pods": "0"})
    handle = submit(deployer, tmp_path, "print('never')", AIFLOW_JOB_TOKEN=TOKEN)
    state = wait_ended(deployer, handle)
    assert state.error is not None and "exceeded quota: no-pods" in state.error, state
    wait_for(lambda: remaining(api, namespace, handle["job"]) == [], 30, "nothing left behind")

    add_quota(api, namespace, "no-jobs", {"count/jobs.batch": "0"})
    with pytest.raises(DeploymentError, match="exceeded quota: no-jobs") as info:
        submit(deployer, tmp_path, "print('never')", name="second")
    assert "create Job af-9-second-5-a1" in str(info.value)
    assert remaining(api, namespace, "af-9-second-5-a1") == []


# -- configuration errors -------------------------------------------------------------------------


def test_a_missing_namespace_is_named(
    deployer: Tracked, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, NAMESPACE="no-such-namespace")
    with pytest.raises(DeploymentError, match="namespace 'no-such-namespace' does not exist"):
        submit(deployer, tmp_path, "print('never')")


def test_rbac_refusals_name_the_identity_and_the_verb(
    k8s: ControlPlane, api: Admin, namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api.core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = api.core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    configure(monkeypatch, KUBECONFIG=str(k8s.token_kubeconfig(token, tmp_path / "kubeconfig")))
    d = KubernetesDeployer()
    with pytest.raises(DeploymentError) as info:
        submit(d, tmp_path, "print('never')")
    message = str(info.value)
    assert f"system:serviceaccount:{namespace}:nobody" in message
    assert 'cannot create resource "jobs"' in message and "Role" in message
    d.close()


def test_an_unreachable_api_server_is_named_within_seconds(
    k8s: ControlPlane, namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = yaml.safe_load(k8s.kubeconfig.read_text())
    closed = f"https://127.0.0.1:{free_port()}"
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    mute = f"https://127.0.0.1:{silent.getsockname()[1]}"
    try:
        for server, timeout in [(closed, "10"), (mute, "3")]:
            config["clusters"][0]["cluster"]["server"] = server
            path = tmp_path / "kubeconfig"
            path.write_text(yaml.safe_dump(config))
            configure(monkeypatch, KUBECONFIG=str(path), REQUEST_TIMEOUT=timeout)
            d = KubernetesDeployer()
            started = time.monotonic()
            with pytest.raises(DeploymentError, match=f"API server {server} is unreachable"):
                submit(d, tmp_path, "print('never')")
            assert time.monotonic() - started < 10
            d.close()
    finally:
        silent.close()


def test_a_watch_from_an_expired_version_lists_again(namespace: str) -> None:
    """410 Gone: the informer's version is too old for the server, so it must list again
    (the cache is rebuilt from the list, objects missing from it count as deleted)."""
    from aiflow.deployers.kubernetes.client import Kube
    from aiflow.deployers.kubernetes.settings import KubernetesSettings
    from aiflow.deployers.kubernetes.watch import Informer

    kube = Kube(KubernetesDeployer().settings.section("kubernetes", KubernetesSettings))
    events: list[str] = []
    informer = Informer(
        kube,
        f"/api/v1/namespaces/{namespace}/pods",
        {},
        "pods",
        on_reset=lambda items: events.append("list"),
        on_event=lambda kind, obj: events.append(kind),
    )
    assert informer._watch("1") is None, "an expired version means: list again"
    informer.start()
    wait_for(informer.synced.is_set, 30, "the informer's first list")
    informer.stop()
    assert events[0] == "list"
    kube.close()


# What the deployer needs in its namespace, and nothing more (the chart's Role grants this).
DEPLOYER_RULES = [
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": ["create", "get", "list", "watch", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
]


def test_the_minimal_role_is_enough(
    k8s: ControlPlane, api: Admin, namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(api.client)
    api.core.create_namespaced_service_account(namespace, {"metadata": {"name": "aiflow"}})
    rbac.create_namespaced_role(
        namespace, {"metadata": {"name": "aiflow"}, "rules": DEPLOYER_RULES}
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "aiflow"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aiflow"},
            "subjects": [{"kind": "ServiceAccount", "name": "aiflow", "namespace": namespace}],
        },
    )
    token = api.core.create_namespaced_service_account_token(
        "aiflow", namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    configure(monkeypatch, KUBECONFIG=str(k8s.token_kubeconfig(token, tmp_path / "kubeconfig")))
    d = Tracked()
    try:
        done = submit(d, tmp_path, "print('done')", AIFLOW_JOB_TOKEN=TOKEN)
        assert wait_ended(d, done).exit_code == 0
        assert list(d.logs(done)) == ["done"] and list(d.logs(done["log_uri"])) == ["done"]
        assert [h["job"] for h in d.find_attempts(9)] == [done["job"]]
        sleeper = submit(d, tmp_path, PUBLISH_PID, name="sleeper")
        pid = read_pid(tmp_path)
        assert list(d.logs(sleeper, follow=True, until=lambda: True)) in ([], ["started"])
        d.stop(sleeper, grace=1)
        assert not d.poll(sleeper).running and not alive(pid)
    finally:
        for handle in d.submitted:
            d.stop(handle, grace=0)
        d.close()
