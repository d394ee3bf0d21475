"""Helpers shared by the Flink benchmarks (``flink_submit.py``, ``flink_throughput.py``).

* figures: percentiles, the machine line (CPUs, load average);
* executions: wait for one to end, stop it, sample the CPU time of its job processes;
* logs: timestamps out of the job log and the log of the job process's PyFlink gateway JVM
  (which, on the embedded mini-cluster, is also the cluster's log); the benchmarks point
  ``FLINK_LOG_DIR`` at a private directory so that log is theirs alone;
* data: wine-like rows sampled with noise from the shipped example's data;
* Kafka: a broker started like the test fixture does (``tests/fixtures_kafka.py``, whose
  helpers import without side effects).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.schemas.entities import Execution
    from aiflow.store.sql_store import MetaStore

REPO = Path(__file__).resolve().parent.parent
TRACE_MODULE = Path(__file__).resolve().parent / "_flink_trace.py"
WINE_EXAMPLE = REPO / "examples" / "wine"

# -- figures ------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def chosen_paths(parser: argparse.ArgumentParser, text: str, known: tuple[str, ...]) -> list[str]:
    """The comma-separated ``--paths`` a benchmark was asked for; a usage error names any
    path it does not know."""
    paths = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(paths) - set(known))
    if unknown:
        parser.error(f"unknown path(s) {unknown}; known: {', '.join(known)}")
    return paths


def machine_line() -> str:
    return (
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average (1/5/15 min) {load_average()}"
    )


# -- executions ---------------------------------------------------------------------------------


def wait_execution(store: MetaStore, execution_id: int, timeout: float) -> Execution:
    """Poll until the execution ended; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        execution = store.get_execution(execution_id)
        if execution.status.finished:
            return execution
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_id} still {execution.status.value}")
        time.sleep(0.1)


def stop_execution(store: MetaStore, execution_id: int, wait: float = 60.0) -> None:
    """Stop an execution if it still runs (its driver stops the job processes)."""
    from aiflow.deployers import get_deployer
    from aiflow.scheduler.driver import request_stop

    with suppress(Exception):
        if not store.get_execution(execution_id).status.finished:
            request_stop(store, execution_id, get_deployer, wait=wait)


class CpuSampler:
    """CPU seconds (user + system) of an execution's job processes and everything they
    started or adopted (the gateway JVM, Python workers), sampled every ``interval`` seconds from
    ``/proc``: at most the last interval of each process is missed. CPU time does not grow
    when other work on the machine slows a job down, so it compares runs on a busy machine
    better than wall time does."""

    def __init__(self, store: MetaStore, execution_id: int, interval: float = 0.25) -> None:
        self.store, self.execution_id, self.interval = store, execution_id, interval
        self.seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _run(self) -> None:
        import psutil

        roots: dict[int, psutil.Process] = {}
        while not self._stop.is_set():
            with suppress(Exception):
                for job in self.store.list_jobs(self.execution_id):
                    # the job process, and the warm JVM it adopted (the gateway pool's child)
                    flink = ((job.result or {}).get("engine") or {}).get("flink") or {}
                    for pid in ((job.handle or {}).get("pid"), flink.get("gateway_pid")):
                        if isinstance(pid, int) and pid not in roots:
                            with suppress(psutil.Error):
                                roots[pid] = psutil.Process(pid)
            for root in list(roots.values()):
                try:
                    procs = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in procs:
                    with suppress(psutil.Error):
                        times = proc.cpu_times()
                        self.seen[(proc.pid, proc.create_time())] = times.user + times.system
            self._stop.wait(self.interval)


def wait_for_spare(pool: str | None, timeout: float) -> float:
    """Wait until the gateway pool listening at ``pool`` (a job result's ``gateway_pool``) has
    a warm spare JVM, at most ``timeout`` seconds, then one more for its warm-up to wind down;
    the seconds waited."""
    from aiflow.translators.flink.gateways import ask

    start = time.monotonic()
    while pool and time.monotonic() - start < timeout:
        with suppress(OSError):
            if ask(Path(pool), {"op": "status"}).get("ready"):
                time.sleep(1.0)
                break
        time.sleep(0.5)
    return time.monotonic() - start


# -- logs ---------------------------------------------------------------------------------------

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def line_time(line: str) -> float | None:
    """Epoch seconds of a log line starting ``YYYY-MM-DD HH:MM:SS,mmm`` (local time, as both
    aiflow's job log and Flink's log4j layout write it)."""
    found = _STAMP.match(line)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def job_log_start(path: str | Path) -> float | None:
    """When the job process's aiflow runtime logged its first line (its imports done, the
    job's spec read from the meta store)."""
    with suppress(OSError), open(path, errors="replace") as lines:
        for line in lines:
            stamp = line_time(line)
            if stamp is not None:
                return stamp
    return None


def jvm_logs_to(log_dir: Path) -> None:
    """Point the PyFlink gateway JVM of job processes started from now on (they inherit this
    process's environment through the driver) at ``log_dir``: the engine's own per-attempt
    setting, made here once so that every job of the benchmark logs where it can be read."""
    from aiflow.translators.flink.engine import jvm_logs_to as engine_jvm_logs_to

    os.environ.pop("FLINK_LOG_DIR", None)
    engine_jvm_logs_to(log_dir)


def gateway_log(log_dir: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(log_dir.glob("*.log")):
        lines += path.read_text(errors="replace").splitlines()
    return lines


def gateway_events(log_dir: Path, flink_job_id: str) -> dict[str, float]:
    """Times from the gateway JVM's log of a job process (the mini-cluster logs there too),
    for the Flink job ``flink_job_id`` (what the job row records; its name may change):

    * ``first_line``: the JVM's first line (written while the TableEnvironment is created);
    * ``client_submitting``: the session-cluster client starts uploading the compiled job;
    * ``minicluster_starting``: the job is compiled and the per-job mini-cluster starts;
    * ``dispatcher_submitting``: the mini-cluster's dispatcher received the job;
    * ``running``: the job switched to RUNNING (mini-cluster);
    * ``task_running``: its first task is RUNNING: operators opened, Python workers up;
    * ``finished``: the job switched to FINISHED (mini-cluster)."""
    job = f"({flink_job_id})"
    rules = {  # event -> all of these substrings in the line
        "client_submitting": ("RestClusterClient", "Submitting job", job),
        "minicluster_starting": ("Starting Flink Mini Cluster",),
        "dispatcher_submitting": ("Dispatcher", "Submitting job", job),
        "running": ("ExecutionGraph", f"{job} switched from state CREATED to RUNNING"),
        "task_running": ("switched from INITIALIZING to RUNNING",),
        "finished": ("ExecutionGraph", f"{job} switched from state RUNNING to FINISHED"),
    }
    events: dict[str, float] = {}
    for line in gateway_log(log_dir):
        stamp = line_time(line)
        if stamp is None:
            continue
        events.setdefault("first_line", stamp)
        for event, needles in rules.items():
            if event not in events and all(needle in line for needle in needles):
                events[event] = stamp
    return events


def flink_job_id(job: Any) -> str:
    """The Flink job id the flink engine records in the job row."""
    return str(job.result["engine"]["flink"]["job_id"])


# -- data ---------------------------------------------------------------------------------------


def prepare_wine(data_dir: Path) -> Path:
    """The shipped example's data (``examples/wine/prepare_data.py``) under ``data_dir``."""
    sys.path.insert(0, str(WINE_EXAMPLE))
    try:
        import prepare_data  # examples/wine/prepare_data.py
    finally:
        sys.path.remove(str(WINE_EXAMPLE))
    prepare_data.main(data_dir)
    return data_dir / "wine.csv"


def wine_rows(wine_csv: Path, rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` wine-like records: the example's rows drawn with replacement, each feature
    moved by Gaussian noise of 5 % of its standard deviation (kept non-negative), label kept."""
    import numpy as np
    import pandas as pd

    base = pd.read_csv(wine_csv)
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    features = [c for c in frame.columns if c != "label"]
    noise = rng.normal(0.0, 0.05, (rows, len(features))) * base[features].std().to_numpy()
    frame[features] = np.maximum(frame[features].to_numpy() + noise, 0.0).round(4)
    return frame


def copy_trace_module(project: Path) -> None:
    shutil.copy(TRACE_MODULE, project / TRACE_MODULE.name)


# -- Kafka ----------------------------------------------------------------------------------------


@contextmanager
def kafka_broker(root: Path) -> Iterator[Any]:
    """A single-node KRaft broker on free loopback ports, from the pinned Maven jars; yields
    the fixture's ``KafkaBroker`` (``.bootstrap``, ``.create_topic``) and stops it after."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from aiflow.translators.flink.jars import ensure_jars
    from tests.fixtures_kafka import _java, _start  # importing it starts nothing

    java = _java()
    if java is None:
        raise SystemExit("Kafka needs Java: no java on PATH or in $JAVA_HOME")
    root.mkdir(parents=True, exist_ok=True)
    running = _start(java, ensure_jars("kafka-broker"), root)
    try:
        yield running.broker
    finally:
        running.stop()
