"""benchmarks/k8s_jobs.py's control plane and its first part: submit -> pod scheduled ->
running, timed by watch events.

The control plane is the tests' own (tests/k8s/controlplane.py), so the figures are about the
same API server, controllers, scheduler and node agent the tests run against.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiflow.config import Settings, settings_class
from aiflow.deployers.base import JobLaunch
from aiflow.deployers.kubernetes import KubernetesDeployer
from aiflow.deployers.kubernetes.client import Kube, read_lines, shut
from aiflow.deployers.kubernetes.settings import KubernetesSettings
from tests.k8s.controlplane import (
    AGENT_NODE,
    KWOK_NODE,
    KWOK_TAINT,
    ControlPlane,
    build_binaries,
    start_control_plane,
)

TOLERATE_KWOK = {**KWOK_TAINT, "operator": "Equal"}
KWOK_PLACEMENT: dict[str, Any] = {"node_selector": {"type": "kwok"}, "tolerations": [TOLERATE_KWOK]}
NODES = {"agent": AGENT_NODE, "kwok": KWOK_NODE}
# The job: records when its code started (for the agent node), then sleeps.
JOB_CODE = (
    "import sys, time; t = time.time(); open(sys.argv[1], 'w').write(repr(t)); "
    "time.sleep(float(sys.argv[2]))"
)
RUN_TIMEOUT = 600.0  # s for a run's jobs to end
_METRIC = re.compile(r"^apiserver_request_total\{(.*)\} ([0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Plane:
    """The test control plane, an admin client, and the API server's request counters."""

    cp: ControlPlane
    root: Path
    kube: Kube
    started_s: float

    @classmethod
    def start(cls, root: Path) -> Plane:
        bin_dir = build_binaries()
        began = time.monotonic()
        cp = start_control_plane(root / "plane", bin_dir)
        admin = Kube(KubernetesSettings(kubeconfig=cp.kubeconfig, request_timeout=30))
        return cls(cp, root, admin, time.monotonic() - began)

    def stop(self) -> None:
        self.kube.close()
        self.cp.stop()

    def describe(self) -> str:
        version = self.kube.call("GET", "/version", what="read the API server's version")
        return (
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
            f"{os.getloadavg()[0]:.1f}; Kubernetes {version.get('gitVersion')} test control "
            f"plane on loopback (started in {self.started_s:.1f} s): nodes {AGENT_NODE} (node "
            f"agent: pods run as local processes) and {KWOK_NODE} (kwok: pods never run)"
        )

    def settings(self, namespace: str, **extra: Any) -> Settings:
        """Settings whose ``[kubernetes]`` section targets ``namespace`` on this plane."""
        section = KubernetesSettings(
            kubeconfig=self.cp.kubeconfig, namespace=namespace, python=sys.executable, **extra
        )
        return settings_class()(kubernetes=section)

    def metrics(self) -> Counter[tuple[str, str]]:
        """``apiserver_request_total`` summed by (verb, resource[/subresource]); requests to
        non-resource URLs (``/metrics`` itself, ``/healthz``) left out."""
        pool = self.kube.api.rest_client.pool_manager
        response = pool.request("GET", f"{self.kube.server}/metrics", timeout=30.0)
        if response.status != 200:
            raise RuntimeError(f"GET {self.kube.server}/metrics: {response.status}")
        totals: Counter[tuple[str, str]] = Counter()
        for line in response.data.decode().splitlines():
            match = _METRIC.match(line)
            if not match:
                continue
            labels = dict(_LABEL.findall(match.group(1)))
            if not labels.get("resource"):
                continue
            resource = labels["resource"] + (f"/{s}" if (s := labels.get("subresource")) else "")
            totals[(labels.get("verb", "?"), resource)] += int(float(match.group(2)))
        return totals


def launch(i: int, execution: int, sleep: float, marks: Path) -> JobLaunch:
    """Job ``i``: the command and environment a driver would give it (a job token, which the
    deployer puts in a Secret: three API calls per submit, as in real use)."""
    return JobLaunch(
        job_id=i + 1,
        execution_id=execution,
        job_name=f"sleep-{i}",
        attempt=1,
        command=[sys.executable, "-c", JOB_CODE, str(marks / str(i)), str(sleep)],
        env={"AIFLOW_JOB_TOKEN": f"afj_bench_{execution}_{i}"},
        log_path=marks / "logs" / f"{i}.log",
        workdir=marks,
    )


# -- part 1: submit -> scheduled -> running ----------------------------------------------------


class PodTimes:
    """When watch events on a namespace's pods arrived, by owning Job: first seen (created),
    ``spec.nodeName`` set (scheduled), container running (or already terminated), ended; and
    the API's own timestamps (1 s resolution) for the check."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.path = kube, f"/api/v1/namespaces/{namespace}/pods"
        self.times: dict[str, dict[str, float]] = {}
        self.stamps: dict[str, dict[str, str]] = {}
        self.nodes: dict[str, str] = {}
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._response: Any = None
        listing = kube.call("GET", self.path, what=f"list pods in {namespace}")
        version = str(listing["metadata"]["resourceVersion"])
        self._thread = threading.Thread(target=self._run, args=(version,), daemon=True)
        self._thread.start()

    def _run(self, version: str) -> None:
        while not self._stopped.is_set():
            query = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true"}
            try:
                reply = self.kube.open_stream(
                    self.path, what="watch", query=query, read_timeout=None
                )
                self._response = response = reply.stream()
                for line in read_lines(response):
                    arrived = time.time()
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        raise RuntimeError(f"pod watch: {event.get('object')}")
                    pod = event["object"]
                    version = pod["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._seen(arrived, pod)
            except Exception:
                if self._stopped.is_set():
                    return
                time.sleep(0.1)  # resume from the last version seen

    def _seen(self, arrived: float, pod: dict[str, Any]) -> None:
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status") or {}
        job = next(o["name"] for o in meta.get("ownerReferences") or [] if o["kind"] == "Job")
        with self._changed:
            times = self.times.setdefault(job, {})
            stamps = self.stamps.setdefault(job, {})
            times.setdefault("created", arrived)
            if spec.get("nodeName"):
                times.setdefault("scheduled", arrived)
                self.nodes[job] = spec["nodeName"]
            for condition in status.get("conditions") or []:
                if condition["type"] == "PodScheduled" and condition["status"] == "True":
                    stamps.setdefault("scheduled", condition["lastTransitionTime"])
            state = ((status.get("containerStatuses") or [{}])[0]).get("state") or {}
            started = state.get("running") or state.get("terminated")
            if started:
                times.setdefault("running", arrived)
                stamps.setdefault("running", started.get("startedAt") or "")
            if status.get("phase") in ("Succeeded", "Failed"):
                times.setdefault("ended", arrived)
            self._changed.notify_all()

    def wait(self, jobs: list[str], key: str, timeout: float) -> None:
        def done() -> bool:
            return all(key in self.times.get(job, {}) for job in jobs)

        with self._changed:
            if not self._changed.wait_for(done, timeout):
                missing = [job for job in jobs if key not in self.times.get(job, {})]
                raise RuntimeError(
                    f"{len(missing)} pods not {key} after {timeout:.0f} s: {missing[:5]}"
                )

    def stop(self) -> None:
        self._stopped.set()
        if self._response is not None:
            shut(self._response)


@dataclass
class Latency:
    """One node's figures (ms per job, by step) and the timestamp check."""

    node: str
    mode: str  # "burst" or "serial"
    steps: dict[str, list[float]] = field(default_factory=dict)
    check: dict[str, float] = field(default_factory=dict)  # share of events inside the stamp
    misplaced: int = 0


STEPS = (
    ("submit call (create, Secret, unsuspend)", "submit", "returned"),
    ("submit -> pod created (Job controller)", "submit", "created"),
    ("pod created -> scheduled (scheduler)", "created", "scheduled"),
    ("scheduled -> running (node)", "scheduled", "running"),
    ("submit -> scheduled", "submit", "scheduled"),
    ("submit -> running", "submit", "running"),
    ("running -> job code started", "running", "code"),
)


def latency_run(plane: Plane, node: str, jobs: int, sleep: float, *, serial: bool) -> Latency:
    """``jobs`` jobs submitted to ``node`` ("agent" or "kwok") back to back (a wide
    execution: the driver launches every ready job in one pass), or with ``serial`` one at a
    time, each once the previous one runs (no queue anywhere); after one uncounted warm-up
    job (connections, the deployer's watches, imports)."""
    mode = "serial" if serial else "burst"
    namespace = plane.cp.namespace(f"lat-{node}-{mode}")
    extra = KWOK_PLACEMENT if node == "kwok" else {}
    deployer = KubernetesDeployer(plane.settings(namespace, **extra))
    marks = plane.root / f"marks-{node}-{mode}"
    marks.mkdir()
    watcher = PodTimes(plane.kube, namespace)
    try:
        warm = deployer.submit(launch(jobs, 1, sleep, marks))
        watcher.wait([warm["job"]], "running", RUN_TIMEOUT)
        times: dict[str, dict[str, float]] = {}
        for i in range(jobs):
            submitted = time.time()
            handle = deployer.submit(launch(i, 1, sleep, marks))
            times[handle["job"]] = {"submit": submitted, "returned": time.time(), "i": i}
            if serial:
                watcher.wait([handle["job"]], "running", RUN_TIMEOUT)
        names = list(times)
        watcher.wait(names, "ended", RUN_TIMEOUT)
    finally:
        deployer.close()
        watcher.stop()
    result = Latency(NODES[node], mode)
    for name in names:
        seen = {**times[name], **watcher.times[name]}
        mark = marks / str(int(seen["i"]))
        if node == "agent" and mark.exists():
            seen["code"] = float(mark.read_text())
        result.misplaced += watcher.nodes.get(name) != NODES[node]
        for label, start, end in STEPS:
            if start in seen and end in seen:
                result.steps.setdefault(label, []).append((seen[end] - seen[start]) * 1000)
    for key in ("scheduled", "running"):
        inside = [_inside(watcher.times[n][key], watcher.stamps[n].get(key)) for n in names]
        result.check[key] = sum(inside) / len(inside)
    return result


def _inside(arrived: float, stamp: str | None) -> bool:
    """Whether an event arrived within the second its status timestamp names (plus 250 ms
    for delivery): the watch times and the API's own clock agree."""
    if not stamp:
        return False
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return at - 0.01 <= arrived < at + 1.25


def print_latency(results: list[Latency], jobs: int, sleep: float) -> None:
    print(
        f"\n(1) submit -> pod scheduled -> running: {jobs} jobs (python -c, sleep {sleep:g} s) "
        "submitted with KubernetesDeployer.submit; ms, from watch events"
    )
    for mode, how in (
        ("burst", "back to back, as a driver launches a wide execution"),
        ("serial", "one at a time, each once the previous one runs: nothing queues"),
    ):
        runs = [r for r in results if r.mode == mode]
        if not runs:
            continue
        print(f"  {mode}: {how}")
        rows = [["  step", *(f"{r.node}: median / p95 / max" for r in runs)]]
        for label, _, _ in STEPS:
            cells = [f"  {label}"]
            for r in runs:
                v = r.steps.get(label)
                cells.append(
                    f"{statistics.median(v):7.0f} {pct(v, 0.95):7.0f} {max(v):7.0f}"
                    if v
                    else "n/a (pods never run)"
                )
            rows.append(cells)
        table(rows)
    for r in results:
        share = ", ".join(f"{k} {v:.0%}" for k, v in r.check.items())
        print(
            f"  {r.node} ({r.mode}): watch events inside their status timestamp's second: "
            f"{share}" + (f"; {r.misplaced} pods on another node!" if r.misplaced else "")
        )


def table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
