"""Flink on YARN: submit -> Flink job RUNNING on a Flink session running as a YARN application,
beside the same job on the local standalone session cluster.

    .venv/bin/python benchmarks/yarn_flink.py [--runs 5] [--modes A,B,C] [--keep]

Starts, in a temporary directory (everything stopped at the end, also on Ctrl-C or SIGTERM):
the tests' Hadoop cluster (tests/yarn/cluster.py: HDFS, a ResourceManager and two NodeManagers
on loopback), the yarn deployer pointed at it as the tests do (1024 MB per job, the deployer's
default), a local standalone session cluster (``FlinkCluster``), and a Flink session on YARN
(``FlinkYarnSession``, as tests/yarn/fixtures.py's ``flink_on_yarn``: JobManager 768 MB,
TaskManagers of 1280 MB that Flink asks YARN for when a job needs slots). Then flink_submit.py's
one-job batch workflow (the wine example's 140 rows -> ``AddRatios`` -> a csv file), submitted
with ``af.run(wf, engine="flink", detach=True)`` in three modes, one after the other in each
round so that the machine's load falls on all three alike; the first round is an uncounted
warm-up (for C it also builds and stages the ApplicationMaster's jar):

A. local deployer -> the local standalone session (flink_submit.py's session figures);
B. local deployer -> the session on YARN: the job process on this machine submits to the
   JobManager YARN runs;
C. yarn deployer -> the session on YARN: the job runs as a YARN application of its own whose
   container submits to it, i.e. ``aiflow run FILE --deployer yarn --engine flink``.

Reported per mode (median, p95): seconds from submission to each point flink_submit.py reads,
**Flink job RUNNING** (the job's RUNNING timestamp from Flink's REST API ``/jobs/<id>``, for the
id the job row records in ``result.engine.flink.job_id``) and first task RUNNING (the earliest
subtask RUNNING: a TaskManager had the task, operators opened); for C also the YARN steps
between (the RM's report and the daemons' log lines, as yarn_jobs.py reads them). And the start
time of each session, and whether each job's first task waited for a new TaskManager (one not
registered when the job was submitted: an idle session on YARN gives its TaskManagers back to
YARN after Flink's ``resourcemanager.taskmanager-timeout``, 30 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test cluster (tests/yarn) is started from here

import argparse  # noqa: E402
import getpass  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from typing import Any  # noqa: E402

import _flinkbench as fb  # noqa: E402
import flink_submit  # noqa: E402
from _yarn_bench import point_at  # noqa: E402
from _yarn_flink_bench import (  # noqa: E402
    MODES,
    Mode,
    Sample,
    describe_run,
    newest_job,
    ran_on_new_taskmanager,
    report,
    session_env,
    split_first_task,
    taskmanager_ids,
    trace_env,
    workflow_source,
    yarn_points,
)

from tests.yarn.cluster import HadoopCluster, start_hadoop  # noqa: E402

MEMORY = 1024  # MB per job container: the yarn deployer's default
# as tests/yarn/fixtures.py's flink_on_yarn: room on 2 NodeManagers of 6 GB beside the jobs
YARN_SESSION_MEMORY = {"jobmanager_memory": "768m", "taskmanager_memory": "1280m"}
SESSION_TIMEOUT = 300.0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops everything, as Ctrl-C does


def start_sessions(
    stack: ExitStack, cluster: HadoopCluster, root: Path
) -> dict[str, tuple[str, str | None]]:
    """The local standalone session and the session on YARN, each stopped when ``stack``
    closes; by session, its REST URL and the web UI address users reach it by."""
    from aiflow.config import get_settings
    from aiflow.deployers.yarn.settings import YarnSettings
    from aiflow.hadoop.conf import resolve
    from aiflow.translators.flink.cluster import FlinkCluster
    from aiflow.translators.flink.settings import FlinkSettings
    from aiflow.translators.flink.yarn_session import FlinkYarnSession

    local = FlinkCluster(root / "home", FlinkSettings())
    stack.callback(local.stop)
    began = time.monotonic()
    started = local.start(timeout=SESSION_TIMEOUT)
    print(
        f"local standalone session {started.rest_url} ready in {started.seconds:.1f} s "
        f"({time.monotonic() - began:.1f} s with the call)",
        flush=True,
    )
    session = FlinkYarnSession(
        resolve(get_settings().section("yarn", YarnSettings)),
        cluster.conf_dir,
        user=getpass.getuser(),
        python=sys.executable,
        home=root / "yarn-session-home",
        settings=FlinkSettings(**YARN_SESSION_MEMORY),
        hadoop_classpath=":".join(cluster.classpath),  # what `hadoop classpath` prints
    )
    stack.callback(session.stop)
    info = session.start(timeout=SESSION_TIMEOUT)
    print(
        f"Flink session on YARN {info.application_id} ({info.rest_url}, web UI "
        f"{info.web_ui_url}) ready in {info.seconds:.1f} s",
        flush=True,
    )
    return {"local": (started.rest_url, None), "yarn": (info.rest_url, info.web_ui_url)}


def run_once(
    mode: Mode,
    wf: Any,
    rest_url: str,
    run_dir: Path,
    live: Path,
    store: Any,
    cluster: HadoopCluster,
) -> Sample:
    """One submission of ``wf`` in ``mode``; its run directory (trace, gateway JVM log) ends
    up at ``run_dir``."""
    before = taskmanager_ids(rest_url)
    if mode.deployer != "yarn":
        at = flink_submit.one_run(wf, run_dir, rest_url, store)
    else:
        try:  # the job's container writes to the fixed paths its deploy env names
            at = flink_submit.one_run(wf, live, rest_url, store)
            at.update(yarn_points(cluster, store, at))
        finally:
            if live.exists():
                live.rename(run_dir)
    flink_id = fb.flink_job_id(newest_job(store))
    sample = Sample(mode.key, at, ran_on_new_taskmanager(rest_url, flink_id, before))
    split_first_task(sample)
    return sample


def rounds(
    modes: list[Mode],
    runs: int,
    root: Path,
    cluster: HadoopCluster,
    urls: dict[str, tuple[str, str | None]],
) -> list[Sample]:
    """``runs`` + 1 rounds, each mode once per round; the first round's samples are dropped."""
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.usercode import load_workflow_file

    project, live = root / "project", root / "yarn-live"
    wine_csv = fb.prepare_wine(project / "data")
    fb.copy_trace_module(project)
    header = wine_csv.read_text().splitlines()[0].split(",")
    source = workflow_source(
        {c: "double" for c in header[:-1]}, wine_csv, root / "out.csv", trace_env(live)
    )
    (project / "workflow.py").write_text(source)
    wf = load_workflow_file(project / "workflow.py").wf
    store = MetaStore()
    samples: list[Sample] = []
    try:
        for i in range(runs + 1):
            for mode in modes:
                rest_url = session_env(mode, urls)
                run_dir = root / "runs" / f"{mode.key}-{i}"
                run_dir.parent.mkdir(exist_ok=True)
                sample = run_once(mode, wf, rest_url, run_dir, live, store, cluster)
                print(describe_run(sample, "warm-up" if i == 0 else f"run {i}"), flush=True)
                if i > 0:
                    samples.append(sample)
    finally:
        for execution in store.list_executions(limit=1000):
            fb.stop_execution(store, execution.id)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per mode")
    parser.add_argument("--modes", default="A,B,C", help="some of A,B,C")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    modes = [m for m in MODES if m.key in args.modes.upper().split(",")]
    if args.runs < 1 or not modes:
        parser.error("--runs must be at least 1 and --modes name some of A, B, C")
    signal.signal(signal.SIGTERM, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="aiflow-bench-yarn-flink-"))
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in
    os.environ["AIFLOW_HOME"] = str(root / "home")
    print(fb.machine_line(), flush=True)
    began = time.monotonic()
    try:
        with ExitStack() as stack:  # stops in reverse: sessions first, Hadoop last
            cluster = start_hadoop(root / "hadoop", nodemanagers=2)
            stack.callback(cluster.stop)
            point_at(cluster, MEMORY)
            print(f"Hadoop test cluster ready in {time.monotonic() - began:.1f} s", flush=True)
            urls = start_sessions(stack, cluster, root)
            samples = rounds(modes, args.runs, root, cluster, urls)
        print(f"\n{fb.machine_line()}")
        report(samples, modes, args.runs)
    finally:
        if args.keep:
            print(f"work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nbenchmark took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
