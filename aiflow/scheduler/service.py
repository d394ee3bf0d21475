"""The scheduler service: fires triggers and keeps every execution in the meta store moving.

Each pass (``tick``) first fires the triggers that are due and the event rules that have new
matching events (``aiflow.scheduler.triggers``), starting a driver for each execution a fire
records (and, for the restart and stop rules of event-driven jobs, seeing their stops
through). Submitting starts a driver at once (``spawn_driver``), so for submitted executions
the service is the safety net, not the fast path: it starts drivers for executions left
*queued* (their submitter died between recording the execution and starting its driver) and
reconciles executions whose driver died.

It runs beside the server (``aiflow scheduler``) or inside it, and any number of copies may run
on one meta store: each trigger fire is a compare-and-set of the trigger's position (so one
service fires it, the others lose the race), and a driver takes an execution only through the
compare-and-set claim queued -> running, so two services starting drivers for the same
execution still launch each job once (the second driver finds the execution claimed and exits).

The drivers it starts inherit ``AIFLOW_JOB_API`` from this process: inside a server (which sets
it) their jobs reach the meta store only through the server's job API, with a token per attempt
(``aiflow.scheduler.launch.job_env``). An ``aiflow scheduler`` beside a server must have it set
too (the server's URL as its jobs reach it), or its jobs get the meta store URL.

Passes are due every ``interval`` seconds from the start of the previous one; how late each
starts is ``aiflow_scheduler_loop_delay_seconds`` (a pass that takes longer than the interval
makes the next one late), how late each fire is after its due time or its event is
``aiflow_trigger_fire_delay_seconds``. The server exports them at ``/metrics`` when the
service runs inside it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram

from aiflow.errors import AiflowError
from aiflow.scheduler.launch import spawn_driver
from aiflow.scheduler.reconcile import DeployerFor, reconcile, request_stop
from aiflow.scheduler.triggers import Fired, RuleWatch, fire_due, fire_events
from aiflow.schemas.entities import ExecutionStatus

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")

# A queued execution younger than this is left to the driver its submitter is starting.
ORPHAN_AFTER = 10.0
_RESPAWN_AFTER = 60.0  # don't start a second driver for the same execution sooner than this
_LOOP_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_FIRE_BUCKETS: Final = (*_LOOP_BUCKETS, 900, 3600, 6 * 3600, 86400)

Clock = Callable[[], datetime]
StartDriver = Callable[..., object]  # spawn_driver(execution_id, store_uri=...)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SchedulerMetrics:
    """The service's Prometheus metrics, in ``registry``: the server passes its app's registry
    (each app has a private one, see ``aiflow.server.metrics``); with ``None`` they are kept
    but exported nowhere."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.loop_delay = Histogram(
            "aiflow_scheduler_loop_delay_seconds",
            "How late each scheduler pass started after the time it was due",
            buckets=_LOOP_BUCKETS,
            registry=registry,
        )
        self.fire_delay = Histogram(
            "aiflow_trigger_fire_delay_seconds",
            "How late each trigger fired after its due time (periodic) or its event (rules)",
            buckets=_FIRE_BUCKETS,
            registry=registry,
        )
        self.fires = Counter(
            "aiflow_trigger_fires", "Trigger fires by outcome", ["outcome"], registry=registry
        )

    def fired(self, fired: Fired) -> None:
        fire, late = fired
        self.fires.labels(fire.outcome.value).inc()
        self.fire_delay.observe(max(0.0, late))


class SchedulerService:
    """``clock`` is the time triggers are due against (tests inject one instead of sleeping);
    ``start_driver`` starts a detached driver for an execution (default ``spawn_driver``)."""

    def __init__(
        self,
        store: MetaStore,
        deployer_for: DeployerFor,
        *,
        interval: float = 2.0,
        orphan_after: float = ORPHAN_AFTER,
        clock: Clock = utc_now,
        start_driver: StartDriver = spawn_driver,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.store = store
        self.deployer_for = deployer_for
        self.interval = interval
        self.orphan_after = orphan_after
        self.clock = clock
        self.start_driver = start_driver
        self.metrics = SchedulerMetrics(registry)
        self.stopped = threading.Event()
        self._spawned: dict[int, float] = {}
        self._rules = RuleWatch()  # what the passes know of the event rules (fire_events)

    def tick(self) -> list[int]:
        """One pass: fire due triggers and matching event rules, reconcile dead drivers, start
        drivers for orphaned queued executions; returns the ids of the executions it started
        drivers for (those its fires recorded first)."""
        started = self.fire_triggers()
        reconcile(self.store, self.deployer_for, adopt=self._adopt)
        now = datetime.now(UTC)
        for execution in self.store.list_executions(status=ExecutionStatus.QUEUED, limit=100):
            age = (now - execution.created_at).total_seconds()
            last = self._spawned.get(execution.id)
            if age < self.orphan_after or (last and time.monotonic() - last < _RESPAWN_AFTER):
                continue
            log.info(
                "execution %s queued for %.0fs without a driver: starting one", execution.id, age
            )
            self._start(execution.id)
            started.append(execution.id)
        return started

    def fire_triggers(self) -> list[int]:
        """Fire what is due at ``clock()``; start a driver for each execution recorded, and
        see the stops a restart or stop rule recorded through."""
        now = self.clock()
        started = []
        for fired in [*fire_due(self.store, now), *fire_events(self.store, now, self._rules)]:
            self.metrics.fired(fired)
            for stopping in fired[0].stopped:
                self._stop(stopping)
            execution_id = fired[0].execution_id
            if execution_id is not None:
                self._start(execution_id)
                started.append(execution_id)
        return started

    def run(self) -> None:
        """Tick until ``stop()``, a pass every ``interval`` seconds from the start of the one
        before; a failing pass is logged and retried, never fatal."""
        due = time.monotonic()
        while not self.stopped.is_set():
            began = time.monotonic()
            self.metrics.loop_delay.observe(max(0.0, began - due))
            try:
                self.tick()
            except AiflowError as exc:
                log.warning("scheduler pass failed: %s", exc)
            except Exception:  # a bug: say so loudly, but keep scheduling
                log.exception("scheduler pass failed unexpectedly")
            due = began + self.interval
            self.stopped.wait(max(0.0, due - time.monotonic()))

    def _stop(self, execution_id: int) -> None:
        """The fire recorded the stop (``stopping``), which a live driver acts on by itself;
        this ends at once an execution that no driver will (none claimed it, or it died).
        Never waits, and never fails the pass: the reconciliation catches what it misses."""
        try:
            request_stop(self.store, execution_id, self.deployer_for, wait=0.0)
        except AiflowError as exc:
            log.warning("execution %s: could not stop it: %s", execution_id, exc)

    def _adopt(self, execution_id: int) -> None:
        self.start_driver(execution_id, store_uri=self.store.uri, adopt=True)

    def _start(self, execution_id: int) -> None:
        self.start_driver(execution_id, store_uri=self.store.uri)
        self._spawned[execution_id] = time.monotonic()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="aiflow-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()
