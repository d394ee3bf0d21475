"""Plan scale: build, validate, translate and persist workflows of 10,000 and 100,000 nodes.

    .venv/bin/python benchmarks/plan_scale.py [--nodes 10000,100000] [--per-chain 100]
                                              [--tracemalloc]

Each workflow is independent chains of ``--per-chain`` nodes (read -> transforms -> write), so
translation fuses each chain into one job: 10,000 nodes -> 100 jobs, 100,000 -> 1,000 jobs.
Each size runs in a fresh Python process (so its memory is its own) against a fresh SQLite meta
store, created and migrated outside the timed part, and prints one row:

* build     — the DSL calls inside ``with af.workflow(...)`` (each checks its node at once);
* validate  — what the ``with`` block's end checks on the whole graph (cycles, action rules);
* translate — ``Translator.translate`` as ``submit_workflow`` calls it (the run's own checks,
  fusion into jobs);
* persist   — the rest of ``submit_workflow``: deployer checks, source snapshot, workflow
  version, examples, execution and jobs written to the meta store;
* total     — the four together (target: <= 10 s at 100,000 nodes);
* cpu       — process CPU seconds over the four phases (tells a loaded machine from slow code);
* gc after  — one full ``gc.collect()`` right after (not in total): the walk of the new
  objects that the collector, paused during translate and persist and kept off the nodes
  built so far by ``af.workflow``, owes and makes once, later;
* peak RSS  — the process's peak resident set (``getrusage``), imports included.

``--tracemalloc`` adds the peak of Python allocations over the four phases (tracemalloc slows
every allocation, so its run's times are not comparable and are marked so).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pandas as pd

import aiflow as af


class Noop(af.Transformer):
    def __init__(self, i: int = 0) -> None:
        self.i = i

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch


def measure(nodes: int, per_chain: int, trace: bool) -> dict[str, Any]:
    """One size, in this process: the phases' seconds and the memory figures."""
    chains = max(1, nodes // per_chain)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-"))
    os.environ["AIFLOW_HOME"] = str(home)
    data = home / "in.csv"
    data.write_text("x\n1\n")
    examples = [af.Example(f"in{c}", schema={"x": "double"}, batch_uri=data) for c in range(chains)]

    from aiflow.scheduler.submit import submit_workflow
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.translator import Translator

    translate_seconds: list[float] = []
    translate = Translator.translate

    def timed_translate(self: Translator, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return translate(self, *args, **kwargs)
        finally:
            translate_seconds.append(time.perf_counter() - start)

    Translator.translate = timed_translate  # type: ignore[method-assign]
    store = MetaStore()  # create + migrate the store outside the timed part
    if trace:
        tracemalloc.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    with af.workflow("plan_scale") as wf:
        for c in range(chains):
            ref = af.read_example(examples[c])
            for i in range(per_chain - 2):
                ref = af.transform(ref, Noop(i), name=f"c{c}_t{i}")
            af.write_example(ref, af.Example(f"out{c}", batch_uri=home / f"out{c}.csv"))
        t1 = time.perf_counter()
    t2 = time.perf_counter()
    execution, physical = submit_workflow(wf, mode="batch", store=store)
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu0
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    gc0 = time.perf_counter()
    gc.collect()  # what the collector, paused or frozen during the phases, walks later once
    gc_after = time.perf_counter() - gc0
    jobs = len(store.list_jobs(execution.id))
    assert jobs == len(physical.jobs), (jobs, len(physical.jobs))
    (translated,) = translate_seconds
    return {
        "nodes": len(wf.nodes),
        "jobs": jobs,
        "build": t1 - t0,
        "validate": t2 - t1,
        "translate": translated,
        "persist": t3 - t2 - translated,
        "total": t3 - t0,
        "cpu": cpu,
        "gc_after": gc_after,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_mb": traced / 2**20 if traced is not None else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--per-chain", type=int, default=100, help="nodes per chain (job)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace allocations")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size, JSON
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.per_chain, args.tracemalloc)))
        return
    sizes = [int(size) for size in args.nodes.split(",")]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'nodes':>7} {'jobs':>5} {'build':>7} {'validate':>8} {'translate':>9} "
        f"{'persist':>7} {'total':>7} {'cpu':>7} {'gc after':>8} {'peak RSS':>9}"
    )
    if args.tracemalloc:
        header += f" {'tracemalloc':>11}"
    print(header + "    (seconds, MB)")
    for size in sizes:
        command = [sys.executable, __file__, "--one", str(size), "--per-chain", str(args.per_chain)]
        if args.tracemalloc:
            command.append("--tracemalloc")
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        line = (
            f"{row['nodes']:>7} {row['jobs']:>5} {row['build']:>7.2f} {row['validate']:>8.2f} "
            f"{row['translate']:>9.2f} {row['persist']:>7.2f} {row['total']:>7.2f} "
            f"{row['cpu']:>7.2f} {row['gc_after']:>8.2f} {row['peak_rss_mb']:>6.0f} MB"
        )
        if args.tracemalloc:
            line += f" {row['tracemalloc_mb']:>8.0f} MB  (traced: times inflated)"
        print(line, flush=True)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("target: total <= 10 s at 100,000 nodes")


if __name__ == "__main__":
    main()
