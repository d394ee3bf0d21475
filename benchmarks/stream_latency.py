"""Stream record latency: a record produced -> its output written, on local and Flink stream jobs.

    .venv/bin/python benchmarks/stream_latency.py
        [--paths local-files,flink-files,flink-kafka] [--records 200] [--rate 20]
        [--poll S] [--checkpoint-interval S] [--start-timeout 300] [--drain-timeout 60] [--keep]

Each path runs a real stream workflow, one at a time, in a private temporary ``AIFLOW_HOME``
(SQLite meta store, local deployer, detached as ``aiflow run --mode stream --detach``):
``read_example`` (stream) -> ``transform`` (a trivial transformer that carries the record id
through and stamps ``processed_at``, when the user's code saw the record) -> ``write_example``
(stream), on the path's engine ("local", or "flink" on its embedded mini-cluster) and with
its exactly-once sink as the engine implements it:

* ``*-files``: a directory of csv files in, csv part files out (local: a micro-batch per file,
  committed in the meta store's ledger; Flink: parts committed on checkpoints, then turned into
  the output directory's files by the job process);
* ``*-kafka``: a topic of JSON messages in, a topic out (Flink: Kafka transactions committed on
  checkpoints). The broker is a single KRaft node from the pinned Maven jars, started as the
  tests do (``tests/fixtures_kafka.py`` through ``_flinkbench.kafka_broker``) before the first
  Kafka path and stopped at the end. The local engine refuses ``kafka://`` examples: that path
  reports the engine's own message.

A producer thread writes one record at a time: a small file (written under a dot-name, then
renamed into the watched directory) or one Kafka message, stamping when it was produced (the
file renamed into place; the message handed to the Kafka producer, acks=all, no linger). A
watcher thread notes when each record id is first seen: a new part file in the output
directory (looked for every 10 ms), or a record a ``read_committed`` consumer receives.
Latency = seen - produced. Warm-up: one record a second until the first output appears (job
start-up is not stream latency), then ``--records`` records at ``--rate`` a second, measured.
Then the benchmark waits until every record produced (warm-up too) came out, or nothing new
came for ``--drain-timeout`` s, watches one checkpoint interval more for duplicates, and stops
the execution. lost = produced, never seen; dup = copies beyond the first.

Settings: ``--poll`` sets ``stream.poll_interval`` (the local source's directory scan; Flink's
file monitor, at least 100 ms, and the job process's turn of committed parts into files), and
``--checkpoint-interval`` sets ``flink.checkpoint_interval`` and
``flink.kafka_checkpoint_interval``; left out, aiflow's defaults apply (0.2 s; 5 s for jobs
writing files, 0.5 s for jobs whose outputs are all Kafka topics). The table shows the values
used. Warm job workers share no zygote and Flink jobs launch their own gateway JVM
(``scheduler.warm_shared_idle = 0``, ``flink.warm_gateways = 0``): both only change start-up,
which is not measured, and this way nothing the benchmark started outlives it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _flinkbench as fb
from _stream_latency_io import (
    DirectoryWatcher,
    FileSource,
    KafkaSource,
    Ledger,
    Producer,
    Source,
    TopicWatcher,
    Watcher,
)
from flink_throughput import _interrupt, submit

PATHS = ("local-files", "local-kafka", "flink-files", "flink-kafka")
DEFAULT_PATHS = ("local-files", "flink-files", "flink-kafka")  # local-kafka: the engine refuses
GOAL_MS = {"local": 200, "flink": 500}  # p50, the goal per engine
WATCH_INTERVAL = 0.01  # s between looks at an output directory

WORKFLOW = """\
import time

import aiflow as af


class Stamp(af.Transformer):
    \"\"\"Carries the record id through; stamps when the user's code saw the record.\"\"\"

    output_schema = {{"rid": "bigint", "produced_at": "double", "y": "double",
                     "processed_at": "double"}}

    def transform(self, batch):
        out = batch[["rid", "produced_at"]].copy()
        out["y"] = batch["x"] * 2
        out["processed_at"] = time.time()
        return out


events = af.Example("events", schema={{"rid": "bigint", "x": "double", "produced_at": "double"}},
                    format={fmt!r}, stream_uri={source!r})

with af.workflow({name!r}) as wf:
    stamped = af.transform(af.read_example(events), Stamp())
    af.write_example(stamped, af.Example("stamped", format={fmt!r}, stream_uri={out!r}))
"""


@dataclass
class Result:
    path: str
    poll: float
    checkpoint: float | None  # Flink only
    ledger: Ledger = field(default_factory=Ledger)
    warmup: int = 0
    first_output: float | None = None  # s from submission
    took: float = 0.0  # s, the whole path
    skipped: str = ""  # why the path did not run
    error: str = ""

    @property
    def engine(self) -> str:
        return self.path.split("-")[0]

    def latencies(self) -> list[float]:
        led = self.ledger
        return [led.seen[r] - led.produced[r] for r in led.measured if r in led.seen]

    def between(self, start: dict[int, float], end: dict[int, float]) -> list[float]:
        return [end[r] - start[r] for r in self.ledger.measured if r in start and r in end]


def workflow(work: Path, path: str, source: str, out: str) -> Any:
    from aiflow.translators.usercode import load_workflow_file

    fmt = "json" if path.endswith("kafka") else "csv"
    flow = work / "flow.py"
    flow.write_text(
        WORKFLOW.format(fmt=fmt, source=source, out=out, name=f"latency_{path.replace('-', '_')}")
    )
    return load_workflow_file(flow).wf


def ends(path: str, work: Path, ledger: Ledger, broker: Any) -> tuple[Source, Watcher, str, str]:
    """The path's producer side, watcher and the workflow's source and sink URIs."""
    if path.endswith("files"):
        source_dir, out_dir = work / "in", work / "out"
        watcher = DirectoryWatcher(out_dir, ledger, WATCH_INTERVAL)
        return FileSource(source_dir), watcher, f"{source_dir}/", f"{out_dir}/"
    source_topic = broker.create_topic(f"{path}.events")
    out_topic = broker.create_topic(f"{path}.stamped")
    base = f"kafka://{broker.bootstrap}"
    return (
        KafkaSource(broker.bootstrap, source_topic, ledger),
        TopicWatcher(broker.bootstrap, out_topic, ledger),
        f"{base}/{source_topic}",
        f"{base}/{out_topic}",
    )


def new_result(path: str) -> Result:
    """The path's result, with the settings its job runs with."""
    from aiflow.config import get_settings
    from aiflow.translators.flink.settings import flink_settings

    settings = get_settings()
    flink = path.startswith("flink")
    flink_conf = flink_settings(settings)
    kafka = path.endswith("kafka")  # every output a topic: the job's Kafka interval
    checkpoint = None
    if flink:
        checkpoint = flink_conf.checkpoint_interval
        checkpoint = flink_conf.kafka_checkpoint_interval if kafka else checkpoint
    return Result(path, settings.stream.poll_interval, checkpoint)


def run_path(store: Any, home: Path, path: str, broker: Any, args: argparse.Namespace) -> Result:
    result = new_result(path)
    work = home / "runs" / path
    work.mkdir(parents=True)
    try:
        source, watcher, source_uri, out_uri = ends(path, work, result.ledger, broker)
        wf = workflow(work, path, source_uri, out_uri)
    except Exception as exc:  # a topic that could not be created, ...
        result.error = f"set-up: {type(exc).__name__}: {exc}"
        return result
    producer = Producer(source, result.ledger, args.records, args.rate)
    watcher.start()
    began = time.monotonic()
    execution = None
    try:
        try:
            execution, t0 = submit(wf, "stream", result.engine, work / "jvm-log")
        except Exception as exc:  # e.g. the local engine refusing a kafka:// example
            result.skipped = f"{type(exc).__name__}: {exc}"
            return result
        producer.start()
        while not watcher.first_output.wait(0.2):
            check(store, execution.id, producer, watcher)
            if time.monotonic() - began > args.start_timeout:
                raise RuntimeError(f"no output {args.start_timeout:.0f} s after submission")
        result.first_output = time.time() - t0
        producer.measure.set()
        print(f"  {path}: first output {result.first_output:.1f} s after submission", flush=True)
        while not producer.done.wait(0.2):
            check(store, execution.id, producer, watcher)
        source.close()
        drain(store, execution.id, producer, watcher, result.ledger, args.drain_timeout)
        # one checkpoint interval (or poll) more: a late copy would be a duplicate
        time.sleep(max(result.checkpoint or 0.0, result.poll, 1.0))
    except RuntimeError as exc:
        logs = [str(j.log_uri) for j in store.list_jobs(execution.id)] if execution else []
        result.error = f"{exc}; job logs: {', '.join(logs)}"
    finally:
        producer.stop.set()
        producer.measure.set()
        if producer.is_alive():
            producer.join(10)
        with contextlib.suppress(Exception):
            source.close()  # closed already unless something failed
        if execution is not None:
            fb.stop_execution(store, execution.id, wait=120)
        watcher.stop.set()
        watcher.join(10)
        result.warmup = producer.warmup
        result.took = time.monotonic() - began
    return result


def check(store: Any, execution_id: int, producer: Producer, watcher: Watcher) -> None:
    """Raise RuntimeError when the execution ended or a thread failed."""
    for thread in (producer, watcher):
        if thread.error is not None:
            raise RuntimeError(f"{type(thread).__name__}: {thread.error!r}")
    execution = store.get_execution(execution_id)
    if execution.status.finished:
        raise RuntimeError(f"execution {execution_id} {execution.status.value}: {execution.error}")


def drain(
    store: Any,
    execution_id: int,
    producer: Producer,
    watcher: Watcher,
    ledger: Ledger,
    quiet: float,
) -> None:
    """Until every record produced was seen, or nothing new came for ``quiet`` seconds."""
    last, last_change = ledger.missing(), time.monotonic()
    while last and time.monotonic() - last_change < quiet:
        time.sleep(0.1)
        check(store, execution_id, producer, watcher)
        if ledger.missing() != last:
            last, last_change = ledger.missing(), time.monotonic()


# -- report -------------------------------------------------------------------------------------


def ms(values: list[float], q: float) -> str:
    return f"{1000 * fb.pct(values, q):.0f}" if values else "-"


def report(results: list[Result], args: argparse.Namespace, kafka_note: str) -> None:
    print(f"\n{fb.machine_line()}")
    print(
        f"{args.records} records at {args.rate:g}/s per path, after warm-up; latency = produced "
        "(file renamed into place / message handed to the producer) -> first seen in the sink "
        "(part file / read_committed consumer)\n"
    )
    header = (
        "| path        | poll s | ckpt s | produced | seen | lost | dup | p50 ms | p95 ms "
        "| p99 ms | max ms | goal p50       | took s |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    for r in results:
        ckpt = "-" if r.checkpoint is None else f"{r.checkpoint:g}"
        head = f"| {r.path:<11} | {r.poll:>6g} | {ckpt:>6} |"
        if r.skipped or (r.error and not r.ledger.seen):
            print(f"{head} not run: {r.skipped or r.error}")
            continue
        led, lat = r.ledger, r.latencies()
        goal = GOAL_MS[r.engine]
        verdict = "-" if not lat else "met" if 1000 * fb.pct(lat, 0.5) <= goal else "missed"
        print(
            f"{head} {len(led.produced):>8} | {len(led.seen):>4} | {led.missing():>4} "
            f"| {led.duplicated():>3} | {ms(lat, 0.5):>6} | {ms(lat, 0.95):>6} "
            f"| {ms(lat, 0.99):>6} | {ms(lat, 1.0):>6} | {f'<= {goal}: {verdict}':<14} "
            f"| {r.took:>6.0f} |"
        )
    print(
        "\nproduced counts the warm-up records too (lost/dup cover them); latency is over the "
        "measured records; goal: p50 <= 200 ms local, <= 500 ms Flink; took = submission -> "
        "stopped"
    )
    if kafka_note:
        print(kafka_note)
    for r in results:
        if r.skipped:
            continue
        if r.error:
            print(f"{r.path}: FAILED {r.error}")
        if not r.ledger.seen:
            continue
        led = r.ledger
        parts = [
            f"first output {r.first_output:.1f} s after submission ({r.warmup} warm-up records)"
            if r.first_output is not None
            else "no output",
            f"produced -> processed (transformer) p50/p99 "
            f"{ms(r.between(led.produced, led.processed), 0.5)}/"
            f"{ms(r.between(led.produced, led.processed), 0.99)} ms",
            f"processed -> seen {ms(r.between(led.processed, led.seen), 0.5)}/"
            f"{ms(r.between(led.processed, led.seen), 0.99)} ms",
        ]
        if led.written:
            parts.append(
                f"part written (mtime) -> seen p50 {ms(r.between(led.written, led.seen), 0.5)} ms"
            )
        if led.acked:
            parts.append(
                f"produced -> broker ack p50 {ms(r.between(led.produced, led.acked), 0.5)} ms"
            )
        print(f"{r.path}: " + "; ".join(parts))


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default=",".join(DEFAULT_PATHS), help="of: " + ", ".join(PATHS))
    parser.add_argument("--records", type=int, default=200, help="measured records per path")
    parser.add_argument("--rate", type=float, default=20.0, help="records per second")
    parser.add_argument("--poll", type=float, help="stream.poll_interval, s (default aiflow's)")
    parser.add_argument(
        "--checkpoint-interval", type=float, help="flink.checkpoint_interval, s (default aiflow's)"
    )
    parser.add_argument("--start-timeout", type=float, default=300.0, help="s to first output")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="s without news")
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIFLOW_HOME")
    args = parser.parse_args()
    paths = fb.chosen_paths(parser, args.paths, PATHS)
    if args.records < 1 or args.rate <= 0:
        parser.error("--records and --rate must be positive")

    signal.signal(signal.SIGTERM, _interrupt)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-stream-latency-"))
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in
    os.environ["AIFLOW_HOME"] = str(home)
    os.environ["AIFLOW__SCHEDULER__WARM_SHARED_IDLE"] = "0"  # no zygote outliving the run
    os.environ["AIFLOW__FLINK__WARM_GATEWAYS"] = "0"  # no gateway pool outliving the run
    if args.poll is not None:
        os.environ["AIFLOW__STREAM__POLL_INTERVAL"] = str(args.poll)
    if args.checkpoint_interval is not None:
        os.environ["AIFLOW__FLINK__CHECKPOINT_INTERVAL"] = str(args.checkpoint_interval)
        os.environ["AIFLOW__FLINK__KAFKA_CHECKPOINT_INTERVAL"] = str(args.checkpoint_interval)
    print(fb.machine_line(), flush=True)

    from aiflow.config import reset_settings
    from aiflow.store.sql_store import MetaStore

    reset_settings()
    store = MetaStore()
    results: list[Result] = []
    kafka_note = ""
    broker: Any = None
    with contextlib.ExitStack() as stack:
        try:
            for path in paths:
                if path.endswith("kafka") and broker is None and not kafka_note:
                    broker, kafka_note = start_kafka(stack, home)
                if path.endswith("kafka") and broker is None:
                    results.append(new_result(path))
                    results[-1].skipped = "no Kafka broker (see above)"
                    continue
                results.append(run_path(store, home, path, broker, args))
                print(
                    f"  {path}: {results[-1].took:.0f} s, load {os.getloadavg()[0]:.2f}"
                    + (f"  FAILED {results[-1].error}" if results[-1].error else ""),
                    flush=True,
                )
        finally:
            for execution in store.list_executions(limit=1000):
                fb.stop_execution(store, execution.id)
            stack.close()  # the broker
            report(results, args, kafka_note)
            if args.keep:
                print(f"kept {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)


def start_kafka(stack: contextlib.ExitStack, home: Path) -> tuple[Any, str]:
    """(the broker, "") or (None, why it could not start): the file paths still run."""
    began = time.monotonic()
    try:
        broker = stack.enter_context(fb.kafka_broker(home / "kafka"))
    except (Exception, SystemExit) as exc:
        note = f"KAFKA NOT AVAILABLE, Kafka paths skipped: {type(exc).__name__}: {exc}"
        print(note, flush=True)
        return None, note
    print(f"Kafka broker {broker.bootstrap} up in {time.monotonic() - began:.1f} s", flush=True)
    return broker, ""


if __name__ == "__main__":
    main()
