"""Job-to-job latency: a chain of N trivial jobs on the local deployer.

    .venv/bin/python benchmarks/job_latency.py [--jobs 100]

Each job is its own process (``python -m aiflow.runtime``) whose user code writes the time it
started and ended. Two gaps per edge of the chain:

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
import tempfile
import time
from pathlib import Path

import aiflow as af


def mark(i: int, out: str) -> None:
    start = time.time()
    Path(out, f"{i}.json").write_text(json.dumps({"start": start, "end": time.time()}))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-"))
    os.environ["AIFLOW_HOME"] = str(home)
    marks = home / "marks"
    marks.mkdir()
    with af.workflow("job_chain") as wf:
        previous = None
        for i in range(args.jobs):
            node = af.user_operation(mark, params={"i": i, "out": str(marks)}, name=f"j{i:03d}")
            if previous is not None:
                af.run_after(node, previous)
            previous = node
    t0 = time.perf_counter()
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
    print(
        f"jobs: {len(jobs)}   wall time: {wall:.2f} s   ({wall / len(jobs) * 1000:.0f} ms per job)"
    )
    print(
        "scheduling gap (end seen -> successor launched): "
        f"median {statistics.median(sched):.1f} ms,"
        f" p95 {pct(sched, 0.95):.1f} ms, max {max(sched):.1f} ms   (target median <= 20 ms)"
    )
    print(
        f"end-to-end gap (user code end -> next user code start): median "
        f"{statistics.median(e2e):.0f} ms, p95 {pct(e2e, 0.95):.0f} ms"
    )


if __name__ == "__main__":
    main()
