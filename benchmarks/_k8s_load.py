"""benchmarks/k8s_jobs.py, part 2: the API server's load while 100 jobs run, tracked by the
deployer's watches versus a naive poller.

The API server counts every request it serves (``apiserver_request_total``), whoever sends it:
the controllers, the scheduler and the nodes do the same work for the same 100 Jobs in both
runs, so the difference between the runs is what the tracking costs. To compare like with
like, each window ends when the cluster has finished with its Jobs, not when the approach saw
them end: the Job controller finalizes a Job (pod finalizer, ``Complete`` condition) after its
pod ended, and that work must land in the window of the run that caused it. "Settled" is read
from ``/metrics`` itself (not a resource request, so not counted): no Job status write for
``QUIET`` s.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from _k8s_bench import AGENT_NODE, RUN_TIMEOUT, Plane, launch, table

from aiflow.deployers.kubernetes import KubernetesDeployer
from aiflow.deployers.kubernetes.client import Kube
from aiflow.deployers.kubernetes.settings import KubernetesSettings
from aiflow.deployers.kubernetes.watch import NamespaceCache

IDLE_SECONDS = 10.0  # the idle window
QUIET = 2.0  # s without a write to jobs/status: the cluster is done with the run's Jobs
SETTLE_TIMEOUT = 120.0
_JOB_WRITES = (("PUT", "jobs/status"), ("PATCH", "jobs/status"))


@dataclass
class Window:
    """One measured stretch: the approach's own view of it (``execution_s``: first submit ->
    it saw every job end), the whole window until the cluster settled (``span_s``), the API
    server's request deltas and this process's own requests."""

    name: str
    execution_s: float = 0.0
    span_s: float = 0.0
    server: Counter[tuple[str, str]] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Requests this process sends (every Kubernetes client here goes through urllib3's
    ``PoolManager.request``), by method; a GET with ``watch=true`` counts as WATCH."""
    import urllib3

    counts: Counter[str] = Counter()
    original = urllib3.PoolManager.request

    def counted(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        counts["WATCH" if method == "GET" and "watch=true" in url else method] += 1
        return original(self, method, url, *args, **kwargs)

    urllib3.PoolManager.request = counted  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        urllib3.PoolManager.request = original  # type: ignore[method-assign]


def settle(plane: Plane) -> None:
    """Return once no Job status was written for ``QUIET`` s (or after ``SETTLE_TIMEOUT``)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last = sum(plane.metrics()[key] for key in _JOB_WRITES)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < QUIET and time.monotonic() < deadline:
        time.sleep(0.25)
        now = sum(plane.metrics()[key] for key in _JOB_WRITES)
        if now != last:
            last, quiet_since = now, time.monotonic()


def measure(plane: Plane, name: str, run: Callable[[], None]) -> Window:
    window = Window(name)
    before = plane.metrics()
    began = time.monotonic()
    with counting() as own:
        run()
    window.execution_s = time.monotonic() - began
    settle(plane)
    window.server = plane.metrics() - before
    window.span_s = time.monotonic() - began
    window.own = own
    return window


class _Unwatched(KubernetesDeployer):
    """The deployer's own submit (same three calls, same objects) without its watches: how
    the poller's Jobs are created."""

    def _cache(self, namespace: str, *, wait: bool = True) -> NamespaceCache:
        return cast(NamespaceCache, None)


def load_run(plane: Plane, jobs: int, sleep: float) -> list[Window]:
    marks = plane.root / "marks-load"
    marks.mkdir()

    def watch() -> None:
        deployer = KubernetesDeployer(plane.settings(plane.cp.namespace("load-watch")))
        handles = [deployer.submit(launch(i, 2, sleep, marks)) for i in range(jobs)]
        deadline = time.monotonic() + RUN_TIMEOUT
        while handles and time.monotonic() < deadline:  # the driver's loop
            handles = [h for h in handles if deployer.poll(h).running]
            if handles:
                deployer.wait_for_change(1.0)
        deployer.close()  # its watches end: the API server counts them when they end

    def poll() -> None:
        namespace = plane.cp.namespace("load-poll")
        settings = plane.settings(namespace)
        pending = {_Unwatched(settings).submit(launch(i, 3, sleep, marks))["job"]
                   for i in range(jobs)}  # fmt: skip
        kube = Kube(settings.section("kubernetes", KubernetesSettings))
        deadline = next_round = time.monotonic()
        deadline += RUN_TIMEOUT
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                path = f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"
                job = kube.call("GET", path, what=f"read Job {name}")
                conditions = (job.get("status") or {}).get("conditions") or []
                if any(
                    c["type"] in ("Complete", "Failed") and c["status"] == "True"
                    for c in conditions
                ):
                    pending.discard(name)
            next_round += 1.0
            time.sleep(max(0.0, next_round - time.monotonic()))
        kube.close()

    settle(plane)  # the previous part's Jobs are finalized before the idle window
    return [
        measure(plane, "idle cluster (no jobs)", lambda: time.sleep(IDLE_SECONDS)),
        measure(plane, "watch: KubernetesDeployer", watch),
        measure(plane, "poll: GET each Job every 1 s", poll),
    ]


def print_load(windows: list[Window], jobs: int, sleep: float) -> None:
    print(
        f"\n(2) API server load during a {jobs}-job execution on {AGENT_NODE} (jobs sleep "
        f"{sleep:g} s). all clients: apiserver_request_total deltas over the window (until the "
        f"cluster settled: no Job status write for {QUIET:g} s); own: this process's requests "
        "over the execution (first submit -> every job's end seen)"
    )
    idle = windows[0].server.total() / windows[0].span_s
    rows = [
        ["approach", "execution s", "window s", "all: requests", "req/s", "req/s over idle",
         "own: requests", "req/s", "by verb (GET incl. LIST)"],
    ]  # fmt: skip
    for w in windows:
        rate = w.server.total() / w.span_s
        verbs = " ".join(f"{k} {v}" for k, v in sorted(w.own.items())) or "-"
        rows.append([
            w.name, f"{w.execution_s:.1f}", f"{w.span_s:.1f}", str(w.server.total()),
            f"{rate:.1f}", f"{rate - idle:.1f}", str(w.own.total()),
            f"{w.own.total() / w.execution_s:.1f}", verbs,
        ])  # fmt: skip
    table(rows)
    keys = Counter[tuple[str, str]]()
    for w in windows:
        keys.update(w.server)
    print("  requests by verb and resource, all clients (rows with 10 or more):")
    rows = [["  verb", "resource", *(w.name.split(":")[0].split(" (")[0] for w in windows)]]
    for key, _ in keys.most_common():
        if max(w.server[key] for w in windows) >= 10:
            rows.append([f"  {key[0]}", key[1], *(str(w.server[key]) for w in windows)])
    table(rows)
