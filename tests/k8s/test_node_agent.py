"""The node agent against the real control plane: pods bound to ``aiflow-local`` run as local
processes, report a kubelet's status and serve their logs through the API server's pod log API.

Everything here goes through the API server (create pods, read status, ``pods/log``), the way
the Kubernetes deployer and ``kubectl`` use a node.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.controlplane import AGENT_NODE, REPO, ControlPlane
from tests.services import all_gone, free_port, wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def core(k8s: ControlPlane) -> Iterator[Any]:
    from kubernetes import client

    with k8s.api_client() as api:
        yield client.CoreV1Api(api)


def pod_body(name: str, command: list[str], policy: str = "Never", **container: Any) -> dict:
    spec = {"name": "main", "image": "python:3.11", "command": command, **container}
    return {"metadata": {"name": name}, "spec": {"restartPolicy": policy, "containers": [spec]}}


def python(code: str) -> list[str]:
    return ["python", "-u", "-c", code]


def wait_pod(core: Any, ns: str, name: str, check: Callable[[Any], bool], what: str) -> Any:
    """Poll the pod until ``check`` holds; the failure names the pod and its last status."""
    seen: dict[str, Any] = {}

    def done() -> bool:
        seen["pod"] = core.read_namespaced_pod(name, ns)
        return check(seen["pod"])

    try:
        wait_for(done, 60, f"pod {ns}/{name} {what}", 0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last status: {seen['pod'].status}") from None
    return seen["pod"]


def finished(pod: Any) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def running(pod: Any) -> bool:
    return pod.status.phase == "Running"


def gone(core: Any, ns: str, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        core.read_namespaced_pod(name, ns)
    except ApiException as exc:
        return exc.status == 404
    return False


def test_pod_that_exits_0_succeeds_and_its_logs_are_served(k8s: ControlPlane, core: Any) -> None:
    ns = k8s.namespace("agent")
    core.create_namespaced_pod(ns, pod_body("hello", ["sh", "-c", "echo hello; echo oops >&2"]))

    pod = wait_pod(core, ns, "hello", finished, "to finish")

    assert pod.spec.node_name == AGENT_NODE
    assert pod.status.phase == "Succeeded"
    ended = pod.status.container_statuses[0].state.terminated
    assert (ended.exit_code, ended.reason) == (0, "Completed")
    assert pod.status.pod_ip == "127.0.0.1"
    assert core.read_namespaced_pod_log("hello", ns) == "hello\noops\n"
    assert core.read_namespaced_pod_log("hello", ns, tail_lines=1) == "oops\n"
    stamped = core.read_namespaced_pod_log("hello", ns, timestamps=True).splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["hello", "oops"]


def test_pod_that_exits_3_fails_with_its_exit_code(k8s: ControlPlane, core: Any) -> None:
    ns = k8s.namespace("agent")
    body = pod_body(
        "fails", ["sh", "-c", "echo cannot go on; exit 3"],
        terminationMessagePolicy="FallbackToLogsOnError",
    )  # fmt: skip
    core.create_namespaced_pod(ns, body)

    pod = wait_pod(core, ns, "fails", finished, "to finish")

    assert pod.status.phase == "Failed"
    ended = pod.status.container_statuses[0].state.terminated
    assert (ended.exit_code, ended.reason) == (3, "Error")
    assert ended.message == "cannot go on\n"
    ready = {c.type: c.status for c in pod.status.conditions}
    assert ready["Ready"] == "False" and ready["PodScheduled"] == "True"


def test_follow_streams_a_running_pods_output_until_it_ends(
    k8s: ControlPlane, core: Any, tmp_path: Path
) -> None:
    ns = k8s.namespace("agent")
    go = tmp_path / "go"
    code = (
        "import os, time\nprint('first')\n"
        f"while not os.path.exists({str(go)!r}):\n    time.sleep(0.02)\nprint('second')"
    )
    core.create_namespaced_pod(ns, pod_body("talks", python(code)))
    wait_pod(core, ns, "talks", running, "to run")

    response = core.read_namespaced_pod_log(
        "talks", ns, follow=True, _preload_content=False, _request_timeout=60
    )
    received = b""
    chunks = response.stream(1024)
    while b"first\n" not in received:
        received += next(chunks)
    # the process is still waiting for "go": what came so far was streamed live
    go.touch()
    for chunk in chunks:
        received += chunk

    assert received == b"first\nsecond\n"
    assert wait_pod(core, ns, "talks", finished, "to finish").status.phase == "Succeeded"


def test_env_from_secrets_config_maps_and_the_downward_api(k8s: ControlPlane, core: Any) -> None:
    ns = k8s.namespace("agent")
    core.create_namespaced_secret(
        ns, {"metadata": {"name": "creds"}, "stringData": {"token": "s3cret", "USER": "ada"}}
    )
    core.create_namespaced_config_map(ns, {"metadata": {"name": "conf"}, "data": {"url": "u:1"}})
    env = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        {"name": "URL", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "url"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "BOTH", "value": "$(URL)/$(TOKEN)"},
    ]
    names = ["TOKEN", "URL", "POD", "NS", "BOTH", "S_USER", "S_token"]
    code = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {names!r}}}))"
    body = pod_body(
        "env", python(code), env=env, envFrom=[{"prefix": "S_", "secretRef": {"name": "creds"}}]
    )
    core.create_namespaced_pod(ns, body)

    assert wait_pod(core, ns, "env", finished, "to finish").status.phase == "Succeeded"
    assert json.loads(core.read_namespaced_pod_log("env", ns)) == {
        "TOKEN": "s3cret", "URL": "u:1", "POD": "env", "NS": ns, "BOTH": "u:1/s3cret",
        "S_USER": "ada", "S_token": "s3cret",
    }  # fmt: skip


def test_a_missing_secret_holds_the_container_until_it_exists(k8s: ControlPlane, core: Any) -> None:
    ns = k8s.namespace("agent")
    env = [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "later", "key": "t"}}}]
    core.create_namespaced_pod(ns, pod_body("waits", ["sh", "-c", "echo $T"], env=env))

    def config_error(pod: Any) -> bool:
        statuses = pod.status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting is not None and waiting.reason == "CreateContainerConfigError"

    pod = wait_pod(core, ns, "waits", config_error, "to wait for its Secret")
    assert pod.status.container_statuses[0].state.waiting.message == 'secret "later" not found'
    core.create_namespaced_secret(ns, {"metadata": {"name": "later"}, "stringData": {"t": "x"}})

    assert wait_pod(core, ns, "waits", finished, "to finish").status.phase == "Succeeded"
    assert core.read_namespaced_pod_log("waits", ns) == "x\n"


def test_deleting_a_running_pod_kills_its_processes(k8s: ControlPlane, core: Any) -> None:
    ns = k8s.namespace("agent")
    # the shell ignores SIGTERM, so only the SIGKILL after the grace period ends it;
    # "$$$$" is "$$" after Kubernetes' own $-expansion
    script = "trap '' TERM; sleep 600 & echo $$$$ $$!; wait"
    body = pod_body("sleeper", ["sh", "-c", script])
    body["spec"]["terminationGracePeriodSeconds"] = 1
    core.create_namespaced_pod(ns, body)
    wait_pod(core, ns, "sleeper", running, "to run")
    wait_for(lambda: len(core.read_namespaced_pod_log("sleeper", ns).split()) == 2, 30, "pids")
    pids = [int(pid) for pid in core.read_namespaced_pod_log("sleeper", ns).split()]

    core.delete_namespaced_pod("sleeper", ns)

    wait_for(lambda: gone(core, ns, "sleeper"), 30, f"pod {ns}/sleeper to be deleted")
    wait_for(lambda: all_gone(*pids), 5, f"processes {pids} of the deleted pod to end")


def test_an_image_that_cannot_be_pulled_never_runs(k8s: ControlPlane, core: Any) -> None:
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    ns = k8s.namespace("agent")
    created = core.create_namespaced_pod(
        ns, pod_body("nopull", ["echo", "never"], image="x/does-not-exist:1")
    )
    reasons: list[str] = []
    for event in watch.Watch().stream(
        core.list_namespaced_pod, ns, field_selector="metadata.name=nopull",
        resource_version=created.metadata.resource_version, timeout_seconds=30,
    ):  # fmt: skip
        statuses = event["object"].status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        if waiting is not None and waiting.reason not in reasons[-1:]:
            reasons.append(waiting.reason)
        if "ImagePullBackOff" in reasons:
            break
        assert event["object"].status.phase == "Pending"

    assert reasons[-2:] == ["ErrImagePull", "ImagePullBackOff"]
    with pytest.raises(ApiException) as refused:
        core.read_namespaced_pod_log("nopull", ns)
    assert refused.value.status == 400
    assert "waiting to start: trying and failing to pull image" in str(refused.value.body)


def test_on_failure_restarts_and_previous_logs(
    k8s: ControlPlane, core: Any, tmp_path: Path
) -> None:
    ns = k8s.namespace("agent")
    marker = tmp_path / "tried"
    script = f"if [ -e {marker} ]; then echo again; else touch {marker}; echo first; exit 1; fi"
    core.create_namespaced_pod(ns, pod_body("retry", ["sh", "-c", script], policy="OnFailure"))

    pod = wait_pod(core, ns, "retry", finished, "to finish")

    assert pod.status.phase == "Succeeded"
    status = pod.status.container_statuses[0]
    assert status.restart_count == 1
    assert status.last_state.terminated.exit_code == 1
    assert core.read_namespaced_pod_log("retry", ns) == "again\n"
    assert core.read_namespaced_pod_log("retry", ns, previous=True) == "first\n"


def test_a_job_completes_on_the_agents_node(k8s: ControlPlane, core: Any) -> None:
    from kubernetes import client

    ns = k8s.namespace("agent")
    template = pod_body("", ["echo", "from a job"])
    del template["metadata"]
    with k8s.api_client() as api:
        batch: Any = client.BatchV1Api(api)
        batch.create_namespaced_job(
            ns, {"metadata": {"name": "once"}, "spec": {"backoffLimit": 0, "template": template}}
        )
        wait_for(lambda: batch.read_namespaced_job("once", ns).status.succeeded == 1, 60, "job")
    (pod,) = core.list_namespaced_pod(ns, label_selector="job-name=once").items
    assert core.read_namespaced_pod_log(pod.metadata.name, ns) == "from a job\n"


def test_the_agent_kills_its_process_groups_when_it_exits(
    k8s: ControlPlane, core: Any, tmp_path: Path
) -> None:
    """A second agent on a node of its own (cordoned, so nothing is scheduled there), with a
    pod bound to it by name."""
    from kubernetes.client.exceptions import ApiException

    node = "agent-exit-test"
    core.create_node({"metadata": {"name": node}, "spec": {"unschedulable": True}})
    port = free_port()
    with open(tmp_path / "agent.log", "wb") as agent_log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "tests.k8s.node_agent", "--kubeconfig", str(k8s.kubeconfig),
             "--node", node, "--workdir", str(tmp_path / "agent"), "--port", str(port)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
            stderr=agent_log, start_new_session=True,
        )  # fmt: skip
    ns = k8s.namespace("agent")
    try:
        assert agent.stdout is not None
        assert b"ready" in agent.stdout.readline()
        registered = core.read_node(node)
        assert registered.status.daemon_endpoints.kubelet_endpoint.port == port
        assert registered.status.allocatable["pods"] == "500"
        body = pod_body("stubborn", ["sh", "-c", "trap '' TERM; sleep 600 & echo $$$$ $$!; wait"])
        body["spec"]["nodeName"] = node
        core.create_namespaced_pod(ns, body)
        wait_pod(core, ns, "stubborn", running, "to run")
        wait_for(lambda: len(core.read_namespaced_pod_log("stubborn", ns).split()) == 2, 30, "pids")
        pids = [int(pid) for pid in core.read_namespaced_pod_log("stubborn", ns).split()]

        agent.send_signal(signal.SIGTERM)

        assert agent.wait(timeout=15) == 0
        wait_for(lambda: all_gone(*pids), 5, f"processes {pids} of the stopped agent")
    finally:
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGKILL)
        with contextlib.suppress(ApiException):
            core.delete_namespaced_pod("stubborn", ns, grace_period_seconds=0)
        core.delete_node(node)
