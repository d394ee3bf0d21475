"""The scheduler service: keeps every execution in the meta store moving, whoever created it.

Submitting starts a driver at once (``spawn_driver``), so the service is the safety net, not
the fast path: it starts drivers for executions left *queued* (their submitter died between
recording the execution and starting its driver) and reconciles executions whose driver died.
It runs beside the server (``aiflow scheduler``) or inside it, and any number of copies may run
on one meta store: a driver takes an execution only through the compare-and-set claim
queued -> running, so two services starting drivers for the same execution still launch each
job once (the second driver finds the execution claimed and exits).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiflow.errors import AiflowError
from aiflow.scheduler.launch import spawn_driver
from aiflow.scheduler.reconcile import DeployerFor, reconcile
from aiflow.store.entities import ExecutionStatus

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")

# A queued execution younger than this is left to the driver its submitter is starting.
ORPHAN_AFTER = 10.0
_RESPAWN_AFTER = 60.0  # don't start a second driver for the same execution sooner than this


class SchedulerService:
    def __init__(
        self,
        store: MetaStore,
        deployer_for: DeployerFor,
        *,
        interval: float = 2.0,
        orphan_after: float = ORPHAN_AFTER,
    ) -> None:
        self.store = store
        self.deployer_for = deployer_for
        self.interval = interval
        self.orphan_after = orphan_after
        self.stopped = threading.Event()
        self._spawned: dict[int, float] = {}

    def tick(self) -> list[int]:
        """One pass: reconcile dead drivers, start drivers for orphaned queued executions;
        returns the ids of the executions it started drivers for."""
        reconcile(self.store, self.deployer_for)
        started = []
        now = datetime.now(UTC)
        for execution in self.store.list_executions(status=ExecutionStatus.QUEUED, limit=100):
            age = (now - execution.created_at).total_seconds()
            last = self._spawned.get(execution.id)
            if age < self.orphan_after or (last and time.monotonic() - last < _RESPAWN_AFTER):
                continue
            log.info(
                "execution %s queued for %.0fs without a driver: starting one", execution.id, age
            )
            spawn_driver(execution.id, store_uri=self.store.uri)
            self._spawned[execution.id] = time.monotonic()
            started.append(execution.id)
        return started

    def run(self) -> None:
        """Tick until ``stop()``; a failing pass is logged and retried, never fatal."""
        while not self.stopped.is_set():
            try:
                self.tick()
            except AiflowError as exc:
                log.warning("scheduler pass failed: %s", exc)
            self.stopped.wait(self.interval)

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="aiflow-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopped.set()
