"""benchmarks/yarn_flink.py's pieces: the three submission paths it compares, the YARN steps of
a job run by the yarn deployer, and the side-by-side table.

Each run is ``flink_submit.one_run`` (``af.run(..., engine="flink", detach=True)``, then the
points it reads: the driver's, the trace hook's inside the job process, its gateway JVM's log,
Flink's REST timestamps). What differs per mode is only the environment the run starts with:
which session ``AIFLOW__FLINK__REST_URL`` names, and whether ``AIFLOW__DEFAULT_DEPLOYER`` is
``yarn`` (what ``aiflow run --deployer yarn`` selects). A job in a YARN container inherits
nothing of this process's environment but the ``AIFLOW__*`` settings, so the trace hook's file
and the gateway JVM's log directory reach it through the workflow's
``deploy={"yarn": {"env": ...}}``: fixed paths, which the benchmark moves aside after each run.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _flinkbench as fb
import flink_submit
import httpx
from _yarn_bench import daemon_times
from yarn_jobs import table

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore
    from tests.yarn.cluster import HadoopCluster


@dataclass(frozen=True)
class Mode:
    key: str
    title: str
    session: str  # "local" (the standalone session cluster) or "yarn" (the session on YARN)
    deployer: str


MODES = (
    Mode("A", "local deployer -> local standalone session", "local", "local"),
    Mode("B", "local deployer -> Flink session on YARN", "yarn", "local"),
    Mode("C", "yarn deployer -> Flink session on YARN", "yarn", "yarn"),
)

# The rows: flink_submit's points, with the yarn deployer's steps (mode C only) between the
# driver's launch and the job's first line of Python. Labels say what each is in every mode.
_YARN_ROWS = [
    ("yarn_submitted", "YARN application submitted (RM)"),
    ("launched", "driver launched the job (started_at)"),
    ("allocated", "AM container allocated (RM log)"),
    ("localizing", "NodeManager starts it (NM log)"),
    ("localized", "localized: AM jar from HDFS"),
    ("container", "AM process launched"),
    ("registered", "AM registered (its JVM up)"),
]
ROWS = [flink_submit.PHASES[0], *_YARN_ROWS, *flink_submit.PHASES[2:]]


@dataclass
class Sample:
    """One run: seconds from submission to each point reached, and whether its first task ran
    on a TaskManager started for it (None: not known). An idle session on YARN gives its
    TaskManagers back to YARN (Flink's 30 s idle timeout); the next job waits for a new one."""

    mode: str
    at: dict[str, float]
    new_taskmanager: bool | None


def workflow_source(features: dict[str, str], source: Path, out: Path, env: dict[str, str]) -> str:
    """flink_submit's one-job workflow, its transform node carrying ``env`` for the yarn
    deployer (fused into the one job, so the job's container gets it)."""
    text = flink_submit.WORKFLOW.format(features=features, source=str(source), out=str(out))
    call = "AddRatios())"
    if text.count(call) != 1:
        raise RuntimeError(f"flink_submit.WORKFLOW no longer has one {call!r} to add deploy= to")
    return text.replace(call, "AddRatios(), deploy=" + repr({"yarn": {"env": env}}) + ")")


def trace_env(live: Path) -> dict[str, str]:
    """What ``one_run(wf, live, ...)`` points a local job process at (its trace file, its
    gateway JVM's log directory and log4j config), for the job in a YARN container."""
    saved = {k: os.environ.get(k) for k in ("FLINK_LOG_DIR", "LOG4J_PROPERTIES")}
    fb.jvm_logs_to(live / "jvm-log")  # writes the log4j config there, as one_run will again
    env = {
        "AIFLOW_BENCH_TRACE": str(live / "trace.txt"),
        "FLINK_LOG_DIR": os.environ["FLINK_LOG_DIR"],
        "LOG4J_PROPERTIES": os.environ["LOG4J_PROPERTIES"],
    }
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return env


def newest_job(store: MetaStore) -> Any:
    """The one job of the execution submitted last (each run submits one)."""
    [job] = store.list_jobs(store.list_executions(limit=1)[0].id)
    return job


def taskmanager_ids(rest_url: str) -> set[str]:
    """The TaskManagers registered with a session now."""
    data = httpx.get(f"{rest_url}/taskmanagers", timeout=10).json()
    return {str(tm["id"]) for tm in data.get("taskmanagers", [])}


def ran_on_new_taskmanager(rest_url: str, flink_id: str, before: set[str]) -> bool | None:
    """Whether a task of the Flink job ran on a TaskManager not registered at submission
    (``before``); None when Flink does not say where its tasks ran."""
    info = httpx.get(f"{rest_url}/jobs/{flink_id}", timeout=10).json()
    used: set[str] = set()
    for vertex in info.get("vertices", []):
        path = f"{rest_url}/jobs/{flink_id}/vertices/{vertex['id']}/taskmanagers"
        managers = httpx.get(path, timeout=10).json().get("taskmanagers", [])
        used |= {str(tm["taskmanager-id"]) for tm in managers if tm.get("taskmanager-id")}
    return bool(used - before) if used else None


def yarn_points(cluster: HadoopCluster, store: MetaStore, at: dict[str, float]) -> dict[str, float]:
    """The newest execution's job as YARN ran it, in seconds from its submission like ``at``:
    when the ResourceManager accepted the application, and its AM container's steps from the
    daemons' logs. ``at["launched"]`` is the job's ``started_at``, which places submission."""
    job = newest_job(store)
    app = str((job.handle or {}).get("application", ""))
    if not app or job.started_at is None:
        raise RuntimeError(f"job {job.id} has no YARN application in its handle: {job.handle}")
    t0 = job.started_at.timestamp() - at["launched"]
    report = cluster.rm_get(f"/ws/v1/cluster/apps/{app}")["app"]
    times = {"yarn_submitted": int(report["startedTime"]) / 1000}
    times.update(daemon_times(cluster).get(app.removeprefix("application_"), {}))
    return {key: value - t0 for key, value in times.items()}


def report(samples: list[Sample], modes: list[Mode], runs: int) -> None:
    """One row per point, one column per mode: median, median step from the latest earlier
    point reached, p95 (seconds from submission). The first task's row is split by where it
    ran: on a TaskManager already up, or on one YARN started for the job."""
    print(
        f"\nsubmit -> Flink job RUNNING, {runs} runs per mode after 1 uncounted warm-up; "
        "seconds from af.run(..., detach=True): median (+step) p95"
    )
    for mode in modes:
        print(f"  {mode.key}: {mode.title}")
    by_mode = {m.key: [s.at for s in samples if s.mode == m.key] for m in modes}
    before_tasks = [k for k, _ in ROWS if k != "task_running"]  # the last point
    lines = [(key, label, [k for k, _ in ROWS[:i]]) for i, (key, label) in enumerate(ROWS)]
    lines += [
        ("task_running_up", "  ... on a TaskManager already up", before_tasks),
        ("task_running_new", "  ... on a new TaskManager container", before_tasks),
        ("ended", "(execution ended: csv written)", []),  # no step
    ]
    rows = [["  point reached", *(f"{m.key}: median (+step) p95" for m in modes)]]
    for key, label, since in lines:
        cells = [f"  {label}"]
        cells += [_cell([r for r in by_mode[m.key] if key in r], key, since) for m in modes]
        if any(c != "-" for c in cells[1:]):
            rows.append(cells)
    table(rows)
    for m in modes:
        mine = [s for s in samples if s.mode == m.key]
        new = sum(1 for s in mine if s.new_taskmanager)
        print(
            f"  {m.key}: the first task waited for a new TaskManager in {new} of {len(mine)} runs"
        )
    print("  step = median of (this point - the latest earlier point reached) per run")


def split_first_task(sample: Sample) -> None:
    """File the first task's time under where it ran (see ``report``)."""
    task = sample.at.get("task_running")
    if task is not None and sample.new_taskmanager is not None:
        sample.at["task_running_new" if sample.new_taskmanager else "task_running_up"] = task


def _cell(runs: list[dict[str, float]], key: str, since: list[str]) -> str:
    if not runs:
        return "-"
    values = [r[key] for r in runs]
    steps = [r[key] - max([r[k] for k in since if k in r] or [0.0]) for r in runs]
    step = "" if key == "ended" else f"(+{statistics.median(steps):.2f})"
    return f"{fb.median(values):6.2f} {step:>8} {fb.pct(values, 0.95):6.2f}"


def session_env(mode: Mode, urls: dict[str, tuple[str, str | None]]) -> str:
    """Set this process's environment for a run of ``mode`` (``one_run`` sets the REST URL
    and reloads settings); returns the session's REST URL. ``urls``: by session, its REST URL
    and the web UI address users reach it by (the ResourceManager's proxy for YARN)."""
    rest_url, web_ui = urls[mode.session]
    if web_ui:
        os.environ["AIFLOW__FLINK__WEB_UI_URL"] = web_ui
    else:
        os.environ.pop("AIFLOW__FLINK__WEB_UI_URL", None)
    if mode.deployer == "local":
        os.environ.pop("AIFLOW__DEFAULT_DEPLOYER", None)
    else:
        os.environ["AIFLOW__DEFAULT_DEPLOYER"] = mode.deployer
    return rest_url


def describe_run(sample: Sample, label: str) -> str:
    at = sample.at
    task = at.get("task_running")
    first = f", first task {task:.2f} s" if task is not None else ""
    where = {True: " on a new TaskManager", False: " on a TaskManager already up", None: ""}
    return (
        f"  {label} {sample.mode}: RUNNING after {at.get('running', float('nan')):.2f} s"
        f"{first}{where[sample.new_taskmanager] if first else ''}"
    )
