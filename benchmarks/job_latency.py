"""Job-to-job latency: a chain of N trivial jobs on the local deployer, cold and warm.

    .venv/bin/python benchmarks/job_latency.py [--jobs 100] [--workers cold,warm]

Each job is its own process (``python -m aiflow.runtime``) whose user code writes the time it
started and ended; ``cold``: a new interpreter per job, ``warm``: forked from the driver's fork
server (``scheduler.warm_workers``, docs/operations.md). Each mode runs in a fresh process, so
the warm run includes starting its fork server. Two gaps per edge of the chain:

* scheduling gap: predecessor's process exit seen by the driver (job ``ended_at``) -> successor
  launched (``started_at``). This is what the scheduler adds; target median <= 20 ms.
* end-to-end gap: predecessor's user code returned -> successor's user code began. This adds
  interpreter shutdown and the new process's start-up and imports.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiflow as af


def mark(i: int, out: str) -> None:
    start = time.time()
    Path(out, f"{i}.json").write_text(json.dumps({"start": start, "end": time.time()}))


def build_chain(jobs: int, marks: Path) -> af.Workflow:
    """``jobs`` user operations ``j000``, ``j001``, ... each in its own job (ordered by
    ``af.run_after``), each writing its start/end time to ``marks/<i>.json``; shared with
    ``job_chain_peers.py``, which runs the same chain beside Airflow and Dagster."""
    with af.workflow("job_chain") as wf:
        previous = None
        for i in range(jobs):
            node = af.user_operation(mark, params={"i": i, "out": str(marks)}, name=f"j{i:03d}")
            if previous is not None:
                af.run_after(node, previous)
            previous = node
    return wf


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument(
        "--workers",
        default="cold,warm",
        help="how jobs start, one run each in a fresh process: cold (a new interpreter per "
        "job) and/or warm (forked from the fork server, scheduler.warm_workers)",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.workers.split(",") if m.strip()]
    if len(modes) == 1:
        run_chain(args.jobs, modes[0])
        return
    print(f"{args.jobs}-job chain, local deployer; load average {os.getloadavg()[0]:.1f}")
    for mode in modes:
        # A fresh driver process per mode: the warm run pays its fork server's start too.
        subprocess.run(
            [sys.executable, __file__, "--jobs", str(args.jobs), "--workers", mode], check=True
        )


def run_chain(jobs_n: int, mode: str) -> None:
    if mode not in ("cold", "warm"):
        raise SystemExit(f"--workers: unknown mode {mode!r} (cold, warm)")
    os.environ["AIFLOW__SCHEDULER__WARM_WORKERS"] = "true" if mode == "warm" else "false"
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-"))
    os.environ["AIFLOW_HOME"] = str(home)
    marks = home / "marks"
    marks.mkdir()
    wf = build_chain(jobs_n, marks)
    t0, submitted = time.perf_counter(), time.time()
    execution = af.run(wf, mode="batch", progress=False)
    wall = time.perf_counter() - t0
    assert execution is not None and execution.status.value == "succeeded", execution

    from aiflow.store.sql_store import MetaStore

    jobs = sorted(MetaStore().list_jobs(execution.id), key=lambda j: j.name)
    sched, e2e = [], []
    for prev, nxt in itertools.pairwise(jobs):
        assert prev.ended_at and nxt.started_at
        sched.append((nxt.started_at - prev.ended_at).total_seconds() * 1000)
        a = json.loads((marks / f"{int(prev.name[1:])}.json").read_text())
        b = json.loads((marks / f"{int(nxt.name[1:])}.json").read_text())
        e2e.append((b["start"] - a["end"]) * 1000)
    first = json.loads((marks / "0.json").read_text())["start"] - submitted
    print(
        f"[{mode}] jobs: {len(jobs)}   wall time: {wall:.2f} s   "
        f"({wall / len(jobs) * 1000:.0f} ms per job; af.run -> first job's code {first:.2f} s)"
    )
    print(
        f"[{mode}] scheduling gap (end seen -> successor launched): "
        f"median {statistics.median(sched):.1f} ms,"
        f" p95 {pct(sched, 0.95):.1f} ms, max {max(sched):.1f} ms   (target median <= 20 ms)"
    )
    print(
        f"[{mode}] end-to-end gap (user code end -> next user code start): median "
        f"{statistics.median(e2e):.0f} ms, p95 {pct(e2e, 0.95):.0f} ms   (target median <= 50 ms)"
    )


if __name__ == "__main__":
    main()
