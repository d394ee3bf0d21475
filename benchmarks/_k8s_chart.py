"""benchmarks/k8s_jobs.py, part 3: ``helm install`` of helm/aiflow -> the server ready.

The server (``aiflow server`` from the chart's Deployment) and the migrations Job (``aiflow db
upgrade``) run for real on the node agent, which starts a container's command from its own PATH
(the venv's bin directory first), so the chart's unmodified commands run this checkout's
aiflow. What the agent does not do, and the values work around: volumes are not mounted, so
``extraEnv`` points ``AIFLOW_HOME`` and ``HOME`` (the chart's emptyDir at /home/aiflow) at a
scratch directory; there is no pod network, so the server binds 127.0.0.1 on a free port. The
meta store is a SQLite file (``externalDatabase.url``). The scheduler Deployment goes to the
kwok node: it is not part of "server ready".

If the server never answers, the fallback measures ``helm install`` -> server Deployment
available with every pod on the kwok node (the chart tests' placement), and says so.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from _k8s_bench import TOLERATE_KWOK, Plane, pct

from tests.services import free_port

RELEASE = "bench"
READY_TIMEOUT = 180.0  # s from install to /ready
REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "aiflow"
KWOK_VALUES = REPO / "tests" / "helm" / "kwok-placement.yaml"


@dataclass
class ChartRun:
    marks: dict[str, float] = field(default_factory=dict)  # s since `helm install` started


@dataclass
class ChartResult:
    mode: str  # "agent" or "kwok"
    runs: list[ChartRun] = field(default_factory=list)
    note: str = ""


def chart_runs(plane: Plane, runs: int) -> ChartResult:
    result = ChartResult("agent")
    for n in range(runs):
        try:
            result.runs.append(_agent_run(plane, n))
        except RuntimeError as exc:
            result = ChartResult(
                "kwok", note=f"the server did not get ready on the agent node: {exc}"
            )
            break
    if result.mode == "kwok":
        result.runs = [_kwok_run(plane, n) for n in range(runs)]
    return result


def _helm(plane: Plane, *args: str) -> subprocess.Popen[str]:
    home = plane.root / "helm-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    env.update(
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_DATA_HOME=str(home / "data"),
        KUBECONFIG=str(plane.cp.kubeconfig),
    )
    argv = [str(plane.cp.bin_dir / "helm"), *args]
    return subprocess.Popen(
        argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _condition(plane: Plane, path: str, kind: str) -> bool:
    """Whether the object at ``path`` has condition ``kind`` True (False while it is missing)."""
    reply = plane.kube.request("GET", path, what=f"read {path}")
    status = {} if reply.failed else reply.body.get("status") or {}
    return any(c["type"] == kind and c["status"] == "True" for c in status.get("conditions") or [])


def _server_available(plane: Plane, namespace: str) -> bool:
    name = f"{RELEASE}-aiflow-server"
    return _condition(
        plane, f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "Available"
    )


def _agent_run(plane: Plane, n: int) -> ChartRun:
    namespace = plane.cp.namespace(f"chart{n}")
    port = free_port()
    home = plane.root / f"chart{n}-home"
    home.mkdir()
    values: dict[str, Any] = {
        "postgresql": {"enabled": False},
        "externalDatabase": {"url": f"sqlite:///{plane.root / f'chart{n}.db'}"},
        "server": {"host": "127.0.0.1", "port": port},
        "scheduler": {"nodeSelector": {"type": "kwok"}, "tolerations": [TOLERATE_KWOK]},
        "extraEnv": [
            {"name": "AIFLOW_HOME", "value": str(home)},
            {"name": "HOME", "value": str(home)},
        ],
    }
    values_file = plane.root / f"chart{n}-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    run = ChartRun()
    began = time.monotonic()
    helm = _helm(plane, "install", RELEASE, str(CHART), "-n", namespace, "-f", str(values_file))
    base = f"http://127.0.0.1:{port}"
    job = f"/apis/batch/v1/namespaces/{namespace}/jobs/{RELEASE}-aiflow-migrate-1"
    next_read = 0.0
    try:
        while not {"/ready 200", "migrations Job complete"} <= run.marks.keys():
            now = time.monotonic() - began
            if now > READY_TIMEOUT:
                if "/ready 200" in run.marks:
                    break  # ready; the migrations Job's status lags (reported as missing)
                raise RuntimeError(
                    f"no 200 from {base}/ready after {READY_TIMEOUT:.0f} s; "
                    f"server log:\n{_server_log(plane, namespace)}"
                )
            if "helm install returned" not in run.marks and helm.poll() is not None:
                run.marks["helm install returned"] = now
                if helm.returncode != 0:
                    raise RuntimeError(f"helm install failed: {helm.communicate()[1]}")
            if "/health 200" not in run.marks and _status(f"{base}/health") == 200:
                run.marks["/health 200"] = time.monotonic() - began
            if (
                "/health 200" in run.marks
                and "/ready 200" not in run.marks
                and _status(f"{base}/ready") == 200
            ):
                run.marks["/ready 200"] = time.monotonic() - began
            if now >= next_read:  # the API objects, 5 times a second
                next_read = now + 0.2
                if "Deployment available" not in run.marks and _server_available(plane, namespace):
                    run.marks["Deployment available"] = time.monotonic() - began
                if "migrations Job complete" not in run.marks and _condition(
                    plane, job, "Complete"
                ):
                    run.marks["migrations Job complete"] = time.monotonic() - began
            time.sleep(0.02)
    finally:
        helm.communicate()
        _helm(plane, "uninstall", RELEASE, "-n", namespace, "--wait").communicate()
    return run


def _server_log(plane: Plane, namespace: str) -> str:
    pods = plane.kube.call(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods",
        what="list pods",
        query={"labelSelector": "app.kubernetes.io/component=server"},
    )
    for pod in pods.get("items") or []:
        name = pod["metadata"]["name"]
        reply = plane.kube.api.rest_client.pool_manager.request(
            "GET",
            f"{plane.kube.server}/api/v1/namespaces/{namespace}/pods/{name}/log?tailLines=30",
            timeout=10.0,
        )
        return f"{pod.get('status', {}).get('phase')}: {reply.data.decode(errors='replace')}"
    return "(no server pod)"


def _kwok_run(plane: Plane, n: int) -> ChartRun:
    namespace = plane.cp.namespace(f"chartkwok{n}")
    run = ChartRun()
    began = time.monotonic()
    helm = _helm(
        plane,
        "install",
        RELEASE,
        str(CHART),
        "-n",
        namespace,
        "-f",
        str(KWOK_VALUES),
        "--wait",
        "--timeout",
        "150s",
    )
    while helm.poll() is None:
        if "Deployment available" not in run.marks and _server_available(plane, namespace):
            run.marks["Deployment available"] = time.monotonic() - began
        time.sleep(0.1)
    run.marks["helm install --wait returned"] = time.monotonic() - began
    _, errors = helm.communicate()
    if helm.returncode != 0:
        raise RuntimeError(f"helm install on the kwok node failed: {errors}")
    _helm(plane, "uninstall", RELEASE, "-n", namespace, "--wait").communicate()
    return run


def print_chart(result: ChartResult) -> None:
    if result.mode == "agent":
        print(
            f"\n(3) chart install -> server ready: helm install helm/aiflow (no --wait), server "
            f"and migrations Job on the agent node, SQLite meta store; s, {len(result.runs)} "
            "runs"
        )
    else:
        print(
            f"\n(3) chart install -> Deployment available ON THE KWOK NODE (pods never run): "
            f"{result.note}"
        )
    labels = sorted(
        {k for r in result.runs for k in r.marks},
        key=lambda k: statistics.median(r.marks[k] for r in result.runs if k in r.marks),
    )
    for label in labels:
        values = [r.marks[label] for r in result.runs if label in r.marks]
        each = " ".join(f"{v:.2f}" for v in values)
        print(
            f"  {label:<30} median {statistics.median(values):6.2f}  max {pct(values, 1):6.2f}"
            f"   runs: {each}"
        )
    if result.mode == "agent":
        print(
            "  (the agent emulates probes: a container with a readiness probe counts ready "
            "1 s after it started, so 'Deployment available' does not wait for /ready)"
        )
