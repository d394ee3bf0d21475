"""Throughput of the wine example's per-record chain: local batch, Flink batch, Flink stream.

    .venv/bin/python benchmarks/flink_throughput.py [--rows 1000000] [--paths local,flink,kafka]
        [--calibration-rows 1000] [--checkpoint-interval 2] [--pause 90] [--timeout 3600]
        [--repeat 1] [--keep]

In a private temporary ``AIFLOW_HOME``:

1. the shipped example's data (``examples/wine/prepare_data.py``) and one batch run of the
   example itself (``examples/wine/workflow.py``, copied) on the local engine: model
   ``wine_sgd`` version 1, the serving version from then on;
2. ``--rows`` wine-like records: the example's 140 rows drawn with replacement plus Gaussian
   noise (5 % of each feature's standard deviation), as a csv file and as JSON records;
3. one workflow, ``read_example -> transform(AddRatios) -> predict(af.Model("wine_sgd")) ->
   write_example`` (the example's transformer imported from the copied example, the default
   predictor on the serving version), run on each path, one at a time:

   * ``local``: local engine, batch, csv file in -> csv file out;
   * ``flink``: flink engine, batch, embedded mini-cluster, csv file in -> csv file out (Flink
     writes the csv rows, the job process puts the header before them: part of the path, so
     timed);
   * ``kafka``: flink engine, stream, embedded mini-cluster, from a Kafka topic holding all
     the records as JSON (produced before the job starts) to another topic (exactly-once:
     records become visible when a checkpoint commits, every ``--checkpoint-interval`` s). The
     broker is a single KRaft node from the pinned Maven jars, started as the test fixture
     does. The job is stopped once every record came out.

Per path, ``wall`` = submission (``af.run(..., detach=True)``) -> last record written (the
output file's mtime; for Kafka, when a read_committed consumer had seen them all), and
records/s = rows / wall. The fixed cost (process and JVM start, planning, model load, ...) is
measured by running the same path on ``--calibration-rows`` rows first (its wall time), so
``excl. fixed`` = (rows - calibration rows) / (wall - calibration wall). ``CPU`` is the CPU
time of the job process and everything it started (JVM, Python workers), sampled from /proc:
unlike wall time it does not grow when other work shares the machine. Outputs are checked:
row count, and the predictions' accuracy against the labels.

Flink batch runs as a job started a while after the previous one does: one uncounted run first
starts the gateway pool, and each counted run waits until the pool has a warm spare JVM (at most
``--pause`` s), so it adopts one (``flink.warm_gateways``) instead of racing the spare's warm-up
on the same cores (``--pause 0``: back to back). Each run says which JVM it had.

``--repeat N`` runs the local and flink paths N times each (a calibration and a big run each
time) and prints every run and, per path, the median of their ``excl. fixed`` rates: on this
2-core VM one run's rate moves by ~15 % from one minute to the next.

Limits, measured in the same run on the same ``--rows`` csv file, before any path runs (in the
benchmark's own process, best of three; a Flink path's gateway pool may warm a spare JVM
later): ``pyarrow read`` = ``pyarrow.csv.read_csv`` of the file into a table (what reading alone
costs in C); ``numpy model`` = the serving version's weights applied by numpy (AddRatios'
column, the scaler folded into the linear model, one matmul and an argmax over the same rows);
``limit`` = both in sequence. Each path prints the fraction of ``limit`` its
``excl. fixed`` rate reaches (the rest is writing, pandas frames and the user's code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _flinkbench as fb

PATHS = {
    "local": "local engine, batch (csv -> csv)",
    "flink": "flink batch, mini-cluster (csv -> csv)",
    "kafka": "flink stream, mini-cluster (Kafka -> Kafka)",
}

WORKFLOW = """\
import aiflow as af
from wine_example import FEATURES, AddRatios  # the shipped example's transformer

rows = af.Example("wine_rows", schema={{**FEATURES, "label": "int"}}, format={fmt!r},
                  batch_uri={source!r}, stream_uri={stream_source!r})

with af.workflow({name!r}) as wf:
    feats = af.transform(af.read_example(rows), AddRatios())
    preds = af.predict(feats, af.Model("wine_sgd"))  # the serving version
    af.write_example(preds, af.Example("wine_scored", format={fmt!r}, batch_uri={out!r},
                                       stream_uri={stream_out!r}))
"""


@dataclass
class Run:
    rows: int
    wall: float  # submission -> last record written
    cpu: float
    checked: str = ""
    detail: dict[str, float] = field(default_factory=dict)  # label -> seconds from submission
    notes: list[str] = field(default_factory=list)
    pool: str | None = None  # the gateway pool's socket (flink)


@dataclass
class Result:
    path: str
    big: Run
    small: Run
    run: int = 1  # which of --repeat runs

    @property
    def rate(self) -> float:
        return self.big.rows / self.big.wall

    @property
    def marginal(self) -> float | None:
        """Records/s beyond the fixed cost; None when the two runs' difference is too small
        to tell from noise (a small --rows: wall times move by ~0.1 s from run to run)."""
        extra = self.big.wall - self.small.wall
        return (self.big.rows - self.small.rows) / extra if extra >= 0.5 else None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def write_workflow(project: Path, file: str, **values: Any) -> Any:
    from aiflow.translators.usercode import load_workflow_file

    values.setdefault("stream_source", None)
    values.setdefault("stream_out", None)
    (project / file).write_text(WORKFLOW.format(**values))
    return load_workflow_file(project / file).wf


def submit(wf: Any, mode: str, engine: str, log_dir: Path) -> tuple[Any, float]:
    import aiflow as af

    fb.jvm_logs_to(log_dir)  # the job process's JVM (and mini-cluster) log
    t0 = time.time()
    execution = af.run(wf, mode=mode, engine=engine, detach=True, progress=False)
    assert execution is not None
    return execution, t0


def batch_run(
    store: Any, wf: Any, engine: str, rows: int, out: Path, work: Path, timeout: float
) -> Run:
    out.unlink(missing_ok=True)
    execution, t0 = submit(wf, "batch", engine, work / "jvm-log")
    try:
        with fb.CpuSampler(store, execution.id) as cpu:
            done = fb.wait_execution(store, execution.id, timeout)
    finally:
        fb.stop_execution(store, execution.id)
    if done.status.value != "succeeded":
        logs = [j.log_uri for j in store.list_jobs(execution.id)]
        raise SystemExit(f"execution {execution.id} {done.status.value}: {done.error}; {logs}")
    run = Run(rows, out.stat().st_mtime - t0, cpu.seconds, checked=check_csv(out, rows))
    [job] = store.list_jobs(execution.id)
    run.detail = job_points(job, t0)
    if engine == "flink":
        flink = ((job.result or {}).get("engine") or {}).get("flink") or {}
        run.pool = flink.get("gateway_pool")
        run.checked += f", {flink.get('gateway', '?')} JVM"
        events = fb.gateway_events(work / "jvm-log", fb.flink_job_id(job))
        run.detail.update(flink_points(events, t0))
        if "finished" in events and "task_running" in events:
            run.detail["FINISHED"] = events["finished"] - t0
            inside = events["finished"] - events["task_running"]
            run.notes.append(
                f"inside Flink (first task RUNNING -> FINISHED, {inside:.1f} s): "
                f"{rows / inside:,.0f} records/s; then the job process joins the staged "
                f"csv parts into the output file: {run.wall - run.detail['FINISHED']:.1f} s"
            )
    run.detail["csv written"] = run.wall
    return run


def job_points(job: Any, t0: float) -> dict[str, float]:
    points = {}
    if job.started_at is not None:
        points["job process launched"] = job.started_at.timestamp() - t0
    up = fb.job_log_start(str(job.log_uri).removeprefix("file://"))
    if up is not None:
        points["runtime up"] = up - t0
    return points


def flink_points(events: dict[str, float], t0: float) -> dict[str, float]:
    names = {"running": "Flink job RUNNING", "task_running": "first task RUNNING"}
    return {label: events[key] - t0 for key, label in names.items() if key in events}


def check_csv(path: Path, rows: int) -> str:
    import pandas as pd

    frame = pd.read_csv(path, usecols=["label", "prediction"])
    if len(frame) != rows:
        raise SystemExit(f"{path} has {len(frame)} rows, expected {rows}")
    return f"{len(frame)} rows, accuracy {(frame['prediction'] == frame['label']).mean():.3f}"


class Counter(threading.Thread):
    """Counts the records of ``topic`` a read_committed consumer sees (what an exactly-once
    sink has committed), noting when the first and the ``expected``-th arrived."""

    def __init__(self, bootstrap: str, topic: str, expected: int) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.expected = expected
        self.count = 0
        self.first: float | None = None
        self.first_count = 0
        self.last: float | None = None
        self.sample: list[bytes] = []
        self.done = threading.Event()
        self.stop = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-count-{topic}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                messages = self.consumer.consume(num_messages=10_000, timeout=0.2)
                now = time.time()
                good = [m for m in messages if m.error() is None]
                if not good:
                    continue
                if self.first is None:
                    self.first, self.first_count = now, len(good)
                if len(self.sample) < 1000:
                    self.sample += [m.value() or b"" for m in good[: 1000 - len(self.sample)]]
                self.count += len(good)
                self.last = now
                if self.count >= self.expected:
                    self.done.set()
        finally:
            self.consumer.close()


def produce(bootstrap: str, topic: str, lines: list[str]) -> float:
    """Send the records (batched, acks=all); seconds it took. Checks the topic then holds
    exactly that many."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    began = time.monotonic()
    for line in lines:
        while True:
            try:
                producer.produce(topic, line.encode())
                break
            except BufferError:
                producer.poll(0.05)
    left = producer.flush(300)
    took = time.monotonic() - began
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-check"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    finally:
        consumer.close()
    if left or high - low != len(lines):
        raise SystemExit(f"topic {topic} holds {high - low} records, expected {len(lines)}")
    return took


def kafka_run(
    store: Any, wf: Any, broker: Any, out: str, rows: int, work: Path, timeout: float
) -> Run:
    import json

    counter = Counter(broker.bootstrap, out, rows)
    counter.start()
    execution, t0 = submit(wf, "stream", "flink", work / "jvm-log")
    try:
        with fb.CpuSampler(store, execution.id) as cpu:
            deadline = time.monotonic() + timeout
            while not counter.done.wait(0.5):
                state = store.get_execution(execution.id)
                if state.status.finished:
                    raise SystemExit(f"stream execution {execution.id} ended: {state.error}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"{counter.count} of {rows} records out after {timeout} s")
    finally:
        fb.stop_execution(store, execution.id, wait=120)
    time.sleep(2.0)  # anything beyond the expected count would be a duplicate
    counter.stop.set()
    counter.join()
    assert counter.first is not None and counter.last is not None
    records = [json.loads(v) for v in counter.sample]
    right = sum(r["prediction"] == r["label"] for r in records)
    checked = f"{counter.count} records, accuracy {right / max(len(records), 1):.3f} (first 1000)"
    if counter.count != rows:
        checked += f"  !! expected {rows}"
    [job] = store.list_jobs(execution.id)
    events = fb.gateway_events(work / "jvm-log", fb.flink_job_id(job))
    run = Run(rows, counter.last - t0, cpu.seconds, checked=checked)
    run.detail = {**job_points(job, t0), **flink_points(events, t0)}
    run.detail["first records committed"] = counter.first - t0
    run.detail["all committed"] = run.wall
    between = counter.last - counter.first
    if between > 0:
        run.notes.append(
            f"between the first commit ({counter.first_count:,} records) and the last: "
            f"{(counter.count - counter.first_count) / between:,.0f} records/s"
        )
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calibration-rows", type=int, default=1000)
    parser.add_argument("--paths", default="local,flink,kafka", help="of: " + ", ".join(PATHS))
    parser.add_argument("--checkpoint-interval", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    parser.add_argument(
        "--pause",
        type=float,
        default=90.0,
        help="flink batch: at most this many seconds before each run, after an uncounted first "
        "one, waiting for the gateway pool to have a warm spare JVM (as a job started a while "
        "after the last one finds); 0: none",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs (a calibration and a big one each) of the local and flink paths; the table "
        "gives each run and the median of their rates (this VM's runs vary by ~15 %%)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIFLOW_HOME")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    paths = fb.chosen_paths(parser, args.paths, PATHS)
    small_rows = min(args.calibration_rows, args.rows)
    signal.signal(signal.SIGTERM, _interrupt)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-flink-throughput-"))
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in
    os.environ["AIFLOW_HOME"] = str(home)
    os.environ["AIFLOW__FLINK__CHECKPOINT_INTERVAL"] = str(args.checkpoint_interval)
    print(fb.machine_line(), flush=True)
    print(f"rows: {args.rows:,} (calibration runs: {small_rows:,})", flush=True)

    import aiflow as af
    from aiflow.config import reset_settings
    from aiflow.store.sql_store import MetaStore
    from aiflow.translators.usercode import load_workflow_file

    reset_settings()
    store = MetaStore()
    project, data = home / "project", home / "data"
    project.mkdir()
    data.mkdir()
    shutil.copy(fb.WINE_EXAMPLE / "workflow.py", project / "wine_example.py")
    wine_csv = fb.prepare_wine(project / "data")  # data/wine.csv, as the example expects
    began = time.monotonic()
    example = load_workflow_file(project / "wine_example.py").wf
    af.run(example, mode="batch", engine="local", progress=False)
    version = store.serving_version("wine_sgd")
    assert version is not None
    print(f"trained wine_sgd version {version.version} in {time.monotonic() - began:.1f} s")

    began = time.monotonic()
    frame = fb.wine_rows(wine_csv, args.rows)
    sizes = {"big": args.rows, "small": small_rows}
    csv_files = {}
    for size, n in sizes.items():
        csv_files[size] = data / f"rows_{size}.csv"
        frame.head(n).to_csv(csv_files[size], index=False)
    print(f"generated {args.rows:,} rows in {time.monotonic() - began:.1f} s", flush=True)
    # first: later, a Flink path's gateway pool may be warming a spare JVM on the same cores
    limit = measure_limits(store, csv_files["big"], args.rows)

    results: list[Result] = []
    try:
        for path in paths:
            if path == "kafka":
                results.append(kafka_path(store, project, data, home, frame, sizes, args))
                continue
            warmed, pool = False, None
            for run in range(1, args.repeat + 1):
                runs = {}
                for size in ("small", "big"):
                    out = home / "out" / f"{path}_{size}.csv"
                    wf = write_workflow(
                        project,
                        f"flow_{size}.py",
                        name=f"wine_throughput_{size}",
                        fmt="csv",
                        source=str(csv_files[size]),
                        out=str(out),
                    )
                    engine = "flink" if path == "flink" else "local"
                    if engine == "flink" and args.pause > 0:
                        if not warmed:  # uncounted: starts the gateway pool
                            warm = home / "runs" / f"{path}_warm-up"
                            pool = batch_run(
                                store, wf, engine, sizes[size], out, warm, args.timeout
                            ).pool
                            warmed = True
                        waited = fb.wait_for_spare(pool, args.pause)
                        print(f"  waited {waited:.1f} s for a warm spare JVM", flush=True)
                    work = home / "runs" / f"{path}_{size}_{run}"
                    runs[size] = batch_run(store, wf, engine, sizes[size], out, work, args.timeout)
                    wall, checked = runs[size].wall, runs[size].checked
                    print(f"  {path} {size} #{run}: {wall:.1f} s, {checked}", flush=True)
                results.append(Result(path, runs["big"], runs["small"], run))
    finally:
        for execution in store.list_executions(limit=1000):
            fb.stop_execution(store, execution.id)

    report(results, args.rows, small_rows, limit)
    if args.keep:
        print(f"kept {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)


def kafka_path(
    store: Any,
    project: Path,
    data: Path,
    home: Path,
    frame: Any,
    sizes: dict[str, int],
    args: argparse.Namespace,
) -> Result:
    began = time.monotonic()
    lines = frame.to_json(orient="records", lines=True).splitlines()
    sample = data / "sample.json"  # the batch view: Flink infers predict()'s output types from it
    sample.write_text("\n".join(lines[:100]) + "\n")
    runs = {}
    with fb.kafka_broker(home / "kafka") as broker:
        print(f"Kafka broker {broker.bootstrap} up in {time.monotonic() - began:.1f} s")
        for size in ("small", "big"):
            source, out = broker.create_topic(f"rows_{size}"), broker.create_topic(f"scored_{size}")
            took = produce(broker.bootstrap, source, lines[: sizes[size]])
            print(
                f"  produced {sizes[size]:,} JSON records to {source} in {took:.1f} s",
                flush=True,
            )
            base = f"kafka://{broker.bootstrap}"
            wf = write_workflow(
                project,
                f"flow_stream_{size}.py",
                name=f"wine_throughput_stream_{size}",
                fmt="json",
                source=str(sample),
                stream_source=f"{base}/{source}",
                out=str(home / "out" / f"unused_{size}.json"),
                stream_out=f"{base}/{out}",
            )
            work = home / "runs" / f"kafka_{size}"
            runs[size] = kafka_run(store, wf, broker, out, sizes[size], work, args.timeout)
            print(f"  kafka {size}: {runs[size].wall:.1f} s, {runs[size].checked}", flush=True)
    return Result("kafka", runs["big"], runs["small"])


@dataclass
class Limits:
    read: float  # seconds: pyarrow.csv.read_csv of the rows
    model: float  # seconds: the model's weights applied by numpy to the same rows
    read_cpu: float
    model_cpu: float
    rows: int

    @property
    def rate(self) -> float:
        return self.rows / (self.read + self.model)


def measure_limits(store: Any, csv_file: Path, rows: int) -> Limits:
    """What the path's work costs with nothing but pyarrow and numpy (best of three)."""
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pcsv

    from aiflow.store.artifacts import load_model

    version = store.serving_version("wine_sgd")
    model = load_model(version.artifact_uri, checksum=version.checksum)
    scaler, clf = model[0], model[-1]
    weights = clf.coef_ / scaler.scale_  # the scaler folded into the linear model
    bias = clf.intercept_ - weights @ scaler.mean_
    names = list(model.feature_names_in_)

    def timed(work: Any) -> tuple[float, float, Any]:
        best = (float("inf"), float("inf"), None)
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            out = work()
            took = (time.perf_counter() - wall, time.process_time() - cpu, out)
            best = min(best, took, key=lambda t: t[0])
        return best

    read, read_cpu, table = timed(lambda: pcsv.read_csv(csv_file))
    columns = {n: table.column(n).to_numpy() for n in table.column_names}
    columns["phenol_ratio"] = columns["flavanoids"] / (columns["total_phenols"] + 1e-6)
    x = np.column_stack([columns[n] for n in names])

    def apply() -> Any:
        return clf.classes_[np.argmax(x @ weights.T + bias, axis=1)]

    model_s, model_cpu, predicted = timed(apply)
    check = model.predict(pd.DataFrame(x, columns=names))
    assert (predicted == check).mean() > 0.999, "the folded weights predict otherwise"
    print(
        f"limits: pyarrow read {read:.2f} s ({rows / read:,.0f} records/s, CPU {read_cpu:.2f} s), "
        f"numpy model {model_s:.2f} s ({rows / model_s:,.0f} records/s, CPU {model_cpu:.2f} s)",
        flush=True,
    )
    return Limits(read, model_s, read_cpu, model_cpu, rows)


def report(results: list[Result], rows: int, small_rows: int, limit: Limits) -> None:
    print(f"\n{fb.machine_line()}")
    print(
        f"{rows:,} rows: read -> AddRatios -> predict (wine_sgd, serving version) -> write; "
        f"fixed cost = wall time of a {small_rows:,}-row run of the same path\n"
    )
    header = (
        f"| {'path':<44} | {'wall s':>7} | {'records/s':>9} | {'fixed s':>7} "
        f"| {'rec/s excl. fixed':>17} | {'CPU s':>6} | {'CPU us/rec':>10} |"
    )
    header = header + f" {'of limit':>8} |"
    print(header)
    print("|" + "|".join("-" * (len(c) + 0) for c in header.split("|")[1:-1]) + "|")
    repeated = any(r.run > 1 for r in results)
    for r in results:
        marginal = "n/a (< 0.5 s apart)" if r.marginal is None else f"{r.marginal:,.0f}"
        share = "n/a" if r.marginal is None else f"{r.marginal / limit.rate:.0%}"
        label = f"{PATHS[r.path]} #{r.run}" if repeated and r.path != "kafka" else PATHS[r.path]
        print(
            f"| {label:<44} | {r.big.wall:7.1f} | {r.rate:9,.0f} | {r.small.wall:7.1f} "
            f"| {marginal:>17} | {r.big.cpu:6.1f} | {r.big.cpu / r.big.rows * 1e6:10.1f} "
            f"| {share:>8} |"
        )
    cpu = limit.read_cpu + limit.model_cpu
    print(
        f"| {'limit: pyarrow read + numpy model':<44} | {limit.read + limit.model:7.1f} "
        f"| {limit.rate:9,.0f} | {'':>7} | {limit.rate:17,.0f} | {cpu:6.1f} "
        f"| {cpu / limit.rows * 1e6:10.1f} | {'100%':>8} |"
    )
    print()
    for path in dict.fromkeys(r.path for r in results if repeated and r.path != "kafka"):
        rates = [r.marginal for r in results if r.path == path and r.marginal is not None]
        if rates:
            listed = " / ".join(f"{rate:,.0f}" for rate in rates)
            median = statistics.median(rates)
            print(f"{path}: median rec/s excl. fixed {median:,.0f} ({listed})")
    for r in results:
        print(f"{r.path}{f' #{r.run}' if repeated else ''}: {r.big.checked}")
        extra_cpu = r.big.cpu - r.small.cpu  # the fixed cost's CPU is the small run's
        print(
            f"  CPU beyond the fixed cost: {extra_cpu:.1f} s, "
            f"{extra_cpu / (r.big.rows - r.small.rows) * 1e6:.2f} us/record "
            f"(limit: {(limit.read_cpu + limit.model_cpu) / limit.rows * 1e6:.2f})"
        )
        points = sorted(r.big.detail.items(), key=lambda kv: kv[1])
        print("  s from submission: " + ", ".join(f"{k} {v:.1f}" for k, v in points))
        for note in r.big.notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
