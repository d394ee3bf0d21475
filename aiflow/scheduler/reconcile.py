"""Stopping executions from outside their driver, and taking over from drivers that died.

Both work from the store alone (the driver's pid and host, each job's deployer handle), because
they run in another process than the driver: ``aiflow stop``, the scheduler's pass, or the next
``aiflow run`` after a crash. A driver is declared dead when this host can prove it (same
host, pid gone or recycled) or, on another host (a replaced Kubernetes pod), when its lease in
the store has expired (``aiflow.scheduler.lease``: not renewed for ``scheduler.driver_lease``
seconds); a wrong "dead" would kill live jobs, hence a lease of several renewals.

A running execution whose driver died (``kill -9``, an OOM kill) is **adopted**: a new driver
(``python -m aiflow.scheduler --adopt``) replaces the dead one by compare-and-set on its pid, so
one of any number of reconcilers wins, and takes over the jobs from their stored handles: live
ones keep running untouched (a stream job keeps streaming), ended ones count as a failed
attempt and are retried as their ``retries`` allow. An execution that was being stopped is
ended here instead, as its driver would have.

A driver that died between a deployer's ``submit`` and the store write that records the
handle leaves an attempt nobody knows of: the store says the job is queued. Where the deployer
can list an execution's attempts (``find_attempts``, the Kubernetes deployer: its Jobs by
label), both paths stop those first (``unrecorded_attempts``), so the attempt does not run
twice, nor block the adopting driver's relaunch under the same name.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psutil

from aiflow.config import get_settings
from aiflow.errors import AiflowError
from aiflow.scheduler.launch import spawn_driver, stop_all
from aiflow.scheduler.lease import lease_expired
from aiflow.schemas.entities import Execution, ExecutionStatus, Job, JobStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aiflow.deployers.base import Deployer, Handle
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")

DeployerFor = Callable[[str], "Deployer"]
Adopt = Callable[[int], object]  # start a driver that adopts execution N (in another process)

# A running execution without a recorded driver pid this old has lost its driver between the
# claim and recording the pid (two consecutive writes): a window of milliseconds.
_UNCLAIMED_AFTER = 60.0
_CREATE_TIME_TOLERANCE = 1.0
_STOP_POLL = 0.05
# A reconciler starts one adopting driver per execution, then waits this long before starting
# another (the first may have died before it could claim the execution).
_READOPT_AFTER = 30.0
# (store URI, execution id) -> time.monotonic() of the last adoption this process started
_adopting: dict[tuple[str, int], float] = {}


def driver_is_dead(execution: Execution) -> bool:
    """True only when this host can tell the execution's driver process is gone.

    On the driver's own host, by its pid: a driver records its pid after its process started
    and before ``driver_started_at`` (or, for rows written before that column, ``started_at``)
    was set, so a process with that pid created after that moment is a recycled pid, not the
    driver. On another host, by its lease (``lease_expired``): not renewed for
    ``scheduler.driver_lease`` seconds by this host's clock. A driver without a heartbeat
    (claimed by an aiflow before leases, or holding none: the local deployer's, whose jobs no
    other host can reach) is never dead from another host, as before leases.
    """
    if execution.driver_pid is None:
        age = (datetime.now(UTC) - (execution.started_at or execution.created_at)).total_seconds()
        return execution.status != ExecutionStatus.QUEUED and age > _UNCLAIMED_AFTER
    if execution.driver_host != socket.gethostname():
        return lease_expired(execution)
    try:
        proc = psutil.Process(execution.driver_pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        started = execution.driver_started_at or execution.started_at
        return started is not None and (
            proc.create_time() > started.timestamp() + _CREATE_TIME_TOLERANCE
        )
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def request_stop(
    store: MetaStore, execution_id: int, deployer_for: DeployerFor, *, wait: float = 30
) -> Execution:
    """Ask an execution to stop and wait up to ``wait`` s for it to end; return it.

    The request is a CAS to STOPPING, which the driver notices within a poll interval and acts
    on. If the driver is dead, this stops the job processes itself and marks everything killed;
    likewise if no driver has claimed the execution by the deadline. A live driver that is
    still stopping at the deadline is left to finish: the returned execution is then STOPPING.
    """
    execution = store.get_execution(execution_id)
    while not execution.status.finished and execution.status != ExecutionStatus.STOPPING:
        if store.transition_execution(
            execution_id, ExecutionStatus.STOPPING, expected={execution.status}
        ):
            log.info("execution %s: stop requested", execution_id)
        execution = store.get_execution(execution_id)
    deadline = time.monotonic() + max(wait, 0.0)
    while not execution.status.finished:
        past_deadline = time.monotonic() >= deadline
        if driver_is_dead(execution) or (past_deadline and execution.driver_pid is None):
            _take_over(store, execution, deployer_for(execution.deployer))
            return store.get_execution(execution_id)
        if past_deadline:
            break
        time.sleep(_STOP_POLL)
        execution = store.get_execution(execution_id)
    return execution


def reconcile(
    store: MetaStore, deployer_for: DeployerFor, *, adopt: Adopt | None = None
) -> list[int]:
    """Take over from the drivers that died: adopt their running executions, end the ones
    being stopped; return the ids of the executions ended.

    ``adopt(execution_id)`` starts the adopting driver (default: a detached ``python -m
    aiflow.scheduler --adopt``, see the module docstring). Ending an execution checks the jobs
    the store thinks are running through their deployer: live ones are stopped, and the
    execution is killed. Costs one query per non-final status when there is nothing to do, so
    ``aiflow run`` can call it every time.
    """
    start = adopt or (
        lambda execution_id: spawn_driver(execution_id, store_uri=store.uri, adopt=True)
    )
    reconciled = []
    for status in (ExecutionStatus.RUNNING, ExecutionStatus.STOPPING, ExecutionStatus.QUEUED):
        for execution in store.list_executions(status=status, limit=10_000):
            if not driver_is_dead(execution):
                continue
            if execution.status == ExecutionStatus.RUNNING:
                _adopt((store.uri, execution.id), execution, start)
            elif _take_over(store, execution, deployer_for(execution.deployer)):
                reconciled.append(execution.id)
    return sorted(reconciled)


def unrecorded_attempts(deployer: Deployer, execution_id: int, jobs: Iterable[Job]) -> list[Handle]:
    """The attempts of execution ``execution_id`` that a dead driver started but never
    recorded: those whose number is past the last attempt the store has for their job.

    Only a deployer with ``find_attempts(execution_id)`` can tell (its handles then carry the
    ``job_id`` and ``attempt`` they run); for others, and when it cannot answer, this is empty
    (logged): the adopting driver's relaunch of such an attempt then fails on its own.
    """
    find = getattr(deployer, "find_attempts", None)
    if find is None:
        return []
    last = {job.id: job.attempt for job in jobs}
    try:
        found = find(execution_id)
    except AiflowError as exc:
        log.warning("execution %s: cannot list its attempts (%s)", execution_id, exc)
        return []
    return [
        handle
        for handle in found
        if handle.get("job_id") in last and int(handle.get("attempt") or 0) > last[handle["job_id"]]
    ]


def _adopt(key: tuple[str, int], execution: Execution, start: Adopt) -> None:
    """Start a driver for ``execution`` unless this process started one recently."""
    now = time.monotonic()
    last = _adopting.get(key)
    if last is not None and now - last < _READOPT_AFTER:
        return
    _adopting[key] = now
    log.warning(
        "execution %s: its driver (pid %s on %s) died; starting one that adopts its jobs",
        execution.id,
        execution.driver_pid,
        execution.driver_host,
    )
    start(execution.id)


def _take_over(store: MetaStore, execution: Execution, deployer: Deployer) -> bool:
    """Finish an execution whose driver is gone, as that driver would have; False if another
    process finished it first."""
    stopping = execution.status == ExecutionStatus.STOPPING
    driver = f"driver (pid {execution.driver_pid} on {execution.driver_host})"
    jobs = store.list_jobs(execution.id)
    alive: list[Job] = []
    dead: list[Job] = []
    for job in jobs:
        if job.status != JobStatus.RUNNING:
            continue
        try:
            running = job.handle is not None and deployer.poll(job.handle).running
        except AiflowError as exc:
            log.warning("job %s: cannot check its process (%s); stopping it", job.id, exc)
            running = True
        (alive if running else dead).append(job)
    stray = unrecorded_attempts(deployer, execution.id, jobs)
    handles = [j.handle for j in alive if j.handle] + stray
    stop_all(deployer, handles, get_settings().scheduler.kill_grace)
    if stopping:
        final, job_status, reason = ExecutionStatus.KILLED, JobStatus.KILLED, "stop requested"
        error = f"stopped on request; its {driver} was not running"
    else:
        final, job_status, reason = ExecutionStatus.FAILED, JobStatus.FAILED, ""
        error = f"its {driver} died; reconciled: unfinished jobs were failed or killed"
    for job in alive:
        why = reason or f"stopped because its {driver} died"
        store.transition_job(job.id, job_status, expected={JobStatus.RUNNING}, error=why)
    for job in dead:
        why = reason or "process ended while its driver was down"
        store.transition_job(job.id, job_status, expected={JobStatus.RUNNING}, error=why)
    for job in jobs:
        if job.status == JobStatus.QUEUED:
            why = f"{reason or 'its driver died'} before it started"
            store.transition_job(job.id, JobStatus.KILLED, expected={JobStatus.QUEUED}, error=why)
    done = store.transition_execution(execution.id, final, expected={execution.status}, error=error)
    log.warning("execution %s: %s", execution.id, error)
    return done
