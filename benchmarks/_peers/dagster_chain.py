"""Dagster driver of ``benchmarks/job_chain_peers.py``: run by the Dagster venv's python.

    <dagster-venv>/bin/python dagster_chain.py --tasks 20 --work DIR

A job of N chained ops (``Nothing`` dependencies: no IO manager between them), each writing
its start/end time, executed once with ``execute_job`` on a ``DagsterInstance`` in
``DIR/dagster-home`` (SQLite storages) and the multiprocess executor: each step is its own
process, as each aiflow job and each Airflow task is. Prints one JSON line: setup time, the
trigger time, each step's STEP_START/STEP_SUCCESS event times and the ops' own marks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

JOB_FILE = """\
import json
import time
from pathlib import Path

from dagster import In, Nothing, Out, job, multiprocess_executor, op

MARKS = {marks!r}


def make_op(i):
    @op(name=f"t{{i:03d}}", ins={{"after": In(Nothing)}} if i else None, out=Out(Nothing))
    def mark():
        start = time.time()
        Path(MARKS, f"{{i}}.json").write_text(json.dumps({{"start": start, "end": time.time()}}))

    return mark


@job(executor_def=multiprocess_executor)
def chain_bench():
    previous = None
    for i in range({tasks}):
        step = make_op(i)
        previous = step() if previous is None else step(after=previous)
"""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    home, marks = args.work / "dagster-home", args.work / "marks"
    for folder in (home, marks):
        folder.mkdir(parents=True, exist_ok=True)
    job_file = args.work / "chain_job.py"
    job_file.write_text(JOB_FILE.format(marks=str(marks), tasks=args.tasks))
    os.environ["DAGSTER_HOME"] = str(home)

    import dagster
    from dagster import DagsterEventType, DagsterInstance, execute_job, reconstructable

    t = time.time()
    instance = DagsterInstance.get()
    instance.get_runs(limit=1)  # creates and migrates the SQLite storages
    setup_s = time.time() - t
    sys.path.insert(0, str(args.work))  # the step processes import the job from there too
    from chain_job import chain_bench

    job = reconstructable(chain_bench)
    trigger = time.time()
    with execute_job(job, instance=instance) as result:
        if not result.success:
            raise RuntimeError(f"dagster run {result.run_id} failed")
        run_id = result.run_id
    steps: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            steps.setdefault(event.step_key, [0.0, 0.0])[0] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            steps.setdefault(event.step_key, [0.0, 0.0])[1] = entry.timestamp
    result_json = {
        "version": dagster.__version__,
        "setup": {"instance (SQLite) created": setup_s},
        "trigger": trigger,
        "recorded": [steps[key] for key in sorted(steps)],
        "marks": [json.loads((marks / f"{i}.json").read_text()) for i in range(args.tasks)],
    }
    print(json.dumps(result_json), flush=True)


if __name__ == "__main__":
    main()
