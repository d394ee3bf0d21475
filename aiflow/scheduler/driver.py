"""The execution driver: takes one execution from queued to a final status through a deployer.

The driver is the only writer of an execution's job states while it runs, and it decides only
*when* things happen (dependencies, retries, timeouts, stops); how a job is started, watched and
ended is the deployer's business, so the same loop drives local processes or cluster pods.

Latency: a loop turn ends in ``deployer.wait_for_change``, which returns as soon as a job ends
(for deployers that support it) and after ``scheduler.poll_interval`` at the latest, the bound
for noticing stop requests, retry delays and timeouts. Writes are one CAS per state change:
a job goes RUNNING together with its handle, so a running job always has a handle for whoever
has to find it again (``request_stop``, ``reconcile``).

Ownership is guarded by compare-and-set on every transition: if another process changed a row
under the driver, the driver takes the store's word; if its lease renewal matches no row (it was
adopted after a stall, ``aiflow.scheduler.lease``), it stops acting at once and returns.

Failures of the driver itself: a meta store outage (a database restart) is waited out, call by
call, for up to two minutes (``aiflow.store.patience``) while the jobs keep running; a driver
killed outright is replaced by one that adopts its running jobs (``reconcile``, ``--adopt``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiflow.config import get_settings
from aiflow.deployers.base import Deployer, Handle, JobLaunch, JobState, describe_exit
from aiflow.errors import AiflowError, InvalidInput
from aiflow.scheduler.launch import (
    COMMON_JOB_ENV,
    catch_stop_signals,
    default_command,
    fired_by,
    job_env,
    job_log_path,
    spawn_driver,
    stop_all,
)
from aiflow.scheduler.lease import ClaimLost, DriverLease
from aiflow.scheduler.reconcile import driver_is_dead, reconcile, request_stop, unrecorded_attempts
from aiflow.schemas.entities import Event, Execution, ExecutionStatus, Job, JobStatus
from aiflow.store.patience import patient

if TYPE_CHECKING:
    from aiflow.store.sql_store import MetaStore

__all__ = ["default_command", "reconcile", "request_stop", "run_execution", "spawn_driver"]

log = logging.getLogger("aiflow.scheduler")

OnUpdate = Callable[[Execution, list[Job]], None]
CommandFor = Callable[[Job], list[str]]
Outcome = tuple[ExecutionStatus, str | None]

_S = JobStatus


def run_execution(
    store: MetaStore,
    execution_id: int,
    deployer: Deployer,
    *,
    on_update: OnUpdate | None = None,
    command_for: CommandFor | None = None,
    adopt: bool = False,
) -> Execution:
    """Run a queued execution to its end and return it as finally stored; with ``adopt``, a
    running one whose driver died (``reconcile``): its live jobs are taken over, not restarted.

    ``on_update`` gets fresh copies of the execution and its jobs after every loop turn that
    changed something (for progress display); ``command_for`` replaces the job command
    (default: ``python -m aiflow.runtime --job-id N``). SIGTERM/SIGINT (when called from the
    main thread) and a STOPPING status set by another process stop the execution: its jobs are
    ended and it finishes as killed. Raises ``InvalidInput`` if another driver owns it.
    """
    driver = _Driver(store, execution_id, deployer, on_update, command_for or default_command)
    return driver.run(adopt=adopt)


@dataclass
class _Attempt:
    handle: Handle
    started: float  # time.monotonic() at launch, for the timeout
    stop_reason: str | None = None  # set when the driver itself ended it (timeout)


class _Driver:
    def __init__(
        self,
        store: MetaStore,
        execution_id: int,
        deployer: Deployer,
        on_update: OnUpdate | None,
        command_for: CommandFor,
    ) -> None:
        # A database restart must not end the execution: jobs keep running meanwhile.
        self.store = patient(store)
        self.id = execution_id
        self.deployer = deployer
        self.on_update = on_update
        self.command_for = command_for
        self.settings = get_settings()
        self.lease = DriverLease(self.store, execution_id, deployer)  # renewed by the loop
        self.workdir = Path.cwd()  # relative paths in user code mean what they mean locally
        self.stream = False
        self.workflow_name = ""
        self.jobs: dict[int, Job] = {}  # as loaded: the static parts (name, deps, retries)
        self.status: dict[int, JobStatus] = {}  # what the store says, without re-reading it
        self.attempt: dict[int, int] = {}
        self.dependents: dict[int, list[int]] = {}
        self.running: dict[int, _Attempt] = {}
        self.retry_at: dict[int, float] = {}  # job id -> monotonic time of its next attempt
        self.errors: dict[int, str] = {}  # final error of each job that failed for good
        self.signalled: str | None = None
        self.changed = True
        self._fired_event: Event | None = None
        self._fired_read = False

    # -- lifecycle --------------------------------------------------------------------------

    def run(self, *, adopt: bool = False) -> Execution:
        execution = self.store.get_execution(self.id)
        self.stream = execution.mode == "stream"
        self.workflow_name = execution.workflow_name
        for job in self.store.list_jobs(self.id):
            self.jobs[job.id] = job
            self.status[job.id] = job.status
            self.attempt[job.id] = job.attempt
            self.dependents.setdefault(job.id, [])
            for upstream in job.depends_on:
                self.dependents.setdefault(upstream, []).append(job.id)
        self.deployer.prepare(COMMON_JOB_ENV)  # warms up while the execution is claimed
        early = self._adopt(execution) if adopt else self._claim(execution)
        if early is not None:
            return early
        log.info("execution %s: %s mode, %d jobs", self.id, execution.mode, len(self.jobs))
        restore_signals = catch_stop_signals(self._on_signal)
        try:
            outcome = self._loop()
        except ClaimLost:  # adopted or ended elsewhere: its jobs and rows are not ours to touch
            return self.store.get_execution(self.id)
        except KeyboardInterrupt:
            outcome = self._stop_everything("interrupted (KeyboardInterrupt)")
        except BaseException as exc:
            self._abort(exc)
            raise
        finally:
            restore_signals()
        return self._finish(*outcome)

    def _claim(self, execution: Execution) -> Execution | None:
        """Become the execution's driver (CAS queued -> running), or say why not."""
        if execution.status == ExecutionStatus.QUEUED and self.store.transition_execution(
            self.id, ExecutionStatus.RUNNING, expected={ExecutionStatus.QUEUED}
        ):
            self.lease.claim(replacing=(None, None))
            return None
        current = self.store.get_execution(self.id)
        if current.status == ExecutionStatus.STOPPING and current.driver_pid is None:
            # Stopped before any driver picked it up: nothing runs, so end it here.
            reason = "stopped before it started"
            for job_id in self._queued():
                self._set(job_id, _S.KILLED, error=reason)
            self.store.transition_execution(
                self.id, ExecutionStatus.KILLED, expected={ExecutionStatus.STOPPING}, error=reason
            )
            return self.store.get_execution(self.id)
        if current.status.finished:
            return current
        raise InvalidInput(
            f"execution {self.id} is {current.status} (driver pid {current.driver_pid} on "
            f"{current.driver_host}); only a queued execution can be run"
        )

    def _adopt(self, execution: Execution) -> Execution | None:
        """Replace the running execution's dead driver (CAS on its pid) and take over its jobs:
        a live one is watched from its handle as if started here (its timeout counts from
        now); one that ended meanwhile is an attempt that failed (its exit code is lost)."""
        previous = (execution.driver_pid, execution.driver_host)
        if not (
            execution.status == ExecutionStatus.RUNNING
            and driver_is_dead(execution)
            and self.lease.claim(replacing=previous)
        ):
            log.info("execution %s: not adopted (another driver has it, or it ended)", self.id)
            return self.store.get_execution(self.id)
        log.warning("execution %s: adopted from driver pid %s on %s", self.id, *previous)
        stray = unrecorded_attempts(self.deployer, self.id, self.jobs.values())
        if stray:  # started by the dead driver, never recorded: this driver relaunches them
            log.warning("execution %s: stopping %d unrecorded attempt(s)", self.id, len(stray))
            stop_all(self.deployer, stray, self.settings.scheduler.kill_grace)
        for job_id, job in self.jobs.items():
            if self.status[job_id] != _S.RUNNING:
                continue
            attempt = _Attempt(job.handle or {}, time.monotonic())
            if job.handle is not None and self.deployer.poll(job.handle).running:
                self.running[job_id] = attempt
            else:
                self._ended_unwatched(job_id)
        return None

    def _ended_unwatched(self, job_id: int) -> None:
        """A job that ended while no driver watched it: succeeded if it recorded so for this
        attempt, else a failed attempt (retried as its ``retries`` allow)."""
        result = self.store.get_job(job_id).result or {}
        if result.get("succeeded") == self.attempt[job_id]:
            self._set(job_id, _S.SUCCEEDED, exit_code=0)
            return
        failure = self._recorded_failure(job_id) or "ended while its driver was down"
        self._attempt_failed(job_id, failure, None)

    def _loop(self) -> Outcome:
        interval = self.settings.scheduler.poll_interval
        next_check = 0.0
        if self.store.get_execution(self.id).status == ExecutionStatus.STOPPING:
            return self._stop_everything("stop requested")
        while True:
            now = time.monotonic()
            self.lease.keep(now)  # first: a driver that lost its claim must not act (ClaimLost)
            if self.signalled:
                return self._stop_everything(f"driver received {self.signalled}")
            self._collect_exits()
            if self.stream and self.errors:
                return self._stop_after_stream_failure()
            self._enforce_timeouts(time.monotonic())
            self._launch_ready(time.monotonic())
            # A stop from another process, noticed within the interval; checked after the
            # launches, so that reading it is not on the job-end -> successor-start path.
            if now >= next_check:
                next_check = now + interval
                if self.store.get_execution(self.id).status == ExecutionStatus.STOPPING:
                    return self._stop_everything("stop requested")
            if all(status.finished for status in self.status.values()):
                return self._outcome()
            if not self.running and not self.retry_at:
                return self._fail_stuck()
            self._notify()
            self.deployer.wait_for_change(self._sleep_for(time.monotonic(), interval))

    def _finish(self, status: ExecutionStatus, error: str | None) -> Execution:
        # A stop that arrives after the last job ended does not change the outcome.
        expected = {ExecutionStatus.RUNNING, ExecutionStatus.STOPPING}
        if not self.store.transition_execution(self.id, status, expected=expected, error=error):
            log.warning("execution %s: changed by another process; not setting %s", self.id, status)
        log.info("execution %s %s%s", self.id, status, f": {error}" if error else "")
        self.changed = True
        self._notify()
        return self.store.get_execution(self.id)

    def _on_signal(self, name: str) -> None:
        self.signalled = name  # acted on by the loop within one turn

    def _abort(self, exc: BaseException) -> None:
        """The driver itself failed: leave nothing running and say so, best effort."""
        log.exception("execution %s: driver failed", self.id)
        reason = f"driver failed: {type(exc).__name__}: {exc}"
        try:
            self._stop_everything(reason)
            self._finish(ExecutionStatus.FAILED, reason)
        except Exception:
            log.exception("execution %s: could not record the driver failure", self.id)

    # -- one loop turn ----------------------------------------------------------------------

    def _collect_exits(self) -> None:
        for job_id, attempt in list(self.running.items()):
            state = self.deployer.poll(attempt.handle)
            if not state.running:
                del self.running[job_id]
                self._ended(job_id, attempt, state)

    def _ended(self, job_id: int, attempt: _Attempt, state: JobState) -> None:
        if attempt.stop_reason is None and state.exit_code == 0:
            self._set(job_id, _S.SUCCEEDED, exit_code=0)
            return
        error = attempt.stop_reason or self._recorded_failure(job_id) or state.error
        if error is None:
            code = state.exit_code
            error = "ended with an unknown exit code" if code is None else describe_exit(code)
        self._attempt_failed(job_id, error, state.exit_code)

    def _recorded_failure(self, job_id: int) -> str | None:
        """Why the attempt failed, as the job itself recorded it in its result (the exception
        and the node at fault), so that its error says more than "exited with code 1". None
        when it recorded nothing for this attempt: killed, or crashed before it could."""
        from aiflow.translators.context import describe_failure

        failure = (self.store.get_job(job_id).result or {}).get("failure")
        if not isinstance(failure, dict) or failure.get("attempt") != self.attempt[job_id]:
            return None
        return describe_failure(failure)

    def _attempt_failed(self, job_id: int, error: str, exit_code: int | None) -> None:
        job, attempt = self.jobs[job_id], self.attempt[job_id]
        if attempt <= job.max_retries:
            delay = job.retry_delay
            log.warning(
                "job %s attempt %d failed (%s); retry in %gs", job.name, attempt, error, delay
            )
            self._set(job_id, _S.QUEUED, attempt=attempt, exit_code=exit_code, error=error)
            self.retry_at[job_id] = time.monotonic() + delay
            # Next to the store's JOB_QUEUED, so a watcher can tell a retry from a first start.
            self.store.emit_event(f"execution/{self.id}", "JOB_RETRY", job.name)
            return
        log.warning("job %s failed after %d attempt(s): %s", job.name, attempt, error)
        self._set(job_id, _S.FAILED, attempt=attempt, exit_code=exit_code, error=error)
        self.errors[job_id] = error
        pending = list(self.dependents[job_id])
        while pending:  # transitive dependents can never run now
            dependent = pending.pop()
            if self.status[dependent] == _S.QUEUED and dependent not in self.retry_at:
                self._set(dependent, _S.UPSTREAM_FAILED, error=f"upstream job '{job.name}' failed")
                pending.extend(self.dependents[dependent])

    def _enforce_timeouts(self, now: float) -> None:
        for job_id, attempt in self.running.items():
            timeout = self.jobs[job_id].timeout
            if timeout is None or attempt.stop_reason is not None:
                continue
            if now - attempt.started >= timeout:
                log.warning("job %s timed out after %gs", self.jobs[job_id].name, timeout)
                attempt.stop_reason = f"timed out after {timeout:g}s"
                # In the background: the loop notices the end like any other exit.
                threading.Thread(
                    target=stop_all,
                    args=(self.deployer, [attempt.handle], self.settings.scheduler.kill_grace),
                    daemon=True,
                ).start()

    def _launch_ready(self, now: float) -> None:
        for job_id, due in list(self.retry_at.items()):
            if due <= now:
                del self.retry_at[job_id]
                self._launch(job_id)
        for job_id in self.jobs:
            if (
                self.status[job_id] == _S.QUEUED
                and job_id not in self.retry_at
                and job_id not in self.running
                and self._upstream_ready(job_id)
            ):
                self._launch(job_id)

    def _upstream_ready(self, job_id: int) -> bool:
        # Batch jobs consume finished outputs; stream jobs consume live ones.
        ok = (_S.SUCCEEDED, _S.RUNNING) if self.stream else (_S.SUCCEEDED,)
        return all(self.status.get(up) in ok for up in self.jobs[job_id].depends_on)

    def _launch(self, job_id: int) -> None:
        job = self.jobs[job_id]
        attempt = self.attempt[job_id] + 1
        self.attempt[job_id] = attempt
        log_path = job_log_path(self.id, job.name, attempt)
        launch = JobLaunch(
            job_id=job.id,
            execution_id=self.id,
            job_name=job.name,
            attempt=attempt,
            command=self.command_for(job.model_copy(update={"attempt": attempt})),
            env=job_env(self.store.uri, job, attempt, self.settings, self._fired),
            log_path=log_path,
            workdir=self.workdir,
            overrides=(job.spec.get("deploy") or {}).get(self.deployer.name) or {},
            workflow_name=self.workflow_name,
        )
        try:
            handle = self.deployer.submit(launch)
        except AiflowError as exc:
            self._attempt_failed(job_id, f"could not start: {exc.message}", None)
            return
        self.running[job_id] = _Attempt(handle, time.monotonic())
        log_uri = handle.get("log_uri") or str(log_path)  # a deployer may say where its log is
        fields: dict[str, Any] = {"attempt": attempt, "handle": handle, "log_uri": log_uri}
        if not self._set(job_id, _S.RUNNING, **fields):  # also clears the last exit code/error
            del self.running[job_id]  # the row is someone else's now: do not run it twice
            stop_all(self.deployer, [handle], 0.0)

    def _fired(self) -> Event | None:
        """The event that started this execution, read once: it never changes, and a read per
        launch sat between one job's end and the next one's start."""
        if not self._fired_read:
            self._fired_event, self._fired_read = fired_by(self.store.uri, self.id), True
        return self._fired_event

    def _sleep_for(self, now: float, interval: float) -> float:
        deadlines = [now + interval, *self.retry_at.values()]
        for job_id, attempt in self.running.items():
            timeout = self.jobs[job_id].timeout
            if timeout is not None and attempt.stop_reason is None:
                deadlines.append(attempt.started + timeout)
        return max(min(deadlines) - now, 0.0)

    # -- endings ------------------------------------------------------------------------------

    def _outcome(self) -> Outcome:
        if all(status == _S.SUCCEEDED for status in self.status.values()):
            return ExecutionStatus.SUCCEEDED, None
        failed = [f"'{self.jobs[job_id].name}' ({error})" for job_id, error in self.errors.items()]
        parts = [f"{len(failed)} jobs failed: {'; '.join(failed)}"] if len(failed) > 1 else []
        parts += [f"job {failed[0]} failed"] if len(failed) == 1 else []
        not_run = [
            job.name
            for job_id, job in self.jobs.items()
            if self.status[job_id] != _S.SUCCEEDED and job_id not in self.errors
        ]
        parts += [f"did not run: {', '.join(sorted(not_run))}"] if not_run else []
        return ExecutionStatus.FAILED, "; ".join(parts)

    def _stop_after_stream_failure(self) -> Outcome:
        job_id, error = next(iter(self.errors.items()))
        name = self.jobs[job_id].name
        self._stop_everything(f"stopped because stream job '{name}' failed")
        return ExecutionStatus.FAILED, f"stream job '{name}' failed ({error}); stopped the others"

    def _stop_everything(self, reason: str) -> Outcome:
        """End every running attempt (in parallel, each with the configured grace) and mark
        them and every job that has not started killed."""
        log.warning("execution %s: %s; stopping %d job(s)", self.id, reason, len(self.running))
        attempts, self.running = self.running, {}
        self.retry_at.clear()
        stop_all(
            self.deployer, [a.handle for a in attempts.values()], self.settings.scheduler.kill_grace
        )
        for job_id, attempt in attempts.items():
            self._set(
                job_id,
                _S.KILLED,
                exit_code=self.deployer.poll(attempt.handle).exit_code,
                error=reason,
            )
        for job_id in self._queued():
            self._set(job_id, _S.KILLED, error=f"{reason} before it started")
        return ExecutionStatus.KILLED, reason

    def _fail_stuck(self) -> Outcome:
        """Nothing runs or waits, yet jobs are unfinished: their dependencies can never be met
        (the store rejects cycles; this is the safety net). End them rather than spin."""
        for job_id, status in self.status.items():
            if not status.finished:
                to = _S.UPSTREAM_FAILED if status == _S.QUEUED else _S.FAILED
                self._set(job_id, to, error="its dependencies can never complete")
        return self._outcome()

    # -- store --------------------------------------------------------------------------------

    def _queued(self) -> list[int]:
        return [job_id for job_id, status in self.status.items() if status == _S.QUEUED]

    def _set(self, job_id: int, to: JobStatus, **fields: Any) -> bool:
        """CAS a job from the status this driver last wrote to ``to``."""
        self.changed = True
        if self.store.transition_job(job_id, to, expected={self.status[job_id]}, **fields):
            self.status[job_id] = to
            return True
        actual = self.store.get_job(job_id).status
        if actual == to:  # this write took effect, though its reply was lost (a retry)
            self.status[job_id] = to
            return True
        log.warning(
            "job %s: expected %s but another process set %s", job_id, self.status[job_id], actual
        )
        self.status[job_id] = actual
        return False

    def _notify(self) -> None:
        if self.on_update is None or not self.changed:
            return
        self.changed = False
        try:
            self.on_update(self.store.get_execution(self.id), self.store.list_jobs(self.id))
        except Exception:  # a broken progress display must not break the execution
            log.exception("execution %s: on_update failed", self.id)
