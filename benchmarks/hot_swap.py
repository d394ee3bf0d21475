"""Hot-swap latency: the alias ``deployed`` moves -> the first prediction made by the new version,
on ``aiflow serve``, on a local-engine stream predict job and on a Flink stream predict job.

    .venv/bin/python benchmarks/hot_swap.py [--peers service,local,flink] [--polls default,0.05]
        [--switches 20] [--checkpoint-interval 1] [--keep]

Everything runs in a private ``AIFLOW_HOME`` (SQLite meta store). Each peer runs once per
``--polls`` setting: ``default`` leaves every interval at its default, a number sets the one
interval that paces that peer's look for a new version (service: ``--poll-interval``; local
stream job: the source's ``poll_interval``, as the online-learning example does; Flink: the
source's ``poll_interval`` and the predict node's ``model_refresh``). Each run makes
``--switches`` switches: a fresh version of the run's own model is registered, then, at a
random moment (0.3-1.0 s after the previous switch was seen, so the moment falls anywhere in
the peer's polling cycle), ``store.promote_model_version`` moves ``deployed`` onto it.
``t0`` = when the alias changed: the wall-clock time of the ``MODEL_ALIAS_SET`` event the
promote writes in its transaction just before committing (the promote call's own duration, its
history and stage bookkeeping, is printed beside as ``promote``).

* **service**: ``aiflow serve MODEL`` and a client thread predicting one instance at a time
  on one keep-alive connection (closed loop). Latency = ``t0`` -> the first response carrying
  the new ``model_version``. Failed requests are counted as "lost"; a response with an older
  version after the first new one would be counted under "old after".
* **local / flink**: ``read_example (stream, csv directory) -> predict -> write_example
  (stream, csv parts)``, the model registered beforehand, the predictor the default one plus a
  ``scored_at`` column: ``time.time()`` in the process that calls ``predict(batch, model)``,
  i.e. the moment the rows were scored with the version the engine put in ``model_version``.
  A producer thread drops a file of 10 records every 50-100 ms (unique ``rid``, ``produced_at``)
  into the stream directory, atomically (dot-file then rename). Latency is measured two ways:

  * **scored**: ``t0`` -> the smallest ``scored_at`` of an output row with the new version (the
    predictor's own clock: when the new model was used, whatever the sink adds after);
  * **visible**: ``t0`` -> the mtime of the first output part holding such a row (when a
    reader of the output can see it; on Flink parts are committed on checkpoints).

  After the switches the producer stops, the benchmark waits until every record is out (or
  nothing new came for 60 s), stops the execution and counts ``rid`` over all output parts:
  lost = produced but never written, duplicated = written more than once. "old after" counts
  rows scored by an older version after the first row of the new one (0 expected).

Also printed per stream run: record latency (``produced_at`` -> ``scored_at``), which shows
how long records wait for the source to pick them up.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _flinkbench as fb
import httpx
from registry_read import free_port, process, wait_http

PEERS = ("service", "local", "flink")
ROWS_PER_FILE = 10
FEATURES = ["f0", "f1"]
_RUN_NUMBERS = itertools.count(1)  # each run its own model (and workflow) name

WORKFLOW = """\
import time

import aiflow as af


class Stamped(af.Predictor):
    \"\"\"The default predictor, plus when it scored each row (this process's wall clock).\"\"\"

    output_schema = {{"rid": "bigint", "produced_at": "double", "prediction": "bigint",
                     "scored_at": "double"}}

    def predict(self, batch, model):
        out = super().predict(batch, model)
        out["scored_at"] = time.time()
        return out


events = af.Example("events", schema={{"rid": "bigint", "f0": "double", "f1": "double",
                    "produced_at": "double"}}, stream_uri={source!r}, format="csv")

with af.workflow({name!r}) as wf:
    rows = af.read_example(events{read_props})
    scored = af.predict(rows, af.Model({model!r}), Stamped(){predict_props})
    af.write_example(scored, af.Example("scored", stream_uri={out!r}, format="csv"))
"""


@dataclass
class Run:
    peer: str
    setting: str
    scored: list[float] = field(default_factory=list)  # seconds, one per switch seen
    visible: list[float] = field(default_factory=list)
    promote: list[float] = field(default_factory=list)  # seconds the promote call took
    missed: int = 0  # switches whose new version was not seen within the timeout
    records: int = 0  # produced records, or requests for the service
    lost: int = 0
    duplicated: int | None = None
    old_after: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""


# -- the model ----------------------------------------------------------------------------------


class Versions:
    """Fresh versions of one model: a LogisticRegression on a random half of a fixed data set
    (a different model each time, same features)."""

    def __init__(self, store: Any, name: str) -> None:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        self.frame = pd.DataFrame(rng.normal(size=(400, 2)), columns=FEATURES)
        self.labels = (self.frame["f0"] + self.frame["f1"] > 0).astype(int)
        self.store, self.name, self.rng = store, name, rng

    def register(self) -> int:
        from sklearn.linear_model import LogisticRegression

        from aiflow.config import get_settings
        from aiflow.store.artifacts import artifact_checksum, save_model

        rows = self.rng.choice(len(self.frame), len(self.frame) // 2, replace=False)
        model = LogisticRegression().fit(self.frame.iloc[rows], self.labels.iloc[rows])
        uri, flavor = save_model(model, self.name, get_settings().artifacts_uri)
        version = self.store.register_model_version(
            self.name, uri, flavor, checksum=artifact_checksum(uri)
        )
        return int(version.version)

    def promote(self, version: int) -> tuple[float, float]:
        """Move ``deployed`` onto ``version``: (when the alias changed, seconds the call took).

        The alias changed when its ``MODEL_ALIAS_SET`` event was written, in the promote's
        transaction, just before it committed: a swap is timed from there (slightly early,
        so the figure includes part of the commit), not from before the call, whose own
        bookkeeping (history rows, stage changes) is not the predictors' latency."""
        began = time.time()
        self.store.promote_model_version(self.name, version, actor="bench")
        took = time.time() - began
        event = self.store.list_events(key=self.name, type="MODEL_ALIAS_SET", limit=1000)[-1]
        assert event.value == f"deployed={version}", event
        return event.created_at.timestamp(), took


def gap() -> None:
    time.sleep(random.uniform(0.3, 1.0))


# -- service ------------------------------------------------------------------------------------


class Client(threading.Thread):
    """Predicts one instance at a time; notes when the first response of ``target`` came."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.lock = threading.Lock()
        self.target: int | None = None
        self.seen_at: float | None = None
        self.seen = threading.Event()
        self.requests = self.failed = self.old_after = 0
        self.round_trips: list[float] = []
        self.stop = threading.Event()

    def expect(self, version: int) -> None:
        with self.lock:
            self.target, self.seen_at = version, None
            self.seen.clear()

    def run(self) -> None:
        body = b'{"instances": [{"f0": 0.5, "f1": -0.25}]}'
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        with httpx.Client(headers=headers, timeout=10) as http:
            while not self.stop.is_set():
                sent = time.perf_counter()
                try:
                    response = http.post(self.url, content=body)
                    ok = response.status_code == 200
                    version = response.json()["model_version"] if ok else None
                except (httpx.HTTPError, ValueError):
                    ok, version = False, None
                now = time.time()
                self.round_trips.append(time.perf_counter() - sent)
                with self.lock:
                    self.requests += 1
                    self.failed += not ok
                    if version is not None and version == self.target and self.seen_at is None:
                        self.seen_at = now
                        self.seen.set()
                    elif (
                        version is not None
                        and self.seen_at is not None
                        and version < (self.target or 0)
                    ):
                        self.old_after += 1


def run_service(store: Any, home: Path, setting: str, args: argparse.Namespace) -> Run:
    run = Run("service", setting)
    versions = Versions(store, f"hs_service_{next(_RUN_NUMBERS)}")
    versions.promote(versions.register())
    _, token = store.create_token(f"bench-{versions.name}", "viewer")
    port = free_port()
    command = [sys.executable, "-m", "aiflow", "serve", versions.name, "--port", str(port)]
    if setting != "default":
        command += ["--poll-interval", setting]
    log = home / "runs" / f"{versions.name}.log"
    with process(command, env=dict(os.environ), cwd=home, log=log):
        wait_http(f"http://127.0.0.1:{port}/v1/models/{versions.name}", log)
        client = Client(f"http://127.0.0.1:{port}/v1/models/{versions.name}:predict", token)
        client.start()
        try:
            for _ in range(args.switches):
                version = versions.register()
                client.expect(version)
                gap()
                t0, took = versions.promote(version)
                run.promote.append(took)
                if client.seen.wait(args.timeout) and client.seen_at is not None:
                    run.scored.append(client.seen_at - t0)
                else:
                    run.missed += 1
            gap()
        finally:
            client.stop.set()
            client.join(15)
    run.visible = list(run.scored)
    run.records, run.lost, run.old_after = client.requests, client.failed, client.old_after
    run.notes.append(
        f"request round trip p50 "
        f"{1000 * fb.median(client.round_trips):.1f} ms (the measure's resolution); "
        + look_cost(store, versions.name)
    )
    return run


def look_cost(store: Any, model: str) -> str:
    """What the service's watcher does once a switch is noticed, timed in this process (median
    of 5): the event query and the serving pointer (which names the artifact); and loading the
    artifact, which the service does beforehand for a version registered before the switch
    (preloaded), as here."""
    from aiflow.store.artifacts import load_model

    costs: dict[str, list[float]] = {"events query": [], "pointer": [], "load (preloaded)": []}
    for _ in range(5):
        t = time.perf_counter()
        store.list_events(after_seq=0, key=model, limit=500)
        costs["events query"].append(time.perf_counter() - t)
        t = time.perf_counter()
        pointer = store.serving_pointer(model)
        costs["pointer"].append(time.perf_counter() - t)
        t = time.perf_counter()
        load_model(pointer.artifact_uri, checksum=pointer.checksum)
        costs["load (preloaded)"].append(time.perf_counter() - t)
    parts = ", ".join(f"{k} {1000 * fb.median(v):.1f} ms" for k, v in costs.items())
    return f"a look once noticed, timed here: {parts}"


# -- stream jobs --------------------------------------------------------------------------------


class Producer(threading.Thread):
    """Drops a csv file of ``ROWS_PER_FILE`` records every 50-100 ms, atomically."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory, self.produced, self.files = directory, 0, 0
        self.stop = threading.Event()
        self.rng = random.Random(1)

    def drop(self) -> None:
        first, now = self.produced, time.time()
        lines = ["rid,f0,f1,produced_at"]
        for rid in range(first, first + ROWS_PER_FILE):
            lines.append(f"{rid},{self.rng.gauss(0, 1):.6f},{self.rng.gauss(0, 1):.6f},{now}")
        staging = self.directory / f".in-{self.files:06d}.csv.tmp"
        staging.write_text("\n".join(lines) + "\n")
        staging.rename(self.directory / f"in-{self.files:06d}.csv")
        self.produced += ROWS_PER_FILE
        self.files += 1

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(0.05, 0.10)):
            self.drop()


class Output:
    """The output parts read so far (each once: a part is written whole, atomically)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.parts: dict[str, Any] = {}  # name -> frame with a ``part_mtime`` column

    def scan(self) -> list[Any]:
        import pandas as pd

        if not self.directory.is_dir():
            return []
        fresh = []
        for entry in os.scandir(self.directory):
            if entry.name in self.parts or entry.name.startswith((".", "_")):
                continue
            frame = pd.read_csv(entry.path)
            frame["part_mtime"] = entry.stat().st_mtime
            self.parts[entry.name] = frame
            fresh.append(frame)
        return fresh

    def all(self) -> Any:
        import pandas as pd

        return pd.concat(list(self.parts.values()), ignore_index=True)

    def rows(self) -> int:
        return sum(len(f) for f in self.parts.values())


def wait_seen(output: Output, version: int, t0: float, timeout: float) -> bool:
    """Until an output row scored at or after ``t0`` carries ``version``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in output.scan():
            if ((frame["model_version"] == version) & (frame["scored_at"] >= t0)).any():
                return True
        time.sleep(0.02)
    return False


def run_stream(store: Any, home: Path, peer: str, setting: str, args: argparse.Namespace) -> Run:
    import aiflow as af
    from aiflow.translators.usercode import load_workflow_file

    run = Run(peer, setting)
    tag = f"{peer}_{next(_RUN_NUMBERS)}"
    work = home / "runs" / tag
    source, out = work / "stream", work / "out"
    source.mkdir(parents=True)
    versions = Versions(store, f"hs_{tag}")
    versions.promote(versions.register())
    read_props = predict_props = ""
    if setting != "default":
        read_props = f", stream={{'poll_interval': {float(setting)}}}"
        if peer == "flink":
            predict_props = f", stream={{'model_refresh': {float(setting)}}}"
    (work / "flow.py").write_text(
        WORKFLOW.format(
            source=f"{source}/",
            out=f"{out}/",
            name=f"hot_swap_{tag}",
            model=versions.name,
            read_props=read_props,
            predict_props=predict_props,
        )
    )
    wf = load_workflow_file(work / "flow.py").wf
    if peer == "flink":
        fb.jvm_logs_to(work / "jvm-log")
    producer, output = Producer(source), Output(out)
    execution = af.run(wf, mode="stream", engine=peer, detach=True, progress=False)
    assert execution is not None
    switches: list[tuple[int, float]] = []
    try:
        # One file first: the job is up and records flow end to end before the stream starts
        # (a backlog piled up during start-up would be what every later record waits for).
        producer.drop()
        started = time.monotonic()
        while not output.scan():
            if store.get_execution(execution.id).status.finished:
                raise RuntimeError(f"execution {execution.id} ended before any output")
            if time.monotonic() - started > args.start_timeout:
                raise RuntimeError(f"no output after {args.start_timeout:.0f} s")
            time.sleep(0.2)
        run.notes.append(f"first output {time.monotonic() - started:.1f} s after submission")
        producer.start()
        time.sleep(args.settle)
        for _ in range(args.switches):
            version = versions.register()
            gap()
            t0, took = versions.promote(version)
            run.promote.append(took)
            switches.append((version, t0))
            if not wait_seen(output, version, t0, args.timeout):
                run.missed += 1
        gap()
    except RuntimeError as exc:
        run.error = f"{type(exc).__name__}: {exc}; job logs: " + ", ".join(
            str(j.log_uri) for j in store.list_jobs(execution.id)
        )
    finally:
        producer.stop.set()
        if producer.is_alive():
            producer.join()
        if not run.error:
            drain(output, producer.produced, args.drain_timeout)
        fb.stop_execution(store, execution.id, wait=120)
    output.scan()
    if run.error:
        return run
    account(run, output, producer.produced, switches)
    if peer == "local":
        run.notes.append(batch_cost(store, versions.name))
    return run


def batch_cost(store: Any, model: str) -> str:
    """The meta-store calls a local stream predict job makes per micro-batch besides its
    result update, timed in this process (median of 10): the serving-version lookup and the
    ledger write that commits the micro-batch."""
    lookups, commits = [], []
    for i in range(10):
        t = time.perf_counter()
        store.serving_version(model)
        lookups.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.mark_consumed(f"bench-probe-{model}", f"file-{i}")
        commits.append(time.perf_counter() - t)
    return (
        f"per micro-batch, timed here: serving_version {1000 * fb.median(lookups):.1f} ms, "
        f"mark_consumed {1000 * fb.median(commits):.1f} ms"
    )


def drain(output: Output, produced: int, quiet: float) -> None:
    """Until every record is out, or nothing new came for ``quiet`` seconds."""
    last, last_change = output.rows(), time.monotonic()
    while output.rows() < produced and time.monotonic() - last_change < quiet:
        time.sleep(0.2)
        output.scan()
        if output.rows() != last:
            last, last_change = output.rows(), time.monotonic()


def account(run: Run, output: Output, produced: int, switches: list[tuple[int, float]]) -> None:
    import numpy as np

    rows = output.all()
    counts = rows["rid"].value_counts()
    run.records = produced
    run.lost = len(set(range(produced)) - set(counts.index))
    run.duplicated = int((counts - 1).clip(lower=0).sum())
    for version, t0 in switches:
        new = rows[(rows["model_version"] == version) & (rows["scored_at"] >= t0)]
        if new.empty:
            continue
        first = float(new["scored_at"].min())
        run.scored.append(first - t0)
        run.visible.append(float(new["part_mtime"].min()) - t0)
        older = (rows["model_version"] < version) & (rows["scored_at"] > first)
        run.old_after += int(older.sum())
    flowing = rows[rows["rid"] >= ROWS_PER_FILE]  # not the first file, dropped at submission
    wait = (flowing["scored_at"] - flowing["produced_at"]).to_numpy()
    lag = (flowing["part_mtime"] - flowing["scored_at"]).to_numpy()
    run.notes.append(
        f"record latency produced -> scored p50 {1000 * np.percentile(wait, 50):.0f} ms, "
        f"p95 {1000 * np.percentile(wait, 95):.0f} ms; scored -> part written p50 "
        f"{1000 * np.percentile(lag, 50):.0f} ms; {len(output.parts)} output parts"
    )


# -- report -------------------------------------------------------------------------------------


def ms(values: list[float], q: float) -> str:
    return f"{1000 * fb.pct(values, q):9.0f}" if values else f"{'-':>9}"


def report(runs: list[Run], args: argparse.Namespace) -> None:
    print(f"\n{fb.machine_line()}")
    print(
        f"{args.switches} switches per run; scored = alias moved -> first prediction by the new "
        "version (service: its response); visible = -> first output part holding one\n"
    )
    print(
        f"| {'peer':<8} | {'poll':>7} | {'seen':>5} | {'scored p50':>10} | {'p95 ms':>9} "
        f"| {'visible p50':>11} | {'p95 ms':>9} | {'promote':>7} | {'records':>8} | {'lost':>5} "
        f"| {'dup':>5} | {'old after':>9} |"
    )
    print("|" + "|".join("-" * n for n in (10, 9, 7, 12, 11, 13, 11, 9, 10, 7, 7, 11)) + "|")
    for r in runs:
        if r.error:
            print(f"| {r.peer:<8} | {r.setting:>7} | failed: {r.error}")
            continue
        dup = "-" if r.duplicated is None else str(r.duplicated)
        print(
            f"| {r.peer:<8} | {r.setting:>7} | {len(r.scored):2d}/{args.switches:<2d} "
            f"| {ms(r.scored, 0.5):>10} | {ms(r.scored, 0.95)} | {ms(r.visible, 0.5):>11} "
            f"| {ms(r.visible, 0.95)} | {ms(r.promote, 0.5)[2:]} | {r.records:8d} | {r.lost:5d} "
            f"| {dup:>5} "
            f"| {r.old_after:9d} |"
        )
    print(
        "\npromote = p50 ms of the promote call itself (t0 is its alias event, near its end);"
        "\nservice: records = requests, lost = failed requests; poll default = each peer's own"
        " default (service: that of aiflow serve --poll-interval)"
    )
    for r in runs:
        for note in r.notes:
            print(f"{r.peer} ({r.setting}): {note}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--polls", default="default,0.05", help="'default' or seconds, each run")
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per switch")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=5.0, help="s of stream before switching")
    parser.add_argument("--checkpoint-interval", type=float, default=1.0, help="Flink, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIFLOW_HOME")
    args = parser.parse_args()
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not set(peers) <= set(PEERS):
        parser.error(f"--peers: of {', '.join(PEERS)}")
    settings = [s.strip() for s in args.polls.split(",") if s.strip()]
    for setting in settings:
        if setting != "default":
            float(setting)
    signal.signal(signal.SIGTERM, _interrupt)
    home = Path(tempfile.mkdtemp(prefix="aiflow-bench-hot-swap-"))
    for key in [k for k in os.environ if k.startswith("AIFLOW__")]:
        del os.environ[key]  # the developer's settings must not leak in
    os.environ["AIFLOW_HOME"] = str(home)
    os.environ["AIFLOW__FLINK__CHECKPOINT_INTERVAL"] = str(args.checkpoint_interval)
    (home / "runs").mkdir()
    print(fb.machine_line(), flush=True)

    from aiflow.config import reset_settings
    from aiflow.store.sql_store import MetaStore

    reset_settings()
    store = MetaStore()
    runs: list[Run] = []
    try:
        for peer in peers:
            for setting in settings:
                began = time.monotonic()
                if peer == "service":
                    run = run_service(store, home, setting, args)
                else:
                    run = run_stream(store, home, peer, setting, args)
                runs.append(run)
                print(
                    f"  {peer} ({setting}): {len(run.scored)} switches seen, "
                    f"{time.monotonic() - began:.0f} s, load {os.getloadavg()[0]:.2f}"
                    + (f"  FAILED {run.error}" if run.error else ""),
                    flush=True,
                )
    finally:
        for execution in store.list_executions(limit=1000):
            fb.stop_execution(store, execution.id)
        report(runs, args)
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
