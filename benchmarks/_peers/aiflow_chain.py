"""aiflow driver of ``benchmarks/job_chain_peers.py``: run by the project's python.

    .venv/bin/python benchmarks/_peers/aiflow_chain.py --tasks 20 --work DIR

The chain of ``benchmarks/job_latency.py`` (its ``build_chain``: N user operations, each in
its own job, ordered by ``af.run_after``) run once with ``af.run`` in batch mode on the local
deployer, in a private ``AIFLOW_HOME`` under ``DIR``. Prints one JSON line, the same shape as
the Airflow and Dagster drivers: setup time, the trigger time (``af.run`` called), each job's
recorded start/end (``started_at``: process launched; ``ended_at``: its exit seen by the
driver) and the jobs' own marks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _workers_ready() -> bool:
    """Start (or find) the zygote from a throwaway process, as an earlier run would have: this
    driver's af.run connects to it like any new driver."""
    import subprocess

    code = (
        "from aiflow.deployers.local import LocalDeployer; "
        "raise SystemExit(0 if LocalDeployer(warm=True).prepare({}, timeout=120) else 1)"
    )
    return subprocess.run([sys.executable, "-c", code], timeout=180).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    home, marks = args.work / "aiflow-home", args.work / "marks"
    for folder in (home, marks):
        folder.mkdir(parents=True, exist_ok=True)
    os.environ["AIFLOW_HOME"] = str(home)  # before aiflow reads its settings

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from job_latency import build_chain

    import aiflow as af
    from aiflow.store.sql_store import MetaStore

    t = time.time()
    store = MetaStore()
    store.list_events(limit=1)  # creates and migrates the SQLite meta store
    setup_s = time.time() - t
    # The counterpart of the peers' daemons being up before their trigger: the machine's warm
    # job workers (the user's zygote; already running if a driver used it in the last
    # scheduler.warm_shared_idle seconds). af.run's driver then gets its own fork server
    # from it in milliseconds, as any new driver does.
    t = time.time()
    if not _workers_ready():
        raise RuntimeError("the warm job workers did not start")
    workers_s = time.time() - t
    wf = build_chain(args.tasks, marks)
    trigger = time.time()
    execution = af.run(wf, mode="batch", progress=False)
    if execution is None or execution.status.value != "succeeded":
        raise RuntimeError(f"aiflow execution did not succeed: {execution}")
    recorded = []
    for job in sorted(store.list_jobs(execution.id), key=lambda j: j.name):
        if job.started_at is None or job.ended_at is None:
            raise RuntimeError(f"job {job.name} has no start or end time")
        recorded.append([job.started_at.timestamp(), job.ended_at.timestamp()])
    result = {
        "version": af.__version__,
        "setup": {"meta store (SQLite) created": setup_s, "warm job workers up": workers_s},
        "trigger": trigger,
        "recorded": recorded,
        "marks": [json.loads((marks / f"{i}.json").read_text()) for i in range(args.tasks)],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
