"""The soak's three background actors: the producer (click files arriving), the watcher (when
each prediction part first appeared; the operator who resubmits a stream execution that
ended) and the killer (SIGKILL of jobs, drivers, the server; one PostgreSQL restart).

Each keeps what it did in plain lists the figures are computed from afterwards; none of them
raises out of its thread (an unexpected error is recorded and ends that actor).
"""

from __future__ import annotations

import random
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.chaos.stack import EXAMPLE, JOB_NAMES, Stack, kill9

if TYPE_CHECKING:
    from aiflow.schemas.entities import Execution

KINDS = ("train", "validate", "predict", "driver", "server")  # killed any number of times
POSTGRES = "postgres"  # restarted once
FIND_TIMEOUT = 30.0  # how long a kill waits for its victim to be running


def _clicks() -> Any:
    sys.path.insert(0, str(EXAMPLE))
    import clicks  # the example's seeded, drifting click generator

    return clicks


class Actor(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopped = threading.Event()
        self.crash: str | None = None

    def run(self) -> None:
        try:
            self.work()
        except Exception:
            self.crash = traceback.format_exc()

    def work(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopped.set()
        self.join(60)


@dataclass(frozen=True)
class Dropped:
    name: str  # the stream file; its prediction part is part-<stem>.csv
    first_rid: int
    rows: int
    at: float  # time.time() of the rename that made it visible


class Producer(Actor):
    """Drops a file of ``rows`` records every 0.2-0.5 s; unique rids; the decision boundary
    turns as in the example, over ``ramp`` seconds."""

    def __init__(self, stack: Stack, rng: random.Random, rows: int, ramp: float) -> None:
        super().__init__("chaos-producer")
        self.stack, self.rng, self.rows, self.ramp = stack, rng, rows, ramp
        self.dropped: list[Dropped] = []

    def work(self) -> None:
        clicks = _clicks()
        began = time.monotonic()
        index = 0
        while not self.stopped.is_set():
            angle = clicks.FINAL_ANGLE * min(1.0, (time.monotonic() - began) / self.ramp)
            first = 10_000 + index * self.rows
            frame = clicks.clicks(self.rows, angle, first, seed=100 + index)
            name = f"clicks-{index:06d}.csv"
            clicks.drop(self.stack.stream_dir, name, frame)
            self.dropped.append(Dropped(name, first, self.rows, time.time()))
            index += 1
            self.stopped.wait(self.rng.uniform(0.2, 0.5))


@dataclass(frozen=True)
class Resubmission:
    at: float
    ended: int  # the execution that ended
    status: str
    error: str | None
    started: int  # the one submitted instead


class Watcher(Actor):
    """Every 0.1 s: which prediction parts exist (first seen when); every second: whether the
    stream execution is still going, and if it ended, what an operator does — submit the
    workflow in stream mode again (a new execution continues from the stream ledger)."""

    def __init__(self, stack: Stack, execution: int) -> None:
        super().__init__("chaos-watcher")
        self.stack = stack
        self.execution = execution  # the current stream execution
        self.executions = [execution]
        self.first_seen: dict[str, float] = {}  # part file name -> time.time() first seen
        self.resubmissions: list[Resubmission] = []
        self._resubmitting: threading.Thread | None = None

    def work(self) -> None:
        next_check = 0.0
        while not self.stopped.wait(0.1):
            self.scan()
            busy = self._resubmitting is not None and self._resubmitting.is_alive()
            if not busy and time.monotonic() >= next_check:
                next_check = time.monotonic() + 1.0
                self._check_execution()
        if self._resubmitting is not None:
            self._resubmitting.join(150)

    def scan(self) -> None:
        now = time.time()
        directory = self.stack.scores_dir
        for part in directory.glob("part-*.csv") if directory.is_dir() else []:
            self.first_seen.setdefault(part.name, now)

    def _check_execution(self) -> None:
        try:
            current: Execution = self.stack.store.get_execution(self.execution)
        except Exception:  # PostgreSQL restarting: the next check sees it
            return
        if current.status.finished:
            # in the background: parts keep being timed while the submission takes seconds
            self._resubmitting = threading.Thread(
                target=self._replace, args=(current,), name="chaos-resubmit", daemon=True
            )
            self._resubmitting.start()

    def _replace(self, ended: Execution) -> None:
        try:
            started = self._resubmit()
        except Exception:
            self.crash = traceback.format_exc()
            return
        self.resubmissions.append(
            Resubmission(time.time(), ended.id, ended.status.value, ended.error, started)
        )
        self.execution = started
        self.executions.append(started)

    def _resubmit(self) -> int:
        """Submit again, retrying while the server or PostgreSQL is down. A submission whose
        answer was lost (the server killed mid-request) may have been recorded: a stream
        execution newer than the one that ended is taken instead of submitting a second."""
        ended = self.execution
        deadline = time.monotonic() + 120
        while True:
            try:
                return self.stack.submit_stream()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
            try:
                newer = self.stack.store.list_executions(workflow="ctr", mode="stream", limit=5)
            except Exception:
                continue
            for execution in newer:
                if execution.id > ended and execution.trigger_id is None:
                    return int(execution.id)


@dataclass
class Kill:
    kind: str
    planned: float  # seconds after the chaos began
    at: float | None = None  # time.time() of the kill (None: skipped)
    pid: int | None = None
    execution: int | None = None
    note: str = ""
    down: float | None = None  # server / PostgreSQL: seconds until it answered again


def schedule(rng: random.Random, seconds: float, kills: int) -> list[tuple[float, str]]:
    """``kills`` kills over ``seconds`` at random intervals (evenly spread, each moved by up to
    a third of the spacing): every kind at least once, the PostgreSQL restart once, in the
    middle half."""
    kills = max(kills, len(KINDS) + 1)
    kinds = list(KINDS) + [rng.choice(KINDS) for _ in range(kills - len(KINDS) - 1)]
    rng.shuffle(kinds)
    kinds.insert(rng.randrange(kills // 4, max(kills // 4 + 1, 3 * kills // 4)), POSTGRES)
    spacing = seconds / kills
    times = [spacing * (i + 0.5) + rng.uniform(-spacing / 3, spacing / 3) for i in range(kills)]
    return list(zip(times, kinds, strict=True))


class Killer(Actor):
    def __init__(
        self, stack: Stack, watcher: Watcher, rng: random.Random, plan: list[tuple[float, str]]
    ) -> None:
        super().__init__("chaos-killer")
        self.stack, self.watcher, self.rng = stack, watcher, rng
        self.kills = [Kill(kind, planned) for planned, kind in plan]

    def work(self) -> None:
        began = time.monotonic()
        for kill in self.kills:
            if self.stopped.wait(max(0.0, began + kill.planned - time.monotonic())):
                return
            self._do(kill)

    def _do(self, kill: Kill) -> None:
        if kill.kind == POSTGRES:
            assert self.stack.postgres is not None
            kill.at = time.time()
            kill.down = self.stack.postgres.restart_immediate()
            return
        if kill.kind == "server":
            kill.at = time.time()
            assert self.stack.server is not None
            kill.pid = self.stack.server.pid
            self.stack.kill_server()
            time.sleep(self.rng.uniform(0.5, 3.0))  # down for a moment, then restarted
            self.stack.start_server()
            kill.down = time.time() - kill.at
            return
        deadline = time.monotonic() + FIND_TIMEOUT
        while not self.stopped.is_set():
            execution = self.watcher.execution
            proc = self._victim(kill.kind, execution)
            if proc is not None and kill9(proc):
                kill.at, kill.pid, kill.execution = time.time(), proc.pid, execution
                return
            if time.monotonic() > deadline:
                kill.note = f"no running {kill.kind} process within {FIND_TIMEOUT:.0f}s"
                return
            time.sleep(0.2)

    def _victim(self, kind: str, execution: int) -> Any:
        if kind == "driver":
            return self.stack.driver_process(execution)
        try:
            jobs = self.stack.store.list_jobs(execution)
        except Exception:  # PostgreSQL restarting
            return None
        job = next((j for j in jobs if j.name == JOB_NAMES[kind]), None)
        return None if job is None else self.stack.job_process(job)
