"""One chaos soak: the online-learning workflow (``benchmarks/chaos/workflow.py``) in stream
mode on PostgreSQL behind ``aiflow server``, records arriving all along, while processes are
killed with SIGKILL; then the figures (``benchmarks.chaos.figures``).

Phases: start the stack (PostgreSQL, migrated store, server with its scheduler); the batch run
(version 1 deployed; optional, the CI test skips it for time: the first window's version is
then deployed instead); submit the stream execution; once its three jobs run, start the
producer and the watcher; once the first prediction appears, the killer works through its
schedule for ``chaos_seconds`` (records go on arriving for ``AFTER_LAST_KILL`` seconds after
the last kill, however late it came); then the producer stops and the soak waits until every record
is predicted, every version decided and every deployment's rule fired (or nothing moved for
``drain_idle`` seconds: what is missing then is lost), stops the execution, and counts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.chaos import figures
from benchmarks.chaos.actors import Killer, Producer, Watcher, schedule
from benchmarks.chaos.stack import JOB_NAMES, Stack

KILLER_GRACE = 120.0  # s the schedule may overrun the chaos time (victims still restarting)
AFTER_LAST_KILL = 5.0  # s the producer goes on after the last kill, so recovery shows


@dataclass(frozen=True)
class SoakConfig:
    chaos_seconds: float = 600.0
    seed: int = 0
    kills: int = 30  # at least one of each kind, plus the PostgreSQL restart
    rows: int = 10  # records per stream file
    window: int = 200  # training window (records)
    batch: bool = True  # run the batch workflow first (version 1 deployed)
    drain_timeout: float = 300.0
    drain_idle: float = 90.0  # s without progress after which the drain gives up
    # s the caught-up state must last: the trainer may still register a version for the last
    # micro-batch after every record was predicted (seen once: its validation then never ran)
    drain_settle: float = 8.0
    run_dir: Path | None = None  # default: a new temp directory, removed unless keep
    keep: bool = False
    log: Any = print  # progress lines


def run_soak(config: SoakConfig) -> figures.Report:
    began = time.monotonic()
    run_dir = config.run_dir or Path(tempfile.mkdtemp(prefix="aiflow-chaos-"))
    # the kill schedule (and the server's downtimes) depend on the seed alone, not on how
    # many files the producer, which draws from its own generator, dropped meanwhile
    kill_rng, produce_rng = random.Random(config.seed), random.Random(config.seed + 1)
    plan = schedule(kill_rng, config.chaos_seconds, config.kills)
    stack = Stack(run_dir, window=config.window)

    def say(line: str) -> None:
        config.log(f"[{time.monotonic() - began:6.1f}s] {line}")

    try:
        say(f"run directory {run_dir}")
        stack.start()
        say(f"meta store {stack.store_uri}, server {stack.url}")
        if config.batch:
            stack.run_batch()
            say("batch run done: version 1 deployed")
        execution = stack.submit_stream()
        stream_started = time.time()
        _wait(lambda: _all_running(stack, execution), 240, "the stream jobs to start")
        say(f"stream execution {execution} running")
        watcher = Watcher(stack, execution)
        producer = Producer(stack, produce_rng, config.rows, ramp=config.chaos_seconds / 2)
        watcher.start()
        producer.start()
        _wait(lambda: bool(watcher.first_seen), 240, "the first prediction")
        killer = Killer(stack, watcher, kill_rng, plan)
        say(f"chaos for {config.chaos_seconds:.0f}s: {', '.join(k for _, k in plan)}")
        chaos_began = time.monotonic()
        killer.start()
        # the whole schedule, however long finding victims takes (bounded)
        limit = chaos_began + config.chaos_seconds + KILLER_GRACE
        while time.monotonic() < limit and (
            killer.is_alive() or time.monotonic() - chaos_began < config.chaos_seconds
        ):
            time.sleep(0.5)
        killer.stop()
        # records must keep arriving after the last kill, else "predictions resumed after it"
        # cannot be seen (a slow restart once pushed the last kill past the chaos time)
        last_kill = max((k.at for k in killer.kills if k.at is not None), default=None)
        if last_kill is not None:
            time.sleep(max(0.0, last_kill + AFTER_LAST_KILL - time.time()))
        chaos_seconds = time.monotonic() - chaos_began
        producer.stop()
        say(f"chaos over ({len(producer.dropped)} files dropped); draining")
        problems = _drain(stack, watcher, producer, config)
        watcher.stop()
        say(f"drained{': ' + problems[0] if problems else ''}; stopping the stream execution")
        final = stack.stop_execution(watcher.execution)
        say(f"stream execution {watcher.execution} {final}; counting")
        problems += [
            f"{a.name} crashed:\n{a.crash}" for a in (producer, watcher, killer) if a.crash
        ]
        report = _report(stack, config, producer, watcher, killer, stream_started, final)
        report.chaos_seconds = chaos_seconds
        report.problems += problems
        report.wall_seconds = time.monotonic() - began
        report.load = os.getloadavg()
        if config.keep or config.run_dir is not None:
            _save(run_dir / "figures.json", report, watcher, producer)
        return report
    finally:
        stack.close()
        say("stopped the server and PostgreSQL")
        if not config.keep and config.run_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)


def _all_running(stack: Stack, execution: int) -> bool:
    jobs = stack.store.list_jobs(execution)
    return bool(jobs) and all(j.status.value == "running" for j in jobs)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _drain(stack: Stack, watcher: Watcher, producer: Producer, config: SoakConfig) -> list[str]:
    """Wait until the output, the model center and the rule have caught up (and stay so for
    ``drain_settle`` seconds), or until nothing
    moved for ``drain_idle`` seconds (what is missing then stays missing), or the timeout;
    say what did not catch up."""
    expected = {figures.part_name(d) for d in producer.dropped}
    deadline = time.monotonic() + config.drain_timeout
    state: tuple[int, list[str]] | None = None
    moved = time.monotonic()
    caught_up: float | None = None
    while True:
        missing = expected - set(watcher.first_seen)
        try:
            behind = _behind(stack)
        except Exception as exc:  # the store is not reachable: a finding of its own
            behind = [f"the meta store did not answer: {exc}"]
        if not missing and not behind:
            caught_up = caught_up or time.monotonic()
            if time.monotonic() - caught_up >= config.drain_settle:
                return []
            time.sleep(0.5)
            continue
        caught_up = None
        if (len(missing), behind) != state:
            state, moved = (len(missing), behind), time.monotonic()
        idle = time.monotonic() - moved
        if time.monotonic() > deadline or idle > config.drain_idle:
            why = "; ".join([f"{len(missing)} files unpredicted", *behind])
            return [f"drain ended ({idle:.0f}s without progress): {why}"]
        time.sleep(0.5)


def _behind(stack: Stack) -> list[str]:
    store = stack.store
    undecided = [
        v.version for v in store.list_model_versions(figures.MODEL) if v.stage == "generated"
    ]
    behind = [f"versions not decided: {undecided}"] if undecided else []
    rules = figures.rule_figures(store, stack.events_file)
    if rules.covered and rules.missed:
        behind.append(f"deployments whose rule has not fired: {rules.missed}")
    unfinished = [
        e.id
        for e in store.list_executions(trigger=figures.RULE, limit=1_000_000)
        if not e.status.finished
    ]
    if unfinished:
        behind.append(f"rule executions unfinished: {unfinished}")
    return behind


def _report(
    stack: Stack,
    config: SoakConfig,
    producer: Producer,
    watcher: Watcher,
    killer: Killer,
    stream_started: float,
    final: str,
) -> figures.Report:
    store = stack.store
    stages = {v.version: v.stage for v in store.list_model_versions(figures.MODEL)}
    gap, gap_at, p50, worst = figures.prediction_gaps(
        watcher.first_seen, producer.dropped, stream_started
    )
    attempts = dict.fromkeys(JOB_NAMES.values(), 0)
    for execution in watcher.executions:
        for job in store.list_jobs(execution):
            attempts[job.name] = attempts.get(job.name, 0) + job.attempt
    return figures.Report(
        seed=config.seed,
        chaos_seconds=config.chaos_seconds,
        records=figures.count_records(stack, producer.dropped, stages),
        models=figures.model_figures(store),
        rules=figures.rule_figures(store, stack.events_file),
        kills=killer.kills,
        resubmissions=watcher.resubmissions,
        longest_gap=gap,
        longest_gap_at=gap_at,
        latency_p50=p50,
        latency_max=worst,
        attempts=attempts,
        final_status=final,
        resumed=[
            figures.resumed_after(kill, watcher.first_seen, producer.dropped)
            for kill in killer.kills
        ],
    )


def _save(path: Path, report: figures.Report, watcher: Watcher, producer: Producer) -> None:
    """The report and the raw timings it was computed from, for a closer look at a run."""
    raw = {
        "report": asdict(report),
        "first_seen": watcher.first_seen,
        "dropped": [asdict(d) for d in producer.dropped],
        "executions": watcher.executions,
    }
    path.write_text(json.dumps(raw, indent=1, default=str))
