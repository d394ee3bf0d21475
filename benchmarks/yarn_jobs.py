"""YARN: submit -> job code running beside the local deployer, and HDFS staging throughput.

    .venv/bin/python benchmarks/yarn_jobs.py [--jobs 30] [--window 10] [--reps 3]
        [--parts latency,hdfs]

Everything runs on the tests' Hadoop cluster (tests/yarn/cluster.py: HDFS, a ResourceManager
and two NodeManagers on loopback, Hadoop's own daemons), which the benchmark starts in a
temporary directory and stops; the deployer is pointed at it as tests/yarn/fixtures.py's
``use_cluster`` does (HADOOP_CONF_DIR, the cluster's classpath, 512 MB per job). Needs Java 17
and the ``hadoop-cluster`` jars (fetched by Maven on first use).

1. latency: ``--jobs`` jobs (``python -c`` writing its ``time.time()`` to a file, then
   exiting) through ``get_deployer("yarn").submit`` and ``get_deployer("local").submit``:
   serial (each submitted once the previous one ended) and burst (``--window`` back to back,
   then one more each time one ends: at most ``--window`` unfinished at once, to keep the
   shared machine's load moderate). One uncounted warm-up job per deployer first. "Job code
   ran" is the job's own timestamp, on the machine's clock like the submit times; yarn's steps
   in between are the log lines (ms) of the ResourceManager (AM container allocated, AM
   registered) and of the NodeManager that ran it (localizing, localized, process launched).
2. hdfs: a 64 MB and a 256 MB file of random bytes written (``Staging.upload``) and read
   (``Staging.read``) over WebHDFS, ``--reps`` times each; beside them through fsspec's
   ``hdfs://`` (``aiflow.hadoop.hdfs``: what artifacts, snapshots and intermediates under an
   HDFS ``storage.root`` use, 64 MB APPENDs), the same over WebHDFS in one streamed request
   each (the protocol without APPEND calls), and
   ``shutil.copyfile`` and a read of the same file on local disk (no fsync on either side;
   the one DataNode keeps its blocks on the same disk).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test cluster (tests/yarn) is started from here

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from _yarn_bench import (  # noqa: E402
    Run,
    Throughput,
    describe,
    pct,
    point_at,
    run_jobs,
    throughput,
    warm_up,
)

from tests.yarn.cluster import HadoopCluster, start_hadoop  # noqa: E402

MEMORY = 512  # MB per job container, as the tests use
SIZES_MB = (64, 256)
STEPS = (  # yarn's steps from the RM's and NodeManagers' logs (its AM container's changes)
    ("submit() call", "submit", "returned"),
    ("submit -> AM container allocated (RM)", "submit", "allocated"),
    ("allocated -> NM starts it", "allocated", "localizing"),
    ("localizing (AM jar from HDFS)", "localizing", "localized"),
    ("localized -> process launched", "localized", "container"),
    ("launched -> AM registered (JVM)", "container", "registered"),
    ("registered -> job code ran", "registered", "code"),
    ("submit -> job code ran", "submit", "code"),
)


def latency(cluster: HadoopCluster, root: Path, jobs: int, window: int) -> None:
    from aiflow.deployers import get_deployer

    deployers = {name: get_deployer(name) for name in ("yarn", "local")}
    try:
        warm = {name: warm_up(d, root / f"warm-{name}", cluster) for name, d in deployers.items()}
        runs = [
            run_jobs(
                d, jobs, root / f"{mode}-{name}", window=w, mode=mode, tag=tag, cluster=cluster
            )
            for tag, (mode, w) in enumerate((("serial", 1), ("burst", window)), start=1)
            for name, d in deployers.items()
        ]
    finally:
        for d in deployers.values():
            close = getattr(d, "close", None)
            if close is not None:
                close()
    print_latency(runs, warm, jobs, window)


def print_latency(runs: list[Run], warm: dict[str, dict[str, float]], jobs: int, w: int) -> None:
    print(
        f"\n(1) submit -> job code ran: {jobs} jobs (python -c: write time.time(), exit) per "
        "deployer and mode, through get_deployer(name).submit; ms"
    )
    for mode, how in (
        ("serial", "each job submitted once the previous one ended"),
        ("burst", f"{w} back to back, then one more each time one ends (at most {w} at once)"),
    ):
        chosen = [r for r in runs if r.mode == mode]
        wall = ", ".join(f"{r.deployer} {r.wall_s:.1f} s" for r in chosen)
        print(f"  {mode}: {how}; wall time {wall}")
        rows = [["  step", *(f"{r.deployer}: median / p95 / max" for r in chosen)]]
        for label, start, end in STEPS:
            cells = [f"  {label}"]
            for r in chosen:
                v = r.ms(start, end)
                cells.append(
                    f"{statistics.median(v):7.0f} {pct(v, 0.95):7.0f} {max(v):7.0f}" if v else "-"
                )
            rows.append(cells)
        table(rows)
    for r in runs:
        if r.deployer == "yarn":
            print(f"  yarn {r.mode}: at most {r.max_running()} applications RUNNING at once")
    print(
        "  warm-up job (uncounted): "
        + "; ".join(
            f"{name} submit() {w['submit']:.0f} ms, code ran after {w['code']:.0f} ms"
            for name, w in warm.items()
        )
    )


def print_throughput(results: list[Throughput], reps: int) -> None:
    print(
        f"\n(2) HDFS through the yarn deployer's Staging (WebHDFS) beside local disk; "
        f"MB/s, median of {reps} (min - max)"
    )
    operations = list(results[0].rates)
    rows = [["  file", *operations]]
    for r in results:
        cells = [f"  {r.size_mb} MB"]
        for op in operations:
            v = r.rates[op]
            cells.append(f"{statistics.median(v):6.0f} ({min(v):.0f} - {max(v):.0f})")
        rows.append(cells)
    table(rows)


def table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--window", type=int, default=10, help="burst: most jobs at once")
    parser.add_argument("--reps", type=int, default=3, help="hdfs: repetitions per file")
    parser.add_argument("--parts", default="latency,hdfs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    root = Path(tempfile.mkdtemp(prefix="aiflow-yarn-bench-"))
    os.environ["AIFLOW_HOME"] = str(root / "home")  # no user config file leaks in
    began = time.monotonic()
    cluster = start_hadoop(root / "hadoop", nodemanagers=2)
    try:
        point_at(cluster, MEMORY)
        print(describe(cluster, MEMORY) + f" (started in {time.monotonic() - began:.1f} s)")
        if "latency" in parts:
            latency(cluster, root / "jobs", args.jobs, args.window)
        if "hdfs" in parts:
            scratch = root / "scratch"
            scratch.mkdir()
            print_throughput([throughput(mb, args.reps, scratch) for mb in SIZES_MB], args.reps)
    finally:
        cluster.stop()
        if args.keep:
            print(f"work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nbenchmark took {time.monotonic() - began:.0f} s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
