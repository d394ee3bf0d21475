"""Events: send -> rule fired latency, and events/s sustained, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/events.py [--quick] [--backends sqlite,postgres]
        [--latency-events 30] [--events 1000] [--fast-interval 0.2]

Per backend (PostgreSQL: ``AIFLOW_TEST_POSTGRES_URL``'s server, else a private throwaway
cluster, skipped with the reason when neither works), a fresh meta store, ``aiflow server``
with an editor token, and a workflow whose one job has the rule ``af.action_on_event(job,
key="bench", action="start")`` (a no-op job), submitted through the server.

**Latency**, events sent one at a time, half with ``af.send_event`` (the Python API, straight
to the store), half with ``Client.send_event`` (``POST /api/v1/events``); each after a random
pause of 0..interval, so sends fall at random points of the scheduler's pass cycle (a steady
period would hit the same phase each time):

* send -> fired: the send call returned -> the fire recorded, i.e. the execution the fire
  created, its ``created_at`` (the scheduler's clock, same host; no polling in the figure);
* send -> job started: -> that execution's job ``started_at`` (driver + job process launch).

First with the scheduler inside the server (passes every 2 s, the default), then with
``aiflow scheduler --interval FAST`` beside a server without one: what the pass interval costs.

**Sustained**, ``--events`` events sent as fast as possible by 1 and by 4 sender processes,
through the Python API and through the REST API, while the scheduler (2 s passes) fires the
rule. Its fires record executions but start no drivers (``_events_stack.py`` says why). Per
run: events/s accepted (first send -> last send returned), fired/s (the scheduler draining
them: first fire -> last fire recorded), lost / duplicated (events that never fired the rule,
extra fires of one event: both must be 0) and the backlog (last fire after the last send).
The floor beside it: a raw ``INSERT`` of an event row through the store's engine, no store
layer and no rule matching it.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from _events_load import burst, fired, pct, tally, wait_drained
from _events_stack import KEY, RULE, Stack, postgres_database
from chaos.postgres import PostgresUnavailable

if TYPE_CHECKING:
    from aiflow.client import Client

BUILTIN_INTERVAL = 2.0  # the scheduler inside `aiflow server` passes every 2 s (not settable)
Rows = dict[str, str]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 latency events, 200 per burst")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--latency-events", type=int, default=30)
    parser.add_argument("--events", type=int, default=1000, help="events per sustained run")
    parser.add_argument("--fast-interval", type=float, default=0.2, help="0: skip that part")
    args = parser.parse_args()
    if args.quick:
        args.latency_events, args.events = 10, 200
    signal.signal(signal.SIGTERM, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="aiflow-bench-events-"))
    results: dict[str, Rows] = {}
    try:
        for backend in args.backends.split(","):
            home = root / backend
            home.mkdir()
            if backend == "sqlite":
                results[backend] = run_backend(home, f"sqlite:///{home}/aiflow.db", args)
                continue
            try:
                with postgres_database() as uri:
                    results[backend] = run_backend(home, uri, args)
            except PostgresUnavailable as exc:
                print(f"{backend}: skipped, PostgreSQL not available: {exc}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(results, args)


def run_backend(home: Path, uri: str, args: argparse.Namespace) -> Rows:
    from aiflow.client import Client
    from aiflow.store.sql_store import MetaStore

    rows: Rows = {}
    stack = Stack.create(home, uri)
    print(f"{uri.split(':')[0]}: measuring in {home}", file=sys.stderr)
    try:
        stack.start_server(scheduler=True)
        stack.submit()
        rule_id = MetaStore(uri).get_trigger(RULE).id
        with Client(stack.base, stack.token) as client:
            label = f"[in server, {BUILTIN_INTERVAL:g} s]"
            latency(stack, rule_id, client, BUILTIN_INTERVAL, args.latency_events, rows, label)
        if args.fast_interval > 0:
            stack.start_server(scheduler=False)
            stack.start_scheduler(args.fast_interval, drivers=True)
            with Client(stack.base, stack.token) as client:
                label = f"[--interval {args.fast_interval:g}]"
                latency(
                    stack, rule_id, client, args.fast_interval, args.latency_events, rows, label
                )
        else:
            stack.start_server(scheduler=False)
        stack.start_scheduler(BUILTIN_INTERVAL, drivers=False)
        sustained(stack, rule_id, args.events, rows)
        rows["fires failed or skipped (TRIGGER_FAILED/_SKIPPED)"] = str(
            sum(
                len(MetaStore(uri).list_events(key=f"trigger/{RULE}", type=t, limit=1000))
                for t in ("TRIGGER_FAILED", "TRIGGER_SKIPPED")
            )
        )
    finally:
        stack.close()
    return rows


def latency(
    stack: Stack, rule_id: int, client: Client, interval: float, n: int, rows: Rows, label: str
) -> None:
    """Send ``n`` events one at a time (plus one warm-up), alternating the Python API and
    REST; after each, wait for the fire and for its job to finish (so that no launch is slowed
    by the one before), and read when the job started."""
    import aiflow as af
    from aiflow.store.sql_store import MetaStore

    store = MetaStore(stack.uri)
    senders: dict[str, Callable[[str], int]] = {
        "python": lambda value: af.send_event(KEY, value).seq,
        "rest": lambda value: client.send_event(KEY, value).seq,
    }
    fire_ms: dict[str, list[float]] = {"python": [], "rest": []}
    job_ms: list[float] = []
    seqs: list[int] = []
    for i in range(n + 1):  # event 0: the scheduler's first pass, connections: not counted
        path = "python" if i % 2 else "rest"
        time.sleep(random.uniform(0, interval))
        seq = senders[path](f"latency-{i}")
        sent = datetime.now(UTC)
        deadline = time.monotonic() + 10 * interval + 60
        while not (fire := fired(stack.uri, rule_id, [seq])):
            if time.monotonic() > deadline:
                raise RuntimeError(f"event {seq}: rule {RULE} did not fire; see {stack.home}")
            time.sleep(0.005)
        _, execution_id, at = fire[seq]
        deadline = time.monotonic() + 180
        while not (execution := store.get_execution(execution_id)).status.finished:
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution_id} did not finish; see {stack.home}")
            time.sleep(0.05)
        job = store.list_jobs(execution_id)[0]
        if execution.status.value != "succeeded" or job.started_at is None:
            raise RuntimeError(f"execution {execution_id} {execution.status.value}")
        if i:
            seqs.append(seq)
            fire_ms[path].append((at - sent).total_seconds() * 1000)
            job_ms.append((job.started_at - sent).total_seconds() * 1000)
    lost, duplicated = tally(seqs, fired(stack.uri, rule_id, seqs))
    both = fire_ms["python"] + fire_ms["rest"]
    rows[f"{label} send -> fired"] = f"p50 {pct(both, 0.5):5.0f}  p95 {pct(both, 0.95):5.0f} ms"
    rows[f"{label}   p50 Python API / REST"] = (
        f"{pct(fire_ms['python'], 0.5):5.0f} / {pct(fire_ms['rest'], 0.5):5.0f} ms"
    )
    rows[f"{label} send -> job started"] = (
        f"p50 {pct(job_ms, 0.5):5.0f}  p95 {pct(job_ms, 0.95):5.0f} ms"
    )
    rows[f"{label} lost / duplicated"] = f"{lost} / {duplicated} of {len(seqs)}"


def sustained(stack: Stack, rule_id: int, n: int, rows: Rows) -> None:
    """Bursts of ``n`` events per path and sender count; then the raw INSERT floor."""
    for path, title in (("python", "Python API"), ("rest", "REST")):
        for senders in (1, 4):
            sent = burst(
                path, n, senders, key=KEY, uri=stack.uri, base=stack.base, token=stack.token
            )
            fires = wait_drained(stack.uri, RULE, sent.seqs, settle=BUILTIN_INTERVAL + 0.5)
            lost, duplicated = tally(sent.seqs, fires)
            times = sorted(at.timestamp() for _, _, at in fires.values())
            drain = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
            rows[f"{title} x{senders}: accepted / fired"] = f"{sent.rate:5.0f} / {drain:5.0f} ev/s"
            rows[f"{title} x{senders}: lost / dup; backlog"] = (
                f"{lost} / {duplicated} of {len(sent.seqs)}; "
                f"+{(times[-1] if times else sent.ended) - sent.ended:.1f} s"
            )
    for senders in (1, 4):
        floor = burst("raw", n, senders, key=f"{KEY}-raw", uri=stack.uri, base="", token="")
        rows[f"raw INSERT floor x{senders}"] = f"{n / (floor.ended - floor.began):5.0f} rows/s"


def report(results: dict[str, Rows], args: argparse.Namespace) -> None:
    if not results:
        sys.exit("no backend could be measured")
    backends = list(results)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"local deployer; {args.latency_events} latency events (half Python API, half REST), "
        f"{args.events} events per sustained run"
    )
    labels = list(dict.fromkeys(label for rows in results.values() for label in rows))
    width = max(map(len, labels))
    print(f"{'':<{width}}  " + "  ".join(f"{b:<26}" for b in backends))
    for label in labels:
        cells = [results[b].get(label, "-") for b in backends]
        print(f"{label:<{width}}  " + "  ".join(f"{c:<26}" for c in cells))


if __name__ == "__main__":
    main()
