"""Kubernetes: submit -> pod running, watch vs poll load on the API server, chart install -> ready.

    .venv/bin/python benchmarks/k8s_jobs.py [--jobs 100] [--sleep 1] [--load-sleep 10]
        [--chart-runs 3] [--parts latency,load,chart]

Everything runs on the test control plane (tests/k8s/controlplane.py) that the benchmark starts
itself: etcd, kube-apiserver, kube-controller-manager and kube-scheduler v1.33 on loopback, a
kwok node whose pods never run, and the node agent, a small kubelet that runs pods as local
processes. Binaries from ``scripts/build_k8s.sh`` (a cold build takes 12-18 min, then cached).

1. latency: ``--jobs`` jobs (``python -c`` sleeping ``--sleep`` s) submitted with
   ``KubernetesDeployer.submit`` (its three calls: create the Job suspended, its Secret,
   unsuspend), back to back (burst: a wide execution) and then one at a time (serial: each
   once the previous one runs), each on the agent node and on the kwok node (toleration +
   nodeSelector ``type=kwok``) so control-plane latency and the agent's part show apart.
   Times: submit taken in this process; pod created / scheduled (``spec.nodeName`` set) /
   running (container ``state.running``) from the arrival of watch events on the pods (the
   API's own timestamps have 1 s resolution: a line checks that the events fall inside them);
   job code started from the job's own ``time.time()`` (agent only).
2. load: the same jobs sleeping ``--load-sleep`` s on the agent node, as a 100-job execution:
   the deployer (its watches; ``poll`` on every job and ``wait_for_change`` in a loop, as the
   driver does) versus a naive poller (same submissions without watches, then GET each Job
   every second until it is Complete). Requests from the API server's ``/metrics``
   (``apiserver_request_total`` deltas, every client counted: controllers, scheduler, nodes),
   beside an idle window, and the approach's own requests counted in its client.
3. chart: ``helm install helm/aiflow`` (no --wait) with the server and its migrations Job on
   the agent node, a SQLite file as ``externalDatabase.url``, until ``GET /ready`` answers
   200; the scheduler Deployment is placed on the kwok node (not measured).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test control plane (tests/k8s) is started from here

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from _k8s_bench import Plane, latency_run, print_latency  # noqa: E402
from _k8s_chart import chart_runs, print_chart  # noqa: E402
from _k8s_load import load_run, print_load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--sleep", type=float, default=1.0, help="s each latency job sleeps")
    parser.add_argument("--load-sleep", type=float, default=10.0, help="s each load job sleeps")
    parser.add_argument("--chart-runs", type=int, default=3)
    parser.add_argument("--parts", default="latency,load,chart")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    root = Path(tempfile.mkdtemp(prefix="aiflow-k8s-bench-"))
    os.environ["AIFLOW_HOME"] = str(root / "home")  # no user config file leaks in
    began = time.monotonic()
    plane = Plane.start(root)
    try:
        print(plane.describe(), flush=True)
        if "latency" in parts:
            results = [
                latency_run(plane, node, args.jobs, args.sleep, serial=serial)
                for serial in (False, True)
                for node in ("agent", "kwok")
            ]
            print_latency(results, args.jobs, args.sleep)
        if "load" in parts:
            print_load(load_run(plane, args.jobs, args.load_sleep), args.jobs, args.load_sleep)
        if "chart" in parts:
            print_chart(chart_runs(plane, args.chart_runs))
    finally:
        plane.stop()
        if args.keep:
            print(f"work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nbenchmark took {time.monotonic() - began:.0f} s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
