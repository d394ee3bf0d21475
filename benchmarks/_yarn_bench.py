"""benchmarks/yarn_jobs.py's measurements: jobs submitted through a deployer (yarn or local)
until each one's code ran, and HDFS throughput through the yarn deployer's ``Staging``.

The cluster is the tests' own (tests/yarn/cluster.py), configured as tests/yarn/fixtures.py's
``use_cluster`` does, so the figures are about the ResourceManager, NodeManagers and HDFS the
YARN tests run against.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.yarn.cluster import HadoopCluster

# The job: records when its first line ran, then exits.
JOB_CODE = "import sys, time; open(sys.argv[1], 'w').write(repr(time.time()))"
RUN_TIMEOUT = 900.0  # s for one run's jobs to end
_TICK = 0.05  # s between polls while waiting for a job to end (yarn answers from a 0.25 s cache)
# The daemons' log lines that mark an application's steps (log4j: JVM local time, ms), as
# (step, pattern); group 1 is the time, group 2 the application's number (without
# "application_"). Every job is a single container: its ApplicationMaster, attempt 1.
_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ "
_MARKS = [
    (step, re.compile(_STAMP + pattern))
    for step, pattern in (
        ("allocated", r"rmcontainer\.RMContainerImpl: container_(\d+_\d+)_01_000001 Container "
         r"Transitioned from NEW to ALLOCATED"),
        ("localizing", r"container\.ContainerImpl: Container container_(\d+_\d+)_01_000001 "
         r"transitioned from NEW to LOCALIZING"),
        ("localized", r"container\.ContainerImpl: Container container_(\d+_\d+)_01_000001 "
         r"transitioned from LOCALIZING to SCHEDULED"),
        ("container", r"container\.ContainerImpl: Container container_(\d+_\d+)_01_000001 "
         r"transitioned from SCHEDULED to RUNNING"),
        ("registered", r"attempt\.RMAppAttemptImpl: appattempt_(\d+_\d+)_000001 State change "
         r"from LAUNCHED to RUNNING"),
    )
]  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def point_at(cluster: HadoopCluster, memory: int) -> None:
    """Configure the yarn deployer of this process as ``use_cluster`` does for the tests
    (environment, then ``reset_settings``)."""
    from aiflow.config import reset_settings

    os.environ["HADOOP_CONF_DIR"] = str(cluster.conf_dir)
    os.environ["AIFLOW__YARN__APPLICATION_CLASSPATH"] = json.dumps(cluster.classpath)
    os.environ["AIFLOW__YARN__MEMORY"] = str(memory)
    reset_settings()


def describe(cluster: HadoopCluster, memory: int) -> str:
    """The cluster's capacity and the default queue's ApplicationMaster limit: every job is
    one AM container, so that limit (not memory) is how many jobs run at once."""
    nodes = [n for n in cluster.nodes() if n.get("state") == "RUNNING"]
    capacity = sum(int(n.get("availMemoryMB", 0)) + int(n.get("usedMemoryMB", 0)) for n in nodes)
    queue = _default_queue(cluster)
    am_limit = int(((queue or {}).get("AMResourceLimit") or {}).get("memory") or 0)
    limit = f"{am_limit} MB = {am_limit // memory} jobs of {memory} MB at once" if am_limit else "?"
    return (
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"Hadoop test cluster on loopback: {len(nodes)} NodeManagers, {capacity} MB in all; "
        f"queue 'default' AM resource limit {limit}"
    )


def _default_queue(cluster: HadoopCluster) -> dict[str, Any] | None:
    info = cluster.rm_get("/ws/v1/cluster/scheduler")["scheduler"]["schedulerInfo"]
    for queue in (info.get("queues") or {}).get("queue") or []:
        if queue.get("queueName") == "default":
            return dict(queue)
    return None


def launch(i: int, tag: int, marks: Path) -> Any:
    """Job ``i`` as a driver would launch it, with a job token (a credential: the yarn
    deployer puts it in the application's credentials, as in real use)."""
    from aiflow.deployers.base import JobLaunch

    return JobLaunch(
        job_id=i + 1,
        execution_id=tag,
        job_name=f"stamp-{i}",
        attempt=1,
        command=[sys.executable, "-c", JOB_CODE, str(marks / f"{i}.mark")],
        env={"AIFLOW_JOB_TOKEN": f"afj_bench_{tag}_{i}"},
        log_path=marks / "logs" / f"{i}.log",
        workdir=marks,
        workflow_name="bench",
    )


@dataclass
class Run:
    """One deployer's run: per job, seconds since the epoch for each step it has."""

    deployer: str
    mode: str  # "serial" or "burst"
    window: int
    times: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0

    def ms(self, start: str, end: str) -> list[float]:
        return [(t[end] - t[start]) * 1000 for t in self.times if start in t and end in t]

    def max_running(self) -> int:
        """Most YARN applications RUNNING at once (RM launchTime .. finishedTime)."""
        edges = [(t["launched"], 1) for t in self.times if "launched" in t]
        edges += [(t["finished"], -1) for t in self.times if "finished" in t]
        peak = level = 0
        for _, step in sorted(edges):
            level += step
            peak = max(peak, level)
        return peak


def run_jobs(
    deployer: Any,
    jobs: int,
    marks: Path,
    *,
    window: int,
    mode: str,
    tag: int,
    cluster: HadoopCluster,
) -> Run:
    """``jobs`` jobs through ``deployer.submit``, at most ``window`` unfinished at a time:
    ``window`` 1 is serial (each submitted once the previous one ended), a larger one a burst
    (``window`` back to back, then one more each time one ends)."""
    marks.mkdir(parents=True)
    (marks / "logs").mkdir()
    result = Run(deployer.name, mode, window)
    result.times = [{} for _ in range(jobs)]
    handles: dict[int, dict[str, Any]] = {}
    live: dict[int, dict[str, Any]] = {}
    began = time.monotonic()
    deadline = began + RUN_TIMEOUT
    following = 0
    while following < jobs or live:
        while following < jobs and len(live) < window:
            i, following = following, following + 1
            job = launch(i, tag, marks)
            result.times[i]["submit"] = time.time()
            handles[i] = live[i] = deployer.submit(job)
            result.times[i]["returned"] = time.time()
        states = {i: deployer.poll(handle) for i, handle in live.items()}
        ended = [i for i, state in states.items() if not state.running]
        for i in ended:
            del live[i]
            state = states[i]
            if state.exit_code != 0:
                tail = "\n".join(list(deployer.logs(handles[i]))[-20:])
                raise RuntimeError(f"{deployer.name} job {i} failed: {state.error}\n{tail}")
        if not ended:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(live)} {deployer.name} jobs still run: {list(live)}")
            deployer.wait_for_change(_TICK)
    result.wall_s = time.monotonic() - began
    for i, times in enumerate(result.times):
        mark = marks / f"{i}.mark"
        if not mark.exists():
            raise RuntimeError(f"{deployer.name} job {i} ended without writing {mark}")
        times["code"] = float(mark.read_text())
    containers = daemon_times(cluster)
    for i, times in enumerate(result.times):
        app = str(handles[i].get("application", ""))
        times.update(_rm_times(handles[i]))
        times.update(containers.get(app.removeprefix("application_"), {}))
    return result


def daemon_times(cluster: HadoopCluster) -> dict[str, dict[str, float]]:
    """By application number, from the daemons' logs: when the RM allocated its AM container,
    the NodeManager started localizing it, had localized it and launched its process, and when
    the AM registered with the RM."""
    found: dict[str, dict[str, float]] = {}
    for log in [cluster.base_dir / "master.log", *sorted(cluster.base_dir.glob("nm-*.log"))]:
        with log.open(errors="replace") as lines:
            for line in lines:
                if "transitioned" not in line.lower() and "State change" not in line:
                    continue
                for step, pattern in _MARKS:
                    match = pattern.match(line)
                    if match:
                        stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
                        found.setdefault(match.group(2), {})[step] = stamp.timestamp()
    return found


def _rm_times(handle: dict[str, Any]) -> dict[str, float]:
    """The ResourceManager's own times of a YARN application (ms since the epoch, same
    machine clock): its AM container launched, and the application finished."""
    if "application" not in handle:
        return {}
    from aiflow.hadoop.rm import ResourceManager

    rm = ResourceManager(handle["resource_manager"], getpass.getuser())
    try:
        report = rm.app(handle["application"]) or {}
    finally:
        rm.close()
    times = {}
    for key, name in (("launchTime", "launched"), ("finishedTime", "finished")):
        if int(report.get(key) or 0) > 0:
            times[name] = int(report[key]) / 1000
    return times


def warm_up(deployer: Any, marks: Path, cluster: HadoopCluster) -> dict[str, float]:
    """One uncounted job (connections, imports; for yarn the AM jar built and staged):
    returns its submit() call and submit -> code ran, in ms."""
    result = run_jobs(deployer, 1, marks, window=1, mode="warm-up", tag=999, cluster=cluster)
    return {
        "submit": result.ms("submit", "returned")[0],
        "code": result.ms("submit", "code")[0],
    }


# -- part 2: HDFS throughput through Staging ----------------------------------------------------


@dataclass
class Throughput:
    """MB/s per repetition, by operation."""

    size_mb: int
    rates: dict[str, list[float]] = field(default_factory=dict)

    def add(self, operation: str, seconds: float) -> None:
        self.rates.setdefault(operation, []).append(self.size_mb / seconds)


def throughput(size_mb: int, reps: int, scratch: Path) -> Throughput:
    """A ``size_mb`` file of random bytes, ``reps`` times: written (``Staging.upload``) and
    read (``Staging.read``) through the yarn deployer's staging; through fsspec's ``hdfs://``
    (what an HDFS ``storage.root`` uses); the same over WebHDFS in one streamed request each
    (the protocol at its best); copied and read on local disk."""
    from aiflow.config import get_settings
    from aiflow.deployers.yarn.settings import YarnSettings
    from aiflow.deployers.yarn.staging import Staging
    from aiflow.hadoop import conf as hadoop_conf

    config = get_settings().section("yarn", YarnSettings)
    staging = Staging(hadoop_conf.resolve(config), config.staging_dir, getpass.getuser())
    source = scratch / f"{size_mb}mb.bin"
    with source.open("wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(1 << 20))
    result = Throughput(size_mb)
    for rep in range(reps):
        _measure(result, staging, source, scratch, staging.path("bench", f"{size_mb}-{rep}"))
    source.unlink()
    return result


def _measure(result: Throughput, staging: Any, source: Path, scratch: Path, path: str) -> None:
    size = source.stat().st_size
    read: list[int] = []
    result.add("Staging.upload", _timed(lambda: staging.upload(source, path)))
    result.add("Staging.read", _timed(lambda: read.append(len(staging.read(path)))))
    staging.remove(path)
    result.add("storage hdfs:// write", _timed(lambda: _fsspec_put(staging, source, path)))
    result.add("storage hdfs:// read", _timed(lambda: read.append(_fsspec_get(staging, path))))
    staging.remove(path)
    result.add("WebHDFS 1 PUT", _timed(lambda: _put(staging, source, path)))
    result.add("WebHDFS 1 GET", _timed(lambda: read.append(_get(staging, path))))
    staging.remove(path)
    if read != [size, size, size]:
        raise RuntimeError(f"read {read} bytes back from {path}, wrote {size}")
    copy = scratch / "copy.bin"
    result.add("local copy", _timed(lambda: shutil.copyfile(source, copy)))
    result.add("local read", _timed(copy.read_bytes))
    copy.unlink()


def _fsspec_put(staging: Any, source: Path, path: str) -> None:
    """What artifacts, snapshots and intermediates under an ``hdfs://`` ``storage.root`` do:
    fsspec's ``hdfs://`` (``aiflow.hadoop.hdfs``), written from Python in 1 MB pieces."""
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

    with source.open("rb") as data, fsspec.open(staging.url(path), "wb") as out:
        for piece in iter(lambda: data.read(1 << 20), b""):
            out.write(piece)


def _fsspec_get(staging: Any, path: str) -> int:
    import fsspec

    import aiflow.hadoop.fs  # noqa: F401 (hdfs:// over WebHDFS)

    total = 0
    with fsspec.open(staging.url(path), "rb") as data:
        for piece in iter(lambda: data.read(1 << 20), b""):
            total += len(piece)
    return total


def _put(staging: Any, source: Path, path: str) -> None:
    """WebHDFS CREATE: the NameNode redirects, the DataNode takes the file in one PUT."""
    url = f"{staging.webhdfs}/webhdfs/v1{path}"
    query = {"op": "CREATE", "overwrite": "true", "user.name": staging.user}
    step = httpx.put(url, params=query, timeout=30)
    if step.status_code != 307:
        raise RuntimeError(f"CREATE {path}: {step.status_code} {step.text[:300]}")
    with source.open("rb") as data:
        done = httpx.put(
            step.headers["location"],
            content=iter(lambda: data.read(1 << 20), b""),
            headers={"content-type": "application/octet-stream"},
            timeout=120,
        )
    if done.status_code != 201:
        raise RuntimeError(f"CREATE {path} on the DataNode: {done.status_code} {done.text[:300]}")


def _get(staging: Any, path: str) -> int:
    """WebHDFS OPEN, streamed (bytes counted, not kept): returns how many."""
    url = f"{staging.webhdfs}/webhdfs/v1{path}"
    query = {"op": "OPEN", "user.name": staging.user}
    with httpx.stream("GET", url, params=query, follow_redirects=True, timeout=120) as reply:
        reply.raise_for_status()
        return sum(len(chunk) for chunk in reply.iter_bytes(1 << 20))


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began
