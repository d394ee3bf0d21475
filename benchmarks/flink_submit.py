"""Flink submit latency: submission -> the Flink job RUNNING, session cluster vs mini-cluster.

    .venv/bin/python benchmarks/flink_submit.py [--runs 5] [--skip-session] [--skip-mini]
        [--warm-gateways N] [--pause SECONDS]

Starts a session cluster with ``aiflow.translators.flink.cluster`` in a private temporary
``AIFLOW_HOME``
(stopped at the end, always), then submits a small batch workflow on the flink engine (the
wine example's 140 rows -> ``AddRatios`` -> a csv file: one Flink job) ``--runs`` times, one
after the other, with ``AIFLOW__FLINK__REST_URL`` set; then ``--runs`` times without it (each
job process runs its own embedded mini-cluster). One uncounted warm-up run first in each mode.

Submission is ``af.run(wf, engine="flink", detach=True)``: what ``aiflow run FILE --detach``
does once it has loaded the file (the CLI's own start-up is not counted). From that moment
(t0), per run, cumulative times of:

* ``submit returned``: execution and job recorded, the background driver spawned;
* ``job process launched``: the job's ``started_at`` (the driver started, launched it);
* ``runtime up``: the job log's first line (the job process's imports, its spec read);
* ``workflow loaded``: the job imported the workflow file (a trace hook in it, see
  ``_flink_trace.py``, marks this and the next points from inside the job process);
* ``create_table_env called``: the engine asks for its TableEnvironment (the trace hook has
  imported PyFlink just before: the engine would import it here);
* ``JVM launch starts``: PyFlink's ``launch_gateway`` is called (for a session cluster, aiflow
  first asked its REST API whether it has the flink-python jar);
* ``JVM up``: the gateway JVM started and py4j connected (``launch_gateway`` returned);
* ``TableEnvironment created``: ``create_table_env`` returned;
* ``job built, submitting``: ``StatementSet.execute`` called (sources, UDFs, sinks declared);
* ``job graph compiled``: the JVM's log says the client starts uploading the job (session
  cluster) or the per-job mini-cluster starts (embedded): the plan was optimized and compiled;
* ``job accepted``: Flink has the job: its ``INITIALIZING`` timestamp from the REST API
  (session cluster), or the mini-cluster dispatcher's "Submitting job" log line (so for the
  mini-cluster the step before it is the mini-cluster's own start);
* ``Flink job RUNNING``: the job's ``RUNNING`` timestamp (REST: ``/jobs/<id>``), or the
  mini-cluster's "switched from state CREATED to RUNNING" log line. **The figure the target
  (<= 2 s, session cluster) is about**;
* ``first task RUNNING``: its task's operators opened (Python workers started): records flow.

Flink's timestamps are its own (ms), not polled, for the Flink job id the job row records
(``result.engine.flink.job_id``). The mini-cluster has no REST endpoint known in advance, so
its times come from the log of the job process's JVM, which ``FLINK_LOG_DIR`` (and a log4j
config that appends) points at a directory of each run's own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import _flink_trace
import _flinkbench as fb

RUN_TIMEOUT = 600.0

WORKFLOW = """\
import _flink_trace

import aiflow as af

_flink_trace.install()  # timestamps from inside the job process (a no-op elsewhere)

FEATURES = {features!r}

wine = af.Example("wine", schema={{**FEATURES, "label": "int"}}, batch_uri={source!r},
                  format="csv")


class AddRatios(af.Transformer):
    \"\"\"The wine example's transformer.\"\"\"

    output_schema = {{**FEATURES, "label": "int", "phenol_ratio": "double"}}

    def transform(self, batch):
        out = batch.copy()
        out["phenol_ratio"] = out["flavanoids"] / (out["total_phenols"] + 1e-6)
        return out


with af.workflow("flink_submit") as wf:
    feats = af.transform(af.read_example(wine), AddRatios())
    af.write_example(feats, af.Example("out", batch_uri={out!r}, format="csv"))
"""

PHASES = [
    ("submit_returned", "submit returned (execution recorded)"),
    ("launched", "job process launched"),
    ("runtime_up", "runtime up (job log 1st line)"),
    ("loaded", "workflow loaded in job"),
    ("table_env_start", "create_table_env called"),
    ("gateway_start", "JVM launch starts"),
    ("gateway_up", "JVM up (py4j gateway)"),
    ("table_env_created", "TableEnvironment created"),
    ("execute_start", "job built, submitting"),
    ("compiled", "job graph compiled"),
    ("accepted", "Flink job accepted"),
    ("running", "Flink job RUNNING"),
    ("task_running", "first task RUNNING"),
]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def one_run(wf: Any, run_dir: Path, rest_url: str | None, store: Any) -> dict[str, float]:
    """Submit once, wait for the end; seconds from submission to each point reached."""
    import aiflow as af
    from aiflow.config import reset_settings
    from aiflow.translators.flink.rest import FlinkRest

    log_dir, trace = run_dir / "jvm-log", run_dir / "trace.txt"
    fb.jvm_logs_to(log_dir)  # the job process's gateway JVM (and mini-cluster) logs here
    os.environ["AIFLOW_BENCH_TRACE"] = str(trace)
    if rest_url:
        os.environ["AIFLOW__FLINK__REST_URL"] = rest_url
    else:
        os.environ.pop("AIFLOW__FLINK__REST_URL", None)
    reset_settings()
    t0 = time.time()
    execution = af.run(wf, mode="batch", engine="flink", detach=True, progress=False)
    returned = time.time()
    assert execution is not None
    try:
        done = fb.wait_execution(store, execution.id, RUN_TIMEOUT)
    finally:
        fb.stop_execution(store, execution.id)
    [job] = store.list_jobs(execution.id)
    if done.status.value != "succeeded":
        raise SystemExit(f"execution {execution.id} {done.status.value}: see {job.log_uri}")
    at: dict[str, float] = {"submit_returned": returned}
    assert job.started_at is not None
    at["launched"] = job.started_at.timestamp()
    runtime_up = fb.job_log_start(str(job.log_uri).removeprefix("file://"))
    if runtime_up is not None:
        at["runtime_up"] = runtime_up
    traced = _flink_trace.read(trace)
    for key in (
        "loaded",
        "table_env_start",
        "gateway_start",
        "gateway_up",
        "table_env_created",
        "execute_start",
    ):
        if key in traced:
            at[key] = traced[key]
    flink_id = fb.flink_job_id(job)
    logged = fb.gateway_events(log_dir, flink_id)
    if rest_url:
        details = FlinkRest(rest_url).job(flink_id)
        if "client_submitting" in logged:
            at["compiled"] = logged["client_submitting"]
        at["accepted"] = details.timestamps["INITIALIZING"] / 1000
        at["running"] = details.timestamps["RUNNING"] / 1000
        first_task = _first_task_running(rest_url, flink_id)
        if first_task is not None:
            at["task_running"] = first_task
    else:
        for key, event in (
            ("compiled", "minicluster_starting"),
            ("accepted", "dispatcher_submitting"),
            ("running", "running"),
            ("task_running", "task_running"),
        ):
            if event in logged:
                at[key] = logged[event]
    at["ended"] = done.ended_at.timestamp() if done.ended_at else time.time()
    return {key: value - t0 for key, value in at.items()}


def _first_task_running(rest_url: str, flink_id: str) -> float | None:
    """The earliest RUNNING timestamp of any subtask of the job (epoch seconds)."""
    import httpx

    times = []
    info = httpx.get(f"{rest_url}/jobs/{flink_id}", timeout=10).json()
    for vertex in info.get("vertices", []):
        sub = httpx.get(
            f"{rest_url}/jobs/{flink_id}/vertices/{vertex['id']}/subtasktimes", timeout=10
        ).json()
        for subtask in sub.get("subtasks", []):
            stamp = subtask.get("timestamps", {}).get("RUNNING")
            if stamp:
                times.append(stamp / 1000)
    return min(times) if times else None


def report(label: str, runs: list[dict[str, float]], warmup: dict[str, float]) -> None:
    print(f"\n{label}: {len(runs)} runs (after 1 warm-up run), seconds from submission")
    print(
        f"  {'point reached':<38} {'median':>7} {'p95':>7} {'min':>7}   {'step (median)':>13}"
        f"   {'warm-up':>7}"
    )
    for i, (key, text) in enumerate(PHASES):
        values = [r[key] for r in runs if key in r]
        if not values:
            continue
        earlier = [k for k, _ in PHASES[:i]]
        steps = [r[key] - max([r[k] for k in earlier if k in r] or [0.0]) for r in runs if key in r]
        warm = f"{warmup[key]:7.2f}" if key in warmup else " " * 7
        print(
            f"  {text:<38} {fb.median(values):7.2f} {fb.pct(values, 0.95):7.2f} "
            f"{min(values):7.2f}   {'+' + format(fb.median(steps), '.2f'):>13}   {warm}"
        )
    ends = [r["ended"] for r in runs]
    print(
        f"  {'(execution ended: job done, csv written)':<38} {fb.median(ends):7.2f} "
        f"{fb.pct(ends, 0.95):7.2f} {min(ends):7.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-session", action="store_true", help="mini-cluster runs only")
    parser.add_argument("--skip-mini", action="store_true", help="session-cluster runs only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIFLOW_HOME")
    parser.add_argument(
        "--warm-gateways",
        type=int,
        default=1,
        help="flink.warm_gateways for the runs (the gateway pool; aiflow's default 1; 0: off, "
        "each job launches its own JVM)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=None,
        help="seconds between runs, for the pool to warm a spare (default: 20 with the pool, "
        "0 without)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    signal.signal(signal.SIGTERM, _interrupt)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-flink-submit-"))
    os.environ["AIFLOW_HOME"] = str(home)
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in
    os.environ["AIFLOW__FLINK__WARM_GATEWAYS"] = str(args.warm_gateways)
    if args.pause is None:
        args.pause = 20.0 if args.warm_gateways else 0.0
    print(fb.machine_line(), flush=True)

    from aiflow.config import reset_settings
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.flink.cluster import FlinkCluster
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.usercode import load_workflow_file

    reset_settings()
    project = home / "project"
    project.mkdir()
    wine_csv = fb.prepare_wine(project / "data")
    fb.copy_trace_module(project)
    features = {c: "double" for c in wine_csv.read_text().splitlines()[0].split(",")[:-1]}
    (project / "workflow.py").write_text(
        WORKFLOW.format(features=features, source=str(wine_csv), out=str(home / "out.csv"))
    )
    wf = load_workflow_file(project / "workflow.py").wf
    store = MetaStore()
    results: dict[str, tuple[list[dict[str, float]], dict[str, float]]] = {}
    cluster = FlinkCluster(home, FlinkSettings())
    try:
        if not args.skip_session:
            began = time.monotonic()
            started = cluster.start(timeout=300)
            print(
                f"session cluster {started.rest_url} ready in {time.monotonic() - began:.1f} s",
                flush=True,
            )
            runs = []
            for i in range(args.runs + 1):
                run = one_run(wf, home / f"session-{i}", started.rest_url, store)
                print(f"  session run {i}: RUNNING after {run['running']:.2f} s", flush=True)
                runs.append(run)
                time.sleep(args.pause)
            results["session cluster (AIFLOW__FLINK__REST_URL set)"] = (runs[1:], runs[0])
            cluster.stop()
        if not args.skip_mini:
            runs = []
            for i in range(args.runs + 1):
                run = one_run(wf, home / f"mini-{i}", None, store)
                running = run.get("running", float("nan"))
                print(f"  mini-cluster run {i}: RUNNING after {running:.2f} s", flush=True)
                runs.append(run)
                time.sleep(args.pause)
            results["embedded mini-cluster (no REST URL)"] = (runs[1:], runs[0])
    finally:
        cluster.stop()
        for execution in store.list_executions(limit=1000):
            fb.stop_execution(store, execution.id)

    print(f"\n{fb.machine_line()}")
    for label, (runs, warmup) in results.items():
        report(label, runs, warmup)
    print(
        "\nstep = median of (this point - the previous point reached) per run; warm-up = the "
        "first, uncounted run"
    )
    if args.keep:
        print(f"kept {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
