"""Plan scale: build, validate, translate and persist a 10,000-node workflow.

    .venv/bin/python benchmarks/plan_scale.py [--nodes 10000] [--chains 100]

The workflow is ``chains`` independent chains (read -> transforms -> write), so translation
produces ``chains`` jobs. Persisting = snapshot + workflow version + execution with its jobs,
in a fresh SQLite meta store. Target: <= 2 s for all four phases together.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import aiflow as af


class Noop(af.Transformer):
    def __init__(self, i: int = 0) -> None:
        self.i = i

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        return batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--chains", type=int, default=100)
    args = parser.parse_args()
    per_chain = args.nodes // args.chains
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-"))
    os.environ["AIFLOW_HOME"] = str(home)
    data = home / "in.csv"
    data.write_text("x\n1\n")
    examples = [
        af.Example(f"in{c}", schema={"x": "double"}, batch_uri=data) for c in range(args.chains)
    ]

    from aiflow.scheduler.submit import submit_workflow
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators import translator_for

    store = MetaStore()  # create + migrate the store outside the timed part
    t0 = time.perf_counter()
    with af.workflow("plan_scale") as wf:
        for c in range(args.chains):
            ref = af.read_example(examples[c])
            for i in range(per_chain - 2):
                ref = af.transform(ref, Noop(i), name=f"c{c}_t{i}")
            af.write_example(ref, af.Example(f"out{c}", batch_uri=home / f"out{c}.csv"))
    t1 = time.perf_counter()
    physical = translator_for("batch").translate(wf.plan)
    t2 = time.perf_counter()
    execution, _ = submit_workflow(wf, mode="batch", store=store)
    t3 = time.perf_counter()
    nodes = len(wf.plan.nodes)
    submit = t3 - t2  # submit_workflow translates again, then snapshots and writes the store
    print(f"nodes: {nodes}, jobs: {len(physical.jobs)}")
    print(f"build + validate (DSL):          {t1 - t0:7.3f} s")
    print(f"translate:                       {t2 - t1:7.3f} s")
    print(f"persist (snapshot + meta store): {submit - (t2 - t1):7.3f} s")
    total = t1 - t0 + submit
    print(f"total (build + validate + translate + persist): {total:7.3f} s  (target <= 2 s)")
    assert len(store.list_jobs(execution.id)) == len(physical.jobs)


if __name__ == "__main__":
    main()
